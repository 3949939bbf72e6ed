/**
 * Long-term memory, as the agent loop and its tools see it: what the user asked weft to
 * remember (and what it noticed), and a search over every past conversation. The indexes behind
 * it are projections of the log (`@weft/memory`); this port is how the kernel reads them.
 *
 * - `ingest` hands the index what was just appended, so a message is searchable at once; the
 *   agent loop calls it after every append when a `MemoryIndex` is provided.
 * - `memories` lists live entries (never an expired or forgotten one), most important first.
 * - `search` finds conversation turns (and memory entries) for a query: hybrid keyword + vector.
 * - `context` is the block put into a new session's system prompt after the static instructions:
 *   the user's memory and the recent topics. It is recorded in `SessionStarted.memory`, so a
 *   replay sends exactly what the live run sent.
 *
 * `layerNone` remembers nothing: sessions run without memory.
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { Envelope } from "./Envelope.js"
import type { MemoryScope } from "./Events.js"

export interface MemoryEntry {
  readonly memoryId: string
  readonly scope: MemoryScope
  readonly kind: "explicit" | "implicit"
  /** What kind of statement it is: preference, identity, fact, instruction. */
  readonly category?: string
  readonly text: string
  /** The project a `project` entry belongs to. */
  readonly project?: string
  readonly createdAt: string
  readonly expiresAt?: string
  /** Recency, frequency and type together: larger is more important. */
  readonly importance: number
}

export interface SearchFilters {
  /** One project's conversations (its real path); all projects when absent. */
  readonly project?: string
  readonly sessionId?: string
  /** Leave this session out (the one asking: its own words are not an earlier conversation). */
  readonly exceptSession?: string
  readonly role?: "user" | "assistant"
  /** ISO instants or days (YYYY-MM-DD), inclusive. */
  readonly since?: string
  readonly until?: string
}

export interface SearchHit {
  /** The envelope id of the turn (or the memory id of an entry). */
  readonly id: string
  readonly kind: "turn" | "memory"
  readonly sessionId: string
  readonly project: string
  readonly role: "user" | "assistant"
  readonly at: string
  /** The turn's text around what matched, on one line. */
  readonly snippet: string
  readonly score: number
}

export class MemoryIndexError extends Schema.TaggedError<MemoryIndexError>()("MemoryIndexError", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

export interface Service {
  readonly ingest: (envelopes: ReadonlyArray<Envelope>) => Effect.Effect<void, MemoryIndexError>
  readonly memories: (options: {
    /** The project asking: its `project` entries and every `user` entry. */
    readonly project: string
    readonly scope?: MemoryScope
    readonly limit?: number
  }) => Effect.Effect<ReadonlyArray<MemoryEntry>, MemoryIndexError>
  readonly search: (
    query: string,
    options?: SearchFilters & { readonly k?: number }
  ) => Effect.Effect<ReadonlyArray<SearchHit>, MemoryIndexError>
  readonly context: (project: string) => Effect.Effect<string, MemoryIndexError>
}

export class MemoryIndex extends Context.Tag("@weft/kernel/MemoryIndex")<MemoryIndex, Service>() {}

/** No memory: nothing is kept, nothing is found, nothing is injected. */
export const none: Service = {
  ingest: () => Effect.void,
  memories: () => Effect.succeed([]),
  search: () => Effect.succeed([]),
  context: () => Effect.succeed("")
}

export const layerNone: Layer.Layer<MemoryIndex> = Layer.succeed(MemoryIndex, none)
