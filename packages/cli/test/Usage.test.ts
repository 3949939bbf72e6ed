/**
 * `weft usage` end to end: the bundled CLI in a child process, as a user runs it, against a
 * temporary WEFT_HOME — over the sessions `weft demo` records, and over a small Claude Code
 * history whose ccusage totals are counted by hand below.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Pricing from "@weft/kernel/Pricing"
import { Effect } from "effect"
import { type Run, runBuilt } from "./support/BuiltCli.js"

/** `weft args…` from the bundle, with its own WEFT_HOME (and TZ, when given), run from a temporary directory. */
const weft = (args: ReadonlyArray<string>, options: { readonly home: string; readonly tz?: string }) =>
  Effect.flatMap(
    tempDir("weft-usage-cwd-"),
    (cwd) =>
      runBuilt(args, { home: options.home, cwd, ...(options.tz === undefined ? {} : { env: { TZ: options.tz } }) })
  )

const assertOneLineError = (run: Run, includes: string) => {
  assert.strictEqual(run.code, 1, `exit code; stderr: ${run.stderr}`)
  const lines = run.stderr.split("\n").filter((l) => l.trim() !== "")
  assert.strictEqual(lines.length, 1, `one line on stderr, got:\n${run.stderr}`)
  assert.include(lines[0], includes)
}

const tempDir = (prefix: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix }))

// --- a Claude Code history ------------------------------------------------------------------

const SESSION = "5e55105e-0000-4000-8000-000000000001"
let n = 0

const assistant = (
  id: string,
  requestId: string | undefined,
  usage: readonly [input: number, output: number, cacheWrite: number, cacheRead: number],
  at: string,
  extra: Record<string, unknown> = {},
  model = "claude-sonnet-4-20250514"
) =>
  JSON.stringify({
    parentUuid: null,
    isSidechain: false,
    userType: "external",
    cwd: "/Users/bill/app",
    sessionId: SESSION,
    version: "1.0.80",
    ...extra,
    message: {
      id,
      type: "message",
      role: "assistant",
      model,
      content: [{ type: "text", text: `réponse ${++n} — "usage":{ not here` }],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: usage[0],
        cache_creation_input_tokens: usage[2],
        cache_read_input_tokens: usage[3],
        output_tokens: usage[1],
        service_tier: "standard"
      }
    },
    ...(requestId === undefined ? {} : { requestId }),
    type: "assistant",
    uuid: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    timestamp: at
  })

const history = {
  [`projects/-Users-bill-app/${SESSION}.jsonl`]: [
    JSON.stringify({ type: "summary", summary: "Résumé parser", leafUuid: "x" }),
    JSON.stringify({
      parentUuid: null,
      isSidechain: false,
      type: "user",
      sessionId: SESSION,
      message: { role: "user", content: "fix it ✓" },
      uuid: "u1",
      timestamp: "2025-08-01T09:59:00.000Z"
    }),
    // Streamed: three lines of one response, the last the largest.
    assistant("msg_A", "req_A", [10, 1, 1000, 5000], "2025-08-01T10:00:00.000Z"),
    assistant("msg_A", "req_A", [10, 60, 1000, 5000], "2025-08-01T10:00:01.000Z"),
    assistant("msg_A", "req_A", [10, 120, 1000, 5000], "2025-08-01T10:00:02.000Z"),
    JSON.stringify({ type: "file-history-snapshot", messageId: "m", snapshot: {}, isSnapshotUpdate: false }),
    // No request id: the message id alone.
    assistant("msg_B", undefined, [5, 30, 0, 6000], "2025-08-01T23:30:00.000Z"),
    assistant("msg_B", undefined, [5, 40, 0, 6000], "2025-08-01T23:30:01.000Z"),
    "{\"message\":{\"id\":\"msg_Z\",\"usage\":{\"input_tokens\":1",
    // One message id, two requests: both count.
    assistant("msg_C", "req_C1", [100, 200, 0, 0], "2025-08-02T09:00:00.000Z", {}, "claude-opus-4-1-20250805"),
    assistant("msg_C", "req_C2", [100, 300, 0, 0], "2025-08-02T09:00:01.000Z", {}, "claude-opus-4-1-20250805")
  ],
  [`projects/-Users-bill-app/${SESSION}/subagents/agent-a1b2c3d4.jsonl`]: [
    assistant("msg_S", "req_S", [20, 60, 100, 0], "2025-08-02T10:00:00.000Z", {
      isSidechain: true,
      agentId: "a1b2c3d4"
    })
  ]
}

/**
 * ccusage's totals for `history`, by hand, days in UTC. msg_A:req_A 10/120/1000/5000 and msg_B
 * 5/40/0/6000 on Aug 1; msg_C:req_C1 100/200, msg_C:req_C2 100/300 and msg_S:req_S 20/60/100/0
 * on Aug 2. (In Paris, msg_B's 23:30 UTC is Aug 2.)
 */
const expectedDaily = [
  { date: "2025-08-01", inputTokens: 15, outputTokens: 160, cacheCreationTokens: 1000, cacheReadTokens: 11000 },
  { date: "2025-08-02", inputTokens: 220, outputTokens: 560, cacheCreationTokens: 100, cacheReadTokens: 0 }
]
const expectedTotals = { inputTokens: 235, outputTokens: 720, cacheCreationTokens: 1100, cacheReadTokens: 11000 }

const writeHistory = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* tempDir("weft-claude-")
  for (const [file, lines] of Object.entries(history)) {
    yield* fs.makeDirectory(path.dirname(path.join(dir, file)), { recursive: true })
    yield* fs.writeFileString(path.join(dir, file), lines.join("\n") + "\n")
  }
  return dir
})

const sum = (t: { inputTokens: number; outputTokens: number; cacheCreationTokens: number; cacheReadTokens: number }) =>
  t.inputTokens + t.outputTokens + t.cacheCreationTokens + t.cacheReadTokens

describe("weft usage --source claude-code", () => {
  it.live("totals by day equal ccusage's, counted by hand; the line that is not JSON is skipped with a warning", () =>
    Effect.gen(function*() {
      const dir = yield* writeHistory
      const home = yield* tempDir("weft-usage-")
      const run = yield* weft(
        ["usage", "--source", "claude-code", "--claude-dir", dir, "--json", "--timezone", "UTC"],
        {
          home
        }
      )
      assert.strictEqual(run.code, 0, run.stderr)
      assert.include(run.stderr, "skipped a line of Claude Code's history that is not JSON")
      const json = JSON.parse(run.stdout)
      assert.deepStrictEqual(
        json.daily.map((d: any) => ({
          date: d.date,
          inputTokens: d.inputTokens,
          outputTokens: d.outputTokens,
          cacheCreationTokens: d.cacheCreationTokens,
          cacheReadTokens: d.cacheReadTokens
        })),
        expectedDaily
      )
      assert.deepStrictEqual(json.daily.map((d: any) => d.totalTokens), expectedDaily.map(sum))
      assert.deepStrictEqual(json.daily[1].modelsUsed, ["claude-opus-4-1-20250805", "claude-sonnet-4-20250514"])
      const { totalCost, totalTokens, ...tokens } = json.totals
      assert.deepStrictEqual(tokens, expectedTotals)
      assert.strictEqual(totalTokens, sum(expectedTotals))
      // Cost from weft's table: sonnet 4 (3/15/3.75/0.3) and opus 4.1 (15/75/18.75/1.5) per million.
      const sonnet = (10 * 3 + 120 * 15 + 1000 * 3.75 + 5000 * 0.3) + (5 * 3 + 40 * 15 + 6000 * 0.3) +
        (20 * 3 + 60 * 15 + 100 * 3.75)
      const opus = 200 * 15 + 500 * 75
      assert.closeTo(totalCost, (sonnet + opus) / 1e6, 1e-12)
      assert.include(json.costBasis, "price table")
      assert.strictEqual(json.timeZone, "UTC")
      assert.isDefined(Pricing.find("claude-opus-4-1-20250805"))

      // Counted again from scratch in two threads: the same report.
      const parallel = yield* weft(
        [
          "usage",
          "--source",
          "claude-code",
          "--claude-dir",
          dir,
          "--json",
          "--timezone",
          "UTC",
          "--rebuild",
          "--workers",
          "2"
        ],
        { home }
      )
      assert.strictEqual(parallel.code, 0, parallel.stderr)
      assert.deepStrictEqual(JSON.parse(parallel.stdout), json)
      assertOneLineError(
        yield* weft(["usage", "--source", "claude-code", "--claude-dir", dir, "--workers", "0"], { home }),
        "--workers 0: give 1 or more"
      )
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("days are local by default (TZ), --since keeps the later days, --by session and the table", () =>
    Effect.gen(function*() {
      const dir = yield* writeHistory
      const home = yield* tempDir("weft-usage-")
      const source = ["--source", "claude-code", "--claude-dir", dir]
      const paris = JSON.parse((yield* weft(["usage", ...source, "--json"], { home, tz: "Europe/Paris" })).stdout)
      assert.strictEqual(paris.timeZone, "Europe/Paris")
      // msg_B (23:30 UTC) is on Aug 2 there (01:30, summer time).
      assert.deepStrictEqual(paris.daily.map((d: any) => [d.date, d.totalTokens]), [
        ["2025-08-01", 6130],
        ["2025-08-02", 6045 + 300 + 400 + 180]
      ])

      const since = JSON.parse(
        (yield* weft(["usage", ...source, "--json", "--timezone", "UTC", "--since", "20250802"], { home })).stdout
      )
      assert.deepStrictEqual(since.daily.map((d: any) => d.date), ["2025-08-02"])
      assert.strictEqual(since.totals.totalTokens, sum(expectedDaily[1]!))

      const sessions = JSON.parse(
        (yield* weft(["usage", ...source, "--json", "--by", "session"], { home, tz: "UTC" })).stdout
      )
      // The subagent's transcript belongs to its session.
      assert.deepStrictEqual(sessions.sessions.map((s: any) => [s.sessionId, s.totalTokens]), [
        [SESSION, sum(expectedTotals)]
      ])

      const table = yield* weft(["usage", ...source, "--timezone", "UTC"], { home })
      assert.strictEqual(table.code, 0, table.stderr)
      const lines = table.stdout.split("\n")
      assert.match(
        lines[1]!,
        /│ Date +│ Models +│ +Input │ +Output │ Cache Create │ Cache Read │ Total Tokens │ Cost \(USD\) │/
      )
      assert.include(table.stdout, "│ 2025-08-01 │ - sonnet-4")
      assert.include(table.stdout, "11,000")
      assert.match(table.stdout, /│ Total +│ +│ +235 │ +720 │ +1,100 │ +11,000 │ +13,055 │ +\$\d+\.\d\d │/)
      assert.include(table.stdout, "Days in UTC. Cost from weft's price table")
      assert.include(table.stdout, "Counted as ccusage counts")
      assert.notInclude(table.stdout, "\u001b[")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("mistakes are one line: no history there, --claude-dir alone, a bad day or time zone", () =>
    Effect.gen(function*() {
      const home = yield* tempDir("weft-usage-")
      assertOneLineError(
        yield* weft(["usage", "--source", "claude-code", "--claude-dir", home], { home }),
        "no Claude Code history here"
      )
      assertOneLineError(yield* weft(["usage", "--claude-dir", home], { home }), "--claude-dir goes with --source")
      assertOneLineError(yield* weft(["usage", "--since", "2025-02-30"], { home }), "give a day as YYYY-MM-DD")
      assertOneLineError(yield* weft(["usage", "--timezone", "Mars/Olympus"], { home }), "not a time zone")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})

describe("weft usage over weft's sessions", () => {
  it.live("the demo's responses, every agent's, each once, costed at sonnet 4.5's prices", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const home = yield* tempDir("weft-usage-")
      const empty = yield* weft(["usage"], { home })
      assert.strictEqual(empty.code, 0, empty.stderr)
      assert.include(empty.stdout, "No usage recorded yet")

      assert.strictEqual((yield* weft(["demo"], { home })).code, 0)
      // What the log holds, read directly.
      const projects = path.join(home, "projects")
      const [folder] = yield* fs.readDirectory(projects)
      const logs = (yield* fs.readDirectory(path.join(projects, folder!))).filter((f) => f.endsWith(".jsonl"))
      // The demo's sessions: the one that fixes the typo, and the two that remember and recall.
      assert.strictEqual(logs.length, 3)
      const events = (yield* Effect.forEach(logs, (log) => fs.readFileString(path.join(projects, folder!, log))))
        .flatMap((text) => text.trim().split("\n").map((l) => JSON.parse(l)))
      const responses = events.filter((e) => e.event._tag === "ModelResponded")
      const agents = [...new Set(responses.map((e) => e.agentId))].sort()
      const total = (u: any) =>
        u.input_tokens + u.output_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
      const tokens = responses.reduce((sum, e) => sum + total(e.event.usage), 0)
      const cost = responses.reduce((sum, e) => sum + Pricing.cost("claude-sonnet-4-5", e.event.usage)!, 0)

      const byAgent = JSON.parse((yield* weft(["usage", "--json", "--by", "agent"], { home })).stdout)
      assert.deepStrictEqual(byAgent.agents.map((a: any) => a.agentId), agents)
      assert.strictEqual(byAgent.totals.totalTokens, tokens)
      assert.closeTo(byAgent.totals.totalCost, cost, 1e-12)
      assert.isAbove(agents.length, 1)

      const byModel = JSON.parse((yield* weft(["usage", "--json", "--by", "model"], { home })).stdout)
      assert.deepStrictEqual(byModel.models.map((m: any) => [m.model, m.totalTokens]), [["claude-sonnet-4-5", tokens]])

      // Again, from the checkpoint: the same.
      const again = JSON.parse((yield* weft(["usage", "--json", "--by", "agent"], { home })).stdout)
      assert.deepStrictEqual(again, byAgent)
      assert.isTrue(yield* fs.exists(path.join(home, "projections", "usage", "2", "all.json")))
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})
