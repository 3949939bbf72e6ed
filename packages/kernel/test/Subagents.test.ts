import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Stream } from "effect"
import { AgentLoop } from "../src/AgentLoop.js"
import { transcript } from "../src/AgentState.js"
import type { Envelope } from "../src/Envelope.js"
import { EventLog } from "../src/EventLog.js"
import type { AnyEvent } from "../src/Events.js"
import type { Json } from "../src/Json.js"
import type { ModelRequest } from "../src/Messages.js"
import * as ModelClient from "../src/ModelClient.js"
import { evaluator } from "../src/PermissionReplay.js"
import * as Replay from "../src/Replay.js"
import * as Harness from "../src/testing/Harness.js"
import {
  answer as text,
  calling as uses,
  firstPrompt as asker,
  responsesSoFar as step
} from "../src/testing/ModelScripts.js"
import * as ToolRegistry from "../src/ToolRegistry.js"

const task = (id: string, agentType: string, prompt: string): [string, string, Json] => [
  id,
  "task",
  { agent_type: agentType, description: `do ${prompt}`, prompt }
]

const readLog = (sessionId: string) =>
  EventLog.pipe(Effect.flatMap((log) => Stream.runCollect(log.read(sessionId))), Effect.map(Chunk.toReadonlyArray))
const ofTag = <T extends AnyEvent["_tag"]>(envelopes: ReadonlyArray<Envelope>, tag: T) =>
  envelopes.map((e) => e.event).filter((e): e is Extract<AnyEvent, { _tag: T }> => e._tag === tag)

const verifyAll = (sessionId: string) =>
  Effect.gen(function*() {
    const registry = yield* ToolRegistry.ToolRegistry
    return yield* Replay.verify(sessionId, yield* readLog(sessionId), { evaluatePermission: evaluator(registry.tools) })
  })

const project = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "weft-sub-" }))

describe("subagents", () => {
  it.scoped("a task call runs a child agent on its prompt alone; its structured result answers the call; replay verifies", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* project
      yield* fs.writeFileString(`${dir}/notes.txt`, "the answer is 42\n")
      const requests: Array<ModelRequest> = []
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
        const result = yield* session.send("what is the answer? ask a subagent")
        assert.strictEqual(result.text, "It is 42.")
        const log = yield* readLog(session.sessionId)
        const spawned = ofTag(log, "SubagentSpawned")
        assert.deepStrictEqual(spawned.map((s) => [s.childAgentId, s.agentType]), [["main/1", "explore"]])
        const childEvents = log.filter((e) => e.agentId === "main/1").map((e) => e.event._tag)
        assert.deepStrictEqual(childEvents.slice(0, 2), ["UserMessageReceived", "ModelRequested"])
        assert.strictEqual(childEvents.at(-1), "TurnCompleted")
        // The child saw its prompt alone, with its type's tools and system prompt.
        const first = requests.find((r) => asker(r) === "find the answer in notes.txt")!
        assert.deepStrictEqual(first.messages, [{
          role: "user",
          content: [{ type: "text", text: "find the answer in notes.txt" }]
        }])
        assert.deepStrictEqual(first.tools.map((t) => t.name), ["read", "glob", "grep", "task"])
        assert.include(first.system, "exploring")
        const [completed] = ofTag(log, "SubagentCompleted")
        assert.strictEqual(completed!.outcome, "completed")
        assert.strictEqual(completed!.summary, "notes.txt says 42")
        assert.strictEqual(completed!.turns, 2)
        const parentSaw = transcript(Replay.fold(log)).find((m) =>
          m.role === "user" && m.content[0]?.type === "tool_result"
        )!
        const structured = JSON.parse((parentSaw.content[0] as { content: string }).content)
        assert.deepStrictEqual([structured.agent, structured.outcome, structured.summary], [
          "main/1",
          "completed",
          "notes.txt says 42"
        ])
        const report = yield* verifyAll(session.sessionId)
        assert.deepStrictEqual([...report.agents].sort(), ["main", "main/1"])
      }).pipe(Effect.provide(Harness.layer({
        model: ModelClient.layerFake((request) => {
          requests.push(request)
          if (asker(request) === "find the answer in notes.txt") {
            return step(request) === 0 ? uses(["r1", "read", { path: "notes.txt" }]) : text("notes.txt says 42")
          }
          return step(request) === 0 ? uses(task("k1", "explore", "find the answer in notes.txt")) : text("It is 42.")
        })
      })))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("at the depth limit the task tool is not offered, and a call to it is a tool error naming the limit", () =>
    Effect.gen(function*() {
      const dir = yield* project
      const requests: Array<ModelRequest> = []
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m", maxDepth: 1 })
        yield* session.send("delegate")
        const log = yield* readLog(session.sessionId)
        const child = requests.find((r) => asker(r) === "go deeper")!
        assert.notInclude(child.tools.map((t) => t.name), "task")
        const refused = ofTag(log, "ToolCallCompleted").find((c) => c.toolUseId === "deeper")!
        assert.isTrue(refused.isError)
        assert.include(String(refused.content), "delegation depth limit (maxDepth 1)")
        assert.deepStrictEqual(ofTag(log, "SubagentSpawned").map((s) => s.childAgentId), ["main/1"])
        yield* verifyAll(session.sessionId)
      }).pipe(Effect.provide(Harness.layer({
        model: ModelClient.layerFake((request) => {
          requests.push(request)
          if (asker(request) === "go deeper") {
            return step(request) === 0 ? uses(task("deeper", "explore", "too deep")) : text("could not")
          }
          return step(request) === 0 ? uses(task("k1", "explore", "go deeper")) : text("done")
        })
      })))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("an unknown agent type is a tool error listing the types; nothing is spawned", () =>
    Effect.gen(function*() {
      const dir = yield* project
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
        yield* session.send("delegate")
        const log = yield* readLog(session.sessionId)
        const [refused] = ofTag(log, "ToolCallCompleted")
        assert.include(String(refused!.content), `unknown agent type "wizard"; available: explore, plan, general, code`)
        assert.deepStrictEqual(ofTag(log, "SubagentSpawned"), [])
      }).pipe(Effect.provide(Harness.layer({
        model: ModelClient.layerScripted([uses(task("k1", "wizard", "magic")), text("ok")])
      })))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a child's failure is an outcome for its parent, never the parent's crash; its partial work stays in the log", () =>
    Effect.gen(function*() {
      const dir = yield* project
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
        const result = yield* session.send("delegate")
        assert.strictEqual(result.text, "the subagent failed; carrying on")
        const log = yield* readLog(session.sessionId)
        const [completed] = ofTag(log, "SubagentCompleted")
        assert.strictEqual(completed!.outcome, "failed")
        assert.include(completed!.summary, "overloaded")
        assert.isTrue(log.some((e) => e.agentId === "main/1" && e.event._tag === "ModelFailed"))
        yield* verifyAll(session.sessionId)
      }).pipe(Effect.provide(Harness.layer({
        model: ModelClient.layerFake((request) =>
          asker(request) === "fail"
            ? { error: { type: "overloaded_error", message: "busy", retryable: true } }
            : step(request) === 0
            ? uses(task("k1", "general", "fail"))
            : text("the subagent failed; carrying on")
        )
      })))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("several task calls of one response run at once; results return in the order asked; replay verifies the interleaving", () =>
    Effect.gen(function*() {
      const dir = yield* project
      const bArrived = yield* Deferred.make<void>()
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
        yield* session.send("two at once")
        const log = yield* readLog(session.sessionId)
        const completed = ofTag(log, "SubagentCompleted")
        // b finished first (a waited for b), yet the parent's results keep the order asked: a, then b.
        assert.deepStrictEqual(completed.map((c) => c.childAgentId), ["main/2", "main/1"])
        const results = transcript(Replay.fold(log)).find((m) =>
          m.role === "user" && m.content[0]?.type === "tool_result"
        )!
        assert.deepStrictEqual(results.content.map((b) => (b.type === "tool_result" ? b.tool_use_id : "")), ["a", "b"])
        yield* verifyAll(session.sessionId)
      }).pipe(Effect.provide(Harness.layer({
        model: ModelClient.layerFake((request) => {
          if (asker(request) === "child a") {
            // a answers only once b has asked: run one after the other, this would never return.
            return Deferred.await(bArrived).pipe(Effect.as(text("a done")))
          }
          if (asker(request) === "child b") return Deferred.succeed(bArrived, undefined).pipe(Effect.as(text("b done")))
          return step(request) === 0
            ? uses(task("a", "explore", "child a"), task("b", "explore", "child b"))
            : text("both done")
        })
      })))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("interrupting the parent interrupts its children, and each records how it ended", () =>
    Effect.gen(function*() {
      const dir = yield* project
      const childAsked = yield* Deferred.make<void>()
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
        const turn = yield* Effect.fork(session.send("delegate forever"))
        yield* Deferred.await(childAsked)
        yield* Fiber.interrupt(turn)
        const log = yield* readLog(session.sessionId)
        const ends = log.filter((e) => e.event._tag === "SessionEnded" || e.event._tag === "SubagentCompleted")
        assert.deepStrictEqual(ends.map((e) => [e.agentId, e.event._tag]), [
          ["main/1", "SessionEnded"],
          ["main", "SubagentCompleted"],
          ["main", "SessionEnded"]
        ])
        assert.strictEqual(ofTag(log, "SubagentCompleted")[0]!.outcome, "interrupted")
      }).pipe(Effect.provide(Harness.layer({
        model: ModelClient.layerFake((request) =>
          asker(request) === "never finish"
            ? Deferred.succeed(childAsked, undefined).pipe(Effect.zipRight(Effect.never))
            : uses(task("k1", "explore", "never finish"))
        )
      })))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.live("a child that outlives subagentTimeout is stopped and reported timed_out; the parent goes on", () =>
    Effect.gen(function*() {
      const dir = yield* project
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
        const result = yield* session.send("delegate something slow")
        assert.strictEqual(result.text, "it took too long")
        const log = yield* readLog(session.sessionId)
        const [completed] = ofTag(log, "SubagentCompleted")
        assert.strictEqual(completed!.outcome, "timed_out")
        assert.include(completed!.summary, "its time limit")
        assert.isTrue(log.some((e) => e.agentId === "main/1" && e.event._tag === "SessionEnded"))
      }).pipe(Effect.provide(Harness.layer({
        loop: { subagentTimeout: "50 millis" },
        model: ModelClient.layerFake((request) =>
          asker(request) === "slow"
            ? Effect.never
            : step(request) === 0
            ? uses(task("k1", "explore", "slow"))
            : text("it took too long")
        )
      })))
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.scoped("at most maxConcurrentSubagents children run at once", () =>
    Effect.gen(function*() {
      const dir = yield* project
      let running = 0
      let most = 0
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
        yield* session.send("fan out")
        assert.strictEqual(most, 2)
        assert.strictEqual(ofTag(yield* readLog(session.sessionId), "SubagentCompleted").length, 5)
      }).pipe(Effect.provide(Harness.layer({
        loop: { maxConcurrentSubagents: 2 },
        model: ModelClient.layerFake((request) => {
          if (asker(request).startsWith("child")) {
            return Effect.gen(function*() {
              running++
              most = Math.max(most, running)
              yield* Effect.yieldNow()
              yield* Effect.yieldNow()
              running--
              return text("done")
            })
          }
          return step(request) === 0
            ? uses(...Array.from({ length: 5 }, (_, i) => task(`c${i}`, "explore", `child ${i}`)))
            : text("all done")
        })
      })))
    }).pipe(Effect.provide(NodeContext.layer)))
})
