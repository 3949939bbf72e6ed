/**
 * A projection for testing checkpoints whose state is mostly long strings, as the usage
 * projection's is. Each user message folded adds a line of `LINE` characters (its session, seq and
 * text, padded) to its session's string in `bySession` and to the session's last chunk in
 * `chunks` (a new chunk every third message); `all` is the sessions' strings one after the other,
 * in the order of their ids. A tool call only counts, in `tools`. The strings pass the runner's
 * side-file threshold (16 Ki characters) after three messages, and a tool call leaves every one
 * of them as it was. Nothing depends on the order of lines across sessions: a resumed run, which
 * folds what each file gained in file order, gives what a full fold gives.
 */
import type { Json } from "@weft/kernel/Json"
import * as Projection from "@weft/kernel/Projection"
import { Schema } from "effect"

const Lengthy = Schema.Struct({
  all: Schema.String,
  bySession: Schema.Record({ key: Schema.String, value: Schema.String }),
  chunks: Schema.Record({ key: Schema.String, value: Schema.Array(Schema.String) }),
  tools: Schema.Number
})
export type Lengthy = typeof Lengthy.Type

/** The characters each user message adds to each string it goes into. */
export const LINE = 6_000

export const lengthy = Projection.make<Lengthy>({
  name: "lengthy",
  version: 1,
  handles: ["UserMessageReceived", "ToolCallCompleted"],
  initial: { all: "", bySession: {}, chunks: {}, tools: 0 },
  evolve: (state, envelope) => {
    if (envelope.event._tag !== "UserMessageReceived") return { ...state, tools: state.tools + 1 }
    const session = envelope.sessionId
    const text = envelope.event.content.map((block) => "text" in block ? block.text : "").join("")
    const start = `${session}:${envelope.seq}:${text}|`
    const line = start + ".".repeat(Math.max(0, LINE - start.length))
    const bySession = { ...state.bySession, [session]: (state.bySession[session] ?? "") + line }
    const chunks = state.chunks[session] ?? []
    const last = chunks[chunks.length - 1]
    return {
      all: Object.keys(bySession).sort().map((key) => bySession[key]).join(""),
      bySession,
      chunks: {
        ...state.chunks,
        [session]: last === undefined || last.length >= 3 * LINE
          ? [...chunks, line]
          : [...chunks.slice(0, -1), last + line]
      },
      tools: state.tools
    }
  },
  codec: Lengthy as unknown as Schema.Schema<Lengthy, Json>
})
