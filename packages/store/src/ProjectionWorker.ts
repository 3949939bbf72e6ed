/**
 * The worker side of a parallel fold. A worker thread is started (by the runner's
 * `WorkerSpawner`) on an entry module of the composition root that calls
 *
 * ```ts
 * workerMain(workerData, { projection: (ref) => …, format: (ref) => … })
 * ```
 *
 * It resolves the projection and the format's reader from their references (functions do not
 * cross threads), posts `Ready` and waits for its share of the files (a `WorkerShare`): a worker
 * takes a while to start, so the runner decides what each worker folds only once it is ready.
 * It folds its files from the projection's `initial` state and posts back the encoded partial
 * state, where each file was folded up to, and its counts. The runner merges the partial states
 * in file order.
 */
import type * as Projection from "@weft/kernel/Projection"
import { handlesTag } from "@weft/kernel/Projection"
import { Cause, Effect, Either, Schema } from "effect"
import * as fs from "node:fs"
import type { MessagePort } from "node:worker_threads"
import { parentPort } from "node:worker_threads"
import * as Core from "./internal/foldFiles.js"
import type {
  FormatReader,
  FormatRef,
  ProjectionRef,
  SourceFile,
  WorkerData,
  WorkerMessage,
  WorkerShare
} from "./ProjectionRunner.js"
import { failureReason, ProjectionError, weftReader } from "./ProjectionRunner.js"

/** How a worker finds the projection and the format's reader named in its `WorkerData`. */
export interface Resolver {
  readonly projection: (ref: ProjectionRef) => Effect.Effect<Projection.Any, ProjectionError>
  readonly format: (ref: FormatRef) => FormatReader
}

/** Resolves `{ _tag: "Weft" }` to weft's own reader and hands any other format to `other`. */
export const formatsWith = (other: (ref: FormatRef) => FormatReader) => (ref: FormatRef): FormatReader =>
  ref._tag === "Weft" ? weftReader : other(ref)

type Done = Extract<WorkerMessage, { _tag: "Done" }>

const describe = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/** What a worker folds with: the projection and the format's reader, resolved from its `WorkerData`. */
interface Resolved {
  readonly data: WorkerData
  readonly projection: Projection.Any
  readonly reader: FormatReader
}

/** Resolves the projection and reader `data` names, and checks the projection is the one asked for. */
const resolveData = (data: WorkerData, resolve: Resolver, where: string): Effect.Effect<Resolved, ProjectionError> =>
  Effect.gen(function*() {
    const projection = yield* resolve.projection(data.projection)
    if (projection.name !== data.name || projection.version !== data.version) {
      return yield* new ProjectionError({
        path: where,
        reason: `the worker resolved projection ${projection.name} v${projection.version} where ` +
          `${data.name} v${data.version} was asked for; check the worker's resolver`
      })
    }
    return { data, projection, reader: resolve.format(data.format) }
  })

/** Folds `files` from the projection's initial state, posting progress through `post` at most every 100 ms. */
const foldShare = (
  { data, projection, reader }: Resolved,
  files: WorkerShare["files"],
  post: (message: WorkerMessage) => void
): Effect.Effect<Done, ProjectionError> =>
  Effect.gen(function*() {
    const fold: Core.Fold<unknown, SourceFile> = {
      reader: reader(projection, { bytes: files.reduce((n, { end, from }) => n + (end - from), 0) }),
      handles: handlesTag(projection),
      evolve: projection.evolve,
      lenient: data.lenient,
      state: projection.initial,
      bytes: 0,
      events: 0,
      skippedLines: 0
    }
    const clock = yield* Effect.clock
    let lastPost = clock.unsafeCurrentTimeMillis()
    const buffers = Core.makeBuffers()
    const marks: Array<Core.Mark> = []
    for (const [done, { end, file, from, line }] of files.entries()) {
      const step = yield* Effect.try({
        try: () => {
          const fd = fs.openSync(file.path, "r")
          try {
            const folding = Core.foldFile(fold, buffers, fd, file, from, line, end)
            for (;;) {
              const step = folding.step()
              if (step._tag !== "More") return step
              const now = clock.unsafeCurrentTimeMillis()
              if (now - lastPost >= 100) {
                lastPost = now
                post({ _tag: "Progress", files: done, bytes: fold.bytes, events: fold.events })
              }
            }
          } finally {
            fs.closeSync(fd)
          }
        },
        catch: (cause) =>
          new ProjectionError({ path: file.path, reason: `could not read the file (${describe(cause)})` })
      })
      if (step._tag === "Failed") {
        return yield* new ProjectionError({
          path: file.path,
          line: step.line,
          reason: failureReason(step.reason, data.lenient)
        })
      }
      marks.push(step.mark)
      post({ _tag: "Progress", files: done + 1, bytes: fold.bytes, events: fold.events })
    }
    const state = projection.codec === undefined
      ? Either.right(fold.state)
      : Either.mapLeft(Schema.encodeEither(projection.codec)(fold.state), (error) => error.message)
    if (Either.isLeft(state)) {
      return yield* new ProjectionError({
        path: files[0]?.file.path ?? "worker",
        reason: `the partial state of ${projection.name} does not encode with its codec (${state.left}); fix the codec`
      })
    }
    return {
      _tag: "Done",
      state: state.right,
      marks,
      bytes: fold.bytes,
      events: fold.events,
      skippedLines: fold.skippedLines
    } satisfies Done
  })

/**
 * Folds the files of `data` as a worker does once given them: resolves the projection and the
 * reader, folds, and returns what the worker posts when it is done. Posts progress through `post`.
 */
export const foldFiles = (
  data: WorkerData & Pick<WorkerShare, "files">,
  resolve: Resolver,
  post: (message: WorkerMessage) => void
): Effect.Effect<Done, ProjectionError> =>
  Effect.flatMap(
    resolveData(data, resolve, data.files[0]?.file.path ?? "worker"),
    (resolved) => foldShare(resolved, data.files, post)
  )

/** The share the runner posts to this worker once it is ready. */
const nextShare = (port: MessagePort): Effect.Effect<WorkerShare> =>
  Effect.async((resume) => {
    const receive = (share: WorkerShare) => resume(Effect.succeed(share))
    port.once("message", receive)
    return Effect.sync(() => {
      port.off("message", receive)
    })
  })

/**
 * The body of a worker thread: resolves what `data` names, posts `Ready`, folds the share the
 * parent then posts, and posts the outcome. The thread's entry point runs it
 * (`Effect.runFork(workerMain(workerData, resolver))`).
 */
export const workerMain = (data: WorkerData, resolve: Resolver): Effect.Effect<void> => {
  const port = parentPort
  if (port === null) return Effect.dieMessage("ProjectionWorker.workerMain runs in a worker thread")
  const post = (message: WorkerMessage) => port.postMessage(message)
  // Where a failure is told to be: the projection until the worker has files, then its first file.
  let where = data.projection._tag === "File" ? data.projection.path : data.projection.name
  return resolveData(data, resolve, where).pipe(
    Effect.tap(() => post({ _tag: "Ready" })),
    Effect.zip(nextShare(port)),
    Effect.flatMap(([resolved, share]) => {
      where = share.files[0]?.file.path ?? where
      return foldShare(resolved, share.files, post)
    }),
    Effect.matchCause({
      onSuccess: post,
      onFailure: (cause) => {
        const failure = Cause.failureOption(cause)
        post(
          failure._tag === "Some"
            ? {
              _tag: "Failed",
              path: failure.value.path,
              reason: failure.value.reason,
              ...(failure.value.line === undefined ? {} : { line: failure.value.line })
            }
            : { _tag: "Failed", path: where, reason: `the worker died: ${Cause.pretty(cause).split("\n")[0]}` }
        )
      }
    })
  )
}
