/**
 * The envelope every event is stored in: one per line of a session log.
 *
 * `seq` is gapless and 1-based per session; `id` is a UUIDv7 from `Ids`; `parentId` is the
 * causal parent (the event this one answers); `agentId` is `main` or a subagent path;
 * `at` is an ISO-8601 UTC time from `Clock`.
 */
import type { AgentId } from "./Events.js"
import type { AnyEvent } from "./Events.js"

export interface Envelope<E = AnyEvent> {
  readonly seq: number
  readonly id: string
  readonly parentId: string | null
  readonly sessionId: string
  readonly agentId: typeof AgentId.Type
  readonly at: string
  readonly event: E
}

/** An event on its way into the log: the log assigns `seq`, `id`, `sessionId` and `at`. */
export interface Draft {
  readonly event: AnyEvent
  readonly agentId?: string
  readonly parentId?: string | null
}

export const draft = (event: AnyEvent, options?: { readonly agentId?: string; readonly parentId?: string | null }) =>
  ({ event, ...options }) satisfies Draft

export const toDraft = (input: AnyEvent | Draft): Draft => ("_tag" in input ? { event: input } : input)
