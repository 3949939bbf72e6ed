/**
 * Cold start of the CLI as it ships: `node packages/cli/dist/weft.js --version` (the bundle
 * `pnpm build` writes, built first) against a bare `node -e ""`, each spawned ROUNDS times after
 * WARMUP, taking turns (and turns at going first), from a directory outside the repository with
 * a temporary WEFT_HOME. Median wall time of each, from spawn to exit; target ≤ 4×.
 *
 * The bundle compiles through V8's code cache (see packages/cli/build.mjs), kept here in a
 * temporary XDG_CACHE_HOME: the first warm-up finds none and writes it, as a user's first run
 * does; the runs after it read it. The report says whether they did — a cache V8 rejects is
 * written again by every run, so an unchanged file means every measured run used it.
 *
 * `WEFT_BENCH_NODE_FLAGS` reaches both children, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
 * `tsx bench/ColdStart.ts` runs this section alone.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Report from "./Report.js"

const repo = fileURLToPath(new URL("..", import.meta.url))
const cli = path.join(repo, "packages", "cli")
const bundle = path.join(cli, "dist", "weft.js")

export const WARMUP = 2
export const ROUNDS = 15
const TARGET = 4

const flags = (process.env["WEFT_BENCH_NODE_FLAGS"] ?? "").split(" ").filter((flag) => flag !== "")

const median = (samples: ReadonlyArray<number>): number => {
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** `pnpm build` (`node build.mjs` in packages/cli): the bundle measured is the one users run. */
const build = () => {
  const result = spawnSync(process.execPath, [path.join(cli, "build.mjs")], {
    cwd: cli,
    stdio: ["ignore", "inherit", "inherit"]
  })
  if (result.status !== 0) throw new Error(`building ${bundle} failed (${result.signal ?? result.status})`)
}

export const coldStart = async (progress: (line: string) => void): Promise<ReadonlyArray<Report.Row>> => {
  progress("cold start: building packages/cli/dist/weft.js")
  build()
  const version = (JSON.parse(fs.readFileSync(path.join(cli, "package.json"), "utf8")) as { version: string }).version
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "weft-bench-cold-"))
  try {
    const { INIT_CWD: _initCwd, NODE_OPTIONS: _nodeOptions, ...inherited } = process.env
    const cache = path.join(root, "cache")
    const env = { ...inherited, WEFT_HOME: path.join(root, "home"), XDG_CACHE_HOME: cache }
    const cacheFiles = () => {
      const dir = path.join(cache, "weft")
      return fs.existsSync(dir)
        ? fs.readdirSync(dir).map((name) => ({ name, ...fs.statSync(path.join(dir, name)) }))
        : []
    }
    const spawned = (args: ReadonlyArray<string>) => {
      const started = performance.now()
      const result = spawnSync(process.execPath, [...flags, ...args], { cwd: root, env, encoding: "utf8" })
      const ms = performance.now() - started
      if (result.status !== 0) {
        throw new Error(`node ${args.join(" ")} exited with ${result.signal ?? result.status}: ${result.stderr}`)
      }
      return { ms, stdout: result.stdout }
    }
    const weft = () => {
      const run = spawned([bundle, "--version"])
      if (run.stdout.trim() !== version) {
        throw new Error(`weft --version printed "${run.stdout.trim()}", not ${version}`)
      }
      return run.ms
    }
    const bare = () => spawned(["-e", ""]).ms

    const ours: Array<number> = []
    const baseline: Array<number> = []
    let written: ReturnType<typeof cacheFiles> = []
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      if (i === WARMUP) written = cacheFiles()
      // Each goes first every other round, so neither always follows the other's exit.
      const round = i % 2 === 0 ? { o: weft(), b: bare() } : { b: bare(), o: weft() }
      if (i >= WARMUP) {
        ours.push(round.o)
        baseline.push(round.b)
      }
    }
    const after = cacheFiles()
    const cached = written.length === 1 && after.length === 1 && after[0]!.name === written[0]!.name &&
      after[0]!.ino === written[0]!.ino && after[0]!.mtimeMs === written[0]!.mtimeMs
    progress(
      cached
        ? `  V8 code cache: used by every measured run (${written[0]!.name}, ${(written[0]!.size / 1e6).toFixed(1)} MB)`
        : written.length === 0
        ? "  V8 code cache: none written — every run compiled the bundle from source"
        : `  V8 code cache: not used — rewritten during the runs (${after.map((file) => file.name).join(", ")})`
    )
    const o = median(ours)
    const b = median(baseline)
    progress(`  weft --version: median ${o.toFixed(1)} ms; node -e "": median ${b.toFixed(1)} ms`)
    const mb = fs.statSync(bundle).size / 1e6
    return [{
      benchmark: `cold start · node dist/weft.js --version (${mb.toFixed(1)} MB, ${
        cached ? "code cache" : "no code cache"
      }) vs node -e "", median of ${ROUNDS}`,
      ours: `${o.toFixed(0)} ms`,
      baseline: `${b.toFixed(0)} ms`,
      ratio: o / b,
      target: `≤ ${TARGET.toFixed(2)}`,
      pass: o / b <= TARGET
    }]
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  coldStart((line) => process.stderr.write(line + "\n")).then((rows) => {
    process.stdout.write(Report.table(rows) + "\n")
    process.exitCode = rows.every((row) => row.pass !== false) ? 0 : 1
  })
}
