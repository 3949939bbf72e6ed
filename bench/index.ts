/**
 * `pnpm bench`: the JSONL event log against plain Node doing the same work, measured in the
 * same run, so that the figures are ratios and not timings of a shared, noisy machine.
 *
 * 1. Append: events/s through `layerJsonl` (durability `fsync` and `none`), in two targeted
 *    shapes — sequential appends of BULK events, and FIBERS fibers appending one event per
 *    call (the log's group commit forms the batches) — plus sequential appends of SMALL events
 *    for reference, against a Node loop that encodes the same envelopes with `lineCodec` and
 *    appends the same lines with `fs.appendFileSync`, in batches of the same sizes, with one
 *    `fs.fsyncSync` per batch under `fsync`. Target ≥ 0.8×.
 * 2. Read: a 1,000,000-event session (lines 200 B – 20 KB) through `EventLog.read`, against a
 *    reader that only splits lines and `JSON.parse`s them. Targets ≥ 0.5× its lines/s, and a
 *    peak RSS of our reader under 200 MB.
 * 3. Projections (`Projections.ts`): the `usage` projection through the projection runner over a
 *    generated 500 MB corpus of weft sessions (≥ 1.0× the MB/s of a fold that `JSON.parse`s every
 *    line, ≥ 1.5× with two workers), `weft usage --source claude-code` over 500 MB of Claude
 *    Code's history (≥ 2×), and a second run from a checkpoint after 1% more data (≤ 5% of the
 *    first run's time). The corpora are generated once and kept in `<tmpdir>/weft-bench-corpus`.
 * 4. Agent turns and replay (`Agent.ts`), a fan-out of 1,010 subagents (`FanOut.ts`).
 * 5. Cold start (`ColdStart.ts`): the bundled CLI's `--version` against a bare `node -e ""`. Target ≤ 4×.
 * 6. Memory (`Memory.ts`): conversation search over 100,000 messages — ingest, add → searchable,
 *    hybrid query p50 / p99, a growing segment against all sealed, RSS.
 *
 * Every measured program runs in its own child process (a bundle, see `Bundle.ts`). Progress
 * goes to stderr; the table to stdout. The exit code is 1 when a target is missed.
 *
 * `WEFT_BENCH_SCALE=0.1 pnpm bench` scales every event count (and the projection corpora, unless
 * `WEFT_BENCH_MB` sets their size in MB) for a quick run;
 * `WEFT_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` passes flags to every child;
 * `WEFT_BENCH_ONLY=append,read` runs only the named sections (append, read, projections, agent,
 * fanout, coldstart, memory).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Agent from "./Agent.js"
import { bundle } from "./Bundle.js"
import * as Children from "./Children.js"
import * as ColdStart from "./ColdStart.js"
import * as FanOut from "./FanOut.js"
import * as Memory from "./Memory.js"
import * as Projections from "./Projections.js"
import type {
  AppendChildArgs,
  AppendReply,
  AppendShape,
  Durability,
  FileCheck,
  GenerateArgs,
  GenerateResult,
  ReadArgs,
  ReadResult,
  Throughput
} from "./Protocol.js"
import { compareMasked, progress } from "./Protocol.js"
import * as Report from "./Report.js"

const scale = (() => {
  const raw = process.env["WEFT_BENCH_SCALE"]
  if (raw === undefined || raw === "") return 1
  const n = Number(raw)
  if (!(n > 0)) {
    process.stderr.write(`WEFT_BENCH_SCALE must be a positive number, not "${raw}"\n`)
    process.exit(2)
  }
  return n
})()
const scaled = (n: number, min: number) => Math.max(min, Math.round(n * scale))

const SECTIONS = ["append", "read", "projections", "agent", "fanout", "coldstart", "memory"] as const
type Section = typeof SECTIONS[number]
const sections: ReadonlySet<Section> = (() => {
  const raw = process.env["WEFT_BENCH_ONLY"]
  if (raw === undefined || raw.trim() === "") return new Set(SECTIONS)
  const named = raw.split(",").map((s) => s.trim())
  const unknown = named.filter((s) => !(SECTIONS as ReadonlyArray<string>).includes(s))
  if (unknown.length > 0) {
    process.stderr.write(`WEFT_BENCH_ONLY names unknown sections ${unknown.join(", ")}: use ${SECTIONS.join(", ")}\n`)
    process.exit(2)
  }
  return new Set(named as Array<Section>)
})()

/** Events per call in the sequential rows: bulk appends (the targeted shape), and a small append for reference. */
const BULK = 64
const SMALL = 8
/** Fibers appending one event per call in the group-commit rows. */
const FIBERS = 32
const APPEND_EVENTS: Record<Durability, number> = { fsync: scaled(32_000, 400), none: scaled(64_000, 400) }
const READ_EVENTS = scaled(1_000_000, 1_000)
/** The JSONL layer's default read size (`defaultChunkSize`; `readOurs` checks), the baseline's too. */
const CHUNK_SIZE = 256 * 1024
const RSS_LIMIT_KB = 200 * 1024
const PROJECT = "/work/project"
const READ_SESSION = "bench-read"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "weft-bench-"))
const cleanUp = () => fs.rmSync(work, { recursive: true, force: true })
process.on("SIGINT", () => {
  cleanUp()
  process.exit(130)
})

type Programs = Record<"append" | "generate" | "readOurs" | "readBaseline", string>

const shapeLabel = (shape: AppendShape) =>
  shape.kind === "batch" ? `${shape.size} events/append, sequential` : `${shape.fibers} fibers × 1 event/append`

interface AppendMeasure {
  readonly durability: Durability
  readonly shape: AppendShape
  /** Whether the row is held to the target, or shown for reference. */
  readonly targeted: boolean
  readonly ours: Throughput
  readonly baseline: Throughput
  readonly check: FileCheck
}

/** One append row: ours and the baseline, each in its own process, taking turns round by round. */
const appendRow = async (
  programs: Programs,
  durability: Durability,
  shape: AppendShape,
  targeted: boolean
): Promise<AppendMeasure> => {
  const events = APPEND_EVENTS[durability]
  const warmup = Math.min(2_048, Math.ceil(events / 5))
  const roundEvents = 1_024
  const dir = fs.mkdtempSync(path.join(work, `append-${durability}-${shape.kind}-`))
  const start = (role: AppendChildArgs["role"]) =>
    Children.serve(programs.append, { role, dir, durability, shape, count: warmup + events, seed: 7 })
  const ours = start("ours")
  const baseline = start("baseline")
  await Promise.all([ours.request({ type: "ready" }), baseline.request({ type: "ready" })])

  const o: Throughput = { events: 0, ms: 0, writes: 0 }
  const b: Throughput = { events: 0, ms: 0, writes: 0 }
  const rounds = [{ from: 1, to: 1 + warmup, counted: false }]
  for (let from = 1 + warmup; from <= warmup + events; from += roundEvents) {
    rounds.push({ from, to: Math.min(warmup + events + 1, from + roundEvents), counted: true })
  }
  type Round = Extract<AppendReply, { type: "round" }>
  for (const [i, round] of rounds.entries()) {
    const mine = await ours.request<Round>({ type: "round", from: round.from, to: round.to })
    const theirs = await baseline.request<Round>({
      type: "round",
      from: round.from,
      to: round.to,
      order: mine.order,
      batches: mine.batches
    })
    if (round.counted) {
      o.events += round.to - round.from
      o.ms += mine.ms
      o.writes += mine.batches!.length
      b.events += round.to - round.from
      b.ms += theirs.ms
      b.writes += mine.batches!.length
    }
    if (i === rounds.length - 1 || i % 10 === 0) {
      progress(
        `  ${durability}, ${shapeLabel(shape)}: ${count(o.events)}/${count(events)} events, ` +
          `ours ${(o.ms / 1000).toFixed(1)} s, baseline ${(b.ms / 1000).toFixed(1)} s`
      )
    }
  }
  type Closed = Extract<AppendReply, { type: "closed" }>
  const [oursClosed, baselineClosed] = await Promise.all([
    ours.request<Closed>({ type: "close" }),
    baseline.request<Closed>({ type: "close" })
  ])
  await Promise.all([ours.exited, baseline.exited])
  const check = compareMasked(oursClosed.file, baselineClosed.file)
  fs.rmSync(dir, { recursive: true, force: true })
  return { durability, shape, targeted, ours: o, baseline: b, check }
}

const count = Report.count

const appendRows = (measures: ReadonlyArray<AppendMeasure>): Array<Report.Row> =>
  measures.map((m) => {
    const ours = Report.perSecond(m.ours.events, m.ours.ms)
    const baseline = Report.perSecond(m.baseline.events, m.baseline.ms)
    const ratio = ours / baseline
    const sameLines = m.check.identicalMasked && m.check.oursLines === m.check.baselineLines
    const perWrite = m.shape.kind === "concurrent" ? `, ${(m.ours.events / m.ours.writes).toFixed(1)} events/write` : ""
    return {
      benchmark: `append · ${m.durability} · ${shapeLabel(m.shape)}${perWrite}`,
      ours: `${count(ours)} ev/s`,
      baseline: `${count(baseline)} ev/s`,
      ratio,
      target: m.targeted ? "≥ 0.80" : "(reference)",
      pass: !sameLines ? false : m.targeted ? ratio >= 0.8 : undefined
    }
  })

const readRows = (generated: GenerateResult, ours: ReadResult, baselines: ReadonlyArray<ReadResult>) => {
  const oursRate = Report.perSecond(ours.lines, ours.ms)
  const baselineRate = baselines.reduce((sum, r) => sum + Report.perSecond(r.lines, r.ms), 0) / baselines.length
  const complete = [ours, ...baselines].every((r) => r.lines === generated.lines && r.lastSeq === generated.lines)
  const ratio = oursRate / baselineRate
  const baselineRss = Math.max(...baselines.map((r) => r.maxRssKb))
  const rows: Array<Report.Row> = [
    {
      benchmark: `read · ${count(generated.lines)} events, ${Report.bytes(generated.bytes)}`,
      ours: `${count(oursRate)} lines/s`,
      baseline: `${count(baselineRate)} lines/s`,
      ratio,
      target: "≥ 0.50",
      pass: ratio >= 0.5 && complete
    },
    {
      benchmark: "read · peak RSS (maxRSS of the reader's process)",
      ours: Report.megabytes(ours.maxRssKb),
      baseline: Report.megabytes(baselineRss),
      ratio: undefined,
      target: "< 200 MB",
      pass: ours.maxRssKb < RSS_LIMIT_KB
    }
  ]
  return { rows, complete }
}

const appendNotes = (measures: ReadonlyArray<AppendMeasure>): Array<string> => [
  `append: ours = EventLog.append of layerJsonl; baseline = a plain Node loop that encodes every envelope with`,
  `  lineCodec.encode inside its timed loop (stamping UUIDv7 ids and times itself), appends each batch with one`,
  `  fs.appendFileSync and, under fsync, one fs.fsyncSync. Batches: the events of one append call for the`,
  `  sequential rows; for the fibers rows, the batches the log's group commit formed, replayed in its order.`,
  `  Ours and the baseline run in separate processes and take turns every ~1,000 events. The ${SMALL}-event and`,
  `  fibers rows are for reference: each append call has a fixed cost (an async write round trip, fiber hops)`,
  `  that a synchronous loop replaying ready-made batches does not pay. Files compared afterwards:`,
  ...measures.map((m) =>
    `    ${m.durability}, ${shapeLabel(m.shape)}: ${count(m.check.oursLines)} lines vs ${
      count(m.check.baselineLines)
    }, ${m.check.identicalMasked ? "identical apart from id and at" : `differ from line ${m.check.firstDifference}`}`
  )
]

const readSection = async (programs: Programs) => {
  progress(`read: generating ${count(READ_EVENTS)} events`)
  const home = path.join(work, "home")
  const generateArgs: GenerateArgs = {
    home,
    project: PROJECT,
    sessionId: READ_SESSION,
    events: READ_EVENTS,
    seed: 42,
    sampleEvery: 1_000
  }
  const generated = await Children.run<GenerateResult>(programs.generate, generateArgs)
  progress(
    `  ${Report.bytes(generated.bytes)} in ${(generated.ms / 1000).toFixed(1)} s; ` +
      `${count(generated.sampled)} sampled lines re-encode byte for byte`
  )
  const readArgs: ReadArgs = { home, sessionId: READ_SESSION, file: generated.file, chunkSize: CHUNK_SIZE }
  const readWith = async (program: string, label: string) => {
    progress(`  reading with ${label}`)
    const result = await Children.run<ReadResult>(program, readArgs)
    progress(
      `    ${count(Report.perSecond(result.lines, result.ms))} lines/s, maxRSS ${Report.megabytes(result.maxRssKb)}`
    )
    return result
  }
  const before = await readWith(programs.readBaseline, "the baseline")
  const ours = await readWith(programs.readOurs, "EventLog.read")
  const after = await readWith(programs.readBaseline, "the baseline again")
  fs.rmSync(home, { recursive: true, force: true })

  const reads = readRows(generated, ours, [before, after])
  const meanLine = generated.bytes / generated.lines - 1
  const notes = [
    `read: ${count(generated.lines)} events of a realistic agent session, ${Report.bytes(generated.bytes)}, lines ${
      Report.bytes(generated.minLine)
    } – ${Report.bytes(generated.maxLine)}, mean ${count(meanLine)} B`,
    `  (sizes log-uniform per event type: tool results 300 B – 20 KB, model responses 400 B – 12 KB, user messages`,
    `  250 B – 4 KB; decisions as large as their fields). Mix: ${
      Object.entries(generated.tags).sort((x, y) => y[1] - x[1]).map(([tag, n]) => `${tag} ${count(n)}`).join(", ")
    }.`,
    `  ours = EventLog.read of layerJsonl (every line decoded and validated by the event Schemas); baseline =`,
    `  fs.createReadStream + split + JSON.parse (no validation); both ${
      Report.kibibytes(CHUNK_SIZE)
    } chunks, each alone`,
    `  in its process. Baseline lines/s: mean of a run before ours and one after (${
      [before, after].map((r) => count(Report.perSecond(r.lines, r.ms))).join(" and ")
    }). Ours started at ${Report.megabytes(ours.rssAtStartKb)} RSS before reading.`,
    ...(reads.complete ? [] : ["  A reader did not return every event: see lines and lastSeq above."])
  ]
  return { rows: reads.rows, notes }
}

const main = async () => {
  const started = performance.now()
  progress(`weft bench: scale ${scale}, working in ${work}`)
  const out = path.join(work, "programs")
  const [append, generate, readOurs, readBaseline] = await Promise.all(
    ["append", "generate", "readOurs", "readBaseline"].map((entry) => bundle(entry, out))
  )
  const programs: Programs = { append: append!, generate: generate!, readOurs: readOurs!, readBaseline: readBaseline! }

  const rows: Array<Report.Row> = []
  const notes: Array<string> = [""]

  if (sections.has("append")) {
    progress(`append: ${count(APPEND_EVENTS.fsync)} events per fsync row, ${count(APPEND_EVENTS.none)} per none row`)
    const measures: Array<AppendMeasure> = []
    for (const durability of ["fsync", "none"] as const) {
      measures.push(await appendRow(programs, durability, { kind: "batch", size: BULK }, true))
      measures.push(await appendRow(programs, durability, { kind: "concurrent", fibers: FIBERS }, false))
      measures.push(await appendRow(programs, durability, { kind: "batch", size: SMALL }, false))
    }
    rows.push(...appendRows(measures))
    notes.push(...appendNotes(measures))
  }
  if (sections.has("read")) {
    const reads = await readSection(programs)
    rows.push(...reads.rows)
    notes.push(...reads.notes)
  }
  if (sections.has("projections")) {
    const projections = await Projections.run({ scale, work, progress })
    rows.push(...projections.rows)
    notes.push(...projections.notes)
  }
  if (sections.has("agent")) {
    progress("agent: the kernel's benchmarks (Agent.ts)")
    rows.push(...await Agent.run(scale, progress))
    notes.push(
      `agent: a fake model answering one read call per turn, through the real loop, tools, policy and decider;`,
      `  100 sessions of 100 turns, four sessions at a time, on each log. verify: Replay.verify (permissions`,
      `  re-decided) against Replay.fold over the same in-memory envelopes, best of three each.`
    )
  }
  if (sections.has("fanout")) {
    rows.push(...await FanOut.fanOut(progress))
    notes.push(
      `fan-out: main delegates to 10 explore agents, each to 10, each of those to 9 (${FanOut.subagents} subagents,`,
      `  depth 3), every agent making 3 requests to a fake model; heap sampled every 5 ms (garbage included).`
    )
  }
  if (sections.has("coldstart")) {
    rows.push(...await ColdStart.coldStart(progress))
    notes.push(
      `cold start: packages/cli/dist/weft.js as \`pnpm build\` writes it, run with plain node from a temporary directory`,
      `  (\`--version\`: every module of the bundle loads, the layers are built, no command runs), against \`node -e ""\`;`,
      `  ${ColdStart.ROUNDS} spawns of each after ${ColdStart.WARMUP} warm-ups, taking turns; wall time from spawn to exit, medians.`
    )
  }
  if (sections.has("memory")) {
    const memory = await Memory.run(scale, progress)
    rows.push(...memory.rows)
    notes.push(...memory.notes)
  }
  notes.push("", `Total ${((performance.now() - started) / 1000).toFixed(0)} s, scale ${scale}.`)
  process.stdout.write(Report.table(rows) + "\n" + notes.join("\n") + "\n")
  process.exitCode = rows.every((row) => row.pass !== false) ? 0 : 1
}
main().then(cleanUp, (error) => {
  cleanUp()
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exitCode = 1
})
