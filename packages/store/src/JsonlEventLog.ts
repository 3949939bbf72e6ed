/**
 * The durable event log: one JSONL file per session under `WEFT_HOME/projects/<project>/`.
 *
 * - One writer per session, held by a lock file for as long as this layer lives.
 * - Group commit: appends that arrive while a batch is being written and fsynced wait in a
 *   queue and go out together in the next single write + fsync; an append resolves only once
 *   its batch is durable (durability `fsync`, the default) or written (`none`).
 * - The first writer after a crash moves a torn tail aside to `<session>.jsonl.torn-<n>` and
 *   continues on a clean line with the next seq.
 * - Reads stream the file in fixed-size chunks: memory stays flat whatever its size.
 */
import { FileSystem, Path } from "@effect/platform"
import type { Draft, Envelope } from "@weft/kernel/Envelope"
import { toDraft } from "@weft/kernel/Envelope"
import type { LineCodec } from "@weft/kernel/EventCodec"
import { lineCodec } from "@weft/kernel/EventCodec"
import type { EventLogError, ReadOptions, SessionRef } from "@weft/kernel/EventLog"
import { EventLog, LogCorruptedError, SessionNotFoundError, stamp, StorageError, validate } from "@weft/kernel/EventLog"
import type { AnyEvent } from "@weft/kernel/Events"
import { Ids } from "@weft/kernel/Ids"
import { Cause, Chunk, Effect, Either, ExecutionStrategy, Exit, Layer, Option, Queue, Scope, Stream } from "effect"
import * as os from "node:os"
import { LOCK_SUFFIX, SESSION_SUFFIX, sessionIdOf } from "./Layout.js"
import * as ProjectDirectory from "./ProjectDirectory.js"
import * as SessionFile from "./SessionFile.js"
import * as SessionLock from "./SessionLock.js"

export type Durability = "fsync" | "none"

export interface Options {
  /** `WEFT_HOME`. */
  readonly home: string
  readonly durability?: Durability
  /** Who takes session locks; defaults to this process. */
  readonly owner?: SessionLock.Owner
  /** The line codec (upcasters); defaults to this version's. */
  readonly codec?: LineCodec
  /** Bytes per read when streaming a session. */
  readonly chunkSize?: number
}

export const defaultOwner = (): SessionLock.Owner => ({
  pid: process.pid,
  hostname: os.hostname(),
  isAlive: SessionLock.processIsAlive
})

interface Pending {
  readonly drafts: ReadonlyArray<Draft>
  /** Resumes the waiting append with its outcome; only the first call counts. */
  readonly resume: (outcome: Effect.Effect<ReadonlyArray<Envelope>, EventLogError>) => void
}

interface Writer {
  readonly queue: Queue.Queue<Pending>
}

const MAX_BATCH = 4096

/**
 * Bytes per read when streaming a session. Each chunk read is decoded and handed on as one
 * piece, so this is also about how much decoded data is alive at a time: at 256 KiB it mostly
 * dies young, where a megabyte's worth of envelopes survives into the old generation and
 * costs garbage collection time and RSS; the per-chunk cost stays negligible.
 */
export const defaultChunkSize = 256 * 1024

/**
 * Chunks read ahead while earlier ones are decoded. Few, so that a reader catching up hands on
 * one chunk at a time rather than everything buffered at once.
 */
const READ_AHEAD = 2

const utf8 = new TextEncoder()

/** The bytes a writer keeps between batches for encoding them; a larger batch gets bytes of its own. */
const KEPT_BUFFER = 1024 * 1024

/**
 * Where a session's writer encodes its batches: one buffer reused batch after batch (the writer
 * writes one batch at a time), each line encoded straight into it. Encoding line by line
 * skips flattening the batch's text into one string first, which costs more than the UTF-8 work.
 */
const makeBatchBuffer = () => {
  let kept = new Uint8Array(64 * 1024)
  return {
    encode: (lines: ReadonlyArray<string>): Uint8Array => {
      let worst = 0
      for (const line of lines) worst += line.length * 3 + 1
      let bytes = kept
      if (worst > bytes.length) {
        bytes = new Uint8Array(worst)
        if (worst <= KEPT_BUFFER) kept = bytes
      }
      let offset = 0
      for (const line of lines) {
        offset += utf8.encodeInto(line, bytes.subarray(offset)).written
        bytes[offset++] = 10
      }
      return bytes.subarray(0, offset)
    }
  }
}

/** Moves a torn tail aside to the first free `<file>.torn-<n>`, then cuts the file back to its clean length. */
export const repairTornTail = (filePath: string, tail: SessionFile.Tail) =>
  Effect.gen(function*() {
    if (tail.cleanLength === tail.size) return Option.none<string>()
    const fs = yield* FileSystem.FileSystem
    const storage = (operation: string) => (cause: { readonly message: string }) =>
      new StorageError({ path: filePath, operation, reason: cause.message })
    let n = 1
    while (yield* fs.exists(`${filePath}.torn-${n}`).pipe(Effect.mapError(storage("check")))) n++
    const aside = `${filePath}.torn-${n}`
    yield* Effect.scoped(Effect.gen(function*() {
      const file = yield* fs.open(filePath, { flag: "r+" })
      yield* file.seek(tail.cleanLength, "start")
      const bytes = yield* file.readAlloc(tail.size - tail.cleanLength)
      yield* fs.writeFile(aside, Option.getOrElse(bytes, () => new Uint8Array(0)))
      const keep = yield* fs.open(aside, { flag: "r" })
      yield* keep.sync
      yield* file.truncate(tail.cleanLength)
      yield* file.sync
    })).pipe(Effect.mapError(storage("repair the torn tail of")))
    yield* Effect.logWarning(
      `${filePath}: moved a torn last line (${tail.size - tail.cleanLength} bytes) to ${aside}; continuing after it`
    )
    return Option.some(aside)
  })

export const make = (options: Options) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const ids = yield* Ids
    const scope = yield* Effect.scope
    const codec = options.codec ?? lineCodec
    const durability = options.durability ?? "fsync"
    const owner = options.owner ?? defaultOwner()
    const chunkSize = options.chunkSize ?? defaultChunkSize
    const projects = yield* ProjectDirectory.make(options.home)
    const context = yield* Effect.context<FileSystem.FileSystem | Path.Path>()

    const located = new Map<string, string>()
    const writers = new Map<string, Writer>()
    const writersLock = yield* Effect.makeSemaphore(1)

    const storage = (p: string, operation: string) => (cause: { readonly message: string }) =>
      new StorageError({ path: p, operation, reason: cause.message })

    /** The file of an existing session, looked for in every project folder. */
    const locate = (sessionId: string): Effect.Effect<Option.Option<string>, StorageError> =>
      Effect.gen(function*() {
        const known = located.get(sessionId)
        if (known !== undefined) return Option.some(known)
        for (const folder of yield* projects.list) {
          const file = path.join(folder.dir, sessionId + SESSION_SUFFIX)
          if (yield* fs.exists(file).pipe(Effect.mapError(storage(file, "check")))) {
            located.set(sessionId, file)
            return Option.some(file)
          }
        }
        return Option.none()
      })

    const runBatch = (filePath: string, file: FileSystem.File, state: { nextSeq: number; size: number }) => {
      const buffer = makeBatchBuffer()
      return (batch: Chunk.Chunk<Pending>) =>
        Effect.gen(function*() {
          const sessionId = idOf(filePath)
          const accepted: Array<{ pending: Pending; envelopes: ReadonlyArray<Envelope> }> = []
          const lines: Array<string> = []
          let seq = state.nextSeq
          for (const pending of batch) {
            // `append` has validated the drafts of an existing session already; what is left to check is
            // that a new session starts with SessionStarted.
            if (seq === 1) {
              const checked = yield* Effect.either(validate(sessionId, pending.drafts, false))
              if (Either.isLeft(checked)) {
                pending.resume(Effect.fail(checked.left))
                continue
              }
            }
            const envelopes = yield* stamp(ids, sessionId, seq, pending.drafts)
            const first = lines.length
            let refused: string | undefined
            for (const envelope of envelopes) {
              const line = codec.encode(envelope)
              if (Either.isLeft(line)) {
                refused = `event ${envelope.event._tag} does not encode: ${line.left}`
                break
              }
              lines.push(line.right)
            }
            if (refused !== undefined) {
              lines.length = first
              pending.resume(
                Effect.fail(new StorageError({ path: filePath, operation: "encode an event for", reason: refused }))
              )
              continue
            }
            seq += envelopes.length
            accepted.push({ pending, envelopes })
          }
          if (accepted.length === 0) return
          const bytes = buffer.encode(lines)
          const written = yield* file.writeAll(bytes).pipe(
            Effect.zipRight(durability === "fsync" ? file.sync : Effect.void),
            Effect.mapError(storage(filePath, "append to")),
            Effect.either
          )
          if (Either.isLeft(written)) {
            // Cut back whatever part of the batch reached the file, so the log stays a clean prefix.
            yield* file.truncate(state.size).pipe(Effect.ignore)
            for (const { pending } of accepted) pending.resume(Effect.fail(written.left))
            return
          }
          state.nextSeq = seq
          state.size += bytes.length
          for (const { envelopes, pending } of accepted) pending.resume(Effect.succeed(envelopes))
        })
    }

    const idOf = (filePath: string) => path.basename(filePath, SESSION_SUFFIX)

    /** Takes the session's lock, repairs its tail and starts its group-commit fiber, all in the layer's scope. */
    const openWriter = (filePath: string) =>
      Effect.gen(function*() {
        const sessionId = idOf(filePath)
        const lockPath = filePath.slice(0, -SESSION_SUFFIX.length) + LOCK_SUFFIX
        yield* SessionLock.acquire(lockPath, sessionId, owner)
        const exists = yield* fs.exists(filePath).pipe(Effect.mapError(storage(filePath, "check")))
        const tail = exists
          ? yield* SessionFile.inspectTail(filePath, codec)
          : { size: 0, cleanLength: 0, lastSeq: 0 }
        yield* repairTornTail(filePath, tail)
        const file = yield* fs.open(filePath, { flag: "a" }).pipe(
          Effect.mapError(storage(filePath, "open"))
        )
        const queue = yield* Queue.unbounded<Pending>()
        yield* Effect.addFinalizer(() => Queue.shutdown(queue))
        const state = { nextSeq: tail.lastSeq + 1, size: tail.cleanLength }
        const run = runBatch(filePath, file, state)
        // A batch that dies fails its appends rather than leaving them waiting.
        const runSafely = (batch: Chunk.Chunk<Pending>) =>
          run(batch).pipe(Effect.catchAllCause((cause) =>
            Effect.sync(() => {
              const outcome = Effect.failCause(
                Cause.isInterruptedOnly(cause)
                  ? cause
                  : Cause.fail(
                    new StorageError({ path: filePath, operation: "append to", reason: Cause.pretty(cause) })
                  )
              )
              for (const pending of batch) pending.resume(outcome)
            })
          ))
        // While one batch is written and fsynced, the next accumulates in the queue. Waiting for a batch
        // is interruptible and writing one is not, whatever region the first append came from (a fiber
        // inherits its parent's): closing the layer stops the writer between batches, never inside one.
        yield* Effect.interruptible(Queue.takeBetween(queue, 1, MAX_BATCH)).pipe(
          Effect.flatMap((batch) => Effect.uninterruptible(runSafely(batch))),
          Effect.forever,
          Effect.forkScoped
        )
        return { queue } satisfies Writer
      }).pipe(Effect.provide(context))

    const writerFor = (sessionId: string, drafts: ReadonlyArray<Draft>): Effect.Effect<Writer, EventLogError> => {
      // Once open, a writer stays for the layer's life: no need to queue for the lock to find it.
      const open = writers.get(sessionId)
      return open !== undefined ? Effect.succeed(open) : openWriterFor(sessionId, drafts)
    }

    const openWriterFor = (sessionId: string, drafts: ReadonlyArray<Draft>) =>
      writersLock.withPermits(1)(Effect.gen(function*() {
        const open = writers.get(sessionId)
        if (open !== undefined) return open
        const existing = yield* locate(sessionId)
        let filePath: string
        if (Option.isSome(existing)) {
          filePath = existing.value
        } else {
          const project = yield* validate(sessionId, drafts, false)
          const dir = yield* projects.find(project!, true)
          filePath = path.join(Option.getOrThrow(dir), sessionId + SESSION_SUFFIX)
        }
        // Its own scope inside the layer's, so a writer that fails to open lets go of what it took.
        const writerScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const writer = yield* openWriter(filePath).pipe(
          Scope.extend(writerScope),
          Effect.tapErrorCause(() => Scope.close(writerScope, Exit.void))
        )
        located.set(sessionId, filePath)
        writers.set(sessionId, writer)
        return writer
      }))

    /** Hands drafts to the session's writer and waits for their batch to be stored. */
    const enqueue = (writer: Writer, drafts: ReadonlyArray<Draft>) =>
      Effect.async<ReadonlyArray<Envelope>, EventLogError>((resume) => {
        // As `Queue.offer` does, a queue already shut down (the layer is closing) interrupts the append.
        if (!Queue.unsafeOffer(writer.queue, { drafts, resume })) resume(Effect.interrupt)
      })

    const append = (sessionId: string, events: ReadonlyArray<AnyEvent | Draft>) =>
      Effect.suspend((): Effect.Effect<ReadonlyArray<Envelope>, EventLogError> => {
        const drafts = events.map(toDraft)
        if (drafts.length === 0) return Effect.succeed([])
        return validate(sessionId, drafts, true).pipe(
          Effect.zipRight(writerFor(sessionId, drafts)),
          Effect.flatMap((writer) => enqueue(writer, drafts))
        )
      }).pipe(Effect.withSpan("EventLog.append", { attributes: { sessionId }, captureStackTrace: false }))

    const read = (sessionId: string, readOptions?: ReadOptions): Stream.Stream<Envelope, EventLogError> =>
      Stream.unwrap(Effect.gen(function*() {
        const found = yield* locate(sessionId)
        if (Option.isNone(found)) {
          return yield* new SessionNotFoundError({ sessionId, reason: "does not exist in any project" })
        }
        return readFile(found.value, readOptions)
      }))

    const readFile = (filePath: string, readOptions?: ReadOptions): Stream.Stream<Envelope, EventLogError> =>
      Stream.suspend(() => {
        const scanner = SessionFile.makeScanner(codec, { fromSeq: readOptions?.fromSeq ?? 1 })
        const lenient = readOptions?.lenient ?? false
        const settle = (
          items: ReadonlyArray<SessionFile.Item>
        ): Effect.Effect<Chunk.Chunk<Envelope>, EventLogError> => {
          const out: Array<Envelope> = []
          for (let i = 0; i < items.length; i++) {
            const item = items[i]!
            if (item._tag !== "Event") return settleProblems(items, i, out)
            out.push(item.envelope)
          }
          return Effect.succeed(Chunk.unsafeFromArray(out))
        }
        /** The rest of `settle`, from the first problem on: warn about it and go on, or fail. */
        const settleProblems = (items: ReadonlyArray<SessionFile.Item>, from: number, out: Array<Envelope>) =>
          Effect.gen(function*() {
            for (const item of items.slice(from)) {
              if (item._tag === "Event") {
                out.push(item.envelope)
                continue
              }
              const problem = item.problem
              const reason = SessionFile.describeProblem(problem)
              if (problem.kind === "torn-tail") {
                yield* Effect.logWarning(`${filePath}:${problem.line}: ${reason}; not an event, skipped`)
              } else if (lenient) {
                yield* Effect.logWarning(`${filePath}:${problem.line}: ${reason}; skipped (lenient read)`)
              } else {
                return yield* new LogCorruptedError({ path: filePath, line: problem.line, reason })
              }
            }
            return Chunk.unsafeFromArray(out)
          })
        const push = (chunks: Chunk.Chunk<Uint8Array>) =>
          settle(
            Chunk.size(chunks) === 1
              ? scanner.push(Chunk.unsafeHead(chunks))
              : Chunk.toArray(chunks).flatMap((bytes) => scanner.push(bytes))
          )
        return fs.stream(filePath, { chunkSize: FileSystem.Size(chunkSize), bufferSize: READ_AHEAD }).pipe(
          Stream.mapError(storage(filePath, "read")),
          Stream.mapChunksEffect(push),
          Stream.concat(Stream.fromEffect(Effect.suspend(() => settle(scanner.end()))).pipe(Stream.flattenChunks))
        )
      })

    const sessions = (project?: string): Effect.Effect<ReadonlyArray<SessionRef>, EventLogError> =>
      Effect.gen(function*() {
        const folders: ReadonlyArray<ProjectDirectory.ProjectFolder> = project === undefined
          ? yield* projects.list
          : Option.match(yield* projects.find(project, false), {
            onNone: () => [],
            onSome: (dir) => [{ project, dir }]
          })
        const refs: Array<SessionRef> = []
        for (const folder of folders) {
          const names = yield* fs.readDirectory(folder.dir).pipe(Effect.mapError(storage(folder.dir, "list")))
          for (const name of names) {
            const sessionId = sessionIdOf(name)
            if (sessionId === undefined) continue
            located.set(sessionId, path.join(folder.dir, name))
            refs.push({ sessionId, project: folder.project })
          }
        }
        return refs.sort((a, b) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0))
      })

    return EventLog.of({ append, read, sessions })
  })

export const layerJsonl = (
  options: Options
): Layer.Layer<EventLog, never, FileSystem.FileSystem | Path.Path | Ids> => Layer.scoped(EventLog, make(options))
