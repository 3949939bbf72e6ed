/**
 * The worker thread of `projectionOurs.ts` with `workers` > 1: `ProjectionWorker.workerMain`
 * with a resolver for the built-in projections and both formats (weft's reader, Claude Code's),
 * as the CLI's composition root gives it (`ProjectCommand.workerResolver`, less user files).
 *
 * Run as a bundle (see `Bundle.ts`), by `new Worker(file, { workerData })`.
 */
import { builtins } from "@weft/kernel/projections/index"
import * as ClaudeCodeSource from "@weft/store/ClaudeCodeSource"
import type { WorkerData } from "@weft/store/ProjectionRunner"
import { ProjectionError } from "@weft/store/ProjectionRunner"
import { formatsWith, workerMain } from "@weft/store/ProjectionWorker"
import { Effect } from "effect"
import { workerData } from "node:worker_threads"

Effect.runFork(workerMain(workerData as WorkerData, {
  projection: (ref) =>
    ref._tag === "Builtin" && Object.hasOwn(builtins, ref.name)
      ? Effect.succeed(builtins[ref.name]!)
      : Effect.fail(new ProjectionError({ path: ref._tag === "File" ? ref.path : ref.name, reason: "not a built-in" })),
  format: formatsWith(() => ClaudeCodeSource.reader)
}))
