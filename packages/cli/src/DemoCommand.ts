/**
 * `weft demo`: a real agent run on a scripted model in a new temporary project — no API key.
 *
 * The agent reads a file while an explore subagent searches for the typo elsewhere, fixes the
 * typo (the file is snapshotted first, so the change can be rewound), runs an allowed `cat`,
 * and is refused an `rm` by a deny rule. Then the
 * session is replayed with `--verify` and printed. Everything goes through the real kernel:
 * the decider, the tools, the permission policy, the JSONL log and the blob store.
 *
 * Then long-term memory: a second session is asked to remember something (the `memory` tool),
 * and a third, started later, finds the first session's words through `conversation_search`
 * with the memory already in its system prompt.
 */
import { Command } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { AgentLoop, layer as agentLoopLayer } from "@weft/kernel/AgentLoop"
import { EventLog } from "@weft/kernel/EventLog"
import * as ModelClient from "@weft/kernel/ModelClient"
import * as PermissionPolicy from "@weft/kernel/PermissionPolicy"
import * as PermissionPrompt from "@weft/kernel/PermissionPrompt"
import { evaluator } from "@weft/kernel/PermissionReplay"
import * as Replay from "@weft/kernel/Replay"
import * as Settings from "@weft/kernel/Settings"
import * as ToolRegistry from "@weft/kernel/ToolRegistry"
import { Chunk, Effect, Either, Layer, Stream } from "effect"
import * as os from "node:os"
import * as EventSummary from "./EventSummary.js"
import { Invocation } from "./Invocation.js"
import * as MemoryLayer from "./MemoryLayer.js"
import * as Output from "./Output.js"
import * as SessionLookup from "./SessionLookup.js"

export const MODEL = "claude-sonnet-4-5"
export const FILE = "hello.txt"
export const CONTENT = "Hello, wrold!\nEvery step of this session is an event in an append-only log.\n"
export const PROMPT = `${FILE} has a typo: fix it, show me the file, and clean up the build folder.`

/** What the scripted model answers, request by request. */
export const script: ReadonlyArray<ModelClient.ScriptStep> = [
  {
    content: [
      { type: "text", text: `Let me look at ${FILE}, and have a subagent check whether the typo is anywhere else.` },
      { type: "tool_use", id: "toolu_demo_read", name: "read", input: { path: FILE } },
      {
        type: "tool_use",
        id: "toolu_demo_task",
        name: "task",
        input: {
          agent_type: "explore",
          description: "Find the typo elsewhere",
          prompt: `Search the project for the misspelling "wrold" and list the files that contain it.`
        }
      }
    ]
  },
  // The explore subagent (main/1), on its prompt alone.
  {
    content: [{
      type: "tool_use",
      id: "toolu_demo_grep",
      name: "grep",
      input: { pattern: "wrold", output_mode: "files_with_matches" }
    }]
  },
  { content: [{ type: "text", text: `Only ${FILE} contains "wrold".` }] },
  // The main agent again.
  {
    content: [
      { type: "text", text: `Only ${FILE} has it: "wrold" should be "world".` },
      {
        type: "tool_use",
        id: "toolu_demo_edit",
        name: "edit",
        input: { path: FILE, old_string: "Hello, wrold!", new_string: "Hello, world!" }
      }
    ]
  },
  {
    content: [
      { type: "tool_use", id: "toolu_demo_cat", name: "bash", input: { command: `cat ${FILE}` } },
      { type: "tool_use", id: "toolu_demo_rm", name: "bash", input: { command: "rm -rf build" } }
    ]
  },
  {
    content: [{
      type: "text",
      text: `Fixed the typo: ${FILE} now starts with "Hello, world!". I could not remove build/: ` +
        "this project's settings deny `rm`."
    }]
  }
]

export const MEMORY_PROMPT = "Remember that build/ in this project must never be deleted."
export const REMEMBERED = "build/ in this project must never be deleted"
export const RECALL_PROMPT = "Why didn't you clean up the build folder last time?"
export const RECALL_QUERY = "clean up the build folder"

/** The second session: the model remembers what it is told. */
export const memoryScript: ReadonlyArray<ModelClient.ScriptStep> = [
  {
    content: [{
      type: "tool_use",
      id: "toolu_demo_remember",
      name: "memory",
      input: { action: "remember", text: REMEMBERED, scope: "project" }
    }]
  },
  { content: [{ type: "text", text: "Noted: I will never delete build/ in this project." }] }
]

/** The third session: the model searches the earlier conversations. */
export const recallScript: ReadonlyArray<ModelClient.ScriptStep> = [
  {
    content: [
      { type: "text", text: "Let me look at what we said before." },
      { type: "tool_use", id: "toolu_demo_search", name: "conversation_search", input: { query: RECALL_QUERY } }
    ]
  },
  {
    content: [{
      type: "text",
      text: "The project's settings deny `rm`, so build/ stayed — and you have since asked me never to delete it."
    }]
  }
]

/** The demo's permission settings, as `--allowed-tools` / `--disallowed-tools` flags would give them. */
export const settings = Settings.merge([
  Either.getOrThrow(Settings.decodeLayer("flags", null, {
    permissions: { defaultMode: "acceptEdits", allow: ["Bash(cat:*)"], deny: ["Bash(rm:*)"] }
  }))
])

/** Shell-quotes a path when it needs it. */
export const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

/** Runs the demo session; returns its id, its project and what replay --verify said. */
export const record = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const project = yield* fs.realPath(yield* fs.makeTempDirectory({ prefix: "weft-demo-" }))
  yield* fs.writeFileString(path.join(project, FILE), CONTENT)
  yield* fs.makeDirectory(path.join(project, "build"))
  yield* fs.writeFileString(path.join(project, "build", "out.txt"), "built\n")

  const sessionId = yield* Effect.gen(function*() {
    const loop = yield* AgentLoop
    const session = yield* loop.start({
      project,
      model: MODEL,
      settings: settings.settings,
      sources: settings.sources
    })
    yield* session.send(PROMPT)
    yield* session.end("completed")
    return session.sessionId
  }).pipe(
    Effect.provide(
      agentLoopLayer().pipe(Layer.provide(Layer.mergeAll(
        ModelClient.layerScripted(script),
        ToolRegistry.layerBuiltins,
        PermissionPolicy.layer(settings, { home: os.homedir() }),
        PermissionPrompt.layerDeny
      )))
    )
  )
  const tools = yield* ToolRegistry.builtins
  const verified = yield* Replay.verifySession(sessionId, { evaluatePermission: evaluator(tools) })
  return { sessionId, project, verified }
})

/** Runs one session of `prompt` on `steps` with long-term memory; returns its id. */
const sessionWithMemory = (project: string, prompt: string, steps: ReadonlyArray<ModelClient.ScriptStep>) =>
  Effect.gen(function*() {
    const session = yield* (yield* AgentLoop).start({
      project,
      model: MODEL,
      settings: settings.settings,
      sources: settings.sources
    })
    yield* session.send(prompt)
    yield* session.end("completed")
    return session.sessionId
  }).pipe(
    Effect.provide(
      agentLoopLayer().pipe(Layer.provide(Layer.mergeAll(
        ModelClient.layerScripted(steps),
        Layer.effect(
          ToolRegistry.ToolRegistry,
          Effect.flatMap(
            Effect.all([ToolRegistry.builtins, ToolRegistry.memoryTools]),
            ([builtins, memory]) => ToolRegistry.make([...builtins, ...memory])
          )
        ),
        PermissionPolicy.layer(settings, { home: os.homedir() }),
        PermissionPrompt.layerDeny
      )))
    )
  )

/**
 * Two more sessions in the demo's project, with long-term memory (`memory` is the layer): one
 * remembers, a later one searches. Both are replayed with `--verify`.
 */
export const recordMemory = (project: string) =>
  Effect.gen(function*() {
    const remembered = yield* sessionWithMemory(project, MEMORY_PROMPT, memoryScript)
    const recalled = yield* sessionWithMemory(project, RECALL_PROMPT, recallScript)
    const tools = [...yield* ToolRegistry.builtins, ...yield* ToolRegistry.memoryTools]
    const verified = yield* Effect.forEach(
      [remembered, recalled],
      (id) => Replay.verifySession(id, { evaluatePermission: evaluator(tools) })
    )
    return { remembered, recalled, verified }
  })

export const demo = Command.make("demo", {}, () =>
  Effect.gen(function*() {
    const { project, sessionId, verified } = yield* record
    const invocation = yield* Invocation
    const memory = yield* recordMemory(project).pipe(Effect.provide(MemoryLayer.layer(invocation.home, {})))
    const log = yield* EventLog
    yield* Output.line(`Recorded a demo session in ${project} (it holds ${FILE}):`)
    yield* Output.line("")
    yield* log.read(sessionId).pipe(
      Stream.runForEachChunk((chunk) => Output.lines(Chunk.toReadonlyArray(chunk).map(EventSummary.line)))
    )
    const prefix = SessionLookup.shortestPrefix(sessionId, yield* log.sessions())
    yield* Output.lines([
      "",
      `replay --verify: ${verified.events} events, ${verified.decisions} decisions — every decision replays exactly`,
      "",
      `  weft sessions show ${prefix}`,
      `  weft replay ${prefix} --verify`,
      `  weft sessions tree ${prefix}`,
      `  weft diff ${prefix}`,
      `  weft rewind ${prefix}`,
      `  weft --cwd ${shellQuote(project)} sessions list`,
      "",
      "Long-term memory: a second session remembers, a third finds the first one's words:",
      ""
    ])
    for (const id of [memory.remembered, memory.recalled]) {
      yield* log.read(id).pipe(
        Stream.runForEachChunk((chunk) => Output.lines(Chunk.toReadonlyArray(chunk).map(EventSummary.line)))
      )
      yield* Output.line("")
    }
    yield* Output.lines([
      `replay --verify: ${memory.verified.map((v) => `${v.events} events`).join(" and ")} — both replay exactly`,
      "",
      `  weft --cwd ${shellQuote(project)} memory list`,
      `  weft --cwd ${shellQuote(project)} memory search "${RECALL_QUERY}"`
    ])
  })).pipe(
    Command.withDescription(
      "Run a small agent session on a scripted model in a new temporary project, verify its replay and print it (no API key needed)."
    )
  )
