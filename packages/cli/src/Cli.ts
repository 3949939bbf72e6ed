/**
 * The command tree of `weft`, and how a failure is told to the user: one line on stderr
 * saying what failed, where, and what to do — never a stack trace for a user's mistake.
 */
import { Command, ValidationError } from "@effect/cli"
import { Cause, Console, Effect, Option } from "effect"
import packageJson from "../package.json" with { type: "json" }
import * as AgentCommand from "./AgentCommand.js"
import { demo } from "./DemoCommand.js"
import { diff } from "./DiffCommand.js"
import { doctor } from "./DoctorCommand.js"
import { memory } from "./MemoryCommand.js"
import { project } from "./ProjectCommand.js"
import { replay } from "./ReplayCommand.js"
import { rewind } from "./RewindCommand.js"
import * as RootCommand from "./RootCommand.js"
import { root, rootWithPrompt } from "./RootCommand.js"
import { sessions } from "./SessionsCommand.js"
import { usage } from "./UsageCommand.js"

export const version: string = packageJson.version

export const command = root.pipe(
  Command.withHandler((config) => AgentCommand.run({ ...config, prompt: Option.none() })),
  Command.withDescription(
    "weft: an event-sourced agent kernel. Every step an agent takes is an event in a log. " +
      "`weft \"prompt\"` starts an interactive session on it; `weft -p \"prompt\"` answers and exits."
  ),
  Command.withSubcommands([sessions, replay, rewind, diff, doctor, demo, project, usage, memory])
)

/** `weft "prompt" …`: the agent command alone (see `RootCommand.rootWithPrompt`). */
export const promptCommand = rootWithPrompt.pipe(
  Command.withHandler(AgentCommand.run),
  Command.withDescription("weft: run an agent on a prompt.")
)

const subcommands: ReadonlySet<string> = new Set([
  "sessions",
  "replay",
  "rewind",
  "diff",
  "doctor",
  "demo",
  "project",
  "usage",
  "memory"
])

/** Runs the CLI on `process.argv`-shaped arguments (runtime and script first). */
export const run = (argv: ReadonlyArray<string>) =>
  RootCommand.hasPrompt(argv.slice(2), subcommands)
    ? Command.run(promptCommand, { name: "weft", version })(argv)
    : Command.run(command, { name: "weft", version })(argv)

const hasMessage = (u: unknown): u is { readonly message: string } =>
  typeof u === "object" && u !== null && "message" in u && typeof u.message === "string" && u.message !== ""

/**
 * The line to print for a failure, or none when there is nothing to add: @effect/cli has
 * already printed its own validation errors, and an interruption is the user's own doing.
 */
export const explain = <E>(cause: Cause.Cause<E>): Option.Option<string> => {
  if (Cause.isInterruptedOnly(cause)) return Option.none()
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error: unknown = failure.value
    if (ValidationError.isValidationError(error)) return Option.none()
    return Option.some(`weft: ${hasMessage(error) ? error.message : String(error)}`)
  }
  const defect = Cause.dieOption(cause)
  const detail = Option.match(defect, {
    onNone: () => "unexpected failure",
    onSome: (d) => (hasMessage(d) ? d.message : String(d))
  })
  return Option.some(`weft: internal error: ${detail} (a bug in weft; set WEFT_DEBUG=1 for the stack trace)`)
}

/** Prints what went wrong: one line, plus the whole cause when debugging. */
export const report = <E>(cause: Cause.Cause<E>, debug: boolean): Effect.Effect<void> =>
  Effect.gen(function*() {
    const line = explain(cause)
    if (Option.isSome(line)) yield* Console.error(line.value)
    if (debug && !Cause.isInterruptedOnly(cause)) yield* Console.error(Cause.pretty(cause))
  })
