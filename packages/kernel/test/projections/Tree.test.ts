import { assert, layer } from "@effect/vitest"
import { Effect, HashMap } from "effect"
import { charge } from "../../src/AgentState.js"
import * as Projection from "../../src/Projection.js"
import * as Tree from "../../src/projections/Tree.js"
import * as Recorded from "./Recorded.js"

const laws = Recorded.laws(Tree.projection, { splitSessions: true })

layer(Recorded.layer)("tree", (it) => {
  it.effect("one node per agent: type, outcome, turns, its own tokens and the subagent's duration", () =>
    Effect.gen(function*() {
      const { sessions } = yield* Recorded.Run
      const state = Projection.fold(Tree.projection, sessions.flatMap((s) => s.envelopes))
      const [first, second] = sessions
      const tokens = (agentId: string) =>
        first!.envelopes.filter((e) => e.agentId === agentId).reduce(
          (sum, e) => sum + (e.event._tag === "ModelResponded" ? charge(e.event.usage) : 0),
          0
        )
      const nodes = Tree.nodes(HashMap.unsafeGet(state, first!.sessionId))
      const completed = first!.envelopes.find((e) => e.event._tag === "SubagentCompleted")!.event
      assert.deepStrictEqual(nodes, [
        { agentId: "main", type: "main", outcome: "completed", turns: 4, tokens: tokens("main"), durationMs: null },
        {
          agentId: "main/1",
          type: "explore",
          outcome: "completed",
          turns: 2,
          tokens: tokens("main/1"),
          durationMs: (completed as { durationMs: number }).durationMs
        }
      ])
      assert.isAbove(tokens("main/1"), 0)
      assert.deepStrictEqual(Tree.nodes(HashMap.unsafeGet(state, second!.sessionId)).map((n) => n.agentId), ["main"])
    }))

  it.effect("render: a block per session, each agent indented under its parent", () =>
    Effect.gen(function*() {
      const { envelopes, sessions } = yield* Recorded.Run
      const lines = Tree.projection.render!(Projection.fold(Tree.projection, envelopes))
      assert.strictEqual(lines[0], `session ${sessions[0]!.sessionId}`)
      assert.match(lines[1]!, /^ {2}main {6}main {5}completed {2}4 turns {2}[\d,]+ tokens$/)
      assert.match(lines[2]!, /^ {4}main\/1 {2}explore {2}completed {2}2 turns {2}[\d,]+ tokens +\d+\.\d s$/)
      assert.include(lines, `session ${sessions[1]!.sessionId}`)
      assert.deepStrictEqual(Tree.projection.render!(Tree.projection.initial), ["No sessions."])
    }))

  it("agents sort depth first, siblings by number (main/10 after main/2)", () => {
    const paths = ["main/10", "main/2/1", "main", "main/2", "main/1"]
    assert.deepStrictEqual([...paths].sort(Tree.byPath), ["main", "main/1", "main/2", "main/2/1", "main/10"])
  })

  it.effect("merging states of disjoint sessions is folding them together", () => laws.mergeOfSessions)
  it.effect("merging the folds of a log cut anywhere is folding it whole", () => laws.mergeOfParts)
  it.effect("the state survives its codec, and folding on from it ends the same", () => laws.codecRoundTrip)
  it.effect("every handled tag changes the state", () => laws.handlesOnlyWhatItFolds)
})
