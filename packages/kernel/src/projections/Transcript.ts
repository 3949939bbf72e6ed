/**
 * `transcript`: each session's conversation, per agent, for reading — what the user said, what
 * the model answered (and thought), each tool call and its result (or the permission that refused
 * it), each delegation and what it came back with, and where older turns were summarised. Texts are kept whole; a tool's input
 * and output are cut (to `MAX_INPUT` and `MAX_OUTPUT` characters), as the log has them in full.
 */
import { Chunk, Schema } from "effect"
import type { Envelope } from "../Envelope.js"
import * as BySession from "../internal/BySession.js"
import { oneLine, time } from "../internal/Columns.js"
import type { UserBlock } from "../Messages.js"
import * as Projection from "../Projection.js"
import { byPath } from "./Tree.js"

/** How much of a tool call's input (as JSON) a transcript keeps. */
export const MAX_INPUT = 1000
/** How much of a tool's output a transcript keeps. */
export const MAX_OUTPUT = 2000

const at = { seq: Schema.Int, at: Schema.String }

export const Entry = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("user"), ...at, text: Schema.String }),
  Schema.Struct({ kind: Schema.Literal("assistant"), ...at, text: Schema.String }),
  Schema.Struct({ kind: Schema.Literal("thinking"), ...at, text: Schema.String }),
  Schema.Struct({
    kind: Schema.Literal("tool_use"),
    ...at,
    toolUseId: Schema.String,
    tool: Schema.String,
    /** The input as JSON, cut to `MAX_INPUT` characters. */
    input: Schema.String
  }),
  Schema.Struct({
    kind: Schema.Literal("tool_result"),
    ...at,
    toolUseId: Schema.String,
    tool: Schema.String,
    isError: Schema.Boolean,
    /** The output, cut to `MAX_OUTPUT` characters. */
    text: Schema.String
  }),
  Schema.Struct({
    kind: Schema.Literal("denied"),
    ...at,
    toolUseId: Schema.String,
    /** Why: the decision's reason, or what the user said. */
    reason: Schema.String
  }),
  Schema.Struct({
    kind: Schema.Literal("subagent"),
    ...at,
    childAgentId: Schema.String,
    agentType: Schema.String,
    description: Schema.String
  }),
  Schema.Struct({
    kind: Schema.Literal("subagent_result"),
    ...at,
    childAgentId: Schema.String,
    outcome: Schema.String,
    summary: Schema.String
  }),
  Schema.Struct({
    kind: Schema.Literal("compacted"),
    ...at,
    fromSeq: Schema.Int,
    toSeq: Schema.Int,
    text: Schema.String
  })
)
export type Entry = typeof Entry.Type

export const SessionTranscript = Schema.Struct({
  startedAt: Schema.String,
  project: Schema.NullOr(Schema.String),
  model: Schema.NullOr(Schema.String),
  /** By agent path, each agent's entries in order. */
  agents: Schema.Record({ key: Schema.String, value: Schema.Chunk(Entry) })
})
export type SessionTranscript = typeof SessionTranscript.Type

export type State = BySession.BySession<SessionTranscript>

/** `text`, or its first `max` characters and how many more there were. */
export const cut = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more characters]`

const blocksText = (blocks: ReadonlyArray<UserBlock>): string =>
  blocks.map((block) => (block.type === "text" ? block.text : "[image]")).join("\n")

const add = (session: SessionTranscript, agentId: string, entries: ReadonlyArray<Entry>): SessionTranscript =>
  entries.length === 0 ? session : {
    ...session,
    agents: {
      ...session.agents,
      [agentId]: Chunk.appendAll(session.agents[agentId] ?? Chunk.empty(), Chunk.fromIterable(entries))
    }
  }

const evolveSession = (session: SessionTranscript, envelope: Envelope): SessionTranscript => {
  const event = envelope.event
  const where = { seq: envelope.seq, at: envelope.at }
  switch (event._tag) {
    case "SessionStarted":
      return { ...session, project: event.project, model: event.model }
    case "UserMessageReceived":
      return add(session, envelope.agentId, [{ kind: "user", ...where, text: blocksText(event.content) }])
    case "ModelResponded":
      return add(
        session,
        envelope.agentId,
        event.content.flatMap((block): ReadonlyArray<Entry> => {
          switch (block.type) {
            case "text":
              return block.text.trim() === "" ? [] : [{ kind: "assistant", ...where, text: block.text }]
            case "thinking":
              return [{ kind: "thinking", ...where, text: block.thinking }]
            case "redacted_thinking":
              return []
            case "tool_use":
              return [{
                kind: "tool_use",
                ...where,
                toolUseId: block.id,
                tool: block.name,
                input: cut(JSON.stringify(block.input), MAX_INPUT)
              }]
          }
        })
      )
    case "ToolCallCompleted":
      return add(session, envelope.agentId, [{
        kind: "tool_result",
        ...where,
        toolUseId: event.toolUseId,
        tool: event.tool,
        isError: event.isError,
        text: cut(typeof event.content === "string" ? event.content : blocksText(event.content), MAX_OUTPUT)
      }])
    case "PermissionDecided":
      return event.behavior !== "deny"
        ? session
        : add(session, envelope.agentId, [{
          kind: "denied",
          ...where,
          toolUseId: event.toolUseId,
          reason: event.reason
        }])
    case "PermissionAnswered":
      return event.answer !== "deny" ? session : add(session, envelope.agentId, [{
        kind: "denied",
        ...where,
        toolUseId: event.toolUseId,
        reason: event.message ?? "the user said no"
      }])
    case "SubagentSpawned":
      return add(session, envelope.agentId, [{
        kind: "subagent",
        ...where,
        childAgentId: event.childAgentId,
        agentType: event.agentType,
        description: event.description
      }])
    case "SubagentCompleted":
      return add(session, envelope.agentId, [{
        kind: "subagent_result",
        ...where,
        childAgentId: event.childAgentId,
        outcome: event.outcome,
        summary: event.summary
      }])
    case "ContextCompacted":
      return add(session, envelope.agentId, [{
        kind: "compacted",
        ...where,
        fromSeq: event.fromSeq,
        toSeq: event.toSeq,
        text: event.summary.map((block) => block.text).join("\n")
      }])
    default:
      return session
  }
}

const combine = (a: SessionTranscript, b: SessionTranscript): SessionTranscript => {
  const agents: Record<string, Chunk.Chunk<Entry>> = { ...a.agents }
  for (const [agentId, entries] of Object.entries(b.agents)) {
    agents[agentId] = Chunk.appendAll(agents[agentId] ?? Chunk.empty(), entries)
  }
  return {
    startedAt: BySession.earlier(a.startedAt, b.startedAt),
    project: b.project ?? a.project,
    model: b.model ?? a.model,
    agents
  }
}

/** How many lines of a tool's output `render` shows. */
const SHOWN_OUTPUT_LINES = 8

/** `label text`, the text's further lines indented under it. */
const labelled = (label: string, text: string, maxLines = Infinity): Array<string> => {
  const lines = text.replace(/\s+$/, "").split("\n")
  const shown = lines.slice(0, maxLines)
  const more = lines.length - shown.length
  return [
    `${label} ${shown[0] ?? ""}`.trimEnd(),
    ...shown.slice(1).map((line) => `    ${line}`.trimEnd()),
    ...(more > 0 ? [`    … ${more} more line${more === 1 ? "" : "s"}`] : [])
  ]
}

/** An entry as people read it, on one line or a few; `tools` names the tool of each call. */
export const entryLines = (entry: Entry, tools: ReadonlyMap<string, string> = new Map()): Array<string> => {
  switch (entry.kind) {
    case "user":
      return labelled("user:", entry.text)
    case "assistant":
      return labelled("assistant:", entry.text)
    case "thinking":
      return labelled("thinking:", entry.text)
    case "tool_use":
      return [`→ ${entry.tool} ${oneLine(entry.input, 200)}`]
    case "tool_result":
      return labelled(`← ${entry.tool}${entry.isError ? " (error)" : ""}:`, entry.text, SHOWN_OUTPUT_LINES)
    case "denied":
      return labelled(`← ${tools.get(entry.toolUseId) ?? "call"} (refused):`, entry.reason)
    case "subagent":
      return [`⇒ ${entry.childAgentId} ${entry.agentType}: ${oneLine(entry.description, 120)}`]
    case "subagent_result":
      return labelled(`⇐ ${entry.childAgentId} ${entry.outcome}:`, entry.summary, SHOWN_OUTPUT_LINES)
    case "compacted":
      return labelled(`[seq ${entry.fromSeq}–${entry.toSeq} summarised]`, entry.text, SHOWN_OUTPUT_LINES)
  }
}

/** A session's transcript: a header, then each agent's entries under its path (and type). */
export const sessionLines = (sessionId: string, session: SessionTranscript): Array<string> => {
  const types = new Map<string, string>()
  const tools = new Map<string, string>()
  for (const entries of Object.values(session.agents)) {
    for (const entry of entries) {
      if (entry.kind === "subagent") types.set(entry.childAgentId, entry.agentType)
      if (entry.kind === "tool_use") tools.set(entry.toolUseId, entry.tool)
    }
  }
  const header = [
    `session ${sessionId}`,
    time(session.startedAt),
    ...(session.project === null ? [] : [session.project]),
    ...(session.model === null ? [] : [session.model])
  ].join(" · ")
  return [
    header,
    ...Object.keys(session.agents).sort(byPath).flatMap((agentId) => [
      "",
      `── ${agentId}${types.has(agentId) ? ` (${types.get(agentId)})` : ""}`,
      ...Chunk.toReadonlyArray(session.agents[agentId]!).flatMap((entry) => entryLines(entry, tools))
    ])
  ]
}

export const projection: Projection.Projection<State> = Projection.make<State>({
  name: "transcript",
  version: 1,
  handles: [
    "SessionStarted",
    "UserMessageReceived",
    "ModelResponded",
    "ToolCallCompleted",
    "PermissionDecided",
    "PermissionAnswered",
    "SubagentSpawned",
    "SubagentCompleted",
    "ContextCompacted"
  ],
  initial: BySession.empty(),
  evolve: (state, envelope) =>
    BySession.modify(
      state,
      envelope.sessionId,
      () => ({ startedAt: envelope.at, project: null, model: null, agents: {} }),
      (session) => evolveSession(session, envelope)
    ),
  merge: BySession.merge(combine),
  codec: BySession.codec(SessionTranscript),
  render: (state) => {
    const sessions = BySession.sorted(state)
    if (sessions.length === 0) return ["No sessions."]
    return sessions.flatMap((
      [sessionId, session],
      i
    ) => [...(i === 0 ? [] : ["", ""]), ...sessionLines(sessionId, session)])
  }
})
