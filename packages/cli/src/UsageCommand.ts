/**
 * `weft usage [--by day|session|model|agent] [--since DATE] [--until DATE] [--timezone TZ] [--json]
 * [--source weft|claude-code] [--claude-dir DIR] [--rebuild]`: the tokens and cost of every model
 * response, as a table like ccusage's (input, output, cache create, cache read, total tokens,
 * cost, and a Total row) or as JSON shaped like `ccusage daily --json`.
 *
 * It folds the built-in `usage` projection (`@weft/kernel/projections/Usage`) over every weft
 * session, or over Claude Code's history (`--source claude-code`, from `--claude-dir`, else
 * `CLAUDE_CONFIG_DIR`, else `~/.claude`), through the projection runner: a checkpoint under
 * WEFT_HOME makes the next run read only what was appended.
 *
 * - Counting: as ccusage counts (one per message id + request id, the largest line) — over
 *   Claude Code's files the totals are those of `ccusage claude daily --json`.
 * - Days: in the local time zone, as ccusage's; `--timezone` (an IANA name, or UTC) picks
 *   another. `--since` / `--until` (YYYY-MM-DD or YYYYMMDD, inclusive) keep the responses of
 *   those days.
 * - Cost: from weft's price table — Anthropic's list prices, with settings' `pricing` over them —
 *   never from a cost a log line carries; a model without a price shows "—".
 */
import { Command, Options } from "@effect/cli"
import * as Usage from "@weft/kernel/projections/Usage"
import * as ClaudeCodeSource from "@weft/store/ClaudeCodeSource"
import * as ProjectionRunner from "@weft/store/ProjectionRunner"
import * as SettingsFiles from "@weft/store/SettingsFiles"
import { Effect, Option } from "effect"
import * as HistorySource from "./HistorySource.js"
import { Invocation } from "./Invocation.js"
import * as Output from "./Output.js"
import { foldThreads, progressLine } from "./ProjectCommand.js"
import { workingDirectory } from "./RootCommand.js"
import { UsageError } from "./SessionsCommand.js"

const options = {
  by: Options.choice("by", ["day", "session", "model", "agent"] as const).pipe(
    Options.withDescription("One row per day (default), session, model or agent."),
    Options.withDefault("day" as const)
  ),
  since: Options.text("since").pipe(
    Options.withPseudoName("DATE"),
    Options.withDescription("Only the responses of this day (YYYY-MM-DD) or later."),
    Options.optional
  ),
  until: Options.text("until").pipe(
    Options.withPseudoName("DATE"),
    Options.withDescription("Only the responses of this day (YYYY-MM-DD) or earlier."),
    Options.optional
  ),
  timezone: Options.text("timezone").pipe(
    Options.withPseudoName("TZ"),
    Options.withDescription("The time zone days are counted in (e.g. UTC, Europe/Paris; default: the local one)."),
    Options.optional
  ),
  json: Options.boolean("json").pipe(
    Options.withDescription("Print JSON shaped like ccusage's: { daily: [{ date, inputTokens, … }], totals }.")
  ),
  source: HistorySource.source,
  claudeDir: HistorySource.claudeDir,
  rebuild: Options.boolean("rebuild").pipe(
    Options.withDescription("Count everything again, ignoring (and replacing) the checkpoint.")
  ),
  workers: Options.integer("workers").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("Count in N threads when counting from scratch; default: up to 4 for 64 MB or more."),
    Options.optional
  )
}

const DATE = /^(\d{4})-?(\d{2})-?(\d{2})$/

/** A day given as YYYY-MM-DD or YYYYMMDD (ccusage's form), as YYYY-MM-DD; undefined when it is not a real day. */
export const parseDay = (text: string): string | undefined => {
  const match = DATE.exec(text.trim())
  if (match === null) return undefined
  const [, year, month, day] = match
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)))
  const iso = `${year}-${month}-${day}`
  return date.toISOString().slice(0, 10) === iso ? iso : undefined
}

const day = (option: "since" | "until", given: Option.Option<string>) =>
  Option.match(given, {
    onNone: () => Effect.succeed(undefined),
    onSome: (text) => {
      const parsed = parseDay(text)
      return parsed === undefined
        ? Effect.fail(new UsageError({ reason: `usage: --${option} ${text}: give a day as YYYY-MM-DD` }))
        : Effect.succeed(parsed)
    }
  })

/** The time zone of this machine, as ccusage uses by default. */
const localTimeZone = Effect.sync(() => Intl.DateTimeFormat().resolvedOptions().timeZone)

/** What is under the table: what the days and costs are, and how responses were counted. */
export const footer = (report: Usage.Report, source: "weft" | "claude-code"): ReadonlyArray<string> => [
  `Days in ${report.timeZone}. Cost from ${Usage.costBasis}.`,
  ...(source === "claude-code"
    ? ["Counted as ccusage counts: once per message id + request id, the line with the most tokens."]
    : [])
]

const CLEAR_LINE = "\r\u001b[2K"

export const usage = Command.make("usage", options, (config) =>
  Effect.gen(function*() {
    if (Option.isSome(config.claudeDir) && config.source !== "claude-code") {
      return yield* new UsageError({ reason: "usage: --claude-dir goes with --source claude-code" })
    }
    const since = yield* day("since", config.since)
    const until = yield* day("until", config.until)
    if (since !== undefined && until !== undefined && since > until) {
      return yield* new UsageError({ reason: `usage: --since ${since} is after --until ${until}` })
    }
    const timeZone = Option.isSome(config.timezone) ? config.timezone.value : yield* localTimeZone
    if (!Usage.isTimeZone(timeZone)) {
      return yield* new UsageError({
        reason: `usage: --timezone ${timeZone}: not a time zone; give an IANA name such as UTC or Europe/Paris`
      })
    }

    if (Option.isSome(config.workers) && config.workers.value < 1) {
      return yield* new UsageError({ reason: `usage: --workers ${config.workers.value}: give 1 or more` })
    }
    const invocation = yield* Invocation
    const directory = yield* workingDirectory
    const settings = yield* SettingsFiles.load({ home: invocation.home, project: directory })
    const format = config.source === "weft"
      ? ProjectionRunner.weftSource(invocation.home, { _tag: "All" })
      : ClaudeCodeSource.claudeCodeSource(yield* HistorySource.claudeDirectory(config.claudeDir, directory))

    const timer = yield* Effect.clock
    const started = timer.unsafeCurrentTimeMillis()
    let shown = false
    const onProgress = invocation.tty?.stderr === true
      ? (progress: ProjectionRunner.Progress) => {
        const elapsed = timer.unsafeCurrentTimeMillis() - started
        if (elapsed < 300) return
        shown = true
        process.stderr.write(CLEAR_LINE + progressLine(progress, elapsed, process.stderr.columns || 80))
      }
      : undefined
    const { minParallelBytes, spawner, workers } = yield* foldThreads(config.workers, invocation.cpus)
    const result = yield* ProjectionRunner.run(invocation.home, Usage.projection, format, {
      rebuild: config.rebuild,
      workers,
      minParallelBytes,
      ...(Option.isSome(spawner) ? { worker: spawner.value } : {}),
      projectionRef: { _tag: "Builtin", name: Usage.projection.name },
      // Claude Code's lines that are not JSON are skipped, as ccusage skips them.
      lenient: config.source === "claude-code",
      ...(onProgress === undefined ? {} : { onProgress })
    }).pipe(Effect.ensuring(Effect.sync(() => shown && process.stderr.write(CLEAR_LINE))))
    if (result.skippedLines > 0) {
      yield* Effect.logWarning(
        `skipped ${
          result.skippedLines === 1 ? "a line" : `${result.skippedLines} lines`
        } of Claude Code's history that ${result.skippedLines === 1 ? "is" : "are"} not JSON (ccusage skips them too)`
      )
    }

    const report = Usage.report(result.state, {
      by: config.by,
      timeZone,
      prices: settings.prices,
      ...(since === undefined ? {} : { since }),
      ...(until === undefined ? {} : { until })
    })
    if (config.json) return yield* Output.line(JSON.stringify(Usage.json(report), null, 2))
    if (report.rows.length === 0) {
      return yield* Output.line(
        since === undefined && until === undefined
          ? config.source === "weft"
            ? "No usage recorded yet. (`weft usage --source claude-code` counts Claude Code's history.)"
            : "No usage in Claude Code's history."
          : `No usage ${since === undefined ? "" : `from ${since} `}${
            until === undefined ? "" : `to ${until} `
          }(days in ${timeZone}).`
      )
    }
    yield* Output.lines([
      ...Usage.table(report, { color: invocation.color?.stdout === true }),
      ...footer(report, config.source)
    ])
  })).pipe(
    Command.withDescription(
      "Tokens and cost of every model response by day, session, model or agent — of weft's sessions or, with " +
        "--source claude-code, of Claude Code's history, counted as ccusage counts. Cost from weft's price table " +
        "(Anthropic list prices; settings \"pricing\" overrides)."
    )
  )
