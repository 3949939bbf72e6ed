/**
 * Writes a corpus for the projection benchmark, deterministically from a seed: about `bytes`
 * of session files, plus `extra/` — what the checkpoint benchmark adds afterwards, about 1% more:
 * lines that continue every eighth session (`extra/append/<file>`, 0.8%) and two new sessions
 * (`extra/new/<file>`, 0.2%) — and `manifest.json` with what was written and the usage totals
 * every fold of it must find (without and with the extra data).
 *
 * - weft: a WEFT_HOME (`home/projects/<encoded project>/{project.json, <session id>.jsonl}`) of
 *   sessions across four projects, each a realistic agent session (`Workload.ts`) whose size is
 *   drawn log-uniformly between 30 KB and 15 MB, started on a day of its own. Every line is
 *   decoded with the kernel's `lineCodec` and encoded again, and must come back byte for byte:
 *   the lines are what weft writes.
 * - claude-code: a Claude Code config dir (`claude/projects/<encoded cwd>/<session>.jsonl`, a
 *   quarter of the sessions with one or two subagent transcripts in `<session>/subagents/`) of
 *   conversations from `ClaudeCodeWorkload.ts`, sized the same way.
 *
 * The corpus is written beside `dir` and renamed into place once complete.
 *
 * Run as a bundle (see `Bundle.ts`): node projectionGenerate.mjs '<GenerateCorpusArgs JSON>'
 * Prints the `Manifest` as one JSON line on stdout.
 */
import { lineCodec } from "@weft/kernel/EventCodec"
import { uuidv7 } from "@weft/kernel/Ids"
import { encodeProjectPath, PROJECT_FILE, SESSION_SUFFIX } from "@weft/store/Layout"
import { Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { makeConversation } from "./ClaudeCodeWorkload.js"
import type { GenerateCorpusArgs, Manifest, Totals } from "./ProjectionProtocol.js"
import { makeTally, MANIFEST } from "./ProjectionProtocol.js"
import { progress } from "./Protocol.js"
import type { Generated } from "./Workload.js"
import { envelopeLine, makeRandom, makeSession, utf8Length } from "./Workload.js"

const args = JSON.parse(process.argv[2]!) as GenerateCorpusArgs
const started = performance.now()
const partial = `${args.dir}.partial-${process.pid}`
fs.rmSync(partial, { recursive: true, force: true })
const rootName = args.kind === "weft" ? "home" : "claude"
const root = path.join(partial, rootName)
const random = makeRandom(args.seed)

const DAY = 86_400_000
/** The first day a session may start on. */
const FIRST_DAY = Date.UTC(2026, 8, 1)
/** Where `Workload.makeSession`'s clock starts: its times are moved to each session's own start. */
const WORKLOAD_START = Date.UTC(2026, 10, 21, 9, 0, 0)
const MIN_SESSION = 30_000
const MAX_SESSION = 15_000_000

const projects = [
  { path: "/home/dev/src/weft", weight: 5 },
  { path: "/home/dev/work/billing-api", weight: 3 },
  { path: "/home/dev/src/website", weight: 2 },
  { path: "/home/dev/notes", weight: 1 }
]
const pickProject = () => {
  let r = random.next() * projects.reduce((n, p) => n + p.weight, 0)
  for (const project of projects) if ((r -= project.weight) < 0) return project.path
  return projects[0]!.path
}
const sessionStart = () => FIRST_DAY + random.int(0, 80) * DAY + random.int(7 * 3_600_000, 22 * 3_600_000)

// --- writing and counting ---------------------------------------------------------------------

interface Stats {
  bytes: number
  lines: number
  minLine: number
  maxLine: number
  nonAsciiLines: number
  readonly mix: Record<string, { lines: number; bytes: number }>
}
const stats: Stats = { bytes: 0, lines: 0, minLine: Infinity, maxLine: 0, nonAsciiLines: 0, mix: {} }
const tally = makeTally()
const files: Array<string> = []

/** A file under `root` (or under `extra/…` for the extra data), written in large writes, synced when closed. */
const openFile = (dir: string, rel: string, counted: boolean) => {
  const file = path.join(dir, rel)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const fd = fs.openSync(file, "w")
  let parts: Array<string> = []
  let size = 0
  let bytes = 0
  let lines = 0
  const flush = () => {
    if (parts.length > 0) fs.writeSync(fd, parts.join("\n") + "\n")
    parts = []
    size = 0
  }
  return {
    write: (line: string, kind: string) => {
      parts.push(line)
      size += line.length
      if (size > 8 << 20) flush()
      const n = utf8Length(line)
      bytes += n + 1
      lines++
      if (!counted) return
      stats.bytes += n + 1
      stats.lines++
      if (n < stats.minLine) stats.minLine = n
      if (n > stats.maxLine) stats.maxLine = n
      if (n !== line.length) stats.nonAsciiLines++
      const mix = (stats.mix[kind] ??= { lines: 0, bytes: 0 })
      mix.lines++
      mix.bytes += n + 1
    },
    /** Bytes written so far. */
    bytes: () => bytes,
    lines: () => lines,
    close: () => {
      flush()
      // On disk before anyone reads it, so that its write-back does not land in a measurement.
      fs.fsyncSync(fd)
      fs.closeSync(fd)
    }
  }
}

// --- weft -------------------------------------------------------------------------------------

let checkedLines = 0

/** The line weft writes for a generated event: `envelopeLine`, checked against `lineCodec` both ways. */
const weftLine = (sessionJson: string, seq: number, g: Generated): string => {
  const line = envelopeLine(sessionJson, seq, g)
  const again = Either.flatMap(lineCodec.decode(line), lineCodec.encode)
  if (Either.isLeft(again) || again.right !== line) {
    process.stderr.write(
      `projectionGenerate: a line is not what lineCodec writes:\n${line.slice(0, 400)}\n` +
        `${Either.isLeft(again) ? again.left : again.right.slice(0, 400)}\n`
    )
    process.exit(1)
  }
  checkedLines++
  return again.right
}

const countWeftUsage = (sessionId: string, seq: number, g: Generated) => {
  const event = g.event as any
  if (event._tag === "ModelResponded") {
    const u = event.usage
    tally.add(
      `${event.messageId}:${event.requestId}`,
      g.at,
      event.model,
      sessionId,
      g.agentId,
      u.input_tokens,
      u.output_tokens,
      u.cache_creation_input_tokens,
      u.cache_read_input_tokens
    )
  } else if (event._tag === "ContextCompacted") {
    const u = event.usage
    tally.add(
      `\u0000${sessionId}\u0000${seq}\u0000${g.id}`,
      g.at,
      event.model ?? "",
      sessionId,
      g.agentId,
      u.input_tokens,
      u.output_tokens,
      u.cache_creation_input_tokens,
      u.cache_read_input_tokens
    )
  }
}

interface Written {
  readonly rel: string
  readonly sessionId: string
  readonly project: string
  readonly lastSeq: number
  readonly lastMillis: number
}

/**
 * Writes `budget` bytes of a weft session into `dir/rel`: a new session from `seq` 1, or, from
 * `from`, more of a session already written (a fresh generator's events after its `SessionStarted`).
 */
const weftSession = (
  dir: string,
  rel: string,
  counted: boolean,
  budget: number,
  seed: number,
  session: { readonly sessionId: string; readonly project: string; readonly startMillis: number },
  from?: { readonly lastSeq: number }
): Written => {
  const out = openFile(dir, rel, counted)
  const generator = makeSession({ seed, sessionId: session.sessionId, project: session.project })
  const sessionJson = JSON.stringify(session.sessionId)
  const shift = session.startMillis - WORKLOAD_START
  let seq = from?.lastSeq ?? 0
  if (from !== undefined) generator.next()
  let lastMillis = session.startMillis
  while (out.bytes() < budget) {
    const g = generator.next()
    lastMillis = Date.parse(g.at) + shift
    const shifted: Generated = { ...g, at: new Date(lastMillis).toISOString() }
    seq++
    out.write(weftLine(sessionJson, seq, shifted), g.event["_tag"] as string)
    countWeftUsage(session.sessionId, seq, shifted)
  }
  out.close()
  return { rel, sessionId: session.sessionId, project: session.project, lastSeq: seq, lastMillis }
}

const generateWeft = () => {
  for (const project of projects) {
    const dir = path.join(root, "projects", encodeProjectPath(project.path))
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, PROJECT_FILE), JSON.stringify({ path: project.path }) + "\n")
  }
  const sessions: Array<Written> = []
  const newSession = (project: string, startMillis: number) => {
    const sessionId = uuidv7(startMillis, sessions.length & 0xfff, random.bytes(8))
    return {
      sessionId,
      project,
      startMillis,
      rel: path.join("projects", encodeProjectPath(project), sessionId + SESSION_SUFFIX)
    }
  }
  while (stats.bytes < args.bytes) {
    const session = newSession(pickProject(), sessionStart())
    const budget = Math.min(random.logUniform(MIN_SESSION, MAX_SESSION), args.bytes - stats.bytes)
    sessions.push(weftSession(root, session.rel, true, budget, random.int(1, 2 ** 31), session))
    files.push(session.rel)
    if (sessions.length % 10 === 0) {
      progress(`  weft: ${sessions.length} sessions, ${(stats.bytes / 1e6).toFixed(0)} MB`)
    }
  }
  const base = tally.totals()
  const extra = path.join(partial, "extra")
  const appendTo = sessions.filter((_, i) => i % 8 === 3 || sessions.length <= 3)
  const appended = appendTo.map((s) => {
    const budget = (0.008 * stats.bytes) / appendTo.length
    weftSession(path.join(extra, "append"), s.rel, false, budget, random.int(1, 2 ** 31), {
      sessionId: s.sessionId,
      project: s.project,
      startMillis: s.lastMillis + 60_000
    }, s)
    return s.rel
  })
  const created = [0, 1].map((i) => {
    const session = newSession(projects[i]!.path, FIRST_DAY + 81 * DAY + i * 3_600_000)
    weftSession(path.join(extra, "new"), session.rel, false, 0.001 * stats.bytes, random.int(1, 2 ** 31), session)
    return session.rel
  })
  return { base, appended, created, sessions: sessions.length }
}

// --- Claude Code --------------------------------------------------------------------------------

const HEX = "0123456789abcdef"
const hex = (n: number) => Array.from({ length: n }, () => HEX[random.int(0, 15)]).join("")
const uuidV4 = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${"89ab"[random.int(0, 3)]}${hex(3)}-${hex(12)}`
const versions = ["2.0.8", "2.0.14", "2.0.21", "2.0.27"]

interface Conversation {
  readonly sessionId: string
  readonly cwd: string
  readonly startMillis: number
  readonly version: string
  readonly agentId?: string
  readonly summaries?: boolean
}

/** Writes `budget` bytes of a conversation into `dir/rel`; returns the time of its last line. */
const claudeFile = (dir: string, rel: string, counted: boolean, budget: number, conversation: Conversation) => {
  const out = openFile(dir, rel, counted)
  const lines = makeConversation({ ...conversation, seed: random.int(1, 2 ** 31), gitBranch: "main" })
  let last = conversation.startMillis
  while (out.bytes() < budget) {
    const line = lines.next()
    out.write(line.line, line.kind)
    const u = line.usage
    if (u !== undefined) {
      tally.add(u.key, u.at, u.model, u.sessionId, u.agentId, u.input, u.output, u.cacheWrite, u.cacheRead)
      last = Date.parse(u.at)
    }
  }
  out.close()
  return last
}

const generateClaudeCode = () => {
  const sessions: Array<Conversation & { readonly rel: string; lastMillis: number }> = []
  while (stats.bytes < args.bytes) {
    const cwd = pickProject()
    const folder = path.join("projects", encodeProjectPath(cwd))
    const conversation = { sessionId: uuidV4(), cwd, startMillis: sessionStart(), version: random.pick(versions) }
    const budget = Math.min(random.logUniform(MIN_SESSION, MAX_SESSION), args.bytes - stats.bytes)
    const subagents = random.chance(0.25) ? random.int(1, 2) : 0
    const rel = path.join(folder, conversation.sessionId + ".jsonl")
    const lastMillis = claudeFile(root, rel, true, budget, { ...conversation, summaries: true })
    files.push(rel)
    sessions.push({ ...conversation, rel, lastMillis })
    for (let i = 0; i < subagents && stats.bytes < args.bytes; i++) {
      const agentId = hex(8)
      const sub = path.join(folder, conversation.sessionId, "subagents", `agent-${agentId}.jsonl`)
      const subBudget = Math.min(budget * (0.1 + 0.2 * random.next()), args.bytes - stats.bytes)
      claudeFile(root, sub, true, subBudget, {
        ...conversation,
        startMillis: conversation.startMillis + 60_000,
        agentId
      })
      files.push(sub)
    }
    if (sessions.length % 10 === 0) {
      progress(`  claude-code: ${sessions.length} sessions, ${(stats.bytes / 1e6).toFixed(0)} MB`)
    }
  }
  const base = tally.totals()
  const extra = path.join(partial, "extra")
  const appendTo = sessions.filter((_, i) => i % 8 === 3 || sessions.length <= 3)
  const appended = appendTo.map((s) => {
    const budget = (0.008 * stats.bytes) / appendTo.length
    claudeFile(path.join(extra, "append"), s.rel, false, budget, {
      sessionId: s.sessionId,
      cwd: s.cwd,
      version: s.version,
      startMillis: s.lastMillis + 60_000
    })
    return s.rel
  })
  const created = [0, 1].map((i) => {
    const cwd = projects[i]!.path
    const sessionId = uuidV4()
    const rel = path.join("projects", encodeProjectPath(cwd), sessionId + ".jsonl")
    claudeFile(path.join(extra, "new"), rel, false, 0.001 * stats.bytes, {
      sessionId,
      cwd,
      version: versions[versions.length - 1]!,
      startMillis: FIRST_DAY + 81 * DAY + i * 3_600_000
    })
    return rel
  })
  return { base, appended, created, sessions: sessions.length }
}

// --- the manifest -------------------------------------------------------------------------------

const generated: { base: Totals; appended: Array<string>; created: Array<string>; sessions: number } =
  args.kind === "weft" ? generateWeft() : generateClaudeCode()

const extraBytes = (sub: string, rels: ReadonlyArray<string>) => {
  let bytes = 0
  let lines = 0
  for (const rel of rels) {
    const text = fs.readFileSync(path.join(partial, "extra", sub, rel))
    bytes += text.length
    for (let i = text.indexOf(0x0a); i !== -1; i = text.indexOf(0x0a, i + 1)) lines++
  }
  return { bytes, lines }
}
const appendedSize = extraBytes("append", generated.appended)
const createdSize = extraBytes("new", generated.created)

const manifest: Manifest = {
  version: args.version,
  kind: args.kind,
  root: rootName,
  files,
  bytes: stats.bytes,
  lines: stats.lines,
  sessions: generated.sessions,
  projects: projects.length,
  minLine: stats.minLine,
  maxLine: stats.maxLine,
  nonAsciiLines: stats.nonAsciiLines,
  mix: stats.mix,
  totals: generated.base,
  extra: {
    appended: generated.appended,
    created: generated.created,
    bytes: appendedSize.bytes + createdSize.bytes,
    lines: appendedSize.lines + createdSize.lines,
    totals: tally.totals()
  },
  ms: performance.now() - started,
  checkedLines
}
fs.writeFileSync(path.join(partial, MANIFEST), JSON.stringify(manifest) + "\n")
if (fs.existsSync(args.dir)) fs.rmSync(partial, { recursive: true, force: true })
else fs.renameSync(partial, args.dir)
process.stdout.write(JSON.stringify(manifest) + "\n")
