/**
 * `permissions`: an audit log — every permission decision of each session, in order, with the
 * rule and settings layer that made it (null: the mode's default), what the rule was matched
 * against, and, when the decision was to ask, what the user answered.
 */
import { Chunk, Schema } from "effect"
import type { Envelope } from "../Envelope.js"
import { PermissionBehavior } from "../Events.js"
import * as BySession from "../internal/BySession.js"
import { count, oneLine, table, time } from "../internal/Columns.js"
import * as Projection from "../Projection.js"

export const Answer = Schema.Struct({
  answer: Schema.Literal("allow_once", "allow_session", "deny"),
  message: Schema.NullOr(Schema.String),
  /** For `allow_session`: the rules granted for the rest of the session. */
  rules: Schema.Array(Schema.String)
})
export type Answer = typeof Answer.Type

export const Decision = Schema.Struct({
  seq: Schema.Int,
  at: Schema.String,
  agentId: Schema.String,
  toolUseId: Schema.String,
  tool: Schema.String,
  behavior: PermissionBehavior,
  /** The rule as written (`Bash(npm test:*)`); null when no rule matched and the mode decided. */
  rule: Schema.NullOr(Schema.String),
  /** The settings layer of the rule, or the permission mode. */
  layer: Schema.NullOr(Schema.String),
  reason: Schema.String,
  /** What the rules were matched against: the resolved path or the command. */
  subject: Schema.NullOr(Schema.String),
  /** What the user answered an `ask`; null until answered (and for allow and deny). */
  answer: Schema.NullOr(Answer)
})
export type Decision = typeof Decision.Type

export const SessionPermissions = Schema.Struct({
  startedAt: Schema.String,
  /** In the order they were made. */
  decisions: Schema.Chunk(Decision)
})
export type SessionPermissions = typeof SessionPermissions.Type

export type State = BySession.BySession<SessionPermissions>

const evolveSession = (session: SessionPermissions, envelope: Envelope): SessionPermissions => {
  const event = envelope.event
  switch (event._tag) {
    case "PermissionDecided":
      return {
        ...session,
        decisions: Chunk.append(session.decisions, {
          seq: envelope.seq,
          at: envelope.at,
          agentId: envelope.agentId,
          toolUseId: event.toolUseId,
          tool: event.tool,
          behavior: event.behavior,
          rule: event.rule,
          layer: event.layer,
          reason: event.reason,
          subject: event.subject ?? null,
          answer: null
        })
      }
    case "PermissionAnswered": {
      // The question is the latest decision on the call: asked moments before, so found from the end.
      const i = Chunk.findLastIndex(session.decisions, (d) => d.toolUseId === event.toolUseId)
      if (i._tag === "None") return session
      const answer: Answer = { answer: event.answer, message: event.message ?? null, rules: event.rules ?? [] }
      return { ...session, decisions: Chunk.modify(session.decisions, i.value, (d) => ({ ...d, answer })) }
    }
    default:
      return session
  }
}

/** What was decided, as the audit shows it: `allow`, `deny`, `ask → allow_session`, `ask (unanswered)`. */
export const outcome = (d: Decision): string =>
  d.behavior !== "ask" ? d.behavior : d.answer === null ? "ask (unanswered)" : `ask → ${d.answer.answer}`

export const projection: Projection.Projection<State> = Projection.make<State>({
  name: "permissions",
  version: 1,
  handles: ["PermissionDecided", "PermissionAnswered"],
  initial: BySession.empty(),
  evolve: (state, envelope) =>
    BySession.modify(
      state,
      envelope.sessionId,
      () => ({ startedAt: envelope.at, decisions: Chunk.empty() }),
      (session) => evolveSession(session, envelope)
    ),
  merge: BySession.merge((a, b) => ({
    startedAt: BySession.earlier(a.startedAt, b.startedAt),
    decisions: Chunk.appendAll(a.decisions, b.decisions)
  })),
  codec: BySession.codec(SessionPermissions),
  render: (state) => {
    const decisions = BySession.sorted(state).flatMap(([sessionId, session]) =>
      Chunk.toReadonlyArray(session.decisions).map((d) => ({ sessionId, d }))
    ).sort((a, b) => (a.d.at < b.d.at ? -1 : a.d.at > b.d.at ? 1 : 0))
    if (decisions.length === 0) return ["No permission decisions."]
    const tally = (f: (d: Decision) => boolean) => count(decisions.filter(({ d }) => f(d)).length)
    return [
      ...table(
        ["TIME", "SESSION", "AGENT", "DECISION", "TOOL", "RULE", "LAYER", "SUBJECT", "REASON"],
        decisions.map(({ d, sessionId }) => [
          time(d.at),
          sessionId.slice(0, 8),
          d.agentId,
          outcome(d),
          d.tool,
          d.rule ?? "-",
          d.layer ?? "-",
          d.subject === null ? "-" : oneLine(d.subject, 60),
          oneLine(d.reason, 80)
        ])
      ),
      "",
      `${count(decisions.length)} decision${decisions.length === 1 ? "" : "s"}: ${
        tally((d) => d.behavior === "allow")
      } allowed by rule or mode, ${tally((d) => d.behavior === "deny")} denied, ${
        tally((d) => d.behavior === "ask")
      } asked (${tally((d) => d.answer !== null && d.answer.answer !== "deny")} allowed by the user)`
    ]
  }
})
