/**
 * `weft sessions list` and `weft sessions show`: what is in the log, for people (a table, one
 * line per event) and for programs (`--json`).
 */
import { Args, Command, Options } from "@effect/cli"
import type { Envelope } from "@weft/kernel/Envelope"
import { lineCodec } from "@weft/kernel/EventCodec"
import type { SessionRef } from "@weft/kernel/EventLog"
import { EventLog } from "@weft/kernel/EventLog"
import * as Projection from "@weft/kernel/Projection"
import * as Tree from "@weft/kernel/projections/Tree"
import { Chunk, Effect, Either, HashMap, Option, Schema, Stream } from "effect"
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

const tree = Command.make(
  "tree",
  {
    id: Args.text({ name: "id" }).pipe(Args.withDescription("A session id, or any prefix of it that is unique.")),
    json: Options.boolean("json").pipe(Options.withDescription("Print the agents as a JSON array."))
  },
  ({ id, json }) =>
    Effect.gen(function*() {
      const session = yield* SessionLookup.resolve(id)
      const handles = Projection.handlesTag(Tree.projection)
      const state = yield* (yield* EventLog).read(session.sessionId).pipe(
        Stream.runFold(
          Tree.projection.initial,
          (state, envelope) => (handles(envelope.event._tag) ? Tree.projection.evolve(state, envelope) : state)
        )
      )
      const ordered = Option.match(HashMap.get(state, session.sessionId), {
        onNone: () => [],
        onSome: Tree.nodes
      })
      if (json) return yield* Output.line(JSON.stringify(ordered, null, 2))
      yield* Output.lines(Tree.lines(ordered))
    })
).pipe(
  Command.withDescription("Print a session's delegation tree: agent path, type, outcome, turns, tokens, duration.")
)

export const sessions = Command.make("sessions").pipe(
  Command.withDescription("List, show and trace recorded sessions."),
  Command.withSubcommands([list, show, tree])
)
