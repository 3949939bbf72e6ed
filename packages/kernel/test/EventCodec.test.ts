import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as fc from "fast-check"
import { lineCodec, makeLineCodec } from "../src/EventCodec.js"
import type { Upcaster } from "../src/EventCodec.js"
import { UnknownEvent, UserMessageReceived } from "../src/Events.js"
import * as Arbitraries from "../src/testing/Arbitraries.js"

const envelopeLine = (event: object) =>
  JSON.stringify({
    seq: 1,
    id: "0193a8f0-0000-7000-8000-000000000001",
    parentId: null,
    sessionId: "s",
    agentId: "main",
    at: "2026-11-21T10:00:00.000Z",
    event
  })

describe("EventCodec", () => {
  it.prop("decode ∘ encode is the identity for any envelope", [Arbitraries.envelope], ([envelope]) => {
    const line = Either.getOrThrow(lineCodec.encode(envelope))
    assert.notInclude(line, "\n")
    assert.deepStrictEqual(Either.getOrThrow(lineCodec.decode(line)), envelope)
  }, { fastCheck: { numRuns: 300 } })

  it.prop(
    "an unknown event survives read and rewrite with its content intact",
    [Arbitraries.unknownEvent],
    ([event]) => {
      const line = envelopeLine(event.raw)
      const decoded = Either.getOrThrow(lineCodec.decode(line))
      assert.instanceOf(decoded.event, UnknownEvent)
      const rewritten = Either.getOrThrow(lineCodec.encode(decoded))
      assert.deepStrictEqual(JSON.parse(rewritten), JSON.parse(line))
    }
  )

  it("writes the event's _tag first, then v", () => {
    const line = Either.getOrThrow(lineCodec.encode(
      Either.getOrThrow(lineCodec.decode(envelopeLine({ v: 1, content: [], _tag: "UserMessageReceived" })))
    ))
    assert.include(line, `"event":{"_tag":"UserMessageReceived","v":1,"content":[]}`)
  })

  it("a known tag at a newer v than this weft knows is kept as an UnknownEvent, not misread", () => {
    const raw = { _tag: "UserMessageReceived", v: 2, parts: ["hi"] }
    const decoded = Either.getOrThrow(lineCodec.decode(envelopeLine(raw)))
    assert.instanceOf(decoded.event, UnknownEvent)
    assert.deepStrictEqual((decoded.event as UnknownEvent).raw, raw)
    assert.strictEqual((decoded.event as UnknownEvent).tag, "UserMessageReceived")
  })

  describe("upcasting", () => {
    // Suppose v0 of UserMessageReceived carried a plain `text`; v1 carries content blocks.
    const textToContent: Upcaster = {
      tag: "UserMessageReceived",
      from: 0,
      upcast: ({ text, ...rest }) => ({ ...rest, v: 1, content: [{ type: "text", text: text ?? "" }] })
    }
    const v0 = envelopeLine({ _tag: "UserMessageReceived", v: 0, text: "hello" })

    it("an older v is upcast through the registered upcasters before it is decoded", () => {
      const decoded = Either.getOrThrow(makeLineCodec([textToContent]).decode(v0))
      assert.deepStrictEqual(decoded.event, new UserMessageReceived({ content: [{ type: "text", text: "hello" }] }))
    })

    it("an older v with no upcaster is an error naming the missing step, not a silent misread", () => {
      const result = lineCodec.decode(v0)
      assert.isTrue(Either.isLeft(result))
      assert.include(Either.getLeft(result).pipe((o) => (o._tag === "Some" ? o.value : "")), "no upcaster from")
    })
  })

  it("a known event with a bad field is an error, never an UnknownEvent", () => {
    const result = lineCodec.decode(envelopeLine({ _tag: "UserMessageReceived", v: 1, content: "not blocks" }))
    assert.isTrue(Either.isLeft(result))
  })

  it("a line that is not JSON is an error with a reason", () => {
    const result = lineCodec.decode(`{"seq":1,`)
    assert.isTrue(Either.isLeft(result))
  })

  it("an event that slipped past its constructor with JSON that cannot be written (NaN) is refused by encode", () => {
    const bad = fc.sample(Arbitraries.envelope, { numRuns: 1, seed: 1 })[0]!
    const broken = { ...bad, event: new UnknownEvent({ raw: { _tag: "X", n: Number.NaN } }, true) }
    assert.isTrue(Either.isLeft(lineCodec.encode(broken)))
  })
})
