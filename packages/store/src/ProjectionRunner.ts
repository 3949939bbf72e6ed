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
 *   of the bytes folded; and the encoded state. A file that shrank below its cursor, was
 *   replaced or rewritten, or is gone rebuilds the projection from scratch, as does a new
 *   version, `rebuild: true`, or a checkpoint that does not decode.
 * - Order: files in the source's order, each file's lines in order; a resumed run folds each
 *   file's new lines in the same file order.
 * - Workers: with `workers > 1`, a `merge`, a way to start a worker and references the worker
 *   can resolve, a fold from scratch splits the files into `workers` contiguous runs of about
 *   equal size, folds the first on the calling thread and each other one in a worker thread,
 *   and merges the partial states in file order. A resumed run (usually a few new lines) folds
 *   on the calling thread alone, from the checkpoint's state.
 */
import { FileSystem, Path } from "@effect/platform"
import type { Envelope } from "@weft/kernel/Envelope"
import { lineCodec } from "@weft/kernel/EventCodec"
import type { AnyEvent } from "@weft/kernel/Events"
import * as Projection from "@weft/kernel/Projection"
import { handlesTag, mayHold as projectionMayHold } from "@weft/kernel/Projection"
import type { Duration } from "effect"
import { Effect, Either, Option, ParseResult, Random, Schema, Stream } from "effect"
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
export type FormatReader = (projection: Projection.Any) => {
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
      return sessionId === undefined ? [] : [{ path: nodePath.join(dir, name), sessionId, project }]
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

/** What a worker thread is started with (as its `workerData`). */
export interface WorkerData {
  readonly projection: ProjectionRef
  readonly format: FormatRef
  /** The files to fold, in order: from byte `from` (the start of line `line + 1`) up to byte `end`. */
  readonly files: ReadonlyArray<
    { readonly file: SourceFile; readonly from: number; readonly end: number; readonly line: number }
  >
  readonly lenient: boolean
  /** The projection's name and version, checked against what the worker resolves. */
  readonly name: string
  readonly version: number
}

/** Starts a worker thread running `ProjectionWorker.workerMain` with `data` as its `workerData`. */
export type WorkerSpawner = (data: WorkerData) => Worker

/** What a worker posts back. */
export type WorkerMessage =
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
   * starting workers and merging their states costs more than it saves on a small fold.
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
}

/** A file's mark as a checkpoint (or a `changes` cursor) stores it. */
const FileMarkSchema = Schema.Struct({
  path: Schema.String,
  sessionId: Schema.String,
  project: Schema.String,
  offset: Schema.NonNegativeInt,
  lines: Schema.NonNegativeInt,
  fingerprint: Schema.String,
  size: Schema.NonNegative,
  mtimeMs: Schema.Number,
  ino: Schema.Number
})

const CheckpointSchema = Schema.parseJson(Schema.Struct({
  checkpoint: Schema.Literal(1),
  projection: Schema.String,
  version: Schema.Number,
  source: Schema.String,
  files: Schema.Array(FileMarkSchema),
  state: Schema.Unknown
}))
const decodeCheckpoint = Schema.decodeUnknownEither(CheckpointSchema)
const encodeCheckpoint = Schema.encodeEither(CheckpointSchema)

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

const loadCheckpoint = <S>(file: string, projection: Projection.Projection<S>, format: Format) =>
  Effect.gen(function*() {
    const fileSystem = yield* FileSystem.FileSystem
    const text = yield* fileSystem.readFileString(file).pipe(
      Effect.map(Option.some),
      Effect.catchAll((error) =>
        error._tag === "SystemError" && error.reason === "NotFound"
          ? Effect.succeed(Option.none<string>())
          : Effect.as(Effect.logWarning(`could not read ${file} (${error.message}); rebuilding`), Option.none<string>())
      )
    )
    if (Option.isNone(text)) return Option.none<Memo<S>>()
    const decoded = decodeCheckpoint(text.value)
    if (Either.isLeft(decoded)) {
      yield* Effect.logWarning(
        `checkpoint ${file} does not decode; rebuilding (${firstIssue(decoded.left)})`
      )
      return Option.none<Memo<S>>()
    }
    const checkpoint = decoded.right
    if (
      checkpoint.projection !== projection.name || checkpoint.version !== projection.version ||
      checkpoint.source !== format.key
    ) {
      yield* Effect.logWarning(`checkpoint ${file} is for another projection or source; rebuilding`)
      return Option.none<Memo<S>>()
    }
    const state = decodeState(projection, checkpoint.state)
    if (Either.isLeft(state)) {
      yield* Effect.logWarning(`the state in checkpoint ${file} does not decode; rebuilding (${state.left})`)
      return Option.none<Memo<S>>()
    }
    return Option.some<Memo<S>>({ state: state.right, files: checkpoint.files })
  })

const saveCheckpoint = <S>(file: string, projection: Projection.Projection<S>, format: Format, memo: Memo<S>) =>
  Effect.gen(function*() {
    const fileSystem = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const failure = (reason: string) => new ProjectionError({ path: file, reason })
    const state = encodeState(projection, memo.state)
    if (Either.isLeft(state)) {
      return yield* failure(
        `the state of projection ${projection.name} does not encode with its codec (${state.left}); fix the codec, or run without a checkpoint`
      )
    }
    const text = encodeCheckpoint({
      checkpoint: 1,
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
      state: state.right
    })
    if (Either.isLeft(text)) {
      return yield* failure(`the checkpoint does not encode as JSON (${firstIssue(text.left)})`)
    }
    const aside = `${file}.${process.pid}-${(yield* Random.nextInt).toString(36)}.tmp`
    const writeFailed = (error: { readonly message: string }) =>
      failure(`could not write the checkpoint (${error.message}); check WEFT_HOME is writable, or run without one`)
    yield* fileSystem.makeDirectory(path.dirname(file), { recursive: true }).pipe(Effect.mapError(writeFailed))
    yield* fileSystem.writeFileString(aside, text.right + "\n").pipe(
      Effect.zipRight(fileSystem.rename(aside, file)),
      Effect.tapError(() => Effect.ignore(fileSystem.remove(aside))),
      Effect.mapError(writeFailed)
    )
  })

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
    const fold: Core.Fold<S, SourceFile> = {
      reader: format.reader(projection),
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
    for (const item of items) {
      if (item.end <= item.from) {
        marks.push(unchangedMark(item))
        continue
      }
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
    }
    return { state: fold.state, marks, bytes: fold.bytes, events: fold.events, skippedLines: fold.skippedLines }
  })

/** The reason a fold failed on a line, and what to do about it. */
export const failureReason = (reason: string, lenient: boolean): string =>
  reason.startsWith("the projection threw")
    ? reason
    : `this line does not decode (${reason}); inspect the log with \`weft doctor\`${
      lenient ? "" : ", or fold leniently to skip such lines"
    }`

/** Runs one worker over `data`, reporting its progress, until it posts its partial state. */
const runWorker = (
  spawn: WorkerSpawner,
  data: WorkerData,
  onProgress: (message: Extract<WorkerMessage, { _tag: "Progress" }>) => void
) =>
  Effect.async<Extract<WorkerMessage, { _tag: "Done" }>, ProjectionError>((resume) => {
    const where = data.files[0]?.file.path ?? "worker"
    let worker: Worker
    try {
      worker = spawn(data)
    } catch (cause) {
      resume(Effect.fail(new ProjectionError({ path: where, reason: `could not start a worker (${describe(cause)})` })))
      return
    }
    let settled = false
    const settle = (outcome: Effect.Effect<Extract<WorkerMessage, { _tag: "Done" }>, ProjectionError>) => {
      if (settled) return
      settled = true
      resume(Effect.ensuring(outcome, Effect.promise(() => worker.terminate())))
    }
    worker.on("message", (message: WorkerMessage) => {
      switch (message._tag) {
        case "Progress":
          return onProgress(message)
        case "Done":
          return settle(Effect.succeed(message))
        case "Failed":
          return settle(
            Effect.fail(
              new ProjectionError({
                path: message.path,
                reason: message.reason,
                ...(message.line === undefined ? {} : { line: message.line })
              })
            )
          )
      }
    })
    worker.on("error", (cause) =>
      settle(Effect.fail(new ProjectionError({ path: where, reason: `a worker failed (${describe(cause)})` }))))
    worker.on("exit", (code) =>
      settle(
        Effect.fail(
          new ProjectionError({ path: where, reason: `a worker exited (code ${code}) before it was done` })
        )
      ))
    return Effect.promise(() =>
      worker.terminate()
    )
  })

/**
 * Folds the items (from scratch) on `parallel.workers` threads: this one and `workers - 1` worker
 * threads, each given one contiguous run of the files (this thread the first, while the workers
 * fold theirs), and merges the partial states in file order. Folding a share here rather than
 * waiting costs one worker's start and one partial state's trip through the codec less.
 */
const foldInParallel = <S>(
  projection: Projection.Projection<S>,
  format: Format,
  items: ReadonlyArray<Item>,
  lenient: boolean,
  parallel: {
    readonly workers: number
    readonly spawn: WorkerSpawner
    readonly projectionRef: ProjectionRef
    readonly formatRef: FormatRef
    readonly merge: (a: S, b: S) => S
  },
  report: ReturnType<typeof makeReporter>
) =>
  Effect.gen(function*() {
    const toRead = items.filter((item) => item.end > item.from)
    const starts = Core.partition(toRead.map((item) => item.end - item.from), parallel.workers)
    const runs = starts.map((start, i) => toRead.slice(start, starts[i + 1] ?? toRead.length))
    const counts = runs.map(() => ({ files: 0, bytes: 0, events: 0 }))
    const unchanged = items.length - toRead.length
    const reportRun =
      (i: number) => (progress: { readonly files: number; readonly bytes: number; readonly events: number }) => {
        counts[i] = { files: progress.files, bytes: progress.bytes, events: progress.events }
        report(
          counts.reduce(
            (a, b) => ({ files: a.files + b.files, bytes: a.bytes + b.bytes, events: a.events + b.events }),
            {
              files: unchanged,
              bytes: 0,
              events: 0
            }
          )
        )
      }
    // The workers' runs: each partial state is decoded as soon as its worker is done.
    const inWorkers = runs.slice(1).map((run, w) =>
      runWorker(
        parallel.spawn,
        {
          projection: parallel.projectionRef,
          format: parallel.formatRef,
          files: run.map((item) => ({ file: item.file, from: item.from, end: item.end, line: item.line })),
          lenient,
          name: projection.name,
          version: projection.version
        },
        reportRun(w + 1)
      ).pipe(Effect.flatMap((reply) => {
        const partial = decodeState(projection, reply.state)
        return Either.isLeft(partial)
          ? new ProjectionError({
            path: run[0]!.file.path,
            reason: `a worker's partial state does not decode (${partial.left}); check the projection's codec`
          })
          : Effect.succeed({
            ...reply,
            state: partial.right,
            marks: reply.marks.map((mark, j) => markOf(run[j]!, mark))
          })
      }))
    )
    // This thread's run last, so that the workers are started before it begins.
    const here = foldHere(projection, format, runs[0]!, projection.initial, lenient, reportRun(0))
    const folded = yield* Effect.all([...inWorkers, here], { concurrency: "unbounded" })
    const inOrder = [folded[folded.length - 1]!, ...folded.slice(0, -1)]
    const marks = new Map<string, FileMark>()
    for (const part of inOrder) for (const mark of part.marks) marks.set(mark.path, mark)
    return {
      state: inOrder.map((part) => part.state).reduce(parallel.merge),
      marks: items.map((item) => marks.get(item.file.path) ?? unchangedMark(item)),
      bytes: inOrder.reduce((n, part) => n + part.bytes, 0),
      events: inOrder.reduce((n, part) => n + part.events, 0),
      skippedLines: inOrder.reduce((n, part) => n + part.skippedLines, 0)
    } satisfies Folded<S>
  })

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
      memo: { state: folded.state, files: folded.marks },
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
    if (options.checkpoint !== false && step.dirty) {
      yield* saveCheckpoint(checkpointPath(home, projection, format), projection, format, step.memo)
    }
    return step
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
): Effect.Effect<Result<S>, ProjectionError, FileSystem.FileSystem | Path.Path> =>
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
): Stream.Stream<Result<S>, ProjectionError, FileSystem.FileSystem | Path.Path> =>
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

const Marks = Schema.Array(FileMarkSchema)

export interface Changes {
  /** The envelopes of the tags asked for, each file's in order, the files in the source's order. */
  readonly envelopes: ReadonlyArray<Envelope>
  /** Where every file was read up to (JSON): give it to the next call. */
  readonly cursor: ReadonlyArray<typeof Marks.Type[number]>
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
    const prior = cursor === undefined ? Option.none() : Schema.decodeUnknownOption(Marks)(cursor)
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
