/**
 * The model port: one Messages API call, request in, response out — whole (`create`) or as
 * it arrives (`stream`).
 *
 * `layerScripted` answers from a list (or a JSONL script file, one step per line) in order
 * and fails clearly when the script runs out; `layerFake` answers as a function of the
 * request. The Anthropic layer is `ModelClientAnthropic.layerAnthropic`.
 */
import { FileSystem } from "@effect/platform"
import { Context, Effect, Either, Layer, Random, Ref, Schema, Stream } from "effect"
import type { ModelRequest, ModelResponse, StopReason, Usage } from "./Messages.js"
import {
  AssistantBlock,
  emptyUsage,
  ModelResponse as ModelResponseSchema,
  StopReason as StopReasonSchema
} from "./Messages.js"
import { Usage as UsageSchema } from "./Messages.js"

export class ModelError extends Schema.TaggedError<ModelError>()("ModelError", {
  type: Schema.String,
  message: Schema.String,
  status: Schema.optionalWith(Schema.Int, { exact: true }),
  retryable: Schema.Boolean
}) {}

/** What a streamed response is made of, in order of arrival. */
export type ModelEvent =
  | { readonly _tag: "TextDelta"; readonly index: number; readonly text: string }
  | { readonly _tag: "ThinkingDelta"; readonly index: number; readonly thinking: string }
  | { readonly _tag: "ToolUseStarted"; readonly index: number; readonly id: string; readonly name: string }
  | { readonly _tag: "Retrying"; readonly attempt: number; readonly error: ModelError; readonly delayMs: number }
  | { readonly _tag: "Completed"; readonly response: ModelResponse }

export interface Service {
  readonly create: (request: ModelRequest) => Effect.Effect<ModelResponse, ModelError>
  /**
   * The response as it arrives; the last element is `Completed`. A failed attempt that will
   * be retried is `Retrying` (attempt numbers start at 1); deltas seen before a `Retrying`
   * belong to the failed attempt, and `Completed` holds only the attempt that succeeded.
   */
  readonly stream: (request: ModelRequest) => Stream.Stream<ModelEvent, ModelError>
}

export class ModelClient extends Context.Tag("@weft/kernel/ModelClient")<ModelClient, Service>() {}

/** The events of a whole response: one `TextDelta` per text block, then `Completed`. */
export const eventsOf = (response: ModelResponse): ReadonlyArray<ModelEvent> => [
  ...response.content.flatMap((block, index): Array<ModelEvent> =>
    block.type === "text" ? [{ _tag: "TextDelta", index, text: block.text }] : []
  ),
  { _tag: "Completed", response }
]

/** A service from `create` alone, whose `stream` answers with the whole response at once. */
export const fromCreate = (create: Service["create"]): Service =>
  ModelClient.of({
    create,
    stream: (request) => Stream.fromIterableEffect(Effect.map(create(request), eventsOf))
  })

/** One step of a script: a response (id, model and usage may be left out), or an error. */
export const ScriptStep = Schema.Union(
  Schema.Struct({
    content: Schema.Array(AssistantBlock),
    stop_reason: Schema.optionalWith(Schema.NullOr(StopReasonSchema), { exact: true }),
    usage: Schema.optionalWith(UsageSchema, { exact: true }),
    id: Schema.optionalWith(Schema.String, { exact: true })
  }),
  Schema.Struct({
    error: Schema.Struct({
      type: Schema.String,
      message: Schema.String,
      status: Schema.optionalWith(Schema.Int, { exact: true }),
      retryable: Schema.optionalWith(Schema.Boolean, { exact: true })
    })
  })
)
export type ScriptStep = typeof ScriptStep.Type

const stopReasonOf = (step: { readonly content: ModelResponse["content"] }): StopReason =>
  step.content.some((block) => block.type === "tool_use") ? "tool_use" : "end_turn"

/**
 * A response from a step, filling in what a script may leave out. A scripted message id is
 * `<prefix>_<n>`: each scripted client draws its own prefix, so two sessions on one script do not
 * share ids (usage counts a response once per message id and request id, as ccusage does). A
 * replay never asks the model, so it reads the ids the run recorded.
 */
export const respond = (
  step: ScriptStep,
  request: ModelRequest,
  n: number,
  prefix = "msg_scripted"
): Either.Either<ModelResponse, ModelError> =>
  "error" in step
    ? Either.left(new ModelError({ retryable: false, ...step.error }))
    : Either.right({
      id: step.id ?? `${prefix}_${n}`,
      model: request.model,
      content: step.content,
      stop_reason: step.stop_reason === undefined ? stopReasonOf(step) : step.stop_reason,
      usage: step.usage ?? estimateUsage(request, step.content)
    })

/** A deterministic usage figure for scripted and fake answers: about four characters a token. */
export const estimateUsage = (request: ModelRequest, content: ModelResponse["content"]): Usage => ({
  ...emptyUsage,
  input_tokens: Math.ceil(JSON.stringify(request.messages).length / 4) + Math.ceil(request.system.length / 4),
  // As the API does, output never exceeds the request's max_tokens.
  output_tokens: Math.min(request.max_tokens, Math.ceil(JSON.stringify(content).length / 4))
})

/** The message id prefix of one scripted or fake client: its own, from `Random`. */
const idPrefix = Effect.map(Random.nextInt, (n) => `msg_scripted_${(n >>> 0).toString(36)}`)

export const makeScripted = (steps: ReadonlyArray<ScriptStep>): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const prefix = yield* idPrefix
    const next = yield* Ref.make(0)
    return fromCreate((request) =>
      Ref.getAndUpdate(next, (n) => n + 1).pipe(Effect.flatMap((n) => {
        const step = steps[n]
        if (step === undefined) {
          return new ModelError({
            type: "script_exhausted",
            message: `the model script has ${steps.length} step(s) and request ${
              n + 1
            } asked for another; add a step to the script`,
            retryable: false
          })
        }
        return respond(step, request, n + 1, prefix)
      }))
    )
  })

export const layerScripted = (steps: ReadonlyArray<ScriptStep>): Layer.Layer<ModelClient> =>
  Layer.effect(ModelClient, makeScripted(steps))

export class ScriptFileError extends Schema.TaggedError<ScriptFileError>()("ScriptFileError", {
  path: Schema.String,
  line: Schema.Int,
  reason: Schema.String
}) {
  override get message() {
    return `${this.path}:${this.line}: not a model script step (${this.reason}); each line is {"content":[…]} or {"error":{…}}`
  }
}

const decodeStep = Schema.decodeUnknownEither(Schema.parseJson(ScriptStep))

/** A script from a JSONL file: one step per non-empty line. */
export const layerScriptedFile = (
  path: string
): Layer.Layer<ModelClient, ScriptFileError, FileSystem.FileSystem> =>
  Layer.effect(
    ModelClient,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const text = yield* fs.readFileString(path).pipe(
        Effect.mapError((e) => new ScriptFileError({ path, line: 0, reason: e.message }))
      )
      const steps: Array<ScriptStep> = []
      const lines = text.split("\n")
      for (let i = 0; i < lines.length; i++) {
        if (lines[i]!.trim() === "") continue
        const step = decodeStep(lines[i]!)
        if (Either.isLeft(step)) {
          return yield* new ScriptFileError({ path, line: i + 1, reason: step.left.message.split("\n")[0]! })
        }
        steps.push(step.right)
      }
      return yield* makeScripted(steps)
    })
  )

/** Answers as a function of the request. */
export const layerFake = (
  answer: (request: ModelRequest, n: number) => ScriptStep | Effect.Effect<ScriptStep>
): Layer.Layer<ModelClient> =>
  Layer.effect(
    ModelClient,
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const prefix = yield* idPrefix
      return fromCreate((request) =>
        Effect.gen(function*() {
          const n = yield* Ref.updateAndGet(count, (c) => c + 1)
          const produced = answer(request, n)
          const step = Effect.isEffect(produced) ? yield* produced : produced
          return yield* respond(step, request, n, prefix)
        })
      )
    })
  )

export const decodeResponse = Schema.decodeUnknown(ModelResponseSchema)
