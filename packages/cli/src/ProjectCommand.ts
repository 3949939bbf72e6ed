/**
 * `weft project <name | path/to/projection.ts> [--session ID | --project DIR | --all] [--json]
 * [--follow] [--rebuild] [--source weft|claude-code] [--claude-dir DIR] [--workers N]`: folds a
 * projection — a built-in, or a user's file (see `ProjectionModule`) — over the sessions of the
 * current project (`--cwd`, else where weft was run), one session, another project, or all of
 * them, and prints what its `render` makes of the state (`--json`: the state, encoded with its
 * codec).
 *
 * The runner keeps a checkpoint per projection and source, so a second run folds only what was
 * appended since (`--rebuild` starts again); `--follow` keeps folding what is appended and prints
 * the state again each time it changes. On a terminal, stderr shows a progress bar while it folds
 * (files, MB, events, ETA), cleared when done.
 *
 * `--workers N` folds in N worker threads when the composition root provides a way to start them
 * (`Workers`) and the projection can `merge`; otherwise on this thread.
 */
import { Args, Command, Options } from "@effect/cli"
import { FileSystem, Path } from "@effect/platform"
import type * as Projection from "@weft/kernel/Projection"
import { builtins } from "@weft/kernel/projections/index"
import * as ClaudeCodeSource from "@weft/store/ClaudeCodeSource"
import { encodeProjectPath } from "@weft/store/Layout"
import * as ProjectionModule from "@weft/store/ProjectionModule"
import * as ProjectionRunner from "@weft/store/ProjectionRunner"
import type { Resolver } from "@weft/store/ProjectionWorker"
import { formatsWith } from "@weft/store/ProjectionWorker"
import { Context, Effect, Either, Option, Schema, Stream } from "effect"
import { createHash } from "node:crypto"
import * as HistorySource from "./HistorySource.js"
import { Invocation } from "./Invocation.js"
import * as Output from "./Output.js"
import { resolvePath, workingDirectory } from "./RootCommand.js"
import * as SessionLookup from "./SessionLookup.js"
import { UsageError } from "./SessionsCommand.js"

/** How to start a worker thread for a parallel fold: given by the composition root, which knows the entry module. */
export class Workers extends Context.Tag("@weft/cli/ProjectCommand/Workers")<
  Workers,
  ProjectionRunner.WorkerSpawner
>() {}

/** Below this much to read, a fold without `--workers` stays on one thread: workers would cost more than they save. */
export const AUTO_PARALLEL_BYTES = 64 * 1024 * 1024

/** At most this many threads without `--workers`: past it, reading the files is the limit, not folding them. */
const AUTO_MAX_THREADS = 4

/**
 * The threads a fold may use: `--workers N` exactly (warning when worker threads cannot be
 * started), else as many as the machine runs at once, up to four, for a fold from scratch of at
 * least `AUTO_PARALLEL_BYTES`.
 */
export const foldThreads = (given: Option.Option<number>, cpus: number | undefined) =>
  Effect.gen(function*() {
    const spawner = yield* Effect.serviceOption(Workers)
    if (Option.isSome(given)) {
      if (given.value > 1 && Option.isNone(spawner)) {
        yield* Effect.logWarning("--workers: this build of weft cannot start worker threads; folding on one thread")
      }
      return { workers: given.value, minParallelBytes: 0, spawner }
    }
    const workers = Option.isSome(spawner) ? Math.max(1, Math.min(AUTO_MAX_THREADS, cpus ?? 1)) : 1
    return { workers, minParallelBytes: AUTO_PARALLEL_BYTES, spawner }
  })

export class UnknownProjectionError extends Schema.TaggedError<UnknownProjectionError>()("UnknownProjectionError", {
  name: Schema.String
}) {
  override get message() {
    return `no built-in projection "${this.name}"; the built-ins are ${
      Object.keys(builtins).join(", ")
    }, or give a projection file (./my-projection.ts)`
  }
}

export class ProjectionOutputError extends Schema.TaggedError<ProjectionOutputError>()("ProjectionOutputError", {
  projection: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `projection ${this.projection}: ${this.reason}`
  }
}

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * The projection `arg` names — a built-in, or a file taken from `directory` — how a worker finds
 * it again, and, for a file, a digest of its content: its checkpoints are kept apart by it, so an
 * edited file folds from scratch even when its author did not bump `version`.
 */
export const resolveProjection = (arg: string, directory: string) =>
  Effect.gen(function*() {
    if (!ProjectionModule.isPath(arg)) {
      const builtin = Object.hasOwn(builtins, arg) ? builtins[arg] : undefined
      if (builtin === undefined) return yield* new UnknownProjectionError({ name: arg })
      const ref: ProjectionRunner.ProjectionRef = { _tag: "Builtin", name: arg }
      return { projection: builtin, ref, digest: undefined }
    }
    const path = (yield* Path.Path).resolve(directory, arg)
    const projection = yield* ProjectionModule.load(path)
    const bytes = yield* (yield* FileSystem.FileSystem).readFile(path).pipe(
      Effect.mapError((error) =>
        new ProjectionRunner.ProjectionError({ path, reason: `could not read it (${error.message})` })
      )
    )
    const ref: ProjectionRunner.ProjectionRef = { _tag: "File", path }
    return { projection, ref, digest: createHash("sha256").update(bytes).digest("hex").slice(0, 12) }
  })

/**
 * How a worker thread resolves what the runner names: a built-in by name, a file by loading it,
 * Claude Code's reader by its tag. The worker entry of the composition root builds it once
 * (providing the file system) and passes it to `ProjectionWorker.workerMain`.
 */
export const workerResolver: Effect.Effect<Resolver, never, FileSystem.FileSystem | Path.Path> = Effect.gen(
  function*() {
    const context = yield* Effect.context<FileSystem.FileSystem | Path.Path>()
    return {
      projection: (ref) =>
        ref._tag === "Builtin"
          ? Object.hasOwn(builtins, ref.name)
            ? Effect.succeed(builtins[ref.name]!)
            : Effect.fail(
              new ProjectionRunner.ProjectionError({ path: ref.name, reason: "no such built-in projection" })
            )
          : ProjectionModule.load(ref.path).pipe(
            Effect.provide(context),
            Effect.mapError((error) =>
              new ProjectionRunner.ProjectionError({
                path: error.path,
                reason: error.reason,
                ...(error.line === undefined ? {} : { line: error.line })
              })
            )
          ),
      format: formatsWith(() => ClaudeCodeSource.reader)
    } satisfies Resolver
  }
)

/** Claude Code's history narrowed to a selection (its reader lists every project's files). */
const claudeCodeSelection = (format: ProjectionRunner.Format, selection: ProjectionRunner.Selection) => {
  switch (selection._tag) {
    case "All":
      return format
    case "Project": {
      const folder = encodeProjectPath(selection.project)
      return {
        ...format,
        key: ProjectionRunner.sourceKey(`${format.key}-project-${folder}`),
        files: Effect.map(format.files, (files) => files.filter((file) => file.project === folder))
      }
    }
    case "Session":
      return {
        ...format,
        key: ProjectionRunner.sourceKey(`${format.key}-session-${selection.sessionId}`),
        files: Effect.flatMap(format.files, (files) => {
          const ids = [...new Set(files.map((f) => f.sessionId).filter((id) => id.startsWith(selection.sessionId)))]
          if (ids.length === 1) return Effect.succeed(files.filter((file) => file.sessionId === ids[0]))
          return Effect.fail(
            new ProjectionRunner.ProjectionError({
              path: selection.sessionId,
              reason: ids.length === 0
                ? "no Claude Code session id starts with it; see them with --all"
                : `${ids.length} Claude Code sessions start with it (${
                  ids.slice(0, 3).join(", ")
                }…); type more of the id`
            })
          )
        })
      }
  }
}

// --- progress -----------------------------------------------------------------------------

const CLEAR_LINE = "\r\u001b[2K"

const mb = (bytes: number) => (bytes / 1e6).toFixed(1)

/** `m:ss`, or `h:mm:ss`. */
const clock = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000))
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60]
  return h > 0
    ? `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`
    : `${m}:${String(sec).padStart(2, "0")}`
}

/**
 * One line of the progress bar: `[████░░░░]  42%  120/300 files  35.2/84.0 MB  1,234,567 events
 * ETA 0:12`, at most `columns` wide (the bar shrinks first). The ETA comes from the bytes read so
 * far and the time they took.
 */
export const progressLine = (progress: ProjectionRunner.Progress, elapsedMs: number, columns: number): string => {
  const fraction = progress.totalBytes > 0
    ? Math.min(1, progress.bytes / progress.totalBytes)
    : progress.totalFiles > 0
    ? progress.files / progress.totalFiles
    : 1
  const eta = progress.bytes > 0 && fraction < 1 && elapsedMs >= 500
    ? `ETA ${clock((elapsedMs * (progress.totalBytes - progress.bytes)) / progress.bytes)}`
    : fraction >= 1
    ? "ETA 0:00"
    : "ETA …"
  const text = [
    `${Math.floor(fraction * 100)}%`,
    `${progress.files}/${progress.totalFiles} files`,
    `${mb(progress.bytes)}/${mb(progress.totalBytes)} MB`,
    `${progress.events.toLocaleString("en-US")} events`,
    eta
  ].join("  ")
  const width = Math.min(30, columns - text.length - 5)
  if (width < 5) return text.slice(0, Math.max(0, columns - 1))
  const filled = Math.round(fraction * width)
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}]  ${text}`
}

/** Draws the progress bar in place on stderr, from the first report after `delayMs`; `clear` erases it for good. */
const progressBar = (write: (text: string) => void, columns: () => number, now: () => number, delayMs = 300) => {
  const started = now()
  let shown = false
  let done = false
  return {
    onProgress: (progress: ProjectionRunner.Progress) => {
      const elapsed = now() - started
      if (done || elapsed < delayMs) return
      shown = true
      write(CLEAR_LINE + progressLine(progress, elapsed, columns()))
    },
    clear: Effect.sync(() => {
      done = true
      if (shown) write(CLEAR_LINE)
      shown = false
    })
  }
}

// --- the command ----------------------------------------------------------------------------

const options = {
  projection: Args.text({ name: "projection" }).pipe(
    Args.withDescription(
      `A built-in (${
        Object.keys(builtins).join(", ")
      }) or a projection file (.ts, .mts, .js, .mjs), e.g. ./my-projection.ts.`
    )
  ),
  session: Options.text("session").pipe(
    Options.withPseudoName("ID"),
    Options.withDescription("Fold one session (an id, or a unique prefix of it)."),
    Options.optional
  ),
  project: Options.text("project").pipe(
    Options.withPseudoName("DIR"),
    Options.withDescription("Fold the sessions of the project in DIR (default: the current directory, or --cwd)."),
    Options.optional
  ),
  all: Options.boolean("all").pipe(Options.withDescription("Fold the sessions of every project.")),
  json: Options.boolean("json").pipe(Options.withDescription("Print the state as JSON (encoded with its codec).")),
  follow: Options.boolean("follow").pipe(
    Options.withDescription("Keep folding what is appended, printing the state again each time it changes.")
  ),
  rebuild: Options.boolean("rebuild").pipe(
    Options.withDescription("Fold everything again, ignoring (and replacing) the checkpoint.")
  ),
  source: HistorySource.source,
  claudeDir: HistorySource.claudeDir,
  workers: Options.integer("workers").pipe(
    Options.withPseudoName("N"),
    Options.withDescription(
      "Fold in N threads (a projection that can merge, folding from scratch); default: up to 4 for 64 MB or more."
    ),
    Options.optional
  ),
  lenient: Options.boolean("lenient").pipe(
    Options.withDescription(
      "Skip lines that are not events (counted in a warning) instead of failing; always on for claude-code."
    )
  )
}

type ProjectConfig = Command.Command.ParseConfig<typeof options>

const checkUsage = (config: ProjectConfig): UsageError | undefined => {
  const scopes = [
    Option.isSome(config.session) ? "--session" : undefined,
    Option.isSome(config.project) ? "--project" : undefined,
    config.all ? "--all" : undefined
  ].filter((s) => s !== undefined)
  if (scopes.length > 1) {
    return new UsageError({
      reason: `project: give one of --session, --project and --all, not ${scopes.join(" and ")}`
    })
  }
  if (Option.isSome(config.claudeDir) && config.source !== "claude-code") {
    return new UsageError({ reason: "project: --claude-dir goes with --source claude-code" })
  }
  if (Option.isSome(config.workers) && config.workers.value < 1) {
    return new UsageError({ reason: `project: --workers ${config.workers.value}: give 1 or more` })
  }
  return undefined
}

/** What to print for a state: `render`'s lines, or the encoded state as JSON (pretty, or one line when following). */
const output = <S>(projection: Projection.Projection<S>, state: S, json: "pretty" | "line" | false) =>
  Effect.gen(function*() {
    if (json !== false || projection.render === undefined) {
      const encoded = projection.codec === undefined
        ? Either.right<unknown>(state)
        : Either.mapLeft(Schema.encodeEither(projection.codec)(state), (error) => error.message.split("\n")[0]!)
      if (Either.isLeft(encoded)) {
        return yield* new ProjectionOutputError({
          projection: projection.name,
          reason: `its state does not encode with its codec (${encoded.left}); fix the codec`
        })
      }
      return [JSON.stringify(encoded.right, null, json === "line" ? undefined : 2) ?? "null"]
    }
    const render = projection.render
    const lines: unknown = yield* Effect.try({
      try: () => render(state),
      catch: (cause) =>
        new ProjectionOutputError({ projection: projection.name, reason: `render threw: ${describe(cause)}` })
    })
    if (!Array.isArray(lines)) {
      return yield* new ProjectionOutputError({
        projection: projection.name,
        reason: "render must return an array of lines (strings)"
      })
    }
    return lines.map(String)
  })

export const project = Command.make("project", options, (config) =>
  Effect.gen(function*() {
    const usage = checkUsage(config)
    if (usage !== undefined) return yield* usage
    const invocation = yield* Invocation
    const directory = yield* workingDirectory
    const { digest, projection, ref } = yield* resolveProjection(config.projection, directory)

    const selection: ProjectionRunner.Selection = config.all
      ? { _tag: "All" }
      : Option.isSome(config.session)
      ? {
        _tag: "Session",
        sessionId: config.source === "weft"
          ? (yield* SessionLookup.resolve(config.session.value)).sessionId
          : config.session.value
      }
      : { _tag: "Project", project: yield* resolvePath(directory, Option.getOrElse(config.project, () => ".")) }
    const source = config.source === "weft"
      ? ProjectionRunner.weftSource(invocation.home, selection)
      : claudeCodeSelection(
        ClaudeCodeSource.claudeCodeSource(yield* HistorySource.claudeDirectory(config.claudeDir, directory)),
        selection
      )
    const format = digest === undefined
      ? source
      : { ...source, key: ProjectionRunner.sourceKey(`${source.key}.file-${digest}`) }

    const { minParallelBytes, spawner, workers } = yield* foldThreads(config.workers, invocation.cpus)
    if (Option.isSome(config.workers) && workers > 1 && Option.isSome(spawner) && projection.merge === undefined) {
      yield* Effect.logWarning(`--workers: projection ${projection.name} has no merge; folding on one thread`)
    }
    const timer = yield* Effect.clock
    const bar = invocation.tty?.stderr === true
      ? progressBar(
        (text) => process.stderr.write(text),
        () => process.stderr.columns || 80,
        () => timer.unsafeCurrentTimeMillis()
      )
      : undefined
    const runOptions: ProjectionRunner.RunOptions = {
      rebuild: config.rebuild,
      workers,
      minParallelBytes,
      projectionRef: ref,
      lenient: config.lenient || config.source === "claude-code",
      ...(Option.isSome(spawner) ? { worker: spawner.value } : {}),
      ...(bar === undefined ? {} : { onProgress: bar.onProgress })
    }
    const warnSkipped = (result: ProjectionRunner.Result<unknown>) =>
      result.skippedLines === 0 ? Effect.void : Effect.logWarning(
        `skipped ${
          result.skippedLines === 1 ? "a line that is not an event" : `${result.skippedLines} lines that are not events`
        }${config.source === "weft" ? "; `weft doctor` tells more" : ""}`
      )
    const noSessions = (result: ProjectionRunner.Result<unknown>) =>
      result.files === 0 && selection._tag === "Project" && !config.json
        ? [`No sessions for ${selection.project}. (\`--all\` folds every project's.)`]
        : undefined
    const clearBar = bar === undefined ? Effect.void : bar.clear

    if (!config.follow) {
      const result = yield* ProjectionRunner.run(invocation.home, projection, format, runOptions).pipe(
        Effect.ensuring(clearBar)
      )
      yield* warnSkipped(result)
      return yield* Output.lines(
        noSessions(result) ?? (yield* output(projection, result.state, config.json && "pretty"))
      )
    }
    const redraw = invocation.tty?.stdout === true && !config.json
    let first = true
    yield* ProjectionRunner.follow(invocation.home, projection, format, runOptions).pipe(
      Stream.runForEach((result) =>
        Effect.gen(function*() {
          if (first) yield* clearBar
          yield* warnSkipped(result)
          const lines = noSessions(result) ?? (yield* output(projection, result.state, config.json && "line"))
          // On a terminal the state replaces the previous one, as `watch` does; in a pipe each follows the last.
          yield* Output.text(redraw ? "\u001b[2J\u001b[H" : first || config.json ? "" : "\n")
          yield* Output.lines(lines)
          first = false
        })
      ),
      Effect.ensuring(clearBar)
    )
  })).pipe(
    Command.withDescription(
      "Fold a projection — a built-in, or your own .ts/.js file — over the sessions of this project, one session, " +
        "another project or all, and print it (--json: its state)."
    )
  )
