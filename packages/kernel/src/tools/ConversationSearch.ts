/**
 * `conversation_search`: finds what was said in earlier sessions — keyword (BM25) and meaning
 * (vectors) together — so the model can pick up a decision, an error or a preference from last
 * week. Results show the session, the time, who said it and the passage.
 *
 * By default it searches this project's other sessions; `project: "all"` searches every project,
 * `session` one session (this one too).
 */
import { Effect, Schema } from "effect"
import { optional, positiveInt, required } from "../internal/Fields.js"
import { MemoryIndex } from "../MemoryIndex.js"
import type { SearchFilters } from "../MemoryIndex.js"
import * as Tool from "../Tool.js"

export const Input = Schema.Struct({
  query: required(Schema.String.pipe(Schema.minLength(1)), "What to look for, in words (any language)"),
  k: optional(positiveInt, "How many results (default 8, at most 50)"),
  project: optional(Schema.String, `"all" for every project; by default this project only`),
  session: optional(Schema.String, "Only this session (its id)"),
  role: optional(Schema.Literal("user", "assistant"), "Only what the user, or the assistant, said"),
  since: optional(Schema.String, "From this day (YYYY-MM-DD) or instant on"),
  until: optional(Schema.String, "Up to this day (YYYY-MM-DD) or instant")
})
export type Input = typeof Input.Type

const description = `Searches earlier conversations (this project's by default) for what was said: decisions, errors,
preferences, names. Matches words and meaning, in any language. Each result: session, time, role and the passage.`

const DEFAULT_K = 8
const MAX_K = 50

export const make = Effect.gen(function*() {
  const index = yield* MemoryIndex
  return Tool.make({
    name: "conversation_search",
    description,
    input: Input,
    readOnly: true,
    permission: () => ({ _tag: "Other", tool: "ConversationSearch", specifier: "", readOnly: true }),
    execute: (input, context) =>
      Effect.gen(function*() {
        const filters: SearchFilters = {
          ...(input.project === "all" ? {} : { project: input.project ?? context.cwd }),
          // This session's own words are not an earlier conversation, unless it is asked for by id.
          ...(input.session === undefined ? { exceptSession: context.sessionId } : { sessionId: input.session }),
          ...(input.role === undefined ? {} : { role: input.role }),
          ...(input.since === undefined ? {} : { since: input.since }),
          ...(input.until === undefined ? {} : { until: input.until })
        }
        const hits = yield* index.search(input.query, { ...filters, k: Math.min(MAX_K, input.k ?? DEFAULT_K) }).pipe(
          Effect.mapError((e) => new Tool.ToolError({ tool: "conversation_search", message: e.message }))
        )
        if (hits.length === 0) return { content: `Nothing found for "${input.query}".` }
        return {
          content: hits.map((hit) =>
            `[${hit.kind === "memory" ? "memory" : `session ${hit.sessionId}`} · ${
              hit.at.slice(0, 16).replace("T", " ")
            } · ${hit.role}] ${hit.snippet}`
          ).join("\n")
        }
      })
  })
})
