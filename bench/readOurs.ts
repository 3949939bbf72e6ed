/**
 * The read benchmark's reader for weft, alone in its process so that its peak RSS is its own:
 * `EventLog.read` of the JSONL layer (`layerJsonl` as configured by default), which
 * validates and decodes every line with the event Schemas, consumed chunk by chunk as a
 * projection would, holding nothing.
 *
 * Run as a bundle (see `Bundle.ts`): node readOurs.mjs '<ReadArgs JSON>'
 * Prints one JSON `ReadResult` line on stdout.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { EventLog } from "@weft/kernel/EventLog"
import * as Ids from "@weft/kernel/Ids"
import { defaultChunkSize, layerJsonl } from "@weft/store/JsonlEventLog"
import { Chunk, Effect, Layer, Stream } from "effect"
import type { ReadArgs } from "./Protocol.js"
import { readResult } from "./Protocol.js"

const args = JSON.parse(process.argv[2]!) as ReadArgs
if (args.chunkSize !== defaultChunkSize) {
  process.stderr.write(`readOurs: the bench reads in ${args.chunkSize}-byte chunks, the layer in ${defaultChunkSize}\n`)
  process.exit(1)
}

const read = Effect.gen(function*() {
  const log = yield* EventLog
  const rssAtStartKb = Math.round(process.memoryUsage.rss() / 1024)
  let lines = 0
  let lastSeq = 0
  const started = performance.now()
  yield* Stream.runForEachChunk(log.read(args.sessionId), (chunk) =>
    Effect.sync(() => {
      lines += chunk.length
      if (chunk.length > 0) lastSeq = Chunk.unsafeLast(chunk).seq
    }))
  const ms = performance.now() - started
  process.stdout.write(JSON.stringify(readResult("ours", lines, lastSeq, ms, rssAtStartKb)) + "\n")
})

NodeRuntime.runMain(read.pipe(
  Effect.provide(
    layerJsonl({ home: args.home, durability: "none" }).pipe(
      Layer.provide(Layer.mergeAll(NodeContext.layer, Ids.layer))
    )
  )
))
