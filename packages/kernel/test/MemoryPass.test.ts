/**
 * Issue 7's optional model pass for implicit memory: decided by the pure decider at the end of a
 * turn when `memoryExtraction` is `model`, performed by the loop (decision, `MemoryExtracted`, an
 * implicit `MemoryWritten` per valid entry), paid for like any request, and replayed from the log.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as fc from "fast-check"
import type { Intent } from "../src/AgentDecider.js"
import {
  decide,
  REMEMBER_MAX_TOKENS,
  REMEMBER_SYSTEM_PROMPT,
  rememberInput,
  rememberPrompt
} from "../src/AgentDecider.js"
import { AgentLoop, MAX_PROPOSALS, readProposals } from "../src/AgentLoop.js"
import type { AgentState } from "../src/AgentState.js"
import { charge, evolve, initial } from "../src/AgentState.js"
import type { Envelope } from "../src/Envelope.js"
import { EventLog } from "../src/EventLog.js"
import type { AnyEvent } from "../src/Events.js"
import {
  MemoryExtracted,
  MemoryWritten,
  ModelFailed,
  ModelRequested,
  ModelResponded,
  PermissionDecided,
  SessionStarted,
  SubagentSpawned,
  ToolCallCompleted,
  TurnCompleted,
  UserMessageReceived
} from "../src/Events.js"
import type { ModelRequest, Usage as UsageType } from "../src/Messages.js"
import * as ModelClient from "../src/ModelClient.js"
import { evaluator } from "../src/PermissionReplay.js"
import * as Projection from "../src/Projection.js"
import * as Usage from "../src/projections/Usage.js"
import * as Replay from "../src/Replay.js"
import { envelopes } from "../src/testing/Decider.js"
import * as Harness from "../src/testing/Harness.js"
import * as ToolRegistry from "../src/ToolRegistry.js"

// Events ----------------------------------------------------------------------------------------

const started = (options: { readonly on?: boolean; readonly budgetTokens?: number | null } = {}) =>
  new SessionStarted({
    project: "/p",
    cwd: "/p",
    model: "m",
    settings: {},
    sources: [],
    maxDepth: 3,
    budgetTokens: options.budgetTokens ?? null,
    tools: ["read", "task"],
    maxTokens: 1000,
    ...(options.on === false ? {} : { memoryExtraction: "model" as const })
  })
const user = (text: string) => new UserMessageReceived({ content: [{ type: "text", text }] })
const usage = (input: number, output: number): UsageType => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0
})
const text = (t: string) => ({ type: "text", text: t }) as const
const toolUse = (id: string, name = "read") => ({ type: "tool_use", id, name, input: { path: "a" } }) as const
const ask = (n: number) =>
  new ModelRequested({ requestId: `main:${n}`, model: "m", maxTokens: 1000, tools: ["read", "task"], messageCount: 1 })
const remember = (n: number) =>
  new ModelRequested({
    requestId: `main:${n}`,
    model: "m",
    maxTokens: REMEMBER_MAX_TOKENS,
    tools: [],
    messageCount: 1,
    purpose: "remember"
  })
const responded = (requestId: string, content: ModelResponded["content"], spent = usage(100, 10)) =>
  new ModelResponded({
    requestId,
    messageId: `msg_${requestId}`,
    model: "m",
    content,
    usage: spent,
    stopReason: content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn"
  })
const extracted = (requestId: string, answer = "[]", spent = usage(50, 5)) =>
  new MemoryExtracted({
    requestId,
    messageId: `msg_${requestId}`,
    model: "m",
    usage: spent,
    answer,
    proposals: readProposals(answer).proposals
  })
const passFailed = (requestId: string) =>
  new ModelFailed({ requestId, attempt: 1, error: { type: "overloaded_error", message: "busy" }, retryable: true })

const fold = (events: ReadonlyArray<AnyEvent>): AgentState => envelopes(events).reduce(evolve, initial("main"))
const tags = (intents: ReadonlyArray<Intent>) => intents.map((intent) => intent._tag)

const PREFERENCE = "I prefer tabs over spaces."
const JSON_ANSWER = JSON.stringify([
  { category: "preference", text: "The user prefers tabs over spaces", scope: "user" },
  { category: "fact", text: "The project  deploys\non Fridays", scope: "project" }
])

// The decider -----------------------------------------------------------------------------------

describe("the memory pass, decided", () => {
  it("at the end of a turn with the setting on: a request of purpose remember, no tools, a small max_tokens, reading this turn's message", () => {
    const events = [started(), user(PREFERENCE), ask(1), responded("main:1", [text("ok")])]
    const state = fold(events)
    const [intent, ...rest] = decide(state)
    assert.strictEqual(rest.length, 0)
    assert.strictEqual(intent?._tag, "ExtractMemory")
    const pass = intent as Intent & { _tag: "ExtractMemory" }
    assert.deepInclude(pass.decision, {
      requestId: "main:2",
      model: "m",
      maxTokens: REMEMBER_MAX_TOKENS,
      tools: [],
      messageCount: 1,
      digest: state.digest,
      purpose: "remember"
    })
    assert.strictEqual(pass.prompt, rememberPrompt(PREFERENCE))
    assert.strictEqual(pass.source, envelopes(events)[1]!.id)
  })

  // Each row: what follows the session's start, whether the setting is on, and what the decider does next.
  const table: ReadonlyArray<readonly [string, ReadonlyArray<AnyEvent>, boolean, ReadonlyArray<Intent["_tag"]>]> = [
    ["off: the final response ends the turn", [user(PREFERENCE), ask(1), responded("main:1", [text("ok")])], false, [
      "CompleteTurn"
    ]],
    [
      "on: the final response is followed by the pass",
      [
        user(PREFERENCE),
        ask(1),
        responded("main:1", [text("ok")])
      ],
      true,
      ["ExtractMemory"]
    ],
    ["on, with tool calls to run: not yet", [user(PREFERENCE), ask(1), responded("main:1", [toolUse("t1")])], true, [
      "CheckPermissions"
    ]],
    ["on, the response failed: the turn ends without a pass", [user(PREFERENCE), ask(1), passFailed("main:1")], true, [
      "CompleteTurn"
    ]],
    [
      "on, the pass answered: the turn ends",
      [
        user(PREFERENCE),
        ask(1),
        responded("main:1", [text("ok")]),
        remember(2),
        extracted("main:2")
      ],
      true,
      ["CompleteTurn"]
    ],
    [
      "on, the pass failed: the turn ends all the same",
      [
        user(PREFERENCE),
        ask(1),
        responded("main:1", [text("ok")]),
        remember(2),
        passFailed("main:2")
      ],
      true,
      ["CompleteTurn"]
    ],
    [
      "on, the next turn: the pass again",
      [
        user(PREFERENCE),
        ask(1),
        responded("main:1", [text("ok")]),
        remember(2),
        extracted("main:2"),
        new TurnCompleted({ turn: 1, stopReason: "end_turn" }),
        user("We deploy on Fridays."),
        ask(3),
        responded("main:3", [text("ok")])
      ],
      true,
      ["ExtractMemory"]
    ],
    [
      "on, a message without text (an image): nothing to read",
      [
        new UserMessageReceived({
          content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: "AA==" } }]
        }),
        ask(1),
        responded("main:1", [text("ok")])
      ],
      true,
      ["CompleteTurn"]
    ]
  ]
  for (const [name, events, on, expected] of table) {
    it(name, () => {
      assert.deepStrictEqual(tags(decide(fold([started({ on }), ...events]))), expected)
    })
  }

  it("a failed pass leaves the turn as its response left it: it completes with end_turn, not as failed", () => {
    const state = fold([
      started(),
      user(PREFERENCE),
      ask(1),
      responded("main:1", [text("ok")]),
      remember(2),
      passFailed("main:2")
    ])
    assert.deepStrictEqual(state.lastResponse, { stopReason: "end_turn", failed: false })
    const [intent] = decide(state)
    assert.strictEqual((intent as Intent & { _tag: "CompleteTurn" }).decision.stopReason, "end_turn")
  })

  it("a subagent never runs the pass: its user messages are its parent's", () => {
    const parent: ReadonlyArray<AnyEvent> = [
      started(),
      user("delegate"),
      ask(1),
      responded("main:1", [toolUse("t1", "task")]),
      new SubagentSpawned({
        toolUseId: "t1",
        childAgentId: "main/1",
        agentType: "explore",
        description: "d",
        prompt: PREFERENCE,
        budgetTokens: null
      })
    ]
    const child: ReadonlyArray<AnyEvent> = [
      user(PREFERENCE),
      new ModelRequested({ requestId: "main/1:1", model: "m", maxTokens: 1000, tools: ["read"], messageCount: 1 }),
      responded("main/1:1", [text("found it")])
    ]
    const log = [
      ...envelopes(parent),
      ...envelopes(child, "main/1").map((e, i) => ({ ...e, seq: parent.length + i + 1 }))
    ]
    const state = Replay.fold(log, "main/1")
    assert.strictEqual(state.config?.memoryExtraction, "rules")
    assert.deepStrictEqual(tags(decide(state)), ["CompleteTurn"])
  })

  it("charged to the budget: skipped when what is left cannot pay for it whole, decided when it can", () => {
    const events = (budgetTokens: number) => [
      started({ budgetTokens }),
      user(PREFERENCE),
      ask(1),
      responded("main:1", [text("ok")], usage(100, 10))
    ]
    const need = 110 + rememberInput(rememberPrompt(PREFERENCE)) + REMEMBER_MAX_TOKENS
    assert.deepStrictEqual(tags(decide(fold(events(need)))), ["ExtractMemory"])
    assert.deepStrictEqual(tags(decide(fold(events(need - 1)))), ["CompleteTurn"])
  })

  it("replay holds each answer to its kind of request: memories to the pass, a response to a turn", () => {
    /** The events with the decision the decider makes after them. */
    const decided = (events: ReadonlyArray<AnyEvent>) => {
      const [intent] = decide(fold(events))
      return [...events, (intent as Intent & { decision: ModelRequested }).decision]
    }
    const divergence = (events: ReadonlyArray<AnyEvent>) => {
      const verifier = Replay.makeVerifier("s")
      for (const envelope of envelopes(events)) {
        const diverged = verifier.push(envelope)
        if (diverged !== undefined) return diverged.message
      }
      return undefined
    }
    const turn = decided([started(), user(PREFERENCE)])
    const pass = decided([...turn, responded("main:1", [text("ok")])])
    assert.isUndefined(divergence([...pass, extracted("main:2")]))
    assert.include(divergence([...pass, responded("main:2", [text("[]")])]), "answered by MemoryExtracted")
    assert.include(divergence([...turn, extracted("main:1")]), "answered by ModelResponded")
  })

  /**
   * Turns driven through the decider alone, each intent answered as the loop answers it: a turn
   * takes `rounds` tool rounds, then a final answer; the pass answers with JSON, with prose, or
   * fails.
   */
  const drive = (on: boolean, turns: ReadonlyArray<{ readonly rounds: number; readonly pass: number }>) => {
    const events: Array<AnyEvent> = [started({ on })]
    let state = fold(events)
    const push = (...more: ReadonlyArray<AnyEvent>) => {
      for (const event of more) {
        events.push(event)
        state = evolve(state, envelopes(events).at(-1)!)
      }
    }
    const passes: Array<number> = []
    turns.forEach((turn, t) => {
      push(user(`Turn ${t}: ${PREFERENCE}`))
      let round = 0
      for (let steps = 0; steps < 100; steps++) {
        const intents = decide(state)
        if (intents.length === 0) break
        for (const intent of intents) {
          switch (intent._tag) {
            case "RequestModel": {
              const id = intent.decision.requestId
              push(intent.decision, responded(id, round < turn.rounds ? [toolUse(`t${t}.${round}`)] : [text("done")]))
              round++
              break
            }
            case "CheckPermissions":
              push(...intent.calls.map((call) =>
                new PermissionDecided({
                  toolUseId: call.id,
                  tool: "Read",
                  behavior: "allow",
                  rule: null,
                  layer: "default",
                  reason: "r"
                })
              ))
              break
            case "RunTools":
              push(
                ...intent.calls.map((call) =>
                  new ToolCallCompleted({
                    toolUseId: call.id,
                    tool: "read",
                    content: "x",
                    isError: false,
                    durationMs: 1
                  })
                )
              )
              break
            case "ExtractMemory": {
              passes.push(t)
              const id = intent.decision.requestId
              push(intent.decision)
              if (turn.pass === 0) {
                push(
                  extracted(id, JSON_ANSWER),
                  new MemoryWritten({ memoryId: `m${t}`, scope: "user", kind: "implicit", text: "x", source: "s" })
                )
              } else push(turn.pass === 1 ? extracted(id, "Sure! You prefer tabs.") : passFailed(id))
              break
            }
            case "CompleteTurn":
              push(intent.decision)
              break
            default:
              throw new Error(`unexpected intent ${intent._tag}`)
          }
        }
      }
    })
    return { events, state, passes }
  }

  it.prop(
    "once per turn when on, never when off; every turn still completes with its answer's stop reason; the log replays; the budget counts every pass",
    [
      fc.boolean(),
      fc.array(fc.record({ rounds: fc.integer({ min: 0, max: 3 }), pass: fc.integer({ min: 0, max: 2 }) }), {
        minLength: 1,
        maxLength: 5
      })
    ],
    ([on, turns]) => {
      const { events, passes, state } = drive(on, turns)
      assert.deepStrictEqual(passes, on ? turns.map((_, t) => t) : [])
      const completed = events.filter((e): e is TurnCompleted => e._tag === "TurnCompleted")
      assert.deepStrictEqual(
        completed.map((e) => `${e.turn} ${e.stopReason}`),
        turns.map((_, t) => `${t + 1} end_turn`)
      )
      const verifier = Replay.makeVerifier("s")
      for (const envelope of envelopes(events)) assert.isUndefined(verifier.push(envelope)?.message)
      const spent = events.flatMap((e) =>
        e._tag === "ModelResponded" || e._tag === "MemoryExtracted" ? [charge(e.usage)] : []
      )
      assert.strictEqual(state.budget.used, spent.reduce((a, b) => a + b, 0))
    }
  )
})

describe("a memory pass's answer, read", () => {
  it("takes the valid entries of a JSON list, on one line each; tells what it left out", () => {
    assert.deepStrictEqual(readProposals(JSON_ANSWER), {
      proposals: [
        { category: "preference", text: "The user prefers tabs over spaces", scope: "user" },
        { category: "fact", text: "The project deploys on Fridays", scope: "project" }
      ]
    })
    assert.deepStrictEqual(readProposals("```json\n[]\n```"), { proposals: [] })
    assert.deepStrictEqual(readProposals("Sure! You like tabs."), { proposals: [], rejected: "the answer is not JSON" })
    assert.deepStrictEqual(readProposals("{\"category\":\"fact\",\"text\":\"x\",\"scope\":\"user\"}"), {
      proposals: [],
      rejected: "the answer is not a JSON list"
    })
    const mixed = readProposals(JSON.stringify([
      { category: "mood", text: "happy", scope: "user" },
      { category: "fact", text: "   ", scope: "project" },
      { category: "fact", text: "x".repeat(501), scope: "project" },
      { category: "fact", text: "ok", scope: "team" },
      "a string",
      { category: "instruction", text: "Never push to main", scope: "project" }
    ]))
    assert.deepStrictEqual(mixed.proposals, [{ category: "instruction", text: "Never push to main", scope: "project" }])
    assert.include(mixed.rejected, "5 of 6 entries")
    const many = readProposals(
      JSON.stringify(
        Array.from({ length: MAX_PROPOSALS + 2 }, (_, i) => ({ category: "note", text: `n${i}`, scope: "user" }))
      )
    )
    assert.strictEqual(many.proposals.length, MAX_PROPOSALS)
    assert.include(many.rejected, `2 entries beyond the first ${MAX_PROPOSALS}`)
  })
})

// The loop --------------------------------------------------------------------------------------

const readLog = (sessionId: string) =>
  EventLog.pipe(Effect.flatMap((log) => Stream.runCollect(log.read(sessionId))), Effect.map(Chunk.toReadonlyArray))

const isPass = (request: ModelRequest) => request.system === REMEMBER_SYSTEM_PROMPT

/**
 * A model that answers the agent's turns with `ok` and the memory pass with `pass`; the requests
 * it was sent go into `requests`.
 */
const model = (requests: Array<ModelRequest>, pass: ModelClient.ScriptStep) =>
  ModelClient.layerFake((request) => {
    requests.push(request)
    return isPass(request) ? pass : { content: [{ type: "text", text: "ok" }] }
  })

/** Runs `texts` as turns of one session with the pass on (or off); returns its log, results and final state. */
const session = (texts: ReadonlyArray<string>, options: { readonly on?: boolean } = {}) =>
  Effect.gen(function*() {
    const dir = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped()
    const loop = yield* AgentLoop
    const live = yield* loop.start({
      project: dir,
      model: "m",
      ...(options.on === false ? {} : { memoryExtraction: "model" as const })
    })
    const results = yield* Effect.forEach(texts, (t) => live.send(t))
    const log = yield* readLog(live.sessionId)
    // Replay: the same decisions from the log alone — no model is asked (the fake would count a request).
    const registry = yield* ToolRegistry.ToolRegistry
    const report = yield* Replay.verify(live.sessionId, log, { evaluatePermission: evaluator(registry.tools) })
    return { log, results, report, state: yield* live.state }
  })

const after = <T extends AnyEvent["_tag"]>(log: ReadonlyArray<Envelope>, tag: T) =>
  log.map((e) => e.event).filter((e): e is Extract<AnyEvent, { _tag: T }> => e._tag === tag)

describe("the memory pass, performed", () => {
  it.scoped("records the decision, the answer and an implicit MemoryWritten per entry; the turn completes; replay is exact and offline", () => {
    const requests: Array<ModelRequest> = []
    return Effect.gen(function*() {
      const { log, report, results, state } = yield* session([PREFERENCE])
      assert.deepStrictEqual(log.map((e) => e.event._tag), [
        "SessionStarted",
        "UserMessageReceived",
        "ModelRequested",
        "ModelResponded",
        "ModelRequested",
        "MemoryExtracted",
        "MemoryWritten",
        "MemoryWritten",
        "TurnCompleted"
      ])
      assert.deepStrictEqual(results.map((r) => [r.text, r.stopReason, r.error]), [["ok", "end_turn", undefined]])
      assert.deepInclude(log[4]!.event, { purpose: "remember", tools: [], maxTokens: REMEMBER_MAX_TOKENS })
      // The pass's request: its own system prompt, no tools, the turn's message and nothing else.
      assert.strictEqual(requests.length, 2)
      const pass = requests[1]!
      assert.isTrue(isPass(pass))
      assert.deepStrictEqual(pass.tools, [])
      assert.strictEqual(pass.max_tokens, REMEMBER_MAX_TOKENS)
      assert.deepStrictEqual(pass.messages, [{
        role: "user",
        content: [{ type: "text", text: rememberPrompt(PREFERENCE) }]
      }])
      const answer = after(log, "MemoryExtracted")[0]!
      assert.deepInclude(answer, { requestId: "main:2", model: "m", answer: JSON_ANSWER })
      assert.isUndefined(answer.rejected)
      const written = after(log, "MemoryWritten")
      assert.deepStrictEqual(written.map((w) => [w.kind, w.scope, w.category, w.text, w.source]), [
        ["implicit", "user", "preference", "The user prefers tabs over spaces", log[1]!.id],
        ["implicit", "project", "fact", "The project deploys on Fridays", log[1]!.id]
      ])
      assert.notStrictEqual(written[0]!.memoryId, written[1]!.memoryId)
      // Replay decided the same three decisions, and folds to the live state.
      assert.strictEqual(report.decisions, 3)
      assert.deepStrictEqual(Replay.fold(log), state)
      // The pass is paid for: in the agent's usage, its tree's, and its budget.
      const spent = [after(log, "ModelResponded")[0]!.usage, answer.usage]
      assert.strictEqual(state.budget.used, charge(spent[0]!) + charge(spent[1]!))
      assert.strictEqual(state.treeUsage.output_tokens, spent[0]!.output_tokens + spent[1]!.output_tokens)
    }).pipe(
      Effect.provide(Harness.layer({ model: model(requests, { content: [{ type: "text", text: JSON_ANSWER }] }) })),
      Effect.provide(NodeContext.layer)
    )
  })

  it.scoped("a malformed answer records no entries, keeps the raw text, and does not fail the turn", () =>
    Effect.gen(function*() {
      const { log, results } = yield* session([PREFERENCE, "and again"])
      const answers = after(log, "MemoryExtracted")
      assert.strictEqual(answers.length, 2)
      assert.deepInclude(answers[0], {
        answer: "Sure! You prefer tabs.",
        proposals: [],
        rejected: "the answer is not JSON"
      })
      assert.strictEqual(after(log, "MemoryWritten").length, 0)
      assert.deepStrictEqual(results.map((r) => [r.text, r.error]), [["ok", undefined], ["ok", undefined]])
    }).pipe(
      Effect.provide(
        Harness.layer({ model: model([], { content: [{ type: "text", text: "Sure! You prefer tabs." }] }) })
      ),
      Effect.provide(NodeContext.layer)
    ))

  it.scoped("a model error records ModelFailed; the turn completes with its answer, and the session goes on", () =>
    Effect.gen(function*() {
      const { log, results } = yield* session([PREFERENCE, "and again"])
      const failed = after(log, "ModelFailed")
      assert.deepStrictEqual(failed.map((f) => f.requestId), ["main:2", "main:4"])
      assert.include(failed[0]!.error.message, "the memory pass failed")
      assert.deepStrictEqual(after(log, "TurnCompleted").map((t) => t.stopReason), ["end_turn", "end_turn"])
      assert.deepStrictEqual(results.map((r) => [r.text, r.stopReason, r.error]), [
        ["ok", "end_turn", undefined],
        ["ok", "end_turn", undefined]
      ])
    }).pipe(
      Effect.provide(Harness.layer({
        model: model([], { error: { type: "overloaded_error", message: "busy", status: 529, retryable: true } })
      })),
      Effect.provide(NodeContext.layer)
    ))

  it.scoped("off (the default): no extra request, no MemoryExtracted", () => {
    const requests: Array<ModelRequest> = []
    return Effect.gen(function*() {
      const { log } = yield* session([PREFERENCE], { on: false })
      assert.strictEqual(requests.length, 1)
      assert.isFalse(log.some((e) => e.event._tag === "MemoryExtracted" || e.event._tag === "MemoryWritten"))
      assert.isUndefined((log[0]!.event as SessionStarted).memoryExtraction)
    }).pipe(
      Effect.provide(Harness.layer({ model: model(requests, { content: [{ type: "text", text: "[]" }] }) })),
      Effect.provide(NodeContext.layer)
    )
  })

  it.scoped("usage counts the pass once: a response, keyed by its message and request ids", () =>
    Effect.gen(function*() {
      const { log } = yield* session([PREFERENCE])
      const answer = after(log, "MemoryExtracted")[0]!
      const response = after(log, "ModelResponded")[0]!
      const state = Projection.fold(Usage.projection, log, Usage.projection.initial)
      assert.deepStrictEqual(
        Usage.entries(state).map((e) => [e.input, e.output]).sort(),
        [
          [answer.usage.input_tokens, answer.usage.output_tokens],
          [response.usage.input_tokens, response.usage.output_tokens]
        ].sort()
      )
      // The same answer seen twice (a copy of the log, a line read again) is still one request's usage.
      const pass = log.find((e) => e.event._tag === "MemoryExtracted")!
      const twice = Projection.fold(
        Usage.projection,
        [...log, { ...pass, seq: 99, id: "again" }],
        Usage.projection.initial
      )
      assert.strictEqual(Usage.size(twice), 2)
    }).pipe(
      Effect.provide(Harness.layer({ model: model([], { content: [{ type: "text", text: JSON_ANSWER }] }) })),
      Effect.provide(NodeContext.layer)
    ))
})
