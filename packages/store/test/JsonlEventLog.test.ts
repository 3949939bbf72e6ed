import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import type { Envelope } from "@weft/kernel/Envelope"
import { lineCodec } from "@weft/kernel/EventCodec"
import { EventLog } from "@weft/kernel/EventLog"
import { UserMessageReceived } from "@weft/kernel/Events"
import * as Ids from "@weft/kernel/Ids"
import { eventLogContract, said, started } from "@weft/kernel/testing/EventLogContract"
import { Chunk, Deferred, Effect, Either, Fiber, Layer, Logger, Option, Stream } from "effect"
import * as fc from "fast-check"
import { spawnSync } from "node:child_process"
import * as os from "node:os"
import { layerJsonl } from "../src/JsonlEventLog.js"
import type { Options } from "../src/JsonlEventLog.js"
import * as InstrumentedFs from "./utils/instrumentedFs.js"

const tempHome = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "weft-test-" }))

/** A fresh JSONL log in a fresh temp WEFT_HOME, for the contract suite. */
const freshJsonl = Layer.unwrapScoped(Effect.map(tempHome, (home) => layerJsonl({ home, durability: "none" }))).pipe(
  Layer.provide(Layer.mergeAll(NodeContext.layer, Ids.layerTest))
)

eventLogContract("layerJsonl", freshJsonl)

/** Runs `effect` against a JSONL log over `home`, closing it (and releasing its locks) afterwards. */
const withLog = <A, E>(
  home: string,
  effect: Effect.Effect<A, E, EventLog>,
  options: Partial<Options> = {}
) =>
  Effect.provide(
    effect,
    layerJsonl({ home, durability: "none", ...options }).pipe(
      Layer.provide(Layer.mergeAll(NodeContext.layer, Ids.layer))
    )
  )

const readAll = (sessionId: string, lenient = false) =>
  EventLog.pipe(
    Effect.flatMap((log) => Stream.runCollect(log.read(sessionId, { lenient }))),
    Effect.map(Chunk.toReadonlyArray)
  )

const texts = (envelopes: ReadonlyArray<Envelope>) =>
  envelopes.flatMap((
    e
  ) => (e.event instanceof UserMessageReceived ? [(e.event.content[0] as { text: string }).text] : []))

const sessionFile = (home: string, project: string, sessionId: string) =>
  Effect.map(
    Path.Path,
    (path) => path.join(home, "projects", project.replace(/[^a-zA-Z0-9]/g, "-"), `${sessionId}.jsonl`)
  )

/** Collects warnings logged while `effect` runs. */
const capturingWarnings = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const result = yield* effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return [result, warnings] as const
  })

describe("JsonlEventLog", () => {
  it.scoped("stores a session as JSONL under the project's Claude Code encoded folder, next to project.json", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* withLog(
        home,
        EventLog.pipe(Effect.flatMap((log) => log.append("s1", [started("/Users/bill/My Project")])))
      )
      const dir = `${home}/projects/-Users-bill-My-Project`
      assert.deepStrictEqual(JSON.parse(yield* fs.readFileString(`${dir}/project.json`)), {
        path: "/Users/bill/My Project"
      })
      const line = (yield* fs.readFileString(`${dir}/s1.jsonl`)).split("\n")[0]!
      assert.match(line, /^\{"seq":1,"id":"[0-9a-f-]{36}","parentId":null,"sessionId":"s1","agentId":"main","at":"/)
      assert.include(line, `"event":{"_tag":"SessionStarted","v":1,`)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("the file holds exactly each envelope's encoded line, whatever the batch's size and script", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      // The writer encodes batches into a buffer it reuses: a batch larger than the buffer it keeps,
      // then small ones, multi-byte text (accents, CJK, emoji) and a lone surrogate must all come out whole.
      const batches = [
        [started("/p"), said("short")],
        [said("é".repeat(700_000)), said("x".repeat(1_500_000))],
        [said("東京都 🧵 café")],
        [said("lone \ud800 surrogate"), said("ok")]
      ]
      const appended = yield* withLog(
        home,
        EventLog.pipe(Effect.flatMap((log) => Effect.forEach(batches, (batch) => log.append("s", batch))))
      )
      const expected = appended.flat().map((e) => Either.getOrThrow(lineCodec.encode(e)) + "\n").join("")
      const file = yield* sessionFile(home, "/p", "s")
      assert.strictEqual(yield* fs.readFileString(file), expected)
      const read = yield* withLog(home, readAll("s"))
      assert.deepStrictEqual(texts(read), [
        "short",
        "é".repeat(700_000),
        "x".repeat(1_500_000),
        "東京都 🧵 café",
        "lone \ud800 surrogate",
        "ok"
      ])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("two paths that encode alike never share a folder", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* withLog(
        home,
        EventLog.pipe(Effect.flatMap((log) =>
          Effect.zipRight(log.append("a", [started("/x/y-z")]), log.append("b", [started("/x/y/z")]))
        ))
      )
      assert.isTrue(yield* fs.exists(`${home}/projects/-x-y-z/a.jsonl`))
      assert.isTrue(yield* fs.exists(`${home}/projects/-x-y-z~2/b.jsonl`))
      assert.include(yield* fs.readFileString(`${home}/projects/-x-y-z~2/project.json`), "/x/y/z")
      const listed = yield* withLog(
        home,
        EventLog.pipe(Effect.flatMap((log) =>
          log.sessions("/x/y/z")
        ))
      )
      assert.deepStrictEqual(listed, [{ sessionId: "b", project: "/x/y/z" }])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("writers creating a project's folder at once (as separate weft processes would) all succeed, and paths that encode alike still get folders of their own", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      // Each writer has its own layer, so nothing is shared but the file system.
      yield* Effect.all(
        Array.from(
          { length: 8 },
          (_, i) =>
            withLog(
              home,
              EventLog.pipe(Effect.flatMap((log) => log.append(`s${i}`, [started(i % 2 === 0 ? "/x/y-z" : "/x/y/z")])))
            )
        ),
        { concurrency: "unbounded" }
      )
      const folders = (yield* fs.readDirectory(`${home}/projects`)).sort()
      assert.deepStrictEqual(folders, ["-x-y-z", "-x-y-z~2"])
      for (const folder of folders) {
        const owner = yield* fs.readFileString(`${home}/projects/${folder}/project.json`)
        const sessions = (yield* fs.readDirectory(`${home}/projects/${folder}`)).filter((n) => n.endsWith(".jsonl"))
        assert.lengthOf(sessions, 4)
        for (const name of sessions) {
          assert.include(yield* fs.readFileString(`${home}/projects/${folder}/${name}`), JSON.parse(owner).path)
        }
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  describe("torn tails", () => {
    for (
      const [name, tail] of [
        ["an unterminated last line", `{"seq":3,"id":"x","par`],
        ["an unparsable last line", `{"seq":3,"id":"x","parentId":null,garbage}\n`],
        ["an unparsable last line followed by an unterminated one", `garbage\n{"seq":`]
      ] as const
    ) {
      it.scoped(`${name}: a reader skips it with a warning; the next writer moves it aside and continues`, () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const home = yield* tempHome
          yield* withLog(home, EventLog.pipe(Effect.flatMap((log) => log.append("s", [started("/p"), said("one")]))))
          const file = yield* sessionFile(home, "/p", "s")
          yield* fs.writeFileString(file, tail, { flag: "a" })

          const [read, warnings] = yield* capturingWarnings(withLog(home, readAll("s")))
          assert.deepStrictEqual(read.map((e) => e.seq), [1, 2])
          assert.isTrue(warnings.some((w) => w.includes("torn last line")), warnings.join("\n"))

          const [after] = yield* capturingWarnings(withLog(
            home,
            EventLog.pipe(Effect.flatMap((log) => log.append("s", [said("two")])), Effect.zipRight(readAll("s")))
          ))
          assert.deepStrictEqual(after.map((e) => e.seq), [1, 2, 3])
          assert.deepStrictEqual(texts(after), ["one", "two"])
          assert.strictEqual(yield* fs.readFileString(`${file}.torn-1`), tail)
        }).pipe(Effect.provide(NodeContext.layer)))
    }

    it.scoped("each repair keeps its torn bytes in a new file", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const home = yield* tempHome
        yield* withLog(home, EventLog.pipe(Effect.flatMap((log) => log.append("s", [started("/p")]))))
        const file = yield* sessionFile(home, "/p", "s")
        for (const n of [1, 2]) {
          yield* fs.writeFileString(file, `torn ${n}`, { flag: "a" })
          yield* withLog(home, EventLog.pipe(Effect.flatMap((log) => log.append("s", [said(`${n}`)]))))
        }
        assert.strictEqual(yield* fs.readFileString(`${file}.torn-1`), "torn 1")
        assert.strictEqual(yield* fs.readFileString(`${file}.torn-2`), "torn 2")
        assert.deepStrictEqual((yield* withLog(home, readAll("s"))).map((e) => e.seq), [1, 2, 3])
      }).pipe(Effect.provide(NodeContext.layer)))
  })

  it.scoped("a bad line in the middle is LogCorruptedError naming path and line; a lenient read skips it", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* withLog(
        home,
        EventLog.pipe(Effect.flatMap((log) => log.append("s", [started("/p"), said("a"), said("b")])))
      )
      const file = yield* sessionFile(home, "/p", "s")
      const lines = (yield* fs.readFileString(file)).split("\n")
      lines[1] = lines[1]!.replace(`"_tag":"UserMessageReceived"`, `"_tag":"UserMessageReceived","content":7,"x"`)
      yield* fs.writeFileString(file, lines.join("\n"))

      const error = yield* Effect.flip(withLog(home, readAll("s")))
      assert.strictEqual(error._tag, "LogCorruptedError")
      if (error._tag !== "LogCorruptedError") return
      assert.strictEqual(error.path, file)
      assert.strictEqual(error.line, 2)
      assert.include(error.message, `${file}:2:`)

      const [lenient, warnings] = yield* capturingWarnings(withLog(home, readAll("s", true)))
      assert.deepStrictEqual(lenient.map((e) => e.seq), [1, 3])
      assert.isTrue(warnings.some((w) => w.includes(`${file}:2`)))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a seq gap is corruption too", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* tempHome
      yield* withLog(
        home,
        EventLog.pipe(Effect.flatMap((log) => log.append("s", [started("/p"), said("a"), said("b")])))
      )
      const file = yield* sessionFile(home, "/p", "s")
      const lines = (yield* fs.readFileString(file)).split("\n")
      yield* fs.writeFileString(file, [lines[0], lines[2], ""].join("\n"))
      const error = yield* Effect.flip(withLog(home, readAll("s")))
      assert.strictEqual(error._tag, "LogCorruptedError")
      assert.include(error.message, "seq 3 where 2 was expected")
    }).pipe(Effect.provide(NodeContext.layer)))

  describe("one writer per session", () => {
    it.scoped("a second writer gets SessionLockedError naming the holder; the lock goes when the writer does", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const home = yield* tempHome
        const holder = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const first = yield* withLog(
          home,
          EventLog.pipe(
            Effect.flatMap((log) => log.append("s", [started("/p")])),
            Effect.zipRight(Deferred.succeed(holder, undefined)),
            Effect.zipRight(Deferred.await(release))
          )
        ).pipe(Effect.fork)
        yield* Deferred.await(holder)
        const lockPath = (yield* sessionFile(home, "/p", "s")).replace(/\.jsonl$/, ".lock")
        assert.isTrue(yield* fs.exists(lockPath))

        const error = yield* Effect.flip(
          withLog(home, EventLog.pipe(Effect.flatMap((log) => log.append("s", [said("x")]))))
        )
        assert.strictEqual(error._tag, "SessionLockedError")
        if (error._tag !== "SessionLockedError") return
        assert.strictEqual(error.pid, process.pid)
        assert.strictEqual(error.hostname, os.hostname())
        assert.include(error.message, `pid ${process.pid}`)

        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(first)
        assert.isFalse(yield* fs.exists(lockPath))
        yield* withLog(home, EventLog.pipe(Effect.flatMap((log) => log.append("s", [said("x")]))))
      }).pipe(Effect.provide(NodeContext.layer)))

    const deadPid = () => {
      const child = spawnSync(process.execPath, ["-e", ""])
      return child.pid!
    }

    it.scoped("a stale lock (dead pid, same host) is taken over, and the takeover is logged", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const home = yield* tempHome
        yield* withLog(home, EventLog.pipe(Effect.flatMap((log) => log.append("s", [started("/p")]))))
        const lockPath = (yield* sessionFile(home, "/p", "s")).replace(/\.jsonl$/, ".lock")
        const pid = deadPid()
        yield* fs.writeFileString(
          lockPath,
          JSON.stringify({ pid, hostname: os.hostname(), startedAt: "2026-01-01T00:00:00.000Z" })
        )
        const [, warnings] = yield* capturingWarnings(
          withLog(home, EventLog.pipe(Effect.flatMap((log) => log.append("s", [said("after")]))))
        )
        assert.isTrue(warnings.some((w) => w.includes(`stale lock`) && w.includes(`pid ${pid}`)), warnings.join("\n"))
        assert.deepStrictEqual((yield* withLog(home, readAll("s"))).map((e) => e.seq), [1, 2])
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("a lock held from another host is never taken over", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const home = yield* tempHome
        yield* withLog(home, EventLog.pipe(Effect.flatMap((log) => log.append("s", [started("/p")]))))
        const lockPath = (yield* sessionFile(home, "/p", "s")).replace(/\.jsonl$/, ".lock")
        yield* fs.writeFileString(
          lockPath,
          JSON.stringify({ pid: deadPid(), hostname: "elsewhere", startedAt: "2026-01-01T00:00:00.000Z" })
        )
        const error = yield* Effect.flip(
          withLog(home, EventLog.pipe(Effect.flatMap((log) => log.append("s", [said("x")]))))
        )
        assert.strictEqual(error._tag, "SessionLockedError")
        assert.include(error.message, "elsewhere")
      }).pipe(Effect.provide(NodeContext.layer)))
  })

  it.live("a log whose first append came from an uninterruptible region still closes", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      const closed = yield* withLog(
        home,
        EventLog.pipe(Effect.flatMap((log) => Effect.uninterruptible(log.append("s", [started("/p")]))))
      ).pipe(Effect.timeout("10 seconds"), Effect.either)
      assert.isTrue(closed._tag === "Right", "the layer did not close: its writer could not be interrupted")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  describe("group commit and durability", () => {
    const withProbe = <A, E>(
      home: string,
      probe: InstrumentedFs.Probe,
      effect: Effect.Effect<A, E, EventLog>,
      options: Partial<Options> = {}
    ) =>
      Effect.provide(
        effect,
        layerJsonl({ home, ...options }).pipe(
          Layer.provide(Layer.mergeAll(NodeContext.layer, Ids.layer, InstrumentedFs.layer(probe)))
        )
      )

    it.scoped("concurrent appends share writes and fsyncs; every append is durable when it resolves", () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const probe = InstrumentedFs.makeProbe()
        const appends = 64
        yield* withProbe(
          home,
          probe,
          Effect.gen(function*() {
            const log = yield* EventLog
            yield* log.append("s", [started("/p")])
            probe.syncs = 0
            probe.writes = 0
            yield* Effect.forEach(
              Array.from({ length: appends }, (_, i) => i),
              (i) => log.append("s", [said(`${i}`)]),
              { concurrency: "unbounded", discard: true }
            )
          })
        )
        assert.isAtLeast(probe.syncs, 1)
        assert.isBelow(probe.syncs, appends / 2, `${probe.syncs} fsyncs for ${appends} appends`)
        assert.strictEqual(probe.syncs, probe.writes)
        assert.strictEqual((yield* withLog(home, readAll("s"))).length, appends + 1)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("an append resolves only after its batch's fsync completes", () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const probe = InstrumentedFs.makeProbe()
        const syncing = yield* Deferred.make<void>()
        const gate = yield* Deferred.make<void>()
        yield* withProbe(
          home,
          probe,
          Effect.gen(function*() {
            const log = yield* EventLog
            probe.onSync = Deferred.succeed(syncing, undefined)
            probe.gate = Deferred.await(gate)
            const append = yield* Effect.fork(log.append("s", [started("/p")]))
            yield* Deferred.await(syncing)
            yield* Effect.repeatN(Effect.yieldNow(), 50)
            assert.isTrue(Option.isNone(yield* Fiber.poll(append)), "append resolved before its fsync")
            yield* Deferred.succeed(gate, undefined)
            const [envelope] = yield* Fiber.join(append)
            assert.strictEqual(envelope!.seq, 1)
          })
        )
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("durability none writes without fsync", () =>
      Effect.gen(function*() {
        const home = yield* tempHome
        const probe = InstrumentedFs.makeProbe()
        yield* withProbe(
          home,
          probe,
          EventLog.pipe(Effect.flatMap((log) => log.append("s", [started("/p"), said("a")]))),
          { durability: "none" }
        )
        assert.strictEqual(probe.syncs, 0)
        assert.strictEqual(probe.writes, 1)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.scoped("reading streams the file in chunks: taking the first events reads a chunk, not the file", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const home = yield* tempHome
        const big = "x".repeat(10_000)
        yield* withLog(
          home,
          EventLog.pipe(Effect.flatMap((log) =>
            Effect.forEach(
              Array.from({ length: 20 }, (_, i) => i),
              (i) => log.append("s", i === 0 ? [started("/p")] : Array.from({ length: 100 }, () => said(big))),
              { discard: true }
            )
          ))
        )
        const size = Number((yield* fs.stat(yield* sessionFile(home, "/p", "s"))).size)
        assert.isAbove(size, 19_000_000)
        const probe = InstrumentedFs.makeProbe()
        const first = yield* withProbe(
          home,
          probe,
          EventLog.pipe(Effect.flatMap((log) => Stream.runCollect(Stream.take(log.read("s"), 5)))),
          { chunkSize: 65536 }
        )
        assert.strictEqual(Chunk.size(first), 5)
        assert.isAbove(probe.bytesStreamed, 0)
        assert.isAtMost(probe.bytesStreamed, 4 * 65536)
      }).pipe(Effect.provide(NodeContext.layer)))
  })

  it.effect.prop(
    "after a crash at any byte, a read yields a prefix of what was acknowledged, and appends go on gapless",
    [
      fc.array(fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
      fc.double({ min: 0, max: 1, noNaN: true })
    ],
    ([batches, cut]) =>
      Effect.scoped(Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const home = yield* tempHome
        const acknowledged = yield* withLog(
          home,
          EventLog.pipe(Effect.flatMap((log) =>
            Effect.gen(function*() {
              const out: Array<Envelope> = [...yield* log.append("s", [started("/p")])]
              for (const batch of batches) out.push(...yield* log.append("s", batch.map(said)))
              return out
            })
          ))
        )
        const file = yield* sessionFile(home, "/p", "s")
        const size = Number((yield* fs.stat(file)).size)
        yield* fs.truncate(file, Math.floor(size * cut))

        const survived = yield* withLog(home, readAll("s"))
        assert.deepStrictEqual(survived, acknowledged.slice(0, survived.length))

        if (survived.length === 0) return // the SessionStarted itself was lost: there is no session to continue
        const more = yield* withLog(
          home,
          EventLog.pipe(Effect.flatMap((log) => log.append("s", [said("after")])), Effect.zipRight(readAll("s")))
        )
        assert.deepStrictEqual(more.map((e) => e.seq), Array.from({ length: survived.length + 1 }, (_, i) => i + 1))
        assert.deepStrictEqual(more.slice(0, survived.length), survived)
      })).pipe(Effect.provide(NodeContext.layer)),
    { fastCheck: { numRuns: 40 } }
  )
})
