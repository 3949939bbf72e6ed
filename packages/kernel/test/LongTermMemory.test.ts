/**
 * Long-term memory through the agent loop: the `MemoryIndex` it feeds and reads, the `memory`
 * and `conversation_search` tools, and what a session's system prompt gets from memory.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Ref, Stream, TestClock } from "effect"
import { AgentLoop, DEFAULT_SYSTEM_PROMPT } from "../src/AgentLoop.js"
import type { Envelope } from "../src/Envelope.js"
import { EventLog } from "../src/EventLog.js"
import { MemoryWritten, UserMessageReceived } from "../src/Events.js"
import * as Ids from "../src/Ids.js"
import type { MemoryEntry, SearchFilters } from "../src/MemoryIndex.js"
import { MemoryIndex } from "../src/MemoryIndex.js"
import type { ModelRequest } from "../src/Messages.js"
import * as ModelClient from "../src/ModelClient.js"
import * as Harness from "../src/testing/Harness.js"
import { answer, calling } from "../src/testing/ModelScripts.js"
import type { ToolContext } from "../src/Tool.js"
import * as ToolRegistry from "../src/ToolRegistry.js"
import * as ConversationSearch from "../src/tools/ConversationSearch.js"
import * as Memory from "../src/tools/Memory.js"
import { makeContext } from "./utils/toolContext.js"

const PROJECT = "/work/app"

/** A MemoryIndex over what it was fed: entries from the memory events, a search that finds user messages by a word. */
const fakeIndex = Effect.gen(function*() {
  const fed = yield* Ref.make<ReadonlyArray<Envelope>>([])
  const searches = yield* Ref.make<ReadonlyArray<SearchFilters & { readonly query: string; readonly k?: number }>>(
    []
  )
  const entries = Effect.map(Ref.get(fed), (envelopes) => {
    const live = new Map<string, MemoryEntry>()
    for (const { at, event } of envelopes) {
      if (event._tag === "MemoryWritten") {
        live.set(event.memoryId, {
          memoryId: event.memoryId,
          scope: event.scope,
          kind: event.kind,
          text: event.text,
          createdAt: at,
          importance: 1,
          ...(event.expiresAt === undefined ? {} : { expiresAt: event.expiresAt })
        })
      }
      if (event._tag === "MemoryForgotten") live.delete(event.memoryId)
    }
    return [...live.values()]
  })
  const service = MemoryIndex.of({
    ingest: (envelopes) => Ref.update(fed, (all) => [...all, ...envelopes]),
    memories: () => entries,
    search: (query, options) =>
      Effect.gen(function*() {
        yield* Ref.update(searches, (all) => [...all, { query, ...options }])
        return (yield* Ref.get(fed)).flatMap((e) =>
          e.event._tag === "UserMessageReceived" && JSON.stringify(e.event.content).includes(query)
            ? [{
              id: e.id,
              kind: "turn" as const,
              sessionId: e.sessionId,
              project: PROJECT,
              role: "user" as const,
              at: e.at,
              snippet: `…${query}…`,
              score: 1
            }]
            : []
        )
      }),
    context: () => Effect.map(entries, (all) => all.length === 0 ? "" : `You remember: ${all.map((e) => e.text)}`)
  })
  return { service, fed: Ref.get(fed), searches: Ref.get(searches) }
})

const systemOf = (request: ModelRequest) => request.system ?? ""

describe("long-term memory in the agent loop", () => {
  it.scoped("what memory recalls goes in SessionStarted and into the system prompt after the static instructions; every event reaches the index", () =>
    Effect.gen(function*() {
      const index = yield* fakeIndex
      yield* index.service.ingest([
        {
          seq: 1,
          id: "m",
          parentId: null,
          sessionId: "earlier",
          agentId: "main",
          at: "2026-01-01T00:00:00.000Z",
          event: new MemoryWritten({
            memoryId: "m1",
            scope: "user",
            kind: "explicit",
            text: "The user is called Ana"
          })
        }
      ])
      const requests: Array<ModelRequest> = []
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({
          project: PROJECT,
          model: "m",
          appendSystemPrompt: "Be brief."
        })
        yield* session.send("hello")
        const log = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* EventLog).read(session.sessionId)))
        const started = log[0]!.event
        assert.strictEqual(started._tag === "SessionStarted" && started.memory, "You remember: The user is called Ana")
        assert.strictEqual(
          systemOf(requests[0]!),
          `${DEFAULT_SYSTEM_PROMPT}\n\nYou remember: The user is called Ana\n\nBe brief.`
        )
        const fed = (yield* index.fed).filter((e) => e.sessionId === session.sessionId)
        assert.deepStrictEqual(fed.map((e) => e.seq), log.map((e) => e.seq))
      }).pipe(Effect.provide(
        Harness.layer({
          model: ModelClient.layerFake((request) => {
            requests.push(request)
            return answer("hi")
          })
        }).pipe(Layer.provideMerge(Layer.succeed(MemoryIndex, index.service)))
      ))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("without a MemoryIndex, or with memory off, nothing is added", () =>
    Effect.gen(function*() {
      const requests: Array<ModelRequest> = []
      const model = ModelClient.layerFake((request) => {
        requests.push(request)
        return answer("hi")
      })
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: PROJECT, model: "m" })
        yield* session.send("hello")
        const log = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* EventLog).read(session.sessionId)))
        assert.isFalse("memory" in log[0]!.event)
      }).pipe(Effect.provide(Harness.layer({ model })))
      assert.strictEqual(systemOf(requests[0]!), DEFAULT_SYSTEM_PROMPT)

      const index = yield* fakeIndex
      yield* index.service.ingest([])
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: PROJECT, model: "m", memory: false })
        yield* session.send("hello")
      }).pipe(Effect.provide(
        Harness.layer({ model }).pipe(Layer.provideMerge(Layer.succeed(MemoryIndex, index.service)))
      ))
      assert.strictEqual(systemOf(requests[1]!), DEFAULT_SYSTEM_PROMPT)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("the model remembers, lists and forgets through the memory tool; each is in the log and in the next list at once", () =>
    Effect.gen(function*() {
      const index = yield* fakeIndex
      const results: Array<string> = []
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: PROJECT, model: "m" })
        yield* session.send("remember that I use tabs")
        const log = Chunk.toReadonlyArray(yield* Stream.runCollect((yield* EventLog).read(session.sessionId)))
        const tags = log.map((e) => e.event._tag)
        assert.includeMembers(
          tags,
          ["MemoryWritten", "MemoryRecalled", "MemoryForgotten"],
          JSON.stringify(log.map((e) => [e.event._tag, (e.event as any).content ?? (e.event as any).decision]))
        )
        const written = log.find((e) => e.event._tag === "MemoryWritten")!.event
        assert.deepInclude(written, { scope: "user", kind: "explicit", text: "The user indents with tabs" })
      }).pipe(Effect.provide(
        Harness.layer({
          model: ModelClient.layerFake((request, n) => {
            const last = request.messages.at(-1)!.content
            for (const block of last) if (block.type === "tool_result") results.push(JSON.stringify(block.content))
            switch (n) {
              case 1:
                return calling(["t1", "memory", {
                  action: "remember",
                  text: "The user indents with tabs",
                  scope: "user"
                }])
              case 2:
                return calling(["t2", "memory", { action: "list" }])
              case 3:
                return calling(["t3", "memory", {
                  action: "forget",
                  memory_id: "00000000-0000-7000-8000-000000000001"
                }])
              case 4:
                return calling(["t4", "memory", { action: "list" }])
              default:
                return answer("done")
            }
          }),
          tools: Effect.map(
            Effect.all([ToolRegistry.builtins, ToolRegistry.memoryTools.pipe(Effect.provide(Ids.layerTest))]),
            ([builtins, memory]) => [...builtins, ...memory]
          ).pipe(Effect.provideService(MemoryIndex, index.service))
        }).pipe(Layer.provideMerge(Layer.succeed(MemoryIndex, index.service)))
      ))
      assert.include(results[1], "00000000-0000-7000-8000-000000000001 (user, explicit): The user indents with tabs")
      assert.include(results[2], "Forgot")
      assert.include(results[3], "Nothing is remembered yet.")
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("the memory tool", () => {
  const setup = Effect.gen(function*() {
    const index = yield* fakeIndex
    const tool = yield* Memory.make.pipe(
      Effect.provideService(MemoryIndex, index.service),
      Effect.provide(Ids.layerTest)
    )
    const { context, recorded } = yield* makeContext(PROJECT)
    // What the tool records reaches the index, as the loop does it.
    const fed: ToolContext = {
      ...context,
      record: (events: Parameters<typeof context.record>[0]) =>
        context.record(events).pipe(Effect.zipRight(
          index.service.ingest(events.map((event, i) => ({
            seq: i + 1,
            id: `e${i}`,
            parentId: null,
            sessionId: "s",
            agentId: "main",
            at: "2026-01-01T00:00:00.000Z",
            event
          }))).pipe(Effect.orDie)
        ))
    }
    return { tool, context: fed, recorded }
  })

  it.effect("remember: project scope by default; expires_in_days gives expiresAt from the clock", () =>
    Effect.gen(function*() {
      const { context, recorded, tool } = yield* setup
      yield* TestClock.setTime(Date.parse("2026-03-01T00:00:00.000Z"))
      yield* tool.execute(
        { action: "remember", text: " Deploys go through staging first ", expires_in_days: 7 },
        context
      )
      const [written] = yield* recorded
      assert.deepInclude(written, {
        _tag: "MemoryWritten",
        scope: "project",
        kind: "explicit",
        text: "Deploys go through staging first",
        expiresAt: "2026-03-08T00:00:00.000Z"
      })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("a call missing what its action needs, or forgetting an unknown id, is a ToolError the model reads", () =>
    Effect.gen(function*() {
      const { context, recorded, tool } = yield* setup
      const noText = yield* Effect.flip(tool.execute({ action: "remember" }, context))
      assert.include(noText.message, "remember needs text")
      const noId = yield* Effect.flip(tool.execute({ action: "forget" }, context))
      assert.include(noId.message, "forget needs memory_id")
      const unknown = yield* Effect.flip(tool.execute({ action: "forget", memory_id: "nope" }, context))
      assert.include(unknown.message, "no memory nope")
      assert.deepStrictEqual(yield* recorded, [])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("memory permissions are read-only requests named by action, so a rule can deny Memory(forget)", () =>
    Effect.gen(function*() {
      const { tool } = yield* setup
      assert.deepStrictEqual(tool.permission({ action: "forget", memory_id: "x" }), {
        _tag: "Other",
        tool: "Memory",
        specifier: "forget",
        readOnly: true
      })
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("the conversation_search tool", () => {
  it.effect("searches this project's other sessions by default, every project with project all, one session by id; shows session, time, role and passage", () =>
    Effect.gen(function*() {
      const index = yield* fakeIndex
      yield* index.service.ingest([{
        seq: 2,
        id: "u1",
        parentId: null,
        sessionId: "s-old",
        agentId: "main",
        at: "2026-02-03T10:22:41.000Z",
        event: new UserMessageReceived({
          content: [{ type: "text", text: "the webhook retries should back off" }]
        })
      }])
      const tool = yield* ConversationSearch.make.pipe(Effect.provideService(MemoryIndex, index.service))
      const { context } = yield* makeContext(PROJECT)
      const found = yield* tool.execute({ query: "webhook", role: "user", k: 500 }, context)
      assert.strictEqual(found.content, "[session s-old · 2026-02-03 10:22 · user] …webhook…")
      yield* tool.execute({ query: "webhook", project: "all", since: "2026-01-01" }, context)
      const none = yield* tool.execute({ query: "kafka" }, context)
      assert.strictEqual(none.content, `Nothing found for "kafka".`)
      yield* tool.execute({ query: "kafka", session: "s-old" }, context)
      assert.deepStrictEqual(yield* index.searches, [
        { query: "webhook", project: PROJECT, exceptSession: "session_test", role: "user", k: 50 },
        { query: "webhook", exceptSession: "session_test", since: "2026-01-01", k: 8 },
        { query: "kafka", project: PROJECT, exceptSession: "session_test", k: 8 },
        { query: "kafka", project: PROJECT, sessionId: "s-old", k: 8 }
      ])
    }).pipe(Effect.provide(NodeContext.layer)))
})
