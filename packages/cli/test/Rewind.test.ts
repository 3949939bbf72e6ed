import { type Run, weft as weftFromSource } from "./support/SourceCli.js"
/**
 * `weft rewind` and `weft diff` end to end: each test writes a session by hand into a JSONL
 * home — files changed in a temp project, snapshots in the blob store, events as the agent
 * loop records them — then runs `bin.ts` in a child process, as a user would.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { draft } from "@weft/kernel/Envelope"
import { EventLog } from "@weft/kernel/EventLog"
import { FileSnapshotted, ToolCallCompleted } from "@weft/kernel/Events"
import * as Ids from "@weft/kernel/Ids"
import { SnapshotStore } from "@weft/kernel/SnapshotStore"
import { said, started } from "@weft/kernel/testing/EventLogContract"
import * as BlobSnapshotStore from "@weft/store/BlobSnapshotStore"
import { layerJsonl } from "@weft/store/JsonlEventLog"
import { Effect, Layer, Option } from "effect"

const weft = (args: ReadonlyArray<string>, home: string) => weftFromSource(args, { home })

/** A failure as users must see it: exit 1, one line on stderr, nothing that looks like a stack trace. */
const assertOneLineError = (run: Run, includes: ReadonlyArray<string>) => {
  assert.strictEqual(run.code, 1, `exit code; stderr: ${run.stderr}`)
  const lines = run.stderr.split("\n").filter((l) => l.trim() !== "")
  assert.strictEqual(lines.length, 1, `one line on stderr, got:\n${run.stderr}`)
  for (const text of includes) assert.include(lines[0], text)
  assert.notMatch(run.stderr, /\n\s+at |Error: \{|FiberFailure/)
}

const SESSION = "rewind-e2e-0001"

/**
 * A home and a project holding a session of two user turns:
 * before turn 1, a.txt = "one\n" and old.txt = "old\n";
 * turn 1 writes a.txt = "two\n" and creates new.txt; turn 2 writes a.txt = "three\n" and removes old.txt.
 */
const recordSession = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const home = yield* fs.makeTempDirectoryScoped({ prefix: "weft-cli-rewind-" })
  const project = yield* fs.realPath(yield* fs.makeTempDirectoryScoped({ prefix: "weft-project-" }))
  const at = (name: string) => path.join(project, name)
  yield* fs.writeFileString(at("a.txt"), "one\n")
  yield* fs.writeFileString(at("old.txt"), "old\n")

  yield* Effect.gen(function*() {
    const log = yield* EventLog
    const store = yield* SnapshotStore
    let calls = 0
    const tool = (name: string, content: string | null) =>
      Effect.gen(function*() {
        const toolUseId = `toolu_${++calls}`
        const old = yield* fs.readFile(at(name)).pipe(Effect.option)
        const before = Option.isSome(old) ? yield* store.put(old.value) : null
        yield* log.append(SESSION, [draft(new FileSnapshotted({ toolUseId, path: at(name), before }))])
        if (content === null) yield* fs.remove(at(name))
        else yield* fs.writeFileString(at(name), content)
        const after = content === null ? null : yield* store.put(new TextEncoder().encode(content))
        yield* log.append(SESSION, [
          draft(
            new ToolCallCompleted({
              toolUseId,
              tool: "write",
              content: "ok",
              isError: false,
              durationMs: 1,
              files: [{ path: at(name), after }]
            })
          )
        ])
      })
    yield* log.append(SESSION, [started(project), said("one")])
    yield* tool("a.txt", "two\n")
    yield* tool("new.txt", "new\n")
    yield* log.append(SESSION, [said("two")])
    yield* tool("a.txt", "three\n")
    yield* tool("old.txt", null)
  }).pipe(
    // Closed (and its lock released) before weft runs.
    Effect.provide(
      Layer.mergeAll(layerJsonl({ home, durability: "none" }), BlobSnapshotStore.layer({ home })).pipe(
        Layer.provide(Layer.mergeAll(NodeContext.layer, Ids.layer))
      )
    )
  )
  const read = (name: string) => fs.readFileString(at(name)).pipe(Effect.orElseSucceed(() => null))
  const logFile = path.join(home, "projects", project.replace(/[^a-zA-Z0-9]/g, "-"), `${SESSION}.jsonl`)
  const events = fs.readFileString(logFile).pipe(
    Effect.map((text) => text.trim().split("\n").map((line) => JSON.parse(line)))
  )
  return { at, events, fs, home, project, read }
})

describe("weft diff", () => {
  it.live("prints a unified diff of what changed since the last turn began, or since --turn N; exit 0", () =>
    Effect.gen(function*() {
      const { home } = yield* recordSession
      const [last, first] = yield* Effect.all([
        weft(["diff", "rewind-e2e"], home),
        weft(["diff", SESSION, "--turn", "1"], home)
      ], { concurrency: 2 })
      assert.strictEqual(last.code, 0, last.stderr)
      assert.strictEqual(last.stderr, "")
      assert.strictEqual(
        last.stdout,
        "--- a.txt\tturn 2\n+++ a.txt\tnow\n@@ -1,1 +1,1 @@\n-two\n+three\n" +
          "--- old.txt\tturn 2\n+++ /dev/null\tnow\n@@ -1,1 +0,0 @@\n-old\n"
      )
      assert.strictEqual(first.code, 0, first.stderr)
      assert.strictEqual(
        first.stdout,
        "--- a.txt\tturn 1\n+++ a.txt\tnow\n@@ -1,1 +1,1 @@\n-one\n+three\n" +
          "--- /dev/null\tturn 1\n+++ new.txt\tnow\n@@ -0,0 +1,1 @@\n+new\n" +
          "--- old.txt\tturn 1\n+++ /dev/null\tnow\n@@ -1,1 +0,0 @@\n-old\n"
      )
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})

describe("weft rewind", () => {
  it.live(
    "with no --turn undoes the last turn, printing what it restored and removed, and records FilesRewound; " +
      "a second rewind does nothing",
    () =>
      Effect.gen(function*() {
        const { events, home, read } = yield* recordSession
        const run = yield* weft(["rewind", "rewind-e2e"], home)
        assert.strictEqual(run.code, 0, run.stderr)
        assert.strictEqual(run.stderr, "")
        assert.strictEqual(
          run.stdout,
          `Rewound session ${SESSION} to the start of turn 2: 2 files changed.\n` +
            "  restored   a.txt\n" +
            "  restored   old.txt\n"
        )
        assert.strictEqual(yield* read("a.txt"), "two\n")
        assert.strictEqual(yield* read("old.txt"), "old\n")
        assert.strictEqual(yield* read("new.txt"), "new\n")
        const recorded = (yield* events).at(-1)
        assert.strictEqual(recorded.event._tag, "FilesRewound")
        assert.strictEqual(recorded.event.toTurn, 2)
        assert.isFalse(recorded.event.forced)

        const again = yield* weft(["rewind", SESSION, "--turn", "2"], home)
        assert.strictEqual(again.code, 0, again.stderr)
        assert.include(again.stdout, "already as it was when turn 2")
        assert.strictEqual((yield* events).length, 12)
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))
  )

  it.live(
    "refuses, exit 1, with one line naming the file changed outside weft and the --force command, changing nothing; " +
      "--force then restores every file",
    () =>
      Effect.gen(function*() {
        const { at, events, fs, home, read } = yield* recordSession
        yield* fs.writeFileString(at("a.txt"), "my own edit\n")
        const count = (yield* events).length

        const refused = yield* weft(["rewind", SESSION, "--turn", "1"], home)
        assertOneLineError(refused, [
          "a.txt (changed outside weft)",
          `weft rewind ${SESSION} --turn 1 --force`
        ])
        assert.notInclude(refused.stderr, "new.txt")
        assert.strictEqual(refused.stdout, "")
        assert.strictEqual(yield* read("a.txt"), "my own edit\n")
        assert.strictEqual(yield* read("new.txt"), "new\n")
        assert.isNull(yield* read("old.txt"))
        assert.strictEqual((yield* events).length, count)

        const forced = yield* weft(["rewind", SESSION, "--turn", "1", "--force"], home)
        assert.strictEqual(forced.code, 0, forced.stderr)
        assert.strictEqual(
          forced.stdout,
          `Rewound session ${SESSION} to the start of turn 1: 3 files changed.\n` +
            "  restored   a.txt\n" +
            "  removed    new.txt\n" +
            "  restored   old.txt\n" +
            "Overwrote changes made outside weft (--force): a.txt\n"
        )
        assert.strictEqual(yield* read("a.txt"), "one\n")
        assert.isNull(yield* read("new.txt"))
        assert.strictEqual(yield* read("old.txt"), "old\n")
        assert.isTrue((yield* events).at(-1).event.forced)

        const diff = yield* weft(["diff", SESSION, "--turn", "1"], home)
        assert.strictEqual(diff.code, 0, diff.stderr)
        assert.strictEqual(diff.stdout, "")
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))
  )

  it.live("a turn out of range is one line naming the turns there are; exit 1", () =>
    Effect.gen(function*() {
      const { home } = yield* recordSession
      const [rewind, diff] = yield* Effect.all([
        weft(["rewind", SESSION, "--turn", "3"], home),
        weft(["diff", SESSION, "--turn", "0"], home)
      ], { concurrency: 2 })
      assertOneLineError(rewind, [`session ${SESSION} has no turn 3: its turns are 1 to 2`])
      assertOneLineError(diff, [`session ${SESSION} has no turn 0: its turns are 1 to 2`])
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})
