/**
 * Rewind and diff against real files in temp dirs, with logs built by hand as the agent loop
 * writes them: `FileSnapshotted` before a tool changes a file (its old bytes in the snapshot
 * store), the change, then `ToolCallCompleted.files` with what it left.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, FastCheck as fc, Layer, Option, Stream } from "effect"
import type { Scope } from "effect"
import type { Envelope } from "../src/Envelope.js"
import { draft } from "../src/Envelope.js"
import * as EventLog from "../src/EventLog.js"
import type { AnyEvent } from "../src/Events.js"
import { FileSnapshotted, FilesRewound, ToolCallCompleted, UserMessageReceived } from "../src/Events.js"
import * as Ids from "../src/Ids.js"
import * as Rewind from "../src/Rewind.js"
import * as SnapshotStore from "../src/SnapshotStore.js"
import { said, started } from "../src/testing/EventLogContract.js"

const SESSION = "s1"
const encoder = new TextEncoder()
const bytesOf = (text: string) => encoder.encode(text)
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

/** A fresh, empty log and snapshot store: provided to each test (and each property run) on its own. */
const fresh = Layer.mergeAll(EventLog.layerMemory.pipe(Layer.provide(Ids.layerTest)), SnapshotStore.layerMemory)

type Needs = EventLog.EventLog | SnapshotStore.SnapshotStore | FileSystem.FileSystem | Path.Path | Scope.Scope

/** `it.scoped` on a node file system, with a fresh log and snapshot store for each test. */
const test = <A, E>(name: string, self: () => Effect.Effect<A, E, Needs>) =>
  it.scoped(name, () => Effect.provide(self(), Layer.merge(fresh, NodeContext.layer)))

/** A session in a fresh temp project, and the loop's side of it: user turns and tool calls that change files. */
const setup = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const log = yield* EventLog.EventLog
  const store = yield* SnapshotStore.SnapshotStore
  const root = yield* fs.realPath(yield* fs.makeTempDirectoryScoped({ prefix: "weft-rewind-" }))
  yield* log.append(SESSION, [started(root)])
  let calls = 0

  const at = (name: string) => path.join(root, name)
  const read = (name: string) => fs.readFile(at(name)).pipe(Effect.map((bytes) => new Uint8Array(bytes)), Effect.option)
  /** The file's text, or null when there is no file. (Not an Option: chai's deep equality takes None for any Some.) */
  const text = (name: string) =>
    Effect.map(read(name), Option.match({ onNone: () => null, onSome: (bytes) => new TextDecoder().decode(bytes) }))
  const userSays = (message: string) => log.append(SESSION, [said(message)])
  const events = Effect.map(Stream.runCollect(log.read(SESSION)), Chunk.toReadonlyArray)

  /** Writes the file directly: a change made outside weft. */
  const outside = (name: string, content: string | Uint8Array | null) =>
    content === null
      ? fs.remove(at(name))
      : fs.makeDirectory(path.dirname(at(name)), { recursive: true }).pipe(
        Effect.zipRight(fs.writeFile(at(name), typeof content === "string" ? bytesOf(content) : content))
      )

  /**
   * A tool call changing `name` to `content` (null: removing it) as the loop records it; with
   * `complete: false` it is interrupted after the change, before it reports completing.
   */
  const tool = (
    name: string,
    content: string | Uint8Array | null,
    options: { readonly agentId?: string; readonly complete?: boolean } = {}
  ) =>
    Effect.gen(function*() {
      const file = at(name)
      const toolUseId = `toolu_${++calls}`
      const agent = { agentId: options.agentId ?? "main" }
      const old = yield* read(name)
      const before = Option.isSome(old) ? yield* store.put(old.value) : null
      yield* log.append(SESSION, [draft(new FileSnapshotted({ toolUseId, path: file, before }), agent)])
      yield* outside(name, content)
      if (options.complete === false) return
      const after = content === null ? null : yield* store.put(typeof content === "string" ? bytesOf(content) : content)
      yield* log.append(SESSION, [
        draft(
          new ToolCallCompleted({
            toolUseId,
            tool: content === null ? "bash" : "write",
            content: "ok",
            isError: false,
            durationMs: 1,
            files: [{ path: file, after }]
          }),
          agent
        )
      ])
    })

  /** Every file under the project (relative path → hex of its bytes). */
  const tree = Effect.gen(function*() {
    const out: Record<string, string> = {}
    for (const entry of (yield* fs.readDirectory(root, { recursive: true })).sort()) {
      const info = yield* fs.stat(path.join(root, entry))
      if (info.type === "File") out[entry] = hex(yield* fs.readFile(path.join(root, entry)))
    }
    return out
  })

  return { at, events, fs, outside, read, root, store, text, tool, tree, userSays }
})

const rewound = (events: ReadonlyArray<Envelope>) =>
  events.flatMap((e) => (e.event._tag === "FilesRewound" ? [e.event] : []))

describe("Rewind.plan", () => {
  const envelope = (seq: number, event: AnyEvent, agentId = "main"): Envelope => ({
    seq,
    id: `id${seq}`,
    parentId: null,
    sessionId: SESSION,
    agentId,
    at: "2026-01-01T00:00:00.000Z",
    event
  })
  const snap = (toolUseId: string, path: string, before: string | null) =>
    new FileSnapshotted({ toolUseId, path, before })
  const done = (toolUseId: string, files: ReadonlyArray<{ path: string; after: string | null }>) =>
    new ToolCallCompleted({ toolUseId, tool: "write", content: "ok", isError: false, durationMs: 0, files })
  const user = new UserMessageReceived({ content: [{ type: "text", text: "go" }] })

  const log = [
    envelope(1, started("/p")),
    envelope(2, user), // turn 1
    envelope(3, snap("t1", "/p/a", "A0")),
    envelope(4, done("t1", [{ path: "/p/a", after: "A1" }])),
    envelope(5, user, "main/1"), // a subagent's prompt is no user turn
    envelope(6, user), // turn 2
    envelope(7, snap("t2", "/p/a", "A1-edited-outside"), "main/1"),
    envelope(8, done("t2", [{ path: "/p/a", after: "A2" }]), "main/1"),
    envelope(9, snap("t3", "/p/b", null)),
    envelope(10, done("t3", [{ path: "/p/b", after: "B1" }])),
    envelope(11, snap("t4", "/p/c", "C0")), // interrupted: never completed
    envelope(12, snap("t5", "/p/b", "B1")),
    envelope(13, done("t5", [{ path: "/p/b", after: null }]))
  ]

  it("takes each file's content at the turn's start from its first snapshot after it, and what weft last left", () => {
    const plan = Either.getOrThrow(Rewind.plan(log, 2))
    assert.deepStrictEqual(plan, {
      sessionId: SESSION,
      toTurn: 2,
      turns: 2,
      seq: 6,
      files: [
        // changed outside weft between turns: the snapshot holds what it really had
        { path: "/p/a", before: "A1-edited-outside", after: { _tag: "Known", hash: "A2" } },
        { path: "/p/b", before: null, after: { _tag: "Known", hash: null } },
        { path: "/p/c", before: "C0", after: { _tag: "Incomplete", toolUseId: "t4", before: "C0" } }
      ]
    })
    assert.deepStrictEqual(
      Either.getOrThrow(Rewind.plan(log, 1)).files.map((f) => [f.path, f.before]),
      [["/p/a", "A0"], ["/p/b", null], ["/p/c", "C0"]]
    )
    assert.strictEqual(Either.getOrThrow(Rewind.plan(log, "last")).toTurn, 2)
  })

  it("a file first changed by a rewind after the turn began had what weft last left before it", () => {
    const withRewind = [
      ...log,
      envelope(14, user), // turn 3
      envelope(15, new FilesRewound({ toTurn: 1, files: [{ path: "/p/a", restored: "A0" }], forced: false }))
    ]
    const plan = Either.getOrThrow(Rewind.plan(withRewind, 3))
    assert.deepStrictEqual(plan.files, [{ path: "/p/a", before: "A2", after: { _tag: "Known", hash: "A0" } }])
  })

  it("a turn below 1, past the last, or not a whole number is a TurnOutOfRangeError naming the turns there are", () => {
    for (const turn of [0, 3, 1.5, -1]) {
      const error = Either.getLeft(Rewind.plan(log, turn)).pipe(Option.getOrThrow)
      assert.strictEqual(error._tag, "TurnOutOfRangeError")
      assert.include(error.message, `session ${SESSION} has no turn ${turn}: its turns are 1 to 2`)
    }
    const none = Either.getLeft(Rewind.plan(log.slice(0, 1), "last")).pipe(Option.getOrThrow)
    assert.include(none.message, "has no user turn yet")
  })
})

describe("Rewind.rewind", () => {
  test("restores every file changed since the turn exactly, and leaves files never changed alone", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.outside("untouched.txt", "mine")
      yield* s.outside("a.txt", "a at the start\n")
      yield* s.userSays("one")
      yield* s.tool("a.txt", "a after one\n")
      yield* s.userSays("two")
      yield* s.tool("a.txt", "a after two\n")
      yield* s.tool("a.txt", "a after two, again\n")
      const result = yield* Rewind.rewind(SESSION, 2)
      assert.strictEqual(yield* s.text("a.txt"), "a after one\n")
      assert.deepStrictEqual(result.files.map((f) => [f.path, f.action]), [[s.at("a.txt"), "restored"]])
      yield* Rewind.rewind(SESSION, 1)
      assert.strictEqual(yield* s.text("a.txt"), "a at the start\n")
      assert.strictEqual(yield* s.text("untouched.txt"), "mine")
    }))

  test("removes files created since the turn; the last turn is the default", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.userSays("one")
      yield* s.tool("new/deep/file.txt", "made in turn one")
      const result = yield* Rewind.rewind(SESSION, "last")
      assert.strictEqual(result.toTurn, 1)
      assert.isTrue(Option.isNone(yield* s.read("new/deep/file.txt")))
      assert.deepStrictEqual(result.files.map((f) => [f.path, f.action, f.hash]), [[
        s.at("new/deep/file.txt"),
        "removed",
        null
      ]])
    }))

  test("recreates files deleted since the turn, parent directories included", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.outside("dir/sub/kept.txt", "keep me")
      yield* s.userSays("one")
      yield* s.tool("dir/sub/kept.txt", null)
      yield* s.fs.remove(s.at("dir"), { recursive: true })
      yield* Rewind.rewind(SESSION, 1)
      assert.strictEqual(yield* s.text("dir/sub/kept.txt"), "keep me")
    }))

  test("binary content (random bytes, NULs and invalid UTF-8 included) is restored byte for byte", () =>
    Effect.gen(function*() {
      const s = yield* setup
      const original = new Uint8Array(
        fc.sample(fc.uint8Array({ minLength: 4096, maxLength: 4096 }), { seed: 7, numRuns: 1 })[0]!
      )
      original[0] = 0
      original[1] = 0xff
      yield* s.outside("blob.bin", original)
      yield* s.userSays("one")
      yield* s.tool("blob.bin", new Uint8Array([1, 2, 3]))
      yield* Rewind.rewind(SESSION, 1)
      assert.deepStrictEqual(Option.getOrNull(yield* s.read("blob.bin")), original)
    }))

  test("changes made by subagents in the turn are rewound too", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.outside("a.txt", "start")
      yield* s.userSays("one")
      yield* s.tool("a.txt", "by the child", { agentId: "main/1" })
      yield* s.tool("b.txt", "by the grandchild", { agentId: "main/1/1" })
      yield* Rewind.rewind(SESSION, 1)
      assert.deepStrictEqual(yield* s.tree, { "a.txt": hex(bytesOf("start")) })
    }))

  test("a restored file keeps the permissions of the file it replaces", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.outside("run.sh", "#!/bin/sh\necho one\n")
      yield* s.fs.chmod(s.at("run.sh"), 0o755)
      yield* s.userSays("one")
      yield* s.tool("run.sh", "#!/bin/sh\necho two\n")
      yield* Rewind.rewind(SESSION, 1)
      assert.strictEqual((yield* s.fs.stat(s.at("run.sh"))).mode & 0o777, 0o755)
      assert.strictEqual(yield* s.text("run.sh"), "#!/bin/sh\necho one\n")
    }))

  test("records FilesRewound: every file with what it holds now, not forced, answering the last event of main", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.outside("a.txt", "a0")
      yield* s.userSays("one")
      yield* s.tool("a.txt", "a1")
      yield* s.tool("b.txt", "b1")
      const last = (yield* s.events).at(-1)!
      const result = yield* Rewind.rewind(SESSION, 1)
      const events = yield* s.events
      assert.strictEqual(events.length, 7)
      const recorded = events.at(-1)!
      assert.deepStrictEqual(result.recorded, recorded)
      assert.strictEqual(recorded.parentId, last.id)
      assert.strictEqual(recorded.agentId, "main")
      assert.deepStrictEqual(
        recorded.event,
        new FilesRewound({
          toTurn: 1,
          files: [
            { path: s.at("a.txt"), restored: SnapshotStore.hashOf(bytesOf("a0")) },
            { path: s.at("b.txt"), restored: null }
          ],
          forced: false
        })
      )
    }))

  test(
    "refuses to overwrite changes made outside weft, naming every such file, and changes nothing — no file, no event",
    () =>
      Effect.gen(function*() {
        const s = yield* setup
        yield* s.outside("modified.txt", "m0")
        yield* s.outside("removed.txt", "r0")
        yield* s.outside("fine.txt", "f0")
        yield* s.outside("created.txt", "c0")
        yield* s.userSays("one")
        yield* s.tool("modified.txt", "m1")
        yield* s.tool("removed.txt", "r1")
        yield* s.tool("created.txt", null)
        yield* s.tool("fine.txt", "f1")
        yield* s.outside("modified.txt", "edited by the user")
        yield* s.outside("removed.txt", null)
        yield* s.outside("created.txt", "made by the user")
        const tree = yield* s.tree
        const count = (yield* s.events).length

        const error = yield* Effect.flip(Rewind.rewind(SESSION, 1))
        assert.strictEqual(error._tag, "RewindConflictError")
        if (error._tag !== "RewindConflictError") return
        assert.deepStrictEqual(error.files, [
          { path: s.at("created.txt"), reason: "created" },
          { path: s.at("modified.txt"), reason: "modified" },
          { path: s.at("removed.txt"), reason: "removed" }
        ])
        assert.include(error.message, `${s.at("modified.txt")} (changed outside weft)`)
        assert.include(error.message, `${s.at("removed.txt")} (removed outside weft)`)
        assert.include(error.message, `${s.at("created.txt")} (created outside weft)`)
        assert.notInclude(error.message, "fine.txt")
        assert.notInclude(error.message, "\n")
        assert.deepStrictEqual(yield* s.tree, tree)
        assert.strictEqual((yield* s.events).length, count)
      })
  )

  test("a write weft never saw complete is a conflict: what the file holds is not known", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.outside("a.txt", "a0")
      yield* s.userSays("one")
      yield* s.tool("a.txt", "half written", { complete: false })
      const error = yield* Effect.flip(Rewind.rewind(SESSION, 1))
      assert.strictEqual(error._tag, "RewindConflictError")
      assert.include(error.message, `${s.at("a.txt")} (weft's last write to it did not complete)`)
      assert.strictEqual(yield* s.text("a.txt"), "half written")
    }))

  test("a call that snapshotted a file but never reported changing it is no conflict while the file holds what it snapshotted", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.outside("a.txt", "a0")
      yield* s.userSays("one")
      yield* s.tool("a.txt", "a1")
      // An edit that snapshots, then fails before writing: the loop records no files for it.
      yield* s.tool("a.txt", "a1", { complete: false })
      yield* Rewind.rewind(SESSION, 1)
      assert.strictEqual(yield* s.text("a.txt"), "a0")
    }))

  test("force overwrites the changes made outside weft and records that it did", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.outside("a.txt", "a0")
      yield* s.outside("b.txt", "b0")
      yield* s.userSays("one")
      yield* s.tool("a.txt", "a1")
      yield* s.tool("b.txt", "b1")
      yield* s.tool("c.txt", "c1")
      yield* s.outside("a.txt", "the user's edit")
      yield* s.outside("b.txt", null)
      const result = yield* Rewind.rewind(SESSION, 1, { force: true })
      assert.deepStrictEqual(yield* s.tree, { "a.txt": hex(bytesOf("a0")), "b.txt": hex(bytesOf("b0")) })
      assert.deepStrictEqual(result.overwritten, [
        { path: s.at("a.txt"), reason: "modified" },
        { path: s.at("b.txt"), reason: "removed" }
      ])
      assert.deepStrictEqual(result.files.map((f) => f.action), ["restored", "restored", "removed"])
      const [event] = rewound(yield* s.events)
      assert.isTrue(event!.forced)
    }))

  test("a file already back as it was is no conflict, whoever put it back", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.outside("a.txt", "a0")
      yield* s.userSays("one")
      yield* s.tool("a.txt", "a1")
      yield* s.outside("a.txt", "a0")
      const result = yield* Rewind.rewind(SESSION, 1)
      assert.deepStrictEqual(result.files.map((f) => f.action), ["unchanged"])
      // …but weft's record of it is brought up to date, so the next rewind sees no change outside weft.
      assert.strictEqual(rewound(yield* s.events).length, 1)
    }))

  test(
    "rewinds compose: rewinding twice to a turn is a no-op the second time; an earlier turn, then a later one again, both work",
    () =>
      Effect.gen(function*() {
        const s = yield* setup
        yield* s.outside("a.txt", "a0")
        yield* s.userSays("one")
        yield* s.tool("a.txt", "a1")
        yield* s.tool("b.txt", "b1")
        yield* s.userSays("two")
        const atTwo = yield* s.tree
        yield* s.tool("a.txt", "a2")
        yield* s.tool("c.txt", "c2")
        yield* s.userSays("three")
        const atThree = yield* s.tree
        yield* s.tool("c.txt", null)

        yield* Rewind.rewind(SESSION, 2)
        assert.deepStrictEqual(yield* s.tree, atTwo)
        const events = (yield* s.events).length
        const again = yield* Rewind.rewind(SESSION, 2)
        assert.isUndefined(again.recorded)
        assert.isTrue(again.files.every((f) => f.action === "unchanged"))
        assert.strictEqual((yield* s.events).length, events)
        assert.deepStrictEqual(yield* s.tree, atTwo)

        yield* Rewind.rewind(SESSION, 1)
        assert.deepStrictEqual(yield* s.tree, { "a.txt": hex(bytesOf("a0")) })
        // Back to where turn three began: that rewind's changes are undone in turn.
        yield* Rewind.rewind(SESSION, 3)
        assert.deepStrictEqual(yield* s.tree, atThree)
        assert.strictEqual(rewound(yield* s.events).length, 3)
      })
  )

  test("a turn that began before a rewind to an earlier one, and changed files after it, is restored as it began", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.userSays("one")
      yield* s.tool("a.txt", "a1")
      yield* s.userSays("two")
      yield* s.userSays("three")
      // In turn three: back to turn one (a.txt goes), then a.txt is written again.
      yield* Rewind.rewind(SESSION, 1)
      yield* s.tool("a.txt", "a3")
      // a.txt held "a1" when turn two began; its first snapshot since then saw what the rewind left, not that.
      yield* Rewind.rewind(SESSION, 2)
      assert.strictEqual(yield* s.text("a.txt"), "a1")
      yield* Rewind.rewind(SESSION, 3)
      assert.strictEqual(yield* s.text("a.txt"), "a1")
      yield* Rewind.rewind(SESSION, 1)
      assert.isTrue(Option.isNone(yield* s.read("a.txt")))
    }))

  test("a turn out of range fails with TurnOutOfRangeError and changes nothing", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.userSays("one")
      yield* s.tool("a.txt", "a1")
      for (const turn of [0, 2]) {
        const error = yield* Effect.flip(Rewind.rewind(SESSION, turn))
        assert.strictEqual(error._tag, "TurnOutOfRangeError")
        assert.include(error.message, `has no turn ${turn}: its turns are 1 to 1`)
      }
      assert.strictEqual(yield* s.text("a.txt"), "a1")
      assert.strictEqual(rewound(yield* s.events).length, 0)
    }))

  test("a snapshot missing from the store fails the rewind before any file is touched", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.outside("a.txt", "a0")
      yield* s.userSays("one")
      yield* s.tool("a.txt", "a1")
      yield* s.tool("b.txt", "b1")
      // A fresh, empty store: as if retention had removed the blobs.
      const error = yield* Effect.flip(Rewind.rewind(SESSION, 1).pipe(Effect.provide(SnapshotStore.layerMemory)))
      assert.strictEqual(error._tag, "SnapshotNotFoundError")
      assert.deepStrictEqual(yield* s.tree, { "a.txt": hex(bytesOf("a1")), "b.txt": hex(bytesOf("b1")) })
      assert.strictEqual(rewound(yield* s.events).length, 0)
    }))

  test("the rewind is recorded before any file changes: a log that refuses it (a session locked elsewhere) leaves every file", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.outside("a.txt", "a0")
      yield* s.userSays("one")
      yield* s.tool("a.txt", "a1")
      yield* s.tool("b.txt", "b1")
      const log = yield* EventLog.EventLog
      const locked = new EventLog.SessionLockedError({
        sessionId: SESSION,
        path: "/home/.weft/s1.lock",
        pid: 1,
        hostname: "elsewhere",
        startedAt: "2026-01-01T00:00:00.000Z"
      })
      const error = yield* Effect.flip(
        Rewind.rewind(SESSION, 1).pipe(Effect.provideService(EventLog.EventLog, { ...log, append: () => locked }))
      )
      assert.strictEqual(error._tag, "SessionLockedError")
      assert.deepStrictEqual(yield* s.tree, { "a.txt": hex(bytesOf("a1")), "b.txt": hex(bytesOf("b1")) })
    }))
})

describe("Rewind.diff", () => {
  test("a unified diff per file that differs from the turn's start: modified, created, removed; binary files say so", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.outside("mod.txt", "one\ntwo\nthree\n")
      yield* s.outside("gone.txt", "bye\n")
      yield* s.outside("bin.dat", new Uint8Array([0, 1, 2]))
      yield* s.outside("same.txt", "same\n")
      yield* s.userSays("one")
      yield* s.tool("mod.txt", "one\n2\nthree\n")
      yield* s.tool("new/made.txt", "hello\n")
      yield* s.tool("gone.txt", null)
      yield* s.tool("bin.dat", new Uint8Array([0, 1, 3]))
      yield* s.tool("same.txt", "changed\n")
      yield* s.tool("same.txt", "same\n")

      const result = yield* Rewind.diff(SESSION, 1)
      assert.deepStrictEqual(result.files.map((f) => [f.label, f.status, f.binary]), [
        ["bin.dat", "modified", true],
        ["gone.txt", "removed", false],
        ["mod.txt", "modified", false],
        ["new/made.txt", "created", false]
      ])
      const patch = (label: string) => result.files.find((f) => f.label === label)!.patch
      assert.strictEqual(
        patch("mod.txt"),
        "--- mod.txt\tturn 1\n+++ mod.txt\tnow\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n"
      )
      assert.strictEqual(
        patch("new/made.txt"),
        "--- /dev/null\tturn 1\n+++ new/made.txt\tnow\n@@ -0,0 +1,1 @@\n+hello\n"
      )
      assert.strictEqual(patch("gone.txt"), "--- gone.txt\tturn 1\n+++ /dev/null\tnow\n@@ -1,1 +0,0 @@\n-bye\n")
      assert.strictEqual(patch("bin.dat"), "--- bin.dat\tturn 1\n+++ bin.dat\tnow\nbinary files differ\n")
      assert.strictEqual(result.files[0]!.path, s.at("bin.dat"))
      // Diffing changes nothing.
      assert.strictEqual(yield* s.text("mod.txt"), "one\n2\nthree\n")
    }))

  test("after a rewind there is nothing to diff; a turn out of range is a TurnOutOfRangeError", () =>
    Effect.gen(function*() {
      const s = yield* setup
      yield* s.userSays("one")
      yield* s.tool("a.txt", "a1")
      assert.strictEqual((yield* Rewind.diff(SESSION, "last")).files.length, 1)
      yield* Rewind.rewind(SESSION, "last")
      assert.deepStrictEqual((yield* Rewind.diff(SESSION, 1)).files, [])
      const error = yield* Effect.flip(Rewind.diff(SESSION, 5))
      assert.strictEqual(error._tag, "TurnOutOfRangeError")
    }))
})

// ---------------------------------------------------------------------------------------------
// The law: rewinding to turn k gives back exactly the files as they were when turn k began.
// ---------------------------------------------------------------------------------------------

const NAMES = ["a.txt", "b.bin", "dir/c.txt"] as const

type Op =
  | { readonly _tag: "write"; readonly name: string; readonly bytes: Uint8Array; readonly agentId: string }
  | {
    readonly _tag: "edit"
    readonly name: string
    readonly at: number
    readonly cut: number
    readonly insert: Uint8Array
    readonly agentId: string
  }
  | { readonly _tag: "delete"; readonly name: string; readonly agentId: string }

type Step = { readonly _tag: "turn"; readonly ops: ReadonlyArray<Op> } | {
  readonly _tag: "rewind"
  readonly pick: number
}

const name = fc.constantFrom(...NAMES)
const agentId = fc.constantFrom("main", "main", "main/1")
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ _tag: fc.constant("write" as const), name, bytes: fc.uint8Array({ maxLength: 48 }), agentId }),
  fc.record({
    _tag: fc.constant("edit" as const),
    name,
    at: fc.nat({ max: 64 }),
    cut: fc.nat({ max: 8 }),
    insert: fc.uint8Array({ maxLength: 8 }),
    agentId
  }),
  fc.record({ _tag: fc.constant("delete" as const), name, agentId })
)
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("turn" as const), ops: fc.array(op, { maxLength: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("rewind" as const), pick: fc.nat() }) }
)

describe("Rewind law", () => {
  it.layer(NodeContext.layer)((it) => {
    it.scoped.prop(
      "for any turns of creates, writes, edits and deletes (and rewinds among them), rewinding to any turn k restores " +
        "exactly the bytes every file had when turn k began, and removes the files that did not exist then",
      [fc.array(step, { minLength: 1, maxLength: 8 }), fc.nat()],
      ([steps, last]) =>
        Effect.gen(function*() {
          const s = yield* setup
          /** The project's files when each turn began. */
          const starts: Array<Record<string, string>> = []
          const rewindTo = (pick: number) =>
            Effect.gen(function*() {
              if (starts.length === 0) {
                const error = yield* Effect.flip(Rewind.rewind(SESSION, "last"))
                assert.strictEqual(error._tag, "TurnOutOfRangeError")
                return
              }
              const k = (pick % starts.length) + 1
              // No change was made outside weft, so no rewind needs force.
              yield* Rewind.rewind(SESSION, k)
              assert.deepStrictEqual(yield* s.tree, starts[k - 1], `rewound to turn ${k} of ${starts.length}`)
            })
          for (const next of [...steps, { _tag: "rewind", pick: last } as const]) {
            if (next._tag === "rewind") {
              yield* rewindTo(next.pick)
              continue
            }
            yield* s.userSays(`turn ${starts.length + 1}`)
            starts.push(yield* s.tree)
            for (const change of next.ops) {
              const current = yield* s.read(change.name)
              const options = { agentId: change.agentId }
              if (change._tag === "delete") {
                if (Option.isSome(current)) yield* s.tool(change.name, null, options)
              } else if (change._tag === "write") {
                yield* s.tool(change.name, change.bytes, options)
              } else {
                const bytes = Option.getOrElse(current, () => new Uint8Array())
                const at = Math.min(change.at, bytes.length)
                const edited = new Uint8Array([
                  ...bytes.subarray(0, at),
                  ...change.insert,
                  ...bytes.subarray(Math.min(bytes.length, at + change.cut))
                ])
                yield* s.tool(change.name, edited, options)
              }
            }
          }
        }).pipe(Effect.provide(fresh)),
      { timeout: 60_000, fastCheck: { numRuns: 150 } }
    )
  })
})
