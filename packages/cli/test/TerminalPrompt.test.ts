import { Terminal } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import type { Question } from "@weft/kernel/PermissionPrompt"
import { PermissionPrompt } from "@weft/kernel/PermissionPrompt"
import { Effect, Layer, Option } from "effect"
import * as TerminalPrompt from "../src/TerminalPrompt.js"

const question = (agentId = "main", suggestions: ReadonlyArray<string> = ["Bash(npm test:*)"]): Question => ({
  agentId,
  toolUseId: "t1",
  tool: "bash",
  request: { _tag: "Command", tool: "Bash", command: "npm test" },
  decision: {
    behavior: "ask",
    rule: null,
    layer: "default",
    reason: "bash asks in default mode",
    subject: "npm test",
    suggestions
  }
})

/** A terminal that answers each readLine with the next line, or fails like Ctrl-D when none is left. */
const terminal = (answers: Array<string>, shown: Array<string>) =>
  Layer.succeed(Terminal.Terminal, {
    columns: Effect.succeed(80),
    readInput: Effect.die("not used"),
    readLine: Effect.suspend(() => {
      const next = answers.shift()
      return next === undefined ? Effect.fail(new Terminal.QuitException()) : Effect.succeed(next)
    }),
    display: (text: string) => Effect.sync(() => void shown.push(text))
  } as unknown as Terminal.Terminal)

const ask = (answers: Array<string>, q = question()) => {
  const shown: Array<string> = []
  return PermissionPrompt.pipe(
    Effect.flatMap((prompt) => prompt.ask(q)),
    Effect.map((answer) => ({ answer, shown })),
    Effect.provide(TerminalPrompt.layer.pipe(Layer.provide(terminal(answers, shown))))
  )
}

describe("TerminalPrompt", () => {
  it.effect("y allows once, a allows for the session, anything else denies", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* ask(["y"])).answer.answer, "allow_once")
      assert.strictEqual((yield* ask(["a"])).answer.answer, "allow_session")
      assert.strictEqual((yield* ask([""])).answer.answer, "deny")
      assert.strictEqual((yield* ask(["sure"])).answer.answer, "deny")
    }))

  it.effect("a closed terminal (Ctrl-D) denies, saying why", () =>
    Effect.gen(function*() {
      const { answer } = yield* ask([])
      assert.strictEqual(answer.answer, "deny")
      assert.include(Option.getOrElse(Option.fromNullable(answer.message), () => ""), "terminal closed")
    }))

  it.effect("the question names the command, the reason, the rule a session grant would add and a subagent's path", () =>
    Effect.gen(function*() {
      const { shown } = yield* ask(["n"], question("main/2"))
      const text = shown.join("")
      assert.include(text, "weft [main/2] wants to run `npm test`")
      assert.include(text, "bash asks in default mode")
      assert.include(text, "allow Bash(npm test:*) for this session")
    }))

  it.effect("without a rule to grant, the session option is not offered and `a` denies", () =>
    Effect.gen(function*() {
      const { answer, shown } = yield* ask(["a"], question("main", []))
      assert.strictEqual(answer.answer, "deny")
      assert.notInclude(shown.join(""), "for this session")
    }))
})
