/**
 * `tools`: how each tool was used, per session — calls that ran, how many failed or were
 * interrupted, and the time they took (total and longest; a `task` call's is its subagent's,
 * which failed unless it completed) — and the calls that never ran because
 * a permission was refused (by a rule, the mode, or the user), by permission name (`Bash`,
 * `Edit`, …: a decision names the permission, not the tool). `render` sums every session's into
 * one table, most used tool first.
 */
import { Schema } from "effect"
import type { Envelope } from "../Envelope.js"
import * as BySession from "../internal/BySession.js"
import { count, duration, table } from "../internal/Columns.js"
import * as Projection from "../Projection.js"

export const Stats = Schema.Struct({
  calls: Schema.NonNegativeInt,
  errors: Schema.NonNegativeInt,
  interrupted: Schema.NonNegativeInt,
  totalMs: Schema.NonNegativeInt,
  maxMs: Schema.NonNegativeInt
})
export type Stats = typeof Stats.Type

export const SessionTools = Schema.Struct({
  startedAt: Schema.String,
  /** The calls that ran, by tool name. */
  tools: Schema.Record({ key: Schema.String, value: Stats }),
  /** The calls refused before they ran, by permission name. */
  refused: Schema.Record({ key: Schema.String, value: Schema.NonNegativeInt }),
  /** The permission of each call waiting for the user's answer, by tool use id. */
  asking: Schema.Record({ key: Schema.String, value: Schema.String })
})
export type SessionTools = typeof SessionTools.Type

export type State = BySession.BySession<SessionTools>

export const none: Stats = { calls: 0, errors: 0, interrupted: 0, totalMs: 0, maxMs: 0 }

export const add = (a: Stats, b: Stats): Stats => ({
  calls: a.calls + b.calls,
  errors: a.errors + b.errors,
  interrupted: a.interrupted + b.interrupted,
  totalMs: a.totalMs + b.totalMs,
  maxMs: Math.max(a.maxMs, b.maxMs)
})

const addAll = <A>(
  a: Readonly<Record<string, A>>,
  b: Readonly<Record<string, A>>,
  plus: (a: A, b: A) => A
): Record<string, A> => {
  const sum: Record<string, A> = { ...a }
  for (const [key, value] of Object.entries(b)) sum[key] = key in sum ? plus(sum[key]!, value) : value
  return sum
}

const refuse = (session: SessionTools, permission: string): SessionTools => ({
  ...session,
  refused: { ...session.refused, [permission]: (session.refused[permission] ?? 0) + 1 }
})

const ran = (
  session: SessionTools,
  tool: string,
  call: { readonly error: boolean; readonly interrupted: boolean; readonly ms: number }
): SessionTools => {
  const stats: Stats = {
    calls: 1,
    errors: call.error ? 1 : 0,
    interrupted: call.interrupted ? 1 : 0,
    totalMs: call.ms,
    maxMs: call.ms
  }
  return { ...session, tools: { ...session.tools, [tool]: add(session.tools[tool] ?? none, stats) } }
}

const evolveSession = (session: SessionTools, envelope: Envelope): SessionTools => {
  const event = envelope.event
  switch (event._tag) {
    case "ToolCallCompleted":
      return ran(session, event.tool, {
        error: event.isError,
        interrupted: event.interrupted === true,
        ms: event.durationMs
      })
    // A `task` call that spawned a subagent is answered by its completion.
    case "SubagentCompleted":
      return ran(session, "task", {
        error: event.outcome !== "completed",
        interrupted: event.outcome === "interrupted",
        ms: event.durationMs
      })
    case "PermissionDecided":
      return event.behavior === "deny"
        ? refuse(session, event.tool)
        : event.behavior === "ask"
        ? { ...session, asking: { ...session.asking, [event.toolUseId]: event.tool } }
        : session
    case "PermissionAnswered": {
      const permission = session.asking[event.toolUseId]
      if (permission === undefined) return session
      const { [event.toolUseId]: _answered, ...asking } = session.asking
      return event.answer === "deny" ? refuse({ ...session, asking }, permission) : { ...session, asking }
    }
    default:
      return session
  }
}

/** Every session's stats summed: by tool, and the refused calls by permission. */
export const totals = (
  state: State
): { readonly tools: Record<string, Stats>; readonly refused: Record<string, number> } => {
  let tools: Record<string, Stats> = {}
  let refused: Record<string, number> = {}
  for (const [, session] of state) {
    tools = addAll(tools, session.tools, add)
    refused = addAll(refused, session.refused, (a, b) => a + b)
  }
  return { tools, refused }
}

export const projection: Projection.Projection<State> = Projection.make<State>({
  name: "tools",
  version: 1,
  handles: ["ToolCallCompleted", "SubagentCompleted", "PermissionDecided", "PermissionAnswered"],
  initial: BySession.empty(),
  evolve: (state, envelope) =>
    BySession.modify(
      state,
      envelope.sessionId,
      () => ({ startedAt: envelope.at, tools: {}, refused: {}, asking: {} }),
      (session) => evolveSession(session, envelope)
    ),
  merge: BySession.merge((a, b) => ({
    startedAt: BySession.earlier(a.startedAt, b.startedAt),
    tools: addAll(a.tools, b.tools, add),
    refused: addAll(a.refused, b.refused, (x, y) => x + y),
    asking: { ...a.asking, ...b.asking }
  })),
  codec: BySession.codec(SessionTools),
  render: (state) => {
    const { refused, tools } = totals(state)
    const rows = Object.entries(tools).sort(([ta, a], [tb, b]) => b.calls - a.calls || (ta < tb ? -1 : 1))
    const refusals = Object.entries(refused).sort(([pa, a], [pb, b]) => b - a || (pa < pb ? -1 : 1))
    if (rows.length === 0 && refusals.length === 0) return ["No tool calls."]
    const all = rows.reduce((sum, [, stats]) => add(sum, stats), none)
    const sessions = Array.from(state).filter(([, s]) =>
      Object.keys(s.tools).length > 0 || Object.keys(s.refused).length > 0
    ).length
    return [
      ...table(
        ["TOOL", "CALLS", "ERRORS", "INTERRUPTED", "TOTAL", "MEAN", "MAX"],
        rows.map(([tool, s]) => [
          tool,
          count(s.calls),
          s.errors === 0 ? "0" : `${count(s.errors)} (${Math.round((100 * s.errors) / s.calls)}%)`,
          count(s.interrupted),
          duration(s.totalMs),
          duration(s.totalMs / s.calls),
          duration(s.maxMs)
        ]),
        [1, 2, 3, 4, 5, 6]
      ),
      "",
      `${count(all.calls)} call${all.calls === 1 ? "" : "s"} in ${count(sessions)} session${
        sessions === 1 ? "" : "s"
      }, ${count(all.errors)} failed, ${duration(all.totalMs)} in tools`,
      ...(refusals.length === 0
        ? []
        : [`Refused by a permission (never ran): ${refusals.map(([p, n]) => `${p} ${count(n)}`).join(", ")}`])
    ]
  }
})
