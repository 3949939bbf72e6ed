/**
 * Reading a session file: a scanner that turns bytes into envelopes and problems, and the
 * tail inspection a writer does before it appends.
 *
 * What counts as torn, the same for readers, writers and `weft doctor`: the bytes after the
 * last newline (an append that never finished), and — if it does not decode — the last
 * newline-terminated line too. A torn tail is not an event: no append was acknowledged for
 * it. An undecodable line with a good line after it is corruption in the middle of the log.
 */
import { FileSystem } from "@effect/platform"
import type { Envelope } from "@weft/kernel/Envelope"
import type { LineCodec } from "@weft/kernel/EventCodec"
import { StorageError } from "@weft/kernel/EventLog"
import { Effect, Either } from "effect"

export type Problem =
  | { readonly kind: "torn-tail"; readonly line: number; readonly reason: string }
  | { readonly kind: "bad-line"; readonly line: number; readonly reason: string }
  | { readonly kind: "seq-gap"; readonly line: number; readonly expected: number; readonly found: number }

export type Item =
  | { readonly _tag: "Event"; readonly envelope: Envelope; readonly line: number }
  | { readonly _tag: "Problem"; readonly problem: Problem }

export const describeProblem = (problem: Problem): string => {
  switch (problem.kind) {
    case "torn-tail":
      return `torn last line (${problem.reason})`
    case "bad-line":
      return problem.reason
    case "seq-gap":
      return `seq ${problem.found} where ${problem.expected} was expected`
  }
}

const SEQ_PREFIX = /^\{"seq":(\d+),/

const NEWLINE = 0x0a

export interface Scanner {
  /** Takes the next bytes of the file; returns what they complete. */
  readonly push: (bytes: Uint8Array) => Array<Item>
  /** The file has ended: returns what its last bytes mean. */
  readonly end: () => Array<Item>
}

/**
 * A scanner over one session file from its start. Lines whose seq is below `fromSeq` are
 * recognised by their `{"seq":N,` prefix and skipped without decoding.
 *
 * It splits the bytes at newlines before decoding them (a UTF-8 sequence never contains the
 * newline byte), and decodes each line on its own, as a stream decoder over the whole file
 * would: a byte order mark is dropped at the start of the file only, and a sequence cut short
 * by a newline or by the end of the file becomes U+FFFD. Lines stay small strings, whatever
 * the size of the chunks read.
 */
export const makeScanner = (codec: LineCodec, options?: { readonly fromSeq?: number }): Scanner => {
  const fromSeq = options?.fromSeq ?? 1
  const fileStart = new TextDecoder("utf-8", { fatal: false })
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })
  let atFileStart = true
  /** The bytes of the line under way, when it began in an earlier chunk. */
  let carried: Array<Uint8Array> = []
  let lineNo = 0
  let expected = 1
  let pending: { line: number; reason: string } | undefined

  const decode = (bytes: Uint8Array): string => {
    if (!atFileStart) return decoder.decode(bytes)
    atFileStart = false
    return fileStart.decode(bytes)
  }

  /** The carried bytes followed by `tail`, as one array. */
  const takeCarried = (tail: Uint8Array): Uint8Array => {
    let length = tail.length
    for (const part of carried) length += part.length
    const joined = new Uint8Array(length)
    let offset = 0
    for (const part of carried) {
      joined.set(part, offset)
      offset += part.length
    }
    joined.set(tail, offset)
    carried = []
    return joined
  }

  const onLine = (text: string, out: Array<Item>) => {
    lineNo++
    if (pending !== undefined) {
      out.push({ _tag: "Problem", problem: { kind: "bad-line", ...pending } })
      pending = undefined
    }
    if (fromSeq > 1) {
      const prefix = SEQ_PREFIX.exec(text)
      if (prefix !== null) {
        const seq = Number(prefix[1])
        if (seq < fromSeq) {
          expected = seq + 1
          return
        }
      }
    }
    if (text.length === 0) {
      pending = { line: lineNo, reason: "empty line" }
      return
    }
    const decoded = codec.decode(text)
    if (Either.isLeft(decoded)) {
      pending = { line: lineNo, reason: decoded.left }
      return
    }
    const envelope = decoded.right
    if (envelope.seq !== expected) {
      out.push({ _tag: "Problem", problem: { kind: "seq-gap", line: lineNo, expected, found: envelope.seq } })
    }
    expected = envelope.seq + 1
    if (envelope.seq >= fromSeq) out.push({ _tag: "Event", envelope, line: lineNo })
  }

  return {
    push: (bytes) => {
      const out: Array<Item> = []
      let start = 0
      for (let nl = bytes.indexOf(NEWLINE); nl !== -1; nl = bytes.indexOf(NEWLINE, start)) {
        const line = bytes.subarray(start, nl)
        onLine(decode(carried.length > 0 ? takeCarried(line) : line), out)
        start = nl + 1
      }
      // A copy: the caller may reuse its buffer for the next chunk.
      if (start < bytes.length) carried.push(bytes.slice(start))
      return out
    },
    end: () => {
      const out: Array<Item> = []
      const rest = carried.length > 0 ? decode(takeCarried(new Uint8Array(0))) : ""
      if (pending !== undefined) {
        const reason = rest.length > 0 ? `${pending.reason}; followed by an unterminated line` : pending.reason
        out.push({ _tag: "Problem", problem: { kind: "torn-tail", line: pending.line, reason } })
        pending = undefined
      } else if (rest.length > 0) {
        out.push({
          _tag: "Problem",
          problem: { kind: "torn-tail", line: lineNo + 1, reason: `${rest.length} characters without a newline` }
        })
      }
      return out
    }
  }
}

export interface Tail {
  readonly size: number
  /** Where the torn tail starts (`size` when there is none). */
  readonly cleanLength: number
  /** The seq of the last good line, 0 for an empty log. */
  readonly lastSeq: number
}

/**
 * Finds the torn tail of a session file and the seq of its last good line, reading
 * backwards from the end only as far as it needs to.
 */
export const inspectTail = (path: string, codec: LineCodec): Effect.Effect<Tail, StorageError, FileSystem.FileSystem> =>
  Effect.scoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const storage = (cause: { readonly message: string }) =>
      new StorageError({ path, operation: "read the end of", reason: cause.message })
    const size = Number((yield* fs.stat(path).pipe(Effect.mapError(storage))).size)
    if (size === 0) return { size, cleanLength: 0, lastSeq: 0 }
    const file = yield* fs.open(path, { flag: "r" }).pipe(Effect.mapError(storage))

    // A window [start, size) of the file's last bytes, grown backwards on demand.
    let start = size
    let window = new Uint8Array(0)
    const grow = Effect.gen(function*() {
      const nextStart = Math.max(0, start - Math.max(65536, window.length))
      yield* file.seek(nextStart, "start").pipe(Effect.mapError(storage))
      const more = yield* file.readAlloc(start - nextStart).pipe(Effect.mapError(storage))
      const bytes = more._tag === "Some" ? more.value : new Uint8Array(0)
      const joined = new Uint8Array(bytes.length + window.length)
      joined.set(bytes, 0)
      joined.set(window, bytes.length)
      window = joined
      start = nextStart
    })
    /** The offset of the last newline before `end`, or -1 when the file has none there. */
    const lastNewlineBefore = (end: number) =>
      Effect.gen(function*() {
        for (;;) {
          for (let i = end - 1 - start; i >= 0; i--) if (window[i] === NEWLINE) return start + i
          if (start === 0) return -1
          yield* grow
        }
      })
    const text = (from: number, to: number) => new TextDecoder().decode(window.subarray(from - start, to - start))

    yield* grow
    let lineEnd = yield* lastNewlineBefore(size) // the newline ending the last terminated line
    let cleanLength = lineEnd + 1
    // The last terminated line, and if it does not decode, the one before it.
    for (let attempt = 0; attempt < 2 && lineEnd >= 0; attempt++) {
      const lineStart = (yield* lastNewlineBefore(lineEnd)) + 1
      const decoded = codec.decode(text(lineStart, lineEnd))
      if (Either.isRight(decoded)) return { size, cleanLength, lastSeq: decoded.right.seq }
      if (attempt === 1) {
        // Two bad lines at the end: that is not a torn append but corruption; leave the bytes alone.
        return yield* Effect.fail(
          new StorageError({
            path,
            operation: "append to",
            reason: `the line ending at byte ${lineEnd} does not decode (${decoded.left}); run \`weft doctor\``
          })
        )
      }
      cleanLength = lineStart
      lineEnd = lineStart - 1
    }
    return { size, cleanLength: Math.max(0, cleanLength), lastSeq: 0 }
  }))
