/**
 * The root command, `weft`, with the options every subcommand shares — kept apart from the
 * tree (`Cli.ts`) so subcommands can read them (`yield* root`) without an import cycle.
 *
 * `--cwd DIR` names the project directory, as if weft had been run there (`git -C`); without
 * it, the directory weft was run from. Relative paths are taken from where weft was run —
 * through `pnpm weft` that is pnpm's `INIT_CWD`, not the workspace root pnpm runs scripts in.
 */
import { Command, Options } from "@effect/cli"
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

export const root = Command.make("weft", {
  cwd: Options.text("cwd").pipe(
    Options.withPseudoName("DIR"),
    Options.withDescription("Run as if weft had been started in DIR: the project whose sessions commands see."),
    Options.optional
  )
})

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
