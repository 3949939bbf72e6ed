import { assert, describe, it } from "@effect/vitest"
import { splitRules } from "../src/AgentCommand.js"
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
})
