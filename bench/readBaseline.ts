/**
 * The read benchmark's baseline, alone in its process: what a hand-written reader does —
 * `fs.createReadStream` with the same chunk size as ours, UTF-8 decoding, splitting lines and
 * `JSON.parse` of each, with no validation at all.
 *
 * Run as a bundle (see `Bundle.ts`): node readBaseline.mjs '<ReadArgs JSON>'
 * Prints one JSON `ReadResult` line on stdout.
 */
import * as fs from "node:fs"
import type { ReadArgs } from "./Protocol.js"
import { readResult } from "./Protocol.js"

const args = JSON.parse(process.argv[2]!) as ReadArgs

const read = async () => {
  const rssAtStartKb = Math.round(process.memoryUsage.rss() / 1024)
  let lines = 0
  let last: { readonly seq: number } | undefined
  const started = performance.now()
  let rest = ""
  for await (const chunk of fs.createReadStream(args.file, { highWaterMark: args.chunkSize, encoding: "utf8" })) {
    const text = rest + (chunk as string)
    let start = 0
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
      last = JSON.parse(text.slice(start, nl))
      lines++
      start = nl + 1
    }
    rest = text.slice(start)
  }
  const ms = performance.now() - started
  process.stdout.write(JSON.stringify(readResult("baseline", lines, last?.seq ?? 0, ms, rssAtStartKb)) + "\n")
}

void read()
