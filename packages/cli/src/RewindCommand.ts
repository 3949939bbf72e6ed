/**
 * `weft rewind <session> [--turn N] [--force]`: puts the files a session changed back as they
 * were when user turn N began (default: the last turn, undoing its changes), and says what it
 * restored and removed. A file changed outside weft since weft last wrote it is not
 * overwritten without `--force`: the command names them all and exits 1, changing nothing.
 */
import { Args, Command, Options } from "@effect/cli"
import { Path } from "@effect/platform"
import * as Rewind from "@weft/kernel/Rewind"
import { Effect, Option, Schema } from "effect"
import * as Output from "./Output.js"
import * as SessionLookup from "./SessionLookup.js"

export class RewindRefusedError extends Schema.TaggedError<RewindRefusedError>()("RewindRefusedError", {
  sessionId: Schema.String,
  toTurn: Schema.Int,
  /** Paths as shown to the user. */
  files: Schema.Array(Rewind.Conflict)
}) {
  override get message() {
    const n = this.files.length
    return `rewind of session ${this.sessionId} to turn ${this.toTurn} refused, nothing changed: ` +
      `${n} file${n === 1 ? "" : "s"} changed since weft last wrote ${n === 1 ? "it" : "them"}: ` +
      `${this.files.map(Rewind.describeConflict).join(", ")}; ` +
      `\`weft rewind ${this.sessionId} --turn ${this.toTurn} --force\` overwrites ${n === 1 ? "it" : "them"}`
  }
}

const WIDTH = "unchanged".length

/** What `rewind` prints for a result. */
export const render = (result: Rewind.RewindResult, show: (file: string) => string): Array<string> => {
  const turn = `turn ${result.toTurn}`
  if (result.files.length === 0) {
    return [`No file was changed since ${turn} of session ${result.sessionId} began: nothing to rewind.`]
  }
  if (result.recorded === undefined) {
    return [`Every file is already as it was when ${turn} of session ${result.sessionId} began: nothing to do.`]
  }
  const changed = result.files.filter((f) => f.action !== "unchanged").length
  const lines = [
    `Rewound session ${result.sessionId} to the start of ${turn}: ${changed} file${changed === 1 ? "" : "s"} changed.`,
    ...result.files.map((f) => `  ${f.action.padEnd(WIDTH)}  ${show(f.path)}`)
  ]
  if (result.overwritten.length > 0) {
    lines.push(
      `Overwrote changes made outside weft (--force): ${result.overwritten.map((c) => show(c.path)).join(", ")}`
    )
  }
  return lines
}

export const turnOption = (description: string) =>
  Options.integer("turn").pipe(Options.withPseudoName("N"), Options.withDescription(description), Options.optional)

export const sessionArg = Args.text({ name: "session" }).pipe(
  Args.withDescription("A session id, or any prefix of it that is unique.")
)

export const rewind = Command.make(
  "rewind",
  {
    session: sessionArg,
    turn: turnOption("Rewind to the start of user turn N (default: the last turn, undoing its changes)."),
    force: Options.boolean("force").pipe(
      Options.withDescription("Overwrite files that were changed outside weft since weft last wrote them.")
    )
  },
  ({ force, session, turn }) =>
    Effect.gen(function*() {
      const path = yield* Path.Path
      const ref = yield* SessionLookup.resolve(session)
      const show = (file: string) => Rewind.shownPath(path, ref.project, file)
      const result = yield* Rewind.rewind(ref.sessionId, Option.getOrElse(turn, () => "last" as const), { force }).pipe(
        Effect.catchTag("RewindConflictError", (error) =>
          new RewindRefusedError({
            sessionId: error.sessionId,
            toTurn: error.toTurn,
            files: error.files.map((c) => ({ path: show(c.path), reason: c.reason }))
          }))
      )
      yield* Output.lines(render(result, show))
    })
).pipe(
  Command.withDescription(
    "Put the files a session changed back as they were when a user turn began (refuses to overwrite changes made " +
      "outside weft without --force)."
  )
)
