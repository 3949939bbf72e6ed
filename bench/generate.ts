/**
 * Writes the session the read benchmark reads: `events` lines of a realistic agent session
 * (see `Workload.ts`) into `<home>/projects/<encoded project>/<sessionId>.jsonl`, next to the
 * `project.json` the store expects.
 *
 * Lines are written directly, one `JSON.stringify` of the encoded envelope each (the keys in
 * Schema order), which is what `lineCodec.encode` writes: every `sampleEvery`-th line is
 * decoded with `lineCodec` and encoded again, and must come back byte for byte.
 *
 * Run as a bundle (see `Bundle.ts`): node generate.mjs '<GenerateArgs JSON>'
 * Prints one JSON `GenerateResult` line on stdout.
 */
import { lineCodec } from "@weft/kernel/EventCodec"
import { encodeProjectPath, PROJECT_FILE, SESSION_SUFFIX } from "@weft/store/Layout"
import { Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { GenerateArgs, GenerateResult } from "./Protocol.js"
import { progress } from "./Protocol.js"
import { envelopeLine, makeSession } from "./Workload.js"

const args = JSON.parse(process.argv[2]!) as GenerateArgs

const started = performance.now()
const dir = path.join(args.home, "projects", encodeProjectPath(args.project))
fs.mkdirSync(dir, { recursive: true })
fs.writeFileSync(path.join(dir, PROJECT_FILE), JSON.stringify({ path: args.project }) + "\n")
const file = path.join(dir, args.sessionId + SESSION_SUFFIX)
const fd = fs.openSync(file, "w")

const session = makeSession({ seed: args.seed, sessionId: args.sessionId, project: args.project })
const sessionJson = JSON.stringify(args.sessionId)
const tags: Record<string, number> = {}
let bytes = 0
let minLine = Infinity
let maxLine = 0
let sampled = 0
const buffer = Buffer.allocUnsafe(16 << 20)
let used = 0

const flush = () => {
  fs.writeSync(fd, buffer, 0, used)
  used = 0
}

for (let seq = 1; seq <= args.events; seq++) {
  const generated = session.next()
  const line = envelopeLine(sessionJson, seq, generated)
  if (used + 3 * line.length + 1 > buffer.length) flush()
  const size = buffer.write(line, used)
  buffer[used + size] = 0x0a
  used += size + 1
  if (size < minLine) minLine = size
  if (size > maxLine) maxLine = size
  bytes += size + 1
  const tag = generated.event["_tag"] as string
  tags[tag] = (tags[tag] ?? 0) + 1
  if (seq % args.sampleEvery === 0 || seq <= 100) {
    const again = Either.flatMap(lineCodec.decode(line), lineCodec.encode)
    if (Either.isLeft(again) || again.right !== line) {
      process.stderr.write(
        `generate: line ${seq} is not what lineCodec writes:\n${line.slice(0, 400)}\n` +
          `${Either.isLeft(again) ? again.left : again.right.slice(0, 400)}\n`
      )
      process.exit(1)
    }
    sampled++
  }
  if (seq % 200_000 === 0) progress(`  generated ${seq.toLocaleString("en-US")} events`)
}
flush()
// On disk before anyone reads it, so that its write-back does not land in a measurement.
fs.fsyncSync(fd)
fs.closeSync(fd)

const result: GenerateResult = {
  file,
  lines: args.events,
  bytes,
  minLine,
  maxLine,
  sampled,
  tags,
  ms: performance.now() - started
}
process.stdout.write(JSON.stringify(result) + "\n")
