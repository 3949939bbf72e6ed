import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as fc from "fast-check"
import { lineCodec } from "../src/EventCodec.js"
import * as Projection from "../src/Projection.js"
import { builtins } from "../src/projections/index.js"
import * as Arbitraries from "../src/testing/Arbitraries.js"

const counter = Projection.make({
  name: "count",
  version: 1,
  handles: ["ModelResponded", "ToolCallCompleted"],
  initial: 0,
  evolve: (n: number) => n + 1
})

describe("Projection", () => {
  it("tagOf finds the event's tag in a raw log line, whatever the event holds", () => {
    fc.assert(fc.property(Arbitraries.envelope, (envelope) => {
      const line = Either.getOrThrow(lineCodec.encode(envelope))
      if (envelope.event._tag === "UnknownEvent") {
        // Kept as written: the tag, or "cannot tell" — never another tag.
        assert.include([envelope.event.tag, undefined], Projection.tagOf(line))
        assert.isTrue(Projection.mayHold({ ...counter, handles: [envelope.event.tag as never] })(line))
      } else {
        assert.strictEqual(Projection.tagOf(line), envelope.event._tag)
        assert.strictEqual(Projection.mayHold(counter)(line), counter.handles.includes(envelope.event._tag as never))
      }
    }))
    assert.isUndefined(Projection.tagOf("{\"not\":\"an envelope\"}"))
  })

  it("fold skips what the projection does not handle, unknown events included", () => {
    fc.assert(fc.property(fc.array(Arbitraries.envelope, { maxLength: 30 }), (envelopes) => {
      const expected = envelopes.filter((e) =>
        e.event._tag === "ModelResponded" || e.event._tag === "ToolCallCompleted"
      )
      assert.strictEqual(Projection.fold(counter, envelopes), expected.length)
    }))
  })

  it("validate refuses a bad name, version or empty handles, saying which; every built-in is valid", () => {
    const reason = (p: Projection.Any) =>
      Either.match(Projection.validate(p), { onLeft: (e) => e.message, onRight: () => "" })
    assert.match(reason({ ...counter, name: "a b" }), /name "a b"/)
    assert.match(reason({ ...counter, version: 0 }), /version/)
    assert.match(reason({ ...counter, handles: [] }), /handles/)
    for (const projection of Object.values(builtins)) assert.strictEqual(reason(projection), "")
  })
})
