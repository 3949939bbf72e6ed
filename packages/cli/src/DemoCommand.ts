/**
 * `weft demo`: records a small, realistic session — a user asks what a file says, the model
 * reads it (permission allowed), then answers — in a new temporary project, through the real
 * event log, and prints it. No model is called: the model's side is written out here.
 */
import { Command } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import { draft } from "@weft/kernel/Envelope"
import type { Envelope } from "@weft/kernel/Envelope"
import { EventLog } from "@weft/kernel/EventLog"
import type { AnyEvent } from "@weft/kernel/Events"
import {
  ModelRequested,
  ModelResponded,
  PermissionDecided,
  SessionEnded,
  SessionStarted,
  ToolCallCompleted,
  TurnCompleted,
  UserMessageReceived
} from "@weft/kernel/Events"
import { Ids } from "@weft/kernel/Ids"
import { Chunk, Clock, Effect, Stream } from "effect"
import * as EventSummary from "./EventSummary.js"
import * as Output from "./Output.js"
import * as SessionLookup from "./SessionLookup.js"

const MODEL = "claude-sonnet-4-5"
const FILE = "hello.txt"
const CONTENT = "Hello from weft!\nEvery step of this session is an event in an append-only log.\n"

/** Quotes a path for a POSIX shell when it needs it. */
export const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

/** Writes the demo session; returns its id and project. */
export const record = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const log = yield* EventLog
  const ids = yield* Ids

  // A project that outlives the command, so the user can look at it afterwards.
  const project = yield* fs.realPath(yield* fs.makeTempDirectory({ prefix: "weft-demo-" }))
  yield* fs.writeFileString(path.join(project, FILE), CONTENT)

  const sessionId = yield* ids.next
  /** Appends one event answering `parent`; returns its envelope. */
  const append = (event: AnyEvent, parent: Envelope | null) =>
    log.append(sessionId, [draft(event, { parentId: parent?.id ?? null })]).pipe(Effect.map((stored) => stored[0]!))

  const started = yield* append(
    new SessionStarted({
      project,
      cwd: project,
      model: MODEL,
      settings: { permissions: { allow: ["Read"] } },
      sources: [{ layer: "flags", path: null }],
      maxDepth: 3,
      budgetTokens: null
    }),
    null
  )
  const asked = yield* append(
    new UserMessageReceived({ content: [{ type: "text", text: `What does ${FILE} say?` }] }),
    started
  )
  const tools = ["read"]
  const firstRequest = yield* ids.next
  const requested = yield* append(
    new ModelRequested({ requestId: firstRequest, model: MODEL, maxTokens: 4096, tools, messageCount: 1 }),
    asked
  )
  const toolUseId = `toolu_${(yield* ids.next).replace(/-/g, "").slice(0, 24)}`
  const toolCall = yield* append(
    new ModelResponded({
      requestId: firstRequest,
      model: MODEL,
      content: [
        { type: "text", text: `I'll read ${FILE}.` },
        { type: "tool_use", id: toolUseId, name: "read", input: { path: FILE } }
      ],
      usage: { input_tokens: 412, output_tokens: 61, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      stopReason: "tool_use"
    }),
    requested
  )
  const allowed = yield* append(
    new PermissionDecided({
      toolUseId,
      tool: "read",
      behavior: "allow",
      rule: "Read",
      layer: "flags",
      reason: "allowed by the rule Read"
    }),
    toolCall
  )
  const startedAt = yield* Clock.currentTimeMillis
  const content = yield* fs.readFileString(path.join(project, FILE))
  const durationMs = Math.max(0, Number((yield* Clock.currentTimeMillis) - startedAt))
  const result = yield* append(
    new ToolCallCompleted({ toolUseId, tool: "read", content, isError: false, durationMs }),
    allowed
  )
  const secondRequest = yield* ids.next
  const requestedAgain = yield* append(
    new ModelRequested({ requestId: secondRequest, model: MODEL, maxTokens: 4096, tools, messageCount: 3 }),
    result
  )
  const firstLine = content.split("\n")[0] ?? ""
  const answered = yield* append(
    new ModelResponded({
      requestId: secondRequest,
      model: MODEL,
      content: [{ type: "text", text: `${FILE} says: "${firstLine}"` }],
      usage: { input_tokens: 503, output_tokens: 18, cache_creation_input_tokens: 0, cache_read_input_tokens: 412 },
      stopReason: "end_turn"
    }),
    requestedAgain
  )
  const turn = yield* append(new TurnCompleted({ turn: 1, stopReason: "end_turn" }), answered)
  yield* append(new SessionEnded({ reason: "completed" }), turn)
  return { sessionId, project }
})

export const demo = Command.make("demo", {}, () =>
  Effect.gen(function*() {
    const { project, sessionId } = yield* record
    const log = yield* EventLog
    yield* Output.line(`Recorded a demo session in ${project} (it holds ${FILE}):`)
    yield* Output.line("")
    yield* log.read(sessionId).pipe(
      Stream.runForEachChunk((chunk) => Output.lines(Chunk.toReadonlyArray(chunk).map(EventSummary.line)))
    )
    const prefix = SessionLookup.shortestPrefix(sessionId, yield* log.sessions())
    yield* Output.lines([
      "",
      `  weft sessions show ${prefix}`,
      `  weft --cwd ${shellQuote(project)} sessions list`
    ])
  })).pipe(
    Command.withDescription(
      "Record a small example session in a new temporary project and print it (no API key needed)."
    )
  )
