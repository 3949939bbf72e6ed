import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Chunk, Stream } from "effect"
import { Either } from "effect"
import { decide } from "../src/AgentDecider.js"
import { AgentLoop } from "../src/AgentLoop.js"
import * as AgentState from "../src/AgentState.js"
import { EventLog } from "../src/EventLog.js"
import { ModelRequested, ModelResponded, SessionStarted, UserMessageReceived } from "../src/Events.js"
import type { Usage } from "../src/Messages.js"
import * as ModelClient from "../src/ModelClient.js"
import * as Pricing from "../src/Pricing.js"
import * as Settings from "../src/Settings.js"
import { envelopes } from "../src/testing/Decider.js"
import * as Harness from "../src/testing/Harness.js"

const usage = (input: number, output: number, cacheWrite = 0, cacheRead = 0): Usage => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation_input_tokens: cacheWrite,
  cache_read_input_tokens: cacheRead
})

describe("Pricing", () => {
  it("a model matches the longest prefix in the table; an unknown model costs null, never 0", () => {
    assert.deepStrictEqual(Pricing.find("claude-opus-4-1-20250805"), Pricing.defaults["claude-opus-4-1"])
    assert.deepStrictEqual(Pricing.find("claude-opus-4-5-20251101"), Pricing.defaults["claude-opus-4-5"])
    assert.strictEqual(Pricing.find("claude-opus-4-6")!.input, 5)
    assert.isUndefined(Pricing.find("gpt-5"))
    assert.isNull(Pricing.cost("gpt-5", usage(1000, 1000)))
    assert.isNull(Pricing.add(1, null))
  })

  it("input, output, cache writes and cache reads are each charged at their own rate", () => {
    // sonnet 4.5: $3 in, $15 out, $3.75 cache write, $0.30 cache read, per million tokens.
    const cost = Pricing.cost("claude-sonnet-4-5-20250929", usage(1_000_000, 100_000, 200_000, 2_000_000))!
    assert.closeTo(cost, 3 + 1.5 + 0.75 + 0.6, 1e-9)
  })

  it("settings add and override prices; a bad price is a SettingsError naming the key", () => {
    const layer = Settings.decodeLayer("user", "/u/settings.json", {
      pricing: { "my-model": { input: 1, output: 2, cacheWrite: 1, cacheRead: 0.1 } },
      cacheReadWeight: 0.1
    })
    const merged = Settings.merge([Either.getOrThrow(layer)])
    assert.deepStrictEqual(merged.prices["my-model"], { input: 1, output: 2, cacheWrite: 1, cacheRead: 0.1 })
    assert.deepStrictEqual(merged.prices["claude-haiku-4-5"], Pricing.defaults["claude-haiku-4-5"])
    assert.strictEqual(merged.cacheReadWeight, 0.1)
    const bad = Settings.decodeLayer("user", "/u/settings.json", { pricing: { "my-model": { input: -1 } } })
    assert.isTrue(Either.isLeft(bad))
    assert.include(Either.isLeft(bad) ? bad.left.message : "", "pricing")
  })
})

describe("what a session spends", () => {
  const started = (cacheReadWeight?: number) =>
    new SessionStarted({
      project: "/p",
      cwd: "/p",
      model: "claude-haiku-4-5",
      settings: {},
      sources: [],
      maxDepth: 3,
      budgetTokens: 1_000_000,
      ...(cacheReadWeight === undefined ? {} : { budgetWeights: { ...Pricing.unweighted, cacheRead: cacheReadWeight } })
    })
  const turn = [
    new UserMessageReceived({ content: [{ type: "text", text: "hi" }] }),
    new ModelRequested({
      requestId: "main:1",
      model: "claude-haiku-4-5",
      maxTokens: 100,
      tools: [],
      messageCount: 1,
      digest: "0"
    }),
    new ModelResponded({
      requestId: "main:1",
      messageId: "msg_1",
      model: "claude-haiku-4-5",
      content: [{ type: "text", text: "hello" }],
      usage: usage(100, 50, 0, 10_000),
      stopReason: "end_turn"
    })
  ]

  it("cache reads count against the budget at the configured weight (1 by default)", () => {
    const full = envelopes([started(), ...turn]).reduce(AgentState.evolve, AgentState.initial("main"))
    assert.strictEqual(full.budget.used, 100 + 50 + 10_000)
    const cheap = envelopes([started(0.1), ...turn]).reduce(AgentState.evolve, AgentState.initial("main"))
    assert.strictEqual(cheap.budget.used, 100 + 50 + 1_000)
  })

  it("a budget in dollars is input tokens of the model, other tokens weighted by price: spending it all costs exactly that", () => {
    const budget = Pricing.usdBudget(1, "claude-haiku-4-5")!
    // haiku 4.5: $1 in, $5 out, $1.25 cache write, $0.10 cache read per million tokens.
    assert.strictEqual(budget.budgetTokens, 1_000_000)
    assert.deepStrictEqual(budget.weights, { output: 5, cacheWrite: 1.25, cacheRead: 0.1 })
    assert.isUndefined(Pricing.usdBudget(1, "gpt-5"))
    const spent = usage(200_000, 100_000, 80_000, 1_000_000)
    const dollars = Pricing.cost("claude-haiku-4-5", spent)!
    assert.closeTo(AgentState.charge(spent, budget.weights) / budget.budgetTokens, dollars, 1e-6)
  })

  it("with output weighed at its price, a request's max_tokens is clamped by what the budget buys", () => {
    const weighted = new SessionStarted({
      ...started(),
      budgetTokens: 10_000,
      maxTokens: 8192,
      budgetWeights: { output: 5, cacheWrite: 1.25, cacheRead: 0.1 }
    })
    const state = envelopes([weighted, turn[0]!]).reduce(AgentState.evolve, AgentState.initial("main"))
    const [intent] = decide(state)
    assert.strictEqual(intent?._tag, "RequestModel")
    const left = 10_000 - AgentState.estimateInput(state)
    assert.strictEqual((intent as { decision: ModelRequested }).decision.maxTokens, Math.floor(left / 5))
  })

  it("the state keeps the dollar cost of its responses from the price table", () => {
    const state = envelopes([started(), ...turn]).reduce(AgentState.evolve, AgentState.initial("main"))
    assert.closeTo(state.costUsd!, (100 * 1 + 50 * 5 + 10_000 * 0.1) / 1_000_000, 1e-12)
  })

  it.scoped("a subagent's result tells its parent the title, tokens and cost", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "weft-cost-" })
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "claude-haiku-4-5" })
        yield* session.send("delegate")
        const log = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* EventLog).read(session.sessionId)))
        const completed = log.map((e) => e.event).find((e) => e._tag === "SubagentCompleted")!
        const expected = Pricing.cost("claude-haiku-4-5", usage(10, 20))!
        assert.closeTo(completed.costUsd!, expected, 1e-12)
        const result = log.map((e) => e.event).find((e) => e._tag === "ModelRequested" && e.messageCount === 3)
        assert.isDefined(result)
        const state = yield* session.state
        const toolResult = AgentState.transcript(state)[2]!.content[0]!
        const parsed = JSON.parse((toolResult as { content: string }).content)
        assert.deepStrictEqual([parsed.title, parsed.tokens], ["find the notes", 30])
        assert.closeTo(parsed.costUsd, expected, 1e-12)
        // The parent's cost covers its own requests and the child's.
        assert.closeTo(state.costUsd!, expected * 3, 1e-12)
      }).pipe(Effect.provide(Harness.layer({
        model: ModelClient.layerFake((request) => ({
          content: request.messages[0]!.content[0]!.type === "text" &&
                (request.messages[0]!.content[0] as { text: string }).text === "look" ||
              request.messages.length > 1
            ? [{ type: "text", text: "done" }]
            : [{
              type: "tool_use",
              id: "k1",
              name: "task",
              input: { agent_type: "explore", description: "find the notes", prompt: "look" }
            }],
          usage: usage(10, 20)
        }))
      })))
    }).pipe(Effect.provide(NodeContext.layer)))
})
