/**
 * The contract every `EventLog` adapter passes: the in-memory layer, the JSONL layer, and
 * any adapter a user writes (a PostgreSQL store, say). Call it from a test file with a
 * layer that builds a fresh, empty log each time it is provided.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream, TestClock } from "effect"
import type { Layer } from "effect"
import * as fc from "fast-check"
import { draft } from "../Envelope.js"
import { EventLog } from "../EventLog.js"
import { SessionEnded, SessionStarted, UnknownEvent, UserMessageReceived } from "../Events.js"
import type { AnyEvent } from "../Events.js"

export const started = (project: string) =>
  new SessionStarted({
    project,
    cwd: project,
    model: "claude-sonnet-4-5",
    settings: {},
    sources: [],
    maxDepth: 3,
    budgetTokens: null
  })

export const said = (text: string) => new UserMessageReceived({ content: [{ type: "text", text }] })

const readAll = (sessionId: string, fromSeq?: number) =>
  EventLog.pipe(
    Effect.flatMap((log) => Stream.runCollect(log.read(sessionId, fromSeq === undefined ? undefined : { fromSeq }))),
    Effect.map(Chunk.toReadonlyArray)
  )

export const eventLogContract = <E>(name: string, layer: Layer.Layer<EventLog, E>) =>
  describe(`EventLog contract: ${name}`, () => {
    const run = <A, E2>(effect: Effect.Effect<A, E2, EventLog>) => Effect.provide(effect, layer)

    it.effect("append assigns gapless seqs from 1 across appends and read returns them in order", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog
        const first = yield* log.append("s1", [started("/p"), said("a")])
        const second = yield* log.append("s1", [said("b"), said("c")])
        assert.deepStrictEqual([...first, ...second].map((e) => e.seq), [1, 2, 3, 4])
        const all = yield* readAll("s1")
        assert.deepStrictEqual(all.map((e) => e.seq), [1, 2, 3, 4])
        assert.deepStrictEqual(all, [...first, ...second])
        assert.strictEqual(new Set(all.map((e) => e.id)).size, 4)
        assert.isTrue(all.every((e) => e.sessionId === "s1"))
      })))

    it.effect("read from a seq starts there", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog
        yield* log.append("s1", [started("/p"), said("a"), said("b"), said("c")])
        assert.deepStrictEqual((yield* readAll("s1", 3)).map((e) => e.seq), [3, 4])
        assert.deepStrictEqual(yield* readAll("s1", 9), [])
      })))

    it.effect("a new session must begin with SessionStarted; an unknown one cannot be read", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog
        const refused = yield* Effect.flip(log.append("nope", [said("hi")]))
        assert.strictEqual(refused._tag, "SessionNotFoundError")
        const missing = yield* Effect.flip(readAll("nope"))
        assert.strictEqual(missing._tag, "SessionNotFoundError")
        assert.deepStrictEqual(yield* log.sessions("/p"), [])
      })))

    it.effect("session ids and agent ids that could escape their file or tree are refused", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog
        const badId = yield* Effect.flip(log.append("../evil", [started("/p")]))
        assert.strictEqual(badId._tag, "InvalidEventError")
        const badAgent = yield* Effect.flip(log.append("s1", [draft(started("/p"), { agentId: "main/../x" })]))
        assert.strictEqual(badAgent._tag, "InvalidEventError")
      })))

    it.effect("sessions lists a project's sessions by their real path, or all of them", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog
        yield* log.append("a2", [started("/work/one")])
        yield* log.append("a1", [started("/work/one")])
        yield* log.append("b1", [started("/work-one")]) // encodes like /work/one
        assert.deepStrictEqual(yield* log.sessions("/work/one"), [
          { sessionId: "a1", project: "/work/one" },
          { sessionId: "a2", project: "/work/one" }
        ])
        assert.deepStrictEqual(yield* log.sessions("/work-one"), [{ sessionId: "b1", project: "/work-one" }])
        assert.deepStrictEqual((yield* log.sessions()).map((s) => s.sessionId), ["a1", "a2", "b1"])
      })))

    it.effect("envelopes carry the agent, the causal parent and the Clock's time", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog
        yield* TestClock.adjust("36 hours")
        const [start] = yield* log.append("s1", [started("/p")])
        const [child] = yield* log.append("s1", [draft(said("x"), { agentId: "main/2", parentId: start!.id })])
        assert.strictEqual(start!.at, "1970-01-02T12:00:00.000Z")
        assert.strictEqual(start!.agentId, "main")
        assert.strictEqual(start!.parentId, null)
        assert.strictEqual(child!.agentId, "main/2")
        assert.strictEqual(child!.parentId, start!.id)
        assert.deepStrictEqual(yield* readAll("s1"), [start, child])
      })))

    it.effect("an event from a newer weft is kept with its content intact", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog
        const raw = { _tag: "FutureThing", v: 3, nested: { a: [1, "two", null] } }
        yield* log.append("s1", [started("/p"), new UnknownEvent({ raw })])
        const [, unknown] = yield* readAll("s1")
        assert.instanceOf(unknown!.event, UnknownEvent)
        assert.deepStrictEqual((unknown!.event as UnknownEvent).raw, raw)
      })))

    it.effect("N fibers appending concurrently leave every event exactly once, each batch contiguous", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog
        yield* log.append("s1", [started("/p")])
        const fibers = 16
        const batches = 8
        yield* Effect.forEach(
          Array.from({ length: fibers }, (_, f) => f),
          (f) =>
            Effect.forEach(
              Array.from({ length: batches }, (_, b) => b),
              (b) => log.append("s1", [said(`${f}.${b}.0`), said(`${f}.${b}.1`)]),
              { discard: true }
            ),
          { concurrency: "unbounded", discard: true }
        )
        const all = yield* readAll("s1")
        assert.deepStrictEqual(all.map((e) => e.seq), Array.from({ length: 1 + fibers * batches * 2 }, (_, i) => i + 1))
        const texts = all.slice(1).map((e) => ((e.event as UserMessageReceived).content[0] as { text: string }).text)
        assert.strictEqual(new Set(texts).size, fibers * batches * 2)
        for (let i = 0; i < texts.length; i += 2) {
          assert.strictEqual(texts[i]!.replace(/\.0$/, ""), texts[i + 1]!.replace(/\.1$/, ""))
        }
      })))

    it.effect("appending nothing is a no-op", () =>
      run(Effect.gen(function*() {
        const log = yield* EventLog
        assert.deepStrictEqual(yield* log.append("s1", []), [])
      })))

    it.effect.prop(
      "any events round-trip through the log unchanged",
      [fc.array(
        fc.oneof(
          fc.string().map(said),
          // What JSON can carry: -0 is written as 0, so a payload holding -0 could never read back equal.
          fc.jsonValue().map((v) =>
            new UnknownEvent({ raw: { _tag: "Later", v: 9, payload: JSON.parse(JSON.stringify(v)) } })
          ),
          fc.constantFrom(new SessionEnded({ reason: "completed" }), new SessionEnded({ reason: "interrupted" }))
        ) as fc.Arbitrary<AnyEvent>,
        { maxLength: 20 }
      )],
      ([events]) =>
        run(Effect.gen(function*() {
          const log = yield* EventLog
          const written = yield* log.append("s1", [started("/p"), ...events])
          const read = yield* readAll("s1")
          assert.deepStrictEqual(read, written)
          assert.deepStrictEqual(read.slice(1).map((e) => e.event), events)
        })),
      { fastCheck: { numRuns: 25 } }
    )
  })
