import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import type { Envelope } from "@weft/kernel/Envelope"
import { AgentId, ModelResponded } from "@weft/kernel/Events"
import type { AssistantBlock } from "@weft/kernel/Messages"
import * as Projection from "@weft/kernel/Projection"
import * as Usage from "@weft/kernel/projections/Usage"
import { Effect, Either, Equal, Exit, Schema } from "effect"
import * as fc from "fast-check"
import * as nodeFs from "node:fs"
import * as path from "node:path"
import * as ClaudeCode from "../src/ClaudeCodeSource.js"
import type { SourceFile } from "../src/ProjectionRunner.js"
import * as ProjectionRunner from "../src/ProjectionRunner.js"
import * as ProjectionWorker from "../src/ProjectionWorker.js"

// --- Claude Code lines, shaped as Claude Code writes them ---------------------------------------

const SESSION = "11111111-aaaa-4bbb-8ccc-000000000001"
const OTHER_SESSION = "22222222-aaaa-4bbb-8ccc-000000000002"

const base = (sessionId: string, extra: Record<string, unknown> = {}) => ({
  isSidechain: false,
  userType: "external",
  cwd: "/Users/bill/app",
  sessionId,
  version: "1.0.80",
  gitBranch: "main",
  ...extra
})

let uuids = 0
const uuid = () => `00000000-0000-4000-8000-${String(++uuids).padStart(12, "0")}`

const user = (sessionId: string, content: unknown, extra: Record<string, unknown> = {}) => ({
  parentUuid: null,
  ...base(sessionId, extra),
  type: "user",
  message: { role: "user", content },
  uuid: uuid(),
  timestamp: "2025-08-01T10:00:00.000Z"
})

interface Response {
  readonly id: string
  readonly requestId?: string
  readonly model?: string
  readonly content: ReadonlyArray<unknown>
  readonly usage: Record<string, unknown>
  readonly at?: string
  readonly extra?: Record<string, unknown>
}

const assistant = (sessionId: string, r: Response) => ({
  parentUuid: "00000000-0000-4000-8000-000000000001",
  ...base(sessionId, r.extra),
  message: {
    id: r.id,
    type: "message",
    role: "assistant",
    model: r.model ?? "claude-sonnet-4-20250514",
    content: r.content,
    stop_reason: null,
    stop_sequence: null,
    usage: { service_tier: "standard", ...r.usage }
  },
  ...(r.requestId === undefined ? {} : { requestId: r.requestId }),
  type: "assistant",
  uuid: uuid(),
  timestamp: r.at ?? "2025-08-01T10:00:01.000Z"
})

const tokens = (input: number, output: number, cacheWrite = 0, cacheRead = 0) => ({
  input_tokens: input,
  cache_creation_input_tokens: cacheWrite,
  cache_read_input_tokens: cacheRead,
  output_tokens: output,
  cache_creation: { ephemeral_5m_input_tokens: cacheWrite, ephemeral_1h_input_tokens: 0 }
})

const toolUse = {
  type: "tool_use",
  id: "toolu_01",
  name: "Bash",
  // Fields usage is read from, nested where they do not count.
  input: {
    command: "cat usage.json",
    message: { id: "msg_fake", usage: { input_tokens: 999, output_tokens: 999 } },
    usage: { input_tokens: 999 },
    requestId: "req_fake",
    timestamp: "1999-01-01T00:00:00Z"
  }
}

/** The main session: every kind of line, a response streamed three times, one line not JSON. */
const mainSession: ReadonlyArray<string> = [
  { type: "summary", summary: "Fix the résumé parser ✓", leafUuid: "00000000-0000-4000-8000-000000000009" },
  user(SESSION, "fix the résumé parser — 日本語 too"),
  assistant(SESSION, {
    id: "msg_A",
    requestId: "req_A",
    content: [{ type: "thinking", thinking: "hmm \"usage\":{ is just text", signature: "Eq0=" }],
    usage: tokens(10, 2, 1000, 5000)
  }),
  assistant(SESSION, {
    id: "msg_A",
    requestId: "req_A",
    content: [{ type: "text", text: "Let me look — naïve \\ \"quoted\"\n" }],
    usage: tokens(10, 50, 1000, 5000)
  }),
  assistant(SESSION, { id: "msg_A", requestId: "req_A", content: [toolUse], usage: tokens(10, 120, 1000, 5000) }),
  user(SESSION, [{ tool_use_id: "toolu_01", type: "tool_result", content: "résumé.ts\n", is_error: false }], {
    toolUseResult: { stdout: "résumé.ts", stderr: "", interrupted: false, durationMs: 1500 }
  }),
  {
    type: "file-history-snapshot",
    messageId: "00000000-0000-4000-8000-000000000099",
    snapshot: { messageId: "x", trackedFileBackups: {}, timestamp: "2025-08-01T10:00:02.000Z" },
    isSnapshotUpdate: false
  },
  // No request id: the message id alone dedups.
  assistant(SESSION, { id: "msg_B", content: [{ type: "text", text: "a" }], usage: tokens(5, 30, 0, 6000) }),
  assistant(SESSION, { id: "msg_B", content: [{ type: "text", text: "b" }], usage: tokens(5, 40, 0, 6000) }),
  "CORRUPT",
  // One message id, two requests: both count.
  assistant(SESSION, {
    id: "msg_C",
    requestId: "req_C1",
    model: "claude-opus-4-1-20250805",
    content: [{ type: "text", text: "c1" }],
    usage: tokens(100, 200),
    at: "2025-08-02T09:00:00.000Z"
  }),
  assistant(SESSION, {
    id: "msg_C",
    requestId: "req_C2",
    model: "claude-opus-4-1-20250805",
    content: [{ type: "text", text: "c2" }],
    usage: tokens(100, 300),
    at: "2025-08-02T09:00:01.000Z"
  }),
  // An API error: counted with no tokens, a model no one used.
  assistant(SESSION, {
    id: "msg_E",
    requestId: "req_E",
    model: "<synthetic>",
    content: [{ type: "text", text: "API Error: 529 overloaded" }],
    usage: tokens(0, 0),
    extra: { isApiErrorMessage: true }
  }),
  {
    parentUuid: null,
    ...base(SESSION),
    type: "system",
    subtype: "compact_boundary",
    content: "Conversation compacted"
  },
  user(SESSION, "This session is being continued… Summary: the parser is fixed.", { isCompactSummary: true }),
  // Fast mode: a model of its own.
  assistant(SESSION, {
    id: "msg_F",
    requestId: "req_F",
    model: "claude-opus-4-6",
    content: [{ type: "text", text: "f" }],
    usage: { ...tokens(1, 1), speed: "fast" },
    at: "2025-08-02T09:00:02.000Z"
  }),
  // A Task's result carries the subagent's usage: not a response of this session.
  user(SESSION, [{ tool_use_id: "toolu_02", type: "tool_result", content: [{ type: "text", text: "done" }] }], {
    toolUseResult: { totalTokens: 5000, usage: { input_tokens: 4000, output_tokens: 1000 } }
  }),
  // A timestamp that is not UTC: ccusage skips the line.
  assistant(SESSION, {
    id: "msg_G",
    requestId: "req_G",
    content: [{ type: "text", text: "g" }],
    usage: tokens(7, 7),
    at: "2025-08-01T10:00:00.000+02:00"
  })
].map((line) =>
  line === "CORRUPT"
    ? "{\"parentUuid\":\"x\",\"message\":{\"id\":\"msg_Z\",\"usage\":{\"input_tokens\":1"
    : JSON.stringify(line)
)

const SUBAGENT = "a1b2c3d4"

/** A subagent's transcript (Claude Code 2.0: its own file under the session's folder). */
const subagentFile: ReadonlyArray<string> = [
  user(SESSION, "Search for the parser", { isSidechain: true, agentId: SUBAGENT }),
  assistant(SESSION, {
    id: "msg_S",
    requestId: "req_S",
    content: [{ type: "text", text: "found it" }],
    usage: tokens(20, 60, 100, 0),
    at: "2025-08-02T10:00:00.000Z",
    extra: { isSidechain: true, agentId: SUBAGENT }
  })
].map((line) => JSON.stringify(line))

/** Another project's session: a copy of a response of the first (a resumed session), and an old-style sidechain. */
const otherSession: ReadonlyArray<string> = [
  mainSession[4]!,
  JSON.stringify(assistant(OTHER_SESSION, {
    id: "msg_T",
    requestId: "req_T",
    content: [{ type: "text", text: "t" }],
    usage: tokens(1, 1),
    at: "2025-08-02T11:00:00.000Z",
    extra: { isSidechain: true }
  }))
]

/** ccusage's totals for the fixture, by hand: one line per response key, the largest. */
const expected = {
  // msg_A:req_A 10/120/1000/5000, msg_B 5/40/0/6000, msg_C:req_C1 100/200, msg_C:req_C2 100/300, msg_E 0,
  // msg_F:req_F 1/1, msg_S:req_S 20/60/100/0, msg_T:req_T 1/1.
  responses: 8,
  input: 237,
  output: 722,
  cacheWrite: 1100,
  cacheRead: 11000,
  total: 13059
}

const writeFixture = (root: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const app = path.join(root, "projects", "-Users-bill-app")
    const lib = path.join(root, "projects", "-Users-bill-lib")
    yield* fs.makeDirectory(path.join(app, SESSION, "subagents"), { recursive: true })
    yield* fs.makeDirectory(lib, { recursive: true })
    yield* fs.writeFileString(path.join(app, `${SESSION}.jsonl`), mainSession.join("\n") + "\n")
    yield* fs.writeFileString(
      path.join(app, SESSION, "subagents", `agent-${SUBAGENT}.jsonl`),
      subagentFile.join("\n") + "\n"
    )
    yield* fs.writeFileString(path.join(lib, `${OTHER_SESSION}.jsonl`), otherSession.join("\n") + "\n")
    // Not a transcript.
    yield* fs.writeFileString(path.join(root, "projects", "notes.txt"), "not jsonl\n")
  })

const file: SourceFile = { path: "/x/projects/p/s.jsonl", sessionId: "s-from-file", project: "p" }

/** A line's UTF-8 bytes read as Latin-1, a character per byte: how the runner hands a line to a `latin1` reader. */
const bytesOf = (line: string) => Buffer.from(line, "utf8").toString("latin1")

/** The reader's envelopes for each line, as the runner gives them (numbered from 1, as bytes to a `latin1` reader). */
const decodeAll = (projection: Projection.Any, lines: ReadonlyArray<string>) => {
  const reader = ClaudeCode.reader(projection)
  return lines.map((line, i) =>
    reader.mayHold(bytesOf(line))
      ? reader.decode(reader.latin1 === true ? bytesOf(line) : line, file, i + 1)
      : Either.right<ReadonlyArray<Envelope>>([])
  )
}

const transcriptLike = Projection.make({
  name: "everything",
  version: 1,
  handles: ["UserMessageReceived", "ToolCallCompleted", "ModelResponded"],
  initial: [] as ReadonlyArray<Envelope>,
  evolve: (state, envelope) => [...state, envelope]
})

/** A line's bytes with `[0xff, 0xc3]`, bytes that are no UTF-8, in place of `BAD` if it holds it. */
const withBadBytes = (line: string): Buffer => {
  const bytes = Buffer.from(line, "utf8")
  const at = bytes.indexOf("BAD")
  if (at < 0) return bytes
  return Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff, 0xc3]), bytes.subarray(at + 3)])
}

/** Responses whose session, ids, models and subagent are not ASCII, one model's bytes not even UTF-8. */
const unicodeSession: ReadonlyArray<Buffer> = [
  assistant("séance-ü-1", {
    id: "msg_é",
    requestId: "req_日本",
    model: "modèle-ü",
    content: [{ type: "text", text: "naïve" }],
    usage: tokens(3, 4, 5, 6),
    at: "2025-08-03T10:00:00.000Z"
  }),
  assistant("séance-ü-1", {
    id: "msg_é",
    requestId: "req_日本",
    model: "modèle-ü",
    content: [{ type: "text", text: "naïve ✓" }],
    usage: tokens(3, 9, 5, 6),
    at: "2025-08-03T10:00:01.000Z"
  }),
  assistant("séance-ü-1", {
    id: "msg_🎉",
    requestId: "req_ß",
    model: "claude-ü-BAD-x",
    content: [{ type: "text", text: "🎉" }],
    usage: tokens(1, 2, 0, 7),
    at: "2025-08-03T10:00:02.000Z",
    extra: { isSidechain: true, agentId: "agent-é" }
  })
].map((line) => withBadBytes(JSON.stringify(line)))

describe("ClaudeCodeSource", () => {
  it.scoped("usage of lines that are not ASCII: as JSON.parse reads them, on one thread and in a worker", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* fs.makeTempDirectoryScoped()
      const home = yield* fs.makeTempDirectoryScoped()
      const projects = path.join(root, "projects", "-Users-bill-ünï")
      yield* fs.makeDirectory(projects, { recursive: true })
      const sessionFile = path.join(projects, "séance-ü-1.jsonl")
      yield* fs.writeFile(sessionFile, Buffer.concat(unicodeSession.flatMap((line) => [line, Buffer.from("\n")])))
      const source = ClaudeCode.sourceFileOf(path.join(root, "projects"), sessionFile)
      // The reference: every line decoded as UTF-8 and parsed.
      const byJson = Projection.fold(
        Usage.projection,
        unicodeSession.flatMap((line, i) => Either.getOrThrow(envelopesByParsing(line.toString("utf8"), i + 1, source)))
      )
      const keys = (state: Usage.State) => Usage.entries(state).map((e) => JSON.stringify(e)).sort()
      assert.deepStrictEqual(keys(byJson).length, 2)
      assert.isTrue(keys(byJson).some((e) => e.includes("claude-ü-\ufffd\ufffd-x")))

      // Parsed (a small run), and scanned as bytes (as a run of SCAN_FROM_BYTES or more).
      for (const scanFromBytes of [undefined, 0]) {
        const oneThread = yield* ProjectionRunner.run(
          home,
          Usage.projection,
          ClaudeCode.claudeCodeSource(root, scanFromBytes === undefined ? {} : { scanFromBytes }),
          { checkpoint: false, lenient: true }
        )
        assert.deepStrictEqual(keys(oneThread.state), keys(byJson))
      }

      // A worker thread's fold (`ProjectionWorker.foldFiles`, here on this thread): the reader it resolves reads bytes too.
      const files = yield* ClaudeCode.claudeCodeSource(root).files
      const done = yield* ProjectionWorker.foldFiles(
        {
          projection: { _tag: "Builtin", name: "usage" },
          format: { _tag: "ClaudeCode" },
          files: files.map((file) => ({ file, from: 0, end: nodeFs.statSync(file.path).size, line: 0 })),
          lenient: true,
          name: Usage.projection.name,
          version: Usage.projection.version
        },
        { projection: () => Effect.succeed(Usage.projection), format: () => ClaudeCode.readerScanningFrom(0) },
        () => undefined
      )
      const inWorker = yield* Schema.decodeUnknown(Usage.projection.codec!)(done.state)
      assert.deepStrictEqual(keys(inWorker), keys(byJson))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a run that reads less than SCAN_FROM_BYTES parses usage lines; a larger one scans them", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* fs.makeTempDirectoryScoped()
      const home = yield* fs.makeTempDirectoryScoped()
      const projects = path.join(root, "projects", "-Users-bill-app")
      yield* fs.makeDirectory(projects, { recursive: true })
      // A raw tab inside a text the scan hops over: JSON.parse alone refuses the line (see the module's comment), so
      // which of the two read it shows.
      const raw = JSON.stringify(
        assistant(SESSION, {
          id: "msg_tab",
          requestId: "req_tab",
          content: [{ type: "text", text: "a@b" }],
          usage: tokens(3, 4)
        })
      ).replace("a@b", "a\tb")
      // A line after it: a last line that does not decode is a torn tail, left for later.
      const after = JSON.stringify(
        assistant(SESSION, { id: "msg_after", requestId: "req_after", content: [], usage: tokens(1, 2) })
      )
      yield* fs.writeFileString(path.join(projects, `${SESSION}.jsonl`), raw + "\n" + after + "\n")
      assert.isTrue(Either.isLeft(byParsing(raw)))
      const runWith = (options: { readonly scanFromBytes?: number }) =>
        ProjectionRunner.run(home, Usage.projection, ClaudeCode.claudeCodeSource(root, options), {
          checkpoint: false,
          lenient: true
        })
      const parsed = yield* runWith({})
      assert.deepStrictEqual([parsed.skippedLines, Usage.entries(parsed.state).length], [1, 1])
      const scanned = yield* runWith({ scanFromBytes: raw.length })
      assert.deepStrictEqual([scanned.skippedLines, Usage.entries(scanned.state).length], [0, 2])
      // The reader alone: what decides is the amount the run reads.
      const small = ClaudeCode.reader(Usage.projection, { bytes: 1 })
      const large = ClaudeCode.reader(Usage.projection, { bytes: ClaudeCode.SCAN_FROM_BYTES })
      assert.isTrue(Either.isLeft(small.decode(raw, file, 1)))
      assert.isTrue(Either.isRight(large.decode(raw, file, 1)))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("lists every .jsonl under projects/, sorted, a subagent's file under its session", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* fs.makeTempDirectoryScoped()
      yield* writeFixture(root)
      const files = yield* ClaudeCode.claudeCodeSource(root).files
      const projects = path.join(root, "projects")
      assert.deepStrictEqual(files, [
        {
          path: path.join(projects, "-Users-bill-app", `${SESSION}.jsonl`),
          sessionId: SESSION,
          project: "-Users-bill-app"
        },
        {
          path: path.join(projects, "-Users-bill-app", SESSION, "subagents", `agent-${SUBAGENT}.jsonl`),
          sessionId: SESSION,
          project: "-Users-bill-app"
        },
        {
          path: path.join(projects, "-Users-bill-lib", `${OTHER_SESSION}.jsonl`),
          sessionId: OTHER_SESSION,
          project: "-Users-bill-lib"
        }
      ])
      const missing = yield* Effect.exit(ClaudeCode.claudeCodeSource(path.join(root, "nowhere")).files)
      assert.isTrue(Exit.isFailure(missing))
      assert.match(String(missing), /no Claude Code history here/)
      assert.match(ClaudeCode.claudeCodeSource(root).key, /^[a-zA-Z0-9._-]+$/)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("usage through the runner: ccusage's totals, the line that is not JSON skipped", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* fs.makeTempDirectoryScoped()
      const home = yield* fs.makeTempDirectoryScoped()
      yield* writeFixture(root)
      const result = yield* ProjectionRunner.run(home, Usage.projection, ClaudeCode.claudeCodeSource(root), {
        checkpoint: false,
        lenient: true
      })
      assert.strictEqual(result.skippedLines, 1)
      const entries = Usage.entries(result.state)
      assert.strictEqual(entries.length, expected.responses)
      const totals = Usage.report(result.state, { by: "day", timeZone: "UTC" }).totals
      assert.deepStrictEqual(
        [
          totals.inputTokens,
          totals.outputTokens,
          totals.cacheCreationTokens,
          totals.cacheReadTokens,
          totals.totalTokens
        ],
        [expected.input, expected.output, expected.cacheWrite, expected.cacheRead, expected.total]
      )
      const byKey = new Map(entries.map((e) => [e.key, e]))
      assert.strictEqual(byKey.get("msg_A:req_A")!.output, 120)
      assert.strictEqual(byKey.get("msg_B")!.output, 40)
      assert.strictEqual(byKey.get("msg_F:req_F")!.model, "claude-opus-4-6-fast")
      assert.strictEqual(byKey.get("msg_S:req_S")!.agentId, `main/${2 + ClaudeCode.fnv1a(SUBAGENT)}`)
      assert.strictEqual(byKey.get("msg_T:req_T")!.agentId, "main/1")
      assert.strictEqual(byKey.get("msg_T:req_T")!.sessionId, OTHER_SESSION)
      // Every projection runs over it, not only usage: the general reader counts the same.
      const general = yield* ProjectionRunner.run(home, transcriptLike, ClaudeCode.claudeCodeSource(root), {
        checkpoint: false,
        lenient: true
      })
      const again = Projection.fold(Usage.projection, general.state)
      assert.deepStrictEqual(
        Usage.entries(again).map((e) => [e.key, Usage.totalOf(e)]).sort(),
        entries.map((e) => [e.key, Usage.totalOf(e)]).sort()
      )
    }).pipe(Effect.provide(NodeContext.layer)))

  it("the usage reader: a ModelResponded per usage line, placed as the line says", () => {
    const decoded = decodeAll(Usage.projection, mainSession)
    // The line that is not JSON does not decode; every other is read.
    assert.deepStrictEqual(decoded.map(Either.isLeft), mainSession.map((line) => !line.endsWith("}")))
    const envelopes = decoded.flatMap((d) => Either.getOrElse(d, () => []))
    assert.deepStrictEqual(envelopes.map((e) => e.seq), [3, 4, 5, 8, 9, 11, 12, 13, 16])
    const first = envelopes[0]!
    const line = JSON.parse(mainSession[2]!)
    assert.strictEqual(first.id, line.uuid)
    assert.strictEqual(first.parentId, line.parentUuid)
    assert.strictEqual(first.sessionId, SESSION)
    assert.strictEqual(first.agentId, "main")
    assert.strictEqual(first.at, "2025-08-01T10:00:01.000Z")
    const event = first.event as ModelResponded
    assert.deepStrictEqual([event.messageId, event.requestId, event.model], [
      "msg_A",
      "req_A",
      "claude-sonnet-4-20250514"
    ])
    // Without a request id: "", so that the message id alone is the key.
    assert.strictEqual((envelopes[3]!.event as ModelResponded).requestId, "")
  })

  it("the general reader: user text, tool results named by their tool_use, nothing for summaries or snapshots", () => {
    const decoded = decodeAll(transcriptLike, mainSession)
    const tags = decoded.map((d) =>
      Either.getOrElse(Either.map(d, (es) => es.map((e) => e.event._tag)), () => ["Left"])
    )
    assert.deepStrictEqual(tags, [
      [],
      ["UserMessageReceived"],
      ["ModelResponded"],
      ["ModelResponded"],
      ["ModelResponded"],
      ["ToolCallCompleted"],
      [],
      ["ModelResponded"],
      ["ModelResponded"],
      ["Left"],
      ["ModelResponded"],
      ["ModelResponded"],
      ["ModelResponded"],
      [],
      ["UserMessageReceived"],
      ["ModelResponded"],
      ["ToolCallCompleted"],
      []
    ])
    const all = decoded.flatMap((d) => Either.getOrElse(d, () => []))
    const said = all.find((e) => e.event._tag === "UserMessageReceived")!
    assert.deepStrictEqual((said.event as any).content, [{ type: "text", text: "fix the résumé parser — 日本語 too" }])
    const result = all.find((e) => e.event._tag === "ToolCallCompleted")!.event as any
    assert.deepStrictEqual(
      [result.toolUseId, result.tool, result.content, result.isError, result.durationMs],
      ["toolu_01", "Bash", "résumé.ts\n", false, 1500]
    )
    const toolUseLine = all.find((e) => e.seq === 5)!.event as ModelResponded
    assert.deepStrictEqual(toolUseLine.content.map((b) => b.type), ["tool_use"])
    // A tool_result whose tool_use is not in the file.
    assert.strictEqual((all.find((e) => e.seq === 17)!.event as any).tool, "unknown")
  })

  it("a sidechain is a subagent: main/<n>, a valid agent path", () => {
    const isAgentId = Schema.is(AgentId)
    assert.strictEqual(ClaudeCode.agentOf(false, SUBAGENT), "main")
    assert.strictEqual(ClaudeCode.agentOf(true, undefined), "main/1")
    fc.assert(fc.property(fc.string(), (agentId) => {
      const agent = ClaudeCode.agentOf(true, agentId)
      assert.isTrue(isAgentId(agent), agent)
      assert.notStrictEqual(agent, "main/1")
    }))
  })

  it("a ModelResponded built for the usage path equals one the constructor builds", () => {
    const usage = { input_tokens: 1, output_tokens: 2, cache_creation_input_tokens: 3, cache_read_input_tokens: 4 }
    for (const messageId of [undefined, "msg_1"]) {
      const line: ClaudeCode.UsageLine = {
        timestamp: "2025-08-01T10:00:00Z",
        sessionId: "s",
        requestId: "r",
        messageId,
        model: "claude-x",
        usage,
        uuid: undefined,
        parentUuid: null,
        isSidechain: false,
        agentId: undefined
      }
      const content: Array<AssistantBlock> = []
      const fast = ClaudeCode.modelResponded(line, content, null)
      const fields = {
        requestId: "r",
        ...(messageId === undefined ? {} : { messageId }),
        model: "claude-x",
        content,
        usage,
        stopReason: null
      }
      const made = new ModelResponded(fields)
      assert.instanceOf(fast, ModelResponded)
      assert.deepStrictEqual({ ...fast }, { ...made })
      assert.deepStrictEqual(Object.keys(fast), Object.keys(new ModelResponded(fields, true)))
      assert.isTrue(Equal.equals(fast, new ModelResponded(fields, true)))
      assert.deepStrictEqual(Schema.encodeSync(ModelResponded)(fast), Schema.encodeSync(ModelResponded)(made))
    }
  })
})

// --- the scan against JSON.parse -------------------------------------------------------------

/** What the usage of a line is by JSON.parse alone: the reference the scan must agree with. */
const byParsing = (line: string): Either.Either<ClaudeCode.UsageLine | undefined, string> => {
  if (!line.includes(ClaudeCode.USAGE_MARKER)) return Either.right(undefined)
  try {
    return Either.right(ClaudeCode.usageLineOf(JSON.parse(line)))
  } catch {
    return Either.left("not JSON")
  }
}

/**
 * What JSON.parse refuses and the scan does not look for: an invalid escape or a raw control
 * character inside a string (Claude Code, writing with JSON.stringify, never writes either).
 */
const SUSPECT = /[\u0000-\u001f]|(?<!\\)(?:\\\\)*\\(?!["\\/bfnrt]|u[0-9a-fA-F]{4})/

const tricky = fc.constantFrom(
  "plain",
  "\"usage\":{\"input_tokens\":5}",
  "\\\"quoted\\\"",
  "back\\slash\\\\",
  "naïve — 日本語 ✓ 🎉",
  "{\"message\":{\"id\":\"msg_fake\"}}",
  "line\nbreak\ttab",
  "\u2028",
  "",
  "\\u0041"
)

/** A value of about the right type, or of a wrong one. */
const maybe = <A>(right: fc.Arbitrary<A>) =>
  fc.oneof(
    { weight: 12, arbitrary: right.map((value) => ({ value })) },
    { weight: 2, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom({ value: null }, { value: "" }, { value: 7 }, { value: true }, { value: [] })
    }
  )

const put = (target: Record<string, unknown>, key: string, field: { readonly value: unknown } | undefined) => {
  if (field !== undefined) target[key] = field.value
}

const block = fc.oneof(
  tricky.map((text) => ({ type: "text", text })),
  tricky.map((thinking) => ({ type: "thinking", thinking, signature: "sig" })),
  fc.record({ id: fc.string(), cmd: tricky }).map(({ cmd, id }) => ({
    type: "tool_use",
    id,
    name: "Bash",
    input: { command: cmd, usage: { input_tokens: 1 }, message: { usage: {} }, nested: [[{ text: 5 }]] }
  })),
  fc.constantFrom<unknown>({ type: "text", text: 5 }, "not an object", [], { type: "image" })
)

const usageObject = fc.record({
  input: maybe(fc.oneof(fc.nat(), fc.constantFrom(1.5, -3, 1e21, 12345678901234567))),
  output: maybe(fc.nat()),
  cacheWrite: maybe(fc.nat()),
  cacheRead: maybe(fc.nat()),
  speed: maybe(fc.constantFrom("standard", "fast", "slow", "fäst", "\\u0066ast")),
  nested: fc.boolean()
}).map((u) => {
  const out: Record<string, unknown> = {}
  put(out, "input_tokens", u.input)
  put(out, "cache_creation_input_tokens", u.cacheWrite)
  put(out, "cache_read_input_tokens", u.cacheRead)
  put(out, "output_tokens", u.output)
  if (u.nested) out["cache_creation"] = { ephemeral_5m_input_tokens: 1, input_tokens: 999 }
  put(out, "speed", u.speed)
  return out
})

/** Values the generator writes with their backslash as a JSON escape rather than as text. */
const ESCAPED = [
  "msg_\\u0031",
  "msg_\\u00e9é",
  "2025-08-01T10:00:00.000Z\\u00e9",
  "2025-08-01T10:00:00.000\\u005a",
  "\\u0066ast"
]

const claudeLine = fc.record({
  sessionId: maybe(fc.constantFrom(SESSION, "s-2", "séance-日本-0001")),
  cwd: maybe(fc.constantFrom("/Users/bill/app", "/tmp/naïve")),
  version: maybe(fc.constantFrom("1.0.80", "2.0.1-beta", "x1.0.0", "1.0.٣", "2.0.0-β")),
  isSidechain: maybe(fc.boolean()),
  agentId: maybe(fc.constantFrom("a1b2c3d4", "agent-é")),
  messageId: maybe(fc.constantFrom("msg_1", "msg_2", "msg_\\u0031", "msg_é", "msg_01ÄÖÜ-🎉-ünïcödé", "msg_\\u00e9é")),
  model: maybe(
    fc.constantFrom("claude-sonnet-4-20250514", "<synthetic>", "modèle-ü", "claude-日本語-sonnet-4-5-20250929")
  ),
  content: maybe(fc.array(block, { maxLength: 3 })),
  usage: maybe(usageObject),
  requestId: maybe(fc.constantFrom("req_1", "req_2", "req_ß", "req_0123456789-ÿ")),
  costUSD: maybe(fc.constantFrom(0.01, 3)),
  isApiErrorMessage: maybe(fc.boolean()),
  timestamp: maybe(
    fc.constantFrom(
      "2025-08-01T10:00:00.000Z",
      "2025-08-01T10:00:00Z",
      "2025-08-01 10:00",
      "",
      "2025-08-01T10:00:00.000Ｚ",
      "２025-08-01T10:00:00Z",
      "2025-08-01T10:00:00.٠٠٠Z",
      "2025-08-01T10:00:00.000Z\\u00e9",
      "2025-08-01T10:00:00.000\\u005a"
    )
  ),
  uuid: maybe(fc.oneof(fc.uuid(), fc.constant("uuid-é-ü-00000000000000"))),
  parentUuid: maybe(fc.oneof(fc.uuid(), fc.constant(null), fc.constant("parent-日本語-0000000000"))),
  type: fc.constantFrom("assistant", "user"),
  toolUseResult: fc.boolean()
}).map((l) => {
  const line: Record<string, unknown> = {}
  put(line, "parentUuid", l.parentUuid)
  put(line, "isSidechain", l.isSidechain)
  put(line, "cwd", l.cwd)
  put(line, "sessionId", l.sessionId)
  put(line, "version", l.version)
  put(line, "agentId", l.agentId)
  const message: Record<string, unknown> = {}
  put(message, "id", l.messageId)
  message["role"] = l.type
  put(message, "model", l.model)
  put(message, "content", l.content)
  put(message, "usage", l.usage)
  line["message"] = message
  put(line, "requestId", l.requestId)
  put(line, "costUSD", l.costUSD)
  put(line, "isApiErrorMessage", l.isApiErrorMessage)
  line["type"] = l.type
  put(line, "uuid", l.uuid)
  put(line, "timestamp", l.timestamp)
  if (l.toolUseResult) line["toolUseResult"] = { usage: { input_tokens: 4000, output_tokens: 1000 } }
  // Each of ESCAPED as written: its backslash starts a JSON escape, in a value the scan reads.
  let text = JSON.stringify(line)
  for (const value of ESCAPED) text = text.replace(JSON.stringify(value), `"${value}"`)
  return text
})

/** What may happen to a line on disk: nothing mostly; else cut, joined to another, a byte lost, spaced, keys repeated or escaped. */
const damaged = fc.tuple(claudeLine, claudeLine, fc.nat(), fc.nat({ max: 12 })).map(([line, other, at, what]) => {
  const i = at % (line.length + 1)
  switch (what) {
    case 0:
      return line.slice(0, i)
    case 1:
      return line.slice(0, i) + other
    case 2:
      return line.slice(0, i) + line.slice(i + 1)
    case 3:
      return line.replace(/":/g, "\": ").replace(/,"/g, ", \"")
    case 4:
      return line.slice(0, -1) + ",\"requestId\":\"req_again\",\"timestamp\":\"2025-08-03T00:00:00Z\"}"
    case 5:
      return line.replace("\"usage\":{", "\"usage\":{\"output_tokens\":77,")
    case 6:
      return line.replace("\"id\":", "\"\\u0069d\":")
    case 7:
      // Another message before the real one: JSON.parse keeps the last, whole.
      return line.replace(
        "\"message\":{",
        "\"message\":{\"id\":\"msg_dup\",\"model\":\"m-dup\",\"content\":[{\"text\":1}]," +
          "\"usage\":{\"input_tokens\":9,\"output_tokens\":9,\"cache_read_input_tokens\":9,\"speed\":\"fast\"}}," +
          "\"message\":{"
      )
    case 8:
      return " " + line
    default:
      return line
  }
})

/** The usage reader's envelopes for a line by JSON.parse alone, or "not JSON". */
const envelopesByParsing = (
  line: string,
  seq: number,
  from: SourceFile = file
): Either.Either<ReadonlyArray<Envelope>, string> =>
  Either.map(byParsing(line), (usage) => usage === undefined ? [] : [ClaudeCode.usageEnvelope(usage, from, seq)])

const usageReader = ClaudeCode.reader(Usage.projection)

describe("the usage scan", () => {
  it("reads every line as JSON.parse does: the same usage, the same lines skipped, the same lines not JSON", () => {
    let decided = 0, total = 0
    fc.assert(
      fc.property(damaged, (line) => {
        const scanned = ClaudeCode.usageLine(line)
        const parsed = byParsing(line)
        if (Either.isLeft(parsed) && Either.isRight(scanned) && SUSPECT.test(line)) return
        assert.deepStrictEqual(Either.mapLeft(scanned, () => "not JSON"), parsed, line)
        // Given the line's bytes, as the runner gives them: as JSON.parse reads the text they decode to — the line
        // itself, unless it holds a lone surrogate, which UTF-8 cannot carry (written as U+FFFD).
        const bytes = bytesOf(line)
        const text = Buffer.from(line, "utf8").toString("utf8")
        assert.deepStrictEqual(
          Either.mapLeft(ClaudeCode.usageLineOfBytes(bytes), () => "not JSON"),
          text === line ? parsed : byParsing(text),
          line
        )
        if (line.includes(ClaudeCode.USAGE_MARKER)) {
          assert.deepStrictEqual(
            Either.mapLeft(usageReader.decode(bytes, file, 7), () => "not JSON"),
            envelopesByParsing(text, 7),
            line
          )
          total++
          if (ClaudeCode.scanUsageLine(bytes) !== ClaudeCode.DECIDE_BY_PARSING) decided++
        }
      }),
      { numRuns: 3000 }
    )
    // The scan decides most lines itself: JSON.parse is the exception, not the rule.
    assert.isAbove(decided / total, 0.5)
  })

  it("reads bytes that are not UTF-8 as the decoded line reads them: each bad sequence one U+FFFD", () => {
    const bad = fc.constantFrom([0x80], [0xff], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x8e], [0xc0, 0xaf], [
      0xed,
      0xa0,
      0x80
    ])
    fc.assert(
      fc.property(claudeLine, fc.nat(), bad, (line, at, inserted) => {
        const utf8 = Buffer.from(line, "utf8")
        const i = at % (utf8.length + 1)
        const bytes = Buffer.concat([utf8.subarray(0, i), Buffer.from(inserted), utf8.subarray(i)])
        const text = bytes.toString("utf8")
        const parsed = byParsing(text)
        const scanned = ClaudeCode.usageLineOfBytes(bytes.toString("latin1"))
        if (Either.isLeft(parsed) && Either.isRight(scanned) && SUSPECT.test(text)) return
        assert.deepStrictEqual(Either.mapLeft(scanned, () => "not JSON"), parsed, text)
      }),
      { numRuns: 2000 }
    )
  })

  it("decides every line of the fixture itself, as JSON.parse would", () => {
    for (const line of [...mainSession, ...subagentFile, ...otherSession]) {
      if (!line.includes(ClaudeCode.USAGE_MARKER) || !line.endsWith("}")) continue
      const scanned = ClaudeCode.scanUsageLine(bytesOf(line))
      assert.notStrictEqual(scanned, ClaudeCode.DECIDE_BY_PARSING, `the scan left this line to JSON.parse: ${line}`)
      assert.deepStrictEqual(Either.mapLeft(ClaudeCode.usageLine(line), () => "not JSON"), byParsing(line))
    }
  })
})
