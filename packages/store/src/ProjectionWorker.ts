/**
 * The worker side of a parallel fold. A worker thread is started (by the runner's
 * `WorkerSpawner`) on an entry module of the composition root that calls
 *
 * ```ts
 * workerMain(workerData, { projection: (ref) => …, format: (ref) => … })
 * ```
 *
 * It resolves the projection and the format's reader from their references (functions do not
 * cross threads), folds its files from the projection's `initial` state, and posts back the
 * encoded partial state, where each file was folded up to, and its counts. The runner merges
 * the partial states in file order.
 */
import type * as Projection from "@weft/kernel/Projection"
import { handlesTag } from "@weft/kernel/Projection"
import { Cause, Effect, Either, Schema } from "effect"
import * as fs from "node:fs"
import { parentPort } from "node:worker_threads"
import * as Core from "./internal/foldFiles.js"
import type {
  FormatReader,
  FormatRef,
  ProjectionRef,
  SourceFile,
  WorkerData,
  WorkerMessage
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

/** Folds the files of `data`, posting progress through `post` at most every 100 ms. */
export const foldFiles = (
  data: WorkerData,
  resolve: Resolver,
  post: (message: WorkerMessage) => void
): Effect.Effect<Done, ProjectionError> =>
  Effect.gen(function*() {
    const projection = yield* resolve.projection(data.projection)
    const where = data.files[0]?.file.path ?? "worker"
    if (projection.name !== data.name || projection.version !== data.version) {
      return yield* new ProjectionError({
        path: where,
        reason: `the worker resolved projection ${projection.name} v${projection.version} where ` +
          `${data.name} v${data.version} was asked for; check the worker's resolver`
      })
    }
    const fold: Core.Fold<unknown, SourceFile> = {
      reader: resolve.format(data.format)(projection, {
        bytes: data.files.reduce((n, { end, from }) => n + (end - from), 0)
      }),
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
    for (const [done, { end, file, from, line }] of data.files.entries()) {
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
        path: where,
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
 * The body of a worker thread: folds `data` and posts the outcome to the parent. The thread's
 * entry point runs it (`Effect.runFork(workerMain(workerData, resolver))`).
 */
export const workerMain = (data: WorkerData, resolve: Resolver): Effect.Effect<void> => {
  const port = parentPort
  if (port === null) return Effect.dieMessage("ProjectionWorker.workerMain runs in a worker thread")
  const post = (message: WorkerMessage) => port.postMessage(message)
  const where = data.files[0]?.file.path ?? "worker"
  return (
    foldFiles(data, resolve, post).pipe(
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
  )
}
