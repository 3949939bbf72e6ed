import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { RecentTopic, Remembered } from "../src/MemoryContext.js"
import { defaults, memoryHeading, render, topicsHeading } from "../src/MemoryContext.js"

const entries: ReadonlyArray<Remembered> = [
  { text: "Always use pnpm instead of npm", scope: "user" },
  { text: "Our staging server is staging.example.com", scope: "project" },
  { text: "I prefer tabs over spaces", scope: "user" }
]
const topics: ReadonlyArray<RecentTopic> = [
  { text: "Fix the flaky EventLog test", at: "2025-08-02T10:00:00.000Z" },
  { text: "Speed up the log reader", at: "2025-08-01T09:00:00.000Z" }
]

const remembered = fc.record({
  text: fc.string({ maxLength: 400 }),
  scope: fc.constantFrom("user" as const, "project" as const)
})
const topic = fc.record({ text: fc.string({ maxLength: 120 }), at: fc.constant("2025-08-01T00:00:00.000Z") })

/** The entry and topic lines of a rendered block. */
const parse = (block: string) => {
  const lines = block === "" ? [] : block.split("\n")
  const t = lines.indexOf(topicsHeading)
  const m = lines.indexOf(memoryHeading)
  return {
    entries: m < 0 ? [] : lines.slice(m + 1, t < 0 ? undefined : t),
    topics: t < 0 ? [] : lines.slice(t + 1)
  }
}

describe("MemoryContext", () => {
  it("lists what is remembered, in the order given, then the recent topics with their day", () => {
    assert.strictEqual(
      render({ entries, topics }),
      [
        "What you remember about the user and this project:",
        "- Always use pnpm instead of npm",
        "- (project) Our staging server is staging.example.com",
        "- I prefer tabs over spaces",
        "Recent topics:",
        "- 2025-08-02: Fix the flaky EventLog test",
        "- 2025-08-01: Speed up the log reader"
      ].join("\n")
    )
  })

  it("is empty when there is nothing to say, and leaves out an empty section", () => {
    assert.strictEqual(render({ entries: [], topics: [] }), "")
    assert.strictEqual(render({ entries: [], topics }).split("\n")[0], topicsHeading)
    assert.notInclude(render({ entries, topics: [] }), topicsHeading)
  })

  it("drops the least important entries first when the budget is short", () => {
    const block = render({ entries, topics: [], maxChars: 110 })
    assert.deepStrictEqual(parse(block).entries, ["- Always use pnpm instead of npm"])
    assert.isAtMost(block.length, 110)
  })

  it("keeps a share of the budget for topics, however many entries", () => {
    const many = Array.from(
      { length: 200 },
      (_, i) => ({ text: `Remembered fact number ${i}`, scope: "user" as const })
    )
    const block = render({ entries: many, topics, maxChars: 1000 })
    assert.isAtMost(block.length, 1000)
    assert.strictEqual(parse(block).topics.length, 2)
    assert.isAbove(parse(block).entries.length, 20)
  })

  it("puts each entry on one line of at most maxLine characters", () => {
    const block = render({ entries: [{ text: `Line one\nline two ${"x".repeat(500)}`, scope: "user" }], topics: [] })
    const [line] = parse(block).entries
    assert.isAtMost(line!.length, defaults.maxLine)
    assert.match(line!, /^- Line one line two x+…$/)
  })

  it.prop(
    "never exceeds maxChars",
    [fc.array(remembered, { maxLength: 30 }), fc.array(topic, { maxLength: 20 }), fc.integer({ min: 0, max: 3000 })],
    ([entries, topics, maxChars]) => {
      assert.isAtMost(render({ entries, topics, maxChars }).length, maxChars)
    }
  )

  it.prop(
    "shows a prefix of the entries and a prefix of the topics, in their order",
    [fc.array(remembered, { maxLength: 30 }), fc.array(topic, { maxLength: 20 }), fc.integer({ min: 0, max: 3000 })],
    ([entries, topics, maxChars]) => {
      const shown = parse(render({ entries, topics, maxChars }))
      const expected = render({ entries: entries.slice(0, shown.entries.length), topics: [], maxChars: 100_000 })
      assert.deepStrictEqual(shown.entries, parse(expected).entries)
      const expectedTopics = render({ entries: [], topics: topics.slice(0, shown.topics.length), maxChars: 100_000 })
      assert.deepStrictEqual(shown.topics, parse(expectedTopics).topics)
    }
  )
})
