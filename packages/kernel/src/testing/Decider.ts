/**
 * given/when/then for the decider, with no layer: `given(events).decide()` folds the events
 * (stamped as a log would) and returns the intents; `then(expected)` compares them.
 */
import type { Intent } from "../AgentDecider.js"
import { decide } from "../AgentDecider.js"
import type { AgentState } from "../AgentState.js"
import { evolve, initial } from "../AgentState.js"
import type { Envelope } from "../Envelope.js"
import type { AnyEvent } from "../Events.js"
import { canonical } from "../Replay.js"

/** Envelopes for events as the log would stamp them: seq from 1, counting ids, a fixed time. */
export const envelopes = (events: ReadonlyArray<AnyEvent>, agentId = "main", sessionId = "test"): Array<Envelope> =>
  events.map((event, i) => ({
    seq: i + 1,
    id: `00000000-0000-7000-8000-${(i + 1).toString(16).padStart(12, "0")}`,
    parentId: i === 0 ? null : `00000000-0000-7000-8000-${i.toString(16).padStart(12, "0")}`,
    sessionId,
    agentId,
    at: "2026-01-01T00:00:00.000Z",
    event
  }))

export interface Given {
  readonly state: AgentState
  readonly decide: () => ReadonlyArray<Intent>
  /** The intents' tags and, for decisions, the decision events. */
  readonly then: (expected: ReadonlyArray<Intent["_tag"] | AnyEvent>) => void
}

export const given = (events: ReadonlyArray<AnyEvent>, agentId = "main"): Given => {
  const state = envelopes(events, agentId).reduce(evolve, initial(agentId))
  return {
    state,
    decide: () => decide(state),
    then: (expected) => {
      const actual = decide(state).map((intent) =>
        intent._tag === "RequestModel" || intent._tag === "CompleteTurn" ? intent.decision : intent._tag
      )
      // Keys sorted: a decision is the same whatever order its fields were given in.
      const show = (xs: ReadonlyArray<unknown>) => canonical(xs)
      if (show(actual) !== show(expected)) {
        throw new Error(`expected the decider to decide ${show(expected)}, but it decided ${show(actual)}`)
      }
    }
  }
}
