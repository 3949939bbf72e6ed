import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { EventLog } from "@weft/kernel/EventLog"
import * as Ids from "@weft/kernel/Ids"
import { Chunk, Effect, Layer, Stream } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { layerJsonl } from "../src/JsonlEventLog.js"

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url))
const appender = fileURLToPath(new URL("./fixtures/appender.ts", import.meta.url))

/** Starts the appender, kills it with SIGKILL `delayMs` after its first acknowledgement, returns the seqs it printed. */
const runAndKill = (home: string, sessionId: string, delayMs: number) =>
  Effect.async<ReadonlyArray<number>, Error>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", appender, home, sessionId], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    let timer: NodeJS.Timeout | undefined
    child.stdout.on("data", (data: Buffer) => {
      out += data.toString()
      if (timer === undefined) timer = setTimeout(() => child.kill("SIGKILL"), delayMs)
    })
    child.stderr.on("data", (data: Buffer) => (err += data.toString()))
    child.on("exit", (_code, signal) => {
      if (signal !== "SIGKILL") return resume(Effect.fail(new Error(`appender exited on its own: ${err}`)))
      // Only whole lines count: a seq cut off mid-print was still acknowledged, but we cannot know which.
      const lines = out.split("\n").slice(0, -1)
      resume(Effect.succeed(lines.map(Number)))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("a writer killed with SIGKILL", () => {
  it.live("loses no acknowledged event, and the next writer continues the log gapless", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const home = yield* fs.makeTempDirectoryScoped({ prefix: "weft-crash-" })
      const acknowledged = new Set<number>()
      for (let round = 0; round < 5; round++) {
        const seqs = yield* runAndKill(home, "crash", 50 + Math.floor(Math.random() * 400))
        assert.isAbove(seqs.length, 0)
        for (const seq of seqs) acknowledged.add(seq)

        const read = yield* EventLog.pipe(
          Effect.flatMap((log) => Stream.runCollect(log.read("crash"))),
          Effect.map(Chunk.toReadonlyArray),
          Effect.provide(layerJsonl({ home }).pipe(Layer.provide(Layer.mergeAll(NodeContext.layer, Ids.layer))))
        )
        const present = read.map((e) => e.seq)
        assert.deepStrictEqual(present, Array.from({ length: present.length }, (_, i) => i + 1), "seq is gapless")
        const lost = [...acknowledged].filter((seq) => seq > present.length)
        assert.deepStrictEqual(lost, [], `round ${round}: acknowledged but missing`)
      }
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 60_000)
})
