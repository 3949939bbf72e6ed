/**
 * Long-term memory as the kernel sees it (`MemoryIndex`): built from a feed of the log, fed live
 * envelopes, saved and reopened, rebuilt — and the same answers whichever way it got there.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import type { Envelope } from "@weft/kernel/Envelope"
import { ModelResponded } from "@weft/kernel/Events"
import { MemoryIndex } from "@weft/kernel/MemoryIndex"
import { Effect, Layer, Ref, TestClock } from "effect"
import * as LongTermMemory from "../src/LongTermMemory.js"
import * as MemorySettings from "../src/MemorySettings.js"
import { DAY, forgotten, log, said, started, T0, written } from "./utils/MemoryLog.js"

const PROJECT = "/work/app"

const answered = (text: string) =>
  new ModelResponded({
    requestId: "r",
    model: "m",
    content: [{ type: "text", text }],
    stopReason: "end_turn",
    usage: { input_tokens: 1, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }
  })

const history = log([
  { event: started(PROJECT), sessionId: "s1" },
  { event: said("The webhook sender should retry five times with exponential backoff."), sessionId: "s1" },
  { event: answered("Done: retries now back off from 1 s to 16 s, five attempts."), sessionId: "s1" },
  { event: started(PROJECT), sessionId: "s2" },
  { event: said("I prefer tabs over spaces."), sessionId: "s2" },
  {
    event: written("m1", "Our staging server is staging.acme.dev", { scope: "project", project: PROJECT }),
    sessionId: "s2"
  },
  {
    event: written("m2", "Deploy freeze until Monday", {
      scope: "project",
      project: PROJECT,
      expiresAt: new Date(T0 + 2 * DAY).toISOString()
    }),
    sessionId: "s2"
  },
  { event: started("/other"), sessionId: "s3" },
  { event: said("Kafka consumers lag behind on the billing topic."), sessionId: "s3" }
])

/** Long-term memory over `home`, fed from `envelopes` (a Ref, so a test can append). */
const memoryLayer = (home: string, envelopes: Ref.Ref<ReadonlyArray<Envelope>>) =>
  LongTermMemory.layer({ home, feed: LongTermMemory.feedOf(Ref.get(envelopes)), sealAt: 4 }).pipe(
    Layer.provide(MemorySettings.offlineEmbedder)
  )

const ids = (hits: ReadonlyArray<{ readonly id: string }>) => hits.map((h) => h.id)

describe("LongTermMemory", () => {
  it.scoped("built from the log: memories, search and the context a session gets", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0 + DAY)
      const home = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped()
      const envelopes = yield* Ref.make<ReadonlyArray<Envelope>>(history)
      yield* Effect.gen(function*() {
        const memory = yield* MemoryIndex
        const entries = yield* memory.memories({ project: PROJECT })
        assert.includeMembers(entries.map((e) => e.text), [
          "Our staging server is staging.acme.dev",
          "Deploy freeze until Monday"
        ])
        // The implicit preference, noticed in a user message.
        assert.isTrue(entries.some((e) => e.kind === "implicit" && e.text.toLowerCase().includes("tabs")))
        const webhook = yield* memory.search("webhook retry backoff", { project: PROJECT, k: 3 })
        assert.strictEqual(webhook[0]?.sessionId, "s1")
        // Another project's turns only with no project filter.
        assert.deepStrictEqual(
          yield* memory.search("kafka billing", { project: PROJECT, k: 5 }).pipe(
            Effect.map((h) => h.filter((x) => x.sessionId === "s3"))
          ),
          []
        )
        assert.strictEqual((yield* memory.search("kafka billing", { k: 1 }))[0]?.sessionId, "s3")
        const context = yield* memory.context(PROJECT)
        assert.include(context, "staging.acme.dev")
        // Expired: never returned.
        yield* TestClock.setTime(T0 + 3 * DAY)
        assert.notInclude(
          (yield* memory.memories({ project: PROJECT })).map((e) => e.text),
          "Deploy freeze until Monday"
        )
        assert.isFalse((yield* memory.search("deploy freeze", { k: 10 })).some((h) => h.id === "m2"))
      }).pipe(Effect.provide(memoryLayer(home, envelopes)))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("live, reopened or rebuilt: the same answers; what is ingested live is not folded twice", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0 + DAY)
      const fs = yield* FileSystem.FileSystem
      const home = yield* fs.makeTempDirectoryScoped()
      const envelopes = yield* Ref.make<ReadonlyArray<Envelope>>(history.slice(0, 5))
      const queries = ["webhook retry", "staging server", "tabs", "kafka lag"]
      const answers = (memory: MemoryIndex["Type"]) =>
        Effect.forEach(queries, (q) => Effect.map(memory.search(q, { k: 5 }), ids))
      const live = yield* Effect.gen(function*() {
        const memory = yield* MemoryIndex
        // What a running session appends: fed live, and in the log too.
        const later = history.slice(5)
        yield* Ref.set(envelopes, history)
        yield* memory.ingest(later)
        yield* memory.ingest(later) // twice: folded once
        const forget = log([{ event: forgotten("m1", "project"), sessionId: "s2" }]).map((e) => ({
          ...e,
          seq: 5,
          id: "f1"
        }))
        yield* Ref.update(envelopes, (all) => [...all, ...forget])
        yield* memory.ingest(forget)
        assert.isFalse((yield* memory.search("staging server", { k: 10 })).some((h) => h.id === "m1"))
        return yield* answers(memory)
      }).pipe(Effect.provide(memoryLayer(home, envelopes)))
      const reopened = yield* Effect.flatMap(MemoryIndex, answers).pipe(Effect.provide(memoryLayer(home, envelopes)))
      assert.deepStrictEqual(reopened, live)
      const fresh = yield* fs.makeTempDirectoryScoped()
      const rebuilt = yield* Effect.flatMap(MemoryIndex, answers).pipe(Effect.provide(memoryLayer(fresh, envelopes)))
      assert.deepStrictEqual(rebuilt, live)
      const stats = yield* Effect.flatMap(LongTermMemory.LongTermMemory, (m) => m.stats).pipe(
        Effect.provide(memoryLayer(home, envelopes))
      )
      assert.strictEqual(stats.sessions, 3)
    }).pipe(Effect.provide(NodeContext.layer)))
})
