import { assert, describe, it } from "@effect/vitest"
import type { Envelope } from "@weft/kernel/Envelope"
import { MemoryExtracted, ModelRequested, ModelResponded } from "@weft/kernel/Events"
import { emptyUsage } from "@weft/kernel/Messages"
import { Effect, TestClock } from "effect"
import * as SessionOutput from "../src/SessionOutput.js"

const envelope = (seq: number, event: Envelope["event"], agentId = "main"): Envelope => ({
  id: `e${seq}`,
  seq,
  sessionId: "s",
  agentId,
  parentId: null,
  at: "2026-11-21T00:00:00.000Z",
  event
})

const requested = envelope(
  3,
  new ModelRequested({ requestId: "main:1", model: "m", maxTokens: 100, tools: [], messageCount: 1 })
)
const responded = envelope(
  4,
  new ModelResponded({
    requestId: "main:1",
    messageId: "msg",
    model: "m",
    content: [{ type: "tool_use", id: "t1", name: "read", input: { path: "a.txt" } }],
    usage: emptyUsage,
    stopReason: "tool_use"
  })
)

const capture = (options: Partial<SessionOutput.Options> = {}) =>
  Effect.gen(function*() {
    const out = { stdout: "", stderr: "" }
    const output = yield* SessionOutput.make({
      format: "text",
      color: false,
      spinner: false,
      reportErrors: true,
      ...options,
      sink: { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t) }
    })
    return { out, output }
  })

describe("what a running session shows", () => {
  it.scoped("on a terminal a spinner turns while the model thinks and stops at the first text; never otherwise", () =>
    Effect.gen(function*() {
      const { out, output } = yield* capture({ spinner: true })
      yield* output.onAppend([requested])
      yield* TestClock.adjust("500 millis")
      assert.include(out.stderr, "thinking…")
      const frames = out.stderr.length
      yield* output.onModelEvent("main", { _tag: "TextDelta", index: 0, text: "Hi" })
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(out.stdout, "Hi")
      // Cleared, and no frame after the text began.
      assert.isTrue(out.stderr.endsWith("\r\u001b[2K"))
      assert.isAtMost(out.stderr.length, frames + "\r\u001b[2K".length)

      const plain = yield* capture({ spinner: false })
      yield* plain.output.onAppend([requested])
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(plain.out.stderr, "")
    }))

  it.scoped("the memory pass runs after the answer without a spinner over it or a line break on stdout; what it found is a line", () =>
    Effect.gen(function*() {
      const { out, output } = yield* capture({ spinner: true })
      yield* output.onModelEvent("main", { _tag: "TextDelta", index: 0, text: "Done." })
      yield* output.onAppend([
        envelope(
          5,
          new ModelRequested({
            requestId: "main:2",
            model: "m",
            maxTokens: 512,
            tools: [],
            messageCount: 1,
            purpose: "remember"
          })
        )
      ])
      yield* TestClock.adjust("500 millis")
      assert.notInclude(out.stderr, "thinking…")
      yield* output.onAppend([
        envelope(
          6,
          new MemoryExtracted({
            requestId: "main:2",
            model: "m",
            usage: emptyUsage,
            answer: "[]",
            proposals: [{ category: "preference", text: "Prefers tabs", scope: "user" }]
          })
        )
      ])
      assert.strictEqual(out.stderr, "\n  ⎿ remembered (implicit): Prefers tabs\n")
      yield* output.finish({
        sessionId: "s",
        text: "Done.",
        turns: 2,
        durationMs: 1,
        usage: emptyUsage,
        costUsd: 0,
        stopReason: "end_turn"
      })
      assert.strictEqual(out.stdout, "Done.\n")
    }))

  it.effect("tool lines are dimmed only when colours are allowed", () =>
    Effect.gen(function*() {
      const colored = yield* capture({ color: true })
      yield* colored.output.onAppend([responded])
      assert.strictEqual(colored.out.stderr, "\u001b[2m● read(a.txt)\u001b[0m\n")
      const plain = yield* capture({ color: false })
      yield* plain.output.onAppend([responded])
      assert.strictEqual(plain.out.stderr, "● read(a.txt)\n")
    }))

  it.effect("json prints nothing while the session runs, then one result object", () =>
    Effect.gen(function*() {
      const { out, output } = yield* capture({ format: "json" })
      yield* output.onAppend([requested, responded])
      yield* output.onModelEvent("main", { _tag: "TextDelta", index: 0, text: "Hi" })
      assert.strictEqual(out.stdout, "")
      yield* output.finish({
        sessionId: "s",
        text: "Hi",
        turns: 1,
        durationMs: 5,
        usage: emptyUsage,
        costUsd: 0.25,
        stopReason: "end_turn"
      })
      const result = JSON.parse(out.stdout)
      assert.deepInclude(result, {
        type: "result",
        subtype: "success",
        result: "Hi",
        session_id: "s",
        total_cost_usd: 0.25
      })
    }))
})
