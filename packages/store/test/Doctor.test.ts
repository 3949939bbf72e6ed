import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { EventLog } from "@weft/kernel/EventLog"
import * as Ids from "@weft/kernel/Ids"
import { said, started } from "@weft/kernel/testing/EventLogContract"
import { Chunk, Deferred, Effect, Fiber, Layer, Option, Stream } from "effect"
import * as os from "node:os"
import * as Doctor from "../src/Doctor.js"
import { layerJsonl } from "../src/JsonlEventLog.js"
import type { Owner } from "../src/SessionLock.js"
import { readLock } from "../src/SessionLock.js"

const tempHome = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "weft-doctor-" }))

const withLog = <A, E>(home: string, effect: Effect.Effect<A, E, EventLog>) =>
  Effect.provide(
    effect,
    layerJsonl({ home, durability: "none" }).pipe(Layer.provide(Layer.mergeAll(NodeContext.layer, Ids.layer)))
  )

const write = (home: string, sessionId: string, texts: ReadonlyArray<string>, project = "/p") =>
  withLog(home, EventLog.pipe(Effect.flatMap((log) => log.append(sessionId, [started(project), ...texts.map(said)]))))

const readAll = (home: string, sessionId: string) =>
  withLog(home, EventLog.pipe(Effect.flatMap((log) => Stream.runCollect(log.read(sessionId))))).pipe(
    Effect.map(Chunk.toReadonlyArray)
  )

const folderOf = (home: string, project = "/p") =>
  Effect.map(Path.Path, (path) => path.join(home, "projects", project.replace(/[^a-zA-Z0-9]/g, "-")))

/** An owner on this host that sees `dead` pids as gone and every other pid as alive. */
const ownerSeeing = (dead: ReadonlyArray<number>): Owner => ({
  pid: process.pid,
  hostname: os.hostname(),
  isAlive: (pid) => !dead.includes(pid)
})

const DEAD = 999_999_999
const lockText = (pid: number, hostname = os.hostname()) =>
  JSON.stringify({ pid, hostname, startedAt: "2026-01-01T00:00:00.000Z" })

const doctor = (home: string, repair = false) => Doctor.run({ home, repair, owner: ownerSeeing([DEAD]) })

const sessionOf = (report: Doctor.Report, sessionId: string) => {
  const session = report.folders.flatMap((f) => f.sessions).find((s) => s.sessionId === sessionId)
  assert.isDefined(session, `no report for ${sessionId}`)
  return session!
}

const tags = (session: Doctor.SessionReport) => session.findings.map((f) => `${f._tag}:${f.status}`)

describe("Doctor", () => {
  it.scoped("a healthy home reports every session with its event count and no findings", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      yield* write(home, "a", ["one", "two"])
      yield* write(home, "b", [], "/q")
      const report = yield* doctor(home)
      assert.isTrue(Doctor.isHealthy(report))
      assert.deepStrictEqual(report.folders.map((f) => f.project), ["/p", "/q"])
      assert.deepStrictEqual(sessionOf(report, "a").events, 3)
      assert.deepStrictEqual(sessionOf(report, "a").project, "/p")
      assert.deepStrictEqual(Doctor.findings(report), [])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a missing WEFT_HOME is healthy and empty", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const report = yield* doctor(`${home}/nothing-here`)
      assert.deepStrictEqual(report.folders, [])
      assert.isTrue(Doctor.isHealthy(report))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a torn tail is a problem naming its line and size; repair moves exactly those bytes aside", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* write(home, "s", ["one"])
      const dir = yield* folderOf(home)
      const file = `${dir}/s.jsonl`
      const clean = yield* fs.readFile(file)
      const torn = `{"seq":3,"id":"x","par`
      yield* fs.writeFileString(file, torn, { flag: "a" })

      const found = sessionOf(yield* doctor(home), "s")
      assert.deepStrictEqual(tags(found), ["TornTail:problem"])
      const finding = found.findings[0]!
      assert.strictEqual(finding._tag === "TornTail" && finding.line, 3)
      assert.strictEqual(finding._tag === "TornTail" && finding.bytes, torn.length)
      assert.deepStrictEqual(yield* fs.readFile(file), new Uint8Array([...clean, ...new TextEncoder().encode(torn)]))

      const repaired = yield* doctor(home, true)
      const after = sessionOf(repaired, "s")
      assert.deepStrictEqual(tags(after), ["TornTail:repaired"])
      assert.strictEqual(after.findings[0]!._tag === "TornTail" && after.findings[0]!.aside, `${file}.torn-1`)
      assert.isTrue(Doctor.isHealthy(repaired))
      assert.deepStrictEqual(yield* fs.readFile(file), clean)
      assert.strictEqual(yield* fs.readFileString(`${file}.torn-1`), torn)
      assert.isFalse(yield* fs.exists(`${dir}/s.lock`), "repair releases the lock it took")

      const next = yield* doctor(home)
      assert.deepStrictEqual(tags(sessionOf(next, "s")), ["TornAside:info"])
      assert.isTrue(Doctor.isHealthy(next), "bytes kept aside are information, not a problem")
      assert.deepStrictEqual((yield* readAll(home, "s")).map((e) => e.seq), [1, 2])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("repair cuts a torn tail only while it holds the session's lock, and lets go of it after", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* write(home, "s", ["one"])
      const dir = yield* folderOf(home)
      yield* fs.writeFileString(`${dir}/s.jsonl`, "torn", { flag: "a" })
      // Who holds s.lock each time the session file is opened for cutting.
      const holders: Array<number | null> = []
      const watching = Layer.effect(
        FileSystem.FileSystem,
        Effect.map(FileSystem.FileSystem, (real) =>
          ({
            ...real,
            open: (path, options) =>
              (path.endsWith("s.jsonl") && options?.flag === "r+"
                ? readLock(path.replace(/\.jsonl$/, ".lock")).pipe(
                  Effect.map((lock) => holders.push(Option.match(lock, { onNone: () => null, onSome: (l) => l.pid }))),
                  Effect.provideService(FileSystem.FileSystem, real)
                )
                : Effect.void).pipe(Effect.zipRight(real.open(path, options)))
          }) satisfies FileSystem.FileSystem)
      ).pipe(Layer.provide(NodeFileSystem.layer))

      const report = yield* doctor(home, true).pipe(Effect.provide(watching))
      assert.deepStrictEqual(tags(sessionOf(report, "s")), ["TornTail:repaired"])
      assert.deepStrictEqual(holders, [process.pid])
      assert.isFalse(yield* fs.exists(`${dir}/s.lock`))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a second repair keeps the new torn bytes in a new file, never overwriting the first", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* write(home, "s", [])
      const file = `${yield* folderOf(home)}/s.jsonl`
      for (const n of [1, 2]) {
        yield* fs.writeFileString(file, `torn ${n}`, { flag: "a" })
        yield* doctor(home, true)
      }
      assert.strictEqual(yield* fs.readFileString(`${file}.torn-1`), "torn 1")
      assert.strictEqual(yield* fs.readFileString(`${file}.torn-2`), "torn 2")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a bad middle line and a seq gap are problems with their lines (the gap a bad line leaves is not reported twice); repair leaves the bytes alone", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* write(home, "s", ["a", "b", "c", "d"])
      const file = `${yield* folderOf(home)}/s.jsonl`
      const lines = (yield* fs.readFileString(file)).split("\n")
      lines[1] = "not json"
      lines.splice(3, 1) // drops seq 4: line 4 now holds seq 5
      const corrupted = lines.join("\n")
      yield* fs.writeFileString(file, corrupted)

      const report = yield* doctor(home, true)
      const session = sessionOf(report, "s")
      assert.deepStrictEqual(tags(session), ["BadLine:problem", "SeqGap:problem"])
      const [bad, gap] = session.findings
      assert.strictEqual(bad!._tag === "BadLine" && bad!.line, 2)
      assert.deepStrictEqual(
        gap!._tag === "SeqGap" && { line: gap!.line, expected: gap!.expected, found: gap!.found },
        { line: 4, expected: 4, found: 5 }
      )
      assert.isFalse(Doctor.isHealthy(report))
      assert.strictEqual(yield* fs.readFileString(file), corrupted)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("two bad lines at the end are not a torn append: reported, never cut", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* write(home, "s", ["a"])
      const file = `${yield* folderOf(home)}/s.jsonl`
      yield* fs.writeFileString(file, "bad one\nbad two\n", { flag: "a" })
      const before = yield* fs.readFileString(file)
      const session = sessionOf(yield* doctor(home, true), "s")
      assert.deepStrictEqual(tags(session), ["BadLine:problem", "TornTail:problem"])
      const torn = session.findings[1]!
      assert.include(torn._tag === "TornTail" ? torn.unrepaired : "", "does not decode")
      assert.strictEqual(yield* fs.readFileString(file), before)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a stale lock is a problem; repair removes it, also when its session file does not exist", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* write(home, "s", [])
      const dir = yield* folderOf(home)
      yield* fs.writeFileString(`${dir}/s.lock`, lockText(DEAD))
      yield* fs.writeFileString(`${dir}/gone.lock`, "garbage")

      const report = yield* doctor(home)
      assert.deepStrictEqual(tags(sessionOf(report, "s")), ["Lock:problem"])
      const lock = sessionOf(report, "s").findings[0]!
      assert.strictEqual(lock._tag === "Lock" && lock.holder?.pid, DEAD)
      const orphan = sessionOf(report, "gone")
      assert.isFalse(orphan.exists)
      assert.deepStrictEqual(tags(orphan), ["Lock:problem"])

      const repaired = yield* doctor(home, true)
      assert.deepStrictEqual(tags(sessionOf(repaired, "s")), ["Lock:repaired"])
      assert.deepStrictEqual(tags(sessionOf(repaired, "gone")), ["Lock:repaired"])
      assert.isFalse(yield* fs.exists(`${dir}/s.lock`))
      assert.isFalse(yield* fs.exists(`${dir}/gone.lock`))
      assert.deepStrictEqual((yield* doctor(home)).folders[0]!.sessions.map((s) => s.sessionId), ["s"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a live lock is reported with its holder; its session's torn tail is left alone, lock and bytes", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* write(home, "s", [])
      const dir = yield* folderOf(home)
      yield* fs.writeFileString(`${dir}/s.lock`, lockText(4242))
      yield* fs.writeFileString(`${dir}/s.jsonl`, "torn", { flag: "a" })
      const before = yield* fs.readFileString(`${dir}/s.jsonl`)

      const session = sessionOf(yield* doctor(home, true), "s")
      assert.deepStrictEqual(tags(session), ["TornTail:problem", "Lock:info"])
      const [torn, lock] = session.findings
      assert.include(torn!._tag === "TornTail" ? torn!.unrepaired : "", "pid 4242")
      assert.strictEqual(lock!._tag === "Lock" && lock!.state, "live")
      assert.strictEqual(yield* fs.readFileString(`${dir}/s.jsonl`), before)
      assert.strictEqual(yield* fs.readFileString(`${dir}/s.lock`), lockText(4242))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a lock from another host is live whatever its pid: never removed", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* write(home, "s", [])
      const dir = yield* folderOf(home)
      yield* fs.writeFileString(`${dir}/s.lock`, lockText(DEAD, "elsewhere"))
      const report = yield* doctor(home, true)
      assert.deepStrictEqual(tags(sessionOf(report, "s")), ["Lock:info"])
      assert.isTrue(yield* fs.exists(`${dir}/s.lock`))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("repair takes the session lock: a writer in this process keeps its session, torn bytes and all", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      const dir = yield* folderOf(home)
      const writing = yield* Deferred.make<void>()
      const done = yield* Deferred.make<void>()
      const writer = yield* withLog(
        home,
        EventLog.pipe(
          Effect.flatMap((log) => log.append("s", [started("/p")])),
          Effect.zipRight(Deferred.succeed(writing, undefined)),
          Effect.zipRight(Deferred.await(done))
        )
      ).pipe(Effect.fork)
      yield* Deferred.await(writing)
      yield* fs.writeFileString(`${dir}/s.jsonl`, `{"seq":2,`, { flag: "a" })
      const before = yield* fs.readFileString(`${dir}/s.jsonl`)
      // The default owner is this process, the one holding the lock.
      const report = yield* Doctor.run({ home, repair: true })
      assert.deepStrictEqual(tags(sessionOf(report, "s")), ["TornTail:problem", "Lock:info"])
      assert.strictEqual(yield* fs.readFileString(`${dir}/s.jsonl`), before)
      assert.isTrue(yield* fs.exists(`${dir}/s.lock`))
      yield* Deferred.succeed(done, undefined)
      yield* Fiber.join(writer)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a missing project.json hides sessions: a problem, restored from the sessions' SessionStarted", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* write(home, "s", [], "/my/project")
      const dir = yield* folderOf(home, "/my/project")
      yield* fs.remove(`${dir}/project.json`)

      const report = yield* doctor(home)
      assert.deepStrictEqual(report.folders[0]!.findings.map((f) => `${f._tag}:${f.status}`), ["ProjectFile:problem"])
      const finding = report.folders[0]!.findings[0]!
      assert.deepStrictEqual(finding._tag === "ProjectFile" && finding.named, ["/my/project"])

      const repaired = yield* doctor(home, true)
      assert.deepStrictEqual(repaired.folders[0]!.findings.map((f) => f.status), ["repaired"])
      assert.deepStrictEqual(JSON.parse(yield* fs.readFileString(`${dir}/project.json`)), { path: "/my/project" })
      const listed = yield* withLog(home, EventLog.pipe(Effect.flatMap((log) => log.sessions("/my/project"))))
      assert.deepStrictEqual(listed.map((s) => s.sessionId), ["s"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("an unreadable project.json is a problem that repair never overwrites", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* write(home, "s", [])
      const dir = yield* folderOf(home)
      yield* fs.writeFileString(`${dir}/project.json`, "{oops")
      const report = yield* doctor(home, true)
      const finding = report.folders[0]!.findings[0]!
      assert.strictEqual(finding.status, "problem")
      assert.include(finding._tag === "ProjectFile" ? finding.reason : "", "does not decode")
      assert.strictEqual(yield* fs.readFileString(`${dir}/project.json`), "{oops")
    }).pipe(Effect.provide(NodeContext.layer)))
})
