/**
 * The root command, `weft`, with the options every subcommand shares — kept apart from the
 * tree (`Cli.ts`) so subcommands can read them (`yield* root`) without an import cycle.
 *
 * `--cwd DIR` names the project directory, as if weft had been run there (`git -C`); without
 * it, the directory weft was run from. Relative paths are taken from where weft was run —
 * through `pnpm weft` that is pnpm's `INIT_CWD`, not the workspace root pnpm runs scripts in.
 */
import { Args, Command, Options } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import { Invocation } from "./Invocation.js"

export class NoSuchDirectoryError extends Schema.TaggedError<NoSuchDirectoryError>()("NoSuchDirectoryError", {
  option: Schema.String,
  path: Schema.String
}) {
  override get message() {
    return `${this.option} ${this.path}: no such directory`
  }
}

export const OutputFormat = ["text", "json", "stream-json"] as const
export type OutputFormat = (typeof OutputFormat)[number]

const options = {
  cwd: Options.text("cwd").pipe(
    Options.withPseudoName("DIR"),
    Options.withDescription("Run as if weft had been started in DIR: the project whose sessions commands see."),
    Options.optional
  ),
  print: Options.boolean("print").pipe(
    Options.withAlias("p"),
    Options.withDescription("Answer the prompt and exit, for scripts (permission questions are denied).")
  ),
  outputFormat: Options.choice("output-format", OutputFormat).pipe(
    Options.withDescription(
      "With -p: text (the answer, streamed), json (one result object) or stream-json (every event, one per line)."
    ),
    Options.withDefault("text" as OutputFormat)
  ),
  continue: Options.boolean("continue").pipe(
    Options.withAlias("c"),
    Options.withDescription("Continue the latest session of this project.")
  ),
  resume: Options.text("resume").pipe(
    Options.withAlias("r"),
    Options.withPseudoName("ID"),
    Options.withDescription("Resume the session ID (any unique prefix)."),
    Options.optional
  ),
  forkSession: Options.boolean("fork-session").pipe(
    Options.withDescription(
      "With -r or -c: continue in a new session that starts as a copy, leaving the original as it was."
    )
  ),
  forkAt: Options.integer("fork-at").pipe(
    Options.withPseudoName("SEQ"),
    Options.withDescription("With -r or -c: fork from the session as it was at event SEQ."),
    Options.optional
  ),
  model: Options.text("model").pipe(
    Options.withDescription("The model (default: settings, else a current Claude model)."),
    Options.optional
  ),
  maxBudgetTokens: Options.integer("max-budget-tokens").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("Stop when the session (subagents included) has spent N tokens."),
    Options.optional
  ),
  maxBudgetUsd: Options.float("max-budget-usd").pipe(
    Options.withPseudoName("USD"),
    Options.withDescription("Stop when the session (subagents included) has spent USD dollars, at the model's prices."),
    Options.optional
  ),
  maxDepth: Options.integer("max-depth").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("How deep subagents may delegate (default 3)."),
    Options.optional
  ),
  permissionMode: Options.choice("permission-mode", ["default", "acceptEdits", "plan", "bypassPermissions"] as const)
    .pipe(
      Options.withDescription("How calls no rule decides are handled."),
      Options.optional
    ),
  allowedTools: Options.text("allowed-tools").pipe(
    Options.withPseudoName("RULES"),
    Options.withDescription("Rules to allow without asking, e.g. \"Bash(npm test:*) Edit(src/**)\" (repeatable)."),
    Options.repeated
  ),
  disallowedTools: Options.text("disallowed-tools").pipe(
    Options.withPseudoName("RULES"),
    Options.withDescription("Rules to deny, e.g. \"Bash(rm:*)\" (repeatable)."),
    Options.repeated
  ),
  appendSystemPrompt: Options.text("append-system-prompt").pipe(
    Options.withPseudoName("TEXT"),
    Options.withDescription("Add TEXT to the end of the system prompt."),
    Options.optional
  )
}

/** `weft` with its subcommands (`weft sessions …`), or with no prompt at all. */
export const root = Command.make("weft", options)

/**
 * `weft "prompt"`: the same options and a prompt. A separate command, since @effect/cli lets a
 * parent's optional argument swallow a subcommand's unknown options; `Cli.run` picks by the
 * first word that is not an option.
 */
export const rootWithPrompt = Command.make("weft", {
  ...options,
  prompt: Args.text({ name: "prompt" }).pipe(
    Args.withDescription("What to ask. Without -p, an interactive session starts with it."),
    Args.optional
  )
})

export type RootConfig = typeof rootWithPrompt extends Command.Command<any, any, any, infer A> ? A : never

/** The options that take a value, so the word after them is not the prompt. */
export const valuedOptions: ReadonlySet<string> = new Set([
  "--cwd",
  "--output-format",
  "--resume",
  "-r",
  "--fork-at",
  "--model",
  "--max-budget-tokens",
  "--max-budget-usd",
  "--max-depth",
  "--permission-mode",
  "--allowed-tools",
  "--disallowed-tools",
  "--append-system-prompt",
  // @effect/cli's own.
  "--completions",
  "--log-level"
])

/** Whether `args` (after the program) hold a prompt: a first word that is not an option, nor a subcommand. */
export const hasPrompt = (args: ReadonlyArray<string>, subcommands: ReadonlySet<string>): boolean => {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") return i + 1 < args.length
    if (arg.startsWith("-") && arg !== "-") {
      if (valuedOptions.has(arg)) i++
      continue
    }
    return !subcommands.has(arg)
  }
  return false
}

/** `path` taken from `base`, absolute, with symlinks resolved when it exists. */
export const resolvePath = (base: string, path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const absolute = (yield* Path.Path).resolve(base, path)
    return yield* fs.realPath(absolute).pipe(Effect.orElseSucceed(() => absolute))
  })

/** The directory commands work in: `--cwd` if given, else where weft was run; absolute and real. */
export const workingDirectory = Effect.gen(function*() {
  const { cwd } = yield* root
  const invocation = yield* Invocation
  const fs = yield* FileSystem.FileSystem
  const directory = yield* resolvePath(invocation.directory, Option.getOrElse(cwd, () => "."))
  const info = yield* fs.stat(directory).pipe(Effect.option)
  if (Option.isNone(info) || info.value.type !== "Directory") {
    return yield* new NoSuchDirectoryError({
      option: Option.isSome(cwd) ? "--cwd" : "the current directory",
      path: directory
    })
  }
  return directory
})
