/**
 * File contents kept for rewinding, addressed by their sha256. The blob-backed layer lives
 * in `@weft/store`; `layerMemory` here is for tests and the testing kit.
 */
import { Context, Effect, Layer, Ref, Schema } from "effect"
import { createHash } from "node:crypto"

export class SnapshotNotFoundError extends Schema.TaggedError<SnapshotNotFoundError>()("SnapshotNotFoundError", {
  hash: Schema.String
}) {
  override get message() {
    return `no snapshot ${this.hash} in the snapshot store; it may have been removed by retention`
  }
}

export class SnapshotStoreError extends Schema.TaggedError<SnapshotStoreError>()("SnapshotStoreError", {
  reason: Schema.String
}) {
  override get message() {
    return `snapshot store: ${this.reason}`
  }
}

export interface Service {
  /** Stores the bytes; returns their sha256 (hex). Storing the same bytes twice is a no-op. */
  readonly put: (bytes: Uint8Array) => Effect.Effect<string, SnapshotStoreError>
  readonly get: (hash: string) => Effect.Effect<Uint8Array, SnapshotNotFoundError | SnapshotStoreError>
}

export class SnapshotStore extends Context.Tag("@weft/kernel/SnapshotStore")<SnapshotStore, Service>() {}

export const hashOf = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

export const makeMemory: Effect.Effect<Service> = Effect.gen(function*() {
  const blobs = yield* Ref.make(new Map<string, Uint8Array>())
  return SnapshotStore.of({
    put: (bytes) => {
      const hash = hashOf(bytes)
      return Ref.update(blobs, (m) => (m.has(hash) ? m : new Map(m).set(hash, Uint8Array.from(bytes)))).pipe(
        Effect.as(hash)
      )
    },
    get: (hash) =>
      Ref.get(blobs).pipe(Effect.flatMap((m) => {
        const bytes = m.get(hash)
        return bytes === undefined ? new SnapshotNotFoundError({ hash }) : Effect.succeed(Uint8Array.from(bytes))
      }))
  })
})

export const layerMemory: Layer.Layer<SnapshotStore> = Layer.effect(SnapshotStore, makeMemory)
