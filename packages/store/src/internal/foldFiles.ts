/**
 * The inner loop of the projection runner, shared by the main thread and the worker threads:
 * plain code over `node:fs`, no Effect per line.
 *
 * A file is read in large chunks from a byte offset up to an end fixed beforehand. Each chunk is
 * cut after its last newline (what follows is read again with the next chunk), copied into one
 * Latin-1 string (a byte per character: no UTF-8 decoding, and string indexes are byte offsets)
 * and split at newlines with `indexOf`. The reader's `mayHold` looks at that raw line; only a
 * line it keeps is decoded as UTF-8 (copied as Latin-1 for a `latin1` reader) and handed to
 * `decode`. The bytes after the last newline before the end are a torn tail: not folded, and the
 * cursor stays before them until they are completed.
 *
 * A line that does not decode is held back until the next line shows it is in the middle of the
 * file (then it is corruption: a failure, or skipped and counted when lenient). A bad last line
 * is treated as torn: the cursor stays before it, as a writer would cut it away.
 */
import type { Envelope } from "@weft/kernel/Envelope"
import { Either } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"

/** Bytes per read. */
export const CHUNK_SIZE = 1 << 20

const NEWLINE = 0x0a
/** The UTF-8 byte order mark, read as Latin-1: dropped at the start of a file. */
const BOM_LATIN1 = "\u00ef\u00bb\u00bf"
const hasBom = (buffer: Buffer): boolean => buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf
const FINGERPRINT_SPAN = 256

export interface File {
  readonly path: string
  readonly sessionId: string
  readonly project: string
}

export interface LineReader<F extends File> {
  /** Given the line's bytes as Latin-1 (one character per byte): exact for ASCII. */
  readonly mayHold: (line: string) => boolean
  /**
   * An ASCII string without newlines such that `mayHold(line)` holds exactly when the line
   * contains it: the lines are then found by searching the bytes for it, and `mayHold` is not called.
   */
  readonly marker?: string | undefined
  /** True when `decode` takes the line as Latin-1 too (a character per byte) and decodes what it needs itself. */
  readonly latin1?: boolean | undefined
  /** Given the line decoded as UTF-8 (as Latin-1 when `latin1`), and its 1-based number in the file. */
  readonly decode: (line: string, file: F, lineNumber: number) => Either.Either<ReadonlyArray<Envelope>, string>
}

/** What a fold carries from file to file: the state and the counts of this run. */
export interface Fold<S, F extends File> {
  readonly reader: LineReader<F>
  readonly handles: (tag: string) => boolean
  readonly evolve: (state: S, envelope: Envelope) => S
  readonly lenient: boolean
  state: S
  bytes: number
  events: number
  skippedLines: number
}

/** Where a file was folded up to: the byte offset after its last folded line, its line count there, and a fingerprint of the bytes before. */
export interface Mark {
  readonly offset: number
  readonly lines: number
  readonly fingerprint: string
}

export type Step =
  | { readonly _tag: "More" }
  | { readonly _tag: "Done"; readonly mark: Mark }
  | { readonly _tag: "Failed"; readonly line: number; readonly reason: string }

const MORE: Step = { _tag: "More" }

/** The tag an envelope is folded under: an unknown event's own tag. */
export const tagOfEnvelope = (envelope: Envelope): string =>
  envelope.event._tag === "UnknownEvent" ? envelope.event.tag : envelope.event._tag

/** A reusable read buffer, grown when a line does not fit. */
export interface Buffers {
  buffer: Buffer
}

export const makeBuffers = (size: number = CHUNK_SIZE): Buffers => ({ buffer: Buffer.allocUnsafe(size) })

/**
 * A fingerprint of the bytes before `offset`: its first and last few hundred bytes. A file
 * rewritten rather than appended to almost never keeps them (they hold the session's first and
 * latest event ids).
 */
export const fingerprint = (fd: number, offset: number): string => {
  if (offset === 0) return ""
  const span = Math.min(FINGERPRINT_SPAN, offset)
  const head = Buffer.alloc(span)
  const tail = Buffer.alloc(span)
  fs.readSync(fd, head, 0, span, 0)
  fs.readSync(fd, tail, 0, span, offset - span)
  return createHash("sha1").update(head).update(tail).digest("hex").slice(0, 20)
}

const describeThrown = (thrown: unknown): string => thrown instanceof Error ? thrown.message : String(thrown)

/**
 * Folds the lines of `file` (open as `fd`) between byte `from` (the start of line `fromLine + 1`)
 * and `end`, one chunk per `step()`.
 */
export const foldFile = <S, F extends File>(
  fold: Fold<S, F>,
  buffers: Buffers,
  fd: number,
  file: F,
  from: number,
  fromLine: number,
  end: number
): { readonly step: () => Step } => {
  const { decode, marker, mayHold } = fold.reader
  const encoding: BufferEncoding = fold.reader.latin1 === true ? "latin1" : "utf8"
  const markerBytes = marker === undefined || marker === "" ? undefined : Buffer.from(marker, "latin1")
  const { evolve, handles, lenient } = fold
  let position = from
  let lineNo = fromLine
  /** A line that did not decode, waiting to be told torn (nothing after it) or corrupt (a line after it). */
  let pending: { line: number; reason: string; offset: number } | undefined

  const finish = (): Step => {
    const mark = pending !== undefined
      ? { offset: pending.offset, lines: pending.line - 1 }
      : { offset: position, lines: lineNo }
    return { _tag: "Done", mark: { ...mark, fingerprint: fingerprint(fd, mark.offset) } }
  }

  const step = (): Step => {
    const want = Math.min(buffers.buffer.length, end - position)
    if (want <= 0) return finish()
    const buffer = buffers.buffer
    const read = fs.readSync(fd, buffer, 0, want, position)
    if (read === 0) return finish()
    const last = buffer.lastIndexOf(NEWLINE, read - 1)
    if (last < 0) {
      // No newline: the torn tail, or a line longer than the buffer.
      if (read < want || position + read >= end) return finish()
      buffers.buffer = Buffer.allocUnsafe(buffer.length * 2)
      return MORE
    }
    if (markerBytes !== undefined) return stepMarked(buffer, last)
    // One byte, one character: a Latin-1 view of the chunk is a cheap copy, its indexes are byte
    // offsets, and ASCII (every tag and key a prefilter looks for) reads as itself in it.
    const raw = buffer.toString("latin1", 0, last + 1)
    const base = position
    let start = position === 0 && raw.startsWith(BOM_LATIN1) ? BOM_LATIN1.length : 0
    let state = fold.state
    let events = 0
    try {
      for (let nl = raw.indexOf("\n", start); nl !== -1; nl = raw.indexOf("\n", start)) {
        lineNo++
        if (pending !== undefined) {
          if (!lenient) {
            fold.state = state
            fold.events += events
            return { _tag: "Failed", line: pending.line, reason: pending.reason }
          }
          fold.skippedLines++
          pending = undefined
        }
        const lineStart = start
        start = nl + 1
        if (!mayHold(raw.slice(lineStart, nl))) continue
        const decoded = decode(buffer.toString(encoding, lineStart, nl), file, lineNo)
        if (Either.isLeft(decoded)) {
          pending = { line: lineNo, reason: decoded.left, offset: base + lineStart }
          continue
        }
        for (const envelope of decoded.right) {
          if (handles(tagOfEnvelope(envelope))) {
            state = evolve(state, envelope)
            events++
          }
        }
      }
    } catch (thrown) {
      fold.state = state
      fold.events += events
      return { _tag: "Failed", line: lineNo, reason: `the projection threw: ${describeThrown(thrown)}` }
    }
    fold.state = state
    fold.events += events
    fold.bytes += last + 1
    position += last + 1
    return position >= end ? finish() : MORE
  }

  /**
   * `step` for a reader with a marker: each line's bytes are searched for the marker's, from the
   * line's end backward, and only the lines that hold it are decoded. Backward, because a marker
   * sits near the end of the lines that hold it (Claude Code's `"usage":{` does, a few hundred
   * bytes before it), and its last byte is the rarer one (`{` rather than `"`): the search skips
   * ahead on it. Searched forward across lines, the same bytes took about five times as long.
   */
  const stepMarked = (buffer: Buffer, last: number): Step => {
    const pattern = markerBytes!
    const view = buffer.subarray(0, last + 1)
    let start = position === 0 && hasBom(view) ? 3 : 0
    const base = position
    let state = fold.state
    let events = 0
    try {
      for (let nl = view.indexOf(NEWLINE, start); nl !== -1; nl = view.indexOf(NEWLINE, start)) {
        lineNo++
        if (pending !== undefined) {
          if (!lenient) {
            fold.state = state
            fold.events += events
            return { _tag: "Failed", line: pending.line, reason: pending.reason }
          }
          fold.skippedLines++
          pending = undefined
        }
        const lineStart = start
        start = nl + 1
        if (nl - lineStart < pattern.length || view.subarray(lineStart, nl).lastIndexOf(pattern) === -1) continue
        const decoded = decode(view.toString(encoding, lineStart, nl), file, lineNo)
        if (Either.isLeft(decoded)) {
          pending = { line: lineNo, reason: decoded.left, offset: base + lineStart }
          continue
        }
        for (const envelope of decoded.right) {
          if (handles(tagOfEnvelope(envelope))) {
            state = evolve(state, envelope)
            events++
          }
        }
      }
    } catch (thrown) {
      fold.state = state
      fold.events += events
      return { _tag: "Failed", line: lineNo, reason: `the projection threw: ${describeThrown(thrown)}` }
    }
    fold.state = state
    fold.events += events
    fold.bytes += last + 1
    position += last + 1
    return position >= end ? finish() : MORE
  }

  return { step }
}

/** Splits `sizes` (in order) into at most `parts` contiguous runs of about equal total size; returns where each run starts. */
export const partition = (sizes: ReadonlyArray<number>, parts: number): ReadonlyArray<number> => {
  const total = sizes.reduce((a, b) => a + b, 0)
  const count = Math.max(1, Math.min(parts, sizes.length))
  const starts = [0]
  let sum = 0
  for (let i = 0; i < sizes.length && starts.length < count; i++) {
    const before = sum
    sum += sizes[i]!
    const target = (total * starts.length) / count
    if (sum < target) continue
    // Cut before or after file i, whichever lands nearer the target; never an empty run.
    const previous = starts[starts.length - 1]!
    const cut = target - before < sum - target && i > previous ? i : i + 1
    if (cut < sizes.length) starts.push(cut)
  }
  return starts
}
