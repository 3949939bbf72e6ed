/**
 * The kernel's benchmarks (`pnpm bench`, after the event log's):
 *
 * 1. Turns: 10,000 turns of a fake model with one tool call each (`read`, through the real
 *    tool, policy and decider), as 100 sessions of 100 turns, four sessions at a time, with the
 *    in-memory log and with the JSONL log (durability fsync, the default). Target: JSONL ≥ 0.5×
 *    in-memory turns/s.
 * 2. Verify: `Replay.verify` on a 100,000-event session against a plain fold of the same log
 *    in the same run. Target: verify ≥ 0.5× fold events/s.
 */
import { NodeContext } from "@effect/platform-node"
import { AgentLoop } from "@weft/kernel/AgentLoop"
import type { Envelope } from "@weft/kernel/Envelope"
import { EventLog } from "@weft/kernel/EventLog"
import * as Ids from "@weft/kernel/Ids"
import * as ModelClient from "@weft/kernel/ModelClient"
import { evaluator } from "@weft/kernel/PermissionReplay"
import * as Replay from "@weft/kernel/Replay"
import * as Harness from "@weft/kernel/testing/Harness"
import * as ToolRegistry from "@weft/kernel/ToolRegistry"
import { layerJsonl } from "@weft/store/JsonlEventLog"
import { Chunk, Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Row } from "./Report.js"
import { count, perSecond } from "./Report.js"

const usage = { input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }

/** Odd requests call `read`, even ones answer: one tool call a turn. The request is not looked at. */
const model = ModelClient.layerFake((_request, n) =>
  n % 2 === 1
    ? { content: [{ type: "tool_use", id: `t${n}`, name: "read", input: { path: "a.txt" } }], usage }
    : { content: [{ type: "text", text: "done" }], usage }
)

/** Sessions run CONCURRENT at a time, as a server runs many; each session's turns one after another. */
const CONCURRENT = 4

const turns = (sessions: number, perSession: number, project: string) =>
  Effect.gen(function*() {
    const loop = yield* AgentLoop
    yield* Effect.forEach(
      Array.from({ length: sessions }, (_, s) => s),
      (s) =>
        Effect.gen(function*() {
          const session = yield* loop.start({ project, model: "m", sessionId: `bench-${s}` })
          for (let t = 0; t < perSession; t++) yield* session.send(`turn ${t}`)
        }),
      { concurrency: CONCURRENT, discard: true }
    )
  })

const timed = async <A>(run: () => Promise<A>) => {
  const start = performance.now()
  const value = await run()
  return { value, ms: performance.now() - start }
}

const jsonl = (home: string) => layerJsonl({ home }).pipe(Layer.provide(Layer.mergeAll(NodeContext.layer, Ids.layer)))

export const run = async (scale: number, progress: (line: string) => void): Promise<ReadonlyArray<Row>> => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "weft-bench-agent-"))
  try {
    const project = path.join(root, "project")
    fs.mkdirSync(project)
    fs.writeFileSync(path.join(project, "a.txt"), "alpha\nbeta\n")
    const sessions = Math.max(2, Math.round(100 * Math.sqrt(scale)))
    const perSession = Math.max(2, Math.round(100 * Math.sqrt(scale)))
    const total = sessions * perSession

    progress(`agent: ${count(total)} turns (${sessions} sessions × ${perSession}) on the in-memory log`)
    const memory = await timed(() =>
      Effect.runPromise(
        turns(sessions, perSession, project).pipe(
          Effect.provide(Harness.layer({ model })),
          Effect.provide(NodeContext.layer)
        )
      )
    )
    progress(`agent: the same on the JSONL log (fsync)`)
    const onDisk = await timed(() =>
      Effect.runPromise(
        turns(sessions, perSession, project).pipe(
          Effect.provide(Harness.layer({ model, log: jsonl(path.join(root, "home")) as any })),
          Effect.provide(NodeContext.layer)
        )
      )
    )

    // One long session: 12,500 turns of 8 events = 100,000 events.
    const events = Math.max(1000, Math.round(100_000 * scale))
    const longTurns = Math.ceil(events / 8)
    progress(`verify: recording a ${count(longTurns * 8)}-event session`)
    const { log, tools } = await Effect.runPromise(
      Effect.gen(function*() {
        const loop = yield* AgentLoop
        const session = yield* loop.start({ project, model: "m", sessionId: "long" })
        for (let t = 0; t < longTurns; t++) yield* session.send(`turn ${t}`)
        const log = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* EventLog).read("long")))
        return { log, tools: (yield* ToolRegistry.ToolRegistry).tools }
      }).pipe(Effect.provide(Harness.layer({ model })), Effect.provide(NodeContext.layer))
    )
    const envelopes: ReadonlyArray<Envelope> = log
    const evaluatePermission = evaluator(tools)
    // Warm both paths once, then take the best of three of each, interleaved.
    Replay.fold(envelopes.slice(0, 1000))
    await Effect.runPromise(Replay.verify("long", envelopes.slice(0, 1000), { evaluatePermission }))
    let foldMs = Infinity
    let verifyMs = Infinity
    for (let i = 0; i < 3; i++) {
      foldMs = Math.min(foldMs, (await timed(async () => Replay.fold(envelopes))).ms)
      verifyMs = Math.min(
        verifyMs,
        (await timed(() => Effect.runPromise(Replay.verify("long", envelopes, { evaluatePermission })))).ms
      )
    }

    const memoryRate = perSecond(total, memory.ms)
    const diskRate = perSecond(total, onDisk.ms)
    const foldRate = perSecond(envelopes.length, foldMs)
    const verifyRate = perSecond(envelopes.length, verifyMs)
    return [
      {
        benchmark: `agent turns/s, JSONL (fsync) vs memory log (${count(total)} turns, 1 tool call each)`,
        ours: `${count(diskRate)}/s`,
        baseline: `${count(memoryRate)}/s`,
        ratio: diskRate / memoryRate,
        target: "≥ 0.50×",
        pass: diskRate / memoryRate >= 0.5
      },
      {
        benchmark: `replay verify vs plain fold (${count(envelopes.length)} events)`,
        ours: `${count(verifyRate)}/s`,
        baseline: `${count(foldRate)}/s`,
        ratio: verifyRate / foldRate,
        target: "≥ 0.50×",
        pass: verifyRate / foldRate >= 0.5
      }
    ]
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}

// Run alone: `tsx bench/Agent.ts [scale]`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const scale = Number(process.argv[2] ?? "1")
  run(scale, (line) => process.stderr.write(line + "\n")).then((rows) => {
    for (const row of rows) {
      process.stdout.write(
        `${row.benchmark}: ${row.ours} vs ${row.baseline} = ${row.ratio?.toFixed(2)}× ${row.pass ? "PASS" : "FAIL"}\n`
      )
    }
  })
}
