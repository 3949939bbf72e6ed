/**
 * Asking the person at the terminal whether a tool call may run: allow once, allow for the
 * rest of the session, or deny. A subagent's question names its agent path. Anything but a
 * clear yes — Enter, Ctrl-D, an unreadable terminal — denies.
 */
import { Terminal } from "@effect/platform"
import type { Answer, Question } from "@weft/kernel/PermissionPrompt"
import { PermissionPrompt } from "@weft/kernel/PermissionPrompt"
import type { PermissionRequest } from "@weft/kernel/Tool"
import { Effect, Layer, Option } from "effect"

const describeRequest = (request: PermissionRequest): string => {
  switch (request._tag) {
    case "Command":
      return `run \`${request.command}\``
    case "Path":
      return `${request.access === "write" ? "change" : "read"} ${request.path}`
    case "Other":
      return request.specifier === "" ? `use ${request.tool}` : `use ${request.tool}(${request.specifier})`
  }
}

/** The question as it is shown. */
export const render = (question: Question): string => {
  const who = question.agentId === "main" ? "weft" : `weft [${question.agentId}]`
  const session = question.decision.suggestions.length > 0
    ? `  [a] allow ${question.decision.suggestions.join(", ")} for this session\n`
    : ""
  return `\n${who} wants to ${describeRequest(question.request)} (${question.tool})\n` +
    `  ${question.decision.reason}\n` +
    `  [y] allow once\n${session}  [n] deny (default)\n› `
}

/** The answer a typed line means. */
export const interpret = (line: string, question: Question): Answer => {
  const typed = line.trim().toLowerCase()
  if (typed === "y" || typed === "yes") return { answer: "allow_once" }
  if ((typed === "a" || typed === "always") && question.decision.suggestions.length > 0) {
    return { answer: "allow_session" }
  }
  return { answer: "deny" }
}

/**
 * Asks through `ask`, which shows the question and reads one line (none when the input has
 * ended): for an interactive session, whose line reader owns the terminal.
 */
export const layerWith = (
  ask: (question: string) => Effect.Effect<Option.Option<string>>
): Layer.Layer<PermissionPrompt> =>
  Layer.effect(
    PermissionPrompt,
    Effect.gen(function*() {
      const one = yield* Effect.makeSemaphore(1)
      return PermissionPrompt.of({
        ask: (question) =>
          one.withPermits(1)(
            ask(render(question)).pipe(
              Effect.map(Option.match({
                onNone: () => ({ answer: "deny" as const, message: "the terminal closed before an answer" }),
                onSome: (line) => interpret(line, question)
              }))
            )
          )
      })
    })
  )

export const layer: Layer.Layer<PermissionPrompt, never, Terminal.Terminal> = Layer.effect(
  PermissionPrompt,
  Effect.gen(function*() {
    const terminal = yield* Terminal.Terminal
    // One question at a time, even when several agents ask at once.
    const one = yield* Effect.makeSemaphore(1)
    return PermissionPrompt.of({
      ask: (question) =>
        one.withPermits(1)(
          terminal.display(render(question)).pipe(
            Effect.zipRight(terminal.readLine),
            Effect.map((line) => interpret(line, question)),
            Effect.orElseSucceed(() => ({ answer: "deny" as const, message: "the terminal closed before an answer" }))
          )
        )
    })
  })
)
