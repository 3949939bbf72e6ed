/**
 * `weft [prompt]` and `weft -p "…"`: an agent session on a real model.
 *
 * - Which session: a new one; `-c` the latest of this project; `-r ID` that one; with
 *   `--fork-session` (or `--fork-at SEQ`) a new session that starts as a copy of it (up to SEQ),
 *   recording where it came from, so the original stays as it was.
 * - Settings: the settings files (user, project) with the flags over them. A resumed session
 *   keeps the permission rules and mode it recorded at its start: the log says what it was
 *   allowed, and replay decides by the same rules. So does `memory.extraction: "model"` (a model
 *   pass at the end of each turn proposes implicit memories): a session runs it or not from start
 *   to end.
 * - The model: Anthropic's Messages API (`ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`), the model
 *   from `--model`, else settings, else `ModelClientAnthropic.defaultModel`.
 * - `-p` answers once and exits (1 when the turn failed); questions are denied, as nobody is
 *   there to answer. Without it, an interactive session: Ctrl-C interrupts the turn, Ctrl-D
 *   (or `/exit`) ends the session.
 */
import * as AgentLoop from "@weft/kernel/AgentLoop"
import type { AgentState } from "@weft/kernel/AgentState"
import type { EventLogError } from "@weft/kernel/EventLog"
import { EventLog } from "@weft/kernel/EventLog"
import { SessionStarted } from "@weft/kernel/Events"
import { Ids } from "@weft/kernel/Ids"
import * as ModelClientAnthropic from "@weft/kernel/ModelClientAnthropic"
import * as PermissionPolicy from "@weft/kernel/PermissionPolicy"
import * as PermissionPrompt from "@weft/kernel/PermissionPrompt"
import * as PermissionRule from "@weft/kernel/PermissionRule"
import * as Pricing from "@weft/kernel/Pricing"
import * as Replay from "@weft/kernel/Replay"
import type * as Settings from "@weft/kernel/Settings"
import * as ToolRegistry from "@weft/kernel/ToolRegistry"
import * as SettingsFiles from "@weft/store/SettingsFiles"
import { Clock, Effect, Either, Layer, Option, Schema, Stream } from "effect"
import { Invocation } from "./Invocation.js"
import * as LineReader from "./LineReader.js"
import * as MemoryLayer from "./MemoryLayer.js"
import type { RootConfig } from "./RootCommand.js"
import { root, workingDirectory } from "./RootCommand.js"
import * as SessionLookup from "./SessionLookup.js"
import * as SessionOutput from "./SessionOutput.js"
import * as TerminalPrompt from "./TerminalPrompt.js"

export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

export class TurnFailedError extends Schema.TaggedError<TurnFailedError>()("TurnFailedError", {
  sessionId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.reason} (session ${this.sessionId})`
  }
}

/** `"Bash(npm test:*) Edit(src/**)"` or `"Read,Grep"` → each rule; spaces inside parentheses stay. */
export const splitRules = (texts: ReadonlyArray<string>): ReadonlyArray<string> =>
  texts.flatMap((text) => {
    const rules: Array<string> = []
    let depth = 0
    let current = ""
    for (const c of text) {
      if (c === "(") depth++
      if (c === ")") depth = Math.max(0, depth - 1)
      if (depth === 0 && (c === "," || c === " ")) {
        if (current.trim() !== "") rules.push(current.trim())
        current = ""
      } else current += c
    }
    if (current.trim() !== "") rules.push(current.trim())
    return rules
  })

/** The settings layer the flags make. */
export const flagSettings = (config: RootConfig) => {
  const permissions = {
    ...(config.allowedTools.length > 0 ? { allow: splitRules(config.allowedTools) } : {}),
    ...(config.disallowedTools.length > 0 ? { deny: splitRules(config.disallowedTools) } : {}),
    ...Option.match(config.permissionMode, { onNone: () => ({}), onSome: (defaultMode) => ({ defaultMode }) })
  }
  return {
    ...(Object.keys(permissions).length > 0 ? { permissions } : {}),
    ...Option.match(config.model, { onNone: () => ({}), onSome: (model) => ({ model }) }),
    ...Option.match(config.maxDepth, { onNone: () => ({}), onSome: (maxDepth) => ({ maxDepth }) }),
    ...Option.match(config.maxBudgetTokens, { onNone: () => ({}), onSome: (budgetTokens) => ({ budgetTokens }) }),
    ...Option.match(config.maxBudgetUsd, { onNone: () => ({}), onSome: (budgetUsd) => ({ budgetUsd }) })
  }
}

/**
 * The session's budget: in dollars (`budgetUsd`, `--max-budget-usd`) as input tokens of the model
 * with the other kinds weighted by price, else in tokens (`budgetTokens`, cache reads at
 * `cacheReadWeight`).
 */
export const budgetOf = (settings: Settings.ResolvedSettings, model: string) =>
  Effect.gen(function*() {
    if (settings.budgetUsd !== undefined) {
      const budget = Pricing.usdBudget(settings.budgetUsd, model, settings.prices)
      if (budget === undefined) {
        return yield* new UsageError({
          message:
            `a budget in dollars needs the price of ${model}: add it under "pricing" in settings, or give the budget in tokens`
        })
      }
      return { budgetTokens: budget.budgetTokens, budgetWeights: budget.weights }
    }
    return {
      budgetTokens: settings.budgetTokens ?? null,
      ...(settings.cacheReadWeight === undefined
        ? {}
        : { budgetWeights: { ...Pricing.unweighted, cacheRead: settings.cacheReadWeight } })
    }
  })

/** The permission settings a session recorded at its start, for resuming it. */
const recordedPolicy = (started: SessionStarted): PermissionPolicy.PolicySettings => {
  const permissions = started.settings["permissions"]
  const dirs = permissions !== null && typeof permissions === "object" && !Array.isArray(permissions)
    ? (permissions as Record<string, unknown>)["additionalDirectories"]
    : undefined
  return {
    rules: (started.rules ?? []).flatMap((entry) =>
      Either.match(PermissionRule.parse(entry.rule), {
        onLeft: () => [],
        onRight: (rule) => [{ behavior: entry.behavior, rule, layer: entry.layer }]
      })
    ),
    mode: started.mode ?? "default",
    additionalDirectories: Array.isArray(dirs) ? dirs.filter((d): d is string => typeof d === "string") : []
  }
}

/** The flags a continued session does not take: it keeps what it recorded at its start. */
const ignoredOnResume = (config: RootConfig): ReadonlyArray<string> => [
  ...(Option.isSome(config.model) ? ["--model"] : []),
  ...(Option.isSome(config.maxDepth) ? ["--max-depth"] : []),
  ...(Option.isSome(config.maxBudgetTokens) ? ["--max-budget-tokens"] : []),
  ...(Option.isSome(config.maxBudgetUsd) ? ["--max-budget-usd"] : []),
  ...(Option.isSome(config.permissionMode) ? ["--permission-mode"] : []),
  ...(config.allowedTools.length > 0 ? ["--allowed-tools"] : []),
  ...(config.disallowedTools.length > 0 ? ["--disallowed-tools"] : []),
  ...(Option.isSome(config.appendSystemPrompt) ? ["--append-system-prompt"] : [])
]

const checkUsage = (config: RootConfig) => {
  const resuming = config.continue || Option.isSome(config.resume)
  if (config.continue && Option.isSome(config.resume)) {
    return new UsageError({ message: "-c and -r both name a session to continue: give one of them" })
  }
  if (config.forkSession && !resuming) {
    return new UsageError({ message: "--fork-session forks the session named by -r ID or -c: add one of them" })
  }
  if (Option.isSome(config.forkAt) && !resuming) {
    return new UsageError({ message: "--fork-at forks the session named by -r ID or -c: add one of them" })
  }
  if (!config.print && config.outputFormat !== "text") {
    return new UsageError({ message: "--output-format is for -p (print mode): add -p \"your prompt\"" })
  }
  return undefined
}

/** The session a run continues: `-r ID`, or with `-c` the latest of the project. */
const sessionToContinue = (config: RootConfig, project: string) =>
  Effect.gen(function*() {
    if (Option.isSome(config.resume)) return Option.some((yield* SessionLookup.resolve(config.resume.value)).sessionId)
    if (!config.continue) return Option.none<string>()
    const sessions = yield* (yield* EventLog).sessions(project)
    const latest = [...sessions].map((s) => s.sessionId).sort().at(-1)
    if (latest === undefined) {
      return yield* new UsageError({
        message: `-c: no session of ${project} to continue; start one with weft "…" or weft -p "…"`
      })
    }
    return Option.some(latest)
  })

const readAll = (stream: Stream.Stream<Uint8Array, unknown>) =>
  stream.pipe(Stream.decodeText(), Stream.mkString, Effect.orElseSucceed(() => ""))

export const run = (config: RootConfig) =>
  Effect.gen(function*() {
    const usage = checkUsage(config)
    if (usage !== undefined) return yield* usage
    const invocation = yield* Invocation
    const tty = invocation.tty ?? { stdin: false, stdout: false, stderr: false }
    const directory = yield* workingDirectory
    const log = yield* EventLog

    let prompt = Option.getOrUndefined(config.prompt)
    if (config.print && prompt === undefined && !tty.stdin) {
      prompt = (yield* readAll(stdinStream)).trim()
    }
    if (config.print && (prompt === undefined || prompt === "")) {
      return yield* new UsageError({ message: "-p needs a prompt: weft -p \"what to do\" (or pipe it on stdin)" })
    }
    if (!config.print && !tty.stdin) {
      return yield* new UsageError({
        message: "an interactive session needs a terminal on stdin; in scripts use weft -p \"…\""
      })
    }

    const settings = yield* SettingsFiles.load({
      home: invocation.home,
      project: directory,
      flags: flagSettings(config)
    })
    for (const warning of settings.warnings) {
      yield* Effect.logWarning(`${warning.path ?? "flags"}: unknown setting "${warning.key}" (ignored)`)
    }
    const memorySettings = yield* MemoryLayer.settingsOf(settings.settings)
    const remembering = memorySettings.enabled !== false
    const apiKey = invocation.apiKey
    if (apiKey === undefined) {
      return yield* new UsageError({ message: ModelClientAnthropic.missingKey })
    }

    // The session to continue, forked first when asked.
    let sessionId = Option.getOrUndefined(yield* sessionToContinue(config, directory))
    let policy: PermissionPolicy.PolicySettings = settings
    if (sessionId !== undefined) {
      const first = yield* log.read(sessionId).pipe(Stream.take(1), Stream.runHead)
      if (Option.isNone(first) || !(first.value.event instanceof SessionStarted)) {
        return yield* new UsageError({
          message: `session ${sessionId} does not begin with SessionStarted; it cannot be resumed`
        })
      }
      policy = recordedPolicy(first.value.event)
      const ignored = ignoredOnResume(config)
      if (ignored.length > 0) {
        yield* Effect.logWarning(
          `${ignored.join(", ")}: ignored when continuing a session; it keeps the model, limits, permissions and ` +
            "system prompt it started with"
        )
      }
      if (Option.isSome(config.forkAt) && config.forkAt.value < 1) {
        return yield* new UsageError({ message: `--fork-at ${config.forkAt.value}: a seq is 1 or more` })
      }
      if (config.forkSession || Option.isSome(config.forkAt)) {
        const forkAt = Option.isSome(config.forkAt)
          ? config.forkAt.value
          : (yield* log.read(sessionId).pipe(Stream.runFold(0, (_, e) => e.seq)))
        const forked = yield* (yield* Ids).next
        yield* Replay.fork(sessionId, forkAt, forked)
        sessionId = forked
      }
    }

    const output = yield* SessionOutput.make({
      format: config.print ? config.outputFormat : "text",
      sink: {
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text)
      },
      color: invocation.color?.stderr ?? false,
      spinner: tty.stderr,
      // In print mode a failed turn is the command's error, reported once by the CLI.
      reportErrors: !config.print
    })
    const reader = config.print ? undefined : yield* LineReader.make
    const promptLayer = reader === undefined
      ? PermissionPrompt.layerDeny
      : TerminalPrompt.layerWith((question) => output.stopSpinner.pipe(Effect.zipRight(reader.readLine(question))))
    const tappedLog = Layer.succeed(EventLog, {
      ...log,
      append: (id, drafts) => log.append(id, drafts).pipe(Effect.tap(output.onAppend))
    })
    // With long-term memory: the memory tools, and one index both they and the loop use (see `MemoryLayer`).
    const services = Layer.mergeAll(
      ModelClientAnthropic.layerAnthropic({
        apiKey,
        ...(invocation.baseUrl === undefined ? {} : { baseURL: invocation.baseUrl })
      }),
      PermissionPolicy.layer(policy, { home: invocation.userHome ?? invocation.home }),
      promptLayer,
      tappedLog
    )
    const loopLayer = AgentLoop.layer({ onModelEvent: output.onModelEvent }).pipe(
      Layer.provide(
        remembering
          ? Layer.effect(
            ToolRegistry.ToolRegistry,
            Effect.flatMap(
              Effect.all([ToolRegistry.builtins, ToolRegistry.memoryTools]),
              ([builtins, memory]) => ToolRegistry.make([...builtins, ...memory])
            )
          ).pipe(Layer.provideMerge(MemoryLayer.layer(invocation.home, memorySettings)), Layer.merge(services))
          : Layer.merge(ToolRegistry.layerBuiltins, services)
      )
    )

    yield* Effect.gen(function*() {
      const loop = yield* AgentLoop.AgentLoop
      const model = settings.model ?? ModelClientAnthropic.defaultModel
      const session = sessionId === undefined
        ? yield* loop.start({
          project: directory,
          cwd: directory,
          model,
          contextWindow: ModelClientAnthropic.contextWindow(model),
          settings: settings.settings,
          sources: settings.sources,
          maxDepth: settings.maxDepth ?? 3,
          ...(yield* budgetOf(settings, model)),
          ...(settings.thinkingBudgetTokens === undefined
            ? {}
            : { thinkingBudgetTokens: settings.thinkingBudgetTokens }),
          ...Option.match(config.appendSystemPrompt, {
            onNone: () => ({}),
            onSome: (appendSystemPrompt) => ({ appendSystemPrompt })
          }),
          agents: settings.agents,
          prices: settings.prices,
          // The memory pass feeds long-term memory: with memory off there is nothing to feed.
          ...(remembering && memorySettings.extraction === "model" ? { memoryExtraction: "model" as const } : {})
        })
        : yield* loop.resume(sessionId)

      const turn = (
        text: string,
        beforeResult: (result: AgentLoop.TurnResult) => Effect.Effect<void, EventLogError> = () => Effect.void
      ) =>
        Effect.gen(function*() {
          const started = yield* Clock.currentTimeMillis
          const result = yield* session.send(text)
          yield* beforeResult(result)
          const state: AgentState = yield* session.state
          yield* output.finish({
            sessionId: session.sessionId,
            text: result.text,
            ...(result.error === undefined ? {} : { error: result.error }),
            turns: state.requests,
            durationMs: (yield* Clock.currentTimeMillis) - started,
            usage: state.treeUsage,
            costUsd: state.costUsd,
            stopReason: result.stopReason
          })
          return result
        })

      if (reader === undefined) {
        // The session ends before the result is printed, so stream-json's events come first, all of them.
        const result = yield* turn(
          prompt!,
          (result) => session.end(result.error === undefined ? "completed" : "failed")
        )
        if (result.error !== undefined) {
          return yield* new TurnFailedError({ sessionId: session.sessionId, reason: result.error })
        }
        return
      }

      process.stderr.write(
        `weft · session ${session.sessionId} · ${directory}\n` +
          "Ctrl-C interrupts a turn · Ctrl-D or /exit ends the session\n"
      )
      if (prompt !== undefined) yield* reader.interruptible(turn(prompt))
      for (;;) {
        const line = yield* reader.readLine("› ")
        if (Option.isNone(line) || line.value.trim() === "/exit") break
        if (line.value.trim() === "") continue
        yield* reader.interruptible(turn(line.value))
      }
      yield* session.end("completed")
      process.stderr.write(
        `session ${session.sessionId} saved · weft -r ${session.sessionId.slice(0, 8)} to continue\n`
      )
    }).pipe(Effect.provide(loopLayer))
  }).pipe(Effect.scoped, Effect.provideService(root.tag, config))

const stdinStream: Stream.Stream<Uint8Array, unknown> = Stream.fromAsyncIterable(
  process.stdin as AsyncIterable<Uint8Array>,
  (e) => e
)
