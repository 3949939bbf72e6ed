import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { Category, Input } from "../src/Importance.js"
import { defaults, faded, importance, promoted } from "../src/Importance.js"

const T0 = Date.parse("2025-01-01T00:00:00.000Z")
const DAY = 86_400_000
const iso = (ms: number) => new Date(ms).toISOString()

const categories: ReadonlyArray<Category> = ["instruction", "fact", "identity", "preference", "note"]

const entry: fc.Arbitrary<Input> = fc.record({
  kind: fc.constantFrom("explicit" as const, "implicit" as const),
  category: fc.constantFrom(...categories),
  confirmations: fc.integer({ min: 1, max: 50 }),
  lastConfirmedAt: fc.integer({ min: 0, max: 400 }).map((d) => iso(T0 + d * DAY)),
  recalls: fc.integer({ min: 0, max: 50 }),
  lastRecalledAt: fc.option(fc.integer({ min: 0, max: 400 }).map((d) => iso(T0 + d * DAY)), { nil: undefined })
})

/** A time at or after the entry's anchor. */
const now = fc.integer({ min: 400, max: 2000 }).map((d) => T0 + d * DAY)

const twin = (e: Input, change: Partial<Input>): Input => ({ ...e, ...change })

describe("Importance", () => {
  it.prop("halves at each half-life", [entry, now, fc.integer({ min: 1, max: 5 })], ([e, at, n]) => {
    const later = at + n * defaults.halfLifeDays * DAY
    assert.closeTo(importance(e, later) / importance(e, at), Math.pow(0.5, n), 1e-9)
  })

  it("the half-life is a weight: 7 days halves a week later", () => {
    const e: Input = { kind: "explicit", category: "fact", confirmations: 1, lastConfirmedAt: iso(T0), recalls: 0 }
    const weights = { ...defaults, halfLifeDays: 7 }
    assert.closeTo(importance(e, T0 + 7 * DAY, weights), importance(e, T0, weights) / 2, 1e-12)
    assert.closeTo(importance(e, T0 + 7 * DAY), importance(e, T0) * Math.pow(0.5, 7 / 30), 1e-12)
  })

  it("recency counts from the last confirmation or recall, whichever is later", () => {
    const e: Input = { kind: "explicit", category: "fact", confirmations: 1, lastConfirmedAt: iso(T0), recalls: 0 }
    const recalledLater = { ...e, recalls: 1, lastRecalledAt: iso(T0 + 30 * DAY) }
    const at = T0 + 30 * DAY
    assert.closeTo(importance(e, at), 0.5, 1e-12)
    // Recalled just now: no decay, and a recall's worth of frequency.
    assert.closeTo(importance(recalledLater, at), 1 + Math.log2(1 + defaults.recall), 1e-12)
  })

  it.prop("explicit outranks implicit of the same age and history", [entry, now], ([e, at]) => {
    const explicit = importance(twin(e, { kind: "explicit" }), at)
    const implicit = importance(twin(e, { kind: "implicit" }), at)
    assert.isAtLeast(explicit, implicit)
    if (!promoted(twin(e, { kind: "implicit" }))) assert.isAbove(explicit, implicit)
  })

  it.prop("a recalled entry outranks its unrecalled twin", [entry, now], ([e, at]) => {
    const unrecalled = twin(e, { recalls: 0, lastRecalledAt: undefined })
    const recalled = twin(e, { recalls: 1, lastRecalledAt: e.lastConfirmedAt })
    assert.isAbove(importance(recalled, at), importance(unrecalled, at))
  })

  it.prop("is monotonic in confirmations", [entry, now, fc.integer({ min: 1, max: 20 })], ([e, at, more]) => {
    assert.isAbove(importance(twin(e, { confirmations: e.confirmations + more }), at), importance(e, at))
  })

  it.prop("is monotonic in recalls", [entry, now, fc.integer({ min: 1, max: 20 })], ([e, at, more]) => {
    assert.isAbove(importance(twin(e, { recalls: e.recalls + more }), at), importance(e, at))
  })

  it.prop("is monotonic in recency: a later confirmation never lowers it", [
    entry,
    now,
    fc.integer({ min: 1, max: 300 })
  ], ([e, at, days]) => {
    const sooner = twin(e, { lastConfirmedAt: iso(Date.parse(e.lastConfirmedAt) + days * DAY) })
    assert.isAtLeast(importance(sooner, at), importance(e, at))
  })

  it.prop("is monotonic in time: never grows as now moves on", [entry, now, fc.integer({ min: 1, max: 300 })], (
    [e, at, days]
  ) => {
    assert.isAtMost(importance(e, at + days * DAY), importance(e, at))
  })

  it.prop("ranks by type: instruction, fact and identity above preference above note", [entry, now], ([e, at]) => {
    const of = (category: Category) => importance(twin(e, { category }), at)
    assert.strictEqual(of("instruction"), of("fact"))
    assert.strictEqual(of("fact"), of("identity"))
    assert.isAbove(of("identity"), of("preference"))
    assert.isAbove(of("preference"), of("note"))
  })

  it("grows sublinearly with use: the tenth recall adds less than the first", () => {
    const e: Input = { kind: "explicit", category: "fact", confirmations: 1, lastConfirmedAt: iso(T0), recalls: 0 }
    const at = (recalls: number) => importance({ ...e, recalls }, T0)
    assert.isAbove(at(1) - at(0), at(10) - at(9))
  })

  it("promotes an implicit entry confirmed promoteAt times: it then weighs as explicit", () => {
    const base: Input = {
      kind: "implicit",
      category: "preference",
      confirmations: 2,
      lastConfirmedAt: iso(T0),
      recalls: 0
    }
    const confirmed = { ...base, confirmations: defaults.promoteAt }
    assert.isFalse(promoted(base))
    assert.isTrue(promoted(confirmed))
    assert.strictEqual(importance(confirmed, T0), importance({ ...confirmed, kind: "explicit" }, T0))
    assert.isAbove(importance(confirmed, T0) / importance(base, T0), defaults.kind.explicit / defaults.kind.implicit)
  })

  it("an implicit entry stated once fades after months; an explicit one never fades", () => {
    const implicit: Input = {
      kind: "implicit",
      category: "preference",
      confirmations: 1,
      lastConfirmedAt: iso(T0),
      recalls: 0
    }
    assert.isFalse(faded(implicit, T0 + 30 * DAY))
    assert.isTrue(faded(implicit, T0 + 200 * DAY))
    assert.isFalse(faded({ ...implicit, kind: "explicit" }, T0 + 2000 * DAY))
  })

  it("an anchor in the future counts as now", () => {
    const e: Input = {
      kind: "explicit",
      category: "fact",
      confirmations: 1,
      lastConfirmedAt: iso(T0 + DAY),
      recalls: 0
    }
    assert.strictEqual(importance(e, T0), 1)
  })
})
