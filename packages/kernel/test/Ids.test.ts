import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as Ids from "../src/Ids.js"

describe("Ids", () => {
  it.effect("layer makes UUIDv7s whose time field is the Clock's", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(new Date("2026-11-21T10:00:00.000Z").getTime())
      const ids = yield* Ids.Ids
      const id = yield* ids.next
      assert.match(id, Ids.UUIDV7)
      assert.strictEqual(parseInt(id.replace(/-/g, "").slice(0, 12), 16), Date.parse("2026-11-21T10:00:00.000Z"))
    }).pipe(Effect.provide(Ids.layer)))

  it.effect("ids made in the same millisecond still sort in the order they were made, past 4096 of them", () =>
    Effect.gen(function*() {
      const ids = yield* Ids.Ids
      const made = yield* Effect.replicateEffect(ids.next, 5000)
      assert.deepStrictEqual([...made].sort(), made)
      assert.strictEqual(new Set(made).size, made.length)
      assert.isTrue(made.every((id) => Ids.UUIDV7.test(id)))
    }).pipe(Effect.provide(Ids.layer)))

  it.effect("layerTest counts, so every run sees the same ids", () =>
    Effect.gen(function*() {
      const ids = yield* Ids.Ids
      assert.deepStrictEqual(yield* Effect.replicateEffect(ids.next, 2), [
        "00000000-0000-7000-8000-000000000001",
        "00000000-0000-7000-8000-000000000002"
      ])
    }).pipe(Effect.provide(Ids.layerTest)))
})
