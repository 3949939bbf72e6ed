/**
 * The port that asks the user about a call the policy could not decide (`ask`).
 *
 * - `layerDeny`: for non-interactive runs (`weft -p`): every question is answered `deny`, with a
 *   message naming the rule that would allow the call, so the model (and the person reading the
 *   transcript) knows what to change.
 * - `layerScripted(answers)`: for tests: the answers, in order; one question too many is a defect.
 * - The TTY prompt lives in the CLI.
 */
import { Context, Effect, Layer, Ref, Schema } from "effect"
import { PermissionAnswered } from "./Events.js"
import type { Decision } from "./PermissionPolicy.js"
import type { PermissionRequest } from "./Tool.js"

export interface Question {
  readonly agentId: string
  readonly toolUseId: string
  readonly tool: string
  readonly request: PermissionRequest
  readonly decision: Decision
}

export interface Answer {
  readonly answer: "allow_once" | "allow_session" | "deny"
  /** Told to the model with a denial. */
  readonly message?: string
}

export interface Service {
  readonly ask: (question: Question) => Effect.Effect<Answer>
}

export class PermissionPrompt extends Context.Tag("@weft/kernel/PermissionPrompt")<PermissionPrompt, Service>() {}

export class PromptScriptExhaustedError
  extends Schema.TaggedError<PromptScriptExhaustedError>()("PromptScriptExhaustedError", {
    toolUseId: Schema.String,
    tool: Schema.String,
    answers: Schema.Int
  })
{
  override get message() {
    return `PermissionPrompt.layerScripted: no answer left for ${this.tool} (${this.toolUseId}) ` +
      `after ${this.answers} ` +
      `answer${this.answers === 1 ? "" : "s"}; add an answer to the script, or expect fewer questions`
  }
}

const quoted = (texts: ReadonlyArray<string>) => texts.map((text) => JSON.stringify(text)).join(" and ")

/** What a non-interactive run tells the model when it denies a call that needed approval. */
export const nonInteractiveMessage = (decision: Decision): string => {
  if (decision.suggestions.length > 0) {
    return `not allowed in a non-interactive run (${decision.reason}); to allow it, add ${
      quoted(decision.suggestions)
    } to permissions.allow in .weft/settings.json or pass ${
      decision.suggestions.map((text) => `--allowed-tools ${JSON.stringify(text)}`).join(" ")
    }`
  }
  if (decision.rule !== null) {
    return `not allowed in a non-interactive run: ${decision.reason}; the ask rule ${
      JSON.stringify(decision.rule)
    } (${decision.layer}) requires a person to approve it`
  }
  return `not allowed in a non-interactive run: ${decision.reason}; ` +
    "no rule can allow it, run weft interactively to approve it"
}

export const layerDeny: Layer.Layer<PermissionPrompt> = Layer.succeed(
  PermissionPrompt,
  PermissionPrompt.of({
    ask: (question) => Effect.succeed({ answer: "deny", message: nonInteractiveMessage(question.decision) })
  })
)

/** Answers from a script, in order; a question past its end is a defect (`PromptScriptExhaustedError`). */
export const layerScripted = (answers: ReadonlyArray<Answer>): Layer.Layer<PermissionPrompt> =>
  Layer.effect(
    PermissionPrompt,
    Effect.gen(function*() {
      const next = yield* Ref.make(0)
      const ask = Effect.fn("PermissionPrompt.ask")(function*(question: Question) {
        const index = yield* Ref.getAndUpdate(next, (n) => n + 1)
        const answer = answers[index]
        if (answer === undefined) {
          return yield* Effect.die(
            new PromptScriptExhaustedError({
              toolUseId: question.toolUseId,
              tool: question.tool,
              answers: answers.length
            })
          )
        }
        return answer
      })
      return PermissionPrompt.of({ ask })
    })
  )

/** The answer as the event that records it. */
export const toEvent = (question: Pick<Question, "toolUseId">, answer: Answer) =>
  new PermissionAnswered({
    toolUseId: question.toolUseId,
    answer: answer.answer,
    ...(answer.message === undefined ? {} : { message: answer.message })
  })
