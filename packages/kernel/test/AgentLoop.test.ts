import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Ref, Schema, Stream } from "effect"
import { AgentLoop } from "../src/AgentLoop.js"
import { transcript } from "../src/AgentState.js"
import type { Envelope } from "../src/Envelope.js"
import { EventLog } from "../src/EventLog.js"
import type { AnyEvent, FileSnapshotted } from "../src/Events.js"
import { ToolCallCompleted } from "../src/Events.js"
import type { Json } from "../src/Json.js"
import type { ModelRequest } from "../src/Messages.js"
import * as ModelClient from "../src/ModelClient.js"
import * as PermissionPrompt from "../src/PermissionPrompt.js"
import { evaluator } from "../src/PermissionReplay.js"
import * as Replay from "../src/Replay.js"
import * as Settings from "../src/Settings.js"
import { SnapshotStore } from "../src/SnapshotStore.js"
import * as Harness from "../src/testing/Harness.js"
import * as Tool from "../src/Tool.js"
import * as ToolRegistry from "../src/ToolRegistry.js"

const text = (t: string): ModelClient.ScriptStep => ({ content: [{ type: "text", text: t }] })
const call = (id: string, name: string, input: Json): ModelClient.ScriptStep => ({
  content: [{ type: "tool_use", id, name, input }]
})
const calls = (...uses: ReadonlyArray<[string, string, Json]>): ModelClient.ScriptStep => ({
  content: uses.map(([id, name, input]) => ({ type: "tool_use", id, name, input }))
})

const readLog = (sessionId: string) =>
  EventLog.pipe(
    Effect.flatMap((log) => Stream.runCollect(log.read(sessionId))),
    Effect.map((c) => Chunk.toReadonlyArray(c))
  )
const tags = (envelopes: ReadonlyArray<Envelope>) => envelopes.map((e) => e.event._tag)
const ofTag = <T extends AnyEvent["_tag"]>(envelopes: ReadonlyArray<Envelope>, tag: T) =>
  envelopes.map((e) => e.event).filter((e): e is Extract<AnyEvent, { _tag: T }> => e._tag === tag)

const project = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "weft-loop-" }))

const verifyAll = (sessionId: string) =>
  Effect.gen(function*() {
    const registry = yield* ToolRegistry.ToolRegistry
    const envelopes = yield* readLog(sessionId)
    return yield* Replay.verify(sessionId, envelopes, { evaluatePermission: evaluator(registry.tools) })
  })

const run = <A, E>(
  effect: Effect.Effect<A, E, Harness.Services>,
  options: Harness.Options
) => effect.pipe(Effect.provide(Harness.layer(options)))

describe("AgentLoop", () => {
  it.scoped("a turn: the model reads a file through the read tool and answers; the log verifies", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* project
      yield* fs.writeFileString(`${dir}/hello.txt`, "Hello from weft!\n")
      yield* run(
        Effect.gen(function*() {
          const loop = yield* AgentLoop
          const session = yield* loop.start({ project: dir, model: "m" })
          const result = yield* session.send("what does hello.txt say?")
          assert.strictEqual(result.text, "It says hello.")
          assert.strictEqual(result.stopReason, "end_turn")
          const log = yield* readLog(session.sessionId)
          assert.deepStrictEqual(tags(log), [
            "SessionStarted",
            "UserMessageReceived",
            "ModelRequested",
            "ModelResponded",
            "PermissionDecided",
            "ToolCallCompleted",
            "ModelRequested",
            "ModelResponded",
            "TurnCompleted"
          ])
          assert.include(JSON.stringify(ofTag(log, "ToolCallCompleted")[0]!.content), "Hello from weft!")
          const report = yield* verifyAll(session.sessionId)
          assert.strictEqual(report.decisions, 4)
        }),
        { model: ModelClient.layerScripted([call("t1", "read", { path: "hello.txt" }), text("It says hello.")]) }
      )
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("the request's transcript is the Messages shape: tool_use answered by tool_result, thinking kept verbatim", () =>
    Effect.gen(function*() {
      const dir = yield* project
      const requests: Array<ModelRequest> = []
      const thinking = { type: "thinking", thinking: "let me look", signature: "sig==" } as const
      yield* run(
        Effect.gen(function*() {
          const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
          yield* session.send("list files")
          const log = yield* readLog(session.sessionId)
          // The live transcript the model saw is the transcript folded from the log.
          assert.deepStrictEqual(requests[1]!.messages, transcript(Replay.fold(log.slice(0, 6))))
        }),
        {
          model: ModelClient.layerFake((request, n) => {
            requests.push(request)
            return n === 1
              ? { content: [thinking, { type: "tool_use", id: "g1", name: "glob", input: { pattern: "*" } }] }
              : text("none")
          })
        }
      )
      const [first, second] = requests
      assert.deepStrictEqual(first!.messages, [{ role: "user", content: [{ type: "text", text: "list files" }] }])
      assert.deepStrictEqual(second!.messages[1], {
        role: "assistant",
        content: [thinking, { type: "tool_use", id: "g1", name: "glob", input: { pattern: "*" } }]
      })
      const results = second!.messages[2]!
      assert.strictEqual(results.role, "user")
      assert.strictEqual((results.content[0] as { type: string; tool_use_id: string }).tool_use_id, "g1")
      assert.deepStrictEqual(first!.tools.map((t) => t.name), ["read", "write", "edit", "glob", "grep", "bash", "task"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("read-only calls run concurrently, mutating ones one at a time in order; results go back in the order asked", () =>
    Effect.gen(function*() {
      const dir = yield* project
      const order = yield* Ref.make<ReadonlyArray<string>>([])
      const firstWaits = yield* Deferred.make<void>()
      const note = (s: string) => Ref.update(order, (o) => [...o, s])
      const Input = Schema.Struct({ name: Schema.String })
      // `slow` waits until `fast` has run: if read-only calls ran one after another, this would deadlock.
      const probe = (name: string, readOnly: boolean) =>
        Tool.make({
          name,
          description: name,
          input: Input,
          readOnly,
          permission: () => ({ _tag: "Other", tool: "Probe", specifier: "", readOnly: true }),
          execute: ({ name: n }) =>
            Effect.gen(function*() {
              if (n === "slow") yield* Deferred.await(firstWaits)
              if (n === "fast") yield* Deferred.succeed(firstWaits, undefined)
              yield* note(n)
              return { content: `done ${n}` }
            })
        })
      yield* run(
        Effect.gen(function*() {
          const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
          yield* session.send("go")
          const log = yield* readLog(session.sessionId)
          const state = Replay.fold(log)
          const results = transcript(state)[2]!
          assert.deepStrictEqual(
            results.content.map((b) => (b.type === "tool_result" ? b.tool_use_id : b.type)),
            ["a", "b", "c", "d"]
          )
        }),
        {
          tools: Effect.succeed([probe("look", true), probe("change", false)]),
          settings: { ...Settings.empty, rules: Settings.rules("allow", "project", ["Probe"]) },
          model: ModelClient.layerScripted([
            calls(["a", "look", { name: "slow" }], ["b", "look", { name: "fast" }], ["c", "change", { name: "m1" }], [
              "d",
              "change",
              { name: "m2" }
            ]),
            text("ok")
          ])
        }
      )
      assert.deepStrictEqual(yield* Ref.get(order), ["fast", "slow", "m1", "m2"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a call the user denies is not run and the model hears why; a non-interactive run denies asks", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* project
      yield* run(
        Effect.gen(function*() {
          const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
          const result = yield* session.send("clean up")
          assert.strictEqual(result.text, "ok, I won't")
          const log = yield* readLog(session.sessionId)
          assert.deepStrictEqual(ofTag(log, "PermissionDecided").map((d) => d.behavior), ["ask"])
          assert.deepStrictEqual(ofTag(log, "PermissionAnswered").map((a) => a.answer), ["deny"])
          assert.deepStrictEqual(ofTag(log, "ToolCallCompleted"), [])
          const state = Replay.fold(log)
          assert.include(JSON.stringify(transcript(state)), "The user denied this tool call")
          yield* verifyAll(session.sessionId)
        }),
        { model: ModelClient.layerScripted([call("b1", "bash", { command: "touch made-it" }), text("ok, I won't")]) }
      )
      assert.isFalse(yield* fs.exists(`${dir}/made-it`))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("allow for the session answers once and grants the same call later without asking", () =>
    Effect.gen(function*() {
      const dir = yield* project
      yield* run(
        Effect.gen(function*() {
          const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
          yield* session.send("twice")
          const log = yield* readLog(session.sessionId)
          assert.deepStrictEqual(ofTag(log, "PermissionDecided").map((d) => [d.behavior, d.layer]), [
            ["ask", "default"],
            ["allow", "session"]
          ])
          assert.strictEqual(ofTag(log, "PermissionAnswered").length, 1)
          yield* verifyAll(session.sessionId)
        }),
        {
          prompt: PermissionPrompt.layerScripted([{ answer: "allow_session" }]),
          model: ModelClient.layerScripted([
            call("b1", "bash", { command: "echo one" }),
            call("b2", "bash", { command: "echo one" }),
            text("done")
          ])
        }
      )
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("input that fails the tool's schema, or an unknown tool, is an error for the model, never a crash", () =>
    Effect.gen(function*() {
      const dir = yield* project
      yield* run(
        Effect.gen(function*() {
          const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
          const result = yield* session.send("go")
          assert.strictEqual(result.text, "sorry")
          const log = yield* readLog(session.sessionId)
          const completed = ofTag(log, "ToolCallCompleted")
          assert.deepStrictEqual(completed.map((c) => c.isError), [true, true])
          assert.include(String(completed[0]!.content), "Invalid input for read")
          assert.include(String(completed[1]!.content), `No tool named "teleport"`)
          yield* verifyAll(session.sessionId)
        }),
        {
          model: ModelClient.layerScripted([
            calls(["r1", "read", { file: "x" }], ["t1", "teleport", {}]),
            text("sorry")
          ])
        }
      )
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("write and edit snapshot the file before changing it; the result records what they left", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* project
      yield* fs.writeFileString(`${dir}/a.txt`, "one\n")
      yield* run(
        Effect.gen(function*() {
          const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
          yield* session.send("change it")
          const log = yield* readLog(session.sessionId)
          const snapshots = ofTag(log, "FileSnapshotted")
          assert.deepStrictEqual(snapshots.map((s) => s.path), [`${dir}/a.txt`, `${dir}/b.txt`])
          const store = yield* SnapshotStore
          assert.strictEqual(new TextDecoder().decode(yield* store.get(snapshots[0]!.before!)), "one\n")
          assert.isNull(snapshots[1]!.before)
          // Every snapshot comes before the completion of its call.
          const index = (e: AnyEvent) => log.findIndex((x) => x.event === e)
          for (const s of snapshots) {
            const done = log.findIndex((x) => x.event instanceof ToolCallCompleted && x.event.toolUseId === s.toolUseId)
            assert.isBelow(index(s as FileSnapshotted), done)
          }
          const after = ofTag(log, "ToolCallCompleted")[0]!.files![0]!
          assert.strictEqual(new TextDecoder().decode(yield* store.get(after.after!)), "two\n")
        }),
        {
          settings: { ...Settings.empty, mode: "acceptEdits" },
          model: ModelClient.layerScripted([
            calls(["e1", "edit", { path: "a.txt", old_string: "one", new_string: "two" }], [
              "w1",
              "write",
              { path: "b.txt", content: "new\n" }
            ]),
            text("changed")
          ])
        }
      )
      assert.strictEqual(yield* fs.readFileString(`${dir}/a.txt`), "two\n")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a changed file weft cannot read back is left out of the result, never recorded as removed", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* project
      const mkdir = Tool.make({
        name: "mkdir",
        description: "makes a directory and says it changed it",
        input: Schema.Struct({}),
        readOnly: false,
        permission: () => ({ _tag: "Other", tool: "Probe", specifier: "", readOnly: true }),
        execute: () =>
          fs.makeDirectory(`${dir}/made`).pipe(
            Effect.orDie,
            Effect.as({ content: "made", filesModified: [`${dir}/made`, `${dir}/gone`] })
          )
      })
      yield* run(
        Effect.gen(function*() {
          const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
          yield* session.send("make it")
          const [completed] = ofTag(yield* readLog(session.sessionId), "ToolCallCompleted")
          // The directory cannot be read as a file: unknown, so absent; the missing file really is gone: null.
          assert.deepStrictEqual(completed!.files, [{ path: `${dir}/gone`, after: null }])
        }),
        {
          tools: Effect.succeed([mkdir]),
          settings: { ...Settings.empty, rules: Settings.rules("allow", "project", ["Probe"]) },
          model: ModelClient.layerScripted([call("m1", "mkdir", {}), text("made")])
        }
      )
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a Read deny holds for a search of the whole project: grep and glob skip the files it covers", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* project
      yield* fs.writeFileString(`${dir}/.env`, "SECRET=hunter2\n")
      yield* fs.makeDirectory(`${dir}/src`)
      yield* fs.writeFileString(`${dir}/src/config.ts`, "export const key = lookup(\"SECRET\")\n")
      yield* run(
        Effect.gen(function*() {
          const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
          yield* session.send("find the secret")
          const [grep, glob] = ofTag(yield* readLog(session.sessionId), "ToolCallCompleted")
          const grepped = JSON.stringify(grep!.content)
          assert.include(grepped, "config.ts")
          assert.notInclude(grepped, "hunter2")
          assert.notInclude(grepped, ".env")
          assert.include(JSON.stringify(glob!.content), "config.ts")
          assert.notInclude(JSON.stringify(glob!.content), ".env")
        }),
        {
          settings: { ...Settings.empty, rules: Settings.rules("deny", "project", ["Read(.env)"]) },
          model: ModelClient.layerScripted([
            call("g1", "grep", { pattern: "SECRET", output_mode: "content" }),
            call("g2", "glob", { pattern: "**/*" }),
            text("nothing to see")
          ])
        }
      )
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a failed model request ends the turn with the error; the script running out says so", () =>
    Effect.gen(function*() {
      const dir = yield* project
      yield* run(
        Effect.gen(function*() {
          const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
          const result = yield* session.send("hi")
          assert.include(result.error ?? "", "script_exhausted")
          const log = yield* readLog(session.sessionId)
          assert.deepStrictEqual(tags(log).slice(-2), ["ModelFailed", "TurnCompleted"])
          yield* verifyAll(session.sessionId)
        }),
        { model: ModelClient.layerScripted([]) }
      )
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("interrupting a turn records SessionEnded(interrupted); resuming answers the unfinished call as interrupted", () =>
    Effect.gen(function*() {
      const dir = yield* project
      const started = yield* Deferred.make<void>()
      const block = Tool.make({
        name: "block",
        description: "never finishes",
        input: Schema.Struct({}),
        readOnly: false,
        permission: () => ({ _tag: "Other", tool: "Probe", specifier: "", readOnly: true }),
        execute: () => Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.never))
      })
      const requests: Array<ModelRequest> = []
      yield* run(
        Effect.gen(function*() {
          const loop = yield* AgentLoop
          const session = yield* loop.start({ project: dir, model: "m" })
          const turn = yield* Effect.fork(session.send("block"))
          yield* Deferred.await(started)
          yield* Fiber.interrupt(turn)
          const log = yield* readLog(session.sessionId)
          assert.deepStrictEqual(tags(log).slice(-2), ["PermissionDecided", "SessionEnded"])

          const resumed = yield* loop.resume(session.sessionId)
          const result = yield* resumed.send("go on")
          assert.strictEqual(result.text, "resumed")
          const last = requests.at(-1)!.messages.at(-1)!
          assert.deepStrictEqual(last.content.map((b) => b.type), ["tool_result", "text"])
          assert.include(JSON.stringify(last.content[0]), "Interrupted")
          yield* verifyAll(session.sessionId)
        }),
        {
          tools: Effect.succeed([block]),
          settings: { ...Settings.empty, rules: Settings.rules("allow", "project", ["Probe"]) },
          model: ModelClient.layerFake((request, n) => {
            requests.push(request)
            return n === 1 ? call("k1", "block", {}) : text("resumed")
          })
        }
      )
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a session resumes from its log alone: a new loop continues where the old one stopped", () =>
    Effect.gen(function*() {
      const dir = yield* project
      yield* run(
        Effect.gen(function*() {
          const loop = yield* AgentLoop
          const first = yield* loop.start({ project: dir, model: "m" })
          yield* first.send("one")
          const again = yield* loop.resume(first.sessionId)
          assert.deepStrictEqual(yield* again.state, yield* first.state)
          const result = yield* again.send("two")
          assert.strictEqual(result.turn, 2)
          yield* verifyAll(first.sessionId)
        }),
        { model: ModelClient.layerScripted([text("1"), text("2")]) }
      )
    }).pipe(Effect.provide(NodeContext.layer)))
})
