import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Stream } from "effect"
import * as fc from "fast-check"
import { AgentLoop } from "../src/AgentLoop.js"
import { transcript } from "../src/AgentState.js"
import type { Envelope } from "../src/Envelope.js"
import { EventLog } from "../src/EventLog.js"
import type { AnyEvent } from "../src/Events.js"
import * as Events from "../src/Events.js"
import type { ModelRequest } from "../src/Messages.js"
import * as ModelClient from "../src/ModelClient.js"
import { evaluator } from "../src/PermissionReplay.js"
import * as Replay from "../src/Replay.js"
import * as Settings from "../src/Settings.js"
import * as Harness from "../src/testing/Harness.js"
import * as ModelScripts from "../src/testing/ModelScripts.js"
import * as ToolRegistry from "../src/ToolRegistry.js"

const readLog = (sessionId: string) =>
  EventLog.pipe(
    Effect.flatMap((log) => Stream.runCollect(log.read(sessionId))),
    Effect.map((c) => Chunk.toReadonlyArray(c))
  )

/** Runs scripted turns in a fresh temp project; returns the log, the requests the model saw and the live states. */
const record = (turns: ReadonlyArray<ModelScripts.ScriptedTurn>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "weft-replay-" })
    yield* fs.writeFileString(`${dir}/a.txt`, "alpha beta\n")
    const script = ModelScripts.script(turns)
    const requests: Array<ModelRequest> = []
    return yield* Effect.gen(function*() {
      const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
      const states = []
      for (const t of turns) {
        yield* session.send(t.prompt)
        states.push({ seq: (yield* session.state).lastSeq, state: yield* session.state })
      }
      const registry = yield* ToolRegistry.ToolRegistry
      return {
        sessionId: session.sessionId,
        log: yield* readLog(session.sessionId),
        requests,
        states,
        tools: registry.tools
      }
    }).pipe(Effect.provide(Harness.layer({
      settings: { ...Settings.empty, mode: "acceptEdits", rules: Settings.rules("allow", "project", ["Bash(echo:*)"]) },
      model: ModelClient.layerFake((request, n) => {
        requests.push(request)
        return script[n - 1] ?? { error: { type: "script_exhausted", message: "no more" } }
      })
    })))
  })

const verify = (recorded: { sessionId: string; tools: ReadonlyArray<any> }, log: ReadonlyArray<Envelope>) =>
  Replay.verify(recorded.sessionId, log, { evaluatePermission: evaluator(recorded.tools) })

/** A changed copy of an observation: every field that reaches the transcript or the state is fair game. */
const mutate = (event: AnyEvent, choice: number): AnyEvent | undefined => {
  switch (event._tag) {
    case "UserMessageReceived":
      return new Events.UserMessageReceived({ content: [...event.content, { type: "text", text: "!" }] })
    case "ModelResponded":
      return choice % 2 === 0
        ? new Events.ModelResponded({ ...event, content: [...event.content, { type: "text", text: "!" }] })
        : new Events.ModelResponded({
          ...event,
          usage: { ...event.usage, output_tokens: event.usage.output_tokens + 1 }
        })
    case "ModelFailed":
      return new Events.ModelFailed({ ...event, error: { ...event.error, message: event.error.message + "!" } })
    case "ToolCallCompleted":
      return choice % 2 === 0
        ? new Events.ToolCallCompleted({ ...event, isError: !event.isError })
        : new Events.ToolCallCompleted({ ...event, content: JSON.stringify(event.content) + "!" })
    case "FileSnapshotted":
      return new Events.FileSnapshotted({ ...event, before: event.before === null ? "0".repeat(64) : null })
    case "PermissionAnswered":
      return new Events.PermissionAnswered({ ...event, answer: event.answer === "deny" ? "allow_once" : "deny" })
    default:
      return undefined
  }
}

describe("Replay", () => {
  it.effect.prop(
    "verify passes on every recorded run, and the model always saw the transcript folded from the log so far",
    [ModelScripts.turns],
    ([turns]) =>
      Effect.gen(function*() {
        const recorded = yield* record(turns)
        const report = yield* verify(recorded, recorded.log)
        assert.strictEqual(report.events, recorded.log.length)
        // At each request, the live transcript equals the fold of the log up to that ModelRequested.
        const requestedAt = recorded.log.filter((e) => e.event._tag === "ModelRequested").map((e) => e.seq)
        assert.strictEqual(requestedAt.length, recorded.requests.length)
        requestedAt.forEach((seq, i) => {
          assert.deepStrictEqual(recorded.requests[i]!.messages, transcript(Replay.fold(recorded.log.slice(0, seq))))
        })
        // At the end of each turn, the live state is the fold of the log up to that point.
        for (const { seq, state } of recorded.states) {
          assert.deepStrictEqual(Replay.fold(recorded.log.slice(0, seq)), state)
        }
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    { fastCheck: { numRuns: 40 } }
  )

  it.effect.prop(
    "changing any observation is a divergence at or after its seq — never a crash, never a false pass",
    [ModelScripts.turns, fc.nat(), fc.nat()],
    ([turns, pick, choice]) =>
      Effect.gen(function*() {
        const recorded = yield* record(turns)
        const candidates = recorded.log.flatMap((e, i) => (mutate(e.event, choice) === undefined ? [] : [i]))
        const index = candidates[pick % candidates.length]!
        const original = recorded.log[index]!
        const changed = [...recorded.log]
        changed[index] = { ...original, event: mutate(original.event, choice)! }
        const result = yield* Effect.either(verify(recorded, changed))
        assert.isTrue(Either.isLeft(result), `changing ${original.event._tag} at seq ${original.seq} went unnoticed`)
        if (Either.isLeft(result)) assert.isAtLeast(result.left.seq, original.seq)
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    { fastCheck: { numRuns: 60 } }
  )

  it.scoped("a changed decision is reported with what the log has and what the kernel decides now", () =>
    Effect.gen(function*() {
      const recorded = yield* record([{ prompt: "hi", steps: [], final: { text: "hello" } }])
      const index = recorded.log.findIndex((e) => e.event._tag === "ModelRequested")
      const original = recorded.log[index]!
      const changed = [...recorded.log]
      changed[index] = {
        ...original,
        event: new Events.ModelRequested({ ...(original.event as Events.ModelRequested), maxTokens: 5 })
      }
      const error = yield* Effect.flip(verify(recorded, changed))
      assert.strictEqual(error.seq, original.seq)
      assert.strictEqual(error.agentId, "main")
      assert.include(error.expected, `"maxTokens":5`)
      assert.include(error.actual, `"maxTokens":8192`)
      assert.include(error.message, `diverged at seq ${original.seq}`)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a permission decided differently than the recorded rules say is a divergence", () =>
    Effect.gen(function*() {
      const recorded = yield* record([{
        prompt: "x",
        steps: [[{ name: "bash", input: { command: "echo hi" } }]],
        final: { text: "ok" }
      }])
      const index = recorded.log.findIndex((e) => e.event._tag === "PermissionDecided")
      const original = recorded.log[index]!
      const decided = original.event as Events.PermissionDecided
      assert.strictEqual(decided.behavior, "allow")
      const changed = [...recorded.log]
      changed[index] = { ...original, event: new Events.PermissionDecided({ ...decided, rule: "Bash" }) }
      const error = yield* Effect.flip(verify(recorded, changed))
      assert.strictEqual(error.seq, original.seq)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("fork: a new session holds the events up to a seq, records where it came from, verifies, and goes on", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "weft-fork-" })
      yield* Effect.gen(function*() {
        const loop = yield* AgentLoop
        const session = yield* loop.start({ project: dir, model: "m" })
        yield* session.send("one")
        yield* session.send("two")
        const log = yield* readLog(session.sessionId)
        const turnOneEnd = log.find((e) => e.event._tag === "TurnCompleted")!.seq
        yield* Replay.fork(session.sessionId, turnOneEnd, "forked")
        const forked = yield* readLog("forked")
        assert.strictEqual(forked.length, turnOneEnd)
        assert.deepStrictEqual((forked[0]!.event as Events.SessionStarted).forkedFrom, {
          sessionId: session.sessionId,
          seq: turnOneEnd
        })
        yield* Replay.verify("forked", forked)
        // The same state but for event ids: the copies have the fork's own.
        const { digest: _d, lastEventId: _l, turnMessage: message, ...folded } = Replay.fold(forked)
        const { digest: _d2, lastEventId: _l2, turnMessage: originalMessage, ...original } = Replay.fold(
          log.slice(0, turnOneEnd)
        )
        assert.deepStrictEqual(folded, original)
        assert.strictEqual(message?.text, originalMessage?.text)
        const resumed = yield* loop.resume("forked")
        const result = yield* resumed.send("two, differently")
        assert.strictEqual(result.turn, 2)
        assert.strictEqual(result.text, "third answer")
        const error = yield* Effect.flip(Replay.fork(session.sessionId, 999, "too-far"))
        assert.include(error.message, "has only")
      }).pipe(Effect.provide(Harness.layer({
        model: ModelClient.layerScripted([
          { content: [{ type: "text", text: "first answer" }] },
          { content: [{ type: "text", text: "second answer" }] },
          { content: [{ type: "text", text: "third answer" }] }
        ])
      })))
    }).pipe(Effect.provide(NodeContext.layer)))
})
