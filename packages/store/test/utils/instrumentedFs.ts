/**
 * A FileSystem that counts what the log does with it: fsyncs, bytes streamed, and lets a
 * test hold an fsync open to see who waits for it.
 */
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Layer, Stream } from "effect"

export interface Probe {
  syncs: number
  writes: number
  bytesStreamed: number
  /** When set, every fsync waits for it. */
  gate: Effect.Effect<void> | undefined
  onSync: Effect.Effect<void> | undefined
}

export const makeProbe = (): Probe => ({ syncs: 0, writes: 0, bytesStreamed: 0, gate: undefined, onSync: undefined })

export const layer = (probe: Probe): Layer.Layer<FileSystem.FileSystem> =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      // defineProperties, not assign: the file's own members may be read-only.
      const wrapFile = (file: FileSystem.File): FileSystem.File =>
        Object.defineProperties(Object.create(file) as FileSystem.File, {
          sync: {
            value: Effect.suspend(() => {
              probe.syncs++
              return (probe.onSync ?? Effect.void).pipe(
                Effect.zipRight(probe.gate ?? Effect.void),
                Effect.zipRight(file.sync)
              )
            })
          },
          writeAll: {
            value: (buffer: Uint8Array) =>
              Effect.suspend(() => {
                probe.writes++
                return file.writeAll(buffer)
              })
          }
        })
      return {
        ...fs,
        open: (path, options) => Effect.map(fs.open(path, options), wrapFile),
        stream: (path, options) =>
          fs.stream(path, options).pipe(Stream.tap((bytes) => Effect.sync(() => (probe.bytesStreamed += bytes.length))))
      } satisfies FileSystem.FileSystem
    })
  ).pipe(Layer.provide(NodeFileSystem.layer))
