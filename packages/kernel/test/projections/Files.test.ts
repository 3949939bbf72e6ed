import { assert, layer } from "@effect/vitest"
import { Effect, HashMap } from "effect"
import { createHash } from "node:crypto"
import * as Projection from "../../src/Projection.js"
import * as Files from "../../src/projections/Files.js"
import * as Recorded from "./Recorded.js"

const laws = Recorded.laws(Files.projection, { splitSessions: true })
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

layer(Recorded.layer)("files", (it) => {
  it.effect("each changed file: the snapshot of its content before, the tool that changed it, the content after", () =>
    Effect.gen(function*() {
      const { envelopes, project, sessions } = yield* Recorded.Run
      const state = Projection.fold(Files.projection, envelopes)
      const first = HashMap.unsafeGet(state, sessions[0]!.sessionId)
      assert.strictEqual(first.project, project)
      assert.deepStrictEqual(Object.keys(first.files), [`${project}/hello.txt`])
      const touches = first.files[`${project}/hello.txt`]!
      assert.deepStrictEqual(touches.map((t) => [t.kind, t.toolUseId, t.tool, t.blob]), [
        ["snapshot", "t_edit", null, sha256("Hello, wrold!\n")],
        ["change", "t_edit", "edit", sha256("Hello, world!\n")]
      ])
      assert.deepStrictEqual(Files.summary(`${project}/hello.txt`, touches), {
        path: `${project}/hello.txt`,
        changes: 1,
        tools: ["edit"],
        before: sha256("Hello, wrold!\n"),
        after: sha256("Hello, world!\n"),
        rewound: false
      })
      // A new file: there was nothing before.
      const second = HashMap.unsafeGet(state, sessions[1]!.sessionId)
      assert.deepStrictEqual(second.files[`${project}/new.txt`]!.map((t) => [t.kind, t.blob]), [
        ["snapshot", null],
        ["change", sha256("new\n")]
      ])
    }))

  it.effect("render: per session, each file relative to the project with its changes and blobs", () =>
    Effect.gen(function*() {
      const { envelopes, project, sessions } = yield* Recorded.Run
      const lines = Files.projection.render!(Projection.fold(Files.projection, envelopes))
      assert.deepStrictEqual(lines, [
        `session ${sessions[0]!.sessionId} (${project})`,
        `  hello.txt  1 change (edit)  before ${sha256("Hello, wrold!\n").slice(0, 12)}  after ${
          sha256("Hello, world!\n").slice(0, 12)
        }`,
        "",
        `session ${sessions[1]!.sessionId} (${project})`,
        `  new.txt  1 change (write)  before (absent)  after ${sha256("new\n").slice(0, 12)}`
      ])
      assert.deepStrictEqual(Files.projection.render!(Files.projection.initial), ["No files changed."])
    }))

  it("a rewind is the file's latest content", () => {
    const touches: ReadonlyArray<Files.Touch> = [
      { kind: "snapshot", seq: 1, at: "t", agentId: "main", toolUseId: "a", tool: null, blob: "b0" },
      { kind: "change", seq: 2, at: "t", agentId: "main", toolUseId: "a", tool: "write", blob: "b1" },
      { kind: "rewind", seq: 3, at: "t", agentId: "main", toolUseId: null, tool: null, blob: "b0" }
    ]
    const summary = Files.summary("/p/a", touches)
    assert.deepStrictEqual([summary.before, summary.after, summary.rewound], ["b0", "b0", true])
  })

  it.effect("merging states of disjoint sessions is folding them together", () => laws.mergeOfSessions)
  it.effect("merging the folds of a log cut anywhere is folding it whole", () => laws.mergeOfParts)
  it.effect("the state survives its codec, and folding on from it ends the same", () => laws.codecRoundTrip)
  it.effect("every handled tag changes the state", () => laws.handlesOnlyWhatItFolds)
})
