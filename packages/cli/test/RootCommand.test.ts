import { assert, describe, it } from "@effect/vitest"
import * as Settings from "@weft/kernel/Settings"
import { Effect, Either } from "effect"
import { budgetOf, splitRules } from "../src/AgentCommand.js"
import { hasPrompt } from "../src/RootCommand.js"

const subcommands = new Set(["sessions", "replay", "demo"])

describe("weft's root command", () => {
  it("a first word that is not an option or a subcommand is the prompt; an option's value is not", () => {
    assert.isTrue(hasPrompt(["fix the bug"], subcommands))
    assert.isTrue(hasPrompt(["-p", "fix the bug"], subcommands))
    assert.isTrue(hasPrompt(["--model", "m", "-c", "go on"], subcommands))
    assert.isTrue(hasPrompt(["--", "sessions"], subcommands))
    assert.isFalse(hasPrompt(["--model", "sessions"], subcommands))
    assert.isFalse(hasPrompt(["--cwd", "/x", "sessions", "list", "--bogus"], subcommands))
    assert.isFalse(hasPrompt(["-p"], subcommands))
    assert.isFalse(hasPrompt([], subcommands))
  })

  it("--allowed-tools takes rules separated by spaces or commas, keeping spaces inside parentheses", () => {
    assert.deepStrictEqual(splitRules(["Bash(npm test:*) Edit(src/**)", "Read,Grep"]), [
      "Bash(npm test:*)",
      "Edit(src/**)",
      "Read",
      "Grep"
    ])
  })

  it("a budget in dollars becomes input tokens of the model with price weights; an unpriced model is a clear error", () => {
    const usd = Effect.runSync(budgetOf({ ...Settings.empty, budgetUsd: 2 }, "claude-haiku-4-5"))
    assert.deepStrictEqual(usd, {
      budgetTokens: 2_000_000,
      budgetWeights: { output: 5, cacheWrite: 1.25, cacheRead: 0.1 }
    })
    const tokens = Effect.runSync(budgetOf({ ...Settings.empty, budgetTokens: 1000, cacheReadWeight: 0.1 }, "m"))
    assert.deepStrictEqual(tokens, { budgetTokens: 1000, budgetWeights: { output: 1, cacheWrite: 1, cacheRead: 0.1 } })
    const unknown = Effect.runSync(Effect.either(budgetOf({ ...Settings.empty, budgetUsd: 2 }, "my-model")))
    assert.isTrue(Either.isLeft(unknown))
    assert.include(Either.isLeft(unknown) ? unknown.left.message : "", "\"pricing\"")
  })
})
