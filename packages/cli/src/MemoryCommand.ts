/**
 * `weft memory add|forget|list|search|stats|rebuild`: long-term memory from the command line.
 *
 * - `add "text" [--scope user|project] [--ttl DAYS]` records a `MemoryWritten` in this project's
 *   memory session (`memory-<hash of the project path>`, created on first use): the log is the
 *   truth, the indexes follow it.
 * - `forget <id>` records a `MemoryForgotten`; `list` shows what is remembered, most important
 *   first.
 * - `search "…" [-k N] [--all] [--session ID] [--role user|assistant] [--since DAY] [--until DAY]`
 *   finds what was said in earlier sessions (this project's unless `--all`).
 * - `stats` shows the indexes: tiers, segments, sizes, counts; `rebuild` folds the whole log again.
 *
 * Every subcommand takes `--json`.
 */
import { Args, Command, Options } from "@effect/cli"
import { EventLog } from "@weft/kernel/EventLog"
import { MemoryForgotten, MemoryWritten, SessionStarted } from "@weft/kernel/Events"
import { Ids } from "@weft/kernel/Ids"
import * as ModelClientAnthropic from "@weft/kernel/ModelClientAnthropic"
import { LongTermMemory } from "@weft/memory/LongTermMemory"
import * as SettingsFiles from "@weft/store/SettingsFiles"
import { Clock, Effect, Option } from "effect"
import { createHash } from "node:crypto"
import { Invocation } from "./Invocation.js"
import * as MemoryLayer from "./MemoryLayer.js"
import * as Output from "./Output.js"
import { workingDirectory } from "./RootCommand.js"
import { UsageError } from "./SessionsCommand.js"

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON."))

/** The session `weft memory add` and `forget` write to: one per project, named for its path. */
export const memorySessionId = (project: string): string =>
  `memory-${createHash("sha256").update(project).digest("hex").slice(0, 16)}`

/** Runs `effect` with long-term memory built from this WEFT_HOME and the merged settings. */
const withMemory = <A, E, R>(effect: (directory: string) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const invocation = yield* Invocation
    const directory = yield* workingDirectory
    const settings = yield* SettingsFiles.load({ home: invocation.home, project: directory })
    const memorySettings = yield* MemoryLayer.settingsOf(settings.settings)
    return yield* effect(directory).pipe(Effect.provide(MemoryLayer.layer(invocation.home, memorySettings)))
  })

/** Appends `event` to the project's memory session, starting the session first if need be. */
const record = (directory: string, event: MemoryWritten | MemoryForgotten) =>
  Effect.gen(function*() {
    const log = yield* EventLog
    const sessionId = memorySessionId(directory)
    const known = yield* log.sessions(directory)
    const exists = known.some((s) => s.sessionId === sessionId)
    const invocation = yield* Invocation
    const settings = yield* SettingsFiles.load({ home: invocation.home, project: directory })
    const started = new SessionStarted({
      project: directory,
      cwd: directory,
      model: settings.model ?? ModelClientAnthropic.defaultModel,
      settings: {},
      sources: [],
      maxDepth: 0,
      budgetTokens: null
    })
    return yield* log.append(sessionId, exists ? [event] : [started, event])
  })

const scope = Options.choice("scope", ["user", "project"] as const).pipe(
  Options.withDescription("user: about you, in every project; project (default): about this project."),
  Options.withDefault("project" as const)
)

const ttl = Options.integer("ttl").pipe(
  Options.withPseudoName("DAYS"),
  Options.withDescription("Forget it by itself after this many days."),
  Options.optional
)

const DAY_MS = 24 * 60 * 60 * 1000

const add = Command.make(
  "add",
  {
    text: Args.text({ name: "text" }).pipe(Args.withDescription("What to remember, as one sentence.")),
    scope,
    ttl,
    json
  },
  (config) =>
    withMemory((directory) =>
      Effect.gen(function*() {
        const text = config.text.trim()
        if (text === "") return yield* new UsageError({ reason: "memory add: give the text to remember" })
        if (Option.isSome(config.ttl) && config.ttl.value < 1) {
          return yield* new UsageError({ reason: `memory add: --ttl ${config.ttl.value}: give 1 or more days` })
        }
        const now = yield* Clock.currentTimeMillis
        const memoryId = yield* (yield* Ids).next
        const expiresAt = Option.map(config.ttl, (days) => new Date(now + days * DAY_MS).toISOString())
        const written = yield* record(
          directory,
          new MemoryWritten({
            memoryId,
            scope: config.scope,
            kind: "explicit",
            text,
            ...(config.scope === "project" ? { project: directory } : {}),
            ...Option.match(expiresAt, { onNone: () => ({}), onSome: (at) => ({ expiresAt: at }) })
          })
        )
        yield* (yield* LongTermMemory).ingest(written)
        if (config.json) {
          return yield* Output.line(
            JSON.stringify({
              memoryId,
              scope: config.scope,
              text,
              ...Option.match(expiresAt, { onNone: () => ({}), onSome: (at) => ({ expiresAt: at }) })
            })
          )
        }
        return yield* Output.line(
          `Remembered ${memoryId} (${config.scope}${
            Option.match(expiresAt, { onNone: () => "", onSome: (at) => `, until ${at}` })
          }).`
        )
      })
    )
).pipe(Command.withDescription("Remember a fact, preference or instruction for later sessions."))

const forget = Command.make(
  "forget",
  { id: Args.text({ name: "id" }).pipe(Args.withDescription("The id `weft memory list` shows.")), json },
  (config) =>
    withMemory((directory) =>
      Effect.gen(function*() {
        const memory = yield* LongTermMemory
        const entries = yield* memory.memories({ project: directory })
        const entry = entries.find((e) => e.memoryId === config.id)
        if (entry === undefined) {
          return yield* new UsageError({
            reason: `memory forget: no memory ${config.id} here; \`weft memory list\` shows the ids`
          })
        }
        const written = yield* record(directory, new MemoryForgotten({ memoryId: entry.memoryId, scope: entry.scope }))
        yield* memory.ingest(written)
        return yield* Output.line(
          config.json ? JSON.stringify({ forgotten: entry.memoryId }) : `Forgot ${entry.memoryId}: ${entry.text}`
        )
      })
    )
).pipe(Command.withDescription("Forget a memory by its id."))

const list = Command.make(
  "list",
  {
    scope: Options.choice("scope", ["user", "project"] as const).pipe(
      Options.withDescription("Only user, or only project, memories."),
      Options.optional
    ),
    json
  },
  (config) =>
    withMemory((directory) =>
      Effect.gen(function*() {
        const entries = yield* (yield* LongTermMemory).memories({
          project: directory,
          ...Option.match(config.scope, { onNone: () => ({}), onSome: (scope) => ({ scope }) })
        })
        if (config.json) return yield* Output.line(JSON.stringify(entries, null, 2))
        if (entries.length === 0) {
          return yield* Output.line("Nothing is remembered yet. (`weft memory add \"…\"`, or tell weft in a session.)")
        }
        return yield* Output.lines(entries.map((e) =>
          `${e.memoryId}  ${e.scope.padEnd(7)}  ${e.kind.padEnd(8)}  ${(e.category ?? "").padEnd(11)}  ${
            e.importance.toFixed(2)
          }  ${e.text}`
        ))
      })
    )
).pipe(Command.withDescription("What is remembered here (this project's and yours), most important first."))

const search = Command.make(
  "search",
  {
    query: Args.text({ name: "query" }).pipe(Args.withDescription("What to look for, in words (any language).")),
    k: Options.integer("k").pipe(Options.withDescription("How many results (default 10)."), Options.withDefault(10)),
    all: Options.boolean("all").pipe(Options.withDescription("Every project's conversations, not only this one's.")),
    session: Options.text("session").pipe(Options.withDescription("Only this session."), Options.optional),
    role: Options.choice("role", ["user", "assistant"] as const).pipe(
      Options.withDescription("Only what the user, or the assistant, said."),
      Options.optional
    ),
    since: Options.text("since").pipe(Options.withPseudoName("DAY"), Options.optional),
    until: Options.text("until").pipe(Options.withPseudoName("DAY"), Options.optional),
    json
  },
  (config) =>
    withMemory((directory) =>
      Effect.gen(function*() {
        if (config.k < 1) return yield* new UsageError({ reason: `memory search: -k ${config.k}: give 1 or more` })
        const some = <K extends string>(key: K, value: Option.Option<string>) =>
          Option.match(value, { onNone: () => ({}), onSome: (v) => ({ [key]: v }) as Record<K, string> })
        const hits = yield* (yield* LongTermMemory).search(config.query, {
          k: config.k,
          ...(config.all ? {} : { project: directory }),
          ...some("sessionId", config.session),
          ...some("role", config.role) as { role?: "user" | "assistant" },
          ...some("since", config.since),
          ...some("until", config.until)
        })
        if (config.json) return yield* Output.line(JSON.stringify(hits, null, 2))
        if (hits.length === 0) return yield* Output.line(`Nothing found for "${config.query}".`)
        return yield* Output.lines(hits.map((hit) =>
          `${hit.kind === "memory" ? "memory  " : hit.sessionId.slice(0, 8)}  ${
            hit.at.slice(0, 16).replace("T", " ")
          }  ${hit.role.padEnd(9)}  ${hit.snippet}`
        ))
      })
    )
).pipe(Command.withDescription("Search earlier conversations: keyword and meaning together."))

const stats = Command.make("stats", { json }, (config) =>
  withMemory(() =>
    Effect.gen(function*() {
      const s = yield* (yield* LongTermMemory).stats
      if (config.json) return yield* Output.line(JSON.stringify(s, null, 2))
      return yield* Output.lines([
        `Indexes in ${s.dir}`,
        `Sessions folded: ${s.sessions}`,
        `Memories: ${s.memories.live} live (${s.memories.explicit} explicit, ${s.memories.implicit} implicit)`,
        `Recent topics: ${s.topics}`,
        ...JSON.stringify(s.conversation, null, 2).split("\n").map((
          line,
          i
        ) => (i === 0 ? `Conversation index: ${line}` : line))
      ])
    })
  )).pipe(Command.withDescription("The memory indexes: tiers, segments, sizes and counts."))

const rebuild = Command.make("rebuild", {}, () =>
  withMemory(() =>
    Effect.gen(function*() {
      const memory = yield* LongTermMemory
      yield* memory.rebuild
      const s = yield* memory.stats
      return yield* Output.line(`Rebuilt the memory indexes from ${s.sessions} session(s).`)
    })
  )).pipe(Command.withDescription("Forget the memory indexes and fold the whole log again."))

export const memory = Command.make("memory").pipe(
  Command.withDescription("Long-term memory: what weft remembers, and search over earlier conversations."),
  Command.withSubcommands([add, forget, list, search, stats, rebuild])
)
