/**
 * The checkpoint's files: a head, and the long strings of the state in side files named by their
 * content, which a save writes only when their string changed.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import type { Envelope } from "@weft/kernel/Envelope"
import { lineCodec } from "@weft/kernel/EventCodec"
import type { AnyEvent } from "@weft/kernel/Events"
import { ToolCallCompleted, UserMessageReceived } from "@weft/kernel/Events"
import * as Projection from "@weft/kernel/Projection"
import { Effect, Either, Fiber, Logger, Queue, Stream } from "effect"
import type * as Crypto from "node:crypto"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { vi } from "vitest"
import { encodeProjectPath } from "../src/Layout.js"
import * as ProjectionRunner from "../src/ProjectionRunner.js"
import type { Result } from "../src/ProjectionRunner.js"
import type { Lengthy } from "./utils/lengthy.js"
import { lengthy, LINE } from "./utils/lengthy.js"

/** The runner's side-file threshold, in characters. */
const LONG = 16 * 1024

// Every string hashed, by length: whether a save hashed a long string again shows here.
const { hashed } = vi.hoisted(() => ({ hashed: [] as Array<number> }))
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof Crypto>()
  return {
    ...actual,
    createHash: (algorithm: string) => {
      const hash = actual.createHash(algorithm)
      const update = hash.update.bind(hash)
      return Object.assign(hash, {
        update: (data: string | NodeJS.ArrayBufferView, encoding?: BufferEncoding) => {
          if (typeof data === "string") hashed.push(data.length)
          return encoding === undefined ? update(data) : update(data as string, encoding)
        }
      })
    }
  }
})

/** Long strings hashed since `hashed` was emptied. */
const longHashed = () => hashed.filter((length) => length >= LONG)

const PROJECT = "/work/alpha"

/** A WEFT_HOME with one project whose sessions it appends to, and the envelopes appended, in order. */
const makeLog = (home: string) => {
  const dir = path.join(home, "projects", encodeProjectPath(PROJECT))
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "project.json"), JSON.stringify({ path: PROJECT }))
  const seqs = new Map<string, number>()
  const envelopes: Array<Envelope> = []
  const append = (sessionId: string, event: AnyEvent) => {
    const seq = (seqs.get(sessionId) ?? 0) + 1
    seqs.set(sessionId, seq)
    const line = Either.getOrThrow(lineCodec.encode({
      seq,
      id: `id-${envelopes.length}`,
      parentId: null,
      sessionId,
      agentId: "main",
      at: "2026-01-01T00:00:00.000Z",
      event
    }))
    fs.appendFileSync(path.join(dir, `${sessionId}.jsonl`), line + "\n")
    envelopes.push(Either.getOrThrow(lineCodec.decode(line)))
  }
  return {
    said: (sessionId: string, text: string) =>
      append(sessionId, new UserMessageReceived({ content: [{ type: "text", text }] })),
    tool: (sessionId: string) =>
      append(
        sessionId,
        new ToolCallCompleted({ toolUseId: "t1", tool: "read", content: "ok", isError: false, durationMs: 3 })
      ),
    /** What folding everything appended must give. */
    expected: (): Lengthy => Projection.fold(lengthy, envelopes)
  }
}

const tempHome = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "weft-ckpt-" }))

const source = (home: string) => ProjectionRunner.weftSource(home, { _tag: "All" })
const runLengthy = (home: string) => ProjectionRunner.run(home, lengthy, source(home))

const checkpointDir = (home: string) => path.join(home, "projections", "lengthy", "1")
const headFile = (home: string) => path.join(checkpointDir(home), "all.json")
const listing = (home: string) => fs.readdirSync(checkpointDir(home)).sort()

interface SideString {
  readonly at: ReadonlyArray<string | number>
  readonly file: string
  readonly length: number
}
interface HeadJson {
  readonly checkpoint: number
  readonly strings?: ReadonlyArray<SideString>
  readonly state: Record<string, unknown>
  readonly [key: string]: unknown
}
const readHead = (home: string): HeadJson => JSON.parse(fs.readFileSync(headFile(home), "utf8"))

/** What is at `at` in `value`. */
const valueAt = (value: unknown, at: ReadonlyArray<string | number>): unknown =>
  at.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], value)

/** Each side file's inode and modification time, by name: a file written again (renamed into place) shows. */
const sideStats = (home: string) =>
  Object.fromEntries(
    listing(home).filter((name) => name.endsWith(".str")).map((name) => {
      const stat = fs.statSync(path.join(checkpointDir(home), name))
      return [name, `${stat.ino}:${stat.mtimeMs}`]
    })
  )

/** Runs `effect`, collecting the warnings it logs. */
const withWarnings = <A, E, R>(effect: Effect.Effect<A, E, R>) => {
  const warnings: Array<string> = []
  const capture = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
  )
  return Effect.map(Effect.provide(effect, capture), (result) => ({ result, warnings }))
}

layer(NodeContext.layer, { excludeTestServices: true })("ProjectionRunner checkpoints", (it) => {
  it.effect("a long string of the state goes to a side file named by its content; the head keeps its path and stays small", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      const log = makeLog(home)
      // Text beyond ASCII: a side string's length counts UTF-16 code units, its file holds UTF-8.
      for (let i = 0; i < 3; i++) log.said("s-1", `é€𝄞 ${i}`)
      log.said("s-2", "short")
      hashed.length = 0
      const first = yield* runLengthy(home)
      assert.isFalse(first.fromCheckpoint)
      assert.deepStrictEqual(first.state, log.expected())
      assert.isTrue(longHashed().length > 0)

      const head = readHead(home)
      assert.strictEqual(head.checkpoint, 2)
      // `all` and s-1's string are long, and so is s-1's first chunk (the same string as s-1's:
      // one file for both); s-2's string and chunk are not.
      assert.deepStrictEqual(head.strings!.map((side) => side.at), [["all"], ["bySession", "s-1"], [
        "chunks",
        "s-1",
        0
      ]])
      for (const side of head.strings!) {
        const value = valueAt(first.state, side.at) as string
        assert.isAtLeast(value.length, LONG)
        assert.strictEqual(valueAt(head.state, side.at), "")
        assert.strictEqual(side.length, value.length)
        assert.strictEqual(
          side.file,
          `all.${createHash("sha1").update(value, "utf8").digest("hex").slice(0, 20)}.str`
        )
        assert.strictEqual(fs.readFileSync(path.join(checkpointDir(home), side.file), "utf8"), value)
      }
      assert.strictEqual((head.state["bySession"] as Record<string, string>)["s-2"], first.state.bySession["s-2"])
      assert.strictEqual(head.strings![1]!.file, head.strings![2]!.file)
      assert.deepStrictEqual(listing(home), ["all.json", head.strings![0]!.file, head.strings![1]!.file].sort())
      assert.isAbove(JSON.stringify(first.state).length, 70_000)
      // What stays in the head: the marks, the short strings (12,000 characters) and the paths.
      assert.isBelow(fs.statSync(headFile(home)).size, 14_000)

      const resumed = yield* runLengthy(home)
      assert.isTrue(resumed.fromCheckpoint)
      assert.strictEqual(resumed.bytes, 0)
      assert.deepStrictEqual(resumed.state, log.expected())
    })))

  it.effect("a save that finds a loaded long string unchanged names its file again: not hashed, not written", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      const log = makeLog(home)
      for (let i = 0; i < 4; i++) log.said("s-1", `message ${i}`)
      log.said("s-2", "short")
      yield* runLengthy(home)
      const files = readHead(home).strings!.map((side) => side.file)
      const before = sideStats(home)
      assert.strictEqual(Object.keys(before).length, 3)

      // A tool call changes the state (`tools`) but none of its long strings.
      log.tool("s-1")
      hashed.length = 0
      const second = yield* runLengthy(home)
      assert.isTrue(second.fromCheckpoint)
      assert.strictEqual(second.events, 1)
      assert.deepStrictEqual(second.state, log.expected())
      const head = readHead(home)
      assert.strictEqual((head.state as { tools: number }).tools, 1)
      assert.deepStrictEqual(head.strings!.map((side) => side.file), files)
      assert.deepStrictEqual(longHashed(), [])
      assert.deepStrictEqual(sideStats(home), before)
    })))

  it.effect("follow: each save remembers the side files it wrote, and the next one reuses them unhashed", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      const log = makeLog(home)
      for (let i = 0; i < 4; i++) log.said("s-1", `message ${i}`)
      log.said("s-2", "short")
      const results = yield* Queue.unbounded<Result<Lengthy>>()
      const fiber = yield* ProjectionRunner.follow(home, lengthy, source(home), { interval: "20 millis" }).pipe(
        Stream.runForEach((result) => Queue.offer(results, result)),
        Effect.fork
      )
      const next = Queue.take(results).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "no state" }))
      assert.isFalse((yield* next).fromCheckpoint)
      const before = sideStats(home)
      assert.strictEqual(Object.keys(before).length, 3)

      hashed.length = 0
      log.tool("s-1")
      assert.strictEqual((yield* next).state.tools, 1)
      log.tool("s-1")
      assert.strictEqual((yield* next).state.tools, 2)
      assert.deepStrictEqual(longHashed(), [])
      assert.deepStrictEqual(sideStats(home), before)
      assert.strictEqual((readHead(home).state as { tools: number }).tools, 2)

      // A message changes `all` and s-1's string: those alone are hashed, not s-1's first chunk.
      log.said("s-1", "one more")
      assert.deepStrictEqual((yield* next).state, log.expected())
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(longHashed(), [6 * LINE, 5 * LINE])
      assert.deepStrictEqual(readHead(home).strings!.map((side) => side.at), [["all"], ["bySession", "s-1"], [
        "chunks",
        "s-1",
        0
      ]])
    })))

  it.effect("a changed long string gets a new file and the stale one is removed; unchanged ones and other sources' stay", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      const log = makeLog(home)
      for (let i = 0; i < 3; i++) log.said("s-1", `one ${i}`)
      for (let i = 0; i < 3; i++) log.said("s-2", `two ${i}`)
      yield* runLengthy(home)
      const sideOf = (at: string) => readHead(home).strings!.find((side) => side.at.join("/") === at)!.file
      const [all, s1, s2] = [sideOf("all"), sideOf("bySession/s-1"), sideOf("bySession/s-2")]
      // s-1's first chunk holds its three lines, as s-1's string does: one file for both.
      assert.strictEqual(sideOf("chunks/s-1/0"), s1)
      const before = sideStats(home)
      // Side files of other sources, whose keys begin with this one's (`all.<20 hex digits>` too):
      // not this checkpoint's.
      const others = [`all.${"a".repeat(20)}.${"0".repeat(20)}.str`, `allx.${"0".repeat(20)}.str`]
      for (const name of others) fs.writeFileSync(path.join(checkpointDir(home), name), "other")

      log.said("s-1", "changed")
      const second = yield* runLengthy(home)
      assert.isTrue(second.fromCheckpoint)
      assert.deepStrictEqual(second.state, log.expected())
      const head = readHead(home)
      assert.notStrictEqual(sideOf("all"), all)
      assert.notStrictEqual(sideOf("bySession/s-1"), s1)
      assert.strictEqual(sideOf("bySession/s-2"), s2)
      assert.strictEqual(sideStats(home)[s2], before[s2])
      assert.deepStrictEqual(
        listing(home),
        [...new Set(["all.json", ...others, ...head.strings!.map((side) => side.file)])].sort()
      )
      assert.isFalse(listing(home).includes(all))
      // s-1's old string is its first chunk still: its file stays.
      assert.strictEqual(sideOf("chunks/s-1/0"), s1)
      assert.strictEqual(sideStats(home)[s1], before[s1])
    })))

  it.effect("a side file missing or cut short: the run rebuilds with the same state, warns once, and the next resumes", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      const log = makeLog(home)
      for (let i = 0; i < 5; i++) log.said(`s-${i % 2}`, `message ${i}`)
      yield* runLengthy(home)
      const [first, second] = readHead(home).strings!

      fs.rmSync(path.join(checkpointDir(home), first!.file))
      log.tool("s-1")
      const missing = yield* withWarnings(runLengthy(home))
      assert.isFalse(missing.result.fromCheckpoint)
      assert.deepStrictEqual(missing.result.state, log.expected())
      assert.strictEqual(missing.warnings.length, 1)
      assert.include(missing.warnings[0], "does not decode; rebuilding")
      assert.include(missing.warnings[0], `its side file ${first!.file} is missing`)
      assert.isTrue((yield* runLengthy(home)).fromCheckpoint)

      // Cut short: the same name, so only its size tells the save to write it again.
      const cut = path.join(checkpointDir(home), second!.file)
      fs.writeFileSync(cut, fs.readFileSync(cut, "utf8").slice(0, 100))
      const short = yield* withWarnings(runLengthy(home))
      assert.isFalse(short.result.fromCheckpoint)
      assert.deepStrictEqual(short.result.state, log.expected())
      assert.strictEqual(short.warnings.length, 1)
      assert.include(short.warnings[0], "does not decode; rebuilding")
      assert.include(short.warnings[0], `holds 100 characters, not ${second!.length}`)
      const resumed = yield* withWarnings(runLengthy(home))
      assert.isTrue(resumed.result.fromCheckpoint)
      assert.deepStrictEqual(resumed.warnings, [])
      assert.deepStrictEqual(resumed.result.state, log.expected())
    })))

  it.effect("a version-1 checkpoint (every string in it) still resumes, and the next save writes version 2", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      const log = makeLog(home)
      for (let i = 0; i < 4; i++) log.said("s-1", `message ${i}`)
      const first = yield* runLengthy(home)
      // The head as version 1 wrote it: the whole state, and no `strings`.
      const { strings, ...head } = readHead(home)
      assert.isTrue(strings!.length > 0)
      for (const name of listing(home)) fs.rmSync(path.join(checkpointDir(home), name))
      fs.writeFileSync(headFile(home), JSON.stringify({ ...head, checkpoint: 1, state: first.state }) + "\n")

      log.tool("s-1")
      const resumed = yield* withWarnings(runLengthy(home))
      assert.deepStrictEqual(resumed.warnings, [])
      assert.isTrue(resumed.result.fromCheckpoint)
      assert.strictEqual(resumed.result.events, 1)
      assert.deepStrictEqual(resumed.result.state, log.expected())
      const written = readHead(home)
      assert.strictEqual(written.checkpoint, 2)
      assert.strictEqual(written.strings!.length, strings!.length)
      assert.isTrue((yield* runLengthy(home)).fromCheckpoint)
    })))

  it.effect("a long string UTF-8 cannot carry (a lone surrogate) stays in the head, and round-trips", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      const log = makeLog(home)
      log.said("s-1", "lone \uD800 surrogate")
      for (let i = 0; i < 3; i++) log.said("s-2", `message ${i}`)
      const first = yield* runLengthy(home)
      assert.include(first.state.all, "\uD800")
      const head = readHead(home)
      // `all` holds the surrogate; s-2's string and chunk do not.
      assert.deepStrictEqual(head.strings!.map((side) => side.at), [["bySession", "s-2"], ["chunks", "s-2", 0]])
      assert.strictEqual(head.state["all"], first.state.all)
      const resumed = yield* runLengthy(home)
      assert.isTrue(resumed.fromCheckpoint)
      assert.deepStrictEqual(resumed.state, log.expected())
    })))

  it.effect("a head that is not a checkpoint rebuilds, with a one-line reason naming what is wrong", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      const log = makeLog(home)
      for (let i = 0; i < 4; i++) log.said("s-1", `message ${i}`)
      yield* runLengthy(home)
      const good = readHead(home)
      const files = good["files"] as ReadonlyArray<Record<string, unknown>>
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [[], "expected an object, got an array"],
        [{ ...good, checkpoint: 3 }, "at checkpoint: expected 1 or 2, got 3"],
        [
          { ...good, files: [{ ...files[0], offset: -1 }] },
          "at files.0.offset: expected a non-negative integer, got -1"
        ],
        [
          { ...good, files: [{ ...files[0], lines: 1.5 }] },
          "at files.0.lines: expected a non-negative integer, got 1.5"
        ],
        [{ ...good, files: [{ ...files[0], size: -2 }] }, "at files.0.size: expected a non-negative number, got -2"],
        [{ ...good, files: [{ ...files[0], path: 7 }] }, "at files.0.path: expected a string, got 7"],
        [{ ...good, files: [{ ...files[0], ino: undefined }] }, "at files.0.ino: expected a number, got nothing"],
        [{ ...good, strings: undefined }, "at strings: expected an array, got nothing"],
        [
          { ...good, strings: [{ ...good.strings![0], file: "../../elsewhere.str" }] },
          "at strings.0.file: expected a file all.<hash>.str, got \"../../elsewhere.str\""
        ],
        [{ ...good, strings: [{ ...good.strings![0], at: ["tools"] }] }, "at strings.0.at: the state holds no \"\""],
        [{ ...good, strings: [{ ...good.strings![0], at: [{}] }] }, "at strings.0.at: expected a path"],
        [{ ...good, strings: [{ ...good.strings![0], length: "9" }] }, "at strings.0.length: expected a non-negative"]
      ]
      for (const [head, reason] of cases) {
        fs.writeFileSync(headFile(home), JSON.stringify(head))
        const run = yield* withWarnings(runLengthy(home))
        assert.isFalse(run.result.fromCheckpoint, reason)
        assert.deepStrictEqual(run.result.state, log.expected())
        assert.strictEqual(run.warnings.length, 1)
        assert.include(run.warnings[0], "does not decode; rebuilding")
        assert.include(run.warnings[0], reason)
        assert.notInclude(run.warnings[0], "\n")
      }
    })))
})
