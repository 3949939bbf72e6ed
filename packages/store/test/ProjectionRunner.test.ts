import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import type { Envelope } from "@weft/kernel/Envelope"
import { lineCodec } from "@weft/kernel/EventCodec"
import type { AnyEvent } from "@weft/kernel/Events"
import { ToolCallCompleted, TurnCompleted, UnknownEvent, UserMessageReceived } from "@weft/kernel/Events"
import * as Projection from "@weft/kernel/Projection"
import { Deferred, Effect, Either, Exit, Fiber, Logger, Queue, Stream } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import { encodeProjectPath } from "../src/Layout.js"
import * as ProjectionRunner from "../src/ProjectionRunner.js"
import type { Format, Result, RunOptions, WorkerShare, WorkerSpawner } from "../src/ProjectionRunner.js"
import { lengthy } from "./utils/lengthy.js"
import { ordered, summing } from "./utils/summing.js"
import type { Sums } from "./utils/summing.js"

// --- a model of a log: entries across a few sessions of two projects ------------------------

const PROJECTS = ["/work/alpha", "/work/beta"] as const

type Kind = "said" | "tool" | "turn" | "unknown" | "untellable"

interface Entry {
  readonly project: 0 | 1
  /** 0 to 2; a parallel fold's model spreads entries over more sessions, so more files. */
  readonly session: number
  readonly kind: Kind
  readonly text: string
}

const entry: fc.Arbitrary<Entry> = fc.record({
  project: fc.constantFrom(0 as const, 1 as const),
  session: fc.constantFrom(0 as const, 1 as const, 2 as const),
  kind: fc.constantFrom<Kind>("said", "said", "tool", "turn", "unknown", "untellable"),
  text: fc.fullUnicodeString({ maxLength: 12 })
})

const log = fc.array(entry, { minLength: 1, maxLength: 40 })

/** An entry in one of up to twenty sessions: a log of many files, for the many ways to split them. */
const spreadEntry: fc.Arbitrary<Entry> = fc.tuple(entry, fc.nat(6)).map(([e, more]) => ({
  ...e,
  session: e.session + 3 * more
}))

const sessionIdOf = (e: Pick<Entry, "project" | "session">) => `s-${e.project}-${e.session}`

const eventOf = (e: Entry): AnyEvent => {
  switch (e.kind) {
    case "said":
      return new UserMessageReceived({ content: [{ type: "text", text: e.text }] })
    case "tool":
      return new ToolCallCompleted({ toolUseId: "t1", tool: "read", content: e.text, isError: false, durationMs: 3 })
    case "turn":
      return new TurnCompleted({ turn: 1, stopReason: null })
    case "unknown":
      return new UnknownEvent({ raw: { _tag: "SomethingFromTheFuture", v: 1, text: e.text } })
    case "untellable":
      // A newer weft's event whose `_tag` is not first: a reader cannot tell its tag without decoding it.
      return new UnknownEvent({ raw: { v: 3, text: e.text, _tag: "OtherFromTheFuture" } })
  }
}

interface Line {
  readonly file: string
  readonly text: string
  readonly tag: string
}

/** The log's lines, each in its session's file under `home`, seqs counted per session. */
const linesOf = (home: string, entries: ReadonlyArray<Entry>): ReadonlyArray<Line> => {
  const seqs = new Map<string, number>()
  return entries.map((e, i) => {
    const sessionId = sessionIdOf(e)
    const seq = (seqs.get(sessionId) ?? 0) + 1
    seqs.set(sessionId, seq)
    const event = eventOf(e)
    const text = Either.getOrThrow(lineCodec.encode({
      seq,
      id: `id-${i}`,
      parentId: null,
      sessionId,
      agentId: "main",
      at: "2026-01-01T00:00:00.000Z",
      event
    }))
    const tag = event._tag === "UnknownEvent" ? event.tag : event._tag
    return { file: sessionFile(home, e.project, sessionId), text: text + "\n", tag }
  })
}

const projectDir = (home: string, project: 0 | 1) => path.join(home, "projects", encodeProjectPath(PROJECTS[project]))

const sessionFile = (home: string, project: 0 | 1, sessionId: string) =>
  path.join(projectDir(home, project), `${sessionId}.jsonl`)

const makeProjects = (home: string) => {
  for (const project of [0, 1] as const) {
    fs.mkdirSync(projectDir(home, project), { recursive: true })
    fs.writeFileSync(path.join(projectDir(home, project), "project.json"), JSON.stringify({ path: PROJECTS[project] }))
  }
}

/** Appends `bytes` of the lines, in order, starting `skip` bytes into them. */
const appendBytes = (lines: ReadonlyArray<Line>, skip: number, bytes: number) => {
  let at = 0
  for (const line of lines) {
    const encoded = Buffer.from(line.text, "utf8")
    const from = Math.max(skip, at)
    const to = Math.min(skip + bytes, at + encoded.length)
    if (from < to) fs.appendFileSync(line.file, encoded.subarray(from - at, to - at))
    at += encoded.length
  }
}

const totalBytes = (lines: ReadonlyArray<Line>) => lines.reduce((n, line) => n + Buffer.byteLength(line.text), 0)

/** What folding the whole log with `projection` must give: the pure fold of its envelopes, in log order. */
const foldOf = <S>(projection: Projection.Projection<S>, lines: ReadonlyArray<Line>): S =>
  Projection.fold(projection, lines.map((line) => Either.getOrThrow(lineCodec.decode(line.text.slice(0, -1)))))

const expected = (lines: ReadonlyArray<Line>): Sums => foldOf(summing, lines)

const tempHome = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "weft-proj-" }))

const all = (home: string) => ProjectionRunner.weftSource(home, { _tag: "All" })

const runAll = (home: string, options?: RunOptions) => ProjectionRunner.run(home, summing, all(home), options)

const laggingWorkerUrl = new URL("./utils/laggingWorker.mjs", import.meta.url)

/** A worker the test started: the files it was given (none until it is given a share), and whether it has exited. */
interface Spawned {
  readonly files: Array<string>
  exited: boolean
}
/** The workers started, in order. */
const spawned: Array<Spawned> = []

/**
 * Starts the test's worker, recording what it is given and when it exits. `startAfterMs`: it
 * starts this much later; `ready`: raised once it has posted `Ready` (see utils/laggingWorker.mjs).
 */
const spawnerWith =
  (lag: { readonly startAfterMs?: number; readonly ready?: Int32Array } = {}): WorkerSpawner => (data) => {
    const record: Spawned = { files: [], exited: false }
    spawned.push(record)
    const worker = new Worker(laggingWorkerUrl, { workerData: { ...data, ...lag } })
    const post = worker.postMessage.bind(worker)
    worker.postMessage = (message: WorkerShare, transfer) => {
      record.files.push(...message.files.map(({ file }) => file.path))
      post(message, transfer)
    }
    worker.once("exit", () => {
      record.exited = true
    })
    return worker
  }

const twoWorkers: RunOptions = {
  workers: 2,
  worker: spawnerWith(),
  projectionRef: { _tag: "Builtin", name: "summing" },
  checkpoint: false
}

/** A count on memory shared with the workers: how many are ready (see utils/laggingWorker.mjs). */
const readyCount = () => new Int32Array(new SharedArrayBuffer(4))

const sleepHere = (ms: number) => Atomics.wait(readyCount(), 0, 0, ms)

/** Blocks this thread until `count` workers are ready, or 20 s have passed. */
const waitForReady = (ready: Int32Array, count: number) => {
  const until = performance.now() + 20_000
  for (let seen = Atomics.load(ready, 0); seen < count; seen = Atomics.load(ready, 0)) {
    const left = until - performance.now()
    if (left <= 0) return
    Atomics.wait(ready, 0, seen, left)
  }
}

/**
 * `format` with a slow reader on this thread: it sleeps `pauseMs` on every line, and at the first
 * line of the file `holdAt` waits (up to 20 s) until `holdFor` workers (default 1) are `ready` —
 * as if folding up to that file took as long as they take to start. It adds the files it reads
 * to `here`. Workers resolve the format's own reader.
 */
const held = (
  format: Format,
  options: {
    readonly pauseMs: number
    readonly holdAt?: string
    readonly ready?: Int32Array
    readonly holdFor?: number
    readonly here?: Set<string>
  }
): Format => ({
  ...format,
  reader: (projection, reading) => {
    const reader = format.reader(projection, reading)
    return {
      mayHold: () => true,
      decode: (line, file, lineNumber) => {
        options.here?.add(file.path)
        if (file.path === options.holdAt && lineNumber === 1 && options.ready !== undefined) {
          waitForReady(options.ready, options.holdFor ?? 1)
        }
        sleepHere(options.pauseMs)
        return reader.decode(line, file, lineNumber)
      }
    }
  }
})

/** `sessions` sessions of the first project, each of `perSession` messages of the same length. */
const evenLines = (home: string, sessions: number, perSession: number): ReadonlyArray<Line> => {
  const lines: Array<Line> = []
  for (let s = 0; s < sessions; s++) {
    const sessionId = `s-even-${String(s).padStart(3, "0")}`
    for (let seq = 1; seq <= perSession; seq++) {
      const text = Either.getOrThrow(lineCodec.encode({
        seq,
        id: `id-${s}-${seq}`,
        parentId: null,
        sessionId,
        agentId: "main",
        at: "2026-01-01T00:00:00.000Z",
        event: new UserMessageReceived({ content: [{ type: "text", text: "message" }] })
      }))
      lines.push({ file: sessionFile(home, 0, sessionId), text: text + "\n", tag: "UserMessageReceived" })
    }
  }
  return lines
}

/** A source whose reader records every line it decodes. */
const recordingDecodes = (format: Format, decoded: Array<string>): Format => ({
  ...format,
  reader: (projection) => {
    const reader = format.reader(projection)
    return {
      mayHold: reader.mayHold,
      decode: (line, file, lineNumber) => {
        decoded.push(line)
        return reader.decode(line, file, lineNumber)
      }
    }
  }
})

/** A source whose reader keeps the lines holding `marker`, told by `mayHold` alone or by the marker too; it records what it decodes. */
const markedBy = (format: Format, marker: string, declared: boolean, decoded: Array<string>): Format => ({
  ...format,
  reader: (projection) => {
    const reader = format.reader(projection)
    return {
      mayHold: (line) => line.includes(marker),
      marker: declared ? marker : undefined,
      decode: (line, file, lineNumber) => {
        decoded.push(`${file.path}:${lineNumber}:${line}`)
        return reader.decode(line, file, lineNumber)
      }
    }
  }
})

layer(NodeContext.layer, { excludeTestServices: true })("ProjectionRunner", (it) => {
  it.effect.prop(
    "a reader's marker finds exactly the lines its mayHold keeps: the same lines decoded with the same numbers, the same result or error",
    [
      log,
      fc.constantFrom("UserMessageReceived", "{\"seq\"", "\"turn\"", "\"main\""),
      fc.option(fc.nat(), { nil: undefined }),
      fc.boolean()
    ],
    ([entries, marker, corruptAt, lenient]) =>
      Effect.scoped(Effect.gen(function*() {
        const home = yield* tempHome
        makeProjects(home)
        const lines = [...linesOf(home, entries)]
        if (corruptAt !== undefined) {
          const at = corruptAt % lines.length
          lines.splice(at, 0, { file: lines[at]!.file, text: "{\"seq\":0,\"UserMessageReceived\" not json\n", tag: "" })
        }
        appendBytes(lines, 0, totalBytes(lines))
        const run = (declared: boolean) => {
          const decoded: Array<string> = []
          return Effect.map(
            Effect.either(
              ProjectionRunner.run(home, summing, markedBy(all(home), marker, declared, decoded), {
                checkpoint: false,
                lenient
              })
            ),
            (result) => ({
              decoded,
              result: Either.match(result, {
                onLeft: (error) => ({ path: error.path, line: error.line, reason: error.reason }),
                onRight: (r) => ({ state: r.state, events: r.events, skipped: r.skippedLines, bytes: r.bytes })
              })
            })
          )
        }
        const withMarker = yield* run(true)
        const withoutMarker = yield* run(false)
        assert.deepStrictEqual(withMarker, withoutMarker)
      })),
    { fastCheck: { numRuns: 60 } }
  )

  it.effect("never decodes a line whose tag the projection does not handle; unknown events are skipped, never fatal", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      makeProjects(home)
      const entries: Array<Entry> = (["said", "turn", "unknown", "tool", "untellable", "turn", "said"] as const).map((
        kind,
        i
      ) => ({ project: 0, session: (i % 2) as 0 | 1, kind, text: `line ${i}` }))
      const lines = linesOf(home, entries)
      appendBytes(lines, 0, totalBytes(lines))
      const decoded: Array<string> = []
      const result = yield* ProjectionRunner.run(home, summing, recordingDecodes(all(home), decoded))
      // Decoded: the handled lines, and the one whose tag cannot be told without decoding it.
      assert.deepStrictEqual(
        decoded.map((line) => lines.find((l) => l.text === line + "\n")!.tag).sort(),
        ["OtherFromTheFuture", "ToolCallCompleted", "UserMessageReceived", "UserMessageReceived"]
      )
      assert.strictEqual(result.events, 3)
      assert.strictEqual(result.skippedLines, 0)
      assert.deepStrictEqual(result.state, expected(lines))
    })))

  it.effect("a corrupt line in the middle fails naming path and line; lenient skips and counts it; a bad last line waits", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      makeProjects(home)
      const lines = linesOf(
        home,
        [0, 1, 2].map((i) => ({ project: 1, session: 0, kind: "said", text: `t${i}` }))
      )
      const file = lines[0]!.file
      fs.writeFileSync(file, lines[0]!.text + lines[1]!.text + "{\"seq\":3,not json\n")

      // A bad last line may be a torn append: not folded, not fatal, the cursor stays before it.
      const first = yield* runAll(home)
      assert.strictEqual(first.events, 2)
      assert.strictEqual(first.skippedLines, 0)

      // A good line after it makes it corruption in the middle of the log.
      fs.appendFileSync(file, lines[2]!.text)
      const failed = yield* Effect.flip(runAll(home))
      assert.strictEqual(failed._tag, "ProjectionError")
      assert.strictEqual(failed.path, file)
      assert.strictEqual(failed.line, 3)
      assert.include(failed.message, `${file}:3:`)
      assert.include(failed.message, "weft doctor")

      const lenient = yield* runAll(home, { lenient: true })
      assert.strictEqual(lenient.skippedLines, 1)
      assert.strictEqual(lenient.events, 1)
      assert.isTrue(lenient.fromCheckpoint)
      assert.deepStrictEqual(lenient.state.bySession, { "s-1-0": [1, 2, 3] })
    })))

  it.effect("lines longer than a read, multi-byte text across reads and a byte order mark fold like any other", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      makeProjects(home)
      const texts = ["é".repeat(700_000), "short", "€".repeat(1_500_000), "last"]
      const lines = linesOf(home, texts.map((text) => ({ project: 0, session: 1, kind: "said", text })))
      fs.writeFileSync(lines[0]!.file, "\uFEFF")
      const total = totalBytes(lines)
      // The first run stops in the middle of the longest line.
      const split = Buffer.byteLength(lines[0]!.text + lines[1]!.text) + 2_000_001
      appendBytes(lines, 0, split)
      const first = yield* runAll(home)
      assert.strictEqual(first.events, 2)
      appendBytes(lines, split, total - split)
      const second = yield* runAll(home)
      assert.strictEqual(second.events, 2)
      assert.deepStrictEqual(second.state, expected(lines))
      assert.strictEqual(second.state.textLength, 2_200_009)
    })))

  it.effect("a projection that throws fails the run with a ProjectionError naming the line", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      makeProjects(home)
      const lines = linesOf(home, [0, 1, 2].map((i) => ({ project: 0, session: 0, kind: "said", text: `${i}` })))
      appendBytes(lines, 0, totalBytes(lines))
      const throwing = {
        ...summing,
        evolve: (state: Sums, envelope: Envelope) => {
          if (envelope.seq === 2) throw new Error("boom")
          return summing.evolve(state, envelope)
        }
      }
      const failed = yield* Effect.flip(ProjectionRunner.run(home, throwing, all(home)))
      assert.strictEqual(failed.path, lines[0]!.file)
      assert.strictEqual(failed.line, 2)
      assert.include(failed.message, "boom")
    })))

  it.effect.prop(
    "for any log and any split (torn lines included), a run, an append and a resumed run equal one full run",
    [log, fc.double({ min: 0, max: 1, noNaN: true })],
    ([entries, at]) =>
      Effect.scoped(Effect.gen(function*() {
        const home = yield* tempHome
        const other = yield* tempHome
        makeProjects(home)
        makeProjects(other)
        const lines = linesOf(home, entries)
        const total = totalBytes(lines)
        const split = Math.floor(total * at)
        // `lengthy` beside `summing`: a state of long strings, which its checkpoint keeps in side files.
        const runLengthy = () => ProjectionRunner.run(home, lengthy, all(home))
        appendBytes(lines, 0, split)
        const before = yield* runAll(home)
        assert.isFalse(before.fromCheckpoint)
        assert.isFalse((yield* runLengthy()).fromCheckpoint)
        appendBytes(lines, split, total - split)
        const after = yield* runAll(home)
        assert.isTrue(after.fromCheckpoint)
        assert.strictEqual(before.bytes + after.bytes, total)
        const long = yield* runLengthy()
        assert.isTrue(long.fromCheckpoint)
        assert.deepStrictEqual(long.state, foldOf(lengthy, lines))
        const longAgain = yield* runLengthy()
        assert.isTrue(longAgain.fromCheckpoint)
        assert.strictEqual(longAgain.bytes, 0)
        assert.deepStrictEqual(longAgain.state, long.state)

        const otherLines = linesOf(other, entries)
        appendBytes(otherLines, 0, total)
        const full = yield* runAll(other, { checkpoint: false })
        assert.deepStrictEqual(after.state, full.state)
        assert.deepStrictEqual(after.state, expected(lines))
        assert.strictEqual(before.events + after.events, full.events)

        // Nothing new: nothing read.
        const again = yield* runAll(home)
        assert.isTrue(again.fromCheckpoint)
        assert.strictEqual(again.bytes, 0)
        assert.strictEqual(again.events, 0)
        assert.deepStrictEqual(again.state, full.state)
      })),
    { fastCheck: { numRuns: 40 } }
  )

  it.effect("a new version, rebuild: true, a shrunk, replaced or rewritten file, a gone file, a bad checkpoint: each rebuilds", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      makeProjects(home)
      const entries: Array<Entry> = Array.from({ length: 12 }, (_, i) => ({
        project: (i % 2) as 0 | 1,
        session: (i % 3) as 0 | 1 | 2,
        kind: "said",
        text: `message ${i}`
      }))
      const lines = linesOf(home, entries)
      appendBytes(lines, 0, totalBytes(lines))
      const full = expected(lines)
      const first = yield* runAll(home)
      assert.isFalse(first.fromCheckpoint)
      assert.isTrue((yield* runAll(home)).fromCheckpoint)

      const v2 = yield* ProjectionRunner.run(home, { ...summing, version: 2 }, all(home))
      assert.isFalse(v2.fromCheckpoint)
      assert.deepStrictEqual(v2.state, full)
      assert.isTrue(fs.existsSync(path.join(home, "projections", "summing", "2", "all.json")))

      const rebuilt = yield* runAll(home, { rebuild: true })
      assert.isFalse(rebuilt.fromCheckpoint)
      assert.deepStrictEqual(rebuilt.state, full)

      // Shrunk below the cursor: a repair, or a rewrite. The state is what the file holds now.
      const file = lines[0]!.file
      const kept = fs.readFileSync(file, "utf8").split("\n").slice(0, 1).join("\n") + "\n"
      fs.writeFileSync(file, kept)
      const shrunk = yield* runAll(home)
      assert.isFalse(shrunk.fromCheckpoint)
      assert.deepStrictEqual(shrunk.state.bySession["s-0-0"], [1])

      // Rewritten in place to the same size with other bytes, then grown.
      const original = fs.readFileSync(file, "utf8")
      fs.writeFileSync(file, original.replace("message 0", "massage 0") + lines[6]!.text)
      const rewritten = yield* runAll(home)
      assert.isFalse(rewritten.fromCheckpoint)
      assert.deepStrictEqual(rewritten.state.bySession["s-0-0"], [1, 2])

      // Replaced by another file (a new inode).
      const aside = file + ".new"
      fs.writeFileSync(aside, fs.readFileSync(file))
      fs.renameSync(aside, file)
      assert.isFalse((yield* runAll(home)).fromCheckpoint)

      // Gone.
      fs.rmSync(lines[1]!.file)
      const gone = yield* runAll(home)
      assert.isFalse(gone.fromCheckpoint)
      assert.isUndefined(gone.state.bySession["s-1-1"])
      assert.isTrue((yield* runAll(home)).fromCheckpoint)

      // A checkpoint that does not decode.
      fs.writeFileSync(path.join(home, "projections", "summing", "1", "all.json"), "{\"checkpoint\":1,")
      const warnings: Array<string> = []
      const capture = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ logLevel, message }) => {
          if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
        })
      )
      const unreadable = yield* runAll(home).pipe(Effect.provide(capture))
      assert.isFalse(unreadable.fromCheckpoint)
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "does not decode; rebuilding")
      assert.deepStrictEqual(unreadable.state, gone.state)
      assert.isTrue((yield* runAll(home)).fromCheckpoint)
      // Written atomically: no temporary files left beside it.
      assert.deepStrictEqual(fs.readdirSync(path.join(home, "projections", "summing", "1")), ["all.json"])
    })))

  it.effect.prop(
    "a parallel fold equals the sequential one, wherever this thread is when a worker is ready",
    // Unbiased: few runs, each worth a log of many files and a hold anywhere in it.
    [
      fc.noBias(fc.array(spreadEntry, { minLength: 2, maxLength: 40 })),
      fc.noBias(fc.nat()),
      fc.constantFrom(2, 3),
      fc.boolean()
    ],
    ([entries, hold, workers, every]) =>
      Effect.scoped(Effect.gen(function*() {
        const home = yield* tempHome
        makeProjects(home)
        const lines = linesOf(home, entries)
        appendBytes(lines, 0, totalBytes(lines))
        // `ordered` keeps every event in the order folded: merging out of order, or dropping or
        // repeating a line, shows.
        const source = all(home)
        const sequential = yield* ProjectionRunner.run(home, ordered, source, { checkpoint: false })
        assert.strictEqual(sequential.state.length, sequential.events)
        const files = (yield* source.files).map((file) => file.path)
        // This thread waits at a file drawn at random until one worker or every one is ready: what
        // is left splits after it. Not at the last two: a worker not ready before this thread starts
        // the last file is dismissed, and would never be ready.
        const holdAt = files.length > 2 ? files[hold % (files.length - 2)] : undefined
        const ready = readyCount()
        const foldedHere = new Set<string>()
        spawned.length = 0
        const progress: Array<ProjectionRunner.Progress> = []
        const parallel = yield* ProjectionRunner.run(
          home,
          ordered,
          held(source, {
            pauseMs: 3,
            ...(holdAt === undefined ? {} : { holdAt }),
            ready,
            holdFor: every ? workers - 1 : 1,
            here: foldedHere
          }),
          {
            workers,
            worker: spawnerWith({ ready }),
            projectionRef: { _tag: "Builtin", name: "ordered" },
            checkpoint: true,
            onProgress: (p) => progress.push(p)
          }
        )
        assert.deepStrictEqual(progress[progress.length - 1], {
          files: parallel.files,
          totalFiles: parallel.files,
          bytes: parallel.bytes,
          totalBytes: parallel.bytes,
          events: parallel.events
        })
        // This thread folds a first run of the files, each worker given any a later run, in order.
        assert.strictEqual(spawned.length, files.length > 1 ? workers - 1 : 0)
        const shares = spawned.map((worker) => worker.files).filter((share) => share.length > 0)
          .sort((a, b) => files.indexOf(a[0]!) - files.indexOf(b[0]!))
        const here = files.length - shares.flat().length
        assert.isTrue(here > 0)
        assert.deepStrictEqual([...files.slice(0, here), ...shares.flat()], files)
        assert.deepStrictEqual([...foldedHere], files.slice(0, here))
        assert.isTrue(spawned.every((worker) => worker.exited))
        assert.deepStrictEqual(parallel.state, sequential.state)
        assert.deepStrictEqual(
          [parallel.bytes, parallel.events, parallel.files],
          [sequential.bytes, sequential.events, sequential.files]
        )
        // The checkpoint the parallel fold leaves resumes like any other.
        const resumed = yield* ProjectionRunner.run(home, ordered, source)
        assert.isTrue(resumed.fromCheckpoint)
        assert.strictEqual(resumed.bytes, 0)
        assert.deepStrictEqual(resumed.state, parallel.state)
      })),
    { timeout: 120_000, fastCheck: { numRuns: 5 } }
  )

  it.effect(
    "workers that start late fold shares of what is left when they are ready; this thread, more than an equal share",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const home = yield* tempHome
        makeProjects(home)
        const lines = evenLines(home, 12, 2)
        appendBytes(lines, 0, totalBytes(lines))
        const source = all(home)
        const files = (yield* source.files).map((file) => file.path)
        const sequential = yield* ProjectionRunner.run(home, ordered, source, { checkpoint: false })
        for (const workers of [2, 3]) {
          // The workers are ready only once this thread has reached the third file.
          const ready = readyCount()
          const foldedHere = new Set<string>()
          spawned.length = 0
          const parallel = yield* ProjectionRunner.run(
            home,
            ordered,
            held(source, { pauseMs: 3, holdAt: files[2]!, ready, holdFor: workers - 1, here: foldedHere }),
            {
              workers,
              worker: spawnerWith({ ready }),
              projectionRef: { _tag: "Builtin", name: "ordered" },
              checkpoint: false
            }
          )
          // An equal share would be 12 / workers files: the workers split the nine or so left with this thread.
          const shares = spawned.map((worker) => worker.files).sort((a, b) =>
            files.indexOf(a[0]!) - files.indexOf(b[0]!)
          )
          assert.strictEqual(shares.length, workers - 1)
          const here = files.length - shares.flat().length
          assert.isTrue(
            shares.every((share) => share.length > 0) && here > files.length / workers,
            `this thread folded ${here} files, the workers ${shares.map((share) => share.length)}`
          )
          assert.deepStrictEqual([...files.slice(0, here), ...shares.flat()], files)
          assert.deepStrictEqual([...foldedHere], files.slice(0, here))
          assert.isTrue(spawned.every((worker) => worker.exited))
          assert.deepStrictEqual(parallel.state, sequential.state)
          assert.deepStrictEqual(
            [parallel.bytes, parallel.events, parallel.files],
            [sequential.bytes, sequential.events, sequential.files]
          )
        }
      })),
    60_000
  )

  it.effect(
    "workers not ready when this thread has folded every file get nothing and are terminated",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const home = yield* tempHome
        makeProjects(home)
        const lines = evenLines(home, 4, 2)
        appendBytes(lines, 0, totalBytes(lines))
        const source = all(home)
        const sequential = yield* ProjectionRunner.run(home, ordered, source, { checkpoint: false })
        const foldedHere = new Set<string>()
        spawned.length = 0
        const parallel = yield* ProjectionRunner.run(home, ordered, held(source, { pauseMs: 0, here: foldedHere }), {
          workers: 3,
          worker: spawnerWith({ startAfterMs: 60_000 }),
          projectionRef: { _tag: "Builtin", name: "ordered" },
          checkpoint: false
        })
        assert.deepStrictEqual(spawned, [{ files: [], exited: true }, { files: [], exited: true }])
        assert.deepStrictEqual([...foldedHere], (yield* source.files).map((file) => file.path))
        assert.deepStrictEqual(parallel.state, sequential.state)
        assert.deepStrictEqual([parallel.bytes, parallel.events], [sequential.bytes, sequential.events])
      })),
    20_000
  )

  it.effect(
    "a worker ready when less than minParallelBytes is left to read gets nothing",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const home = yield* tempHome
        makeProjects(home)
        const lines = evenLines(home, 10, 2)
        appendBytes(lines, 0, totalBytes(lines))
        const source = all(home)
        const files = (yield* source.files).map((file) => file.path)
        const sequential = yield* ProjectionRunner.run(home, ordered, source, { checkpoint: false })
        const ready = readyCount()
        const foldedHere = new Set<string>()
        spawned.length = 0
        // Enough is left to share until this thread is at the third file, where it waits for the
        // worker; once past it, less.
        const fromThird = files.slice(2).reduce((n, file) => n + fs.statSync(file).size, 0)
        const parallel = yield* ProjectionRunner.run(
          home,
          ordered,
          held(source, { pauseMs: 3, holdAt: files[2]!, ready, here: foldedHere }),
          {
            workers: 2,
            minParallelBytes: fromThird - fs.statSync(files[2]!).size / 2,
            worker: spawnerWith({ ready }),
            projectionRef: { _tag: "Builtin", name: "ordered" },
            checkpoint: false
          }
        )
        assert.deepStrictEqual(spawned, [{ files: [], exited: true }])
        assert.deepStrictEqual([...foldedHere], files)
        assert.deepStrictEqual(parallel.state, sequential.state)
      })),
    60_000
  )

  it.effect(
    "interrupting a parallel fold terminates its workers",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const home = yield* tempHome
        makeProjects(home)
        const lines = evenLines(home, 10, 5)
        appendBytes(lines, 0, totalBytes(lines))
        spawned.length = 0
        const folding = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(
          ProjectionRunner.run(home, ordered, held(all(home), { pauseMs: 3 }), {
            workers: 3,
            worker: spawnerWith({ startAfterMs: 60_000 }),
            projectionRef: { _tag: "Builtin", name: "ordered" },
            checkpoint: false,
            onProgress: () => Deferred.unsafeDone(folding, Exit.void)
          })
        )
        yield* Deferred.await(folding)
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        assert.deepStrictEqual(spawned, [{ files: [], exited: true }, { files: [], exited: true }])
      })),
    20_000
  )

  it.effect.prop(
    "changes: everything of the tags asked for, then only what was appended since the cursor; a rewritten file starts over",
    [log, fc.nat()],
    ([entries, at]) =>
      Effect.scoped(Effect.gen(function*() {
        const home = yield* tempHome
        makeProjects(home)
        const lines = linesOf(home, entries)
        const total = totalBytes(lines)
        const cut = at % (total + 1)
        appendBytes(lines, 0, cut)
        const source = all(home)
        const asked = ["UserMessageReceived", "ToolCallCompleted"] as const
        const first = yield* ProjectionRunner.changes(source, asked, undefined)
        assert.isFalse(first.rebuilt)
        appendBytes(lines, cut, total - cut)
        const second = yield* ProjectionRunner.changes(source, asked, JSON.parse(JSON.stringify(first.cursor)))
        assert.isFalse(second.rebuilt)
        const everything = yield* ProjectionRunner.changes(source, asked, undefined)
        // Per session, the two calls together are everything, in order, each event once.
        const bySession = (envelopes: ReadonlyArray<Envelope>) => {
          const out = new Map<string, Array<number>>()
          for (const e of envelopes) out.set(e.sessionId, [...(out.get(e.sessionId) ?? []), e.seq])
          return [...out.entries()].sort()
        }
        assert.deepStrictEqual(bySession([...first.envelopes, ...second.envelopes]), bySession(everything.envelopes))
        assert.strictEqual(
          everything.envelopes.length,
          entries.filter((e) => e.kind === "said" || e.kind === "tool").length
        )
        const nothing = yield* ProjectionRunner.changes(source, asked, second.cursor)
        assert.deepStrictEqual([nothing.envelopes.length, nothing.rebuilt], [0, false])
        // A cursor that does not fit the files: everything again, said so.
        fs.writeFileSync(lines[0]!.file, "")
        assert.isTrue((yield* ProjectionRunner.changes(source, asked, second.cursor)).rebuilt)
        assert.isTrue((yield* ProjectionRunner.changes(source, asked, { not: "a cursor" })).rebuilt)
      })),
    { fastCheck: { numRuns: 15 } }
  )

  it.effect(
    "a fold with less to read than minParallelBytes stays on one thread, with or without workers",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const home = yield* tempHome
        makeProjects(home)
        const lines = linesOf(home, [
          { project: 0, session: 0, kind: "said", text: "one" },
          { project: 1, session: 1, kind: "said", text: "two" }
        ])
        appendBytes(lines, 0, totalBytes(lines))
        spawned.length = 0
        const small = yield* runAll(home, { ...twoWorkers, minParallelBytes: totalBytes(lines) + 1 })
        assert.strictEqual(spawned.length, 0)
        const large = yield* runAll(home, { ...twoWorkers, minParallelBytes: totalBytes(lines) })
        assert.strictEqual(small.events, 2)
        assert.strictEqual(spawned.length, 1)
        assert.deepStrictEqual(small.state, large.state)
      })),
    60_000
  )

  it.effect(
    "a worker's failure is a ProjectionError naming the file and line; so is this thread's, and the workers end",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const home = yield* tempHome
        makeProjects(home)
        const lines = evenLines(home, 4, 1)
        appendBytes(lines, 0, totalBytes(lines))
        const source = all(home)
        const files = (yield* source.files).map((file) => file.path)
        const run = () => {
          // The worker is ready while this thread folds the first file: it is given the last, or the last two.
          const ready = readyCount()
          return Effect.flip(
            ProjectionRunner.run(home, summing, held(source, { pauseMs: 3, holdAt: files[0]!, ready }), {
              ...twoWorkers,
              worker: spawnerWith({ ready })
            })
          )
        }
        fs.appendFileSync(files[3]!, "garbage\n" + lines[3]!.text)
        spawned.length = 0
        const inWorker = yield* run()
        assert.include(spawned[0]!.files, files[3])
        assert.deepStrictEqual([inWorker.path, inWorker.line], [files[3], 2])
        assert.isTrue(spawned[0]!.exited)

        // This thread's own second file, while the worker folds the last ones.
        fs.writeFileSync(files[3]!, lines[3]!.text)
        fs.appendFileSync(files[1]!, "garbage\n" + lines[1]!.text)
        spawned.length = 0
        const here = yield* run()
        assert.notInclude(spawned[0]!.files, files[1])
        assert.deepStrictEqual([here.path, here.line], [files[1], 2])
        assert.isTrue(spawned[0]!.exited)
      })),
    60_000
  )

  it.effect("follow emits the state as sessions grow and new ones appear, and stops when interrupted", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      makeProjects(home)
      const lines = linesOf(home, [
        { project: 0, session: 0, kind: "said", text: "one" },
        { project: 0, session: 0, kind: "said", text: "two" },
        { project: 0, session: 0, kind: "turn", text: "" },
        { project: 1, session: 2, kind: "tool", text: "three" }
      ])
      appendBytes(lines.slice(0, 1), 0, totalBytes(lines.slice(0, 1)))
      const results = yield* Queue.unbounded<Result<Sums>>()
      const fiber = yield* ProjectionRunner.follow(home, summing, all(home), { interval: "20 millis" }).pipe(
        Stream.runForEach((result) => Queue.offer(results, result)),
        Effect.fork
      )
      const next = Queue.take(results).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => "no state" }))
      assert.deepStrictEqual((yield* next).state.bySession, { "s-0-0": [1] })

      fs.appendFileSync(lines[1]!.file, lines[1]!.text)
      assert.deepStrictEqual((yield* next).state.bySession, { "s-0-0": [1, 2] })

      // An unhandled event changes nothing: no state is emitted for it.
      fs.appendFileSync(lines[2]!.file, lines[2]!.text)
      fs.appendFileSync(lines[3]!.file, lines[3]!.text.slice(0, 10))
      yield* Effect.sleep("100 millis")
      assert.strictEqual(yield* Queue.size(results), 0)

      // A new session, completed.
      fs.appendFileSync(lines[3]!.file, lines[3]!.text.slice(10))
      const last = yield* next
      assert.deepStrictEqual(last.state.bySession, { "s-0-0": [1, 2], "s-1-2": [1] })
      assert.strictEqual(last.files, 2)
      assert.isTrue(last.fromCheckpoint)

      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      fs.appendFileSync(lines[0]!.file, lines[1]!.text)
      yield* Effect.sleep("100 millis")
      assert.strictEqual(yield* Queue.size(results), 0)
      // What it folded was checkpointed.
      const resumed = yield* runAll(home)
      assert.isTrue(resumed.fromCheckpoint)
      assert.strictEqual(resumed.events, 1)
    })))

  it.effect("progress is reported, and at the end covers every file and byte", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      makeProjects(home)
      const lines = linesOf(
        home,
        Array.from({ length: 30 }, (_, i) => ({
          project: (i % 2) as 0 | 1,
          session: (i % 3) as 0 | 1 | 2,
          kind: "said" as const,
          text: "x".repeat(i)
        }))
      )
      appendBytes(lines, 0, totalBytes(lines))
      const seen: Array<ProjectionRunner.Progress> = []
      const result = yield* runAll(home, { onProgress: (progress) => seen.push(progress) })
      const last = seen[seen.length - 1]!
      assert.deepStrictEqual(last, {
        files: 6,
        totalFiles: 6,
        bytes: totalBytes(lines),
        totalBytes: totalBytes(lines),
        events: 30
      })
      assert.strictEqual(result.bytes, last.bytes)
    })))

  it.effect("sources: Session, Project and All select the right files, in a stable order", () =>
    Effect.scoped(Effect.gen(function*() {
      const home = yield* tempHome
      makeProjects(home)
      const lines = linesOf(home, [
        { project: 1, session: 1, kind: "said", text: "" },
        { project: 0, session: 2, kind: "said", text: "" },
        { project: 0, session: 0, kind: "said", text: "" },
        { project: 1, session: 0, kind: "said", text: "" }
      ])
      appendBytes(lines, 0, totalBytes(lines))
      // Not sessions: a torn tail kept aside, a folder without project.json.
      fs.writeFileSync(sessionFile(home, 0, "s-0-0") + ".torn-1", "{")
      fs.mkdirSync(path.join(home, "projects", "-stray"))
      fs.writeFileSync(path.join(home, "projects", "-stray", "x.jsonl"), "")
      // Two paths that encode alike: the second lives in `<encoding>~2`.
      const twin = "/work alpha"
      const twinDir = path.join(home, "projects", `${encodeProjectPath(twin)}~2`)
      fs.mkdirSync(twinDir)
      fs.writeFileSync(path.join(twinDir, "project.json"), JSON.stringify({ path: twin }))
      fs.writeFileSync(path.join(twinDir, "t-1.jsonl"), "")

      const filesOf = (selection: ProjectionRunner.Selection) =>
        Effect.map(
          ProjectionRunner.weftSource(home, selection).files,
          (files) => files.map((file) => `${file.project}:${file.sessionId}`)
        )
      assert.deepStrictEqual(yield* filesOf({ _tag: "All" }), [
        "/work/alpha:s-0-0",
        "/work/alpha:s-0-2",
        "/work alpha:t-1",
        "/work/beta:s-1-0",
        "/work/beta:s-1-1"
      ])
      assert.deepStrictEqual(yield* filesOf({ _tag: "Project", project: "/work/beta" }), [
        "/work/beta:s-1-0",
        "/work/beta:s-1-1"
      ])
      assert.deepStrictEqual(yield* filesOf({ _tag: "Project", project: twin }), ["/work alpha:t-1"])
      assert.deepStrictEqual(yield* filesOf({ _tag: "Project", project: "/elsewhere" }), [])
      assert.deepStrictEqual(yield* filesOf({ _tag: "Session", sessionId: "s-0-2" }), ["/work/alpha:s-0-2"])
      const missing = yield* Effect.flip(filesOf({ _tag: "Session", sessionId: "nope" }))
      assert.include(missing.message, "no session nope")
      const outside = yield* Effect.flip(filesOf({ _tag: "Session", sessionId: "../-work-beta/s-1-0" }))
      assert.include(outside.message, "no session")

      // Keys name checkpoint files: safe characters only, distinct per source.
      const keys = [
        { _tag: "All" } as const,
        { _tag: "Project", project: "/work/alpha" } as const,
        { _tag: "Project", project: twin } as const,
        { _tag: "Session", sessionId: "s-0-2" } as const
      ].map((selection) => ProjectionRunner.weftSource(home, selection).key)
      for (const key of keys) assert.match(key, /^[a-zA-Z0-9._-]+$/)
      assert.strictEqual(new Set(keys).size, keys.length)
      assert.strictEqual(keys[0], "all")
      assert.strictEqual(keys[3], "session-s-0-2")

      // The project's run folds only the project's files.
      const beta = yield* ProjectionRunner.run(
        home,
        summing,
        ProjectionRunner.weftSource(home, { _tag: "Project", project: "/work/beta" })
      )
      assert.deepStrictEqual(Object.keys(beta.state.bySession).sort(), ["s-1-0", "s-1-1"])
    })))
})
