import { assert, layer } from "@effect/vitest"
import { Effect, HashMap } from "effect"
import * as Projection from "../../src/Projection.js"
import * as Tools from "../../src/projections/Tools.js"
import * as Recorded from "./Recorded.js"

const laws = Recorded.laws(Tools.projection, { splitSessions: false })

layer(Recorded.layer)("tools", (it) => {
  it.effect("counts each tool's calls, failures and time, a task call by its subagent, and refusals by permission", () =>
    Effect.gen(function*() {
      const { envelopes, sessions } = yield* Recorded.Run
      const state = Projection.fold(Tools.projection, envelopes)
      const { refused, tools } = Tools.totals(state)
      const calls = Object.fromEntries(Object.entries(tools).map(([tool, s]) => [tool, [s.calls, s.errors]]))
      assert.deepStrictEqual(calls, {
        read: [2, 1],
        grep: [1, 0],
        task: [1, 0],
        edit: [1, 0],
        bash: [2, 0],
        write: [1, 0]
      })
      // rm denied by a rule in session 1; echo refused by the user in session 2.
      assert.deepStrictEqual(refused, { Bash: 2 })
      const first = HashMap.unsafeGet(state, sessions[0]!.sessionId)
      assert.deepStrictEqual(first.refused, { Bash: 1 })
      assert.deepStrictEqual(first.asking, {}, "an answered question is no longer pending")
      const durations = envelopes.flatMap((e) =>
        e.event._tag === "ToolCallCompleted" && e.event.tool === "bash" ? [e.event.durationMs] : []
      )
      assert.strictEqual(tools.bash!.totalMs, durations.reduce((a, b) => a + b, 0))
      assert.strictEqual(tools.bash!.maxMs, Math.max(...durations))
    }))

  it.effect("render: one row per tool, most called first, then the totals and the refusals", () =>
    Effect.gen(function*() {
      const { envelopes } = yield* Recorded.Run
      const lines = Tools.projection.render!(Projection.fold(Tools.projection, envelopes))
      assert.match(lines[0]!, /^TOOL +CALLS +ERRORS +INTERRUPTED +TOTAL +MEAN +MAX$/)
      assert.match(lines[1]!, /^bash +2 +0 +0 /)
      assert.match(lines.find((l) => l.startsWith("read"))!, /^read +2 +1 \(50%\) +0 /)
      assert.match(lines.at(-2)!, /^8 calls in 2 sessions, 1 failed, \d+ ms in tools$/)
      assert.strictEqual(lines.at(-1), "Refused by a permission (never ran): Bash 2")
      assert.deepStrictEqual(Tools.projection.render!(Tools.projection.initial), ["No tool calls."])
    }))

  it.effect("merging states of disjoint sessions is folding them together", () => laws.mergeOfSessions)
  it.effect("the state survives its codec, and folding on from it ends the same", () => laws.codecRoundTrip)
  it.effect("every handled tag changes the state", () => laws.handlesOnlyWhatItFolds)
})
