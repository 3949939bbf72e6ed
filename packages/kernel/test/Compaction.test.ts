import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { AgentLoop, COMPACT_INSTRUCTION } from "../src/AgentLoop.js"
import { EventLog } from "../src/EventLog.js"
import type { ModelRequest } from "../src/Messages.js"
import * as ModelClient from "../src/ModelClient.js"
import { evaluator } from "../src/PermissionReplay.js"
import * as Replay from "../src/Replay.js"
import * as Harness from "../src/testing/Harness.js"
import * as ToolRegistry from "../src/ToolRegistry.js"

const lastUserText = (request: ModelRequest) => {
  const last = request.messages.at(-1)!.content.at(-1)!
  return last.type === "text" ? last.text : ""
}

describe("context compaction", () => {
  it.scoped("when the transcript would not fit the window, older turns are summarised into ContextCompacted; the next request uses the summary; replay verifies", () =>
    Effect.gen(function*() {
      const dir = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped()
      const requests: Array<ModelRequest> = []
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m", contextWindow: 4000 })
        yield* session.send(`remember this: ${"x".repeat(4000)}`)
        const second = yield* session.send("what did I ask you to remember?")
        assert.strictEqual(second.text, "You asked me to remember a long run of x.")
        const log = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* EventLog).read(session.sessionId)))
        const compacted = log.find((e) => e.event._tag === "ContextCompacted")!
        const secondTurn = log.filter((e) => e.event._tag === "UserMessageReceived")[1]!
        assert.deepInclude(compacted.event, { fromSeq: 2, toSeq: secondTurn.seq - 1 })
        const asked = log.find((e) => e.event._tag === "ModelRequested" && e.event.purpose === "compact")!
        assert.isBelow(asked.seq, compacted.seq)
        // The summary request carried the older turns and the instruction; the next one the summary instead.
        const summaryRequest = requests.find((r) => lastUserText(r) === COMPACT_INSTRUCTION)!
        assert.strictEqual(summaryRequest.messages.length, 3)
        assert.deepStrictEqual(summaryRequest.tools, [])
        const after = requests.at(-1)!
        assert.strictEqual(after.messages.length, 3)
        assert.include(JSON.stringify(after.messages[0]), "SUMMARY: the user asked me to remember x")
        assert.notInclude(JSON.stringify(after.messages), "x".repeat(100))
        // The originals stay in the log.
        assert.include(JSON.stringify(log[1]!.event), "x".repeat(4000))
        const registry = yield* ToolRegistry.ToolRegistry
        const report = yield* Replay.verify(session.sessionId, log, { evaluatePermission: evaluator(registry.tools) })
        assert.strictEqual(report.decisions, 5)
      }).pipe(Effect.provide(Harness.layer({
        model: ModelClient.layerFake((request) => {
          requests.push(request)
          const text = lastUserText(request)
          return {
            content: [{
              type: "text",
              text: text === COMPACT_INSTRUCTION
                ? "SUMMARY: the user asked me to remember x"
                : text.startsWith("remember")
                ? "ok"
                : "You asked me to remember a long run of x."
            }]
          }
        })
      })))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("without a context window, or when it fits, nothing is compacted", () =>
    Effect.gen(function*() {
      const dir = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped()
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m", contextWindow: 200_000 })
        yield* session.send(`remember this: ${"x".repeat(4000)}`)
        yield* session.send("and now?")
        const log = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* EventLog).read(session.sessionId)))
        assert.isFalse(log.some((e) => e.event._tag === "ContextCompacted"))
      }).pipe(Effect.provide(Harness.layer({
        model: ModelClient.layerFake(() => ({ content: [{ type: "text", text: "ok" }] }))
      })))
    }).pipe(Effect.provide(NodeContext.layer)))
})
