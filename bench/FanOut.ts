/**
 * Issue 4's benchmark: a fan-out of 1,000+ subagents in one session — main delegates to 10
 * explore agents, each to 10, each of those to 9 (depth 3, 1,010 subagents) — every agent
 * making 3 model requests to a fake model (delegate or read, read, answer). Measured: wall
 * time, peak heap per live subagent (heap sampled every 5 ms over the JSONL run — the memory log
 * holds the whole session in the heap — divided by the most subagents alive at once), and
 * JSONL-backed throughput against the in-memory log in the same run.
 */
import { NodeContext } from "@effect/platform-node"
import { AgentLoop } from "@weft/kernel/AgentLoop"
import * as Ids from "@weft/kernel/Ids"
import type { ModelRequest } from "@weft/kernel/Messages"
import * as ModelClient from "@weft/kernel/ModelClient"
import * as Harness from "@weft/kernel/testing/Harness"
import { layerJsonl } from "@weft/store/JsonlEventLog"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Row } from "./Report.js"
import { count } from "./Report.js"

const usage = { input_tokens: 50, output_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }
const FAN = [10, 10, 9]

/** The level an agent is at, from its prompt (`level N ...`); main's prompt says level 0. */
const levelOf = (request: ModelRequest) => {
  const first = request.messages[0]?.content[0]
  const match = first !== undefined && first.type === "text" ? /^level (\d+)/.exec(first.text) : null
  return match === null ? 0 : Number(match[1])
}

const makeModel = (live: { now: number; most: number }) =>
  ModelClient.layerFake((request, n) => {
    const level = levelOf(request)
    const step = request.messages.filter((m) => m.role === "assistant").length
    if (step === 0) {
      if (level > 0) {
        live.now++
        live.most = Math.max(live.most, live.now)
      }
      if (level < FAN.length) {
        return {
          usage,
          content: Array.from({ length: FAN[level]! }, (_, i) => ({
            type: "tool_use" as const,
            id: `t${n}_${i}`,
            name: "task",
            input: { agent_type: "explore", description: "look", prompt: `level ${level + 1} part ${i}` }
          }))
        }
      }
      return { usage, content: [{ type: "tool_use", id: `r${n}`, name: "read", input: { path: "a.txt" } }] }
    }
    if (step === 1) {
      return { usage, content: [{ type: "tool_use", id: `r${n}`, name: "read", input: { path: "a.txt" } }] }
    }
    if (level > 0) live.now--
    return { usage, content: [{ type: "text", text: "done" }] }
  })

const run = (project: string, log: Harness.Options["log"]) => {
  const live = { now: 0, most: 0 }
  return Effect.gen(function*() {
    const session = yield* (yield* AgentLoop).start({ project, model: "m", maxDepth: 3 })
    yield* session.send("level 0 fan out")
    return live.most
  }).pipe(
    Effect.provide(Harness.layer({ model: makeModel(live), ...(log === undefined ? {} : { log }) })),
    Effect.provide(NodeContext.layer)
  )
}

const measured = async <E>(effect: Effect.Effect<number, E>) => {
  global.gc?.()
  const base = process.memoryUsage().heapUsed
  let peak = base
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5)
  const start = performance.now()
  const most = await Effect.runPromise(effect)
  const ms = performance.now() - start
  clearInterval(sampler)
  return { ms, most, heapPerLive: (peak - base) / Math.max(1, most) }
}

export const subagents = FAN.reduce((sum, _, i) => sum + FAN.slice(0, i + 1).reduce((p, f) => p * f, 1), 0)

export const fanOut = async (progress: (line: string) => void): Promise<ReadonlyArray<Row>> => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "weft-bench-fanout-"))
  try {
    const project = path.join(root, "project")
    fs.mkdirSync(project)
    fs.writeFileSync(path.join(project, "a.txt"), "alpha\n")
    progress(`fan-out: ${count(subagents)} subagents on the in-memory log`)
    const memory = await measured(run(project, undefined))
    progress(`fan-out: the same on the JSONL log (fsync)`)
    const jsonl = layerJsonl({ home: path.join(root, "home") }).pipe(
      Layer.provide(Layer.mergeAll(NodeContext.layer, Ids.layer))
    ) as unknown as Harness.Options["log"]
    const disk = await measured(run(project, jsonl))
    // Heap per live subagent from the JSONL run: the memory log keeps every event of the session in
    // the heap too, which is the log's, not the subagents'.
    const mb = disk.heapPerLive / (1 << 20)
    return [
      {
        benchmark: `fan-out: ${count(subagents)} subagents, 3 turns each, depth 3 — wall time (memory log)`,
        ours: `${(memory.ms / 1000).toFixed(1)} s`,
        baseline: "–",
        ratio: undefined,
        target: "(reported)",
        pass: undefined
      },
      {
        benchmark: `fan-out: peak heap per live subagent, JSONL log (at most ${disk.most} alive at once)`,
        ours: `${mb.toFixed(2)} MB`,
        baseline: "–",
        ratio: undefined,
        target: "≤ 2 MB",
        pass: mb <= 2
      },
      {
        benchmark: "fan-out: JSONL (fsync) vs memory log throughput",
        ours: `${(disk.ms / 1000).toFixed(1)} s`,
        baseline: `${(memory.ms / 1000).toFixed(1)} s`,
        ratio: memory.ms / disk.ms,
        target: "≥ 0.50×",
        pass: memory.ms / disk.ms >= 0.5
      }
    ]
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  fanOut((line) => process.stderr.write(line + "\n")).then((rows) => {
    for (const row of rows) {
      process.stdout.write(
        `${row.benchmark}: ${row.ours} vs ${row.baseline} ${row.pass === undefined ? "" : row.pass ? "PASS" : "FAIL"}\n`
      )
    }
  })
}
