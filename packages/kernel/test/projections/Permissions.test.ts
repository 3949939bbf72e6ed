import { assert, layer } from "@effect/vitest"
import { Chunk, Effect, HashMap } from "effect"
import * as Projection from "../../src/Projection.js"
import * as Permissions from "../../src/projections/Permissions.js"
import * as Recorded from "./Recorded.js"

const laws = Recorded.laws(Permissions.projection, { splitSessions: false })

layer(Recorded.layer)("permissions", (it) => {
  it.effect("every decision in order, with its rule, layer and subject, and the user's answer to an ask", () =>
    Effect.gen(function*() {
      const { envelopes, project, sessions } = yield* Recorded.Run
      const state = Projection.fold(Permissions.projection, envelopes)
      const first = Chunk.toReadonlyArray(HashMap.unsafeGet(state, sessions[0]!.sessionId).decisions)
      assert.deepStrictEqual(
        first.map((
          d
        ) => [d.agentId, d.toolUseId, d.tool, d.behavior, d.rule, d.layer, d.subject, d.answer?.answer ?? null]),
        [
          ["main", "t_read", "Read", "allow", null, "acceptEdits", `${project}/hello.txt`, null],
          ["main", "t_task", "Task", "allow", null, "acceptEdits", "explore", null],
          ["main/1", "t_grep", "Read", "allow", null, "acceptEdits", project, null],
          ["main", "t_edit", "Edit", "allow", null, "acceptEdits", `${project}/hello.txt`, null],
          ["main", "t_cat", "Bash", "allow", "Bash(cat:*)", "flags", "cat hello.txt", null],
          ["main", "t_rm", "Bash", "deny", "Bash(rm:*)", "flags", "rm -rf build", null],
          ["main", "t_echo", "Bash", "ask", "Bash(echo:*)", "flags", "echo done", "allow_once"]
        ]
      )
      assert.deepStrictEqual(first.map((d) => d.seq), [...first.map((d) => d.seq)].sort((a, b) => a - b))
      const second = Chunk.toReadonlyArray(HashMap.unsafeGet(state, sessions[1]!.sessionId).decisions)
      assert.deepStrictEqual(second.at(-1)!.answer, { answer: "deny", message: "not now", rules: [] })
    }))

  it.effect("render: the audit log, one decision a line, then a tally", () =>
    Effect.gen(function*() {
      const { envelopes } = yield* Recorded.Run
      const lines = Permissions.projection.render!(Projection.fold(Permissions.projection, envelopes))
      assert.match(lines[0]!, /^TIME +SESSION +AGENT +DECISION +TOOL +RULE +LAYER +SUBJECT +REASON$/)
      assert.match(
        lines.find((l) => l.includes("rm -rf build"))!,
        /main +deny +Bash +Bash\(rm:\*\) +flags +rm -rf build/
      )
      assert.match(lines.find((l) => l.includes("echo done"))!, /ask → allow_once +Bash +Bash\(echo:\*\) +flags/)
      assert.match(lines.find((l) => l.includes("echo again"))!, /ask → deny +Bash/)
      assert.strictEqual(
        lines.at(-1),
        "10 decisions: 7 allowed by rule or mode, 1 denied, 2 asked (1 allowed by the user)"
      )
      assert.deepStrictEqual(Permissions.projection.render!(Permissions.projection.initial), [
        "No permission decisions."
      ])
    }))

  it.effect("merging states of disjoint sessions is folding them together", () => laws.mergeOfSessions)
  it.effect("the state survives its codec, and folding on from it ends the same", () => laws.codecRoundTrip)
  it.effect("every handled tag changes the state", () => laws.handlesOnlyWhatItFolds)
})
