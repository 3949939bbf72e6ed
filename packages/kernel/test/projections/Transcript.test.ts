import { assert, layer } from "@effect/vitest"
import { Chunk, Effect, HashMap } from "effect"
import * as Projection from "../../src/Projection.js"
import * as Transcript from "../../src/projections/Transcript.js"
import * as Recorded from "./Recorded.js"

const laws = Recorded.laws(Transcript.projection, { splitSessions: true })

layer(Recorded.layer)("transcript", (it) => {
  it.effect("per agent, in order: what was said, each call and its result or refusal, each delegation", () =>
    Effect.gen(function*() {
      const { envelopes, project, sessions } = yield* Recorded.Run
      const state = Projection.fold(Transcript.projection, envelopes)
      const first = HashMap.unsafeGet(state, sessions[0]!.sessionId)
      assert.deepStrictEqual([first.project, first.model], [project, "claude-sonnet-4-5"])
      assert.deepStrictEqual(Object.keys(first.agents), ["main", "main/1"])
      const main = Chunk.toReadonlyArray(first.agents["main"]!)
      assert.deepStrictEqual(main.map((e) => e.kind), [
        "user",
        "assistant",
        "tool_use",
        "tool_use",
        "tool_result",
        "subagent",
        "subagent_result",
        "tool_use",
        "tool_result",
        "tool_use",
        "tool_use",
        "tool_use",
        "denied",
        "tool_result",
        "tool_result",
        "assistant"
      ])
      assert.deepStrictEqual(main[0], {
        kind: "user",
        seq: 2,
        at: main[0]!.at,
        text: "fix the typo in hello.txt and clean up build"
      })
      assert.deepStrictEqual(main[5], {
        kind: "subagent",
        seq: main[5]!.seq,
        at: main[5]!.at,
        childAgentId: "main/1",
        agentType: "explore",
        description: "Find the typo elsewhere"
      })
      const child = Chunk.toReadonlyArray(first.agents["main/1"]!)
      assert.deepStrictEqual(child.map((e) => e.kind), ["user", "tool_use", "tool_result", "assistant"])
      const second = Chunk.toReadonlyArray(HashMap.unsafeGet(state, sessions[1]!.sessionId).agents["main"]!)
      assert.deepStrictEqual(second.find((e) => e.kind === "denied"), {
        kind: "denied",
        seq: second.find((e) => e.kind === "denied")!.seq,
        at: second[0]!.at,
        toolUseId: "t_echo2",
        reason: "not now"
      })
    }))

  it.effect("render: a header per session, then each agent's conversation under its path and type", () =>
    Effect.gen(function*() {
      const { envelopes, project, sessions } = yield* Recorded.Run
      const lines = Transcript.projection.render!(Projection.fold(Transcript.projection, envelopes))
      assert.match(
        lines[0]!,
        new RegExp(`^session ${sessions[0]!.sessionId} · [\\d-]+ [\\d:]+ · ${project} · claude-sonnet-4-5$`)
      )
      const block = (from: string) => lines.slice(lines.indexOf(from))
      assert.deepStrictEqual(block("── main").slice(0, 4), [
        "── main",
        "user: fix the typo in hello.txt and clean up build",
        "assistant: Let me look at hello.txt, and have a subagent check the rest.",
        "→ read {\"path\":\"hello.txt\"}"
      ])
      assert.include(lines, "⇒ main/1 explore: Find the typo elsewhere")
      assert.include(lines, "⇐ main/1 completed: Only hello.txt contains \"wrold\".")
      assert.include(lines, "← bash (refused): \"rm -rf build\" is denied by Bash(rm:*) (flags)")
      assert.include(lines, "← bash (refused): not now")
      assert.deepStrictEqual(block("assistant: Fixed the typo.").slice(0, 2), [
        "assistant: Fixed the typo.",
        "    I could not remove build/."
      ])
      assert.deepStrictEqual(block("── main/1 (explore)").slice(0, 3), [
        "── main/1 (explore)",
        "user: Search for \"wrold\".",
        "→ grep {\"pattern\":\"wrold\",\"output_mode\":\"files_with_matches\"}"
      ])
      assert.include(lines, `← read (error): no such file or directory: ${project}/missing.txt`)
    }))

  it("a tool's long output is kept cut, and shown to a few lines", () => {
    const long = Array.from({ length: 400 }, (_, i) => `line ${i}`).join("\n")
    const kept = Transcript.cut(long, Transcript.MAX_OUTPUT)
    assert.strictEqual(kept.length <= Transcript.MAX_OUTPUT + 40, true)
    assert.match(kept, /… \[\d+ more characters\]$/)
    const shown = Transcript.entryLines(
      { kind: "tool_result", seq: 1, at: "t", toolUseId: "x", tool: "bash", isError: false, text: kept }
    )
    assert.strictEqual(shown[0], "← bash: line 0")
    assert.match(shown.at(-1)!, /^ {4}… \d+ more lines$/)
    assert.strictEqual(shown.length, 9)
  })

  it.effect("merging states of disjoint sessions is folding them together", () => laws.mergeOfSessions)
  it.effect("merging the folds of a log cut anywhere is folding it whole", () => laws.mergeOfParts)
  it.effect("the state survives its codec, and folding on from it ends the same", () => laws.codecRoundTrip)
  it.effect("every handled tag changes the state", () => laws.handlesOnlyWhatItFolds)
})
