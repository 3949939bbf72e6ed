/**
 * The bundled CLI, for tests that run weft as it ships: `builtWeft()` bundles `src/bin.ts` with
 * `build.mjs`, the script `pnpm build` runs (into a temporary directory, so that a test never
 * races a `pnpm build` over `dist/`), and `runBuilt` runs the bundle with plain `node`.
 *
 * The bundle is built once per test file — vitest gives each file its own module graph — in about
 * a second. Importing this module registers an `afterAll` that removes it.
 */
import { afterAll } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const buildScript = fileURLToPath(new URL("../../build.mjs", import.meta.url))

/** `node build.mjs outfile`, as `pnpm build` runs it. */
const build = (outfile: string): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [buildScript, outfile],
      (error, _stdout, stderr) =>
        error === null ? resolve(outfile) : reject(new Error(`node build.mjs failed: ${stderr}`))
    )
  )

let dir: string | undefined
let built: Promise<string> | undefined

afterAll(() => {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
  dir = undefined
  built = undefined
})

/** The bundle's path, built on first call; `.mjs`, since the temporary directory has no `"type": "module"`. */
export const builtWeft = (): Promise<string> => {
  if (built === undefined) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "weft-bundle-"))
    built = build(path.join(dir, "weft.mjs"))
  }
  return built
}

export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  /** WEFT_HOME. */
  readonly home: string
  /** The directory weft runs in, and the demo's TMPDIR; outside the repository, so that nothing resolves from it. */
  readonly cwd: string
  /** More environment, e.g. a model server's URL. */
  readonly env?: Readonly<Record<string, string>>
  /** Run the file itself (its hashbang and mode) instead of `node file`. */
  readonly direct?: boolean
}

/**
 * The parent's environment without what would change what weft does: the working directory pnpm
 * gives (INIT_CWD), a loader (NODE_OPTIONS), colours (NO_COLOR, FORCE_COLOR), debugging, and the
 * user's Anthropic settings.
 */
export const cleanEnv = (): Record<string, string | undefined> => {
  const {
    ANTHROPIC_API_KEY: _key,
    ANTHROPIC_AUTH_TOKEN: _token,
    ANTHROPIC_BASE_URL: _url,
    FORCE_COLOR: _force,
    INIT_CWD: _initCwd,
    NODE_OPTIONS: _nodeOptions,
    NO_COLOR: _noColor,
    WEFT_DEBUG: _debug,
    ...inherited
  } = process.env
  return inherited
}

/**
 * Runs `weft args…` from the bundle, with plain `node` (no NODE_OPTIONS, no loader) and none of
 * the variables that change its output (INIT_CWD, WEFT_DEBUG, NO_COLOR). Its V8 code cache
 * (XDG_CACHE_HOME) is beside the bundle, shared by the file's runs and removed with it, not the
 * user's. Interrupting kills it.
 */
export const runBuilt = (args: ReadonlyArray<string>, options: RunOptions): Effect.Effect<Run> =>
  Effect.flatMap(Effect.promise(builtWeft), (bundle) =>
    Effect.async<Run>((resume) => {
      const env = {
        ...cleanEnv(),
        WEFT_HOME: options.home,
        TMPDIR: options.cwd,
        XDG_CACHE_HOME: path.join(path.dirname(bundle), "cache"),
        ...options.env
      }
      const [file, argv] = options.direct === true
        ? [bundle, [...args]]
        : [process.execPath, [bundle, ...args]]
      const child = execFile(file, argv, { cwd: options.cwd, env, maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
        resume(
          Effect.succeed({
            code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
            stdout,
            stderr
          })
        ))
      return Effect.sync(() =>
        child.kill()
      )
    }))
