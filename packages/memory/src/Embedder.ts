/**
 * The embedding port: texts in, vectors out, for the vector half of conversation search.
 *
 * `model` names the model and its dimensions; it is recorded with every sealed segment, so an
 * index built by another embedder is rebuilt rather than searched with incomparable vectors.
 *
 * Two adapters:
 *
 * - `layerHashing` — the default, offline and deterministic: feature hashing of the words and
 *   character n-grams of a text into `dimensions` buckets. Signed hashing (each feature adds
 *   +w or −w, chosen by the hash) makes collisions cancel on average instead of piling up;
 *   term frequency is sublinear (1 + ln tf); every word of three or more characters also adds
 *   its character 3- and 4-grams (with `⟨` `⟩` marking its ends), weighted below the whole word.
 *   The n-grams are what bring `database`, `base de datos` and `Datenbank` closer together than
 *   unrelated texts, and a misspelling or an inflection close to its word. Vectors are unit length.
 * - `layerHttp` — any OpenAI-compatible `POST {baseUrl}/v1/embeddings` (Ollama, llama.cpp,
 *   vLLM, OpenAI) through `@effect/platform`'s `HttpClient`, in batches, with retries.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import type { HttpClientResponse } from "@effect/platform"
import { causeOf } from "@weft/kernel/ErrorCause"
import { Config, Context, Data, Duration, Effect, Layer, Option, Redacted, Schedule, Schema } from "effect"
import { codePoints, hashCodes } from "./internal/Hash.js"
import { tokenize } from "./Tokenizer.js"

export class EmbedderError extends Schema.TaggedError<EmbedderError>()("EmbedderError", {
  message: Schema.String,
  url: Schema.optionalWith(Schema.String, { exact: true })
}) {}

export interface Service {
  /** The model and its dimensions, e.g. `hashing-v1(tokenize,384)`: vectors of two models never mix. */
  readonly model: string
  readonly dimensions: number
  /** One unit-length vector per text, in order (an empty text gives zeros). */
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Float32Array>, EmbedderError>
}

export class Embedder extends Context.Tag("@weft/memory/Embedder")<Embedder, Service>() {}

/** Scales `vector` to unit length in place (a zero vector stays zero). */
const normalise = (vector: Float32Array | Float64Array): Float32Array => {
  let sum = 0
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!
  const norm = Math.sqrt(sum)
  const out = new Float32Array(vector.length)
  if (norm === 0) return out
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]! / norm
  return out
}

// ---------------------------------------------------------------------------------------------
// Hashing

export interface HashingOptions {
  /**
   * Default 384. More buckets mean fewer collisions: on the project's retrieval set, vectors alone
   * found 48.1 / 49.4 / 52.4 % of the evidence in the top 10 at 256 / 384 / 512 (with
   * `Analyzer.terms`; 38.3 / 41.5 / 41.2 % with `tokenize`), while a search over 100,000 rows
   * takes ~1.9 / ~3 / ~4 ms (p50, this project's 2-core machine) and holds ~1.3 / 1.9 / 2.6 kB a row.
   * 384 keeps the vector search within its ~5 ms of the memory search's 10 ms.
   */
  readonly dimensions?: number | undefined
  /** A text's terms (repeated terms repeat); default `Tokenizer.tokenize`. */
  readonly terms?: ((text: string) => ReadonlyArray<string>) | undefined
  /** Names `terms` in `model`, so that changing the term function forces a rebuild. */
  readonly termsName?: string | undefined
  /**
   * The weight of a word's n-grams together (their L2 norm) against the word's own; default 1, so each
   * n-gram weighs about a quarter of its word (a word has 10–20 of them).
   */
  readonly ngramWeight?: number | undefined
}

export const defaultDimensions = 384

export const defaultNgramWeight = 1

const WORD_SEED = 0x9e3779b9
const GRAM_SEED = 0x85ebca6b
const BEGIN = 0x27e8 // ⟨
const END = 0x27e9 // ⟩
const GRAM_SIZES = [3, 4] as const
const MIN_GRAM_WORD = 3

interface Resolved {
  readonly dimensions: number
  readonly terms: (text: string) => ReadonlyArray<string>
  readonly ngramWeight: number
}

const resolve = (options: HashingOptions | undefined): Resolved => ({
  dimensions: Math.max(1, Math.floor(options?.dimensions ?? defaultDimensions)),
  terms: options?.terms ?? tokenize,
  ngramWeight: options?.ngramWeight ?? defaultNgramWeight
})

const accumulate = (vector: Float64Array, hash: number, weight: number): void => {
  const bucket = (hash & 0x7fffffff) % vector.length
  vector[bucket] += hash >>> 31 === 1 ? -weight : weight
}

const embedHashing = (text: string, options: Resolved): Float32Array => {
  const vector = new Float64Array(options.dimensions)
  const counts = new Map<string, number>()
  for (const term of options.terms(text)) counts.set(term, (counts.get(term) ?? 0) + 1)
  for (const [term, count] of counts) {
    const weight = 1 + Math.log(count)
    const codes = codePoints(term)
    accumulate(vector, hashCodes(codes, 0, codes.length, WORD_SEED), weight)
    if (codes.length < MIN_GRAM_WORD || options.ngramWeight <= 0) continue
    const padded = [BEGIN, ...codes, END]
    let grams = 0
    for (const n of GRAM_SIZES) grams += Math.max(0, padded.length - n + 1)
    // The n-grams of one word together weigh `ngramWeight` of the word (in L2 norm).
    const gramWeight = (options.ngramWeight * weight) / Math.sqrt(grams)
    for (const n of GRAM_SIZES) {
      for (let i = 0; i + n <= padded.length; i++) {
        accumulate(vector, hashCodes(padded, i, i + n, GRAM_SEED), gramWeight)
      }
    }
  }
  return normalise(vector)
}

/** The hashing embedder's vector for `text`: pure, the same on every machine. */
export const hashingVector = (text: string, options?: HashingOptions): Float32Array =>
  embedHashing(text, resolve(options))

/** The hashing embedder as a service value. */
export const hashing = (options?: HashingOptions): Service => {
  const resolved = resolve(options)
  const termsName = options?.termsName ?? (options?.terms === undefined ? "tokenize" : "custom")
  const weight = options?.ngramWeight === undefined ? "" : `,ngrams=${resolved.ngramWeight}`
  return {
    model: `hashing-v1(${termsName},${resolved.dimensions}${weight})`,
    dimensions: resolved.dimensions,
    embed: Effect.fn("Embedder.embed")((texts: ReadonlyArray<string>) =>
      Effect.sync(() => texts.map((text) => embedHashing(text, resolved)))
    )
  }
}

/** The offline, deterministic default. */
export const layerHashing = (options?: HashingOptions): Layer.Layer<Embedder> =>
  Layer.succeed(Embedder, hashing(options))

// ---------------------------------------------------------------------------------------------
// HTTP (OpenAI-compatible)

const PositiveInt = Schema.Int.pipe(Schema.positive())

/** The settings of the HTTP embedder (`memory.embedder` in settings). */
export const HttpEmbedderOptions = Schema.Struct({
  /** `http://127.0.0.1:11434` (Ollama); a trailing `/v1` is accepted too. */
  baseUrl: Schema.String,
  model: Schema.String,
  /** The name of the environment variable holding the API key — never the key itself. */
  apiKeyEnv: Schema.optional(Schema.String),
  /** Asked of the server (OpenAI's `dimensions`) and checked; without it, learnt from a first request. */
  dimensions: Schema.optional(PositiveInt),
  /** Texts per request; default 64. */
  batchSize: Schema.optional(PositiveInt),
  /** Per request; default 30,000. */
  timeoutMs: Schema.optional(PositiveInt),
  /** Retries after the first attempt on 408, 429, 5xx, timeouts and dropped connections; default 4. */
  maxRetries: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
})
export type HttpEmbedderOptions = typeof HttpEmbedderOptions.Type

export interface HttpOptions extends HttpEmbedderOptions {
  /** The key itself, when the caller has it (takes precedence over `apiKeyEnv`). */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** The backoff's first delay; default 500 ms, doubling (with jitter) each retry. */
  readonly retryBaseMs?: number | undefined
}

/** The longest `retry-after` honoured; a server asking for more is waited on this long. */
const MAX_RETRY_AFTER_MS = 60_000

const EmbeddingsResponse = Schema.Struct({
  data: Schema.Array(Schema.Struct({
    index: Schema.Int.pipe(Schema.nonNegative()),
    embedding: Schema.Array(Schema.Finite)
  }))
})
const decodeResponse = Schema.decodeUnknown(EmbeddingsResponse)

/** A failed attempt: whether another may succeed, and the wait the server asked for. */
class AttemptError extends Data.TaggedError("AttemptError")<{
  readonly error: EmbedderError
  readonly retryable: boolean
  readonly retryAfterMs: number | undefined
}> {}

const retryAfterOf = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const seconds = Number(value)
  return value.trim() !== "" && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined
}

const oneLine = (text: string): string => {
  const line = text.replace(/\s+/g, " ").trim()
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}

const endpointOf = (baseUrl: string): string => {
  const base = baseUrl.replace(/\/+$/, "")
  return base.endsWith("/v1") ? `${base}/embeddings` : `${base}/v1/embeddings`
}

/** The HTTP embedder; without `dimensions` it asks the server once, now, to learn them. */
export const makeHttp = (
  options: HttpOptions
): Effect.Effect<Service, EmbedderError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const url = endpointOf(options.baseUrl)
    const batchSize = options.batchSize ?? 64
    const timeoutMs = options.timeoutMs ?? 30_000
    const maxRetries = options.maxRetries ?? 4
    const fail = (message: string, retryable = false, retryAfterMs?: number) =>
      new AttemptError({ error: new EmbedderError({ message, url }), retryable, retryAfterMs })

    const apiKey: Option.Option<Redacted.Redacted<string>> = options.apiKey !== undefined
      ? Option.some(options.apiKey)
      : options.apiKeyEnv === undefined
      ? Option.none()
      : Option.some(
        yield* Config.redacted(options.apiKeyEnv).pipe(
          Effect.mapError(() =>
            new EmbedderError({
              message: `the embedder's API key variable ${options.apiKeyEnv} is not set: export it, or remove ` +
                `memory.embedder.apiKeyEnv from settings if ${url} needs no key`,
              url
            })
          )
        )
      )

    const keyHint = options.apiKeyEnv === undefined
      ? "set memory.embedder.apiKeyEnv to the variable holding the key"
      : `check the key in ${options.apiKeyEnv}`

    const statusError = (response: HttpClientResponse.HttpClientResponse) =>
      Effect.gen(function*() {
        const status = response.status
        const body = oneLine(yield* response.text.pipe(Effect.orElseSucceed(() => "")))
        const detail = body === "" ? "" : `: ${body}`
        const retryAfterMs = retryAfterOf(response.headers["retry-after"])
        if (status === 401 || status === 403) {
          return fail(`${url} refused the request (${status}${detail}): ${keyHint}`)
        }
        if (status === 404) {
          return fail(
            `${url} answered 404${detail}: check memory.embedder.baseUrl and that the server serves ` +
              `model "${options.model}"`
          )
        }
        if (status === 408 || status === 429 || status >= 500) {
          return fail(`${url} answered ${status}${detail}`, true, retryAfterMs)
        }
        return fail(`${url} rejected the request (${status}${detail}): check memory.embedder in settings`)
      })

    const attempt = (
      input: ReadonlyArray<string>,
      expected: number | undefined
    ): Effect.Effect<Array<Float32Array>, AttemptError> => {
      const body = options.dimensions === undefined
        ? { model: options.model, input }
        : { model: options.model, input, dimensions: options.dimensions }
      let request = HttpClientRequest.post(url).pipe(
        HttpClientRequest.acceptJson,
        HttpClientRequest.bodyUnsafeJson(body)
      )
      if (Option.isSome(apiKey)) request = HttpClientRequest.bearerToken(request, Redacted.value(apiKey.value))
      return client.execute(request).pipe(
        Effect.mapError((error) => {
          const cause = causeOf(error.cause ?? error)
          // Nobody listening (or no such host) will not change in a second; a dropped connection may.
          const retryable = /ECONNRESET|EPIPE|UND_ERR_SOCKET|socket hang up|other side closed|terminated/.test(cause)
          return fail(
            `cannot reach the embedder at ${url} (${cause}): is the server running? check memory.embedder.baseUrl`,
            retryable
          )
        }),
        Effect.flatMap((response) =>
          response.status >= 200 && response.status < 300
            ? response.json.pipe(
              Effect.flatMap(decodeResponse),
              Effect.mapError(() =>
                fail(`${url} sent a malformed embeddings response: check that it is an OpenAI-compatible server`)
              ),
              Effect.flatMap((decoded) => vectorsOf(decoded.data, input.length, expected))
            )
            : Effect.flatMap(statusError(response), Effect.fail)
        ),
        Effect.timeoutFail({
          duration: Duration.millis(timeoutMs),
          onTimeout: () =>
            fail(
              `${url} did not answer within ${timeoutMs} ms: raise memory.embedder.timeoutMs or check the server`,
              true
            )
        })
      )
    }

    const vectorsOf = (
      data: typeof EmbeddingsResponse.Type["data"],
      count: number,
      expected: number | undefined
    ): Effect.Effect<Array<Float32Array>, AttemptError> => {
      if (data.length !== count) {
        return Effect.fail(fail(`${url} sent ${data.length} embeddings for ${count} texts: check the server`))
      }
      const out = new Array<Float32Array | undefined>(count)
      for (const item of data) {
        if (item.index >= count || out[item.index] !== undefined) {
          return Effect.fail(
            fail(`${url} sent embeddings with a wrong or repeated index ${item.index}: check the server`)
          )
        }
        const size = expected ?? data[0]!.embedding.length
        if (size === 0) return Effect.fail(fail(`${url} sent an empty embedding: check the model`))
        if (item.embedding.length !== size) {
          return Effect.fail(fail(
            `${url} sent a vector of ${item.embedding.length} dimensions where ${size} were expected: the model ` +
              `changed or ignores memory.embedder.dimensions; fix the settings, then run weft memory rebuild`
          ))
        }
        out[item.index] = normalise(Float32Array.from(item.embedding))
      }
      return Effect.succeed(out as Array<Float32Array>)
    }

    const schedule = Schedule.exponential(Duration.millis(options.retryBaseMs ?? 500), 2).pipe(
      Schedule.jittered,
      Schedule.intersect(Schedule.recurs(maxRetries)),
      Schedule.intersect(Schedule.identity<AttemptError>()),
      Schedule.modifyDelay(([, error], delay) =>
        error.retryAfterMs === undefined ? delay : Duration.millis(Math.min(error.retryAfterMs, MAX_RETRY_AFTER_MS))
      ),
      Schedule.whileInput((error: AttemptError) => error.retryable)
    )

    const request = (input: ReadonlyArray<string>, expected: number | undefined) =>
      attempt(input, expected).pipe(
        Effect.retry(schedule),
        Effect.mapError(({ error, retryable }) =>
          retryable
            ? new EmbedderError({
              message: `${error.message}; gave up after ${
                maxRetries + 1
              } attempts: check the server, or try again later`,
              url
            })
            : error
        )
      )

    const dimensions = options.dimensions ?? (yield* request(["dimensions"], undefined))[0]!.length

    const embed = Effect.fn("Embedder.embed")(function*(texts: ReadonlyArray<string>) {
      const out: Array<Float32Array> = texts.map(() => new Float32Array(dimensions))
      // Empty texts stay zeros: OpenAI refuses an empty input, and it has no meaning to embed.
      const asked = texts.flatMap((text, i) => text.trim() === "" ? [] : [i])
      for (let start = 0; start < asked.length; start += batchSize) {
        const batch = asked.slice(start, start + batchSize)
        const vectors = yield* request(batch.map((i) => texts[i]!), dimensions)
        batch.forEach((i, j) => {
          out[i] = vectors[j]!
        })
      }
      return out
    })

    return { model: `openai-compatible(${options.model},${dimensions})`, dimensions, embed } satisfies Service
  })

/** An OpenAI-compatible `/v1/embeddings` endpoint; requires an `HttpClient` (`FetchHttpClient.layer`). */
export const layerHttp = (options: HttpOptions): Layer.Layer<Embedder, EmbedderError, HttpClient.HttpClient> =>
  Layer.effect(Embedder, makeHttp(options))
