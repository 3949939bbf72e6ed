/**
 * `tree`: each session's delegations — one node per agent (`main`, `main/1`, `main/1/2`) with
 * its agent type, how it ended, the turns it took, the tokens it spent itself (its subagents'
 * are on their own nodes) and how long it ran. `weft sessions tree` prints one session's.
 *
 * An agent is `running` until its `SubagentCompleted` (the main agent: its `SessionEnded`); a
 * node whose spawn was not folded has type `?`. A turn is a model request.
 */
import { Schema } from "effect"
import { charge } from "../AgentState.js"
import type { Envelope } from "../Envelope.js"
import * as BySession from "../internal/BySession.js"
import { count, table } from "../internal/Columns.js"
import * as Projection from "../Projection.js"

export const Node = Schema.Struct({
  agentId: Schema.String,
  type: Schema.String,
  outcome: Schema.String,
  turns: Schema.NonNegativeInt,
  tokens: Schema.NonNegativeInt,
  durationMs: Schema.NullOr(Schema.NonNegativeInt)
})
export type Node = typeof Node.Type

export const SessionTree = Schema.Struct({
  startedAt: Schema.String,
  /** By agent path, in the order they first appeared. */
  agents: Schema.Record({ key: Schema.String, value: Node })
})
export type SessionTree = typeof SessionTree.Type

export type State = BySession.BySession<SessionTree>

const node = (agentId: string): Node => ({
  agentId,
  type: agentId === "main" ? "main" : "?",
  outcome: "running",
  turns: 0,
  tokens: 0,
  durationMs: null
})

const update = (tree: SessionTree, agentId: string, f: (node: Node) => Node): SessionTree => ({
  ...tree,
  agents: { ...tree.agents, [agentId]: f(tree.agents[agentId] ?? node(agentId)) }
})

export const evolveSession = (tree: SessionTree, envelope: Envelope): SessionTree => {
  const event = envelope.event
  switch (event._tag) {
    case "ModelRequested":
      return update(tree, envelope.agentId, (n) => ({ ...n, turns: n.turns + 1 }))
    case "ModelResponded":
      return update(tree, envelope.agentId, (n) => ({ ...n, tokens: n.tokens + charge(event.usage) }))
    case "SessionEnded":
      return update(
        tree,
        envelope.agentId,
        (n) => (envelope.agentId === "main" ? { ...n, outcome: event.reason } : n)
      )
    case "SubagentSpawned":
      return update(
        update(tree, envelope.agentId, (n) => n),
        event.childAgentId,
        (n) => ({ ...n, type: event.agentType })
      )
    case "SubagentCompleted":
      return update(
        update(tree, envelope.agentId, (n) => n),
        event.childAgentId,
        (n) => ({ ...n, outcome: event.outcome, durationMs: event.durationMs })
      )
    default:
      return tree
  }
}

/** The same agent folded in two parts, `a`'s first. */
const combineNodes = (a: Node, b: Node): Node => ({
  agentId: a.agentId,
  type: b.type === "?" || b.type === "main" ? a.type : b.type,
  outcome: b.outcome === "running" ? a.outcome : b.outcome,
  turns: a.turns + b.turns,
  tokens: a.tokens + b.tokens,
  durationMs: b.durationMs ?? a.durationMs
})

const combine = (a: SessionTree, b: SessionTree): SessionTree => {
  const agents: Record<string, Node> = { ...a.agents }
  for (const [agentId, n] of Object.entries(b.agents)) {
    const first = agents[agentId]
    agents[agentId] = first === undefined ? n : combineNodes(first, n)
  }
  return { startedAt: BySession.earlier(a.startedAt, b.startedAt), agents }
}

/** `main`, `main/1`, `main/1/1`, `main/2`, … `main/10`: depth first, siblings in spawn order. */
export const byPath = (a: string, b: string): number => {
  const pa = a.split("/").map((p) => (p === "main" ? 0 : Number(p)))
  const pb = b.split("/").map((p) => (p === "main" ? 0 : Number(p)))
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!
  return pa.length - pb.length
}

/** A session's agents, depth first. */
export const nodes = (tree: SessionTree): ReadonlyArray<Node> =>
  Object.values(tree.agents).sort((a, b) => byPath(a.agentId, b.agentId))

/** One line per agent, indented by depth: path, type, outcome, turns, tokens, duration. */
export const lines = (agents: ReadonlyArray<Node>): ReadonlyArray<string> =>
  table(
    null,
    agents.map((n) => [
      "  ".repeat(n.agentId.split("/").length - 1) + n.agentId,
      n.type,
      n.outcome,
      `${n.turns} turns`,
      `${count(n.tokens)} tokens`,
      n.durationMs === null ? "" : `${(n.durationMs / 1000).toFixed(1)} s`
    ])
  ).map((line) => line.trimEnd())

export const projection: Projection.Projection<State> = Projection.make<State>({
  name: "tree",
  version: 1,
  handles: ["ModelRequested", "ModelResponded", "SessionEnded", "SubagentSpawned", "SubagentCompleted"],
  initial: BySession.empty(),
  evolve: (state, envelope) =>
    BySession.modify(
      state,
      envelope.sessionId,
      () => ({ startedAt: envelope.at, agents: {} }),
      (tree) => evolveSession(tree, envelope)
    ),
  merge: BySession.merge(combine),
  codec: BySession.codec(SessionTree),
  render: (state) => {
    const sessions = BySession.sorted(state)
    if (sessions.length === 0) return ["No sessions."]
    return sessions.flatMap(([sessionId, tree], i) => [
      ...(i === 0 ? [] : [""]),
      `session ${sessionId}`,
      ...lines(nodes(tree)).map((line) => `  ${line}`)
    ])
  }
})
