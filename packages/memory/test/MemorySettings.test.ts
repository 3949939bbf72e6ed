import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as MemorySettings from "../src/MemorySettings.js"

/** The one line a refused value gives, or "" when it decodes. */
const refusal = (value: unknown): string =>
  Either.match(MemorySettings.decode(value), { onLeft: (l) => l, onRight: () => "" })

describe("MemorySettings", () => {
  it("extraction: rules or model, absent by default", () => {
    assert.deepStrictEqual(MemorySettings.decode(undefined), Either.right({}))
    assert.deepStrictEqual(MemorySettings.decode({ extraction: "model" }), Either.right({ extraction: "model" }))
    assert.deepStrictEqual(MemorySettings.decode({ extraction: "rules" }), Either.right({ extraction: "rules" }))
  })

  it("refuses another extraction, or a key it does not know, in one line naming the key", () => {
    assert.match(refusal({ extraction: "llm" }), /^memory\.extraction: Expected "rules"/)
    assert.match(refusal({ modelPass: true }), /^memory\.modelPass: /)
  })
})
