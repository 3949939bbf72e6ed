/**
 * Whose history a projection command reads — weft's sessions, or Claude Code's — and where
 * Claude Code keeps it: `--claude-dir`, else `CLAUDE_CONFIG_DIR` (its first entry), else
 * `~/.claude`. Shared by `weft project` and `weft usage`.
 */
import { Options } from "@effect/cli"
import { Path } from "@effect/platform"
import { Effect, Option } from "effect"
import * as os from "node:os"
import { Invocation } from "./Invocation.js"

export const source = Options.choice("source", ["weft", "claude-code"] as const).pipe(
  Options.withDescription("Whose history: weft's sessions, or Claude Code's (~/.claude)."),
  Options.withDefault("weft" as const)
)

export const claudeDir = Options.text("claude-dir").pipe(
  Options.withPseudoName("DIR"),
  Options.withDescription(
    "With --source claude-code: Claude Code's config directory (default CLAUDE_CONFIG_DIR, else ~/.claude)."
  ),
  Options.optional
)

/** Claude Code's config directory, relative paths taken from `directory`. */
export const claudeDirectory = (given: Option.Option<string>, directory: string) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    if (Option.isSome(given)) return path.resolve(directory, given.value)
    const invocation = yield* Invocation
    const first = invocation.claudeConfigDir?.split(",")[0]?.trim()
    if (first !== undefined && first !== "") return path.resolve(directory, first)
    return path.join(invocation.userHome ?? os.homedir(), ".claude")
  })
