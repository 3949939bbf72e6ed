/**
 * One side of an append benchmark row, as a child process serving rounds over IPC: `ours`
 * appends through the JSONL log (`layerJsonl`), `baseline` is a plain Node loop writing the
 * same lines. The parent alternates them round by round (ours, baseline, ours, …), so both
 * see the same disk and the same neighbours, while each process pays only for its own
 * garbage.
 *
 * - shape `batch`: sequential `append` calls of `size` events each; the baseline appends the
 *   same `size` lines per `appendFileSync` (and one `fsyncSync` per call under `fsync`).
 * - shape `concurrent`: `fibers` fibers each appending one event per call, so the log's group
 *   commit forms the batches. Every write the log makes is recorded, and the baseline then
 *   writes the same lines, in the log's order, in batches of the same sizes.
 *
 * The baseline encodes every envelope with `lineCodec.encode` inside its timed loop, as a
 * hand-written logger would, and stamps ids (UUIDv7) and times itself. Both sides build the
 * same events from the same seed before the first round.
 *
 * Run as a bundle (see `Bundle.ts`): node append.mjs '<AppendChildArgs JSON>'
 * then IPC: `AppendRequest` in, `AppendReply` out, one at a time.
 */
import { FileSystem } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type { Draft, Envelope } from "@weft/kernel/Envelope"
import { lineCodec } from "@weft/kernel/EventCodec"
import { EventLog } from "@weft/kernel/EventLog"
import { Event } from "@weft/kernel/Events"
import * as Ids from "@weft/kernel/Ids"
import { layerJsonl } from "@weft/store/JsonlEventLog"
import { encodeProjectPath, SESSION_SUFFIX } from "@weft/store/Layout"
import { Effect, Either, Layer, Queue, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { AppendChildArgs, AppendReply, AppendRequest } from "./Protocol.js"
import { makeSession } from "./Workload.js"

const args = JSON.parse(process.argv[2]!) as AppendChildArgs
const PROJECT = "/work/project"
const SESSION = "bench-append"

const decodeEvent = Schema.decodeUnknownSync(Event)

/** The realistic events both sides append (the first is `SessionStarted`), as drafts. */
const drafts: ReadonlyArray<Draft> = (() => {
  const session = makeSession({ seed: args.seed, sessionId: SESSION, project: PROJECT })
  return Array.from({ length: args.count + 1 }, () => {
    const g = session.next()
    return { event: decodeEvent(g.event), agentId: g.agentId, parentId: g.parentId }
  })
})()

const reply = (message: AppendReply, then?: () => void) => process.send!(message, undefined, {}, then)

const maxRssKb = () => process.resourceUsage().maxRSS

// ---------------------------------------------------------------------------------------------
// ours: the JSONL event log

/** Records the byte length of every write to files opened for appending: the log's batches. */
const recordingFs = (writes: Array<number>): Layer.Layer<FileSystem.FileSystem> =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fileSystem) => ({
      ...fileSystem,
      open: (p, options) =>
        Effect.map(fileSystem.open(p, options), (file) =>
          options?.flag !== "a" ? file : Object.defineProperties(Object.create(file) as FileSystem.File, {
            writeAll: {
              value: (buffer: Uint8Array) => {
                writes.push(buffer.length)
                return file.writeAll(buffer)
              }
            }
          }))
    }))
  ).pipe(Layer.provide(NodeFileSystem.layer))

/** How many lines each of the given writes (byte lengths, from byte `from` of `file` on) held. */
const linesPerWrite = (file: string, sizes: ReadonlyArray<number>, from: number): Array<number> => {
  const total = sizes.reduce((a, b) => a + b, 0)
  const bytes = Buffer.alloc(total)
  const fd = fs.openSync(file, "r")
  fs.readSync(fd, bytes, 0, total, from)
  fs.closeSync(fd)
  let offset = 0
  return sizes.map((size) => {
    let lines = 0
    for (let nl = bytes.indexOf(10, offset); nl !== -1 && nl < offset + size; nl = bytes.indexOf(10, nl + 1)) lines++
    offset += size
    return lines
  })
}

const ours = Effect.gen(function*() {
  const log = yield* EventLog
  const file = path.join(args.dir, "projects", encodeProjectPath(PROJECT), SESSION + SESSION_SUFFIX)
  const inbox = yield* Queue.unbounded<AppendRequest>()
  process.on("message", (message) => Queue.unsafeOffer(inbox, message as AppendRequest))
  yield* log.append(SESSION, [drafts[0]!])

  /** Appends drafts [from, to); returns their order in the file. */
  const round = (from: number, to: number) =>
    Effect.gen(function*() {
      const order = new Array<number>(to - from)
      if (args.shape.kind === "batch") {
        for (let i = from; i < to; i += args.shape.size) {
          yield* log.append(SESSION, drafts.slice(i, Math.min(to, i + args.shape.size)))
        }
        for (let i = from; i < to; i++) order[i - from] = i
        return order
      }
      let cursor = from
      let firstSeq = 0
      const appender = Effect.gen(function*() {
        while (cursor < to) {
          const i = cursor++
          const [envelope] = yield* log.append(SESSION, [drafts[i]!])
          if (firstSeq === 0) firstSeq = envelope!.seq - (i - from)
          order[envelope!.seq - firstSeq] = i
        }
      })
      yield* Effect.all(Array.from({ length: args.shape.fibers }, () => appender), {
        concurrency: "unbounded",
        discard: true
      })
      return order
    })

  for (;;) {
    const request = yield* Queue.take(inbox)
    switch (request.type) {
      case "ready":
        reply({ type: "ready" })
        break
      case "round": {
        const fromByte = fs.statSync(file).size
        const firstWrite = writes.length
        const started = performance.now()
        const order = yield* round(request.from, request.to)
        const ms = performance.now() - started
        const batches = linesPerWrite(file, writes.slice(firstWrite), fromByte)
        reply({ type: "round", ms, order, batches })
        break
      }
      case "close":
        return file
    }
  }
})

const writes: Array<number> = []

const runOurs = Effect.gen(function*() {
  const file = yield* Effect.scoped(Effect.provide(
    ours,
    layerJsonl({ home: args.dir, durability: args.durability }).pipe(
      Layer.provide(recordingFs(writes)),
      Layer.provide(Layer.mergeAll(NodeContext.layer, Ids.layer))
    )
  ))
  // After the layer has closed: the session's lock is released.
  reply({ type: "closed", file, maxRssKb: maxRssKb() }, () => process.disconnect())
})

// ---------------------------------------------------------------------------------------------
// baseline: a plain Node loop

const runBaseline = () => {
  const file = path.join(args.dir, "baseline" + SESSION_SUFFIX)
  const fd = fs.openSync(file, "a")
  let seq = 1
  let lastMillis = -1
  let sequence = 0
  const nextId = () => {
    const now = Date.now()
    sequence = now > lastMillis ? 0 : (sequence + 1) & 0xfff
    lastMillis = now
    return Ids.uuidv7(now, sequence, globalThis.crypto.getRandomValues(new Uint8Array(8)))
  }
  /** Encodes `batch` as lines and appends them with one write (and one fsync). */
  const write = (batch: ReadonlyArray<Draft>) => {
    const at = new Date().toISOString()
    let text = ""
    for (const draft of batch) {
      const envelope: Envelope = {
        seq: seq++,
        id: nextId(),
        parentId: draft.parentId ?? null,
        sessionId: SESSION,
        agentId: draft.agentId ?? "main",
        at,
        event: draft.event
      }
      text += Either.getOrThrow(lineCodec.encode(envelope)) + "\n"
    }
    fs.appendFileSync(fd, text)
    if (args.durability === "fsync") fs.fsyncSync(fd)
  }
  write([drafts[0]!])

  process.on("message", (message) => {
    const request = message as AppendRequest
    switch (request.type) {
      case "ready":
        return reply({ type: "ready" })
      case "round": {
        const started = performance.now()
        let at = 0
        for (const lines of request.batches!) {
          const batch = new Array<Draft>(lines)
          for (let k = 0; k < lines; k++) batch[k] = drafts[request.order![at++]!]!
          write(batch)
        }
        return reply({ type: "round", ms: performance.now() - started })
      }
      case "close":
        fs.closeSync(fd)
        return reply({ type: "closed", file, maxRssKb: maxRssKb() }, () => process.disconnect())
    }
  })
}

if (args.role === "ours") NodeRuntime.runMain(runOurs)
else runBaseline()
