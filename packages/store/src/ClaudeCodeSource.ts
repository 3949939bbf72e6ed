/**
 * Claude Code's history as a read-only source of weft envelopes, so that every projection runs
 * over it: `weft usage --source claude-code`, `weft project … --source claude-code`.
 *
 * Files: every `*.jsonl` under `<dir>/projects/` (any depth, as ccusage reads them: a session's
 * `<session>/subagents/agent-*.jsonl` included), sorted by path. `dir` is Claude Code's config
 * directory (`~/.claude`, or `CLAUDE_CONFIG_DIR`); the CLI chooses it.
 *
 * Lines, one JSON object each, become envelopes (`seq` = the line number, `id` = `uuid`,
 * `parentId` = `parentUuid`, `sessionId` = the line's `sessionId` or the file's, `at` =
 * `timestamp`):
 *
 * - a line with usage (`message.usage`, as ccusage counts it — see `usageLine`) → `ModelResponded`
 *   with `messageId` = `message.id`, `requestId` = `requestId` ("" when absent), the model (with
 *   `-fast` for fast mode, as ccusage names it), the content blocks weft knows (text, thinking,
 *   tool_use — other blocks are left out) and the usage. Claude Code writes one line per content
 *   block of a response, and a response again while it streams: every line is an envelope, and
 *   the `usage` projection keeps one per response;
 * - `user` → `UserMessageReceived` (its text and image blocks; a compaction summary is one too)
 *   and one `ToolCallCompleted` per `tool_result` block (the tool named by the `tool_use` that
 *   asked for it earlier in the file, else "unknown"; `durationMs` from `toolUseResult` when it
 *   has one);
 * - `summary` (a title Claude Code gives a conversation), `file-history-snapshot` (its own backup
 *   store, which weft's blobs cannot point into), `system` and any other line: nothing;
 * - a sidechain (`isSidechain: true`, a Task subagent's transcript) is agent `main/<n>`: `n` is 1
 *   for a line that does not say which subagent wrote it (Claude Code before 2.0), else 2 + a
 *   32-bit FNV-1a hash of its `agentId`. Everything else is `main`.
 *
 * A line that is not JSON does not decode (`Left`): run leniently to skip it. A line that is JSON
 * but none of the above gives no envelope.
 *
 * Speed: for the `usage` projection the reader keeps only the lines that hold `"usage":{` (as
 * ccusage does; the runner searches the raw bytes, so no other line is even copied into a string)
 * and does not parse them. It takes them as bytes (`latin1`: a byte per character, a plain copy
 * where decoding UTF-8 takes two passes), and `scanUsageLine` makes one pass that checks the JSON
 * grammar, hops over string contents with `indexOf` and notes where the few values usage needs
 * are, building no object but the result, and decoding as UTF-8 only those of its strings that
 * are not ASCII. When it cannot be sure (an escaped key, a number with a fraction or
 * over 15 digits, a second `message`, whitespace between tokens) it leaves the line to
 * `JSON.parse`. Both read every line alike (the property test), with one exception JSON.parse
 * alone would catch: an invalid escape or a raw control character inside a string the scan hops
 * over — which Claude Code, writing with JSON.stringify, never produces.
 */
import type { Envelope } from "@weft/kernel/Envelope"
import { ModelResponded, ToolCallCompleted, UserMessageReceived } from "@weft/kernel/Events"
import { isJson } from "@weft/kernel/Json"
import type { AssistantBlock, StopReason, Usage, UserBlock } from "@weft/kernel/Messages"
import type * as Projection from "@weft/kernel/Projection"
import { projection as usageProjection } from "@weft/kernel/projections/Usage"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import type { Format, FormatReader, SourceFile } from "./ProjectionRunner.js"
import { ProjectionError, sourceKey } from "./ProjectionRunner.js"

// --- usage lines: ccusage's rules --------------------------------------------------------------

/** What ccusage reads from a line with usage, and what weft needs besides to place it. */
export interface UsageLine {
  readonly timestamp: string
  readonly sessionId: string | undefined
  readonly requestId: string | undefined
  readonly messageId: string | undefined
  /** `message.model`, with `-fast` when `usage.speed` is "fast"; undefined when absent. */
  readonly model: string | undefined
  readonly usage: Usage
  readonly uuid: string | undefined
  readonly parentUuid: string | null
  readonly isSidechain: boolean
  /** Claude Code's id of the subagent that wrote a sidechain line (2.0 and later). */
  readonly agentId: string | undefined
}

/** ccusage reads only the lines that hold this (`USAGE_LINE_MARKER`). */
export const USAGE_MARKER = "\"usage\":{"

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/
const VERSION = /^\d+\.\d+\.\d+/

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const optionalString = (u: unknown) => u === undefined || typeof u === "string"
const optionalNonEmpty = (u: unknown) => u === undefined || (typeof u === "string" && u.length > 0)
const optionalNumber = (u: unknown) => u === undefined || typeof u === "number"

/**
 * The usage of a parsed line, or undefined when ccusage would not count it: ccusage's
 * `parseUsageDataFast` (ryoppippi/ccusage, apps/ccusage/src/adapter/claude/data-loader.ts) —
 * `message.usage` with numeric `input_tokens` and `output_tokens`, an ISO timestamp in UTC,
 * non-empty ids when present, well-typed optional fields. It does not look at `type`.
 */
export const usageLineOf = (value: unknown): UsageLine | undefined => {
  if (!isRecord(value)) return undefined
  if (
    !optionalString(value.cwd) || !optionalNonEmpty(value.sessionId) || !optionalNonEmpty(value.requestId) ||
    !optionalNumber(value.costUSD) ||
    !(value.isApiErrorMessage === undefined || typeof value.isApiErrorMessage === "boolean")
  ) return undefined
  if (value.version !== undefined && (typeof value.version !== "string" || !VERSION.test(value.version))) {
    return undefined
  }
  if (typeof value.timestamp !== "string" || !ISO_TIMESTAMP.test(value.timestamp)) return undefined
  const message = value.message
  if (!isRecord(message) || !optionalNonEmpty(message.model) || !optionalNonEmpty(message.id)) return undefined
  if (message.content !== undefined) {
    if (!Array.isArray(message.content)) return undefined
    for (const part of message.content) if (!isRecord(part) || !optionalString(part.text)) return undefined
  }
  const usage = message.usage
  if (
    !isRecord(usage) || typeof usage.input_tokens !== "number" || typeof usage.output_tokens !== "number" ||
    !optionalNumber(usage.cache_creation_input_tokens) || !optionalNumber(usage.cache_read_input_tokens) ||
    !(usage.speed === undefined || usage.speed === "standard" || usage.speed === "fast")
  ) return undefined
  const model = message.model as string | undefined
  return {
    timestamp: value.timestamp,
    sessionId: value.sessionId as string | undefined,
    requestId: value.requestId as string | undefined,
    messageId: message.id as string | undefined,
    model: model !== undefined && usage.speed === "fast" ? `${model}-fast` : model,
    usage: {
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      cache_creation_input_tokens: (usage.cache_creation_input_tokens as number | undefined) ?? 0,
      cache_read_input_tokens: (usage.cache_read_input_tokens as number | undefined) ?? 0
    },
    uuid: typeof value.uuid === "string" ? value.uuid : undefined,
    parentUuid: typeof value.parentUuid === "string" ? value.parentUuid : null,
    isSidechain: value.isSidechain === true,
    agentId: typeof value.agentId === "string" ? value.agentId : undefined
  }
}

// The scanner: one pass over the line's bytes, read as Latin-1 (a character per byte), that
// checks JSON's grammar (strings are hopped over with indexOf, their insides unchecked), and notes
// where the values of the fields ccusage reads are: at the top level, in `message`, in
// `message.usage`, and the `text` of each `message.content` element. Every byte JSON's grammar
// gives a meaning to is ASCII, which reads as itself in Latin-1; a string the scan returns is
// decoded as UTF-8 when it holds a byte over 0x7f — decoded alone, it reads as it does in the
// decoded line, since its quotes are ASCII. Module state, so that it allocates nothing but its
// result: one line at a time, on one thread.

const Q = 0x22 // "
const BACKSLASH = 0x5c
const COLON = 0x3a
const COMMA = 0x2c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d

/** The end of the string starting at `i` (a quote): after the first quote not escaped; -1 when there is none. */
const skipString = (s: string, i: number): number => {
  let q = s.indexOf("\"", i + 1)
  while (q >= 0) {
    if (s.charCodeAt(q - 1) !== BACKSLASH) return q + 1
    // Escaped when an odd number of backslashes precede it (the opening quote stops the count).
    let k = q - 2
    while (s.charCodeAt(k) === BACKSLASH) k--
    if ((q - k) % 2 === 1) return q + 1
    q = s.indexOf("\"", q + 1)
  }
  return -1
}

const isDigit = (c: number) => c >= 48 && c <= 57

/** The end of the number starting at `i` (JSON's grammar), or -1. */
const skipNumber = (s: string, i: number): number => {
  if (s.charCodeAt(i) === 0x2d) i++
  const first = s.charCodeAt(i)
  if (first === 48) i++
  else if (first >= 49 && first <= 57) {
    i++
    while (isDigit(s.charCodeAt(i))) i++
  } else return -1
  if (s.charCodeAt(i) === 0x2e) {
    i++
    if (!isDigit(s.charCodeAt(i))) return -1
    while (isDigit(s.charCodeAt(i))) i++
  }
  const e = s.charCodeAt(i)
  if (e === 0x65 || e === 0x45) {
    i++
    const sign = s.charCodeAt(i)
    if (sign === 0x2b || sign === 0x2d) i++
    if (!isDigit(s.charCodeAt(i))) return -1
    while (isDigit(s.charCodeAt(i))) i++
  }
  return i
}

// Fields read from a line: where each value starts and ends, and its first character (0:
// absent). A later duplicate wins, as in JSON.parse.
const F_CWD = 0
const F_SESSION = 1
const F_REQUEST = 2
const F_COST = 3
const F_API_ERROR = 4
const F_VERSION = 5
const F_TIMESTAMP = 6
const F_UUID = 7
const F_PARENT = 8
const F_SIDECHAIN = 9
const F_AGENT = 10
const F_MESSAGE = 11
const F_MODEL = 12
const F_ID = 13
const F_CONTENT = 14
const F_USAGE = 15
const F_INPUT = 16
const F_OUTPUT = 17
const F_CACHE_CREATE = 18
const F_CACHE_READ = 19
const F_SPEED = 20
const FIELDS = 21

const starts = new Int32Array(FIELDS)
const ends = new Int32Array(FIELDS)
const kinds = new Int32Array(FIELDS)
/** 1 when the field's value is a string with a backslash in it. */
const escapes = new Uint8Array(FIELDS)

/**
 * The first backslash of the line at or after the place `escapedIn` was last asked about, or the
 * line's length when there is none; -1 before the line's first question. The scan asks in the
 * order it reads, so the line is searched for backslashes once, not once per key.
 */
let backslash = -1

/** Whether `s` holds a backslash between `start` and `end`; `start` never lower than at the last call for this line. */
const escapedIn = (s: string, start: number, end: number): boolean => {
  if (backslash < start) {
    backslash = s.indexOf("\\", start)
    if (backslash < 0) backslash = s.length
  }
  return backslash < end
}

/** Whether the key at `start` (its length already checked) is `name`. */
const keyIs = (s: string, start: number, name: string): boolean => s.slice(start, start + name.length) === name

/** The field a top-level key names, or -1; dispatched on length and first letter before comparing. */
const topField = (s: string, start: number, end: number): number => {
  switch (end - start) {
    case 3:
      return keyIs(s, start, "cwd") ? F_CWD : -1
    case 4:
      return keyIs(s, start, "uuid") ? F_UUID : -1
    case 7:
      switch (s.charCodeAt(start)) {
        case 0x6d:
          return keyIs(s, start, "message") ? F_MESSAGE : -1
        case 0x76:
          return keyIs(s, start, "version") ? F_VERSION : -1
        case 0x63:
          return keyIs(s, start, "costUSD") ? F_COST : -1
        case 0x61:
          return keyIs(s, start, "agentId") ? F_AGENT : -1
        default:
          return -1
      }
    case 9:
      switch (s.charCodeAt(start)) {
        case 0x74:
          return keyIs(s, start, "timestamp") ? F_TIMESTAMP : -1
        case 0x73:
          return keyIs(s, start, "sessionId") ? F_SESSION : -1
        case 0x72:
          return keyIs(s, start, "requestId") ? F_REQUEST : -1
        default:
          return -1
      }
    case 10:
      return keyIs(s, start, "parentUuid") ? F_PARENT : -1
    case 11:
      return keyIs(s, start, "isSidechain") ? F_SIDECHAIN : -1
    case 17:
      return keyIs(s, start, "isApiErrorMessage") ? F_API_ERROR : -1
    default:
      return -1
  }
}

const messageField = (s: string, start: number, end: number): number => {
  switch (end - start) {
    case 2:
      return keyIs(s, start, "id") ? F_ID : -1
    case 5:
      return keyIs(s, start, "model") ? F_MODEL : keyIs(s, start, "usage") ? F_USAGE : -1
    case 7:
      return keyIs(s, start, "content") ? F_CONTENT : -1
    default:
      return -1
  }
}

const usageField = (s: string, start: number, end: number): number => {
  switch (end - start) {
    case 5:
      return keyIs(s, start, "speed") ? F_SPEED : -1
    case 12:
      return keyIs(s, start, "input_tokens") ? F_INPUT : -1
    case 13:
      return keyIs(s, start, "output_tokens") ? F_OUTPUT : -1
    case 23:
      return keyIs(s, start, "cache_read_input_tokens") ? F_CACHE_READ : -1
    case 27:
      return keyIs(s, start, "cache_creation_input_tokens") ? F_CACHE_CREATE : -1
    default:
      return -1
  }
}

/** The scan stopped: JSON.parse must decide (whitespace, an escaped key, nesting too deep, bad JSON…). */
const UNSURE = -1

/** The end of the JSON value at `i`, or UNSURE. Recursive: a caller catches a stack overflow. */
const skipValue = (s: string, i: number): number => {
  const c = s.charCodeAt(i)
  if (c === Q) return skipString(s, i)
  if (c === OPEN_OBJECT) {
    let j = i + 1
    if (s.charCodeAt(j) === CLOSE_OBJECT) return j + 1
    for (;;) {
      if (s.charCodeAt(j) !== Q) return UNSURE
      j = skipString(s, j)
      if (j < 0 || s.charCodeAt(j) !== COLON) return UNSURE
      j = skipValue(s, j + 1)
      if (j < 0) return UNSURE
      const d = s.charCodeAt(j)
      if (d === COMMA) j++
      else return d === CLOSE_OBJECT ? j + 1 : UNSURE
    }
  }
  if (c === OPEN_ARRAY) {
    let j = i + 1
    if (s.charCodeAt(j) === CLOSE_ARRAY) return j + 1
    for (;;) {
      j = skipValue(s, j)
      if (j < 0) return UNSURE
      const d = s.charCodeAt(j)
      if (d === COMMA) j++
      else return d === CLOSE_ARRAY ? j + 1 : UNSURE
    }
  }
  if (c === 0x74) return s.startsWith("true", i) ? i + 4 : UNSURE
  if (c === 0x66) return s.startsWith("false", i) ? i + 5 : UNSURE
  if (c === 0x6e) return s.startsWith("null", i) ? i + 4 : UNSURE
  return skipNumber(s, i)
}

/** Where `field`'s value is: records it and returns its end (or UNSURE). */
const recordValue = (s: string, i: number, field: number): number => {
  const end = skipValue(s, i)
  const kind = s.charCodeAt(i)
  starts[field] = i
  ends[field] = end
  kinds[field] = kind
  escapes[field] = kind === Q && end > i && escapedIn(s, i + 1, end - 1) ? 1 : 0
  return end
}

/** Whether the content array seen is as ccusage wants it: objects, each `text` a string. */
let contentOk = true

/** Scans `message.content` at `i`: checks each element as ccusage does; returns its end. */
const scanContent = (s: string, i: number): number => {
  if (s.charCodeAt(i) !== OPEN_ARRAY) {
    contentOk = false
    return skipValue(s, i)
  }
  let j = i + 1
  if (s.charCodeAt(j) === CLOSE_ARRAY) return j + 1
  for (;;) {
    if (s.charCodeAt(j) !== OPEN_OBJECT) {
      contentOk = false
      j = skipValue(s, j)
      if (j < 0) return UNSURE
    } else {
      // An element: its last `text` must be a string.
      let text = 0
      j++
      if (s.charCodeAt(j) === CLOSE_OBJECT) j++
      else {
        for (;;) {
          if (s.charCodeAt(j) !== Q) return UNSURE
          const key = j
          j = skipString(s, j)
          if (j < 0 || s.charCodeAt(j) !== COLON) return UNSURE
          if (j - key === 6 && keyIs(s, key + 1, "text")) text = s.charCodeAt(j + 1)
          else if (escapedIn(s, key + 1, j - 1)) return UNSURE
          j = skipValue(s, j + 1)
          if (j < 0) return UNSURE
          const d = s.charCodeAt(j)
          j++
          if (d === CLOSE_OBJECT) break
          if (d !== COMMA) return UNSURE
        }
      }
      if (text !== 0 && text !== Q) contentOk = false
    }
    const d = s.charCodeAt(j)
    if (d === COMMA) j++
    else return d === CLOSE_ARRAY ? j + 1 : UNSURE
  }
}

const LEVEL_TOP = 0
const LEVEL_MESSAGE = 1
const LEVEL_USAGE = 2

/**
 * Scans the object at `i` — the line (LEVEL_TOP), `message` or `message.usage` — recording the
 * fields ccusage reads. Returns its end, or UNSURE.
 */
const scanObject = (s: string, i: number, level: number): number => {
  let j = i + 1
  if (s.charCodeAt(j) === CLOSE_OBJECT) return j + 1
  for (;;) {
    if (s.charCodeAt(j) !== Q) return UNSURE
    const key = j
    j = skipString(s, j)
    if (j < 0 || s.charCodeAt(j) !== COLON) return UNSURE
    const field = level === LEVEL_TOP
      ? topField(s, key + 1, j - 1)
      : level === LEVEL_MESSAGE
      ? messageField(s, key + 1, j - 1)
      : usageField(s, key + 1, j - 1)
    // A key that is not a field's name might still be one once its escapes are decoded.
    if (field < 0 && escapedIn(s, key + 1, j - 1)) return UNSURE
    j++
    if (field < 0) j = skipValue(s, j)
    else if (field === F_MESSAGE || field === F_USAGE || field === F_CONTENT) {
      // A second one: JSON.parse keeps the last one whole.
      if (kinds[field] !== 0) return UNSURE
      const c = s.charCodeAt(j)
      kinds[field] = c
      j = field === F_CONTENT
        ? scanContent(s, j)
        : c === OPEN_OBJECT
        ? scanObject(s, j, field === F_MESSAGE ? LEVEL_MESSAGE : LEVEL_USAGE)
        : skipValue(s, j)
    } else j = recordValue(s, j, field)
    if (j < 0) return UNSURE
    const d = s.charCodeAt(j)
    if (d === COMMA) j++
    else return d === CLOSE_OBJECT ? j + 1 : UNSURE
  }
}

const NOT_ASCII = /[^\x00-\x7f]/

/**
 * Whether `raw` is ASCII, so that the bytes it reads are their own UTF-8: a regular expression
 * tells faster than a loop over its characters.
 */
const isAscii = (raw: string): boolean => !NOT_ASCII.test(raw)

/** The bytes `s` reads from `start` to `end` (a character per byte), decoded as UTF-8. */
const utf8 = (s: string, start: number, end: number): string =>
  Buffer.from(s.slice(start, end), "latin1").toString("utf8")

/**
 * The string value of `field` as JSON.parse gives it from the decoded line; when it is ASCII
 * without escapes, a slice of the line, which keeps the line alive as long as it is.
 */
const stringAt = (s: string, field: number): string => {
  const start = starts[field] + 1, end = ends[field] - 1
  if (escapes[field] === 1) {
    const quoted = s.slice(start - 1, end + 1)
    return JSON.parse(isAscii(quoted) ? quoted : utf8(s, start - 1, end + 1))
  }
  const raw = s.slice(start, end)
  return isAscii(raw) ? raw : utf8(s, start, end)
}

/**
 * `raw`, a slice of the line, as a string of its own: a slice of 13 characters or more shares the
 * line's memory, and a state that kept it would keep the whole line. (A concatenation sliced is
 * flattened into a new string; cheaper than JSON.parse copying it.)
 */
const own = (raw: string): string => raw.length < 13 ? raw : (" " + raw).slice(1)

/** `stringAt`, but never a slice of the line: for a value a state may keep. */
const freshAt = (s: string, field: number): string => {
  // JSON.parse and the UTF-8 decoder make new strings.
  if (escapes[field] === 1) return stringAt(s, field)
  const start = starts[field] + 1, end = ends[field] - 1
  const raw = s.slice(start, end)
  return isAscii(raw) ? own(raw) : utf8(s, start, end)
}

/**
 * Strings that repeat from line to line (a session's id, its models and subagents, a response's
 * ids over its streamed lines): the last few met, which a value read is looked for among before a
 * string of its own is made. Only ASCII values are kept, so that equal characters (the line's
 * bytes) mean an equal value.
 */
interface Recent {
  readonly values: Array<string>
  next: number
}

const recent = (size: number): Recent => ({ values: new Array<string>(size).fill(""), next: 0 })

const recentSessions = recent(2)
const recentModels = recent(8)
const recentAgents = recent(8)
const recentMessages = recent(2)
const recentRequests = recent(2)

/** `freshAt`, or the equal string `kept` holds. */
const keptAt = (kept: Recent, s: string, field: number): string => {
  if (escapes[field] === 1) return stringAt(s, field)
  const start = starts[field] + 1, end = ends[field] - 1
  const values = kept.values
  const raw = s.slice(start, end)
  for (let v = 0; v < values.length; v++) if (values[v] === raw) return values[v]!
  if (!isAscii(raw)) return utf8(s, start, end)
  const value = own(raw)
  values[kept.next] = value
  kept.next = (kept.next + 1) % values.length
  return value
}

const isNumberKind = (kind: number) => kind === 0x2d || isDigit(kind)

/** An unsigned integer of at most 15 digits, else -1 (JSON.parse gives the exact double). */
const integerAt = (s: string, field: number): number => {
  const start = starts[field], end = ends[field]
  if (end - start > 15) return -1
  let n = 0
  for (let k = start; k < end; k++) {
    const d = s.charCodeAt(k) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/** ISO_TIMESTAMP, matched in the line where a timestamp's characters are (sticky), its closing quote after it. */
const ISO_TIMESTAMP_AT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z"/y

/** `ISO_TIMESTAMP.test` of the string `s` holds from `start` to `end` (no escapes), without making it. */
const isIsoTimestamp = (s: string, start: number, end: number): boolean => {
  ISO_TIMESTAMP_AT.lastIndex = start
  return ISO_TIMESTAMP_AT.test(s) && ISO_TIMESTAMP_AT.lastIndex === end + 1
}

/** VERSION, matched in the line where a version's characters are (sticky): its digits and dots never reach past the string. */
const VERSION_AT = /\d+\.\d+\.\d+/y

/** `VERSION.test` of the string `s` holds from `start` (no escapes), without making it. */
const isVersion = (s: string, start: number): boolean => {
  VERSION_AT.lastIndex = start
  return VERSION_AT.test(s)
}

/** Whether the string `s` holds from `start` to `end` is `word`. */
const isWord = (s: string, start: number, end: number, word: string): boolean =>
  end - start === word.length && keyIs(s, start, word)

const emptyString = (field: number) => ends[field] - starts[field] === 2
const fieldOptional = (field: number, kind: number) => kinds[field] === 0 || kinds[field] === kind
const fieldNumber = (field: number) => kinds[field] === 0 || isNumberKind(kinds[field])
const fieldNonEmpty = (field: number) => kinds[field] === 0 || (kinds[field] === Q && !emptyString(field))

/** `scanUsageLine`: a well-formed line ccusage does not count. */
export const NOT_COUNTED = 0 as const
/** `scanUsageLine`: a line the scan leaves to JSON.parse. */
export const DECIDE_BY_PARSING = 1 as const

/**
 * The usage of a line by scanning, without parsing it, given the line's bytes as Latin-1 (a
 * character per byte, as the runner gives them to a `latin1` reader): the `UsageLine`, its
 * strings decoded as UTF-8; `NOT_COUNTED` when the line is a well-formed JSON object ccusage
 * would skip; `DECIDE_BY_PARSING` when the scan cannot be sure (whitespace between tokens, an
 * escaped key, a fraction, a line that is not JSON…).
 */
export const scanUsageLine = (s: string): UsageLine | typeof NOT_COUNTED | typeof DECIDE_BY_PARSING => {
  if (s.charCodeAt(0) !== OPEN_OBJECT) return DECIDE_BY_PARSING
  kinds.fill(0)
  contentOk = true
  backslash = -1
  let end: number
  try {
    end = scanObject(s, 0, LEVEL_TOP)
  } catch {
    return DECIDE_BY_PARSING // nested deeper than the stack
  }
  if (end !== s.length) return DECIDE_BY_PARSING
  try {
    return fieldsOf(s)
  } catch {
    return DECIDE_BY_PARSING // an escape in a value that JSON.parse refuses
  }
}

/** ccusage's checks, on the fields the scan found, as JSON.parse would give them. */
const fieldsOf = (s: string): UsageLine | typeof NOT_COUNTED | typeof DECIDE_BY_PARSING => {
  if (
    !fieldOptional(F_CWD, Q) || !fieldNonEmpty(F_SESSION) || !fieldNonEmpty(F_REQUEST) || !fieldNumber(F_COST) ||
    !(kinds[F_API_ERROR] === 0 || kinds[F_API_ERROR] === 0x74 || kinds[F_API_ERROR] === 0x66) ||
    kinds[F_TIMESTAMP] !== Q || kinds[F_MESSAGE] !== OPEN_OBJECT || !fieldNonEmpty(F_MODEL) ||
    !fieldNonEmpty(F_ID) || (kinds[F_CONTENT] !== 0 && !contentOk) || kinds[F_USAGE] !== OPEN_OBJECT ||
    !isNumberKind(kinds[F_INPUT]) || !isNumberKind(kinds[F_OUTPUT]) || !fieldNumber(F_CACHE_CREATE) ||
    !fieldNumber(F_CACHE_READ) || !fieldOptional(F_SPEED, Q) || !fieldOptional(F_VERSION, Q)
  ) return NOT_COUNTED
  // The version, the timestamp and the speed are read where they are: ASCII to be valid, so their
  // bytes are their characters; one with an escape is decoded first.
  if (
    kinds[F_VERSION] !== 0 && !(escapes[F_VERSION] === 1
      ? VERSION.test(stringAt(s, F_VERSION))
      : isVersion(s, starts[F_VERSION] + 1))
  ) return NOT_COUNTED
  const timestamp = escapes[F_TIMESTAMP] === 1 ? stringAt(s, F_TIMESTAMP) : undefined
  if (
    timestamp === undefined
      ? !isIsoTimestamp(s, starts[F_TIMESTAMP] + 1, ends[F_TIMESTAMP] - 1)
      : !ISO_TIMESTAMP.test(timestamp)
  ) return NOT_COUNTED
  let fast = false
  if (kinds[F_SPEED] !== 0) {
    if (escapes[F_SPEED] === 1) {
      const speed = stringAt(s, F_SPEED)
      if (speed !== "standard" && speed !== "fast") return NOT_COUNTED
      fast = speed === "fast"
    } else {
      const start = starts[F_SPEED] + 1, end = ends[F_SPEED] - 1
      fast = isWord(s, start, end, "fast")
      if (!fast && !isWord(s, start, end, "standard")) return NOT_COUNTED
    }
  }
  const input = integerAt(s, F_INPUT)
  const output = integerAt(s, F_OUTPUT)
  const cacheCreate = kinds[F_CACHE_CREATE] === 0 ? 0 : integerAt(s, F_CACHE_CREATE)
  const cacheRead = kinds[F_CACHE_READ] === 0 ? 0 : integerAt(s, F_CACHE_READ)
  if (input < 0 || output < 0 || cacheCreate < 0 || cacheRead < 0) return DECIDE_BY_PARSING
  const model = kinds[F_MODEL] === 0 ? undefined : keptAt(recentModels, s, F_MODEL)
  const messageId = kinds[F_ID] === 0 ? undefined : keptAt(recentMessages, s, F_ID)
  return {
    timestamp: timestamp ?? own(s.slice(starts[F_TIMESTAMP] + 1, ends[F_TIMESTAMP] - 1)),
    sessionId: kinds[F_SESSION] === 0 ? undefined : keptAt(recentSessions, s, F_SESSION),
    requestId: kinds[F_REQUEST] === 0 ? undefined : keptAt(recentRequests, s, F_REQUEST),
    messageId,
    model: model !== undefined && fast ? `${model}-fast` : model,
    usage: {
      input_tokens: input,
      output_tokens: output,
      cache_creation_input_tokens: cacheCreate,
      cache_read_input_tokens: cacheRead
    },
    // Kept by the usage projection only for a response without a message id.
    uuid: kinds[F_UUID] !== Q ? undefined : messageId === undefined ? freshAt(s, F_UUID) : stringAt(s, F_UUID),
    parentUuid: kinds[F_PARENT] === Q ? stringAt(s, F_PARENT) : null,
    isSidechain: kinds[F_SIDECHAIN] === 0x74,
    agentId: kinds[F_AGENT] === Q ? keptAt(recentAgents, s, F_AGENT) : undefined
  }
}

/** A line as JSON, or why it is not. */
const parse = (line: string): Either.Either<unknown, string> => {
  try {
    return Either.right(JSON.parse(line))
  } catch (error) {
    return Either.left(`not JSON (${error instanceof Error ? error.message : String(error)})`)
  }
}

const NONE = Either.right(undefined)

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** The UTF-8 bytes of `text` read as Latin-1. */
const latin1Of = (text: string): string => Buffer.from(text, "utf8").toString("latin1")

/**
 * The usage ccusage counts on a line: undefined when it counts none (no `"usage":{` on the line,
 * or the line fails its checks); Left when the line is not JSON. Scans, and parses only when the
 * scan is unsure. `line` is text (its bytes decoded as UTF-8); see `usageLineOfBytes` for bytes.
 */
export const usageLine = (line: string): Either.Either<UsageLine | undefined, string> => {
  if (!line.includes(USAGE_MARKER)) return NONE
  if (isAscii(line)) return markedUsageLine(line)
  // A lone surrogate has no UTF-8: such text is no line's bytes decoded, and JSON.parse reads it.
  return LONE_SURROGATE.test(line) ? Either.map(parse(line), usageLineOf) : markedUsageLine(latin1Of(line))
}

/**
 * `usageLine` of a line given as its bytes read as Latin-1 (a character per byte), as the runner
 * hands lines to a `latin1` reader.
 */
export const usageLineOfBytes = (bytes: string): Either.Either<UsageLine | undefined, string> =>
  bytes.includes(USAGE_MARKER) ? markedUsageLine(bytes) : NONE

/** `usageLineOfBytes` of a line known to hold `"usage":{`. */
const markedUsageLine = (bytes: string): Either.Either<UsageLine | undefined, string> => {
  const scanned = scanUsageLine(bytes)
  if (scanned === NOT_COUNTED) return NONE
  if (scanned !== DECIDE_BY_PARSING) return Either.right(scanned)
  return Either.map(parse(utf8(bytes, 0, bytes.length)), usageLineOf)
}

// --- envelopes ---------------------------------------------------------------------------------

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** A 32-bit FNV-1a hash of a string's UTF-16 code units. */
export const fnv1a = (s: string): number => {
  let h = FNV_OFFSET
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, FNV_PRIME)
  }
  return h >>> 0
}

const subagents = new Map<string, string>()

/** The weft agent of a line: `main`, or `main/<n>` for a sidechain (see the module's comment). */
export const agentOf = (isSidechain: boolean, agentId: string | undefined): string => {
  if (!isSidechain) return "main"
  if (agentId === undefined) return "main/1"
  let agent = subagents.get(agentId)
  if (agent === undefined) {
    if (subagents.size >= 4096) subagents.clear()
    agent = `main/${2 + fnv1a(agentId)}`
    subagents.set(agentId, agent)
  }
  return agent
}

const envelopeOf = (
  fields: {
    readonly uuid: string | undefined
    readonly parentUuid: string | null
    readonly sessionId: string | undefined
    readonly isSidechain: boolean
    readonly agentId: string | undefined
    readonly at: string
  },
  file: SourceFile,
  seq: number,
  index: number,
  event: Envelope["event"]
): Envelope => ({
  seq,
  id: fields.uuid === undefined
    ? `${file.sessionId}:${seq}${index === 0 ? "" : `:${index}`}`
    : index === 0
    ? fields.uuid
    : `${fields.uuid}:${index}`,
  parentId: fields.parentUuid,
  sessionId: fields.sessionId ?? file.sessionId,
  agentId: agentOf(fields.isSidechain, fields.agentId),
  at: fields.at,
  event
})

/**
 * A `ModelResponded` as `new ModelResponded(fields, true)` makes it — the same own properties in
 * the same order, the same prototype — without the constructor's ~3 µs of merging defaults, which
 * is most of the cost of a line on the usage path. A test holds the two equal.
 */
export const modelResponded = (
  usage: UsageLine,
  content: ReadonlyArray<AssistantBlock>,
  stopReason: StopReason | null
): ModelResponded => {
  const event = Object.create(ModelResponded.prototype)
  event.requestId = usage.requestId ?? ""
  if (usage.messageId !== undefined) event.messageId = usage.messageId
  event.model = usage.model ?? ""
  event.content = content
  event.usage = usage.usage
  event.stopReason = stopReason
  event._tag = "ModelResponded"
  event.v = 1
  return event
}

const NO_CONTENT: ReadonlyArray<AssistantBlock> = []

/** The `ModelResponded` of a usage line, without content: what the usage projection needs. */
export const usageEnvelope = (usage: UsageLine, file: SourceFile, seq: number): Envelope => ({
  seq,
  id: usage.uuid ?? `${file.sessionId}:${seq}`,
  parentId: usage.parentUuid,
  sessionId: usage.sessionId ?? file.sessionId,
  agentId: agentOf(usage.isSidechain, usage.agentId),
  at: usage.timestamp,
  event: modelResponded(usage, NO_CONTENT, null)
})

const STOP_REASONS: ReadonlySet<string> = new Set([
  "end_turn",
  "max_tokens",
  "stop_sequence",
  "tool_use",
  "pause_turn",
  "refusal",
  "model_context_window_exceeded"
])

const assistantBlocks = (content: unknown): Array<AssistantBlock> => {
  if (!Array.isArray(content)) return []
  const blocks: Array<AssistantBlock> = []
  for (const block of content) {
    if (!isRecord(block)) continue
    switch (block.type) {
      case "text":
        if (typeof block.text === "string") blocks.push({ type: "text", text: block.text })
        break
      case "thinking":
        if (typeof block.thinking === "string") {
          blocks.push({
            type: "thinking",
            thinking: block.thinking,
            signature: typeof block.signature === "string" ? block.signature : ""
          })
        }
        break
      case "redacted_thinking":
        if (typeof block.data === "string") blocks.push({ type: "redacted_thinking", data: block.data })
        break
      case "tool_use":
        if (typeof block.id === "string" && typeof block.name === "string") {
          blocks.push({
            type: "tool_use",
            id: block.id,
            name: block.name,
            input: isJson(block.input) ? block.input : {}
          })
        }
        break
    }
  }
  return blocks
}

const userBlock = (block: Record<string, unknown>): UserBlock | undefined => {
  if (block.type === "text" && typeof block.text === "string") return { type: "text", text: block.text }
  if (block.type === "image" && isRecord(block.source)) {
    const source = block.source
    if (source.type === "base64" && typeof source.media_type === "string" && typeof source.data === "string") {
      return { type: "image", source: { type: "base64", media_type: source.media_type, data: source.data } }
    }
  }
  return undefined
}

const toolContent = (content: unknown): string | Array<UserBlock> => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  return content.flatMap((block) => {
    const kept = isRecord(block) ? userBlock(block) : undefined
    return kept === undefined ? [] : [kept]
  })
}

const nonNegativeInt = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isInteger(u) && u >= 0 ? u : undefined

/** Tool names by tool_use id, per file (the last few files only). */
type ToolNames = Map<string, Map<string, string>>

const namesOf = (names: ToolNames, file: SourceFile): Map<string, string> => {
  let map = names.get(file.path)
  if (map === undefined) {
    if (names.size >= 16) names.delete(names.keys().next().value!)
    map = new Map()
    names.set(file.path, map)
  }
  return map
}

/** Every envelope of a parsed line (see the module's comment). */
export const envelopesOf = (
  value: unknown,
  line: string,
  file: SourceFile,
  seq: number,
  names: ToolNames = new Map()
): Array<Envelope> => {
  if (!isRecord(value)) return []
  const usage = line.includes(USAGE_MARKER) ? usageLineOf(value) : undefined
  const message = isRecord(value.message) ? value.message : undefined
  if (usage !== undefined) {
    const content = assistantBlocks(message?.content)
    const known = namesOf(names, file)
    for (const block of content) if (block.type === "tool_use") known.set(block.id, block.name)
    const stop = message?.stop_reason
    return [
      envelopeOf(
        { ...usage, at: usage.timestamp },
        file,
        seq,
        0,
        modelResponded(usage, content, typeof stop === "string" && STOP_REASONS.has(stop) ? stop as StopReason : null)
      )
    ]
  }
  const fields = {
    uuid: typeof value.uuid === "string" ? value.uuid : undefined,
    parentUuid: typeof value.parentUuid === "string" ? value.parentUuid : null,
    sessionId: typeof value.sessionId === "string" && value.sessionId !== "" ? value.sessionId : undefined,
    isSidechain: value.isSidechain === true,
    agentId: typeof value.agentId === "string" ? value.agentId : undefined,
    at: typeof value.timestamp === "string" ? value.timestamp : ""
  }
  if (value.type === "assistant" && message !== undefined) {
    // An assistant line ccusage does not count: its tool names still matter.
    const known = namesOf(names, file)
    for (const block of assistantBlocks(message.content)) if (block.type === "tool_use") known.set(block.id, block.name)
    return []
  }
  if (value.type !== "user" || message === undefined) return []
  const out: Array<Envelope> = []
  const content = message.content
  if (typeof content === "string") {
    out.push(
      envelopeOf(fields, file, seq, 0, new UserMessageReceived({ content: [{ type: "text", text: content }] }, true))
    )
    return out
  }
  if (!Array.isArray(content)) return out
  const blocks: Array<UserBlock> = []
  const results: Array<Record<string, unknown>> = []
  for (const block of content) {
    if (!isRecord(block)) continue
    if (block.type === "tool_result") results.push(block)
    else {
      const kept = userBlock(block)
      if (kept !== undefined) blocks.push(kept)
    }
  }
  if (blocks.length > 0) out.push(envelopeOf(fields, file, seq, 0, new UserMessageReceived({ content: blocks }, true)))
  const result = isRecord(value.toolUseResult) ? value.toolUseResult : undefined
  const known = names.get(file.path)
  for (const block of results) {
    const toolUseId = typeof block.tool_use_id === "string" ? block.tool_use_id : ""
    out.push(envelopeOf(
      fields,
      file,
      seq,
      out.length,
      new ToolCallCompleted({
        toolUseId,
        tool: known?.get(toolUseId) ?? "unknown",
        content: toolContent(block.content),
        isError: block.is_error === true,
        durationMs: nonNegativeInt(result?.durationMs) ?? 0,
        ...(result?.interrupted === true ? { interrupted: true } : {})
      }, true)
    ))
  }
  return out
}

// --- the format --------------------------------------------------------------------------------

const NO_ENVELOPES: Either.Either<ReadonlyArray<Envelope>, string> = Either.right([])

const tagSet = (projection: Projection.Any): ReadonlySet<string> => new Set(projection.handles)

/**
 * Below this many bytes to read, the usage reader parses its lines instead of scanning them. A
 * scan is JavaScript that pays once V8 has compiled it: over 500 MB it folds about twice as fast
 * as JSON.parse, but a run that reads a few megabytes (a checkpoint's resume) is over before the
 * JIT is: in a fresh process 5 MB fold in ~30 ms parsed against 45–60 ms scanned.
 */
export const SCAN_FROM_BYTES = 16 * 1024 * 1024

/** The usage reader that scans (`scanUsageLine`), given the lines' bytes as Latin-1. */
const scanningUsageReader: ReturnType<FormatReader> = {
  mayHold: (line) => line.includes(USAGE_MARKER),
  marker: USAGE_MARKER,
  latin1: true,
  // Only lines `mayHold` kept come here: the marker is not looked for again.
  decode: (line: string, file: SourceFile, seq: number = 0) => {
    const scanned = scanUsageLine(line)
    if (scanned === NOT_COUNTED) return NO_ENVELOPES
    if (scanned !== DECIDE_BY_PARSING) return Either.right([usageEnvelope(scanned, file, seq)])
    return parsedUsage(utf8(line, 0, line.length), file, seq)
  }
}

/** The envelope of a usage line as JSON.parse reads it (`line` decoded as UTF-8). */
const parsedUsage = (line: string, file: SourceFile, seq: number): Either.Either<ReadonlyArray<Envelope>, string> =>
  Either.map(parse(line), (value) => {
    const usage = usageLineOf(value)
    return usage === undefined ? [] : [usageEnvelope(usage, file, seq)]
  })

/** The usage reader that parses, given the lines decoded as UTF-8: native code, fast from the first line. */
const parsingUsageReader: ReturnType<FormatReader> = {
  mayHold: (line) => line.includes(USAGE_MARKER),
  marker: USAGE_MARKER,
  decode: (line: string, file: SourceFile, seq: number = 0) => parsedUsage(line, file, seq)
}

/**
 * Claude Code's reader. For the built-in `usage` projection: the lines with `"usage":{`, scanned
 * (`scanUsageLine`), or parsed when the run reads less than `scanFromBytes` — both read every
 * line Claude Code writes alike. For any other: the lines that may give an event it handles,
 * parsed. `decode` is given the line's 1-based number in its file, the envelopes' `seq`.
 */
export const readerScanningFrom = (scanFromBytes: number): FormatReader => (projection, reading) => {
  if (projection === usageProjection) {
    return reading !== undefined && reading.bytes < scanFromBytes ? parsingUsageReader : scanningUsageReader
  }
  const tags = tagSet(projection)
  const responses = tags.has("ModelResponded")
  const users = tags.has("UserMessageReceived")
  const tools = tags.has("ToolCallCompleted")
  const names: ToolNames = new Map()
  return {
    // Responses alone: exactly the lines with the usage marker.
    marker: responses && !users && !tools ? USAGE_MARKER : undefined,
    mayHold: (line) =>
      (responses && line.includes(USAGE_MARKER)) ||
      ((users || tools) && line.includes("\"type\":\"user\"")) ||
      (tools && line.includes("\"tool_use\"")),
    decode: (line: string, file: SourceFile, seq: number = 0) =>
      Either.map(parse(line), (value) => envelopesOf(value, line, file, seq, names))
  }
}

/** Claude Code's reader, scanning from `SCAN_FROM_BYTES`. */
export const reader: FormatReader = readerScanningFrom(SCAN_FROM_BYTES)

/** The session a Claude Code file belongs to: its name, or the session folder of a subagent's file. */
export const sourceFileOf = (projects: string, path: string): SourceFile => {
  // A path listed under `projects` is cut, not resolved: `path.relative` costs more than the listing.
  const inside = path.startsWith(projects + nodePath.sep)
  const parts = (inside ? path.slice(projects.length + 1) : nodePath.relative(projects, path)).split(nodePath.sep)
    .filter((part) => part !== "")
  const name = parts[parts.length - 1] ?? ""
  const base = name.endsWith(".jsonl") ? name.slice(0, -".jsonl".length) : name
  const sessionId = parts.length >= 4 && parts[parts.length - 2] === "subagents" ? parts[parts.length - 3]! : base
  return { path, sessionId, project: parts.length >= 2 ? parts[0]! : "unknown" }
}

const listJsonl = (dir: string, out: Array<string>) => {
  let entries: Array<fs.Dirent>
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const entry of entries) {
    // `dir` is resolved and a name holds no separator: joining needs no normalizing.
    const path = `${dir}${nodePath.sep}${entry.name}`
    if (entry.isDirectory()) listJsonl(path, out)
    else if (entry.isFile() && entry.name.endsWith(".jsonl")) out.push(path)
  }
}

/**
 * Claude Code's history under `dir` (its config directory: `~/.claude`, or `CLAUDE_CONFIG_DIR`).
 * `scanFromBytes`: from how many bytes to read the usage reader scans (`SCAN_FROM_BYTES`).
 */
export const claudeCodeSource = (dir: string, options: { readonly scanFromBytes?: number } = {}): Format => {
  const root = nodePath.resolve(dir)
  const projects = nodePath.join(root, "projects")
  const isDirectory = (path: string) => {
    try {
      return fs.statSync(path).isDirectory()
    } catch {
      return false
    }
  }
  return {
    key: sourceKey(`claude-code-${root}`),
    ref: { _tag: "ClaudeCode" },
    reader: options.scanFromBytes === undefined ? reader : readerScanningFrom(options.scanFromBytes),
    files: Effect.suspend(() => {
      if (!isDirectory(projects)) {
        return Effect.fail(
          new ProjectionError({
            path: projects,
            reason: "no Claude Code history here; give Claude Code's config directory (it holds projects/), " +
              "e.g. --claude-dir ~/.claude"
          })
        )
      }
      // A folder that cannot be read is left out, as ccusage leaves it.
      const paths: Array<string> = []
      listJsonl(projects, paths)
      paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      return Effect.succeed(paths.map((path) => sourceFileOf(projects, path)))
    })
  }
}
