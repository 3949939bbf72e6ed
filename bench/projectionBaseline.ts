/**
 * The projection benchmark's baseline, alone in its process: the `usage` fold as plain Node
 * would write it — list the session files, read each in 1 MiB chunks (the runner's chunk
 * size), decode them as UTF-8, split lines and `JSON.parse` every one of them, then keep the
 * usage of each response (deduplicated as the `usage` projection does, see `makeTally`).
 *
 * weft: every `<home>/projects/<project>/<session>.jsonl` (a project folder holds a
 * `project.json`), the usage of `ModelResponded` and `ContextCompacted`. Claude Code: every
 * `*.jsonl` under `<dir>/projects/`, the usage of every line with `message.usage`.
 *
 * Run as a bundle (see `Bundle.ts`): node projectionBaseline.mjs '<FoldArgs JSON>'
 * Prints one JSON `FoldResult` line on stdout.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { FoldArgs, FoldResult } from "./ProjectionProtocol.js"
import { cpuMsSince, makeTally } from "./ProjectionProtocol.js"

const args = JSON.parse(process.argv[2]!) as FoldArgs

const CHUNK_SIZE = 1 << 20
const NEWLINE = 0x0a

const sorted = (names: Array<string>) => names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))

const weftFiles = (home: string): Array<string> => {
  const root = path.join(home, "projects")
  return sorted(fs.readdirSync(root)).flatMap((name) => {
    const dir = path.join(root, name)
    if (!fs.existsSync(path.join(dir, "project.json"))) return []
    return sorted(fs.readdirSync(dir)).filter((file) => file.endsWith(".jsonl")).map((file) => path.join(dir, file))
  })
}

const claudeFiles = (dir: string): Array<string> => {
  const out: Array<string> = []
  const walk = (at: string) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.isFile() && entry.name.endsWith(".jsonl")) out.push(full)
    }
  }
  walk(path.join(dir, "projects"))
  return sorted(out)
}

const tally = makeTally()
let lines = 0

type OnLine = (value: any, file: string, lineNo: number) => void

const weftLine: OnLine = (v) => {
  const e = v.event
  const tag = e._tag
  if (tag === "ModelResponded") {
    const key = e.messageId === undefined || e.messageId === ""
      ? `\u0000${v.sessionId}\u0000${v.seq}\u0000${v.id}`
      : e.requestId === ""
      ? e.messageId
      : `${e.messageId}:${e.requestId}`
    const u = e.usage
    tally.add(
      key,
      v.at,
      e.model,
      v.sessionId,
      v.agentId,
      u.input_tokens,
      u.output_tokens,
      u.cache_creation_input_tokens,
      u.cache_read_input_tokens
    )
  } else if (tag === "ContextCompacted") {
    const u = e.usage
    tally.add(
      `\u0000${v.sessionId}\u0000${v.seq}\u0000${v.id}`,
      v.at,
      e.model ?? "",
      v.sessionId,
      v.agentId,
      u.input_tokens,
      u.output_tokens,
      u.cache_creation_input_tokens,
      u.cache_read_input_tokens
    )
  }
}

const claudeLine: OnLine = (v, file, lineNo) => {
  const m = v === null || typeof v !== "object" ? undefined : v.message
  if (m === null || typeof m !== "object") return
  const u = m.usage
  if (
    u === null || typeof u !== "object" || typeof u.input_tokens !== "number" || typeof u.output_tokens !== "number"
  ) {
    return
  }
  const key = typeof m.id !== "string" || m.id === ""
    ? `\u0000${file}\u0000${lineNo}`
    : typeof v.requestId === "string" && v.requestId !== ""
    ? `${m.id}:${v.requestId}`
    : m.id
  tally.add(
    key,
    v.timestamp,
    m.model ?? "",
    v.sessionId ?? path.basename(file, ".jsonl"),
    v.isSidechain === true ? `main/${v.agentId ?? 1}` : "main",
    u.input_tokens,
    u.output_tokens,
    u.cache_creation_input_tokens ?? 0,
    u.cache_read_input_tokens ?? 0
  )
}

const foldFile = (file: string, onLine: OnLine, buffer: Buffer): { bytes: number; buffer: Buffer } => {
  const fd = fs.openSync(file, "r")
  let bytes = 0
  let carry = 0
  let lineNo = 0
  const parseLines = (text: string) => {
    let start = 0
    for (let nl = text.indexOf("\n", start); nl !== -1; nl = text.indexOf("\n", start)) {
      lineNo++
      lines++
      onLine(JSON.parse(text.slice(start, nl)), file, lineNo)
      start = nl + 1
    }
    if (start < text.length) {
      lineNo++
      lines++
      onLine(JSON.parse(text.slice(start)), file, lineNo)
    }
  }
  try {
    for (;;) {
      const n = fs.readSync(fd, buffer, carry, buffer.length - carry, null)
      bytes += n
      const length = carry + n
      if (n === 0) {
        if (carry > 0) parseLines(buffer.toString("utf8", 0, carry))
        break
      }
      const last = buffer.lastIndexOf(NEWLINE, length - 1)
      if (last < 0) {
        // A line longer than the buffer.
        const bigger = Buffer.allocUnsafe(buffer.length * 2)
        buffer.copy(bigger, 0, 0, length)
        buffer = bigger
        carry = length
        continue
      }
      parseLines(buffer.toString("utf8", 0, last + 1))
      buffer.copy(buffer, 0, last + 1, length)
      carry = length - last - 1
    }
  } finally {
    fs.closeSync(fd)
  }
  return { bytes, buffer }
}

const cpu = process.cpuUsage()
const started = performance.now()
const files = args.kind === "weft" ? weftFiles(args.root) : claudeFiles(args.root)
const onLine = args.kind === "weft" ? weftLine : claudeLine
let buffer: Buffer = Buffer.allocUnsafe(CHUNK_SIZE)
let bytes = 0
for (const file of files) {
  const read = foldFile(file, onLine, buffer)
  buffer = read.buffer
  bytes += read.bytes
}
const totals = tally.totals()
const ms = performance.now() - started
const cpuMs = cpuMsSince(cpu)

const result: FoldResult = {
  ms,
  cpuMs,
  bytes,
  files: files.length,
  events: lines,
  totals,
  fromCheckpoint: false,
  skippedLines: 0,
  maxRssKb: process.resourceUsage().maxRSS
}
process.stdout.write(JSON.stringify(result) + "\n")
