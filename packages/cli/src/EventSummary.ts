/**
 * One line per event, for people: `seq  time  agent  tag  summary`.
 *
 * The summary says what the event is about in a few words — the user's text, what the model
 * answered or which tool it called and what it cost, a permission and the rule behind it, a
 * tool's outcome and the first line of its output. Nothing here is parsed back: `--json`
 * prints the stored envelopes for machines.
 */
import type { Envelope } from "@weft/kernel/Envelope"
import type { AnyEvent } from "@weft/kernel/Events"
import type { AssistantBlock, Usage, UserBlock } from "@weft/kernel/Messages"

/** Collapses whitespace (newlines included) and cuts to `max` characters with an ellipsis. */
export const oneLine = (text: string, max: number): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1)).trimEnd()}…`
}

/** The first non-empty line of a text, marking that more followed. */
export const firstLine = (text: string, max: number): string => {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "")
  if (lines.length === 0) return ""
  const first = oneLine(lines[0]!, max)
  return lines.length > 1 && !first.endsWith("…") ? `${first} …` : first
}

export const userText = (blocks: ReadonlyArray<UserBlock>): string =>
  blocks.map((block) => (block.type === "text" ? block.text : "[image]")).join(" ")

const json = (value: unknown, max: number) => oneLine(JSON.stringify(value) ?? "", max)

const assistant = (block: AssistantBlock): string => {
  switch (block.type) {
    case "text":
      return oneLine(block.text, 80)
    case "tool_use":
      return `tool_use ${block.name} ${json(block.input, 80)}`
    case "thinking":
      return `[thinking] ${oneLine(block.thinking, 40)}`
    case "redacted_thinking":
      return "[redacted thinking]"
  }
}

export const usage = (u: Usage): string => {
  const cache = [
    u.cache_read_input_tokens > 0 ? `cache read ${u.cache_read_input_tokens}` : "",
    u.cache_creation_input_tokens > 0 ? `cache write ${u.cache_creation_input_tokens}` : ""
  ].filter((s) => s !== "")
  return [`in ${u.input_tokens}`, `out ${u.output_tokens}`, ...cache].join(" ") + " tokens"
}

const toolOutput = (content: string | ReadonlyArray<UserBlock>) =>
  typeof content === "string" ? content : userText(content)

/** What a request that is not a turn of the agent is for. */
const PURPOSES = { compact: "summary of older turns", remember: "memory pass" } as const

/** What the event is about, on one line. */
export const summary = (event: AnyEvent): string => {
  switch (event._tag) {
    case "SessionStarted":
      return [
        `project ${event.project}`,
        event.cwd === event.project ? "" : `cwd ${event.cwd}`,
        `model ${event.model}`,
        event.forkedFrom === undefined ? "" : `forked from ${event.forkedFrom.sessionId}@${event.forkedFrom.seq}`
      ].filter((s) => s !== "").join(" · ")
    case "UserMessageReceived":
      return oneLine(userText(event.content), 120)
    case "ModelRequested":
      return `${event.model} · ${event.messageCount} message${event.messageCount === 1 ? "" : "s"} · tools ${
        event.tools.length === 0 ? "none" : oneLine(event.tools.join(", "), 60)
      }${event.purpose === undefined ? "" : ` · ${PURPOSES[event.purpose]}`}`
    case "ModelResponded":
      return [
        ...event.content.map(assistant),
        usage(event.usage),
        event.stopReason === null ? "" : `stop ${event.stopReason}`
      ].filter((s) => s !== "").join(" · ")
    case "ModelFailed":
      return `${event.error.type}${event.error.status === undefined ? "" : ` ${event.error.status}`}: ${
        oneLine(event.error.message, 80)
      } · attempt ${event.attempt}${event.retryInMs !== undefined ? ` · retrying in ${event.retryInMs} ms` : ""}`
    case "PermissionDecided":
      return `${event.behavior} ${event.tool} · rule ${event.rule ?? "(none)"} · layer ${event.layer ?? "(none)"}`
    case "PermissionAnswered":
      return `${event.answer}${event.message === undefined ? "" : ` · ${oneLine(event.message, 80)}`}`
    case "FileSnapshotted":
      return `${event.path} · before ${event.before === null ? "(absent)" : event.before.slice(0, 12)}`
    case "ToolCallCompleted": {
      const output = firstLine(toolOutput(event.content), 80)
      return [
        `${event.tool} ${event.isError ? "error" : "ok"}${event.interrupted === true ? " (interrupted)" : ""}`,
        `${event.durationMs} ms`,
        output
      ].filter((s) => s !== "").join(" · ")
    }
    case "SubagentSpawned":
      return `${event.childAgentId} ${event.agentType}: ${oneLine(event.description, 80)}`
    case "SubagentCompleted":
      return `${event.childAgentId} ${event.outcome} · ${event.turns} turns · ${usage(event.usage)} · ${
        firstLine(event.summary, 60)
      }`
    case "BudgetExhausted":
      return `used ${event.usedTokens} of ${event.limitTokens} tokens; ${event.neededTokens} more needed`
    case "TurnCompleted":
      return `turn ${event.turn}${event.stopReason === null ? "" : ` · ${event.stopReason}`}`
    case "ContextCompacted":
      return `seq ${event.fromSeq}–${event.toSeq} summarised · ${usage(event.usage)}`
    case "MemoryExtracted":
      return [
        event.proposals.length === 0
          ? "nothing to remember"
          : `${event.proposals.length} proposed: ${oneLine(event.proposals.map((p) => p.text).join("; "), 80)}`,
        usage(event.usage),
        event.rejected === undefined ? "" : `left out: ${oneLine(event.rejected, 60)}`
      ].filter((s) => s !== "").join(" · ")
    case "MemoryWritten":
      return `${event.scope} ${event.kind} ${event.memoryId}: ${oneLine(event.text, 80)}`
    case "MemoryForgotten":
      return `${event.scope} ${event.memoryId}`
    case "MemoryRecalled":
      return `${event.memoryIds.length} memories for "${oneLine(event.query, 60)}"`
    case "FilesRewound":
      return `to turn ${event.toTurn} · ${event.files.length} files${event.forced ? " · forced" : ""}`
    case "SessionEnded":
      return `${event.reason}${event.message === undefined ? "" : ` · ${oneLine(event.message, 80)}`}`
    case "UnknownEvent": {
      const v = event.raw["v"]
      return `${event.tag}${typeof v === "number" ? ` v${v}` : ""} (from a newer weft; kept as written)`
    }
  }
}

/** `2026-05-02T09:22:11.123Z` → `2026-05-02 09:22:11` (UTC, as stored). */
export const time = (
  at: string
): string => (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(at) ? at.slice(0, 19).replace("T", " ") : at)

const TAG_WIDTH = 19

/** `   7  2026-05-02 09:22:11  main    ModelResponded       tool_use read {"path":"hello.txt"} · …` */
export const line = (envelope: Envelope): string => {
  const tag = envelope.event._tag
  return [
    String(envelope.seq).padStart(4),
    time(envelope.at),
    envelope.agentId.padEnd(6),
    tag.padEnd(TAG_WIDTH),
    oneLine(summary(envelope.event), 200)
  ].join("  ")
}
