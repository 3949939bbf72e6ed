/**
 * Envelopes from real runs, for the built-in projections' tests: two sessions of the real loop,
 * tools and permission policy on a scripted model, in a temporary project.
 *
 * Session 1 (as `weft demo`): reads hello.txt while an explore subagent (main/1) greps for the
 * typo; edits the file (snapshotted first); runs `cat` (allowed by a rule), `rm` (denied by a
 * rule) and `echo` (asked; the user allows it once); answers.
 * Session 2: writes a new file, reads a missing one (an error), is refused an `echo` by the user,
 * answers.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert } from "@effect/vitest"
import { Chunk, Context, Effect, Either, Layer, Schema, Stream } from "effect"
import * as fc from "fast-check"
import { AgentLoop } from "../../src/AgentLoop.js"
import type { Envelope } from "../../src/Envelope.js"
import { EventLog } from "../../src/EventLog.js"
import * as ModelClient from "../../src/ModelClient.js"
import * as PermissionPrompt from "../../src/PermissionPrompt.js"
import * as Projection from "../../src/Projection.js"
import * as Settings from "../../src/Settings.js"
import * as Harness from "../../src/testing/Harness.js"

export const FILE = "hello.txt"

const script: ReadonlyArray<ModelClient.ScriptStep> = [
  {
    content: [
      { type: "text", text: "Let me look at hello.txt, and have a subagent check the rest." },
      { type: "tool_use", id: "t_read", name: "read", input: { path: FILE } },
      {
        type: "tool_use",
        id: "t_task",
        name: "task",
        input: { agent_type: "explore", description: "Find the typo elsewhere", prompt: "Search for \"wrold\"." }
      }
    ]
  },
  {
    content: [{
      type: "tool_use",
      id: "t_grep",
      name: "grep",
      input: { pattern: "wrold", output_mode: "files_with_matches" }
    }]
  },
  { content: [{ type: "text", text: "Only hello.txt contains \"wrold\"." }] },
  {
    content: [{
      type: "tool_use",
      id: "t_edit",
      name: "edit",
      input: { path: FILE, old_string: "Hello, wrold!", new_string: "Hello, world!" }
    }]
  },
  {
    content: [
      { type: "tool_use", id: "t_cat", name: "bash", input: { command: `cat ${FILE}` } },
      { type: "tool_use", id: "t_rm", name: "bash", input: { command: "rm -rf build" } },
      { type: "tool_use", id: "t_echo", name: "bash", input: { command: "echo done" } }
    ]
  },
  { content: [{ type: "text", text: "Fixed the typo.\nI could not remove build/." }] },
  // Session 2.
  {
    content: [
      { type: "tool_use", id: "t_write", name: "write", input: { path: "new.txt", content: "new\n" } },
      { type: "tool_use", id: "t_missing", name: "read", input: { path: "missing.txt" } },
      { type: "tool_use", id: "t_echo2", name: "bash", input: { command: "echo again" } }
    ]
  },
  { content: [{ type: "text", text: "Wrote new.txt." }] }
]

const settings = Settings.merge([
  Either.getOrThrow(Settings.decodeLayer("flags", null, {
    permissions: { defaultMode: "acceptEdits", allow: ["Bash(cat:*)"], ask: ["Bash(echo:*)"], deny: ["Bash(rm:*)"] }
  }))
])

export interface Recorded {
  readonly project: string
  /** Each session's envelopes, oldest session first. */
  readonly sessions: ReadonlyArray<{ readonly sessionId: string; readonly envelopes: ReadonlyArray<Envelope> }>
  /** Every envelope, session by session. */
  readonly envelopes: ReadonlyArray<Envelope>
}

/** Runs the two sessions; their envelopes, as the log holds them. */
export const record: Effect.Effect<Recorded> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const project = yield* fs.realPath(yield* fs.makeTempDirectoryScoped({ prefix: "weft-projections-" }))
  yield* fs.writeFileString(`${project}/${FILE}`, "Hello, wrold!\n")
  yield* fs.makeDirectory(`${project}/build`)
  return yield* Effect.gen(function*() {
    const loop = yield* AgentLoop
    for (const prompt of ["fix the typo in hello.txt and clean up build", "write new.txt"]) {
      const session = yield* loop.start({
        project,
        model: "claude-sonnet-4-5",
        settings: settings.settings,
        sources: settings.sources
      })
      yield* session.send(prompt)
      yield* session.end("completed")
    }
    const log = yield* EventLog
    const sessions = yield* Effect.forEach(yield* log.sessions(), (ref) =>
      Effect.map(
        Stream.runCollect(log.read(ref.sessionId)),
        (envelopes) => ({ sessionId: ref.sessionId, envelopes: Chunk.toReadonlyArray(envelopes) })
      ))
    return { project, sessions, envelopes: sessions.flatMap((s) => s.envelopes) }
  }).pipe(
    Effect.provide(Harness.layer({
      model: ModelClient.layerScripted(script),
      settings,
      prompt: PermissionPrompt.layerScripted([{ answer: "allow_once" }, { answer: "deny", message: "not now" }])
    }))
  )
}).pipe(Effect.scoped, Effect.provide(NodeContext.layer), Effect.orDie)

/** The recorded run, made once per test file. */
export class Run extends Context.Tag("test/projections/Run")<Run, Recorded>() {}

export const layer: Layer.Layer<Run> = Layer.effect(Run, record)

/** The state as JSON, through the projection's codec. */
export const encoded = <S>(projection: Projection.Projection<S>, state: S): unknown =>
  Schema.encodeSync(projection.codec!)(state)

/** The laws every built-in keeps, over the recorded run. */
export const laws = <S>(projection: Projection.Projection<S>, options: { readonly splitSessions: boolean }) => ({
  /** States folded from disjoint sets of sessions merge into the state of one fold over them all, in either order. */
  mergeOfSessions: Effect.gen(function*() {
    const { envelopes, sessions } = yield* Run
    assert.strictEqual(sessions.length, 2)
    const [a, b] = sessions.map((s) => Projection.fold(projection, s.envelopes))
    const whole = encoded(projection, Projection.fold(projection, envelopes))
    assert.deepStrictEqual(encoded(projection, projection.merge!(a!, b!)), whole)
    assert.deepStrictEqual(encoded(projection, projection.merge!(b!, a!)), whole)
    assert.deepStrictEqual(encoded(projection, projection.merge!(projection.initial, a!)), encoded(projection, a!))
  }),
  /** A log cut anywhere (inside a session too), folded in two parts and merged, is the fold of it all. */
  mergeOfParts: Effect.gen(function*() {
    const { envelopes } = yield* Run
    const whole = encoded(projection, Projection.fold(projection, envelopes))
    fc.assert(fc.property(fc.integer({ min: 0, max: envelopes.length }), (cut) => {
      const merged = projection.merge!(
        Projection.fold(projection, envelopes.slice(0, cut)),
        Projection.fold(projection, envelopes.slice(cut))
      )
      assert.deepStrictEqual(encoded(projection, merged), whole, `cut at ${cut}`)
    }))
  }).pipe(Effect.when(() => options.splitSessions)),
  /** The state of every prefix of the run survives its codec: a checkpoint resumes exactly where it was. */
  codecRoundTrip: Effect.gen(function*() {
    const { envelopes } = yield* Run
    const codec = projection.codec!
    for (let n = 0; n <= envelopes.length; n += 3) {
      const state = Projection.fold(projection, envelopes.slice(0, n))
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(codec)(state)))
      const back = Schema.decodeUnknownSync(codec)(json)
      assert.deepStrictEqual(Schema.encodeSync(codec)(back), json)
      // Folding on from the decoded state ends where folding straight through does.
      assert.deepStrictEqual(
        encoded(projection, Projection.fold(projection, envelopes.slice(n), back)),
        encoded(projection, Projection.fold(projection, envelopes))
      )
    }
  }),
  /** Every tag in `handles` that the run holds matters: without its events the state differs. */
  handlesOnlyWhatItFolds: Effect.gen(function*() {
    const { envelopes } = yield* Run
    const whole = encoded(projection, Projection.fold(projection, envelopes))
    const present = projection.handles.filter((tag) => envelopes.some((e) => e.event._tag === tag))
    assert.isAbove(present.length, 0)
    for (const tag of present) {
      const without = encoded(projection, Projection.fold(projection, envelopes.filter((e) => e.event._tag !== tag)))
      assert.notDeepEqual(without, whole, `${projection.name} handles ${tag}, which changes nothing`)
    }
  })
})
