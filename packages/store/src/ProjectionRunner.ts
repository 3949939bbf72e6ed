/**
 * The projection runner: folds a projection over a source's session files, keeps a checkpoint
 * so that the next run folds only what was appended since, tails the files as they grow, and
 * folds in worker threads when the projection can merge partial states.
 *
 * - Speed: files are read in 1 MiB chunks and split into lines in a plain loop over their bytes
 *   (as Latin-1: a byte per character); a line the projection does not handle (its tag, found in
 *   those raw bytes) is never decoded, neither from UTF-8 nor from JSON.
 * - Checkpoints live in `WEFT_HOME/projections/<name>/<version>/<source key>.json`: per file the
 *   byte offset after the last folded line, its line count, size, inode, mtime and a fingerprint
 *   of the bytes folded; and the encoded state, its long strings in side files beside it, named
 *   by their content, so that a save writes only the strings that changed (see `CHECKPOINT_VERSION`).
 *   A file that shrank below its cursor, was replaced or rewritten, or is gone rebuilds the
 *   projection from scratch, as does a new version, `rebuild: true`, or a checkpoint that does
 *   not decode (its side files included).
 * - Order: files in the source's order, each file's lines in order; a resumed run folds each
 *   file's new lines in the same file order.
 * - Workers: with `workers > 1`, a `merge`, a way to start a worker and references the worker
 *   can resolve, a fold from scratch starts `workers - 1` worker threads and folds the files in
 *   order on the calling thread meanwhile; as workers are ready, the files not yet started are
 *   split into contiguous runs of about equal size, the calling thread keeping the first, and
 *   the partial states are merged in file order (see `foldInParallel`). A resumed run (usually a
 *   few new lines) folds on the calling thread alone, from the checkpoint's state.
 */
import type { Envelope } from "@weft/kernel/Envelope"
import { lineCodec } from "@weft/kernel/EventCodec"
import type { AnyEvent } from "@weft/kernel/Events"
import * as Projection from "@weft/kernel/Projection"
import { handlesTag, mayHold as projectionMayHold } from "@weft/kernel/Projection"
import type { Duration } from "effect"
import { Deferred, Effect, Either, Exit, FiberId, Option, ParseResult, Random, Schema, Stream } from "effect"
import { isAscii } from "node:buffer"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import type { Worker } from "node:worker_threads"
import * as Core from "./internal/foldFiles.js"
import { candidateFolder, encodeProjectPath, PROJECT_FILE, SESSION_SUFFIX, sessionIdOf } from "./Layout.js"
import { ProjectFile } from "./ProjectDirectory.js"

// --- sources -------------------------------------------------------------------------------

export interface SourceFile {
  readonly path: string
  readonly sessionId: string
  readonly project: string
}

/** How a worker thread finds a source's reader again: functions do not cross threads. */
export type FormatRef = { readonly _tag: "Weft" } | { readonly _tag: "ClaudeCode" }

/** How a worker thread finds the projection again: a built-in by name, or a user's module by path. */
export type ProjectionRef = { readonly _tag: "Builtin"; readonly name: string } | {
  readonly _tag: "File"
  readonly path: string
}

/**
 * For one projection: a cheap test on a raw line (false: skip it undecoded), and the line's
 * envelopes (a Claude Code line may give several, or none).
 *
 * `mayHold` is given the line's bytes as Latin-1, one character per byte, without its newline:
 * ASCII reads as itself (every tag and JSON key a test looks for), anything else as several
 * characters, so a test must look for ASCII only. The runner thus never decodes a line it skips.
 * `decode` is given the line decoded as UTF-8 (or as Latin-1, see `latin1`), and its 1-based
 * number in the file.
 */
export type FormatReader = (projection: Projection.Any, reading?: Reading) => {
  readonly mayHold: (line: string) => boolean
  /**
   * An ASCII string without newlines such that `mayHold(line)` holds exactly when the line
   * contains it: the runner then finds lines by searching the bytes for it, without `mayHold`.
   */
  readonly marker?: string | undefined
  /**
   * True when `decode` takes the line's bytes as Latin-1 too, a character per byte, and decodes
   * as UTF-8 what it needs itself: copying bytes costs less than decoding them. A string of the
   * line it returns shares the line's memory unless copied.
   */
  readonly latin1?: boolean | undefined
  readonly decode: (
    line: string,
    file: SourceFile,
    lineNumber: number
  ) => Either.Either<ReadonlyArray<Envelope>, string>
}

/**
 * What a run is about to read, given to a `FormatReader`: a reader may decode in the way that
 * suits the amount (a scanner that pays once compiled, or the native parser for a few megabytes).
 */
export interface Reading {
  readonly bytes: number
}

/** How a source's files are listed and their lines turned into envelopes. */
export interface Format {
  /** Names the source in checkpoint files, e.g. "all", "project-<encoded>", "session-<id>", "claude-code-<hash>". [a-zA-Z0-9._-] only. */
  readonly key: string
  /** The source's files, in a stable order. */
  readonly files: Effect.Effect<ReadonlyArray<SourceFile>, ProjectionError>
  /** For one projection: a cheap test on a raw line (false: skip it undecoded), and the line's envelopes (a Claude Code line may give several, or none). See `FormatReader`. */
  readonly reader: FormatReader
  /** How a worker thread finds `reader` again; `RunOptions.formatRef` overrides it. */
  readonly ref?: FormatRef
}

export class ProjectionError extends Schema.TaggedError<ProjectionError>()("ProjectionError", {
  path: Schema.String,
  reason: Schema.String,
  /** The 1-based line of `path` at fault, when one is. */
  line: Schema.optional(Schema.Int)
}) {
  override get message() {
    return `${this.path}${this.line === undefined ? "" : `:${this.line}`}: ${this.reason}`
  }
}

export type Selection =
  | { readonly _tag: "Session"; readonly sessionId: string }
  | { readonly _tag: "Project"; readonly project: string }
  | { readonly _tag: "All" }

/** A key for checkpoint file names: only [a-zA-Z0-9._-], and short, with a hash when it had to be cut. */
export const sourceKey = (raw: string): string => {
  const safe = raw.replace(/[^a-zA-Z0-9._-]/g, "-")
  if (safe.length <= 120 && safe === raw) return safe
  const hash = createHash("sha1").update(raw).digest("hex").slice(0, 10)
  return `${safe.slice(0, 100)}.${hash}`
}

/** weft's own lines: `Projection.mayHold` on the raw line, `lineCodec` to decode. */
export const weftReader: FormatReader = (projection) => ({
  mayHold: projectionMayHold(projection),
  decode: (line) => Either.map(lineCodec.decode(line), (envelope) => [envelope])
})

const decodeProjectFile = Schema.decodeUnknownOption(ProjectFile)

/** weft's own sessions under `home` (WEFT_HOME): one session, a project's, or every project's. */
export const weftSource = (home: string, selection: Selection): Format => {
  const root = nodePath.join(home, "projects")
  const listing = (path: string) => (cause: unknown) =>
    new ProjectionError({
      path,
      reason: `could not list the sessions here (${
        cause instanceof Error ? cause.message : String(cause)
      }); check that WEFT_HOME is readable`
    })

  const ownerOf = (dir: string): string | undefined => {
    let text: string
    try {
      text = fs.readFileSync(nodePath.join(dir, PROJECT_FILE), "utf8")
    } catch {
      return undefined
    }
    return Option.getOrUndefined(Option.map(decodeProjectFile(text), (file) => file.path))
  }
  const sessionsIn = (dir: string, project: string): Array<SourceFile> =>
    fs.readdirSync(dir).sort().flatMap((name) => {
      const sessionId = sessionIdOf(name)
      // `dir` is joined already and a name holds no separator: no normalizing, which costs more than the listing.
      return sessionId === undefined ? [] : [{ path: `${dir}${nodePath.sep}${name}`, sessionId, project }]
    })
  const projectFolders = (): Array<{ readonly dir: string; readonly project: string }> => {
    if (!fs.existsSync(root)) return []
    return fs.readdirSync(root).sort().flatMap((name) => {
      const dir = nodePath.join(root, name)
      const project = ownerOf(dir)
      return project === undefined ? [] : [{ dir, project }]
    })
  }

  switch (selection._tag) {
    case "All":
      return {
        key: "all",
        ref: { _tag: "Weft" },
        reader: weftReader,
        files: Effect.try({
          try: () => projectFolders().flatMap(({ dir, project }) => sessionsIn(dir, project)),
          catch: listing(root)
        })
      }
    case "Project":
      return {
        // Paths may encode alike (`/a b`, `/a-b`): a hash of the real path keeps their checkpoints apart.
        key: `${sourceKey(`project-${encodeProjectPath(selection.project)}`)}.${
          createHash("sha1").update(selection.project).digest("hex").slice(0, 8)
        }`,
        ref: { _tag: "Weft" },
        reader: weftReader,
        files: Effect.try({
          try: () => {
            // The project's folder: the first candidate whose project.json names it (see ProjectDirectory).
            for (let attempt = 1;; attempt++) {
              const dir = nodePath.join(root, candidateFolder(selection.project, attempt))
              if (!fs.existsSync(dir)) return []
              const owner = ownerOf(dir)
              if (owner === undefined) return []
              if (owner === selection.project) return sessionsIn(dir, owner)
            }
          },
          catch: listing(root)
        })
      }
    case "Session":
      return {
        key: sourceKey(`session-${selection.sessionId}`),
        ref: { _tag: "Weft" },
        reader: weftReader,
        files: Effect.flatMap(
          Effect.try({
            try: () => {
              // A session id names a file in a project folder, never a path out of it.
              if (/[/\\]/.test(selection.sessionId) || selection.sessionId.startsWith(".")) return []
              const name = selection.sessionId + SESSION_SUFFIX
              for (const { dir, project } of projectFolders()) {
                const path = nodePath.join(dir, name)
                if (fs.existsSync(path)) return [{ path, sessionId: selection.sessionId, project }]
              }
              return []
            },
            catch: listing(root)
          }),
          (files) =>
            files.length > 0 ? Effect.succeed(files) : Effect.fail(
              new ProjectionError({
                path: root,
                reason: `no session ${selection.sessionId} here; list sessions with \`weft sessions\``
              })
            )
        )
      }
  }
}

// --- running -------------------------------------------------------------------------------

export interface Progress {
  readonly files: number
  readonly totalFiles: number
  readonly bytes: number
  readonly totalBytes: number
  readonly events: number
}

/**
 * What a worker thread is started with (as its `workerData`). Its files come later, in a
 * `WorkerShare`: a worker takes a while to start, and what it is given is decided once it is ready.
 */
export interface WorkerData {
  readonly projection: ProjectionRef
  readonly format: FormatRef
  readonly lenient: boolean
  /** The projection's name and version, checked against what the worker resolves. */
  readonly name: string
  readonly version: number
}

/** A file of a worker's share: read from byte `from` (the start of line `line + 1`) up to byte `end`. */
export interface SharedFile {
  readonly file: SourceFile
  readonly from: number
  readonly end: number
  readonly line: number
}

/** What the runner posts to a worker that is `Ready`: the files to fold, in order. */
export interface WorkerShare {
  readonly _tag: "Fold"
  readonly files: ReadonlyArray<SharedFile>
}

/** Starts a worker thread running `ProjectionWorker.workerMain` with `data` as its `workerData`. */
export type WorkerSpawner = (data: WorkerData) => Worker

/**
 * What a worker posts back: `Ready` once it has resolved the projection and the format's reader
 * (it then waits for its `WorkerShare`), its progress while it folds, then `Done` or `Failed`.
 */
export type WorkerMessage =
  | { readonly _tag: "Ready" }
  | { readonly _tag: "Progress"; readonly files: number; readonly bytes: number; readonly events: number }
  | {
    readonly _tag: "Done"
    /** The partial state: encoded with the projection's codec, or as it is without one. */
    readonly state: unknown
    readonly marks: ReadonlyArray<Core.Mark>
    readonly bytes: number
    readonly events: number
    readonly skippedLines: number
  }
  | { readonly _tag: "Failed"; readonly path: string; readonly line?: number; readonly reason: string }

export interface RunOptions {
  /** Ignore and overwrite the checkpoint. */
  readonly rebuild?: boolean
  /** Default true: read and write `WEFT_HOME/projections/<name>/<version>/<format.key>.json`. */
  readonly checkpoint?: boolean
  /**
   * Threads folding a run from scratch, the calling one included: > 1 (with `projection.merge`,
   * `worker`, `projectionRef` and a format ref) starts `workers - 1` worker threads.
   */
  readonly workers?: number
  /**
   * Fold on one thread all the same when there is less than this to read (bytes; default 0):
   * starting workers and merging their states costs more than it saves on a small fold. Nor is
   * a worker given files when less than this is left to read once it is ready.
   */
  readonly minParallelBytes?: number
  /** How to start a worker (the composition root gives it). */
  readonly worker?: WorkerSpawner
  /** How a worker finds the projection. */
  readonly projectionRef?: ProjectionRef
  /** How a worker finds the format's reader; defaults to `format.ref`. */
  readonly formatRef?: FormatRef
  /** Called at most ~10×/s and at the end. */
  readonly onProgress?: (progress: Progress) => void
  /** A line that does not decode: skip and count it instead of failing. Default false. */
  readonly lenient?: boolean
}

export interface Result<S> {
  readonly state: S
  /** The files of the source the state covers. */
  readonly files: number
  /** Bytes read by this run. */
  readonly bytes: number
  /** Envelopes folded by this run. */
  readonly events: number
  /** Lines that did not decode, skipped (lenient). */
  readonly skippedLines: number
  /** The run resumed from a checkpoint. */
  readonly fromCheckpoint: boolean
}

/** Where one file was folded up to, and how it looked then. */
interface FileMark extends SourceFile, Core.Mark {
  readonly size: number
  readonly mtimeMs: number
  readonly ino: number
}

/** A fold's state and the files it covers: what a checkpoint stores. */
interface Memo<S> {
  readonly state: S
  readonly files: ReadonlyArray<FileMark>
  /**
   * The side files of the checkpoint last loaded or saved, with the strings they hold: a save
   * that finds one of these strings in the state again names its file, without hashing the
   * string or writing it.
   */
  readonly stored: ReadonlyArray<Stored>
}

/** A side file of a checkpoint, and the string it holds. */
interface Stored {
  readonly value: string
  readonly file: string
}

// --- checkpoint files ------------------------------------------------------------------------

/**
 * A checkpoint is a head, `<source key>.json`,
 * `{ checkpoint: 2, projection, version, source, files: [marks], strings: [{ at, file, length }], state }`,
 * and beside it one side file per long string of the encoded state, `<source key>.<hash>.str`:
 * the string as UTF-8, named by the first 20 hex digits of the SHA-1 of those bytes. In the
 * head's `state` such a string is `""`; `strings` says where each goes back: `at`, its path from
 * the top of the state (object keys as strings, array indexes as numbers), its file, and its
 * length in UTF-16 code units. A path beside the state rather than a marker inside it, so that
 * any state, whatever strings it holds, round-trips.
 *
 * Why: a projection's state is mostly a few long strings (the usage projection's columns, ~4 MB)
 * that a resumed run changes little or not at all. Named by their content, the strings that did
 * not change keep their files, and a save writes a head of a few kilobytes and what changed.
 * A head of version 1 (every string inline, no `strings`) still loads.
 */
const CHECKPOINT_VERSION = 2

/**
 * Strings of at least this many characters go to side files. A side file costs a file to read on
 * every load and, when its string changes, one to write; a string in the head costs its share of
 * the head's JSON.stringify and write on every save and of its JSON.parse on every load. Measured
 * on the usage projection's checkpoint of 43,000 responses (4 MB), resumed after 1% more data: at
 * 16 Ki its five columns of ~57 Ki characters (a byte or two per response, in base64) go to side
 * files and the head is 110 KB; at 64 Ki they stay in a head of 370 KB, and the save and load
 * take about a millisecond more each.
 */
const SIDE_STRING_MIN = 16 * 1024

/** Where in an encoded state: object keys and array indexes, from the top. */
type JsonPath = ReadonlyArray<string | number>

/** A long string of the state, in `file` beside the head: where it goes back, and its length (UTF-16 code units). */
interface SideString {
  readonly at: JsonPath
  readonly file: string
  readonly length: number
}

/** A checkpoint's head, checked. */
interface Head {
  readonly projection: string
  readonly version: number
  readonly source: string
  readonly files: ReadonlyArray<FileMark>
  readonly strings: ReadonlyArray<SideString>
  /** The encoded state, with `""` where each side string goes. */
  readonly state: unknown
}

/** The side file of `value` beside the head `<stem>.json`. */
const sideFileOf = (stem: string, value: string): string =>
  `${stem}.${createHash("sha1").update(value, "utf8").digest("hex").slice(0, 20)}.str`

/**
 * Whether `name` is a side file of the head `<stem>.json`: `<stem>.<20 hex digits>.str`, and
 * nothing else (not another source's side file, whose key may begin with this one's).
 */
const isSideFile = (stem: string, name: string): boolean =>
  name.length === stem.length + 25 && name.startsWith(`${stem}.`) && name.endsWith(".str") &&
  /^[0-9a-f]{20}$/.test(name.slice(stem.length + 1, stem.length + 21))

/**
 * Node's `String.prototype.isWellFormed` (ES2024, not in this project's lib): false when the
 * string holds a lone surrogate, which UTF-8 cannot carry. For a string of one-byte characters
 * V8 answers without a scan.
 */
const isWellFormed = (value: string): boolean => (value as unknown as { isWellFormed(): boolean }).isWellFormed()

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)
const isString = (u: unknown): u is string => typeof u === "string"
const isNumber = (u: unknown): u is number => typeof u === "number"
const isNonNegative = (u: unknown): u is number => typeof u === "number" && u >= 0
const isNonNegativeInt = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u) && u >= 0

/** A value, shortly, for a one-line reason. */
const shown = (u: unknown): string =>
  u === undefined
    ? "nothing"
    : Array.isArray(u)
    ? "an array"
    : typeof u === "object" && u !== null
    ? "an object"
    : typeof u === "string"
    ? JSON.stringify(u.length > 40 ? `${u.slice(0, 40)}…` : u)
    : String(u)

const expected = (where: string, what: string, actual: unknown): string =>
  `at ${where}: expected ${what}, got ${shown(actual)}`

/**
 * `u` as a file mark, or why it is not one (`where` names it). Checked by hand rather than by a
 * Schema: a checkpoint holds a mark per file, and a Schema's decoding of 250 of them costs
 * several milliseconds before its code is compiled, which a resumed run pays every time.
 */
const checkMark = (u: unknown, where: string): FileMark | string => {
  if (!isRecord(u)) return expected(where, "an object", u)
  const { fingerprint, ino, lines, mtimeMs, offset, path, project, sessionId, size } = u
  if (!isString(path)) return expected(`${where}.path`, "a string", path)
  if (!isString(sessionId)) return expected(`${where}.sessionId`, "a string", sessionId)
  if (!isString(project)) return expected(`${where}.project`, "a string", project)
  if (!isNonNegativeInt(offset)) return expected(`${where}.offset`, "a non-negative integer", offset)
  if (!isNonNegativeInt(lines)) return expected(`${where}.lines`, "a non-negative integer", lines)
  if (!isString(fingerprint)) return expected(`${where}.fingerprint`, "a string", fingerprint)
  if (!isNonNegative(size)) return expected(`${where}.size`, "a non-negative number", size)
  if (!isNumber(mtimeMs)) return expected(`${where}.mtimeMs`, "a number", mtimeMs)
  if (!isNumber(ino)) return expected(`${where}.ino`, "a number", ino)
  return { path, sessionId, project, offset, lines, fingerprint, size, mtimeMs, ino }
}

/** `u` as file marks (a checkpoint's, or a `changes` cursor), or why it is not. */
const checkMarks = (u: unknown, where: string): ReadonlyArray<FileMark> | string => {
  if (!Array.isArray(u)) return expected(where, "an array of file marks", u)
  const marks: Array<FileMark> = []
  for (let i = 0; i < u.length; i++) {
    const mark = checkMark(u[i], `${where}.${i}`)
    if (typeof mark === "string") return mark
    marks.push(mark)
  }
  return marks
}

/** `u` as a head's `strings`, or why it is not. */
const checkSideStrings = (u: unknown, stem: string): ReadonlyArray<SideString> | string => {
  if (!Array.isArray(u)) return expected("strings", "an array", u)
  const sides: Array<SideString> = []
  for (let i = 0; i < u.length; i++) {
    const where = `strings.${i}`
    const side: unknown = u[i]
    if (!isRecord(side)) return expected(where, "an object", side)
    const { at, file, length } = side
    if (!Array.isArray(at) || !at.every((key) => isString(key) || isNonNegativeInt(key))) {
      return expected(`${where}.at`, "a path of keys and indexes", at)
    }
    if (!isString(file) || !isSideFile(stem, file)) return expected(`${where}.file`, `a file ${stem}.<hash>.str`, file)
    if (!isNonNegativeInt(length)) return expected(`${where}.length`, "a non-negative integer", length)
    sides.push({ at, file, length })
  }
  return sides
}

/** The parsed JSON of `<stem>.json` as a head, or why it is not one. */
const checkHead = (u: unknown, stem: string): Head | string => {
  if (!isRecord(u)) return `expected an object, got ${shown(u)}`
  const { checkpoint, files, projection, source, state, strings, version } = u
  if (checkpoint !== 1 && checkpoint !== CHECKPOINT_VERSION) {
    return expected("checkpoint", `1 or ${CHECKPOINT_VERSION}`, checkpoint)
  }
  if (!isString(projection)) return expected("projection", "a string", projection)
  if (!isNumber(version)) return expected("version", "a number", version)
  if (!isString(source)) return expected("source", "a string", source)
  const marks = checkMarks(files, "files")
  if (typeof marks === "string") return marks
  if (!("state" in u)) return expected("state", "a value", state)
  const sides = checkpoint === 1 ? [] : checkSideStrings(strings, stem)
  if (typeof sides === "string") return sides
  return { projection, version, source, files: marks, strings: sides, state }
}

/** The strings of at least `SIDE_STRING_MIN` characters in `state` (JSON), and where they are. */
const longStringsOf = (state: unknown): ReadonlyArray<{ readonly at: JsonPath; readonly value: string }> => {
  const found: Array<{ readonly at: JsonPath; readonly value: string }> = []
  const at: Array<string | number> = []
  const visit = (node: unknown): void => {
    if (typeof node === "string") {
      if (node.length >= SIDE_STRING_MIN) found.push({ at: [...at], value: node })
      return
    }
    if (typeof node !== "object" || node === null) return
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        at.push(i)
        visit(node[i])
        at.pop()
      }
      return
    }
    // JSON.stringify writes what `toJSON` gives, not the object: it goes into the head whole.
    if (typeof (node as { readonly toJSON?: unknown }).toJSON === "function") return
    for (const key of Object.keys(node)) {
      at.push(key)
      visit((node as Readonly<Record<string, unknown>>)[key])
      at.pop()
    }
  }
  visit(state)
  return found
}

/**
 * `state` with `""` at each path, copying only the arrays and objects on the paths (each once):
 * the encoded state may be the projection's own state, which a save must not change.
 */
const blanked = (state: unknown, paths: ReadonlyArray<JsonPath>): unknown => {
  const copies = new Set<unknown>()
  const own = (node: unknown): Record<string | number, unknown> => {
    if (copies.has(node)) return node as Record<string | number, unknown>
    const copy = Array.isArray(node) ? node.slice() : { ...(node as object) }
    copies.add(copy)
    return copy as Record<string | number, unknown>
  }
  let root = state
  for (const at of paths) {
    if (at.length === 0) {
      root = ""
      continue
    }
    const top = own(root)
    root = top
    let parent = top
    for (const key of at.slice(0, -1)) {
      const child = own(parent[key])
      parent[key] = child
      parent = child
    }
    parent[at[at.length - 1]!] = ""
  }
  return root
}

/** What is at `key` of `node` in a parsed state: an own property of an object, or an element of an array. */
const childOf = (node: unknown, key: string | number): unknown =>
  typeof key === "number"
    ? Array.isArray(node) && key < node.length ? node[key] : undefined
    : isRecord(node) && Object.hasOwn(node, key)
    ? node[key]
    : undefined

/**
 * The parsed state of a head (which this load owns, and changes) with each side string put back
 * at its path, where the head must hold `""`; or why it cannot be.
 */
const withSideStrings = (
  state: unknown,
  sides: ReadonlyArray<SideString>,
  values: ReadonlyArray<string>
): Either.Either<unknown, string> => {
  let root = state
  for (let i = 0; i < sides.length; i++) {
    const { at } = sides[i]!
    const wrong = Either.left(`at strings.${i}.at: the state holds no "" at [${at.join(", ")}]`)
    if (at.length === 0) {
      if (root !== "") return wrong
      root = values[i]!
      continue
    }
    let parent = root
    for (const key of at.slice(0, -1)) parent = childOf(parent, key)
    const key = at[at.length - 1]!
    if (childOf(parent, key) !== "") return wrong
    const container = parent as Record<string | number, unknown>
    container[key] = values[i]!
  }
  return Either.right(root)
}

const parseJson = Schema.decodeEither(Schema.parseJson())

/** The first side file in `stored` holding `value`: the same string object, found at once, or an equal one. */
const remembered = (stored: ReadonlyArray<Stored>, value: string): Stored | undefined =>
  stored.find((side) => side.value.length === value.length && side.value === value)

const describe = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "object" && cause !== null && "message" in cause
    ? String(cause.message)
    : String(cause)

/** The checkpoint file of `projection` over `format`. */
export const checkpointPath = (home: string, projection: Projection.Any, format: Format): string =>
  nodePath.join(home, "projections", projection.name, String(projection.version), `${format.key}.json`)

/** A parse error in one line: where in the value, and what is wrong there. */
const firstIssue = (error: ParseResult.ParseError): string => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  return issue === undefined
    ? error.message.split("\n")[0]!
    : `${issue.path.length > 0 ? `at ${issue.path.join(".")}: ` : ""}${issue.message}`
}

const decodeState = <S>(projection: Projection.Projection<S>, encoded: unknown): Either.Either<S, string> =>
  projection.codec === undefined
    ? Either.right(encoded as S)
    : Either.mapLeft(Schema.decodeUnknownEither(projection.codec)(encoded), firstIssue)

const encodeState = <S>(projection: Projection.Projection<S>, state: S): Either.Either<unknown, string> =>
  projection.codec === undefined
    ? Either.right(state)
    : Either.mapLeft(Schema.encodeEither(projection.codec)(state), firstIssue)

/**
 * Checkpoint files are read and written with Node's synchronous calls, as the source's files
 * are: through Effect's FileSystem, the first call of each kind (stat, read, write, make a
 * folder) costs 2–5 ms more in a fresh process, which a resumed run of ~50 ms pays several times.
 */
const readText = (path: string) =>
  Effect.try({ try: () => textOf(fs.readFileSync(path)), catch: (cause) => cause as NodeJS.ErrnoException })

/**
 * UTF-8 bytes as a string, a byte order mark kept (it would be a side string's first character).
 * Most of a checkpoint is ASCII (base64, ids, instants): such bytes are copied as Latin-1, a byte
 * per character, which costs less than decoding them (measured on the usage projection's 4 MB of
 * side files in a fresh process: 3 ms against 7).
 */
const textOf = (bytes: Buffer): string => isAscii(bytes) ? bytes.toString("latin1") : bytes.toString("utf8")

const isNotFound = (error: NodeJS.ErrnoException): boolean => error.code === "ENOENT"

/** Removes `path`, if it can: what is left is only garbage. */
const removeQuietly = (path: string): void => {
  try {
    fs.rmSync(path, { force: true })
  } catch {
    // Left for the next save to collect.
  }
}

/**
 * Removes the side files of the head `<stem>.json` in `dir` that are not `named`: strings that
 * changed, or a run's cut short.
 */
const collectSideFiles = (dir: string, stem: string, named: ReadonlySet<string>): void => {
  let names: ReadonlyArray<string>
  try {
    names = fs.readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) if (isSideFile(stem, name) && !named.has(name)) removeQuietly(nodePath.join(dir, name))
}

const loadCheckpoint = <S>(file: string, projection: Projection.Projection<S>, format: Format) =>
  Effect.gen(function*() {
    const text = yield* readText(file).pipe(
      Effect.map(Option.some),
      Effect.catchAll((error) =>
        isNotFound(error)
          ? Effect.succeed(Option.none<string>())
          : Effect.as(
            Effect.logWarning(`could not read ${file} (${describe(error)}); rebuilding`),
            Option.none<string>()
          )
      )
    )
    if (Option.isNone(text)) return Option.none<Memo<S>>()
    const rebuild = (reason: string) =>
      Effect.as(
        Effect.logWarning(`checkpoint ${file} does not decode; rebuilding (${reason})`),
        Option.none<Memo<S>>()
      )
    const parsed = parseJson(text.value)
    if (Either.isLeft(parsed)) return yield* rebuild(firstIssue(parsed.left))
    const dir = nodePath.dirname(file)
    const stem = nodePath.basename(file, ".json")
    const head = checkHead(parsed.right, stem)
    if (typeof head === "string") return yield* rebuild(head)
    if (head.projection !== projection.name || head.version !== projection.version || head.source !== format.key) {
      yield* Effect.logWarning(`checkpoint ${file} is for another projection or source; rebuilding`)
      return Option.none<Memo<S>>()
    }
    // The side strings, each file read once. A file missing or cut short is a checkpoint that does
    // not decode, as any other: the log holds everything, and the fold starts again.
    const stored: Array<Stored> = []
    const values: Array<string> = []
    for (const side of head.strings) {
      let value = stored.find((known) => known.file === side.file)?.value
      if (value === undefined) {
        const read = yield* Effect.either(readText(nodePath.join(dir, side.file)))
        if (Either.isLeft(read)) {
          return yield* rebuild(
            isNotFound(read.left)
              ? `its side file ${side.file} is missing`
              : `could not read its side file ${side.file} (${describe(read.left)})`
          )
        }
        value = read.right
        stored.push({ value, file: side.file })
      }
      if (value.length !== side.length) {
        return yield* rebuild(`its side file ${side.file} holds ${value.length} characters, not ${side.length}`)
      }
      values.push(value)
    }
    const encoded = withSideStrings(head.state, head.strings, values)
    if (Either.isLeft(encoded)) return yield* rebuild(encoded.left)
    const state = decodeState(projection, encoded.right)
    if (Either.isLeft(state)) {
      yield* Effect.logWarning(`the state in checkpoint ${file} does not decode; rebuilding (${state.left})`)
      return Option.none<Memo<S>>()
    }
    return Option.some<Memo<S>>({ state: state.right, files: head.files, stored })
  }).pipe(Effect.withSpan("ProjectionRunner.loadCheckpoint"))

/**
 * Writes the checkpoint of `memo`: the side files of its long strings that are not there yet,
 * then the head (each written aside and renamed into place, so that a reader finds a whole file
 * or none), then removes the side files the head does not name. Gives the side files the head
 * names, with their strings, for the next save to reuse.
 */
const saveCheckpoint = <S>(file: string, projection: Projection.Projection<S>, format: Format, memo: Memo<S>) =>
  Effect.gen(function*() {
    const failure = (reason: string) => new ProjectionError({ path: file, reason })
    const state = encodeState(projection, memo.state)
    if (Either.isLeft(state)) {
      return yield* failure(
        `the state of projection ${projection.name} does not encode with its codec (${state.left}); fix the codec, or run without a checkpoint`
      )
    }
    const notJson = (cause: unknown) => failure(`the checkpoint does not encode as JSON (${describe(cause)})`)
    // A state that holds itself never ends the walk: the stack overflows, as JSON.stringify's would.
    const long = Either.try({ try: () => longStringsOf(state.right), catch: notJson })
    if (Either.isLeft(long)) return yield* long.left
    const dir = nodePath.dirname(file)
    const stem = nodePath.basename(file, ".json")

    // Each long string: the side file it was loaded from or saved to last, found by comparing
    // strings (the same object at once), or else named by its hash, and written unless whole already.
    const sides: Array<SideString> = []
    const stored: Array<Stored> = []
    const fresh: Array<Stored> = []
    for (const { at, value } of long.right) {
      let side = remembered(stored, value)
      if (side === undefined) {
        const known = remembered(memo.stored, value)
        // In UTF-8 a lone surrogate would read back as U+FFFD: such a string stays in the head,
        // where JSON escapes it.
        if (known === undefined && !isWellFormed(value)) continue
        side = { value, file: known?.file ?? sideFileOf(stem, value) }
        stored.push(side)
        if (known === undefined) fresh.push(side)
      }
      sides.push({ at, file: side.file, length: value.length })
    }
    const text = Either.try({
      try: () =>
        JSON.stringify({
          checkpoint: CHECKPOINT_VERSION,
          projection: projection.name,
          version: projection.version,
          source: format.key,
          files: memo.files.map(({ fingerprint, ino, lines, mtimeMs, offset, path, project, sessionId, size }) => ({
            path,
            sessionId,
            project,
            offset,
            lines,
            fingerprint,
            size,
            mtimeMs,
            ino
          })),
          strings: sides,
          state: blanked(state.right, sides.map((side) => side.at))
        }),
      catch: notJson
    })
    if (Either.isLeft(text)) return yield* text.left

    const writeFailed = (cause: unknown) =>
      failure(`could not write the checkpoint (${describe(cause)}); check WEFT_HOME is writable, or run without one`)
    const writeWhole = (target: string, content: string) =>
      Effect.flatMap(Random.nextInt, (n) => {
        const aside = `${target}.${process.pid}-${n.toString(36)}.tmp`
        return Effect.try({
          try: () => {
            fs.writeFileSync(aside, content)
            fs.renameSync(aside, target)
          },
          catch: (cause) => {
            removeQuietly(aside)
            return writeFailed(cause)
          }
        })
      })
    yield* Effect.try({ try: () => fs.mkdirSync(dir, { recursive: true }), catch: writeFailed })
    for (const side of fresh) {
      const target = nodePath.join(dir, side.file)
      // Named by its content, a file of this name and size holds the string already; one cut
      // short (by a crash, or by hand) is written again.
      const existing = yield* Effect.try({ try: () => statOf(target), catch: writeFailed })
      if (existing?.size !== Buffer.byteLength(side.value, "utf8")) yield* writeWhole(target, side.value)
    }
    yield* writeWhole(file, text.right + "\n")
    // Another run writing this checkpoint at the same time may just have written a head that
    // names a side file this one removes: the next load then finds it missing and rebuilds,
    // which costs a fold from scratch and loses nothing (the log is the truth).
    yield* Effect.sync(() => collectSideFiles(dir, stem, new Set(sides.map((side) => side.file))))
    return stored
  }).pipe(Effect.withSpan("ProjectionRunner.saveCheckpoint"))

/** One file of a run: what to read of it, and how it looked before. */
interface Item {
  readonly file: SourceFile
  readonly size: number
  readonly mtimeMs: number
  readonly ino: number
  readonly from: number
  readonly line: number
  /** Where to stop reading: `from` when there is nothing to read. */
  readonly end: number
  /** Its mark in the checkpoint, kept when nothing is read. */
  readonly prior: FileMark | undefined
}

type Plan =
  | { readonly _tag: "Resume"; readonly items: ReadonlyArray<Item> }
  | { readonly _tag: "Rebuild"; readonly why: string }

const statOf = (path: string): fs.Stats | undefined => {
  try {
    return fs.statSync(path)
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw cause
  }
}

const fingerprintOf = (path: string, offset: number): string => {
  const fd = fs.openSync(path, "r")
  try {
    return Core.fingerprint(fd, offset)
  } finally {
    fs.closeSync(fd)
  }
}

/** Stats the files and decides, against the checkpoint's marks, what to read of each — or that the fold must start again. */
const plan = (files: ReadonlyArray<SourceFile>, prior: ReadonlyArray<FileMark> | undefined): Plan => {
  const marks = new Map((prior ?? []).map((mark) => [mark.path, mark]))
  const items: Array<Item> = []
  for (const file of files) {
    const stat = statOf(file.path)
    if (stat === undefined) continue // gone since it was listed
    const size = stat.size
    const base = { file, size, mtimeMs: stat.mtimeMs, ino: stat.ino }
    const mark = marks.get(file.path)
    marks.delete(file.path)
    if (mark === undefined) {
      items.push({ ...base, from: 0, line: 0, end: size, prior: undefined })
      continue
    }
    if (stat.ino !== mark.ino) return { _tag: "Rebuild", why: `${file.path} was replaced` }
    if (size < mark.offset) return { _tag: "Rebuild", why: `${file.path} shrank` }
    if (size === mark.size && stat.mtimeMs === mark.mtimeMs) {
      items.push({ ...base, from: mark.offset, line: mark.lines, end: mark.offset, prior: mark })
      continue
    }
    if (fingerprintOf(file.path, mark.offset) !== mark.fingerprint) {
      return { _tag: "Rebuild", why: `${file.path} was rewritten` }
    }
    items.push({ ...base, from: mark.offset, line: mark.lines, end: size, prior: mark })
  }
  for (const gone of marks.keys()) return { _tag: "Rebuild", why: `${gone} is gone` }
  return { _tag: "Resume", items }
}

/** Reports progress at most every 100 ms (and when `force`d). */
const makeReporter = (
  onProgress: ((progress: Progress) => void) | undefined,
  now: () => number,
  totals: { readonly totalFiles: number; readonly totalBytes: number }
) => {
  let last = -Infinity
  return (counts: { readonly files: number; readonly bytes: number; readonly events: number }, force = false) => {
    if (onProgress === undefined) return
    const at = now()
    if (!force && at - last < 100) return
    last = at
    onProgress({ ...totals, ...counts })
  }
}

interface Folded<S> {
  readonly state: S
  readonly marks: ReadonlyArray<FileMark>
  readonly bytes: number
  readonly events: number
  readonly skippedLines: number
}

const markOf = (item: Item, mark: Core.Mark): FileMark => ({
  path: item.file.path,
  sessionId: item.file.sessionId,
  project: item.file.project,
  ...mark,
  size: item.size,
  mtimeMs: item.mtimeMs,
  ino: item.ino
})

const unchangedMark = (item: Item): FileMark =>
  item.prior !== undefined
    ? { ...item.prior, size: item.size, mtimeMs: item.mtimeMs, ino: item.ino }
    : markOf(item, { offset: 0, lines: 0, fingerprint: "" })

/** Chunks folded between two turns of the event loop. */
const CHUNKS_PER_YIELD = 8

/**
 * Lets the event loop turn: a signal (Ctrl-C interrupting the fold), a worker's messages, a timer.
 * `Effect.yieldNow` would not do: it yields to other fibers through microtasks, which run before
 * any of those.
 */
const turnEventLoop = Effect.async<void>((resume) => {
  const immediate = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(immediate))
})

/**
 * This thread's fold, a file at a time: `add` folds one more item, after those before it. The
 * caller may decide between two files how far to go, as a parallel fold does.
 */
const makeFolding = <S>(
  projection: Projection.Projection<S>,
  format: Format,
  bytes: number,
  from: S,
  lenient: boolean,
  report: ReturnType<typeof makeReporter>
) => {
  const fold: Core.Fold<S, SourceFile> = {
    reader: format.reader(projection, { bytes }),
    handles: handlesTag(projection),
    evolve: projection.evolve,
    lenient,
    state: from,
    bytes: 0,
    events: 0,
    skippedLines: 0
  }
  const buffers = Core.makeBuffers()
  const marks: Array<FileMark> = []
  let chunks = 0
  /** A file with nothing to read: its mark, with no Effect to run (a resumed run meets hundreds). */
  const unchanged = (item: Item): void => {
    marks.push(unchangedMark(item))
  }
  const add = (item: Item): Effect.Effect<void, ProjectionError> =>
    Effect.gen(function*() {
      if (item.end <= item.from) return unchanged(item)
      const mark = yield* Effect.acquireUseRelease(
        Effect.try({
          try: () => fs.openSync(item.file.path, "r"),
          catch: (cause) =>
            new ProjectionError({ path: item.file.path, reason: `could not open the file (${describe(cause)})` })
        }),
        (fd) =>
          Effect.gen(function*() {
            const folding = Core.foldFile(fold, buffers, fd, item.file, item.from, item.line, item.end)
            for (;;) {
              const step = yield* Effect.try({
                try: folding.step,
                catch: (cause) =>
                  new ProjectionError({ path: item.file.path, reason: `could not read the file (${describe(cause)})` })
              })
              report({ files: marks.length, bytes: fold.bytes, events: fold.events })
              if (step._tag === "Done") return step.mark
              if (step._tag === "Failed") {
                return yield* new ProjectionError({
                  path: item.file.path,
                  line: step.line,
                  reason: failureReason(step.reason, lenient)
                })
              }
              if (++chunks % CHUNKS_PER_YIELD === 0) yield* turnEventLoop
            }
          }),
        (fd) => Effect.sync(() => fs.closeSync(fd))
      )
      marks.push(markOf(item, mark))
    })
  const folded = (): Folded<S> => ({
    state: fold.state,
    marks,
    bytes: fold.bytes,
    events: fold.events,
    skippedLines: fold.skippedLines
  })
  return { add, unchanged, folded }
}

/** Folds the items in order on this thread. */
const foldHere = <S>(
  projection: Projection.Projection<S>,
  format: Format,
  items: ReadonlyArray<Item>,
  from: S,
  lenient: boolean,
  report: ReturnType<typeof makeReporter>
) =>
  Effect.gen(function*() {
    const bytes = items.reduce((n, item) => n + (item.end - item.from), 0)
    const folding = makeFolding(projection, format, bytes, from, lenient, report)
    for (const item of items) {
      if (item.end <= item.from) folding.unchanged(item)
      else yield* folding.add(item)
    }
    return folding.folded()
  })

/** The reason a fold failed on a line, and what to do about it. */
export const failureReason = (reason: string, lenient: boolean): string =>
  reason.startsWith("the projection threw")
    ? reason
    : `this line does not decode (${reason}); inspect the log with \`weft doctor\`${
      lenient ? "" : ", or fold leniently to skip such lines"
    }`

type Done = Extract<WorkerMessage, { _tag: "Done" }>

/** A worker thread of a parallel fold, followed from its start to its partial state. */
interface Helper {
  readonly worker: Worker
  /**
   * Starting: not ready yet. Ready: waiting for its share. Folding: given one. Dismissed: given
   * none and stopped; what it posts or how it ends no longer matters.
   */
  phase: "Starting" | "Ready" | "Folding" | "Dismissed"
  /** Its share, once it has one: where it starts among the files read, and its files. */
  share: { readonly start: number; readonly items: ReadonlyArray<Item> } | undefined
  /** What it posts when done, or how it failed. */
  readonly outcome: Deferred.Deferred<Done, ProjectionError>
  /** Its termination, once asked for. */
  stopping: Promise<number> | undefined
}

const stopHelper = (helper: Helper): Promise<number> => helper.stopping ??= helper.worker.terminate()

/**
 * Starts a worker thread with `data` and follows it: its phase, its progress, its outcome. A
 * failure of a worker not dismissed fails `failed` too, so that the whole fold stops at once.
 * The worker is terminated when the scope closes, whatever happened (Ctrl-C included).
 */
const startHelper = (
  spawn: WorkerSpawner,
  data: WorkerData,
  where: string,
  failed: Deferred.Deferred<never, ProjectionError>,
  onProgress: (message: Extract<WorkerMessage, { _tag: "Progress" }>) => void
) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const worker = spawn(data)
        const helper: Helper = {
          worker,
          phase: "Starting",
          share: undefined,
          outcome: Deferred.unsafeMake(FiberId.none),
          stopping: undefined
        }
        let settled = false
        const settle = (outcome: Exit.Exit<Done, ProjectionError>) => {
          if (settled || helper.phase === "Dismissed") return
          settled = true
          Deferred.unsafeDone(helper.outcome, outcome)
          if (Exit.isFailure(outcome)) Deferred.unsafeDone(failed, Exit.failCause(outcome.cause))
        }
        const fail = (path: string, reason: string, line?: number) =>
          settle(Exit.fail(new ProjectionError({ path, reason, ...(line === undefined ? {} : { line }) })))
        const at = () => helper.share?.items[0]?.file.path ?? where
        worker.on("message", (message: WorkerMessage) => {
          switch (message._tag) {
            case "Ready":
              if (helper.phase === "Starting") helper.phase = "Ready"
              return
            case "Progress":
              return onProgress(message)
            case "Done":
              return settle(Exit.succeed(message))
            case "Failed":
              return fail(message.path, message.reason, message.line)
          }
        })
        worker.on("error", (cause) => fail(at(), `a worker failed (${describe(cause)})`))
        worker.on("exit", (code) => fail(at(), `a worker exited (code ${code}) before it was done`))
        return helper
      },
      catch: (cause) => new ProjectionError({ path: where, reason: `could not start a worker (${describe(cause)})` })
    }),
    (helper) => Effect.promise(() => stopHelper(helper))
  )

/** A worker's partial state, once it is done, decoded, its marks those of its share's files. */
const partialState = <S>(
  projection: Projection.Projection<S>,
  { helper, share }: { readonly helper: Helper; readonly share: NonNullable<Helper["share"]> }
) =>
  Effect.flatMap(Deferred.await(helper.outcome), (reply) => {
    const partial = decodeState(projection, reply.state)
    return Either.isLeft(partial)
      ? new ProjectionError({
        path: share.items[0]!.file.path,
        reason: `a worker's partial state does not decode (${partial.left}); check the projection's codec`
      })
      : Effect.succeed({
        ...reply,
        state: partial.right,
        marks: reply.marks.map((mark, j) => markOf(share.items[j]!, mark))
      })
  })

/**
 * Between two files, while a worker may still become ready, the event loop turns (so that its
 * `Ready` is seen) at most this often, in ms: a turn costs little, but a file may cost less.
 */
const READY_CHECK_MS = 2

/**
 * Folds the items (from scratch) on `parallel.workers` threads: this one and `workers - 1` worker
 * threads. The workers are started first, with no files: a worker takes a while to start (it
 * loads the program), and an equal share decided up front left this thread idle, done with its
 * own, while a worker still folded its late-started one. This thread meanwhile folds the files in
 * order from the first. Whenever workers are ready, the files this thread has not started are
 * split into contiguous runs of about equal size (`Core.partition`), one for each thread that
 * could still fold: this thread keeps the first runs — its own and those of the workers not ready
 * yet, which a worker ready later splits again — and each ready worker takes one of the last. So
 * this thread's state stays one contiguous prefix of the files, each worker's a later run, and
 * merging them in file order gives what one thread folding every file would. A worker not ready
 * when this thread has nothing left to share (fewer than two files, or less than
 * `minParallelBytes`) gets nothing and is terminated; every worker is terminated at the end.
 */
const foldInParallel = <S>(
  projection: Projection.Projection<S>,
  format: Format,
  items: ReadonlyArray<Item>,
  lenient: boolean,
  parallel: {
    readonly workers: number
    readonly minParallelBytes: number
    readonly spawn: WorkerSpawner
    readonly projectionRef: ProjectionRef
    readonly formatRef: FormatRef
    readonly merge: (a: S, b: S) => S
  },
  report: ReturnType<typeof makeReporter>
) =>
  Effect.gen(function*() {
    const toRead = items.filter((item) => item.end > item.from)
    const sizes = toRead.map((item) => item.end - item.from)
    const unchanged = items.length - toRead.length
    // Progress: this thread's counts first, then each worker's.
    const counts = Array.from({ length: parallel.workers }, () => ({ files: 0, bytes: 0, events: 0 }))
    const reportPart =
      (i: number) => (progress: { readonly files: number; readonly bytes: number; readonly events: number }) => {
        counts[i] = { files: progress.files, bytes: progress.bytes, events: progress.events }
        report(
          counts.reduce(
            (a, b) => ({ files: a.files + b.files, bytes: a.bytes + b.bytes, events: a.events + b.events }),
            { files: unchanged, bytes: 0, events: 0 }
          )
        )
      }
    const failed = yield* Deferred.make<never, ProjectionError>()
    const data: WorkerData = {
      projection: parallel.projectionRef,
      format: parallel.formatRef,
      lenient,
      name: projection.name,
      version: projection.version
    }
    const helpers = yield* Effect.forEach(
      Array.from({ length: parallel.workers - 1 }, (_, i) => i + 1),
      (i) => startHelper(parallel.spawn, data, format.key, failed, reportPart(i))
    )

    const total = sizes.reduce((n, size) => n + size, 0)
    const here = makeFolding(projection, format, total, projection.initial, lenient, reportPart(0))
    const waiting = (helper: Helper) => helper.phase === "Starting" || helper.phase === "Ready"
    const dismiss = (helper: Helper) => {
      helper.phase = "Dismissed"
      // Awaited when the scope closes.
      stopHelper(helper)
    }
    /** This thread's run ends before file `end`; it has `left` bytes of files not started. */
    let end = toRead.length
    let left = total
    /**
     * Before this thread starts file `next`: hands the ready workers their shares of the files
     * not started, or dismisses the workers waiting when there is too little left to share.
     * Returns the bytes given.
     */
    const shareOut = (next: number): number => {
      if (end - next < 2 || left < parallel.minParallelBytes) {
        for (const helper of helpers) if (waiting(helper)) dismiss(helper)
        return 0
      }
      const ready = helpers.filter((helper) => helper.phase === "Ready")
      if (ready.length === 0) return 0
      const starting = helpers.filter((helper) => helper.phase === "Starting").length
      const starts = Core.partition(sizes.slice(next, end), 1 + starting + ready.length).map((start) => next + start)
      // The ready workers take the last runs, this thread keeps the others (fewer files than runs: fewer runs).
      const given = Math.min(ready.length, starts.length - 1)
      const first = starts.length - given
      let bytes = 0
      for (const [j, helper] of ready.entries()) {
        if (j >= given) {
          dismiss(helper)
          continue
        }
        const start = starts[first + j]!
        const share = toRead.slice(start, starts[first + j + 1] ?? end)
        helper.phase = "Folding"
        helper.share = { start, items: share }
        helper.worker.postMessage(
          {
            _tag: "Fold",
            files: share.map(({ end, file, from, line }) => ({ file, from, end, line }))
          } satisfies WorkerShare
        )
        bytes += share.reduce((n, item) => n + (item.end - item.from), 0)
      }
      if (given > 0) end = starts[first]!
      left -= bytes
      return bytes
    }

    const clock = yield* Effect.clock
    const front = Effect.gen(function*() {
      let lastTurn = clock.unsafeCurrentTimeMillis()
      for (let next = 0; next < end; next++) {
        if (helpers.some(waiting)) {
          if (clock.unsafeCurrentTimeMillis() - lastTurn >= READY_CHECK_MS) {
            yield* turnEventLoop
            lastTurn = clock.unsafeCurrentTimeMillis()
          }
          const given = shareOut(next)
          if (given > 0) {
            yield* Effect.logDebug(
              `projection ${projection.name}: ${total - left - given} of ${total} bytes folded here when ` +
                `workers were ready; they fold ${given}, this thread ${left}`
            )
          }
        }
        yield* here.add(toRead[next]!)
        left -= sizes[next]!
      }
      for (const helper of helpers) if (waiting(helper)) dismiss(helper)
    })
    // A worker's failure stops this thread's fold at once.
    yield* Effect.raceFirst(front, Deferred.await(failed))

    // The workers' partial states, each decoded as soon as its worker is done, in file order.
    const shared = helpers.flatMap((helper) => helper.share === undefined ? [] : [{ helper, share: helper.share }])
      .sort((a, b) => a.share.start - b.share.start)
    const inWorkers = yield* Effect.forEach(shared, (part) => partialState(projection, part), {
      concurrency: "unbounded"
    })
    const inOrder = [here.folded(), ...inWorkers]
    const marks = new Map<string, FileMark>()
    for (const part of inOrder) for (const mark of part.marks) marks.set(mark.path, mark)
    return {
      state: inOrder.map((part) => part.state).reduce(parallel.merge),
      marks: items.map((item) => marks.get(item.file.path) ?? unchangedMark(item)),
      bytes: inOrder.reduce((n, part) => n + part.bytes, 0),
      events: inOrder.reduce((n, part) => n + part.events, 0),
      skippedLines: inOrder.reduce((n, part) => n + part.skippedLines, 0)
    } satisfies Folded<S>
  }).pipe(Effect.scoped)

const sameMarks = (a: ReadonlyArray<FileMark>, b: ReadonlyArray<FileMark>): boolean =>
  a.length === b.length && a.every((mark, i) => {
    const other = b[i]!
    return mark.path === other.path && mark.offset === other.offset && mark.lines === other.lines &&
      mark.size === other.size && mark.mtimeMs === other.mtimeMs && mark.ino === other.ino &&
      mark.fingerprint === other.fingerprint
  })

interface Step<S> {
  readonly result: Result<S>
  readonly memo: Memo<S>
  /** The state may differ from the one before. */
  readonly changed: boolean
  /** Anything the checkpoint records moved. */
  readonly dirty: boolean
}

/** One run from `prior` (a checkpoint, or nothing): plans, folds, returns the result and what to checkpoint. */
const runFrom = <S>(
  projection: Projection.Projection<S>,
  format: Format,
  options: RunOptions,
  prior: Option.Option<Memo<S>>
) =>
  Effect.gen(function*() {
    const files = yield* format.files
    const planFiles = (marks: ReadonlyArray<FileMark> | undefined) =>
      Effect.try({
        try: () => plan(files, marks),
        catch: (cause) =>
          new ProjectionError({ path: format.key, reason: `could not look at the source's files (${describe(cause)})` })
      })
    let from = prior
    let planned = yield* planFiles(Option.getOrUndefined(Option.map(prior, (memo) => memo.files)))
    if (planned._tag === "Rebuild") {
      yield* Effect.logDebug(`projection ${projection.name}: ${planned.why}; rebuilding`)
      from = Option.none()
      planned = yield* planFiles(undefined)
    }
    // Without marks to compare with, a plan never asks to rebuild.
    const items = planned._tag === "Resume" ? planned.items : []

    const clock = yield* Effect.clock
    const totalBytes = items.reduce((n, item) => n + (item.end - item.from), 0)
    const report = makeReporter(options.onProgress, () => clock.unsafeCurrentTimeMillis(), {
      totalFiles: items.length,
      totalBytes
    })
    const lenient = options.lenient ?? false
    const formatRef = options.formatRef ?? format.ref
    const workers = options.workers ?? 1
    const parallel = Option.isNone(from) && workers > 1 && projection.merge !== undefined &&
        totalBytes >= (options.minParallelBytes ?? 0) &&
        options.worker !== undefined && options.projectionRef !== undefined && formatRef !== undefined &&
        items.filter((item) => item.end > item.from).length > 1
      ? {
        workers,
        minParallelBytes: options.minParallelBytes ?? 0,
        spawn: options.worker,
        projectionRef: options.projectionRef,
        formatRef,
        merge: projection.merge
      }
      : undefined
    const start = Option.match(from, { onNone: () => projection.initial, onSome: (memo) => memo.state })
    const folded: Folded<S> = parallel !== undefined
      ? yield* foldInParallel(projection, format, items, lenient, parallel, report)
      : yield* foldHere(projection, format, items, start, lenient, report)
    report({ files: items.length, bytes: folded.bytes, events: folded.events }, true)

    const priorMarks = Option.match(from, { onNone: () => undefined, onSome: (memo) => memo.files })
    return {
      result: {
        state: folded.state,
        files: items.length,
        bytes: folded.bytes,
        events: folded.events,
        skippedLines: folded.skippedLines,
        fromCheckpoint: Option.isSome(from)
      },
      // The side files stay known across a rebuild: a string of the new state may be in one still.
      memo: {
        state: folded.state,
        files: folded.marks,
        stored: Option.match(prior, { onNone: () => [], onSome: (memo) => memo.stored })
      },
      changed: folded.events > 0 || priorMarks === undefined,
      dirty: priorMarks === undefined || folded.events > 0 || !sameMarks(priorMarks, folded.marks)
    } satisfies Step<S>
  })

const runAndSave = <S>(
  home: string,
  projection: Projection.Projection<S>,
  format: Format,
  options: RunOptions,
  prior: Option.Option<Memo<S>>
) =>
  Effect.gen(function*() {
    const step = yield* runFrom(projection, format, options, prior)
    if (options.checkpoint === false || !step.dirty) return step
    const stored = yield* saveCheckpoint(checkpointPath(home, projection, format), projection, format, step.memo)
    // The next save (a `follow` step) compares its strings with what this one wrote.
    return { ...step, memo: { ...step.memo, stored } } satisfies Step<S>
  })

const initialMemo = <S>(home: string, projection: Projection.Projection<S>, format: Format, options: RunOptions) =>
  options.checkpoint === false || options.rebuild === true
    ? Effect.succeed(Option.none<Memo<S>>())
    : loadCheckpoint(checkpointPath(home, projection, format), projection, format)

/**
 * Folds `projection` over `format`'s files: from its checkpoint when there is one (only what
 * was appended since), and writes the checkpoint again.
 */
export const run = <S>(
  home: string,
  projection: Projection.Projection<S>,
  format: Format,
  options: RunOptions = {}
): Effect.Effect<Result<S>, ProjectionError> =>
  Effect.gen(function*() {
    const prior = yield* initialMemo(home, projection, format, options)
    const step = yield* runAndSave(home, projection, format, options, prior)
    return step.result
  }).pipe(Effect.withSpan("ProjectionRunner.run", { attributes: { projection: projection.name, source: format.key } }))

/** Runs, then keeps folding what is appended (new files included), emitting the state after each change, until interrupted. */
export const follow = <S>(
  home: string,
  projection: Projection.Projection<S>,
  format: Format,
  options: RunOptions & { readonly interval?: Duration.DurationInput } = {}
): Stream.Stream<Result<S>, ProjectionError> =>
  Stream.unwrap(Effect.gen(function*() {
    const interval = options.interval ?? "1 second"
    const prior = yield* initialMemo(home, projection, format, options)
    const first = yield* runAndSave(home, projection, format, options, prior)
    const later = Stream.unfoldEffect(first.memo, (memo) =>
      Effect.gen(function*() {
        yield* Effect.sleep(interval)
        const step = yield* runAndSave(home, projection, format, options, Option.some(memo))
        return Option.some([step.changed ? Option.some(step.result) : Option.none<Result<S>>(), step.memo] as const)
      }))
    return Stream.concat(Stream.succeed(first.result), Stream.filterMap(later, (result) => result))
  }))

// Changes: what was appended since a cursor ---------------------------------------------------------

/** A file's mark in a `changes` cursor: JSON (an object type, not an interface, so that it is assignable to `Json`). */
type CursorMark = { readonly [K in keyof FileMark]: FileMark[K] }

export interface Changes {
  /** The envelopes of the tags asked for, each file's in order, the files in the source's order. */
  readonly envelopes: ReadonlyArray<Envelope>
  /** Where every file was read up to (JSON): give it to the next call. */
  readonly cursor: ReadonlyArray<CursorMark>
  /** The cursor did not fit the files (one was rewritten, shrank or went away): `envelopes` is everything. */
  readonly rebuilt: boolean
  /** Lines that did not decode, skipped. */
  readonly skippedLines: number
}

/**
 * What was appended to `format`'s files since `cursor` (undefined: everything): the envelopes of
 * the event tags in `handles`, read as a projection run reads them (lines of other tags are
 * skipped undecoded), and the cursor after them. The caller keeps the cursor, and so decides
 * when what it read counts as done — a long-lived index saves the cursor with its own state.
 * Lines that do not decode are skipped and counted.
 */
export const changes = (
  format: Format,
  handles: ReadonlyArray<AnyEvent["_tag"]>,
  cursor: unknown
): Effect.Effect<Changes, ProjectionError> =>
  Effect.gen(function*() {
    const checked = cursor === undefined ? undefined : checkMarks(cursor, "cursor")
    const prior = checked === undefined || typeof checked === "string" ? Option.none() : Option.some(checked)
    const files = yield* format.files
    const planFiles = (marks: ReadonlyArray<FileMark> | undefined) =>
      Effect.try({
        try: () => plan(files, marks),
        catch: (cause) =>
          new ProjectionError({ path: format.key, reason: `could not look at the source's files (${describe(cause)})` })
      })
    let rebuilt = cursor !== undefined && Option.isNone(prior)
    let planned = yield* planFiles(Option.getOrUndefined(prior))
    if (planned._tag === "Rebuild") {
      rebuilt = true
      planned = yield* planFiles(undefined)
    }
    const items = planned._tag === "Resume" ? planned.items : []
    const collected: Array<Envelope> = []
    // Collects into one array it owns: a fold of a log this run alone sees.
    const collecting = Projection.make<Array<Envelope>>({
      name: "changes",
      version: 1,
      handles,
      initial: collected,
      evolve: (all, envelope) => {
        all.push(envelope)
        return all
      }
    })
    const report = makeReporter(undefined, () => 0, { totalFiles: 0, totalBytes: 0 })
    const folded = yield* foldHere(collecting, format, items, collected, true, report)
    return { envelopes: folded.state, cursor: folded.marks, rebuilt, skippedLines: folded.skippedLines }
  })
