import { assert, describe, it } from "@effect/vitest"
import { decide } from "../src/AgentDecider.js"
import { INTERRUPTED, transcript } from "../src/AgentState.js"
import {
  ModelFailed,
  ModelRequested,
  ModelResponded,
  PermissionAnswered,
  PermissionDecided,
  SessionEnded,
  SessionStarted,
  ToolCallCompleted,
  TurnCompleted,
  UserMessageReceived
} from "../src/Events.js"
import type { Json } from "../src/Json.js"
import { emptyUsage } from "../src/Messages.js"
import { given } from "../src/testing/Decider.js"

const started = new SessionStarted({
  project: "/p",
  cwd: "/p",
  model: "m",
  settings: {},
  sources: [],
  maxDepth: 3,
  budgetTokens: null,
  tools: ["read", "bash"],
  maxTokens: 1000
})
const user = (text: string) => new UserMessageReceived({ content: [{ type: "text", text }] })
const requested = (n: number, messageCount: number, digest: string) =>
  new ModelRequested({
    requestId: `main:${n}`,
    model: "m",
    maxTokens: 1000,
    tools: ["read", "bash"],
    messageCount,
    digest
  })
const responded = (n: number, content: ModelResponded["content"]) =>
  new ModelResponded({
    requestId: `main:${n}`,
    model: "m",
    content,
    usage: emptyUsage,
    stopReason: content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn"
  })
const toolUse = (id: string, name = "read", input: Json = { path: "a" }) =>
  ({ type: "tool_use", id, name, input }) as const
const decided = (id: string, behavior: "allow" | "deny" | "ask") =>
  new PermissionDecided({ toolUseId: id, tool: "Read", behavior, rule: null, layer: "default", reason: "r" })
const completed = (id: string, content = "ok") =>
  new ToolCallCompleted({ toolUseId: id, tool: "read", content, isError: false, durationMs: 1 })

describe("AgentDecider", () => {
  it("waits for the user before the first message", () => {
    given([started]).then([])
  })

  it("a user message opens a turn: the first decision is a model request carrying the transcript's size", () => {
    const g = given([started, user("hi")])
    g.then([requested(1, 1, g.state.digest)])
  })

  it("a response without tool calls ends the turn with its stop reason", () => {
    const g = given([started, user("hi"), requested(1, 1, "x"), responded(1, [{ type: "text", text: "hello" }])])
    g.then([new TurnCompleted({ turn: 1, stopReason: "end_turn", digest: g.state.digest })])
  })

  it("tool calls are checked for permission first, all of them at once", () => {
    const g = given([started, user("hi"), requested(1, 1, "x"), responded(1, [toolUse("t1"), toolUse("t2")])])
    const [intent] = g.decide()
    assert.strictEqual(intent?._tag, "CheckPermissions")
    assert.deepStrictEqual(intent?._tag === "CheckPermissions" ? intent.calls.map((c) => c.id) : [], ["t1", "t2"])
  })

  it("calls the policy said to ask about go to the user before anything runs", () => {
    given([
      started,
      user("hi"),
      requested(1, 1, "x"),
      responded(1, [toolUse("t1"), toolUse("t2")]),
      decided("t1", "allow"),
      decided("t2", "ask")
    ]).then(["AskUser"])
  })

  it("allowed calls run; denied ones are not run but answered to the model as denied", () => {
    const g = given([
      started,
      user("hi"),
      requested(1, 1, "x"),
      responded(1, [toolUse("t1"), toolUse("t2")]),
      decided("t1", "deny"),
      decided("t2", "ask"),
      new PermissionAnswered({ toolUseId: "t2", answer: "allow_once" })
    ])
    const [intent] = g.decide()
    assert.deepStrictEqual(intent?._tag === "RunTools" ? intent.calls.map((c) => c.id) : intent, ["t2"])
  })

  it("when every call has its result, the next request carries them in the order asked", () => {
    const g = given([
      started,
      user("hi"),
      requested(1, 1, "x"),
      responded(1, [toolUse("t1"), toolUse("t2")]),
      decided("t1", "allow"),
      decided("t2", "deny"),
      completed("t1", "one")
    ])
    g.then([requested(2, 3, g.state.digest)])
    const last = transcript(g.state).at(-1)!
    assert.strictEqual(last.role, "user")
    assert.deepStrictEqual(last.content.map((b) => (b.type === "tool_result" ? b.tool_use_id : b.type)), ["t1", "t2"])
    assert.deepStrictEqual(last.content[1], {
      type: "tool_result",
      tool_use_id: "t2",
      content: "Permission denied: r",
      is_error: true
    })
  })

  it("a user's deny reaches the model as a denial", () => {
    const g = given([
      started,
      user("hi"),
      requested(1, 1, "x"),
      responded(1, [toolUse("t1")]),
      decided("t1", "ask"),
      new PermissionAnswered({ toolUseId: "t1", answer: "deny", message: "not now" })
    ])
    const last = transcript(g.state).at(-1)!
    assert.include(JSON.stringify(last), "The user denied this tool call. not now")
  })

  it("allow for the session grants the rule for the rest of the session", () => {
    const g = given([
      started,
      user("hi"),
      requested(1, 1, "x"),
      responded(1, [toolUse("t1")]),
      decided("t1", "ask"),
      new PermissionAnswered({ toolUseId: "t1", answer: "allow_session", rules: ["Bash(npm test)"] })
    ])
    assert.deepStrictEqual(g.state.grants, ["Bash(npm test)"])
  })

  it("a failed model request ends the turn without a stop reason", () => {
    const g = given([
      started,
      user("hi"),
      requested(1, 1, "x"),
      new ModelFailed({
        requestId: "main:1",
        attempt: 1,
        error: { type: "overloaded", message: "busy" },
        retryable: true
      })
    ])
    g.then([new TurnCompleted({ turn: 1, stopReason: null, digest: g.state.digest })])
  })

  it("nothing is decided while a request is out, after a turn ends, or after the session ended", () => {
    given([started, user("hi"), requested(1, 1, "x")]).then([])
    given([
      started,
      user("hi"),
      requested(1, 1, "x"),
      responded(1, [{ type: "text", text: "a" }]),
      new TurnCompleted({ turn: 1, stopReason: "end_turn" })
    ]).then([])
    given([started, user("hi"), new SessionEnded({ reason: "interrupted" })]).then([])
  })

  it("after an interruption, calls that never finished are answered as interrupted and the user's next message follows", () => {
    const g = given([
      started,
      user("hi"),
      requested(1, 1, "x"),
      responded(1, [toolUse("t1", "bash", { command: "sleep 100" })]),
      decided("t1", "allow"),
      new SessionEnded({ reason: "interrupted" }),
      user("go on")
    ])
    const messages = transcript(g.state)
    const last = messages.at(-1)!
    assert.strictEqual(last.role, "user")
    assert.deepStrictEqual(last.content, [
      { type: "tool_result", tool_use_id: "t1", content: INTERRUPTED, is_error: true },
      { type: "text", text: "go on" }
    ])
    assert.deepStrictEqual(decide(g.state).map((i) => i._tag), ["RequestModel"])
  })

  it("a changed observation changes the digest the next decision carries", () => {
    const a = given([started, user("hi")])
    const b = given([started, user("hi!")])
    assert.notStrictEqual(a.state.digest, b.state.digest)
  })
})
