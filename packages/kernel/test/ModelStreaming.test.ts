import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import { AgentLoop } from "../src/AgentLoop.js"
import { EventLog } from "../src/EventLog.js"
import type { ModelRequest, ModelResponse } from "../src/Messages.js"
import { emptyUsage } from "../src/Messages.js"
import * as ModelClient from "../src/ModelClient.js"
import { evaluator } from "../src/PermissionReplay.js"
import * as Replay from "../src/Replay.js"
import * as Harness from "../src/testing/Harness.js"
import * as ToolRegistry from "../src/ToolRegistry.js"

const response: ModelResponse = {
  id: "msg_1",
  model: "m",
  content: [{ type: "text", text: "Hello there" }],
  stop_reason: "end_turn",
  usage: { ...emptyUsage, input_tokens: 10, output_tokens: 3 }
}

/** A model that fails its first attempt (overloaded), says so, then streams the answer in two deltas. */
const retrying = Layer.succeed(
  ModelClient.ModelClient,
  ModelClient.ModelClient.of({
    create: () => Effect.succeed(response),
    stream: () =>
      Stream.make<Array<ModelClient.ModelEvent>>(
        {
          _tag: "Retrying",
          attempt: 1,
          delayMs: 250,
          error: new ModelClient.ModelError({
            type: "overloaded_error",
            message: "Overloaded",
            status: 529,
            retryable: true
          })
        },
        { _tag: "TextDelta", index: 0, text: "Hello" },
        { _tag: "TextDelta", index: 0, text: " there" },
        { _tag: "Completed", response }
      )
  })
)

describe("the loop on a streaming model", () => {
  it.scoped("every attempt is in the log, the deltas reach the observer, and the session replays", () =>
    Effect.gen(function*() {
      const dir = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped()
      const seen: Array<string> = []
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
        const result = yield* session.send("hi")
        assert.strictEqual(result.text, "Hello there")
        assert.isUndefined(result.error)
        const log = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* EventLog).read(session.sessionId)))
        const tags = log.map((e) => e.event._tag)
        assert.deepStrictEqual(tags.slice(2, 5), ["ModelRequested", "ModelFailed", "ModelResponded"])
        const failed = log[3]!.event
        assert.deepInclude(failed, { attempt: 1, retryable: true, retryInMs: 250 })
        assert.deepStrictEqual(seen, ["main Retrying", "main Hello", "main  there", "main Completed"])
        const registry = yield* ToolRegistry.ToolRegistry
        yield* Replay.verify(session.sessionId, log, { evaluatePermission: evaluator(registry.tools) })
      }).pipe(Effect.provide(Harness.layer({
        model: retrying,
        loop: {
          onModelEvent: (agentId, event) =>
            Effect.sync(() => seen.push(`${agentId} ${event._tag === "TextDelta" ? event.text : event._tag}`))
        }
      })))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a stream that ends without a response fails the request, recorded with its attempt count", () =>
    Effect.gen(function*() {
      const dir = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped()
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
        const result = yield* session.send("hi")
        assert.include(result.error, "incomplete_response")
      }).pipe(Effect.provide(Harness.layer({
        model: Layer.succeed(
          ModelClient.ModelClient,
          ModelClient.ModelClient.of({
            create: () => Effect.succeed(response),
            stream: () => Stream.make<Array<ModelClient.ModelEvent>>({ _tag: "TextDelta", index: 0, text: "Hel" })
          })
        )
      })))
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("extended thinking", () => {
  it.scoped("asked for in settings: each request thinks within the budget, and thinking blocks go back verbatim", () =>
    Effect.gen(function*() {
      const dir = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped()
      yield* (yield* FileSystem.FileSystem).writeFileString(`${dir}/a.txt`, "A\n")
      const requests: Array<ModelRequest> = []
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({
          project: dir,
          model: "m",
          thinkingBudgetTokens: 2048,
          maxTokens: 8192
        })
        yield* session.send("read a.txt")
        assert.deepStrictEqual(requests.map((r) => r.thinking), [
          { type: "enabled", budget_tokens: 2048 },
          { type: "enabled", budget_tokens: 2048 }
        ])
        assert.deepStrictEqual(requests[1]!.messages[1]!.content[0], {
          type: "thinking",
          thinking: "I should read it.",
          signature: "sig-123"
        })
      }).pipe(Effect.provide(Harness.layer({
        model: ModelClient.layerFake((request) => {
          requests.push(request)
          return requests.length === 1
            ? {
              content: [
                { type: "thinking", thinking: "I should read it.", signature: "sig-123" },
                { type: "tool_use", id: "r1", name: "read", input: { path: "a.txt" } }
              ]
            }
            : { content: [{ type: "text", text: "It says A." }] }
        })
      })))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a request clamped below the thinking budget does not think (the API needs room to answer)", () =>
    Effect.gen(function*() {
      const dir = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped()
      const requests: Array<ModelRequest> = []
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({
          project: dir,
          model: "m",
          thinkingBudgetTokens: 2048,
          maxTokens: 2048
        })
        yield* session.send("hi")
        assert.isUndefined(requests[0]!.thinking)
      }).pipe(Effect.provide(Harness.layer({
        model: ModelClient.layerFake((request) => {
          requests.push(request)
          return { content: [{ type: "text", text: "hello" }] }
        })
      })))
    }).pipe(Effect.provide(NodeContext.layer)))
})
