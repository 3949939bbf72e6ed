/**
 * The projection runner's benchmarks (`pnpm bench`, after the read benchmark), on two generated
 * corpora of WEFT_BENCH_MB megabytes each (default 500 × WEFT_BENCH_SCALE):
 *
 * 1. weft: many sessions across four projects, written with the kernel's `lineCodec`
 *    (`projectionGenerate.ts`). The `usage` projection through `ProjectionRunner.run` over every
 *    session (`weftSource(home, All)`), on one thread and in two worker threads, against a
 *    baseline that reads the same files and `JSON.parse`s every line (`projectionBaseline.ts`),
 *    each timed inside its process. Targets: ≥ 1.0× its MB/s on one thread, ≥ 1.5× with two
 *    workers. `weft usage --json` end to end, for reference.
 * 2. Claude Code: conversations in Claude Code's own format (responses streamed as 2–4 lines,
 *    tool results, summaries, subagent transcripts; `ClaudeCodeWorkload.ts`). `weft usage
 *    --source claude-code --json --rebuild` — the CLI as `pnpm build` bundles it — from spawn to
 *    exit, against the same plain Node fold from spawn to exit. Target ≥ 2×. The runner alone
 *    (`claudeCodeSource(dir)`, one thread and two workers), for reference.
 * 3. Checkpoints, on each corpus: runs that write the checkpoint, then 1% more data (lines
 *    appended to every eighth session, two new sessions), then a second run. Target: the second
 *    run ≤ 5% of the first's time (medians of 5 second runs and of 3 first runs).
 *
 * Every fold runs in its own child process (a bundle, see `Bundle.ts`; the CLI's own bundle), the
 * baseline and ours taking turns, three rounds, medians. Every fold must find the token totals the generator
 * counted (responses deduplicated as the `usage` projection and ccusage do): a row whose fold
 * got them wrong fails, whatever its speed.
 *
 * The corpora are generated once, deterministically, into `<tmpdir>/weft-bench-corpus/`, keyed
 * by `VERSION`, kind and size, and reused by later runs.
 *
 * `tsx bench/Projections.ts` runs this section alone (`WEFT_BENCH_MB=50` for a quick run).
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { bundle } from "./Bundle.js"
import * as Children from "./Children.js"
import type { CorpusKind, FoldArgs, FoldResult, GenerateCorpusArgs, Manifest, Totals } from "./ProjectionProtocol.js"
import { readManifest, sameTotals, showTotals } from "./ProjectionProtocol.js"
import * as Report from "./Report.js"

/** Names the generated corpora: bump it when a generator changes what it writes. */
export const VERSION = "projections-v1"
const SEEDS: Record<CorpusKind, number> = { weft: 500, "claude-code": 501 }
const ROUNDS = 3
/** First runs (each writing the checkpoint anew) and second runs of the checkpoint row: medians of each. */
const FIRST_ROUNDS = 3
const CHECKPOINT_ROUNDS = 5
const TARGETS = { weft: 1, weftWorkers: 1.5, claudeCode: 2, checkpoint: 0.05 }

export const cacheRoot = path.join(os.tmpdir(), "weft-bench-corpus")

/** Megabytes per corpus: WEFT_BENCH_MB, else 500 × the bench's scale. */
export const corpusMegabytes = (scale: number): number => {
  const raw = process.env["WEFT_BENCH_MB"]
  if (raw === undefined || raw === "") return Math.max(5, Math.round(500 * scale))
  const n = Number(raw)
  if (!(n > 0)) {
    process.stderr.write(`WEFT_BENCH_MB must be a positive number, not "${raw}"\n`)
    process.exit(2)
  }
  return n
}

const median = (samples: ReadonlyArray<number>): number => {
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const mbPerSecond = (bytes: number, ms: number) => bytes / 1e3 / ms
const rate = (bytes: number, ms: number) => `${mbPerSecond(bytes, ms).toFixed(0)} MB/s`
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

type Programs = Record<"generate" | "ours" | "baseline" | "worker", string>

interface Corpus {
  readonly kind: CorpusKind
  readonly dir: string
  readonly manifest: Manifest
  /** Whether this run generated it (else it came from the cache). */
  readonly generated: boolean
}

/** The corpus from the cache, or generated into it. */
const ensureCorpus = async (
  programs: Programs,
  kind: CorpusKind,
  megabytes: number,
  progress: (line: string) => void
): Promise<Corpus> => {
  const dir = path.join(cacheRoot, `${VERSION}-${kind}-${megabytes}mb`)
  const cached = readManifest(dir)
  if (cached !== undefined && cached.version === VERSION) return { kind, dir, manifest: cached, generated: false }
  fs.mkdirSync(cacheRoot, { recursive: true })
  // Left by an interrupted run, or of an older version: not reused.
  for (const name of fs.readdirSync(cacheRoot)) {
    if (name.startsWith(`${path.basename(dir)}.partial-`) || !name.startsWith(VERSION)) {
      fs.rmSync(path.join(cacheRoot, name), { recursive: true, force: true })
    }
  }
  fs.rmSync(dir, { recursive: true, force: true })
  progress(`  generating the ${kind} corpus (${megabytes} MB) into ${dir}`)
  const args: GenerateCorpusArgs = { kind, dir, bytes: megabytes * 1e6, seed: SEEDS[kind], version: VERSION }
  const manifest = await Children.run<Manifest>(programs.generate, args)
  progress(`  ${kind}: ${Report.bytes(manifest.bytes)} in ${seconds(manifest.ms)}`)
  return { kind, dir, manifest, generated: true }
}

/** Reads every file of the corpus once, so that no fold is the first to read it from disk. */
const warm = (corpus: Corpus) => {
  const buffer = Buffer.allocUnsafe(1 << 20)
  for (const rel of corpus.manifest.files) {
    const fd = fs.openSync(path.join(corpus.dir, corpus.manifest.root, rel), "r")
    try {
      while (fs.readSync(fd, buffer, 0, buffer.length, null) > 0) {
        // Only the reading matters.
      }
    } finally {
      fs.closeSync(fd)
    }
  }
}

type Contender = "baseline" | "ours" | "ours2" | "cli"

/** One run: its time inside its process (the CLI's: from spawn to exit), and from spawn to exit as seen from here. */
interface Sample {
  readonly ms: number
  readonly wallMs: number
  readonly cpuMs: number | undefined
  readonly maxRssKb: number | undefined
}

interface Throughput {
  readonly corpus: Corpus
  readonly runs: Record<Contender, Array<Sample>>
  /** What went wrong with any run's totals or bytes; empty when every run agreed with the manifest. */
  readonly problems: ReadonlyArray<string>
}

const label: Record<Contender, string> = {
  baseline: "baseline",
  ours: "runner, 1 thread",
  ours2: "runner, 2 workers",
  cli: "weft usage"
}

/** Extra node flags for every child, as `Children.ts` passes them (`WEFT_BENCH_NODE_FLAGS`). */
const nodeFlags = (process.env["WEFT_BENCH_NODE_FLAGS"] ?? "").split(" ").filter((flag) => flag !== "")

/** The CLI as `pnpm build` bundles it, and where it runs: a temporary WEFT_HOME, V8 cache and working directory. */
interface Cli {
  readonly program: string
  readonly root: string
}

const repo = fileURLToPath(new URL("..", import.meta.url))

/** Bundles the CLI into `<out>/weft.mjs` with `packages/cli/build.mjs`, as `pnpm build` bundles `dist/weft.js`. */
const buildCli = (out: string, work: string): Cli => {
  const program = path.join(out, "weft.mjs")
  const cli = path.join(repo, "packages", "cli")
  const built = spawnSync(process.execPath, [path.join(cli, "build.mjs"), program], {
    cwd: cli,
    stdio: ["ignore", "ignore", "inherit"]
  })
  if (built.status !== 0) throw new Error(`building the CLI failed (${built.signal ?? built.status})`)
  const root = fs.mkdtempSync(path.join(work, "cli-"))
  fs.mkdirSync(path.join(root, "cwd"))
  return { program, root }
}

/**
 * `weft usage --json --rebuild --timezone UTC` (with `--source claude-code --claude-dir <dir>`
 * for Claude Code's history), in its own WEFT_HOME — for weft's corpus one whose `projects` is a
 * link to the corpus's, so that the checkpoint is not written into the cache. Resolves to its
 * wall time and the totals it printed.
 */
const runCli = (cli: Cli, corpus: Corpus | undefined) =>
  new Promise<{ readonly wallMs: number; readonly totals: Record<string, number> }>((resolve, reject) => {
    const home = path.join(cli.root, corpus === undefined ? "empty" : `home-${corpus.kind}`)
    if (!fs.existsSync(home)) {
      fs.mkdirSync(home)
      if (corpus?.kind === "weft") {
        fs.symlinkSync(path.join(corpus.dir, corpus.manifest.root, "projects"), path.join(home, "projects"))
      }
    }
    const source = corpus?.kind === "claude-code"
      ? ["--source", "claude-code", "--claude-dir", path.join(corpus.dir, corpus.manifest.root)]
      : []
    const { INIT_CWD: _initCwd, NODE_OPTIONS: _nodeOptions, ...inherited } = process.env
    const started = performance.now()
    const child = spawn(
      process.execPath,
      [...nodeFlags, cli.program, "usage", "--json", "--rebuild", "--timezone", "UTC", ...source],
      {
        cwd: path.join(cli.root, "cwd"),
        env: { ...inherited, WEFT_HOME: home, XDG_CACHE_HOME: path.join(cli.root, "cache") },
        stdio: ["ignore", "pipe", "inherit"]
      }
    )
    let out = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (data: string) => (out += data))
    child.on("error", reject)
    child.on("exit", (code, signal) => {
      const wallMs = performance.now() - started
      if (code !== 0) return reject(new Error(`weft usage exited with ${signal ?? code}`))
      try {
        const printed = JSON.parse(out) as { readonly totals?: Record<string, number> }
        resolve({ wallMs, totals: printed.totals ?? {} })
      } catch {
        reject(new Error(`weft usage printed no JSON: ${out.slice(0, 200)}`))
      }
    })
  })

/** Whether the totals `weft usage --json` printed are the corpus's. */
const cliAgrees = (printed: Record<string, number>, totals: Totals) =>
  printed["inputTokens"] === totals.input && printed["outputTokens"] === totals.output &&
  printed["cacheCreationTokens"] === totals.cacheWrite && printed["cacheReadTokens"] === totals.cacheRead

const timed = async (
  run: () => Promise<FoldResult>
): Promise<{ readonly result: FoldResult; readonly wallMs: number }> => {
  const started = performance.now()
  const result = await run()
  return { result, wallMs: performance.now() - started }
}

/**
 * Three rounds of the baseline, the runner (one thread, two workers) and `weft usage`, each run
 * in its own process, taking turns.
 */
const throughput = async (
  programs: Programs,
  cli: Cli,
  corpus: Corpus,
  progress: (line: string) => void
): Promise<Throughput> => {
  const root = path.join(corpus.dir, corpus.manifest.root)
  const args = (workers: number): FoldArgs => ({
    kind: corpus.kind,
    root,
    // No checkpoint: nothing is written into the cached corpus.
    home: root,
    workers,
    checkpoint: false,
    workerProgram: programs.worker
  })
  const runs: Record<Contender, Array<Sample>> = { baseline: [], ours: [], ours2: [], cli: [] }
  const problems: Array<string> = []
  const fold = async (contender: Contender, program: string, workers: number) => {
    const { result, wallMs } = await timed(() => Children.run<FoldResult>(program, args(workers)))
    if (!sameTotals(result.totals, corpus.manifest.totals)) {
      problems.push(`${label[contender]} found ${showTotals(result.totals)}`)
    }
    if (result.bytes !== corpus.manifest.bytes) {
      problems.push(`${label[contender]} read ${result.bytes} bytes of ${corpus.manifest.bytes}`)
    }
    return { ms: result.ms, wallMs, cpuMs: result.cpuMs, maxRssKb: result.maxRssKb }
  }
  const start: Record<Contender, () => Promise<Sample>> = {
    baseline: () => fold("baseline", programs.baseline, 1),
    ours: () => fold("ours", programs.ours, 1),
    ours2: () => fold("ours2", programs.ours, 2),
    cli: async () => {
      const { totals, wallMs } = await runCli(cli, corpus)
      if (!cliAgrees(totals, corpus.manifest.totals)) {
        problems.push(`weft usage printed totals ${JSON.stringify(totals)}`)
      }
      return { ms: wallMs, wallMs, cpuMs: undefined, maxRssKb: undefined }
    }
  }
  const order: ReadonlyArray<Contender> = ["baseline", "ours", "ours2", "cli"]
  for (let round = 0; round < ROUNDS; round++) {
    // Each starts a round in turn.
    for (const contender of [...order.slice(round % order.length), ...order.slice(0, round % order.length)]) {
      const sample = await start[contender]()
      runs[contender].push(sample)
      progress(
        `  ${corpus.kind}, round ${round + 1}: ${label[contender]} ${rate(corpus.manifest.bytes, sample.ms)} (${
          seconds(sample.ms)
        }${sample.cpuMs === undefined ? "" : `, CPU ${seconds(sample.cpuMs)}`}${
          sample.maxRssKb === undefined ? "" : `, maxRSS ${Report.megabytes(sample.maxRssKb)}`
        })`
      )
    }
  }
  return { corpus, runs, problems }
}

interface Resumed {
  readonly corpus: Corpus
  readonly firsts: ReadonlyArray<FoldResult>
  readonly seconds: ReadonlyArray<FoldResult>
  readonly problems: ReadonlyArray<string>
}

/** A hard link (never written to), or a copy across file systems. Not a symbolic link: `claudeCodeSource` lists regular files only. */
const link = (from: string, to: string) => {
  try {
    fs.linkSync(from, to)
  } catch {
    fs.copyFileSync(from, to)
  }
}

/**
 * Runs that write the checkpoint (FIRST_ROUNDS, each from none), then 1% more data and a second
 * run, CHECKPOINT_ROUNDS times (each time the appended files cut back, the new ones removed and
 * the first runs' checkpoint put back). A single first run made the ratio as noisy as that run.
 * On a copy of the corpus: hard links to the files that do not change, copies of those that do.
 */
const resumed = async (
  programs: Programs,
  corpus: Corpus,
  work: string,
  progress: (line: string) => void
): Promise<Resumed> => {
  const m = corpus.manifest
  const copy = fs.mkdtempSync(path.join(work, `checkpoint-${corpus.kind}-`))
  try {
    const source = path.join(corpus.dir, m.root)
    const root = path.join(copy, m.root)
    const home = corpus.kind === "weft" ? root : path.join(copy, "home")
    const appended = new Set(m.extra.appended)
    if (corpus.kind === "weft") {
      // The project folders' project.json.
      for (const name of fs.readdirSync(path.join(source, "projects"))) {
        fs.mkdirSync(path.join(root, "projects", name), { recursive: true })
        const projectFile = path.join(source, "projects", name, "project.json")
        if (fs.existsSync(projectFile)) fs.copyFileSync(projectFile, path.join(root, "projects", name, "project.json"))
      }
    }
    for (const rel of m.files) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
      if (appended.has(rel)) fs.copyFileSync(path.join(source, rel), path.join(root, rel))
      else link(path.join(source, rel), path.join(root, rel))
    }
    const sizes = new Map(m.extra.appended.map((rel) => [rel, fs.statSync(path.join(root, rel)).size]))
    const args: FoldArgs = { kind: corpus.kind, root, home, workers: 1, checkpoint: true }
    const problems: Array<string> = []

    const checkpoints = path.join(home, "projections", "usage")
    const firsts: Array<FoldResult> = []
    for (let round = 0; round < FIRST_ROUNDS; round++) {
      fs.rmSync(checkpoints, { recursive: true, force: true })
      const first = await Children.run<FoldResult>(programs.ours, args)
      firsts.push(first)
      progress(`  ${corpus.kind}: first run ${seconds(first.ms)}, checkpoint written`)
      if (first.fromCheckpoint) problems.push("a first run resumed from a checkpoint")
      if (!sameTotals(first.totals, m.totals)) problems.push(`a first run found ${showTotals(first.totals)}`)
    }
    // The checkpoint: its head and its side files, each put back as the last first run left it.
    const written = fs.readdirSync(checkpoints, { recursive: true, encoding: "utf8" })
      .map((name) => path.join(checkpoints, name)).filter((file) => fs.statSync(file).isFile())
    const heads = written.filter((file) => file.endsWith(".json"))
    if (heads.length !== 1) throw new Error(`expected one checkpoint under ${checkpoints}, found ${heads.length}`)
    const checkpoint = new Map(written.map((file) => [file, fs.readFileSync(file)]))
    const folder = path.dirname(heads[0]!)

    const later: Array<FoldResult> = []
    for (let round = 0; round < CHECKPOINT_ROUNDS; round++) {
      if (round > 0) {
        for (const [rel, size] of sizes) fs.truncateSync(path.join(root, rel), size)
        for (const rel of m.extra.created) fs.rmSync(path.join(root, rel))
        for (const name of fs.readdirSync(folder)) fs.rmSync(path.join(folder, name))
        for (const [file, bytes] of checkpoint) fs.writeFileSync(file, bytes)
      }
      for (const rel of m.extra.appended) {
        fs.appendFileSync(path.join(root, rel), fs.readFileSync(path.join(corpus.dir, "extra", "append", rel)))
      }
      for (const rel of m.extra.created) {
        fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
        fs.copyFileSync(path.join(corpus.dir, "extra", "new", rel), path.join(root, rel))
      }
      const second = await Children.run<FoldResult>(programs.ours, args)
      later.push(second)
      progress(
        `  ${corpus.kind}: +${Report.bytes(m.extra.bytes)}, second run ${second.ms.toFixed(0)} ms (${
          Report.bytes(second.bytes)
        } read, ${second.fromCheckpoint ? "from the checkpoint" : "NOT from the checkpoint"})`
      )
      if (!second.fromCheckpoint) problems.push("a second run did not resume from the checkpoint")
      if (!sameTotals(second.totals, m.extra.totals)) problems.push(`a second run found ${showTotals(second.totals)}`)
      if (second.bytes !== m.extra.bytes) problems.push(`a second run read ${second.bytes} bytes, not ${m.extra.bytes}`)
    }
    return { corpus, firsts, seconds: later, problems }
  } finally {
    fs.rmSync(copy, { recursive: true, force: true })
  }
}

export interface Section {
  readonly rows: ReadonlyArray<Report.Row>
  readonly notes: ReadonlyArray<string>
}

/** A row of ours against the baseline: times in their processes, or (`wall`) from spawn to exit. */
const throughputRow = (
  t: Throughput,
  contender: Exclude<Contender, "baseline">,
  name: string,
  target: number | undefined,
  wall = false
): Report.Row => {
  const time = (samples: ReadonlyArray<Sample>) => median(samples.map((sample) => (wall ? sample.wallMs : sample.ms)))
  const baseline = time(t.runs.baseline)
  const ms = time(t.runs[contender])
  const bytes = t.corpus.manifest.bytes
  const ratio = baseline / ms
  const correct = t.problems.length === 0
  return {
    benchmark: `${name} (${Report.bytes(bytes)}, ${count(t.corpus.manifest.files.length)} files)${
      correct ? "" : " · WRONG TOTALS"
    }`,
    ours: rate(bytes, ms),
    baseline: rate(bytes, baseline),
    ratio,
    target: target === undefined ? "(reference)" : `≥ ${target.toFixed(2)}`,
    pass: !correct ? false : target === undefined ? undefined : ratio >= target
  }
}

const resumedRow = (r: Resumed, name: string): Report.Row => {
  const second = median(r.seconds.map((s) => s.ms))
  const first = median(r.firsts.map((s) => s.ms))
  const ratio = second / first
  const share = (100 * r.corpus.manifest.extra.bytes) / r.corpus.manifest.bytes
  return {
    benchmark: `${name} · 2nd run from checkpoint after +${share.toFixed(1)}% data, ÷ 1st run${
      r.problems.length === 0 ? "" : " · WRONG"
    }`,
    ours: `${second.toFixed(0)} ms`,
    baseline: `${first.toFixed(0)} ms`,
    ratio,
    target: `≤ ${TARGETS.checkpoint.toFixed(2)}`,
    pass: r.problems.length === 0 && ratio <= TARGETS.checkpoint
  }
}

const count = Report.count

const mixNote = (m: Manifest): string => {
  const entries = Object.entries(m.mix).sort((a, b) => b[1].bytes - a[1].bytes)
  return entries.map(([kind, { bytes, lines }]) =>
    `${kind} ${(100 * lines / m.lines).toFixed(1)}% of lines / ${(100 * bytes / m.bytes).toFixed(0)}% of bytes`
  ).join(", ")
}

const corpusNotes = (c: Corpus): Array<string> => {
  const m = c.manifest
  return [
    `  ${m.sessions} sessions in ${m.files.length} files across ${m.projects} projects, ${Report.bytes(m.bytes)}, ${
      count(m.lines)
    } lines (${Report.bytes(m.minLine)} – ${Report.bytes(m.maxLine)}, mean ${count(m.bytes / m.lines)} B; ${
      (100 * m.nonAsciiLines / m.lines).toFixed(0)
    }% with non-ASCII);`,
    `  ${c.generated ? "generated in" : "from the cache (generated in"} ${seconds(m.ms)}${
      c.generated ? "" : ")"
    } at ${c.dir}${m.checkedLines > 0 ? `; ${count(m.checkedLines)} lines checked against lineCodec` : ""}.`,
    `  Mix: ${mixNote(m)}.`,
    `  Totals (every fold must find them): ${showTotals(m.totals)}.`
  ]
}

const runsNote = (t: Throughput): Array<string> => {
  const bytes = t.corpus.manifest.bytes
  const cpu = (c: Contender) => median(t.runs[c].map((r) => r.cpuMs ?? NaN))
  return [
    ...(["baseline", "ours", "ours2"] as const).map((c) =>
      `    ${label[c]}: ${t.runs[c].map((r) => mbPerSecond(bytes, r.ms).toFixed(0)).join(", ")} MB/s in its process (${
        t.runs[c].map((r) => mbPerSecond(bytes, r.wallMs).toFixed(0)).join(", ")
      } spawn to exit); CPU ${t.runs[c].map((r) => ((r.cpuMs ?? NaN) / 1000).toFixed(1)).join(", ")} s; maxRSS ${
        Report.megabytes(Math.max(...t.runs[c].map((r) => r.maxRssKb ?? 0)))
      }`
    ),
    `    ${label.cli}: ${
      t.runs.cli.map((r) => mbPerSecond(bytes, r.wallMs).toFixed(0)).join(", ")
    } MB/s spawn to exit.`,
    `    By CPU time (medians, all threads): the runner costs ${
      (cpu("ours") / cpu("baseline")).toFixed(2)
    }× the baseline's CPU on 1 thread, ${(cpu("ours2") / cpu("baseline")).toFixed(2)}× on 2 workers.`
  ]
}

export const run = async (
  options: { readonly scale: number; readonly work: string; readonly progress: (line: string) => void }
): Promise<Section> => {
  const { progress, work } = options
  const started = performance.now()
  const loadBefore = os.loadavg()[0]!
  const megabytes = corpusMegabytes(options.scale)
  const out = path.join(work, "programs")
  const [generate, ours, baseline, worker] = await Promise.all(
    ["projectionGenerate", "projectionOurs", "projectionBaseline", "projectionWorker"].map((entry) =>
      bundle(entry, out)
    )
  )
  const programs: Programs = { generate: generate!, ours: ours!, baseline: baseline!, worker: worker! }
  const cli = buildCli(out, work)
  // Once on nothing, so that V8's code cache of the bundle is written before the measured runs.
  await runCli(cli, undefined)

  progress(`projections: two corpora of ${megabytes} MB (cached in ${cacheRoot})`)
  const generating = performance.now()
  const [weft, claudeCode] = await Promise.all([
    ensureCorpus(programs, "weft", megabytes, progress),
    ensureCorpus(programs, "claude-code", megabytes, progress)
  ])
  const generationMs = performance.now() - generating

  const measured: Array<{ readonly t: Throughput; readonly r: Resumed }> = []
  for (const corpus of [weft!, claudeCode!]) {
    progress(`projections: ${corpus.kind}, ${ROUNDS} rounds of the baseline, the runner and weft usage`)
    warm(corpus)
    const t = await throughput(programs, cli, corpus, progress)
    progress(`projections: ${corpus.kind}, checkpoint`)
    const r = await resumed(programs, corpus, work, progress)
    measured.push({ t, r })
  }
  const [w, c] = measured
  const rows = [
    throughputRow(w!.t, "ours", "usage · weft · runner, 1 thread", TARGETS.weft),
    throughputRow(w!.t, "ours2", "usage · weft · runner, 2 workers", TARGETS.weftWorkers),
    throughputRow(w!.t, "cli", "usage · weft · `weft usage --json`, spawn to exit", undefined, true),
    resumedRow(w!.r, "usage · weft"),
    throughputRow(
      c!.t,
      "cli",
      "usage · claude-code · `weft usage --source claude-code --json`, spawn to exit",
      TARGETS.claudeCode,
      true
    ),
    throughputRow(c!.t, "ours", "usage · claude-code · runner, 1 thread", undefined),
    throughputRow(c!.t, "ours2", "usage · claude-code · runner, 2 workers", undefined),
    resumedRow(c!.r, "usage · claude-code")
  ]
  const problems = [...w!.t.problems, ...w!.r.problems, ...c!.t.problems, ...c!.r.problems]
  const notes = [
    `projections: the built-in usage projection through ProjectionRunner.run (no checkpoint; time inside its process,`,
    `  from listing the files to the state), and \`weft usage --json --rebuild\` (the CLI bundled by build.mjs, spawn`,
    `  to exit: start-up, fold, checkpoint, report), against a plain Node fold of the same files: 1 MiB reads, UTF-8`,
    `  decoding, JSON.parse of every line, the same deduplication (time inside its process, or spawn to exit against`,
    `  the CLI). Each run in its own process, ${ROUNDS} rounds taking turns after one read of every file; medians.`,
    `weft corpus (sessions from Workload.ts, each started on its own day; every line lineCodec's):`,
    ...corpusNotes(weft!),
    ...runsNote(w!.t),
    `claude-code corpus (ClaudeCodeWorkload.ts: responses streamed as 2–4 lines with growing output_tokens; a quarter`,
    `  of the sessions with subagent transcripts); the runner reads claudeCodeSource(dir) leniently, as weft usage does:`,
    ...corpusNotes(claudeCode!),
    ...runsNote(c!.t),
    `checkpoint: ProjectionRunner.run on one thread with its checkpoint, on a copy of each corpus (hard links, copies of`,
    `  the files that grow): ${FIRST_ROUNDS} first runs each write the checkpoint; then lines continuing ${
      w!.r.corpus.manifest.extra.appended.length
    } / ${c!.r.corpus.manifest.extra.appended.length} sessions and two new`,
    `  sessions (weft / claude-code: ${Report.bytes(w!.r.corpus.manifest.extra.bytes)} / ${
      Report.bytes(c!.r.corpus.manifest.extra.bytes)
    }) and a second run, ${CHECKPOINT_ROUNDS} times (data cut back, checkpoint restored); second runs:`,
    `  weft ${w!.r.seconds.map((s) => `${s.ms.toFixed(0)}`).join(", ")} ms after first runs of ${
      w!.r.firsts.map((s) => s.ms.toFixed(0)).join(", ")
    } ms; claude-code ${c!.r.seconds.map((s) => `${s.ms.toFixed(0)}`).join(", ")} ms after ${
      c!.r.firsts.map((s) => s.ms.toFixed(0)).join(", ")
    } ms (medians compared).`,
    ...(problems.length === 0
      ? [`  Every run found the generator's totals.`]
      : ["  WRONG RESULTS:", ...problems.map((p) => `    ${p}`)]),
    `  Corpora ${weft!.generated || claudeCode!.generated ? "generated" : "found"} in ${
      seconds(generationMs)
    } (both at once); section total ${seconds(performance.now() - started)}; load average ${
      loadBefore.toFixed(1)
    } before, ${os.loadavg()[0]!.toFixed(1)} after, on ${os.availableParallelism()} cores.`
  ]
  return { rows, notes }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "weft-bench-projections-"))
  const scale = Number(process.env["WEFT_BENCH_SCALE"] ?? "1")
  const progress = (line: string) => process.stderr.write(line + "\n")
  run({ scale: scale > 0 ? scale : 1, work, progress }).then(
    (section) => {
      fs.rmSync(work, { recursive: true, force: true })
      process.stdout.write(Report.table(section.rows) + "\n\n" + section.notes.join("\n") + "\n")
      process.exitCode = section.rows.every((row) => row.pass !== false) ? 0 : 1
    },
    (error) => {
      fs.rmSync(work, { recursive: true, force: true })
      process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
      process.exitCode = 1
    }
  )
}
