import { assert, describe, it } from "@effect/vitest"
import { lineCodec } from "@weft/kernel/EventCodec"
import {
  MemoryExtracted,
  ModelRequested,
  ModelResponded,
  PermissionDecided,
  ToolCallCompleted,
  UnknownEvent,
  UserMessageReceived
} from "@weft/kernel/Events"
import { Either } from "effect"
import * as EventSummary from "../src/EventSummary.js"
import { concise, conciseIn } from "../src/ParseReason.js"

const usage = { input_tokens: 412, output_tokens: 61, cache_creation_input_tokens: 0, cache_read_input_tokens: 300 }

describe("EventSummary", () => {
  it("ModelResponded: its text, the tool it calls with the input, its usage and stop reason", () => {
    const summary = EventSummary.summary(
      new ModelResponded({
        requestId: "r",
        model: "m",
        content: [{ type: "text", text: "Let me look." }, {
          type: "tool_use",
          id: "t",
          name: "read",
          input: { path: "hello.txt" }
        }],
        usage,
        stopReason: "tool_use"
      })
    )
    assert.strictEqual(
      summary,
      `Let me look. · tool_use read {"path":"hello.txt"} · in 412 out 61 cache read 300 tokens · stop tool_use`
    )
  })

  it("the memory pass: its request says what it is for; its answer, what it proposed and what it left out", () => {
    assert.strictEqual(
      EventSummary.summary(
        new ModelRequested({
          requestId: "main:2",
          model: "m",
          maxTokens: 512,
          tools: [],
          messageCount: 1,
          purpose: "remember"
        })
      ),
      "m · 1 message · tools none · memory pass"
    )
    const answer = (proposals: MemoryExtracted["proposals"], rejected?: string) =>
      EventSummary.summary(
        new MemoryExtracted({
          requestId: "main:2",
          model: "m",
          usage,
          answer: "…",
          proposals,
          ...(rejected === undefined ? {} : { rejected })
        })
      )
    assert.strictEqual(
      answer([{ category: "preference", text: "Prefers tabs", scope: "user" }, {
        category: "fact",
        text: "Deploys on Fridays",
        scope: "project"
      }]),
      "2 proposed: Prefers tabs; Deploys on Fridays · in 412 out 61 cache read 300 tokens"
    )
    assert.strictEqual(
      answer([], "the answer is not JSON"),
      "nothing to remember · in 412 out 61 cache read 300 tokens · left out: the answer is not JSON"
    )
  })

  it("ToolCallCompleted: the tool, ok or error, and the first line of its output", () => {
    const call = (isError: boolean) =>
      EventSummary.summary(
        new ToolCallCompleted({ toolUseId: "t", tool: "bash", content: "\nfirst\nsecond", isError, durationMs: 5 })
      )
    assert.strictEqual(call(false), "bash ok · 5 ms · first …")
    assert.strictEqual(call(true), "bash error · 5 ms · first …")
  })

  it("PermissionDecided: behavior, tool, the rule and the layer it came from", () => {
    const decided = (rule: string | null, layer: string | null) =>
      EventSummary.summary(
        new PermissionDecided({ toolUseId: "t", tool: "bash", behavior: "deny", rule, layer, reason: "" })
      )
    assert.strictEqual(decided("Bash(rm:*)", "project"), "deny bash · rule Bash(rm:*) · layer project")
    assert.strictEqual(decided(null, "default"), "deny bash · rule (none) · layer default")
  })

  it("UnknownEvent: the tag a newer weft wrote", () => {
    const decoded = lineCodec.decode(
      `{"seq":1,"id":"i","parentId":null,"sessionId":"s","agentId":"main","at":"2026-01-01T00:00:00.000Z",` +
        `"event":{"_tag":"HologramProjected","v":3}}`
    )
    assert.isTrue(Either.isRight(decoded))
    if (Either.isLeft(decoded)) return
    assert.instanceOf(decoded.right.event, UnknownEvent)
    assert.include(EventSummary.line(decoded.right), "UnknownEvent")
    assert.include(EventSummary.line(decoded.right), "HologramProjected v3")
  })

  it("a line is one line, however many newlines the user typed, and long text is cut with an ellipsis", () => {
    const line = EventSummary.line({
      seq: 12,
      id: "i",
      parentId: null,
      sessionId: "s",
      agentId: "main/2",
      at: "2026-05-02T09:22:11.123Z",
      event: new UserMessageReceived({ content: [{ type: "text", text: `fix\nthe\ttests ${"x".repeat(500)}` }] })
    })
    assert.notInclude(line, "\n")
    assert.match(line, /^ {2}12 {2}2026-05-02 09:22:11 {2}main\/2 {2}UserMessageReceived {2}fix the tests x+…$/)
    assert.isBelow(line.length, 200)
  })
})

describe("ParseReason", () => {
  const tree = `(parseJson <-> { readonly seq: Int }) └─ Type side transformation failure └─ ["event"] └─ ` +
    `(SessionStarted (Encoded side) <-> SessionStarted) ├─ (SessionStarted (Encoded side) <-> SessionStarted) │  ` +
    `└─ ["project"] │     └─ is missing └─ ModelResponded (Encoded side) └─ ["content"] └─ Expected ` +
    `ReadonlyArray<{ readonly type: "text"; readonly text: string } | { readonly type: "tool_use"; readonly id: string }>, actual 7`

  it("a parse tree is cut to the field that failed and why", () => {
    assert.strictEqual(concise(tree), `["content"]: Expected ReadonlyArray<…>, actual 7`)
    assert.strictEqual(concise("seq 3 where 2 was expected"), "seq 3 where 2 was expected")
  })

  it("a sentence keeps its path:line and its advice around the cut tree", () => {
    assert.strictEqual(
      conciseIn(`/h/s.jsonl:4: ${tree}; skipped (lenient read)`),
      `/h/s.jsonl:4: ["content"]: Expected ReadonlyArray<…>, actual 7; skipped (lenient read)`
    )
  })
})
