/**
 * The `memory` key of settings: whether long-term memory is on, how it finds implicit memories,
 * which embedder it uses, and its tuning. Every key is optional; `{}` (or no key at all) is the
 * default — memory on, implicit memories found by rules, the offline hashing embedder.
 *
 * ```json
 * { "memory": { "enabled": true,
 *               "extraction": "model",
 *               "embedder": { "baseUrl": "http://127.0.0.1:11434", "model": "nomic-embed-text" },
 *               "weights": { "keyword": 1, "vector": 0.2 } } }
 * ```
 */
import type { Layer } from "effect"
import { Either, ParseResult, Schema } from "effect"
import * as ConversationIndex from "./ConversationIndex.js"
import * as Embedder from "./Embedder.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())
const NonNegative = Schema.Number.pipe(Schema.nonNegative(), Schema.finite())

export const MemorySettings = Schema.Struct({
  /** Off: sessions neither read nor feed long-term memory, and the memory tools are not offered. */
  enabled: Schema.optional(Schema.Boolean),
  /**
   * How implicit memories are found in what the user writes: `rules` (the default), or `model` —
   * the rules and, at the end of each turn, a model pass over the turn's message (one more request
   * a turn, charged to the session's budget, logged and replayed like any other).
   */
  extraction: Schema.optional(Schema.Literal("rules", "model")),
  /** An OpenAI-compatible `/v1/embeddings` endpoint; absent: offline hashing vectors. */
  embedder: Schema.optional(Embedder.HttpEmbedderOptions),
  /** Reciprocal rank fusion, over `ConversationIndex.defaultWeights`: each ranking's weight, the rank constant. */
  weights: Schema.optional(Schema.Struct({
    keyword: Schema.optional(NonNegative),
    vector: Schema.optional(NonNegative),
    k: Schema.optional(PositiveInt),
    context: Schema.optional(NonNegative)
  })),
  /** Turns in a growing segment before it is sealed to disk. */
  sealAt: Schema.optional(PositiveInt),
  /** Characters of memory put in a session's system prompt. */
  contextChars: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
})
export type MemorySettings = typeof MemorySettings.Type

/** The settings from the merged `memory` value, or the key and what is wrong with it (`memory.weights.k: …`). */
export const decode = (value: unknown): Either.Either<MemorySettings, string> =>
  Either.mapLeft(
    Schema.decodeUnknownEither(MemorySettings, { onExcessProperty: "error" })(value ?? {}),
    (error) => {
      const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
      return issue === undefined
        ? `memory: ${error.message}`
        : `${["memory", ...issue.path.map(String)].join(".")}: ${issue.message}`
    }
  )

/** The fusion weights: the settings' over the defaults. */
export const weightsOf = (settings: MemorySettings): ConversationIndex.Weights => {
  const given = settings.weights ?? {}
  const defaults = ConversationIndex.defaultWeights
  return {
    keyword: given.keyword ?? defaults.keyword,
    vector: given.vector ?? defaults.vector,
    k: given.k ?? defaults.k,
    context: given.context ?? defaults.context
  }
}

/** The offline embedder: hashing the analyzer's terms, as conversation search is tuned for. */
export const offlineEmbedder: Layer.Layer<Embedder.Embedder> = ConversationIndex.layerEmbedder
