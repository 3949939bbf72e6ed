/**
 * The projection benchmark's fold for weft, alone in its process: `ProjectionRunner.run` of the
 * built-in `usage` projection over every session of a WEFT_HOME (`weftSource(home, All)`), or
 * over Claude Code's history (`claudeCodeSource(dir)`, leniently, as `weft project --source
 * claude-code` runs it) — what `weft usage` folds before it makes its report. With `workers` > 1,
 * in that many worker threads (`projectionWorker.ts`); with `checkpoint`, reading and writing
 * the checkpoint under `home`.
 *
 * Timed: from the call to `run` until it gives the state — not the process's start-up, which
 * includes building the Node platform's layer (~15 ms of cold Effect code a CLI pays once, before
 * any command), nor the totals this program sums afterwards to check the fold.
 *
 * Run as a bundle (see `Bundle.ts`): node projectionOurs.mjs '<FoldArgs JSON>'
 * Prints one JSON `FoldResult` line on stdout.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Usage from "@weft/kernel/projections/Usage"
import { claudeCodeSource } from "@weft/store/ClaudeCodeSource"
import type { RunOptions } from "@weft/store/ProjectionRunner"
import { run, weftSource } from "@weft/store/ProjectionRunner"
import { ManagedRuntime } from "effect"
import { Worker } from "node:worker_threads"
import type { FoldArgs, FoldResult, Totals } from "./ProjectionProtocol.js"
import { cpuMsSince } from "./ProjectionProtocol.js"

const args = JSON.parse(process.argv[2]!) as FoldArgs

const totalsOf = (state: Usage.State): Totals => {
  let input = 0, output = 0, cacheWrite = 0, cacheRead = 0
  const entries = Usage.entries(state)
  for (const e of entries) {
    input += e.input
    output += e.output
    cacheWrite += e.cacheWrite
    cacheRead += e.cacheRead
  }
  return { entries: entries.length, input, output, cacheWrite, cacheRead }
}

const format = args.kind === "weft" ? weftSource(args.root, { _tag: "All" }) : claudeCodeSource(args.root)
const workerProgram = args.workerProgram
const options: RunOptions = {
  checkpoint: args.checkpoint,
  lenient: args.kind === "claude-code",
  workers: args.workers,
  ...(args.workers > 1 && workerProgram !== undefined
    ? {
      worker: (data) => new Worker(workerProgram, { workerData: data }),
      projectionRef: { _tag: "Builtin", name: Usage.projection.name }
    }
    : {})
}

const main = async () => {
  const runtime = ManagedRuntime.make(NodeContext.layer)
  await runtime.runtime()
  const cpu = process.cpuUsage()
  const started = performance.now()
  const result = await runtime.runPromise(run(args.home, Usage.projection, format, options))
  const ms = performance.now() - started
  const cpuMs = cpuMsSince(cpu)
  const totals = totalsOf(result.state)
  const out: FoldResult = {
    ms,
    cpuMs,
    bytes: result.bytes,
    files: result.files,
    events: result.events,
    totals,
    fromCheckpoint: result.fromCheckpoint,
    skippedLines: result.skippedLines,
    maxRssKb: process.resourceUsage().maxRSS
  }
  process.stdout.write(JSON.stringify(out) + "\n")
}

main().catch((error) => {
  process.stderr.write(`projectionOurs: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exit(1)
})
