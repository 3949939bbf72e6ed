import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ModelRequest } from "../src/Messages.js"
import * as ModelClient from "../src/ModelClient.js"

const request: ModelRequest = {
  model: "m",
  system: "s",
  messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
  tools: [],
  max_tokens: 100
}

const create = ModelClient.ModelClient.pipe(Effect.flatMap((client) => client.create(request)))

describe("ModelClient", () => {
  it.effect("layerScripted answers in order, fills in id, model, usage and stop reason, and says when it runs out", () =>
    Effect.gen(function*() {
      const first = yield* create
      assert.strictEqual(first.stop_reason, "tool_use")
      assert.strictEqual(first.model, "m")
      assert.isAbove(first.usage.input_tokens, 0)
      const second = yield* create
      assert.deepStrictEqual(second.content, [{ type: "text", text: "done" }])
      assert.strictEqual(second.stop_reason, "end_turn")
      const error = yield* Effect.flip(create)
      assert.strictEqual(error.type, "script_exhausted")
      assert.include(error.message, "has 2 step(s) and request 3 asked for another")
    }).pipe(Effect.provide(ModelClient.layerScripted([
      { content: [{ type: "tool_use", id: "t", name: "read", input: { path: "a" } }] },
      { content: [{ type: "text", text: "done" }] }
    ]))))

  it.effect("a scripted error step fails the request with that error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(create)
      assert.deepStrictEqual([error.type, error.message, error.status, error.retryable], [
        "overloaded_error",
        "busy",
        529,
        true
      ])
    }).pipe(Effect.provide(ModelClient.layerScripted([
      { error: { type: "overloaded_error", message: "busy", status: 529, retryable: true } }
    ]))))

  it.scoped("layerScriptedFile reads one step per line of a JSONL file, skipping blank lines", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* fs.writeFileString(
        `${dir}/script.jsonl`,
        `{"content":[{"type":"text","text":"one"}]}\n\n{"content":[{"type":"text","text":"two"}]}\n`
      )
      const texts = yield* Effect.all([create, create]).pipe(
        Effect.provide(ModelClient.layerScriptedFile(`${dir}/script.jsonl`))
      )
      assert.deepStrictEqual(texts.map((r) => r.content), [[{ type: "text", text: "one" }], [{
        type: "text",
        text: "two"
      }]])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a script line that is not a step is an error naming the file and line", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* fs.writeFileString(`${dir}/script.jsonl`, `{"content":[]}\n{"contents":[]}\n`)
      const error = yield* Effect.flip(
        create.pipe(Effect.provide(ModelClient.layerScriptedFile(`${dir}/script.jsonl`)))
      )
      assert.strictEqual(error._tag, "ScriptFileError")
      assert.include(error.message, `${dir}/script.jsonl:2:`)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("layerFake answers as a function of the request", () =>
    Effect.gen(function*() {
      const response = yield* create
      assert.deepStrictEqual(response.content, [{ type: "text", text: "you said hi (request 1)" }])
    }).pipe(Effect.provide(ModelClient.layerFake((req, n) => ({
      content: [{
        type: "text",
        text: `you said ${JSON.stringify(req.messages[0]!.content[0]).includes("hi") ? "hi" : "?"} (request ${n})`
      }]
    })))))
})
