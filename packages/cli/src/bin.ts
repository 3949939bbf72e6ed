#!/usr/bin/env node
/**
 * The composition root: the only place that reads the environment, picks concrete layers
 * and runs the program.
 *
 * - `WEFT_HOME` (default `~/.weft`) is where sessions are stored.
 * - `INIT_CWD` is where the user ran `pnpm weft` (pnpm runs scripts in the workspace root);
 *   without it, the process's own directory.
 * - `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL` reach the model client; `NO_COLOR` turns
 *   colours off.
 * - Results go to stdout; warnings and errors to stderr, one line each; exit code 1 on failure.
 */
import { FileSystem, Path } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Ids from "@weft/kernel/Ids"
import * as BlobSnapshotStore from "@weft/store/BlobSnapshotStore"
import { layerJsonl } from "@weft/store/JsonlEventLog"
import type * as ProjectionRunner from "@weft/store/ProjectionRunner"
import * as ProjectionWorker from "@weft/store/ProjectionWorker"
import { Cause, Config, Console, Effect, Exit, Layer, Logger, Option } from "effect"
import * as os from "node:os"
import { isMainThread, Worker, workerData } from "node:worker_threads"
import * as Cli from "./Cli.js"
import * as Invocation from "./Invocation.js"
import * as Output from "./Output.js"
import * as ProjectCommand from "./ProjectCommand.js"

const nonEmpty = (name: string) =>
  Config.string(name).pipe(Config.option, Config.map(Option.filter((value) => value.trim() !== "")))

const invocation = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const ranFrom = path.resolve(Option.getOrElse(yield* nonEmpty("INIT_CWD"), () => process.cwd()))
  const directory = yield* fs.realPath(ranFrom).pipe(Effect.orElseSucceed(() => ranFrom))
  const home = path.resolve(
    directory,
    Option.getOrElse(yield* nonEmpty("WEFT_HOME"), () => path.join(os.homedir(), ".weft"))
  )
  const noColor = Option.isSome(yield* nonEmpty("NO_COLOR"))
  const tty = {
    stdin: process.stdin.isTTY === true,
    stdout: process.stdout.isTTY === true,
    stderr: process.stderr.isTTY === true
  }
  const apiKey = yield* nonEmpty("ANTHROPIC_API_KEY")
  const baseUrl = yield* nonEmpty("ANTHROPIC_BASE_URL")
  const claudeConfigDir = yield* nonEmpty("CLAUDE_CONFIG_DIR")
  return {
    home,
    directory,
    userHome: os.homedir(),
    cpus: os.availableParallelism(),
    tty,
    color: { stdout: tty.stdout && !noColor, stderr: tty.stderr && !noColor },
    ...Option.match(apiKey, { onNone: () => ({}), onSome: (apiKey) => ({ apiKey }) }),
    ...Option.match(baseUrl, { onNone: () => ({}), onSome: (baseUrl) => ({ baseUrl }) }),
    ...Option.match(claudeConfigDir, { onNone: () => ({}), onSome: (claudeConfigDir) => ({ claudeConfigDir }) })
  } satisfies Invocation.Service
})

const layer = Layer.unwrapEffect(
  Effect.map(
    invocation,
    (invocation) =>
      Layer.mergeAll(
        Invocation.layer(invocation),
        layerJsonl({ home: invocation.home }),
        BlobSnapshotStore.layer({ home: invocation.home }),
        // Projection folds in worker threads run this same program, which sees it is a worker below.
        Layer.succeed(
          ProjectCommand.Workers,
          (data) => new Worker(workerEntry(), { workerData: { [WORKER]: data } })
        )
      )
  )
).pipe(Layer.provideMerge(Ids.layer), Layer.provideMerge(NodeContext.layer))

// A closed stdout (`weft … | head`) is not an error worth a stack trace; the write that hit it stops the program.
process.stdout.on("error", () => {})

const main = Effect.gen(function*() {
  const debug = Option.isSome(yield* nonEmpty("WEFT_DEBUG"))
  const noColor = Option.isSome(yield* nonEmpty("NO_COLOR"))
  const console = Output.plainConsole(yield* Console.consoleWith(Effect.succeed), {
    stdout: noColor || !process.stdout.isTTY,
    stderr: noColor || !process.stderr.isTTY
  })
  yield* Effect.suspend(() => Cli.run(process.argv)).pipe(
    Effect.provide(layer),
    Effect.tapErrorCause((cause) => Cli.report(cause, debug)),
    Effect.withConsole(console)
  )
}).pipe(
  Effect.provide(Logger.replace(Logger.defaultLogger, Output.stderrLogger((line) => process.stderr.write(line + "\n"))))
)

const WORKER = "weftProjectionWorker"

/** What a worker thread runs: this program (the bundle), or from source the module that loads it through tsx. */
const workerEntry = (): string | URL =>
  process.argv[1]!.endsWith(".ts") ? new URL("./devWorker.mjs", import.meta.url) : process.argv[1]!

if (!isMainThread && workerData !== null && typeof workerData === "object" && WORKER in workerData) {
  Effect.runFork(
    ProjectCommand.workerResolver.pipe(
      Effect.flatMap((resolver) =>
        ProjectionWorker.workerMain((workerData as Record<string, ProjectionRunner.WorkerData>)[WORKER]!, resolver)
      ),
      Effect.provide(NodeContext.layer)
    )
  )
} else {
  runCli()
}

function runCli() {
  NodeRuntime.runMain(main, {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    // Set the exit code and let Node drain stdout and stderr, rather than exiting under them.
    teardown: (exit, onExit) => {
      const interrupted = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
      if (Exit.isFailure(exit) && !interrupted) process.exitCode = 1
      onExit(interrupted ? 130 : 0)
    }
  })
}
