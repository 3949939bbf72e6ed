import { assert, describe, it } from "@effect/vitest"
import type { Envelope } from "@weft/kernel/Envelope"
import * as Projection from "@weft/kernel/Projection"
import { Either, Schema } from "effect"
import * as fc from "fast-check"
import type { State } from "../src/RecentTopics.js"
import { capacity, limit, maxLength, perSession, projection, topicOf, topics } from "../src/RecentTopics.js"
import type { Step } from "./utils/MemoryLog.js"
import { log, said, started } from "./utils/MemoryLog.js"

const fold = (envelopes: ReadonlyArray<Envelope>, from: State = projection.initial) =>
  Projection.fold(projection, envelopes, from)
const encode = Schema.encodeSync(projection.codec!)
const decode = Schema.decodeUnknownSync(projection.codec!)

/** One request in each of `n` sessions, session i in project /p(i % 2). */
const requests = (n: number): Array<Step> =>
  Array.from({ length: n }, (_, i) => [
    { event: started(`/p${i % 2}`), sessionId: `s${i}` },
    { event: said(`Fix bug number ${i} in the parser`), sessionId: `s${i}` }
  ]).flat()

describe("RecentTopics", () => {
  describe("topicOf", () => {
    it("is the first sentence, greetings skipped", () => {
      assert.strictEqual(topicOf("Hi! Can you fix the flaky test? It fails on CI."), "Can you fix the flaky test?")
      assert.strictEqual(topicOf("Bonjour ! Peux-tu corriger le test ? Merci."), "Peux-tu corriger le test ?")
      assert.strictEqual(topicOf("帮我修复EventLog的测试。谢谢"), "帮我修复EventLog的测试。")
    })

    it("shortens paths to their last two parts and links to their host and last part", () => {
      assert.strictEqual(
        topicOf("Fix /Users/ada/work/weft/packages/kernel/test/EventLog.test.ts please"),
        "Fix …/test/EventLog.test.ts please"
      )
      assert.strictEqual(
        topicOf("See https://github.com/effect-ts/effect/issues/123 for the bug"),
        "See github.com/…/123 for the bug"
      )
    })

    it("leaves code blocks out, and a sentence that introduces one takes the next with it", () => {
      assert.strictEqual(
        topicOf("Look at this:\n```ts\nconst x = 1\n```\nwhy does it fail?"),
        "Look at this: why does it fail?"
      )
      assert.isUndefined(topicOf("```\nconst x = 1\n```"))
    })

    it("is at most maxLength characters, cut at a word", () => {
      const topic = topicOf(
        "Please refactor the Extractor so that it handles Korean as well, and add tests for each language we support."
      )!
      assert.strictEqual(topic, "Please refactor the Extractor so that it handles Korean as well, and add tests…")
      assert.isAtMost(topic.length, maxLength)
      assert.isAtMost(topicOf("修".repeat(200))!.length, maxLength)
    })

    it("acknowledgements, greetings and slash commands are not topics", () => {
      for (
        const message of ["ok", "continue", "Thanks!", "yes please", "Hello", "/compact", "继续", "はい", "merci", ""]
      ) {
        assert.isUndefined(topicOf(message), message)
      }
    })

    it.prop("is one line of at most maxLength characters", [fc.string({ maxLength: 300 })], ([text]) => {
      const topic = topicOf(text)
      if (topic !== undefined) {
        assert.isAtMost(topic.length, maxLength)
        assert.notMatch(topic, /\n/)
      }
    })
  })

  it("keeps the topics of the main agent's user, newest first, with session and project", () => {
    const state = fold(log([
      { event: started("/a"), sessionId: "a" },
      { event: said("Fix the parser"), sessionId: "a" },
      { event: said("Write the docs for the CLI"), sessionId: "a", agentId: "main/1" },
      { event: started("/b"), sessionId: "b" },
      { event: said("Speed up the log reader"), sessionId: "b" }
    ]))
    assert.deepStrictEqual(topics(state).map((t) => [t.text, t.sessionId, t.project]), [
      ["Speed up the log reader", "b", "/b"],
      ["Fix the parser", "a", "/a"]
    ])
  })

  it("a topic said again moves up instead of repeating", () => {
    const state = fold(log([
      started("/p"),
      said("Fix the failing tests"),
      said("Speed up the log reader"),
      { event: said("fix the failing test."), sessionId: "s2" }
    ]))
    assert.deepStrictEqual(topics(state).map((t) => t.text), ["fix the failing test.", "Speed up the log reader"])
  })

  it("a session keeps its latest perSession topics, so one long session does not crowd out the others", () => {
    const state = fold(log([
      { event: started("/p"), sessionId: "old" },
      { event: said("Release version two"), sessionId: "old" },
      started("/p"),
      ...Array.from({ length: 10 }, (_, i) => said(`Rename function number ${i}`))
    ]))
    const got = topics(state).map((t) => t.text)
    assert.strictEqual(got.length, perSession + 1)
    assert.deepStrictEqual(got.slice(0, perSession), [
      "Rename function number 9",
      "Rename function number 8",
      "Rename function number 7"
    ])
    assert.strictEqual(got[perSession], "Release version two")
  })

  it("shows the limit newest topics and keeps capacity of them, leaving out a session or other projects", () => {
    const state = fold(log(requests(40)))
    assert.strictEqual(topics(state).length, limit)
    assert.strictEqual(topics(state)[0]!.text, "Fix bug number 39 in the parser")
    assert.strictEqual(topics(state, { limit: 100 }).length, capacity)
    assert.isFalse(topics(state, { exceptSession: "s39" }).some((t) => t.sessionId === "s39"))
    assert.strictEqual(topics(state, { exceptSession: "s39" }).length, limit)
    assert.isTrue(topics(state, { project: "/p1" }).every((t) => t.project === "/p1"))
  })

  it("orders by time even when sessions are folded one after the other", () => {
    const envelopes = log(requests(3))
    // Session 2 is folded first, though its request came last.
    const state = fold([...envelopes.slice(4), ...envelopes.slice(0, 4)])
    assert.deepStrictEqual(topics(state).map((t) => t.sessionId), ["s2", "s1", "s0"])
  })

  it("renders a line per topic", () => {
    const lines = projection.render!(fold(log([started("/p"), said("Fix the parser")])))
    assert.deepStrictEqual(lines, ["2025-01-01  s1  Fix the parser"])
    assert.deepStrictEqual(projection.render!(projection.initial), ["No recent topics."])
  })

  it("a checkpoint that is not a topics state does not decode", () => {
    assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(projection.codec!)({ topics: [{ text: 1 }], sessions: {} })))
  })

  it.prop(
    "folding from a checkpoint at any point equals folding all",
    [
      fc.array(
        fc.record({
          event: fc.oneof(
            fc.constantFrom("/a", "/b").map(started),
            fc.constantFrom(
              "Fix the parser",
              "fix the parser.",
              "ok",
              "Speed up the reader",
              "Write docs",
              "继续写文档"
            )
              .map(said)
          ),
          sessionId: fc.constantFrom("s1", "s2", "s3", "s4"),
          agentId: fc.constantFrom("main", "main", "main/1"),
          after: fc.integer({ min: 0, max: 10 ** 8 })
        }),
        { maxLength: 60 }
      ).map(log),
      fc.nat()
    ],
    ([envelopes, cut]) => {
      const at = cut % (envelopes.length + 1)
      const resumed = fold(
        envelopes.slice(at),
        decode(JSON.parse(JSON.stringify(encode(fold(envelopes.slice(0, at))))))
      )
      assert.deepStrictEqual(encode(resumed), encode(fold(envelopes)))
    }
  )
})
