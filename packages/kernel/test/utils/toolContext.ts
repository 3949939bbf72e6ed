/**
 * A `ToolContext` for tool tests, whose `snapshot` records what the file held at the moment
 * it was called (or that it did not exist), so a test can tell a snapshot taken before the
 * change from one taken after.
 */
import { FileSystem } from "@effect/platform"
import type { Option } from "effect"
import { Effect, Ref } from "effect"
import type { AnyEvent } from "../../src/Events.js"
import type { ToolContext } from "../../src/Tool.js"

export interface Snapshot {
  readonly path: string
  /** The file's text when `snapshot` was called; `None` if it did not exist. */
  readonly content: Option.Option<string>
}

export const makeContext = (cwd: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const snapshots = yield* Ref.make<ReadonlyArray<Snapshot>>([])
    const recorded = yield* Ref.make<ReadonlyArray<AnyEvent>>([])
    const context: ToolContext = {
      cwd,
      toolUseId: "toolu_test",
      sessionId: "session_test",
      agentId: "main",
      snapshot: (path) =>
        fs.readFileString(path).pipe(
          Effect.option,
          Effect.flatMap((content) => Ref.update(snapshots, (all) => [...all, { path, content }]))
        ),
      record: (events) => Ref.update(recorded, (all) => [...all, ...events])
    }
    return { context, snapshots: Ref.get(snapshots), recorded: Ref.get(recorded) }
  })

/** Writes files (relative path → text) under `root`, creating directories. */
export const writeTree = (root: string, files: Record<string, string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    yield* Effect.forEach(Object.entries(files), ([relative, text]) => {
      const path = `${root}/${relative}`
      return fs.makeDirectory(path.slice(0, path.lastIndexOf("/")), { recursive: true }).pipe(
        Effect.zipRight(fs.writeFileString(path, text))
      )
    }, { concurrency: 16, discard: true })
  })
