/**
 * `weft replay <session> [--verify] [--until SEQ] [--json]`: re-runs the kernel over a
 * recorded session without calling any model or tool.
 *
 * Without `--verify` it folds the log (up to `--until`) and shows the agent's state there.
 * With `--verify` every recorded decision is decided again from the state folded before it —
 * permissions included, from the rules the session recorded — and the first difference is
 * reported with its seq, what the log has and what the kernel decides now (exit 1).
 */
import { Args, Command, Options } from "@effect/cli"
import type { AgentState } from "@weft/kernel/AgentState"
import { evolveAll, transcript } from "@weft/kernel/AgentState"
import { EventLog } from "@weft/kernel/EventLog"
import type { MessageParam } from "@weft/kernel/Messages"
import { evaluator } from "@weft/kernel/PermissionReplay"
import * as Replay from "@weft/kernel/Replay"
import { builtins } from "@weft/kernel/ToolRegistry"
import { Effect, Option, Stream } from "effect"
import * as EventSummary from "./EventSummary.js"
import * as Output from "./Output.js"
import * as SessionLookup from "./SessionLookup.js"

const describeMessage = (message: MessageParam): string =>
  message.content.map((block) => {
    switch (block.type) {
      case "text":
        return EventSummary.oneLine(block.text, 80)
      case "tool_use":
        return `tool_use ${block.name} ${EventSummary.oneLine(JSON.stringify(block.input), 60)}`
      case "tool_result":
        return `${block.is_error === true ? "tool_error" : "tool_result"} ${block.tool_use_id}: ${
          EventSummary.oneLine(
            typeof block.content === "string" ? block.content : EventSummary.userText(block.content),
            60
          )
        }`
      case "thinking":
        return `thinking ${EventSummary.oneLine(block.thinking, 40)}`
      case "redacted_thinking":
        return "redacted thinking"
      case "image":
        return "image"
    }
  }).join(" · ")

export const describeState = (sessionId: string, state: AgentState): ReadonlyArray<string> => {
  const usage = state.usage
  const messages = transcript(state)
  return [
    `session ${sessionId} at seq ${state.lastSeq} (agent ${state.agentId})`,
    `turn ${state.turn} · ${state.status} · ${state.requests} model requests · tokens in ${usage.input_tokens} ` +
    `out ${usage.output_tokens} cache write ${usage.cache_creation_input_tokens} read ${usage.cache_read_input_tokens}`,
    ...(state.calls.some((c) => c.result === undefined && c.permission !== "denied")
      ? [
        `open tool calls: ${
          state.calls.filter((c) => c.result === undefined).map((c) => `${c.name} ${c.id}`).join(", ")
        }`
      ]
      : []),
    `transcript (${messages.length} messages):`,
    ...messages.map((m) => `  ${m.role.padEnd(9)}  ${describeMessage(m)}`)
  ]
}

export const replay = Command.make(
  "replay",
  {
    session: Args.text({ name: "session" }).pipe(Args.withDescription("A session id, or a unique prefix of one.")),
    verify: Options.boolean("verify").pipe(
      Options.withDescription("Decide every recorded decision again and stop at the first divergence (exit 1).")
    ),
    until: Options.integer("until").pipe(
      Options.withPseudoName("SEQ"),
      Options.withDescription("Replay only up to this seq."),
      Options.optional
    ),
    json: Options.boolean("json").pipe(Options.withDescription("Print the result as JSON."))
  },
  ({ json, session, until, verify }) =>
    Effect.gen(function*() {
      const ref = yield* SessionLookup.resolve(session)
      const untilSeq = Option.getOrElse(until, () => Number.POSITIVE_INFINITY)
      if (verify) {
        const tools = yield* builtins
        const result = yield* Effect.either(
          Replay.verifySession(ref.sessionId, { untilSeq, evaluatePermission: evaluator(tools) })
        )
        if (result._tag === "Left" && result.left._tag === "ReplayDivergenceError" && json) {
          const { actual, agentId, expected, seq } = result.left
          yield* Output.line(
            JSON.stringify({ sessionId: ref.sessionId, verified: false, seq, agentId, expected, actual })
          )
        }
        const report = yield* result
        yield* Output.line(
          json
            ? JSON.stringify({ sessionId: ref.sessionId, verified: true, ...report })
            : `verified ${ref.sessionId}: ${report.events} events, ${report.decisions} decisions ` +
              `(agents: ${report.agents.join(", ")}) — every decision replays exactly`
        )
        return
      }
      const log = yield* EventLog
      const agents = new Map<string, AgentState>()
      yield* log.read(ref.sessionId).pipe(
        Stream.takeWhile((envelope) => envelope.seq <= untilSeq),
        Stream.runForEach((envelope) => Effect.sync(() => evolveAll(agents, envelope)))
      )
      const main = agents.get("main") ?? Replay.fold([], "main")
      if (json) {
        yield* Output.line(JSON.stringify({ sessionId: ref.sessionId, state: main, transcript: transcript(main) }))
        return
      }
      yield* Output.lines(describeState(ref.sessionId, main))
    })
).pipe(Command.withDescription("Replay a session's log offline: fold it to a seq, or verify every decision."))
