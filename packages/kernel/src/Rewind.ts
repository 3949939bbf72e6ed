/**
 * Rewinding files to the start of a user turn, and diffing them against it.
 *
 * Before a tool changes a file the loop records `FileSnapshotted { path, before }` (the bytes
 * kept in the `SnapshotStore`), and after it `ToolCallCompleted.files[{ path, after }]`. From
 * those alone, `plan` (pure) works out, for every file changed since turn N began, what it
 * held then and what weft last left there. `rewind` checks the files on disk against what
 * weft left — a file changed outside weft is not overwritten unless forced — restores them
 * byte for byte and records `FilesRewound`; `diff` shows each against its turn-N content.
 *
 * Turn N is the Nth `UserMessageReceived` of agent `main`; a change by any agent after it
 * counts. A rewind is a change weft made, like a tool's: a later rewind takes it into account.
 */
import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff"
import { Chunk, Effect, Either, Exit, Random, Schema, Stream } from "effect"
import type { Envelope } from "./Envelope.js"
import { draft } from "./Envelope.js"
import { EventLog } from "./EventLog.js"
import { FilesRewound } from "./Events.js"
import { hashOf, SnapshotStore } from "./SnapshotStore.js"

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

export class TurnOutOfRangeError extends Schema.TaggedError<TurnOutOfRangeError>()("TurnOutOfRangeError", {
  sessionId: Schema.String,
  turn: Schema.Number,
  /** How many user turns the session has. */
  turns: Schema.Int
}) {
  override get message() {
    return this.turns === 0
      ? `session ${this.sessionId} has no user turn yet, so there is nothing to rewind to`
      : `session ${this.sessionId} has no turn ${this.turn}: its turns are 1 to ${this.turns}; choose one of those`
  }
}

/**
 * Why a file may not be overwritten: since weft last wrote it, it was `modified`, `removed`
 * or `created` outside weft; or weft's own last change to it never completed (`incomplete`:
 * a write interrupted after its snapshot), so what it holds is not known.
 */
export const ConflictReason = Schema.Literal("modified", "removed", "created", "incomplete")
export type ConflictReason = typeof ConflictReason.Type

export const Conflict = Schema.Struct({ path: Schema.String, reason: ConflictReason })
export type Conflict = typeof Conflict.Type

/** How a conflict reads in a message: `/p/a.txt (changed outside weft)`. */
export const describeConflict = (conflict: Conflict): string => {
  switch (conflict.reason) {
    case "modified":
      return `${conflict.path} (changed outside weft)`
    case "removed":
      return `${conflict.path} (removed outside weft)`
    case "created":
      return `${conflict.path} (created outside weft)`
    case "incomplete":
      return `${conflict.path} (weft's last write to it did not complete)`
  }
}

export class RewindConflictError extends Schema.TaggedError<RewindConflictError>()("RewindConflictError", {
  sessionId: Schema.String,
  toTurn: Schema.Int,
  files: Schema.Array(Conflict)
}) {
  override get message() {
    const n = this.files.length
    return `session ${this.sessionId}: refused to rewind to turn ${this.toTurn}: ${n} file${n === 1 ? "" : "s"} ` +
      `changed since weft last wrote ${n === 1 ? "it" : "them"}: ${this.files.map(describeConflict).join(", ")}; ` +
      `nothing was changed; rewind with force to overwrite ${n === 1 ? "it" : "them"}`
  }
}

export class RewindFileError extends Schema.TaggedError<RewindFileError>()("RewindFileError", {
  path: Schema.String,
  operation: Schema.String,
  reason: Schema.String,
  /** Whether the rewind had been recorded (and some files perhaps restored) when this failed. */
  recorded: Schema.Boolean
}) {
  override get message() {
    return `rewind: could not ${this.operation} ${this.path}: ${this.reason}; ` +
      (this.recorded
        ? "the rewind is recorded but did not finish: fix that, then rewind again with force to finish it"
        : "nothing was changed; fix that and rewind again")
  }
}

// ---------------------------------------------------------------------------------------------
// The plan: pure
// ---------------------------------------------------------------------------------------------

/** What weft last left in a file: known bytes (null: no file), or not known. */
export type LastWrite =
  | { readonly _tag: "Known"; readonly hash: string | null }
  /**
   * The last thing weft did was snapshot it (`before`) for this call, which never reported
   * changing it: interrupted, or failed part way.
   */
  | { readonly _tag: "Incomplete"; readonly toolUseId: string; readonly before: string | null }

export interface FileChange {
  /** Absolute, as the snapshot recorded it. */
  readonly path: string
  /** sha256 of what the file held when the turn began; null when it did not exist. */
  readonly before: string | null
  readonly after: LastWrite
}

export interface Plan {
  readonly sessionId: string
  readonly toTurn: number
  /** How many user turns the session has. */
  readonly turns: number
  /** The seq of the turn's `UserMessageReceived`: every change after it is undone. */
  readonly seq: number
  /** Sorted by path. */
  readonly files: ReadonlyArray<FileChange>
}

/** The seqs of the `UserMessageReceived` events of agent main: turn N begins at the Nth. */
export const turnStarts = (envelopes: Iterable<Envelope>): ReadonlyArray<number> => {
  const seqs: Array<number> = []
  for (const envelope of envelopes) {
    if (envelope.agentId === "main" && envelope.event._tag === "UserMessageReceived") seqs.push(envelope.seq)
  }
  return seqs.sort((a, b) => a - b)
}

const known = (hash: string | null): LastWrite => ({ _tag: "Known", hash })

/**
 * The files changed since turn `toTurn` began (`"last"`: the current turn), each with what it
 * held then and what weft last left there.
 *
 * What a file held when the turn began is the `before` of its first snapshot after that
 * point. A file whose first change after it was a rewind (one to an earlier turn) had no
 * snapshot taken then: it held what weft had last left there before the turn began. A file
 * a tool reported changing without snapshotting it first — the loop never does that — has
 * no known content to go back to and is left out.
 */
export const plan = (
  envelopes: ReadonlyArray<Envelope>,
  toTurn: number | "last"
): Either.Either<Plan, TurnOutOfRangeError> => {
  const sorted = [...envelopes].sort((a, b) => a.seq - b.seq)
  const sessionId = sorted[0]?.sessionId ?? ""
  const starts = turnStarts(sorted)
  const turn = toTurn === "last" ? starts.length : toTurn
  if (!Number.isInteger(turn) || turn < 1 || turn > starts.length) {
    return Either.left(new TurnOutOfRangeError({ sessionId, turn, turns: starts.length }))
  }
  const start = starts[turn - 1]!

  /** The last content weft knew each file had, up to the start of the turn. */
  const knownBefore = new Map<string, string | null>()
  /** For each file changed after the start: its content then (undefined: not known). */
  const before = new Map<string, string | null | undefined>()
  const after = new Map<string, LastWrite>()

  const change = (seq: number, path: string, observed: string | null | undefined, left: LastWrite) => {
    if (seq <= start) {
      knownBefore.set(path, observed !== undefined ? observed : left._tag === "Known" ? left.hash : null)
      return
    }
    if (!before.has(path)) before.set(path, observed !== undefined ? observed : knownBefore.get(path))
    after.set(path, left)
  }

  for (const { event, seq } of sorted) {
    switch (event._tag) {
      case "FileSnapshotted":
        change(seq, event.path, event.before, { _tag: "Incomplete", toolUseId: event.toolUseId, before: event.before })
        break
      case "ToolCallCompleted":
        for (const file of event.files ?? []) change(seq, file.path, undefined, known(file.after))
        break
      case "FilesRewound":
        for (const file of event.files) change(seq, file.path, undefined, known(file.restored))
        break
    }
  }

  const files: Array<FileChange> = []
  for (const [path, hash] of before) {
    if (hash !== undefined) files.push({ path, before: hash, after: after.get(path)! })
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return Either.right({ sessionId, toTurn: turn, turns: starts.length, seq: start, files })
}

/** What a rewind does to one file. */
export type Action = "restored" | "removed" | "unchanged"

export interface Assessment {
  readonly action: Action
  /** Set when the rewind would overwrite (or remove) content weft did not leave there. */
  readonly conflict?: ConflictReason
}

/**
 * Given the sha256 of what a file holds now (null: no file), what rewinding it does, and
 * whether that would lose content weft does not have: a change made outside weft, or what an
 * incomplete call left. A file that holds its turn's content, or exactly what weft last
 * snapshotted or wrote there, loses nothing by the rewind, so it is never a conflict.
 */
export const assess = (file: FileChange, current: string | null): Assessment => {
  if (current === file.before) return { action: "unchanged" }
  const action: Action = file.before === null ? "removed" : "restored"
  if (file.after._tag === "Incomplete") {
    // Still what the call snapshotted: it never changed the file.
    return current === file.after.before ? { action } : { action, conflict: "incomplete" }
  }
  const left = file.after.hash
  if (current === left) return { action }
  return { action, conflict: left === null ? "created" : current === null ? "removed" : "modified" }
}

// ---------------------------------------------------------------------------------------------
// Effects: reading the session and the files, restoring them
// ---------------------------------------------------------------------------------------------

const readSession = (sessionId: string) =>
  EventLog.pipe(
    Effect.flatMap((log) => Stream.runCollect(log.read(sessionId))),
    Effect.map(Chunk.toReadonlyArray)
  )

const fileError = (path: string, operation: string, recorded: boolean) => (error: PlatformError) =>
  new RewindFileError({ path, operation, reason: error.description ?? error.message, recorded })

/** The file's bytes now, or null when there is none. */
const readCurrent = (fs: FileSystem.FileSystem, path: string) =>
  fs.readFile(path).pipe(
    Effect.map((bytes): Uint8Array | null => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
    Effect.catchIf(
      (error) => error._tag === "SystemError" && error.reason === "NotFound",
      () => Effect.succeed(null)
    ),
    Effect.mapError(fileError(path, "read", false))
  )

export interface RewindOptions {
  /** Overwrite files changed outside weft since weft last wrote them. */
  readonly force?: boolean
}

export interface RestoredFile {
  readonly path: string
  readonly action: Action
  /** What the file holds now (null: no file). */
  readonly hash: string | null
}

export interface RewindResult {
  readonly sessionId: string
  readonly toTurn: number
  /** Every file changed since the turn began, sorted by path. */
  readonly files: ReadonlyArray<RestoredFile>
  /** The changes made outside weft that `force` overwrote. */
  readonly overwritten: ReadonlyArray<Conflict>
  /** The `FilesRewound` recorded; none when every file already was as weft records it. */
  readonly recorded: Envelope | undefined
}

const randomSuffix = Effect.map(Random.nextInt, (n) => (n >>> 0).toString(16).padStart(8, "0"))

/**
 * Writes `bytes` to `path` atomically: to a temp file beside it, synced, then renamed over
 * it, keeping the permissions of the file it replaces. Missing parent directories are made.
 */
const writeAtomically = (fs: FileSystem.FileSystem, path: Path.Path, file: string, bytes: Uint8Array) =>
  Effect.gen(function*() {
    const dir = path.dirname(file)
    yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(fileError(dir, "create directory", true)))
    const mode = yield* fs.stat(file).pipe(
      Effect.map((info) => info.mode & 0o7777),
      Effect.orElseSucceed(() => undefined)
    )
    const tmp = path.join(dir, `.${path.basename(file)}.${yield* randomSuffix}${yield* randomSuffix}.weft-rewind`)
    yield* Effect.scoped(Effect.gen(function*() {
      const handle = yield* fs.open(tmp, { flag: "wx" }).pipe(Effect.mapError(fileError(tmp, "create", true)))
      yield* Effect.addFinalizer((exit) => Exit.isFailure(exit) ? Effect.ignore(fs.remove(tmp)) : Effect.void)
      // `writeAll` of nothing fails (WriteZero); an empty file is just the created one.
      if (bytes.length > 0) yield* handle.writeAll(bytes).pipe(Effect.mapError(fileError(tmp, "write", true)))
      yield* handle.sync.pipe(Effect.mapError(fileError(tmp, "sync", true)))
      if (mode !== undefined) yield* fs.chmod(tmp, mode).pipe(Effect.mapError(fileError(tmp, "chmod", true)))
      yield* fs.rename(tmp, file).pipe(Effect.mapError(fileError(file, "replace", true)))
    }))
  })

/**
 * Rewinds the files of `sessionId` to what they held when turn `toTurn` began (`"last"`: the
 * current turn, undoing its changes).
 *
 * Nothing is changed if any file would lose a change made outside weft (`RewindConflictError`
 * names them all) unless `force`, nor if any snapshot is missing. The `FilesRewound` is
 * appended before the files are touched, so a session another process is writing (its log
 * locked) refuses the rewind with every file intact; the files are then restored without
 * interruption. A rewind that finds every file as weft left it at that turn does nothing.
 */
export const rewind = Effect.fn("Rewind.rewind")(function*(
  sessionId: string,
  toTurn: number | "last",
  options: RewindOptions = {}
) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const store = yield* SnapshotStore
  const log = yield* EventLog
  const envelopes = yield* readSession(sessionId)
  const planned = yield* plan(envelopes, toTurn)

  const assessed = yield* Effect.forEach(
    planned.files,
    (file) =>
      readCurrent(fs, file.path).pipe(Effect.map((bytes) => {
        const current = bytes === null ? null : hashOf(bytes)
        return { file, current, ...assess(file, current) }
      }))
  )
  const conflicts = assessed.flatMap(({ conflict, file }) =>
    conflict === undefined ? [] : [{ path: file.path, reason: conflict }]
  )
  if (conflicts.length > 0 && options.force !== true) {
    return yield* new RewindConflictError({ sessionId, toTurn: planned.toTurn, files: conflicts })
  }

  const result = (recorded: Envelope | undefined): RewindResult => ({
    sessionId,
    toTurn: planned.toTurn,
    files: assessed.map(({ action, file }) => ({ path: file.path, action, hash: file.before })),
    overwritten: conflicts,
    recorded
  })
  const settled = assessed.every(({ action, file }) =>
    action === "unchanged" && file.after._tag === "Known" && file.after.hash === file.before
  )
  if (settled) return result(undefined)

  // Every snapshot is fetched before anything changes: a missing one fails the rewind untouched.
  const writes = yield* Effect.forEach(
    assessed.filter(({ action }) => action !== "unchanged"),
    ({ action, file }) =>
      action === "restored"
        ? Effect.map(store.get(file.before!), (bytes) => ({ path: file.path, bytes: bytes as Uint8Array | null }))
        : Effect.succeed({ path: file.path, bytes: null })
  )

  let parent: Envelope | undefined
  for (const envelope of envelopes) if (envelope.agentId === "main") parent = envelope
  const event = new FilesRewound({
    toTurn: planned.toTurn,
    files: planned.files.map((file) => ({ path: file.path, restored: file.before })),
    forced: conflicts.length > 0
  })
  // Once recorded, the files are restored without interruption. The append itself stays
  // interruptible: an adapter may fork its writer there, and a fiber inherits uninterruptibility.
  return yield* Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const [recorded] = yield* restore(log.append(sessionId, [draft(event, { parentId: parent?.id ?? null })]))
      for (const { bytes, path: file } of writes) {
        if (bytes === null) {
          yield* fs.remove(file).pipe(Effect.mapError(fileError(file, "remove", true)))
        } else {
          yield* writeAtomically(fs, path, file, bytes)
        }
      }
      return result(recorded)
    })
  )
})

// ---------------------------------------------------------------------------------------------
// Diff
// ---------------------------------------------------------------------------------------------

export interface FileDiff {
  /** Absolute. */
  readonly path: string
  /** How the diff names it: relative to the session's project when inside it, else absolute. */
  readonly label: string
  readonly status: "modified" | "created" | "removed"
  readonly binary: boolean
  /** A unified diff (for a binary file, its headers and `binary files differ`), ending in a newline. */
  readonly patch: string
}

export interface DiffResult {
  readonly sessionId: string
  readonly toTurn: number
  /** The files that differ from what they held when the turn began, sorted by path. */
  readonly files: ReadonlyArray<FileDiff>
}

const DEV_NULL = "/dev/null"

/** A file as weft shows it: relative to the project when inside it, else its absolute path. */
export const shownPath = (path: Path.Path, project: string, file: string): string => {
  const relative = path.relative(project, file)
  const outside = relative === "" || relative === ".." || relative.startsWith(`..${path.sep}`) ||
    path.isAbsolute(relative)
  return outside ? file : relative
}
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** The bytes as text, or undefined when they are binary: a NUL in the first 8000 bytes (as git decides), or not UTF-8. */
export const textOf = (bytes: Uint8Array): string | undefined => {
  if (bytes.subarray(0, 8000).includes(0)) return undefined
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/**
 * A unified diff of one file between its content at the turn (`before`) and now (`now`); null
 * stands for no file (`/dev/null`). Pure.
 */
export const patchOf = (
  label: string,
  toTurn: number,
  before: Uint8Array | null,
  now: Uint8Array | null
): { readonly patch: string; readonly binary: boolean } => {
  const oldName = before === null ? DEV_NULL : label
  const newName = now === null ? DEV_NULL : label
  const oldHeader = `turn ${toTurn}`
  const oldText = before === null ? "" : textOf(before)
  const newText = now === null ? "" : textOf(now)
  if (oldText === undefined || newText === undefined) {
    return { patch: `--- ${oldName}\t${oldHeader}\n+++ ${newName}\tnow\nbinary files differ\n`, binary: true }
  }
  const patch = createTwoFilesPatch(oldName, newName, oldText, newText, oldHeader, "now", {
    headerOptions: FILE_HEADERS_ONLY
  })
  return { patch: patch.endsWith("\n") ? patch : patch + "\n", binary: false }
}

/**
 * For each file changed since turn `toTurn` began that differs from what it held then, a
 * unified diff from that content to the file now.
 */
export const diff = Effect.fn("Rewind.diff")(function*(sessionId: string, toTurn: number | "last") {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const store = yield* SnapshotStore
  const envelopes = yield* readSession(sessionId)
  const planned = yield* plan(envelopes, toTurn)
  const first = envelopes[0]?.event
  const project = first?._tag === "SessionStarted" ? first.project : undefined
  const labelOf = (file: string) => (project === undefined ? file : shownPath(path, project, file))

  const files = yield* Effect.forEach(planned.files, (file) =>
    Effect.gen(function*() {
      const now = yield* readCurrent(fs, file.path)
      if ((now === null ? null : hashOf(now)) === file.before) return []
      const before = file.before === null ? null : yield* store.get(file.before)
      const label = labelOf(file.path)
      const { binary, patch } = patchOf(label, planned.toTurn, before, now)
      const status: FileDiff["status"] = before === null ? "created" : now === null ? "removed" : "modified"
      return [{ path: file.path, label, status, binary, patch }]
    }))
  return { sessionId, toTurn: planned.toTurn, files: files.flat() } satisfies DiffResult
})
