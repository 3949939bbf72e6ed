/**
 * What `bench/index.ts` and its child processes say to each other: arguments as one JSON
 * argv, results as one JSON line on stdout, progress on stderr.
 *
 * Node built-ins only, so that the parent and the baseline programs stay free of effect and weft.
 */
import * as fs from "node:fs"

export type Durability = "fsync" | "none"

export type AppendShape =
  | { readonly kind: "batch"; readonly size: number }
  | { readonly kind: "concurrent"; readonly fibers: number }

export interface AppendChildArgs {
  readonly role: "ours" | "baseline"
  readonly dir: string
  readonly durability: Durability
  readonly shape: AppendShape
  /** How many events to build (besides `SessionStarted`). */
  readonly count: number
  readonly seed: number
}

export type AppendRequest =
  | { readonly type: "ready" }
  /**
   * Append events [from, to). The baseline gets the order the log wrote them in and the
   * line count of each of its writes.
   */
  | {
    readonly type: "round"
    readonly from: number
    readonly to: number
    readonly order?: ReadonlyArray<number>
    readonly batches?: ReadonlyArray<number>
  }
  | { readonly type: "close" }

export type AppendReply =
  | { readonly type: "ready" }
  | {
    readonly type: "round"
    readonly ms: number
    readonly order?: ReadonlyArray<number>
    readonly batches?: ReadonlyArray<number>
  }
  | { readonly type: "closed"; readonly file: string; readonly maxRssKb: number }

export interface Throughput {
  events: number
  ms: number
  /** Writes (each followed by one fsync under durability `fsync`). */
  writes: number
}

export interface FileCheck {
  readonly oursLines: number
  readonly baselineLines: number
  /** Whether the files are the same line for line once each envelope's `id` and `at` are masked. */
  readonly identicalMasked: boolean
  /** The first line (1-based) where they differ, if any. */
  readonly firstDifference: number | null
}

export interface GenerateArgs {
  /** The WEFT_HOME to write the session into. */
  readonly home: string
  readonly project: string
  readonly sessionId: string
  readonly events: number
  readonly seed: number
  /** Every `sampleEvery`-th line is decoded and re-encoded with `lineCodec`, and must come back byte for byte. */
  readonly sampleEvery: number
}

export interface GenerateResult {
  readonly file: string
  readonly lines: number
  readonly bytes: number
  readonly minLine: number
  readonly maxLine: number
  readonly sampled: number
  readonly tags: Readonly<Record<string, number>>
  readonly ms: number
}

export type Reader = "ours" | "baseline"

export interface ReadArgs {
  readonly home: string
  readonly sessionId: string
  /** The session file (the baseline reads it directly). */
  readonly file: string
  readonly chunkSize: number
}

export const readResult = (
  reader: Reader,
  lines: number,
  lastSeq: number,
  ms: number,
  rssAtStartKb: number
): ReadResult => ({ reader, lines, lastSeq, ms, maxRssKb: process.resourceUsage().maxRSS, rssAtStartKb })

export interface ReadResult {
  readonly reader: Reader
  readonly lines: number
  readonly lastSeq: number
  readonly ms: number
  /** `process.resourceUsage().maxRSS`, in KB. */
  readonly maxRssKb: number
  /** RSS once the reader's modules were loaded, before it read anything, in KB. */
  readonly rssAtStartKb: number
}

export const progress = (line: string): void => {
  process.stderr.write(line + "\n")
}

const ENVELOPE_ID = /^(\{"seq":\d+,"id":")[^"]*/
const ENVELOPE_AT = /("agentId":"[^"]*","at":")[^"]*/

/** A line with its envelope's `id` and `at` blanked: what two writers of the same events must agree on. */
export const maskLine = (line: string): string => line.replace(ENVELOPE_ID, "$1").replace(ENVELOPE_AT, "$1")

/** Reads a file's lines (each without its newline) in chunks, without holding the file in memory. */
export function* lines(file: string, chunkSize = 1 << 20): Generator<string> {
  const fd = fs.openSync(file, "r")
  try {
    const buffer = Buffer.alloc(chunkSize)
    const decoder = new TextDecoder()
    let rest = ""
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, chunkSize, null)
      if (n === 0) break
      const text = rest + decoder.decode(buffer.subarray(0, n), { stream: true })
      let start = 0
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
        yield text.slice(start, nl)
        start = nl + 1
      }
      rest = text.slice(start)
    }
    rest += decoder.decode()
    if (rest.length > 0) yield rest
  } finally {
    fs.closeSync(fd)
  }
}

export const compareMasked = (ours: string, baseline: string): FileCheck => {
  const a = lines(ours)
  const b = lines(baseline)
  let oursLines = 0
  let baselineLines = 0
  let firstDifference: number | null = null
  for (;;) {
    const x = a.next()
    const y = b.next()
    if (!x.done) oursLines++
    if (!y.done) baselineLines++
    if (x.done && y.done) break
    if (firstDifference === null && (x.done || y.done || maskLine(x.value) !== maskLine(y.value))) {
      firstDifference = Math.max(oursLines, baselineLines)
    }
  }
  return { oursLines, baselineLines, identicalMasked: firstDifference === null, firstDifference }
}
