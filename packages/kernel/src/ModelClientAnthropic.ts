/**
 * The model port on the Anthropic Messages API, through `@anthropic-ai/sdk`, streamed.
 *
 * Every request is streamed (`stream: true`) and assembled here into the kernel's
 * `ModelResponse`: text from `text_delta`, tool inputs from `input_json_delta` (parsed at
 * `content_block_stop`), thinking from `thinking_delta` and `signature_delta`, redacted
 * thinking verbatim, usage from `message_start` merged with `message_delta`.
 *
 * Retries are ours, not the SDK's (it runs with `maxRetries: 0`), so that every attempt is
 * visible as a `Retrying` event: 429, 500, 502, 503, 504, 529, an SSE `error` event of type
 * `overloaded_error` or `api_error`, and a dropped connection (refused, reset, or a stream
 * that ends before `message_stop`) are retried with exponential backoff and full jitter
 * (from Effect's `Random`, so tests can fix it), or after the `retry-after` the API asks
 * for. Deltas are emitted as they arrive, so a consumer may see deltas of an attempt that
 * then fails; the `Retrying` that follows says to drop them, and `Completed` holds only
 * the attempt that succeeded.
 *
 * Prompt caching: the system prompt, the last tool definition, the last block of the last
 * message and the last block of the user message before the last one carry
 * `cache_control` — at most four breakpoints, the API's limit.
 *
 * Interrupting the stream (or `create`) aborts the HTTP request.
 *
 * The CLI reads `ANTHROPIC_API_KEY` / `ANTHROPIC_BASE_URL` and passes them in; nothing here
 * reads the environment.
 *
 * The SDK is loaded when the layer is built, not when this module is: a command that never
 * talks to the model does not pay for loading it at start-up.
 */
import type Anthropic from "@anthropic-ai/sdk"
import type * as AnthropicSdk from "@anthropic-ai/sdk"
import { Array as Arr, Data, Effect, Either, Layer, Option, Random, Schema, Stream } from "effect"
import { causeOf } from "./ErrorCause.js"
import { JsonObject } from "./Json.js"
import type { AssistantBlock, MessageParam, ModelRequest, ModelResponse, StopReason, Usage } from "./Messages.js"
import { StopReason as StopReasonSchema } from "./Messages.js"
import type { ModelEvent, Service } from "./ModelClient.js"
import { ModelClient, ModelError } from "./ModelClient.js"

/** A current model of the SDK's model list that the SDK does not mark deprecated. */
export const defaultModel = "claude-opus-5-5" satisfies Anthropic.Model

export const defaultBaseURL = "https://api.anthropic.com"

/**
 * A model's context window in tokens: a million for the Claude 5 generation, 200k for the
 * Claude 4 models (their million-token window is a beta weft does not ask for).
 */
export const contextWindow = (model: string): number =>
  /^claude-(opus|sonnet|haiku|fable|mythos)-5/.test(model) ? 1_000_000 : 200_000

export interface Options {
  readonly apiKey: string
  /** Default `https://api.anthropic.com`. */
  readonly baseURL?: string | undefined
  /** Retries after the first attempt; default 4. */
  readonly maxRetries?: number | undefined
  /** The backoff's first ceiling; default 500 ms, doubling each retry. */
  readonly initialDelayMs?: number | undefined
  /** The backoff's largest ceiling; default 30 s. */
  readonly maxDelayMs?: number | undefined
}

/** What to tell a user who has not set an API key. */
export const missingKey =
  "ANTHROPIC_API_KEY is not set: export an Anthropic API key (https://console.anthropic.com/settings/keys) to talk to the model"

// ---------------------------------------------------------------------------------------------
// Requests

const ephemeral = { type: "ephemeral" } as const

type Block = MessageParam["content"][number]

/** Thinking blocks cannot carry `cache_control`; every other block a request holds can. */
const cacheable = (block: Block): boolean => block.type !== "thinking" && block.type !== "redacted_thinking"

const withCacheControl = (content: ReadonlyArray<Block>): ReadonlyArray<Block> => {
  const at = Arr.findLastIndex(content, cacheable)
  return Option.isNone(at)
    ? content
    : content.map((block, i) => i === at.value ? { ...block, cache_control: ephemeral } : block)
}

/**
 * The request body: `system` as a cached text block, a breakpoint on the last tool, on the
 * last message and on the user message before the last user message (so the previous turn's
 * prefix is read from the cache) — four at most.
 */
export const toBody = (request: ModelRequest): Anthropic.MessageCreateParamsStreaming => {
  const users = request.messages.flatMap((message, i) => message.role === "user" ? [i] : [])
  const breakpoints = new Set([request.messages.length - 1, ...(users.length >= 2 ? [users[users.length - 2]!] : [])])
  const messages = request.messages.map((message, i) =>
    breakpoints.has(i) ? { ...message, content: withCacheControl(message.content) } : message
  )
  const tools = request.tools.map((tool, i) =>
    i === request.tools.length - 1 ? { ...tool, cache_control: ephemeral } : tool
  )
  // The kernel's shapes are the API's (Messages.ts), read-only and with looser string types.
  // An empty system prompt is left out: the API refuses an empty text block.
  return {
    model: request.model,
    max_tokens: request.max_tokens,
    stream: true,
    messages: messages as unknown as Array<Anthropic.MessageParam>,
    ...(request.system === "" ? {} : { system: [{ type: "text", text: request.system, cache_control: ephemeral }] }),
    ...(tools.length === 0 ? {} : { tools: tools as unknown as Array<Anthropic.Tool> }),
    ...(request.thinking === undefined ? {} : { thinking: { ...request.thinking } })
  }
}

/** The SDK's module, loaded by `makeAnthropic`. */
type Sdk = typeof AnthropicSdk

const loadSdk: Effect.Effect<Sdk> = Effect.promise(() => import("@anthropic-ai/sdk"))

// ---------------------------------------------------------------------------------------------
// Errors

/** A failed attempt, with the wait the API asked for when it did. */
class AttemptError extends Data.TaggedError("AttemptError")<{
  readonly error: ModelError
  readonly retryAfterMs: number | undefined
}> {}

const retryableStatus = new Set([429, 500, 502, 503, 504, 529])
const retryableType = new Set(["overloaded_error", "api_error", "rate_limit_error"])

const retryAfterOf = (headers: Headers | undefined): number | undefined => {
  const value = headers?.get("retry-after")
  if (value === null || value === undefined) return undefined
  const seconds = Number(value)
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined
}

const failure = (error: ModelError, retryAfterMs?: number): AttemptError => new AttemptError({ error, retryAfterMs })

/** One clear line for each way a call can fail. */
const fromSdkError = (sdk: Sdk, cause: unknown, request: ModelRequest, baseURL: string): AttemptError => {
  if (cause instanceof sdk.APIConnectionTimeoutError) {
    return failure(
      new ModelError({ type: "timeout_error", message: `the request to ${baseURL} timed out`, retryable: true })
    )
  }
  if (cause instanceof sdk.APIConnectionError) {
    return failure(
      new ModelError({
        type: "connection_error",
        message: `cannot reach the Anthropic API at ${baseURL} (${
          causeOf(cause.cause ?? cause)
        }): check ANTHROPIC_BASE_URL and the network`,
        retryable: true
      })
    )
  }
  if (cause instanceof sdk.APIError) {
    const status: number | undefined = cause.status
    const type = cause.type ?? (status === undefined ? "api_error" : `http_${status}`)
    const apiMessage = cause.apiMessage ?? cause.message
    const retryAfterMs = retryAfterOf(cause.headers)
    const statusField = status === undefined ? {} : { status }
    const make = (type: string, message: string, retryable: boolean) =>
      failure(new ModelError({ type, message, retryable, ...statusField }), retryAfterMs)
    if (status === undefined) {
      // An SSE `error` event in the middle of a response.
      return make(type, `the API failed mid-response (${type}): ${apiMessage}`, retryableType.has(type))
    }
    switch (status) {
      case 401:
        return make("authentication_error", "the API key was rejected (401): check ANTHROPIC_API_KEY", false)
      case 403:
        return make(type, `the API key may not do this (403): ${apiMessage}`, false)
      case 400:
        return make("invalid_request_error", `the API rejected the request (400): ${apiMessage}`, false)
      case 404:
        return cause.type === "not_found_error"
          ? make("not_found_error", `unknown model "${request.model}": ${apiMessage}`, false)
          : make(type, `${baseURL} answered 404 (${apiMessage}): check ANTHROPIC_BASE_URL`, false)
      case 413:
        return make(type, `the request is too large (413): ${apiMessage}`, false)
      case 429:
        return make(type, `rate limited (429): ${apiMessage}`, true)
      case 529:
        return make(type, `the API is overloaded (529): ${apiMessage}`, true)
      default:
        return make(type, `the API answered ${status}: ${apiMessage}`, retryableStatus.has(status))
    }
  }
  // Thrown while reading the body: undici's "terminated", a reset socket.
  return failure(
    new ModelError({
      type: "connection_error",
      message: `the connection to ${baseURL} dropped mid-response (${causeOf(cause)})`,
      retryable: true
    })
  )
}

const invalidResponse = (message: string): AttemptError =>
  failure(new ModelError({ type: "invalid_response", message: `the API sent ${message}`, retryable: false }))

// ---------------------------------------------------------------------------------------------
// Assembling a response from its events

type Partial =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "thinking"; readonly thinking: string; readonly signature: string }
  | { readonly type: "redacted_thinking"; readonly data: string }
  | { readonly type: "tool_use"; readonly id: string; readonly name: string; readonly json: string }
  | { readonly type: "done"; readonly block: AssistantBlock }

interface Assembly {
  readonly started: boolean
  readonly completed: boolean
  readonly id: string
  readonly model: string
  readonly blocks: ReadonlyArray<Partial>
  readonly usage: Usage
  readonly stopReason: StopReason | null
}

const initial: Assembly = {
  started: false,
  completed: false,
  id: "",
  model: "",
  blocks: [],
  usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  stopReason: null
}

type Step = Either.Either<readonly [Assembly, ReadonlyArray<ModelEvent>], AttemptError>

const decodeInput = Schema.decodeEither(Schema.parseJson(JsonObject))
const isStopReason = Schema.is(StopReasonSchema)

const finish = (partial: Partial): Either.Either<AssistantBlock, AttemptError> => {
  switch (partial.type) {
    case "done":
      return Either.right(partial.block)
    case "tool_use": {
      const input = decodeInput(partial.json === "" ? "{}" : partial.json)
      return Either.isLeft(input)
        ? Either.left(invalidResponse(`tool input for "${partial.name}" that is not a JSON object: ${partial.json}`))
        : Either.right({ type: "tool_use", id: partial.id, name: partial.name, input: input.right })
    }
    default:
      return Either.right(partial)
  }
}

const response = (state: Assembly): Either.Either<ModelResponse, AttemptError> =>
  Either.all(state.blocks.map(finish)).pipe(Either.map((content) => ({
    id: state.id,
    model: state.model,
    content,
    stop_reason: state.stopReason,
    usage: state.usage
  })))

const update = (state: Assembly, index: number, f: (partial: Partial) => Partial | undefined): Step => {
  const partial = state.blocks[index]
  const next = partial === undefined ? undefined : f(partial)
  if (next === undefined) {
    return Either.left(invalidResponse(`an event for content block ${index} that does not fit it`))
  }
  return Either.right([{ ...state, blocks: state.blocks.map((b, i) => i === index ? next : b) }, []])
}

const step = (state: Assembly, event: Anthropic.RawMessageStreamEvent): Step => {
  if (!state.started && event.type !== "message_start") {
    return Either.left(invalidResponse(`"${event.type}" before "message_start"`))
  }
  switch (event.type) {
    case "message_start": {
      const usage = event.message.usage
      return Either.right([{
        ...initial,
        started: true,
        id: event.message.id,
        model: event.message.model,
        usage: {
          input_tokens: usage.input_tokens,
          output_tokens: usage.output_tokens,
          cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
          cache_read_input_tokens: usage.cache_read_input_tokens ?? 0
        }
      }, []])
    }
    case "content_block_start": {
      const block = event.content_block
      const at = (partial: Partial, events: ReadonlyArray<ModelEvent>): Step =>
        event.index === state.blocks.length
          ? Either.right([{ ...state, blocks: [...state.blocks, partial] }, events])
          : Either.left(invalidResponse(`content block ${event.index} out of order`))
      switch (block.type) {
        case "text":
          return at(
            { type: "text", text: block.text },
            block.text === "" ? [] : [{ _tag: "TextDelta", index: event.index, text: block.text }]
          )
        case "thinking":
          return at({ type: "thinking", thinking: block.thinking, signature: block.signature }, [])
        case "redacted_thinking":
          return at({ type: "done", block: { type: "redacted_thinking", data: block.data } }, [])
        case "tool_use":
          return at({ type: "tool_use", id: block.id, name: block.name, json: "" }, [{
            _tag: "ToolUseStarted",
            index: event.index,
            id: block.id,
            name: block.name
          }])
        default:
          return Either.left(invalidResponse(`a "${block.type}" content block, which weft does not use`))
      }
    }
    case "content_block_delta": {
      const delta = event.delta
      switch (delta.type) {
        case "text_delta":
          return update(state, event.index, (p) => p.type === "text" ? { ...p, text: p.text + delta.text } : undefined)
            .pipe(Either.map(([s]) => [s, [{ _tag: "TextDelta", index: event.index, text: delta.text }]] as const))
        case "input_json_delta":
          return update(
            state,
            event.index,
            (p) => p.type === "tool_use" ? { ...p, json: p.json + delta.partial_json } : undefined
          )
        case "thinking_delta":
          return update(
            state,
            event.index,
            (p) => p.type === "thinking" ? { ...p, thinking: p.thinking + delta.thinking } : undefined
          ).pipe(
            Either.map(([s]) => [s, [{ _tag: "ThinkingDelta", index: event.index, thinking: delta.thinking }]] as const)
          )
        case "signature_delta":
          return update(
            state,
            event.index,
            (p) => p.type === "thinking" ? { ...p, signature: delta.signature } : undefined
          )
        default:
          // citations_delta: weft sends no documents, so there is nothing to cite.
          return Either.right([state, []])
      }
    }
    case "content_block_stop": {
      const partial = state.blocks[event.index]
      if (partial === undefined) return Either.left(invalidResponse(`a stop for content block ${event.index}`))
      return finish(partial).pipe(
        Either.flatMap((block) => update(state, event.index, () => ({ type: "done", block })))
      )
    }
    case "message_delta": {
      const reason = event.delta.stop_reason
      if (reason !== null && !isStopReason(reason)) {
        return Either.left(invalidResponse(`the stop reason "${reason}", which weft does not know`))
      }
      const usage = event.usage
      return Either.right([{
        ...state,
        stopReason: reason,
        usage: {
          // Counters in message_delta are whole-message totals, present when they apply.
          input_tokens: usage.input_tokens ?? state.usage.input_tokens,
          output_tokens: usage.output_tokens,
          cache_creation_input_tokens: usage.cache_creation_input_tokens ?? state.usage.cache_creation_input_tokens,
          cache_read_input_tokens: usage.cache_read_input_tokens ?? state.usage.cache_read_input_tokens
        }
      }, []])
    }
    case "message_stop":
      return response(state).pipe(
        Either.map((r) => [{ ...state, completed: true }, [{ _tag: "Completed", response: r }]] as const)
      )
  }
}

/** The end of the body: complete only after `message_stop`. */
const end = (state: Assembly, baseURL: string): Step =>
  state.completed
    ? Either.right([state, []])
    : Either.left(failure(
      new ModelError({
        type: "connection_error",
        message: `the response from ${baseURL} ended before it was complete (no message_stop)`,
        retryable: true
      })
    ))

// ---------------------------------------------------------------------------------------------
// The service

interface Retry {
  readonly maxRetries: number
  readonly initialDelayMs: number
  readonly maxDelayMs: number
}

/** Exponential backoff with full jitter, or the API's own `retry-after`. */
const delayFor = (retry: Retry, attempt: number, error: AttemptError): Effect.Effect<number> =>
  error.retryAfterMs !== undefined
    ? Effect.succeed(error.retryAfterMs)
    : Effect.map(
      Random.next,
      (r) => Math.floor(r * Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1)))
    )

export const makeAnthropic = (options: Options): Effect.Effect<Service> =>
  Effect.map(loadSdk, (sdk) => {
    const baseURL = options.baseURL ?? defaultBaseURL
    const retry: Retry = {
      maxRetries: options.maxRetries ?? 4,
      initialDelayMs: options.initialDelayMs ?? 500,
      maxDelayMs: options.maxDelayMs ?? 30_000
    }
    const client = new sdk.default({ apiKey: options.apiKey, baseURL, maxRetries: 0, logLevel: "off" })

    const attempt = (request: ModelRequest): Stream.Stream<ModelEvent, AttemptError> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        // Scoped rather than the signal of `Effect.tryPromise`: the request lives on while
        // the body streams, and closing the stream (done or interrupted) must abort it.
        const controller = yield* Effect.acquireRelease(
          Effect.sync(() => new AbortController()),
          (controller) => Effect.sync(() => controller.abort())
        )
        const events = yield* Effect.tryPromise({
          try: () => client.messages.create(toBody(request), { signal: controller.signal }),
          catch: (cause) => fromSdkError(sdk, cause, request, baseURL)
        })
        const iterator = events[Symbol.asyncIterator]()
        return Stream.repeatEffectOption(
          Effect.tryPromise({
            try: () => iterator.next(),
            catch: (cause) => Option.some(fromSdkError(sdk, cause, request, baseURL))
          }).pipe(Effect.flatMap((next) => next.done ? Effect.fail(Option.none()) : Effect.succeed(next.value)))
        )
      })).pipe(
        Stream.map(Option.some),
        Stream.concat(Stream.succeed(Option.none())),
        Stream.mapAccumEffect(
          initial,
          (state, event) => Option.isSome(event) ? step(state, event.value) : end(state, baseURL)
        ),
        Stream.flattenIterables
      )

    const attempts = (request: ModelRequest, n: number): Stream.Stream<ModelEvent, ModelError> =>
      attempt(request).pipe(Stream.catchAll((failed) =>
        !failed.error.retryable || n > retry.maxRetries
          ? Stream.fail(failed.error)
          : Stream.unwrap(Effect.map(delayFor(retry, n, failed), (delayMs) =>
            Stream.succeed<ModelEvent>({ _tag: "Retrying", attempt: n, error: failed.error, delayMs }).pipe(
              Stream.concat(Stream.drain(Stream.fromEffect(Effect.sleep(delayMs)))),
              Stream.concat(attempts(request, n + 1))
            )))
      ))

    const stream = (request: ModelRequest): Stream.Stream<ModelEvent, ModelError> =>
      options.apiKey.trim() === ""
        ? Stream.fail(new ModelError({ type: "authentication_error", message: missingKey, retryable: false }))
        : attempts(request, 1).pipe(Stream.withSpan("ModelClientAnthropic.stream"))

    const create = (request: ModelRequest): Effect.Effect<ModelResponse, ModelError> =>
      stream(request).pipe(
        Stream.runFold(
          Option.none<ModelResponse>(),
          (last, event) => event._tag === "Completed" ? Option.some(event.response) : last
        ),
        Effect.flatMap(Option.match({
          onNone: () =>
            new ModelError({
              type: "invalid_response",
              message: "the response stream ended without a response",
              retryable: false
            }),
          onSome: Effect.succeed
        })),
        Effect.withSpan("ModelClientAnthropic.create")
      )

    return ModelClient.of({ create, stream })
  })

export const layerAnthropic = (options: Options): Layer.Layer<ModelClient> =>
  Layer.effect(ModelClient, makeAnthropic(options))
