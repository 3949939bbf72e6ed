/**
 * `weft sessions list` and `weft sessions show`: what is in the log, for people (a table, one
 * line per event) and for programs (`--json`).
 */
import { Args, Command, Options } from "@effect/cli"
import { charge } from "@weft/kernel/AgentState"
import type { Envelope } from "@weft/kernel/Envelope"
import { lineCodec } from "@weft/kernel/EventCodec"
import type { SessionRef } from "@weft/kernel/EventLog"
import { EventLog } from "@weft/kernel/EventLog"
import { Chunk, Effect, Either, Option, Schema, Stream } from "effect"
import * as EventSummary from "./EventSummary.js"
import * as Output from "./Output.js"
import { concise } from "./ParseReason.js"
import { resolvePath, workingDirectory } from "./RootCommand.js"
import * as SessionLookup from "./SessionLookup.js"

export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

export class SessionCorruptedError extends Schema.TaggedError<SessionCorruptedError>()("SessionCorruptedError", {
  sessionId: Schema.String,
  path: Schema.String,
  line: Schema.Int,
  reason: Schema.String
}) {
  override get message() {
    return `${this.path}:${this.line}: ${
      concise(this.reason)
    }; skip the line with \`weft sessions show ${this.sessionId} ` +
      `--lenient\`, or run \`weft doctor\` to inspect the file`
  }
}

/** One row of `sessions list`. */
export interface SessionRow {
  readonly sessionId: string
  readonly project: string
  /** The `at` of seq 1. */
  readonly started: string | null
  readonly lastActivity: string | null
  /** Null when the session could not be read. */
  readonly events: number | null
  readonly firstMessage: string | null
}

const unread = (ref: SessionRef): SessionRow => ({
  sessionId: ref.sessionId,
  project: ref.project,
  started: null,
  lastActivity: null,
  events: null,
  firstMessage: null
})

/**
 * Folds a session into its row. Lines that are not events are skipped, so one damaged file
 * never hides the others, and summed up in one warning per session rather than one per line.
 */
export const row = (ref: SessionRef) =>
  EventLog.pipe(
    Effect.flatMap((log) =>
      Stream.runFold(
        log.read(ref.sessionId, { lenient: true }),
        { ...unread(ref), events: 0 },
        (row, envelope): SessionRow => ({
          ...row,
          started: envelope.seq === 1 ? envelope.at : row.started,
          lastActivity: envelope.at,
          events: (row.events ?? 0) + 1,
          firstMessage: row.firstMessage === null && envelope.event._tag === "UserMessageReceived"
            ? EventSummary.userText(envelope.event.content)
            : row.firstMessage
        })
      )
    ),
    Output.collectingWarnings,
    Effect.tap(([, warnings]) =>
      warnings.length === 0 ? Effect.void : Effect.logWarning(
        `session ${ref.sessionId}: skipped ${
          warnings.length === 1 ? "a line that is not an event" : `${warnings.length} lines that are not events`
        } (the first: ${warnings[0]!.split(": ")[0]}); \`weft doctor\` tells more`
      )
    ),
    Effect.map(([row]) => row),
    Effect.catchAll((error) => Effect.logWarning(error.message).pipe(Effect.as(unread(ref))))
  )

/** Columns two spaces apart, left-aligned unless `right` names them; the last column is not padded. */
export const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  right: ReadonlyArray<number> = []
): Array<string> => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const format = (cells: ReadonlyArray<string>) =>
    cells.map((cell, i) =>
      right.includes(i) ? cell.padStart(widths[i]!) : i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)
    ).join("  ").trimEnd()
  return [format(header), ...rows.map(format)]
}

const listRows = (rows: ReadonlyArray<SessionRow>, withProject: boolean) =>
  table(
    ["ID", "STARTED", "EVENTS", "LAST ACTIVITY", "FIRST MESSAGE", ...(withProject ? ["PROJECT"] : [])],
    rows.map((r) => [
      r.sessionId,
      r.started === null ? "-" : EventSummary.time(r.started),
      r.events === null ? "?" : String(r.events),
      r.lastActivity === null ? "-" : EventSummary.time(r.lastActivity),
      r.firstMessage === null ? "-" : EventSummary.oneLine(r.firstMessage, withProject ? 40 : 60),
      ...(withProject ? [r.project] : [])
    ]),
    [2]
  )

const list = Command.make(
  "list",
  {
    project: Options.text("project").pipe(
      Options.withPseudoName("DIR"),
      Options.withDescription("The project whose sessions to list (default: the current directory, or --cwd)."),
      Options.optional
    ),
    all: Options.boolean("all").pipe(Options.withDescription("List the sessions of every project.")),
    json: Options.boolean("json").pipe(Options.withDescription("Print the rows as a JSON array."))
  },
  ({ all, json, project }) =>
    Effect.gen(function*() {
      if (all && Option.isSome(project)) {
        return yield* new UsageError({ reason: "sessions list: give either --all or --project, not both" })
      }
      const log = yield* EventLog
      const directory = yield* workingDirectory
      const projectPath = all ? undefined : yield* resolvePath(directory, Option.getOrElse(project, () => "."))
      const refs = yield* log.sessions(projectPath)
      const rows = yield* Effect.forEach(refs, row)
      if (json) {
        return yield* Output.line(JSON.stringify(rows, null, 2))
      }
      if (rows.length === 0) {
        return yield* Output.line(
          projectPath === undefined
            ? "No sessions yet."
            : `No sessions for ${projectPath}. (\`weft sessions list --all\` lists every project's.)`
        )
      }
      yield* Output.lines(listRows(rows, all))
    })
).pipe(Command.withDescription("List the sessions of a project: id, start, events, last activity, first message."))

/** Streams `[`, one stored line per envelope, `]`: the whole session is never held in memory. */
const printJson = <E>(envelopes: Stream.Stream<Envelope, E>) =>
  Effect.gen(function*() {
    let first = true
    yield* Output.text("[\n")
    yield* envelopes.pipe(
      Stream.runForEachChunk((chunk) => {
        let text = ""
        for (const envelope of chunk) {
          const encoded = lineCodec.encode(envelope)
          if (Either.isLeft(encoded)) {
            return Effect.dieMessage(`seq ${envelope.seq} does not encode: ${encoded.left}`)
          }
          text += (first ? "" : ",\n") + encoded.right
          first = false
        }
        return Output.text(text)
      })
    )
    yield* Output.text(first ? "]\n" : "\n]\n")
  })

const show = Command.make(
  "show",
  {
    id: Args.text({ name: "id" }).pipe(Args.withDescription("A session id, or any prefix of it that is unique.")),
    json: Options.boolean("json").pipe(
      Options.withDescription("Print the envelopes as the log stores them, as a JSON array.")
    ),
    lenient: Options.boolean("lenient").pipe(
      Options.withDescription(
        "Skip corrupted lines in the middle of the log (each is warned about) instead of failing."
      )
    ),
    agent: Options.text("agent").pipe(
      Options.withPseudoName("PATH"),
      Options.withDescription("Only this agent's events (main, main/1, …) and its subagents'."),
      Options.optional
    )
  },
  ({ agent, id, json, lenient }) =>
    Effect.gen(function*() {
      const session = yield* SessionLookup.resolve(id)
      const only = Option.getOrUndefined(agent)
      const envelopes = (yield* EventLog).read(session.sessionId, { lenient }).pipe(
        Stream.filter((e) => only === undefined || e.agentId === only || e.agentId.startsWith(only + "/")),
        Stream.catchTag("LogCorruptedError", (error) =>
          Stream.fail(
            new SessionCorruptedError({
              sessionId: session.sessionId,
              path: error.path,
              line: error.line,
              reason: error.reason
            })
          ))
      )
      if (json) return yield* printJson(envelopes)
      yield* envelopes.pipe(
        Stream.runForEachChunk((chunk) => Output.lines(Chunk.toReadonlyArray(chunk).map(EventSummary.line)))
      )
    })
).pipe(Command.withDescription("Print a session's events, one line each (an id prefix is enough)."))

interface TreeNode {
  readonly agentId: string
  type: string
  outcome: string
  turns: number
  tokens: number
  durationMs: number | null
}

/** One line per agent, indented by depth: path, type, outcome, turns, tokens, duration. */
export const treeLines = (nodes: ReadonlyArray<TreeNode>): ReadonlyArray<string> => {
  const rows = nodes.map((n) => [
    "  ".repeat(n.agentId.split("/").length - 1) + n.agentId,
    n.type,
    n.outcome,
    `${n.turns} turns`,
    `${n.tokens.toLocaleString("en-US")} tokens`,
    n.durationMs === null ? "" : `${(n.durationMs / 1000).toFixed(1)} s`
  ])
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd())
}

const tree = Command.make(
  "tree",
  {
    id: Args.text({ name: "id" }).pipe(Args.withDescription("A session id, or any prefix of it that is unique.")),
    json: Options.boolean("json").pipe(Options.withDescription("Print the agents as a JSON array."))
  },
  ({ id, json }) =>
    Effect.gen(function*() {
      const session = yield* SessionLookup.resolve(id)
      const nodes = new Map<string, TreeNode>()
      const node = (agentId: string) => {
        let found = nodes.get(agentId)
        if (found === undefined) {
          found = {
            agentId,
            type: agentId === "main" ? "main" : "?",
            outcome: "running",
            turns: 0,
            tokens: 0,
            durationMs: null
          }
          nodes.set(agentId, found)
        }
        return found
      }
      yield* (yield* EventLog).read(session.sessionId).pipe(
        Stream.runForEach((envelope) =>
          Effect.sync(() => {
            const event = envelope.event
            const at = node(envelope.agentId)
            switch (event._tag) {
              case "ModelRequested":
                at.turns++
                break
              case "ModelResponded":
                at.tokens += charge(event.usage)
                break
              case "SessionEnded":
                if (envelope.agentId === "main") at.outcome = event.reason
                break
              case "SubagentSpawned":
                node(event.childAgentId).type = event.agentType
                break
              case "SubagentCompleted": {
                const child = node(event.childAgentId)
                child.outcome = event.outcome
                child.durationMs = event.durationMs
                break
              }
            }
          })
        )
      )
      const ordered = [...nodes.values()].sort((a, b) => {
        const pa = a.agentId.split("/").map((p) => (p === "main" ? 0 : Number(p)))
        const pb = b.agentId.split("/").map((p) => (p === "main" ? 0 : Number(p)))
        for (let i = 0; i < Math.min(pa.length, pb.length); i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!
        return pa.length - pb.length
      })
      if (json) return yield* Output.line(JSON.stringify(ordered, null, 2))
      yield* Output.lines(treeLines(ordered))
    })
).pipe(
  Command.withDescription("Print a session's delegation tree: agent path, type, outcome, turns, tokens, duration.")
)

export const sessions = Command.make("sessions").pipe(
  Command.withDescription("List, show and trace recorded sessions."),
  Command.withSubcommands([list, show, tree])
)
