import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as fc from "fast-check"
import { slices } from "../src/AgentDecider.js"
import { AgentLoop } from "../src/AgentLoop.js"
import { charge, estimateInput } from "../src/AgentState.js"
import * as AgentTypes from "../src/AgentTypes.js"
import type { Envelope } from "../src/Envelope.js"
import { EventLog } from "../src/EventLog.js"
import type { ModelRequested } from "../src/Events.js"
import { BudgetExhausted, SessionStarted, UserMessageReceived } from "../src/Events.js"
import type { ModelRequest } from "../src/Messages.js"
import * as ModelClient from "../src/ModelClient.js"
import { evaluator } from "../src/PermissionReplay.js"
import * as Replay from "../src/Replay.js"
import { given } from "../src/testing/Decider.js"
import * as Harness from "../src/testing/Harness.js"
import * as ToolRegistry from "../src/ToolRegistry.js"

const started = (budgetTokens: number | null) =>
  new SessionStarted({
    project: "/p",
    cwd: "/p",
    model: "m",
    settings: {},
    sources: [],
    maxDepth: 3,
    budgetTokens,
    tools: ["read"],
    maxTokens: 4096
  })
const user = new UserMessageReceived({ content: [{ type: "text", text: "hi" }] })

const readLog = (sessionId: string) =>
  EventLog.pipe(Effect.flatMap((log) => Stream.runCollect(log.read(sessionId))), Effect.map(Chunk.toReadonlyArray))

describe("budgets", () => {
  it("a request's max_tokens is clamped to what the budget leaves after its estimated input", () => {
    const g = given([started(6000), user])
    const [intent] = g.decide()
    assert.strictEqual(intent?._tag, "RequestModel")
    const decision = (intent as { decision: ModelRequested }).decision
    assert.strictEqual(decision.maxTokens, 6000 - estimateInput(g.state))
    assert.isBelow(decision.maxTokens, 4096)
  })

  it("a request whose estimated input alone does not fit is not started: BudgetExhausted, then the turn ends", () => {
    const g = given([started(1000), user])
    const [intent] = g.decide()
    assert.strictEqual(intent?._tag, "ExhaustBudget")
    assert.deepStrictEqual(
      { ...(intent as { decision: BudgetExhausted }).decision },
      { ...new BudgetExhausted({ limitTokens: 1000, usedTokens: 0, neededTokens: estimateInput(g.state) }) }
    )
    const after = given([started(1000), user, (intent as { decision: BudgetExhausted }).decision])
    assert.deepStrictEqual(after.decide().map((i) => i._tag), ["CompleteTurn"])
  })

  it("without a budget nothing is clamped", () => {
    const [intent] = given([started(null), user]).decide()
    assert.strictEqual((intent as { decision: ModelRequested }).decision.maxTokens, 4096)
  })

  it("subagents share what is left less the parent's reserve", () => {
    assert.strictEqual(slices(10_000, 2), 3750)
    assert.strictEqual(slices(null, 3), null)
  })

  it.scoped("a run that outgrows its budget stops with BudgetExhausted, says so, and verifies", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped())
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m", budgetTokens: 5000 })
        const result = yield* session.send("talk a lot")
        assert.include(result.error ?? "", "token budget is exhausted")
        const log = yield* readLog(session.sessionId)
        assert.isTrue(log.some((e) => e.event._tag === "BudgetExhausted"))
        const spent = log.reduce((n, e) => n + (e.event._tag === "ModelResponded" ? charge(e.event.usage) : 0), 0)
        assert.isAtMost(spent, 5000)
        const registry = yield* ToolRegistry.ToolRegistry
        yield* Replay.verify(session.sessionId, log, { evaluatePermission: evaluator(registry.tools) })
      }).pipe(Effect.provide(Harness.layer({
        // Reads again and again: every round trip grows the transcript until the next request cannot fit.
        model: ModelClient.layerFake((_request, n) => ({
          content: [{ type: "text", text: "x".repeat(2000) }, {
            type: "tool_use",
            id: `r${n}`,
            name: "glob",
            input: { pattern: "*" }
          }]
        }))
      })))
    }).pipe(Effect.provide(NodeContext.layer)))

  // Behaviours a fake model picks from, request by request: answer (of some size), read, or delegate.
  const behaviour = fc.oneof(
    fc.record({ kind: fc.constant("text" as const), size: fc.integer({ min: 0, max: 30_000 }) }),
    fc.record({ kind: fc.constant("read" as const) }),
    fc.record({ kind: fc.constant("tasks" as const), count: fc.integer({ min: 1, max: 3 }) })
  )

  it.effect.prop(
    "over random delegation trees: no agent deeper than maxDepth, the tree never spends more than the root budget, and it verifies",
    [
      fc.array(behaviour, { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 3_000, max: 200_000 }),
      fc.integer({ min: 1, max: 2 })
    ],
    ([behaviours, budget, maxDepth]) =>
      Effect.gen(function*() {
        const dir = yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped())
        let n = 0
        const answer = (request: ModelRequest): ModelClient.ScriptStep => {
          const b = behaviours[n++ % behaviours.length]!
          // An agent that has been answered a few times wraps up, so every tree ends.
          if (request.messages.length > 6 || b.kind === "text") {
            return { content: [{ type: "text", text: "y".repeat(b.kind === "text" ? b.size : 10) }] }
          }
          if (b.kind === "read") {
            return { content: [{ type: "tool_use", id: `r${n}`, name: "glob", input: { pattern: "*" } }] }
          }
          return {
            content: Array.from({ length: b.count }, (_, i) => ({
              type: "tool_use" as const,
              id: `t${n}_${i}`,
              name: "task",
              input: { agent_type: "explore", description: "look", prompt: `look ${n}.${i}` }
            }))
          }
        }
        yield* Effect.gen(function*() {
          const session = yield* (yield* AgentLoop).start({ project: dir, model: "m", budgetTokens: budget, maxDepth })
          yield* session.send("go")
          const log: ReadonlyArray<Envelope> = yield* readLog(session.sessionId)
          for (const e of log) assert.isAtMost(AgentTypes.depthOf(e.agentId), maxDepth, e.agentId)
          const spent = log.reduce((s, e) => s + (e.event._tag === "ModelResponded" ? charge(e.event.usage) : 0), 0)
          assert.isAtMost(spent, budget)
          const registry = yield* ToolRegistry.ToolRegistry
          yield* Replay.verify(session.sessionId, log, { evaluatePermission: evaluator(registry.tools) })
        }).pipe(Effect.provide(Harness.layer({ model: ModelClient.layerFake(answer) })))
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    { fastCheck: { numRuns: 40 }, timeout: 60_000 }
  )
})
