/**
 * fast-check arbitraries derived from the event Schemas, for property tests of anything that
 * stores, folds or replays events.
 */
import { Arbitrary, Schema } from "effect"
import * as fc from "fast-check"
import type { Envelope } from "../Envelope.js"
import { AgentId, Event, UnknownEvent, versions } from "../Events.js"
import type { AnyEvent } from "../Events.js"
import type { JsonObject } from "../Json.js"
import { Json } from "../Json.js"

export const event: fc.Arbitrary<Event> = Arbitrary.make(Event)

/** An event from a newer weft: a tag this version does not know, any JSON beside it. */
export const unknownEvent: fc.Arbitrary<UnknownEvent> = fc
  .tuple(
    fc.stringMatching(/^[A-Z][A-Za-z]{0,20}$/).filter((tag) => !versions.has(tag) && tag !== "UnknownEvent"),
    fc.dictionary(fc.string().filter((k) => k !== "_tag"), Arbitrary.make(Json), { maxKeys: 4 })
  )
  .map(([tag, fields]) => new UnknownEvent({ raw: { _tag: tag, ...fields } as JsonObject }))

export const anyEvent: fc.Arbitrary<AnyEvent> = fc.oneof({ weight: 9, arbitrary: event }, {
  weight: 1,
  arbitrary: unknownEvent
})

const isoTime = fc.date({
  min: new Date("2000-01-01T00:00:00Z"),
  max: new Date("2100-01-01T00:00:00Z"),
  noInvalidDate: true
})
  .map((d) => d.toISOString())

export const envelope: fc.Arbitrary<Envelope> = fc.record({
  seq: fc.integer({ min: 1, max: 1_000_000_000 }),
  id: fc.uuid(),
  parentId: fc.option(fc.uuid(), { nil: null }),
  sessionId: fc.uuid(),
  agentId: Arbitrary.make(AgentId),
  at: isoTime,
  event: anyEvent
})

export const isEvent = Schema.is(Event)
