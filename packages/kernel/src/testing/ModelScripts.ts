/**
 * fast-check arbitraries for model scripts: turns of tool calls (valid, invalid, unknown,
 * allowed, denied) and final answers or model errors, for property tests of the loop and
 * of replay.
 */
import * as fc from "fast-check"
import type { Json } from "../Json.js"
import type { ModelRequest } from "../Messages.js"
import type { ScriptStep } from "../ModelClient.js"

export interface ScriptedCall {
  readonly name: string
  readonly input: Json
}

export interface ScriptedTurn {
  readonly prompt: string
  /** Responses with tool calls, one per model request. */
  readonly steps: ReadonlyArray<ReadonlyArray<ScriptedCall>>
  /** The last response of the turn: an answer, or an error. */
  readonly final: { readonly text: string } | { readonly error: string }
}

const word = fc.stringMatching(/^[a-z]{1,8}$/)

/** Calls over a small project holding `a.txt`: reads, writes, edits, bash, and calls that cannot run. */
export const call: fc.Arbitrary<ScriptedCall> = fc.oneof(
  fc.record({ name: fc.constant("read"), input: fc.constantFrom<Json>({ path: "a.txt" }, { path: "missing.txt" }) }),
  fc.record({
    name: fc.constant("write"),
    input: fc.record<Record<string, Json>>({ path: fc.constantFrom("a.txt", "b.txt"), content: fc.string() })
  }),
  fc.record({
    name: fc.constant("edit"),
    input: fc.record<Record<string, Json>>({ path: fc.constant("a.txt"), old_string: word, new_string: word })
  }),
  fc.record({ name: fc.constant("glob"), input: fc.constant<Json>({ pattern: "*.txt" }) }),
  fc.record({
    name: fc.constant("bash"),
    input: fc.constantFrom<Json>({ command: "echo hi" }, { command: "rm -rf /" })
  }),
  fc.record({ name: fc.constant("read"), input: fc.constant<Json>({ nope: 1 }) }),
  fc.record({ name: fc.constant("warp"), input: fc.constant<Json>({}) })
)

export const turn: fc.Arbitrary<ScriptedTurn> = fc.record({
  prompt: fc.string({ minLength: 1 }),
  steps: fc.array(fc.array(call, { minLength: 1, maxLength: 3 }), { maxLength: 3 }),
  final: fc.oneof(
    { weight: 4, arbitrary: fc.record({ text: fc.string() }) },
    { weight: 1, arbitrary: fc.record({ error: word }) }
  )
})

export const turns: fc.Arbitrary<ReadonlyArray<ScriptedTurn>> = fc.array(turn, { minLength: 1, maxLength: 3 })

/** The model script for turns, with unique tool-use ids. */
export const script = (scripted: ReadonlyArray<ScriptedTurn>): Array<ScriptStep> =>
  scripted.flatMap((t, i) => [
    ...t.steps.map((calls, j): ScriptStep => ({
      content: calls.map((c, k) => ({
        type: "tool_use" as const,
        id: `tu_${i}_${j}_${k}`,
        name: c.name,
        input: c.input
      }))
    })),
    "text" in t.final
      ? { content: [{ type: "text" as const, text: t.final.text }] }
      : { error: { type: "api_error", message: t.final.error } }
  ])

// ---------------------------------------------------------------------------------------------
// Building scripts by hand

/** A step answering with text. */
export const answer = (text: string): ScriptStep => ({ content: [{ type: "text", text }] })

/** A step calling tools: `[toolUseId, tool, input]` each. */
export const calling = (...calls: ReadonlyArray<readonly [string, string, Json]>): ScriptStep => ({
  content: calls.map(([id, name, input]) => ({ type: "tool_use", id, name, input }))
})

/** The first user text of a request: which agent is asking, when each subagent gets its own prompt. */
export const firstPrompt = (request: ModelRequest): string => {
  const first = request.messages[0]?.content[0]
  return first !== undefined && first.type === "text" ? first.text : ""
}

/** How many responses the asking agent has had: its position in its own script. */
export const responsesSoFar = (request: ModelRequest): number =>
  request.messages.filter((m) => m.role === "assistant").length
