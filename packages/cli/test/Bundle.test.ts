/**
 * The CLI as it ships: one file bundled by `pnpm build`, run with plain `node` from a directory
 * outside the repository, so that nothing — not the version, not a dependency — is found in the
 * workspace at run time.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import { isBuiltin } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { builtWeft, runBuilt } from "./support/BuiltCli.js"

const packageJson = JSON.parse(fs.readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8")) as {
  readonly version: string
}

/** A WEFT_HOME and a directory to run in, both temporary and outside the repository. */
const sandbox = Effect.gen(function*() {
  const fileSystem = yield* FileSystem.FileSystem
  return {
    home: yield* fileSystem.makeTempDirectoryScoped({ prefix: "weft-bundle-home-" }),
    cwd: yield* fileSystem.makeTempDirectoryScoped({ prefix: "weft-bundle-cwd-" })
  }
})

describe("the bundled CLI", () => {
  beforeAll(() => builtWeft())

  it.live("imports nothing but node built-ins, so it needs no node_modules", () =>
    Effect.gen(function*() {
      const text = fs.readFileSync(yield* Effect.promise(builtWeft), "utf8")
      const specifiers = [...text.matchAll(/\b(?:from|import\(|require\()\s*"([\w@./:-]+)"/g)].map((m) => m[1]!)
      assert.include(specifiers, "node:fs")
      // sucrase (which loads a user's .ts projection) names `flow-enums-runtime` only in code it writes
      // out for Flow sources and in comments; the bundle never loads it.
      const loaded = specifiers.filter((specifier) => specifier !== "flow-enums-runtime")
      assert.deepStrictEqual(loaded.filter((specifier) => !isBuiltin(specifier)), [])
    }))

  it.live("is executable and prints the version of packages/cli/package.json", () =>
    Effect.gen(function*() {
      assert.match(packageJson.version, /^\d+\.\d+\.\d+/)
      const mode = fs.statSync(yield* Effect.promise(builtWeft)).mode
      assert.strictEqual(mode & 0o755, 0o755, `mode ${mode.toString(8)}`)
      const run = yield* runBuilt(["--version"], { ...(yield* sandbox), direct: true })
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout.trim(), packageJson.version)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("prints shell completions that know weft's commands and options", () =>
    Effect.gen(function*() {
      const run = yield* runBuilt(["--completions", "bash"], yield* sandbox)
      assert.strictEqual(run.code, 0, run.stderr)
      assert.include(run.stdout, "_weft_bash_completions")
      for (const word of ["sessions", "usage", "project", "--print", "--fork-session", "--max-budget-usd"]) {
        assert.include(run.stdout, word)
      }
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("compiles through a V8 code cache in XDG_CACHE_HOME, and starts as well where none can be kept", () =>
    Effect.gen(function*() {
      const dirs = yield* sandbox
      const scratch = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped({ prefix: "weft-bundle-cache-" })
      const version = (env: Record<string, string>) =>
        Effect.map(runBuilt(["--version"], { ...dirs, env }), (run) => {
          assert.deepStrictEqual(run, { code: 0, stdout: run.stdout, stderr: "" }, run.stderr)
          assert.strictEqual(run.stdout.trim(), packageJson.version)
        })
      const listing = (dir: string) => fs.existsSync(dir) ? fs.readdirSync(dir) : []

      // The first run writes the cache; the next one reads it, and so leaves it as it is.
      const cache = path.join(scratch, "cache")
      yield* version({ XDG_CACHE_HOME: cache })
      const names = listing(path.join(cache, "weft"))
      assert.strictEqual(names.length, 1, names.join(", "))
      assert.match(names[0]!, /^v8-[0-9a-f]{16}-.+\.bin$/)
      const file = path.join(cache, "weft", names[0]!)
      const written = fs.statSync(file)
      assert.isAbove(written.size, 100_000)
      yield* version({ XDG_CACHE_HOME: cache })
      const read = fs.statSync(file)
      assert.deepStrictEqual([read.ino, read.mtimeMs], [written.ino, written.mtimeMs], "the cache was written again")

      // A cache V8 rejects is written again.
      fs.writeFileSync(file, "not a code cache")
      yield* version({ XDG_CACHE_HOME: cache })
      assert.isAbove(fs.statSync(file).size, 100_000)
      assert.deepStrictEqual(listing(path.join(cache, "weft")), names)

      // No directory can be made for it: XDG_CACHE_HOME and TMPDIR are files.
      const notADirectory = path.join(scratch, "file")
      fs.writeFileSync(notADirectory, "")
      yield* version({ XDG_CACHE_HOME: notADirectory, TMPDIR: notADirectory })

      // XDG_CACHE_HOME cannot take it: a directory of the user's own in TMPDIR, mode 700, does.
      const tmp = path.join(scratch, "tmp")
      fs.mkdirSync(tmp)
      yield* version({ XDG_CACHE_HOME: notADirectory, TMPDIR: tmp })
      const own = listing(tmp)
      assert.strictEqual(own.length, 1, own.join(", "))
      assert.match(own[0]!, /^weft-cache-/)
      assert.strictEqual(fs.statSync(path.join(tmp, own[0]!)).mode & 0o777, 0o700)
      assert.deepStrictEqual(listing(path.join(tmp, own[0]!)), names)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("runs the demo and logs its session in WEFT_HOME, every event of it", () =>
    Effect.gen(function*() {
      const dirs = yield* sandbox
      const demo = yield* runBuilt(["demo"], dirs)
      assert.strictEqual(demo.code, 0, demo.stderr)
      const verified = /replay --verify: (\d+) events, \d+ decisions — every decision replays exactly/.exec(demo.stdout)
      assert.isNotNull(verified, demo.stdout)
      const events = Number(verified![1])

      const list = yield* runBuilt(["sessions", "list", "--all", "--json"], dirs)
      assert.strictEqual(list.code, 0, list.stderr)
      const sessions = JSON.parse(list.stdout) as ReadonlyArray<{ readonly sessionId: string; readonly events: number }>
      // The typo fix, then the sessions that remember and recall; ids are time-ordered.
      assert.strictEqual(sessions.length, 3)
      const first = [...sessions].sort((a, b) => (a.sessionId < b.sessionId ? -1 : 1))[0]!
      assert.strictEqual(first.events, events)
      const shown = /weft sessions show (\S+)/.exec(demo.stdout)![1]!
      assert.isTrue(first.sessionId.startsWith(shown), `${shown} names ${first.sessionId}`)

      const projects = path.join(dirs.home, "projects")
      const files = fs.readdirSync(projects, { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith(".jsonl"))
      assert.deepStrictEqual(
        files.map((file) => path.basename(file)).sort(),
        sessions.map((s) => `${s.sessionId}.jsonl`).sort()
      )
      const lines = fs.readFileSync(
        path.join(projects, files.find((f) => f.endsWith(`${first.sessionId}.jsonl`))!),
        "utf8"
      )
        .trimEnd().split("\n")
      assert.strictEqual(lines.length, events)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})
