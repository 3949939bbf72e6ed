/**
 * Projections for testing the runner, and the resolver of the test's worker thread.
 *
 * `summing` counts and sums what it folds, and keeps every session's seqs in the order folded
 * (so a fold that reorders or repeats a session's lines shows). It merges, so it can be folded
 * in worker threads.
 */
import type { Json } from "@weft/kernel/Json"
import * as Projection from "@weft/kernel/Projection"
import { Effect, Schema } from "effect"
import type { ProjectionRef } from "../../src/ProjectionRunner.js"
import { ProjectionError } from "../../src/ProjectionRunner.js"
import type { Resolver } from "../../src/ProjectionWorker.js"
import { formatsWith } from "../../src/ProjectionWorker.js"

const Sums = Schema.Struct({
  events: Schema.Number,
  seqSum: Schema.Number,
  textLength: Schema.Number,
  bySession: Schema.Record({ key: Schema.String, value: Schema.Array(Schema.Number) })
})
export type Sums = typeof Sums.Type

export const summing = Projection.make<Sums>({
  name: "summing",
  version: 1,
  handles: ["UserMessageReceived", "ToolCallCompleted"],
  initial: { events: 0, seqSum: 0, textLength: 0, bySession: {} },
  evolve: (state, envelope) => ({
    events: state.events + 1,
    seqSum: state.seqSum + envelope.seq,
    textLength: state.textLength + (envelope.event._tag === "UserMessageReceived"
      ? envelope.event.content.reduce((n, block) => n + ("text" in block ? block.text.length : 0), 0)
      : 0),
    bySession: {
      ...state.bySession,
      [envelope.sessionId]: [...(state.bySession[envelope.sessionId] ?? []), envelope.seq]
    }
  }),
  codec: Sums as unknown as Schema.Schema<Sums, Json>,
  merge: (a, b) => {
    const bySession: Record<string, ReadonlyArray<number>> = { ...a.bySession }
    for (const [session, seqs] of Object.entries(b.bySession)) {
      bySession[session] = [...(bySession[session] ?? []), ...seqs]
    }
    return {
      events: a.events + b.events,
      seqSum: a.seqSum + b.seqSum,
      textLength: a.textLength + b.textLength,
      bySession
    }
  }
})

/**
 * Every event folded, as `<session>:<seq>`, in the order folded: a fold that drops, repeats or
 * reorders anything — or merges partial states out of order — shows.
 */
export const ordered = Projection.make<ReadonlyArray<string>>({
  name: "ordered",
  version: 1,
  handles: ["UserMessageReceived", "ToolCallCompleted"],
  initial: [],
  evolve: (state, envelope) => [...state, `${envelope.sessionId}:${envelope.seq}`],
  codec: Schema.Array(Schema.String) as unknown as Schema.Schema<ReadonlyArray<string>, Json>,
  merge: (a, b) => [...a, ...b]
})

const byName = new Map<string, Projection.Any>([[summing.name, summing], [ordered.name, ordered]])

/** How the test worker finds its projections: built-ins by name. */
export const resolver: Resolver = {
  projection: (ref: ProjectionRef) => {
    const found = ref._tag === "Builtin" ? byName.get(ref.name) : undefined
    return found !== undefined
      ? Effect.succeed(found)
      : Effect.fail(new ProjectionError({ path: JSON.stringify(ref), reason: "no such test projection" }))
  },
  format: formatsWith((ref) => {
    throw new Error(`no reader for ${ref._tag} in the test worker`)
  })
}
