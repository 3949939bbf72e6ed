/**
 * weft from source, for end-to-end tests of commands: `bin.ts` in a child process through
 * tsx (from the repo root, so tsx resolves), with its own WEFT_HOME and the clean environment
 * of `cleanEnv` (CLAUDE_CONFIG_DIR left out too). Interrupting kills it.
 */
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { cleanEnv } from "./BuiltCli.js"

const repo = fileURLToPath(new URL("../../../..", import.meta.url))
const bin = fileURLToPath(new URL("../../src/bin.ts", import.meta.url))

export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export interface Options {
  readonly home: string
  /** Where the user ran weft from (pnpm's INIT_CWD); unset by default. */
  readonly initCwd?: string
  readonly env?: Readonly<Record<string, string>>
}

export const weft = (args: ReadonlyArray<string>, options: Options): Effect.Effect<Run> =>
  Effect.async<Run>((resume) => {
    const { CLAUDE_CONFIG_DIR: _claude, ...inherited } = cleanEnv()
    const env = {
      ...inherited,
      WEFT_HOME: options.home,
      ...(options.initCwd === undefined ? {} : { INIT_CWD: options.initCwd }),
      ...options.env
    }
    const child = execFile(
      process.execPath,
      ["--import", "tsx", bin, ...args],
      { cwd: repo, env, maxBuffer: 16 << 20 },
      (error, stdout, stderr) =>
        resume(Effect.succeed({
          code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
          stdout,
          stderr
        }))
    )
    return Effect.sync(() => child.kill())
  })
