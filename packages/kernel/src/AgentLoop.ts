/**
 * The interpreter: folds the log into state, asks the decider what is next, performs it
 * through a service, and records decision and observation in the log. It takes no decision
 * of its own — everything it does is an intent from `AgentDecider.decide`.
 *
 * Tool calls of one response: consecutive read-only calls run together, each mutating call
 * runs alone, in the order asked; their results reach the model in that order whatever order
 * they finish in. Interrupting a turn records `SessionEnded { reason: "interrupted" }`; a call
 * that never finished is answered to the model as interrupted when the session goes on.
 */
import { FileSystem, Path } from "@effect/platform"
import {
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  Layer,
  Option,
  ParseResult,
  Ref,
  Schema,
  Stream
} from "effect"
import type { Intent } from "./AgentDecider.js"
import { decide, REMEMBER_SYSTEM_PROMPT, TASK } from "./AgentDecider.js"
import type { AgentState, Call } from "./AgentState.js"
import * as AgentState_ from "./AgentState.js"
import * as AgentTypes from "./AgentTypes.js"
import type { Envelope } from "./Envelope.js"
import type { EventLogError } from "./EventLog.js"
import { EventLog } from "./EventLog.js"
import type { AnyEvent, SettingSource, SubagentSpawned } from "./Events.js"
import {
  ContextCompacted,
  FileSnapshotted,
  MemoryExtracted,
  MemoryProposal,
  MemoryWritten,
  ModelFailed,
  ModelResponded,
  PermissionAnswered,
  SessionEnded,
  SessionStarted,
  SubagentCompleted,
  ToolCallCompleted,
  UserMessageReceived
} from "./Events.js"
import { Ids } from "./Ids.js"
import type { JsonObject } from "./Json.js"
import { MemoryIndex } from "./MemoryIndex.js"
import * as MemoryIndex_ from "./MemoryIndex.js"
import type { StopReason, UserBlock } from "./Messages.js"
import { ModelClient } from "./ModelClient.js"
import * as ModelClient_ from "./ModelClient.js"
import { PermissionPolicy } from "./PermissionPolicy.js"
import * as PermissionPolicy_ from "./PermissionPolicy.js"
import { PermissionPrompt } from "./PermissionPrompt.js"
import * as PermissionRule from "./PermissionRule.js"
import type * as Pricing from "./Pricing.js"
import { SnapshotStore } from "./SnapshotStore.js"
import type { PermissionRequest, Tool as ToolType, ToolOutput } from "./Tool.js"
import * as Tool from "./Tool.js"
import { ToolRegistry } from "./ToolRegistry.js"
import * as Task from "./tools/Task.js"

export const DEFAULT_SYSTEM_PROMPT = [
  "You are weft, a coding agent working in the user's project.",
  "Use the tools to read, search, edit and run things; prefer small, verifiable steps.",
  "When you are done, answer briefly with what you did."
].join("\n")

/** Subagents of one response that run at once. */
export const MAX_CONCURRENT_SUBAGENTS = 4

/** What the model is told when it summarises the older turns of a conversation. */
export const COMPACT_SYSTEM_PROMPT = "You summarise conversations between a user and a coding agent so the agent " +
  "can continue with the summary instead of the full transcript."

export const COMPACT_INSTRUCTION = "Summarise the conversation above for yourself, to continue the work from it: " +
  "the user's goals and instructions, decisions made, files read and changed (with paths), commands run and their " +
  "outcomes, and what is still open. Be complete about facts, brief in words."

/** The most entries one memory pass may propose: the rest of its answer is left out. */
export const MAX_PROPOSALS = 10

/** The longest statement taken from a memory pass, in characters. */
export const MAX_PROPOSAL_CHARS = 500

const decodeJson = Schema.decodeUnknownEither(Schema.parseJson())
const decodeProposal = Schema.decodeUnknownEither(MemoryProposal)

/**
 * What a memory pass answered, read: the valid entries of a JSON list (a code fence around the
 * list is tolerated), each statement on one line, and why anything was left out. Nothing else is
 * taken — prose, an object, an entry with an unknown category or scope, an empty or overlong text.
 */
export const readProposals = (
  answer: string
): { readonly proposals: ReadonlyArray<MemoryProposal>; readonly rejected?: string } => {
  const trimmed = answer.trim()
  const body = /^```[A-Za-z]*\n([\s\S]*?)\n?```$/.exec(trimmed)?.[1] ?? trimmed
  const parsed = decodeJson(body)
  if (Either.isLeft(parsed)) return { proposals: [], rejected: "the answer is not JSON" }
  if (!Array.isArray(parsed.right)) return { proposals: [], rejected: "the answer is not a JSON list" }
  const proposals: Array<MemoryProposal> = []
  let invalid = 0
  for (const item of parsed.right) {
    const decoded = decodeProposal(item)
    const text = Either.isRight(decoded) ? decoded.right.text.replace(/\s+/g, " ").trim() : ""
    if (Either.isLeft(decoded) || text === "" || text.length > MAX_PROPOSAL_CHARS) invalid++
    else proposals.push({ category: decoded.right.category, text, scope: decoded.right.scope })
  }
  const beyond = Math.max(0, proposals.length - MAX_PROPOSALS)
  const reasons = [
    invalid === 0 ? "" : `${invalid} of ${parsed.right.length} entries are not {category, text, scope} with a ` +
      `category of MemoryCategory, a scope user or project and a text of 1–${MAX_PROPOSAL_CHARS} characters`,
    beyond === 0 ? "" : `${beyond} entries beyond the first ${MAX_PROPOSALS}`
  ].filter((reason) => reason !== "")
  return {
    proposals: proposals.slice(0, MAX_PROPOSALS),
    ...(reasons.length === 0 ? {} : { rejected: reasons.join("; ") })
  }
}

export interface StartOptions {
  readonly sessionId?: string
  readonly project: string
  readonly cwd?: string
  readonly model: string
  readonly settings?: JsonObject
  readonly sources?: ReadonlyArray<SettingSource>
  readonly maxDepth?: number
  readonly budgetTokens?: number | null
  readonly maxTokens?: number
  /** Agent types from settings, added to the built-ins (one named like a built-in replaces it). */
  readonly agents?: ReadonlyArray<AgentTypes.AgentType>
  /** What output, cache-write and cache-read tokens count for against the budget (default 1 each). */
  readonly budgetWeights?: Pricing.BudgetWeights
  /** Prices for costs (default `Pricing.defaults`). */
  readonly prices?: Pricing.PriceTable
  /** The model's context window in tokens: older turns are summarised before a request would overflow it. */
  readonly contextWindow?: number
  /** Text to add to the main agent's system prompt; recorded, so a resumed session keeps it. */
  readonly appendSystemPrompt?: string
  /** Extended thinking: the tokens each request may think with (at least 1024). */
  readonly thinkingBudgetTokens?: number
  /** Put what long-term memory recalls in the system prompt (default true; needs a `MemoryIndex`). */
  readonly memory?: boolean
  /**
   * `model`: at the end of each turn a model pass proposes implicit memories from the turn's user
   * message, besides the memory projection's rules (`rules`, the default: the rules alone).
   */
  readonly memoryExtraction?: "rules" | "model"
}

export interface TurnResult {
  readonly turn: number
  readonly stopReason: StopReason | null
  /** The text of the last response. */
  readonly text: string
  /** Why the model failed, when it did. */
  readonly error?: string
}

export interface Session {
  readonly sessionId: string
  /** Runs one user turn to its end. */
  readonly send: (content: string | ReadonlyArray<UserBlock>) => Effect.Effect<TurnResult, EventLogError>
  readonly state: Effect.Effect<AgentState>
  /** Records the end of the session. */
  readonly end: (reason: SessionEnded["reason"]) => Effect.Effect<void, EventLogError>
}

export interface Service {
  readonly start: (options: StartOptions) => Effect.Effect<Session, EventLogError>
  readonly resume: (sessionId: string) => Effect.Effect<Session, EventLogError>
}

export class AgentLoop extends Context.Tag("@weft/kernel/AgentLoop")<AgentLoop, Service>() {}

export interface Options {
  /** The static instructions every request starts with. */
  readonly systemPrompt?: string
  /** Subagents of one response that run at once (default 4). */
  readonly maxConcurrentSubagents?: number
  /** How long a subagent may run before it is stopped and reported `timed_out` (default: no limit). */
  readonly subagentTimeout?: Duration.DurationInput
  /** Sees each model response as it streams in (text deltas for the terminal), by agent. */
  readonly onModelEvent?: (agentId: string, event: ModelClient_.ModelEvent) => Effect.Effect<void>
}

const formatParseError = (error: ParseResult.ParseError) =>
  ParseResult.TreeFormatter.formatErrorSync(error).split("\n").map((l) => l.trim()).join(" ")

/** The session's grants as rules; a grant that no longer parses grants nothing. */
const sessionRules = (state: AgentState) =>
  state.grants.flatMap((text) =>
    Either.getRight(PermissionRule.parse(text)).pipe((o) => (o._tag === "Some" ? [o.value] : []))
  )

/** What the policy decides a call of this agent by: its grants, and for a subagent its types' rules. */
const checkOptions = (state: AgentState): PermissionPolicy_.CheckOptions => ({
  cwd: state.config!.cwd,
  sessionRules: sessionRules(state),
  restrictions: PermissionPolicy_.restrictionsOf(state.config!.restrictions)
})

export const make = (options: Options = {}) =>
  Effect.gen(function*() {
    const log = yield* EventLog
    const ids = yield* Ids
    const model = yield* ModelClient
    const registry = yield* ToolRegistry
    const policy = yield* PermissionPolicy
    const prompt = yield* PermissionPrompt
    const snapshots = yield* SnapshotStore
    // Long-term memory is optional: without a MemoryIndex a session neither feeds nor reads one.
    const memory = Option.getOrElse(yield* Effect.serviceOption(MemoryIndex), () => MemoryIndex_.none)
    /** Hands what was appended to the memory indexes, so it is searchable at once; a failure there never stops a session. */
    const ingest = (envelopes: ReadonlyArray<Envelope>) =>
      memory.ingest(envelopes).pipe(
        Effect.catchAll((error) => Effect.logWarning(`memory: could not index what was appended (${error.message})`))
      )
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const systemPrompt = options.systemPrompt ?? DEFAULT_SYSTEM_PROMPT

    const toolNamed = (name: string): ToolType | undefined => registry.tools.find((tool) => tool.name === name)

    /** The sha256 of a file's current content, kept in the snapshot store; null when it does not exist. */
    const keep = (file: string) =>
      Effect.gen(function*() {
        const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
        if (!exists) return null
        const bytes = yield* fs.readFile(file).pipe(Effect.mapError((e) => e.message))
        return yield* snapshots.put(bytes).pipe(Effect.mapError((e) => e.message))
      })

    const session = (sessionId: string, initialState: AgentState): Effect.Effect<Session> =>
      Effect.gen(function*() {
        const stateRef = yield* Ref.make(initialState)
        const writing = yield* Effect.makeSemaphore(1)

        /** Appends events for this agent and folds them in, one writer at a time so the fold follows the log. */
        const record = (events: ReadonlyArray<AnyEvent>) =>
          writing.withPermits(1)(Effect.gen(function*() {
            const state = yield* Ref.get(stateRef)
            const envelopes = yield* log.append(
              sessionId,
              events.map((event) => ({ event, agentId: state.agentId, parentId: state.lastEventId }))
            )
            yield* Ref.set(stateRef, envelopes.reduce(AgentState_.evolve, state))
            yield* ingest(envelopes)
            return envelopes
          }))

        const requestModel = (decision: Intent & { _tag: "RequestModel" }) =>
          Effect.gen(function*() {
            yield* record([decision.decision])
            const state = yield* Ref.get(stateRef)
            const config = state.config!
            const offered = config.tools.flatMap((name) => {
              const tool = toolNamed(name)
              if (tool === undefined) return []
              // The task tool lists the agent types of this session, settings' included.
              return [
                name === TASK
                  ? { ...Tool.definition(tool), description: Task.describe(config.agents) }
                  : Tool.definition(tool)
              ]
            })
            const type = config.agentType === null ? undefined : AgentTypes.find(config.agentType, config.agents)
            const requestId = decision.decision.requestId
            let attempts = 1
            const failed = (error: ModelClient_.ModelError, attempt: number, retryInMs?: number) =>
              new ModelFailed({
                requestId,
                attempt,
                error: {
                  type: error.type,
                  message: error.message,
                  ...(error.status === undefined ? {} : { status: error.status })
                },
                retryable: error.retryable,
                ...(retryInMs === undefined ? {} : { retryInMs })
              })
            const answer = yield* model.stream({
              model: decision.decision.model,
              // The static instructions, then what memory recalled, then the user's own addition.
              system: type !== undefined
                ? type.prompt
                : [systemPrompt, config.memory, config.appendSystemPrompt].filter((part) => part !== null).join("\n\n"),
              messages: AgentState_.transcript(state),
              tools: offered,
              max_tokens: decision.decision.maxTokens,
              // The API wants room to answer after thinking: a request clamped below the budget does not think.
              ...(config.thinkingBudgetTokens !== null && decision.decision.maxTokens > config.thinkingBudgetTokens
                ? { thinking: { type: "enabled" as const, budget_tokens: config.thinkingBudgetTokens } }
                : {})
            }).pipe(
              Stream.tap((event) => {
                if (event._tag !== "Retrying") return Effect.void
                // Every attempt is in the log: the request stays pending while the client tries again.
                attempts = event.attempt + 1
                return Effect.asVoid(record([failed(event.error, event.attempt, event.delayMs)]))
              }),
              Stream.tap((event) => options.onModelEvent?.(state.agentId, event) ?? Effect.void),
              Stream.runLast,
              Effect.flatMap((last) =>
                Option.isSome(last) && last.value._tag === "Completed"
                  ? Effect.succeed(last.value.response)
                  : Effect.fail(
                    new ModelClient_.ModelError({
                      type: "incomplete_response",
                      message: "the model's response ended before it was complete",
                      retryable: true
                    })
                  )
              ),
              Effect.map(Either.right),
              Effect.catchIf(
                (error): error is ModelClient_.ModelError => error instanceof ModelClient_.ModelError,
                (error) => Effect.succeed(Either.left(error))
              )
            )
            yield* record([
              Either.match(answer, {
                onLeft: (error) => failed(error, attempts),
                onRight: (response) =>
                  new ModelResponded({
                    requestId,
                    messageId: response.id,
                    model: response.model,
                    content: response.content,
                    usage: response.usage,
                    stopReason: response.stop_reason
                  })
              })
            ])
          })

        /**
         * Summarises the messages before this turn's: the summary replaces them in later requests
         * (`ContextCompacted`); the originals stay in the log.
         */
        const compact = (intent: Intent & { _tag: "CompactContext" }) =>
          Effect.gen(function*() {
            const state = yield* Ref.get(stateRef)
            const older = AgentState_.transcript(state).slice(0, intent.messages)
            yield* record([intent.decision])
            const requestId = intent.decision.requestId
            const answer = yield* Effect.either(model.create({
              model: intent.decision.model,
              system: COMPACT_SYSTEM_PROMPT,
              messages: [...older, { role: "user", content: [{ type: "text", text: COMPACT_INSTRUCTION }] }],
              tools: [],
              max_tokens: intent.decision.maxTokens
            }))
            yield* record([
              Either.match(answer, {
                onLeft: (error) =>
                  new ModelFailed({
                    requestId,
                    attempt: 1,
                    error: {
                      type: error.type,
                      message: `summarising the older turns failed: ${error.message}`,
                      ...(error.status === undefined ? {} : { status: error.status })
                    },
                    retryable: error.retryable
                  }),
                onRight: (response) =>
                  new ContextCompacted({
                    requestId,
                    model: response.model,
                    fromSeq: intent.fromSeq,
                    toSeq: intent.toSeq,
                    summary: response.content.flatMap((block) =>
                      block.type === "text" ? [{ type: "text" as const, text: block.text }] : []
                    ),
                    usage: response.usage
                  })
              })
            ])
          })

        /**
         * The memory pass: asks the model what the turn's user message says worth remembering, and
         * records its answer (`MemoryExtracted`, the text kept whatever it holds) with an implicit
         * `MemoryWritten` for each valid entry. A failure is a `ModelFailed` the turn goes on after.
         */
        const extractMemory = (intent: Intent & { _tag: "ExtractMemory" }) =>
          Effect.gen(function*() {
            yield* record([intent.decision])
            const requestId = intent.decision.requestId
            const answer = yield* Effect.either(model.create({
              model: intent.decision.model,
              system: REMEMBER_SYSTEM_PROMPT,
              messages: [{ role: "user", content: [{ type: "text", text: intent.prompt }] }],
              tools: [],
              max_tokens: intent.decision.maxTokens
            }))
            if (Either.isLeft(answer)) {
              const error = answer.left
              return yield* record([
                new ModelFailed({
                  requestId,
                  attempt: 1,
                  error: {
                    type: error.type,
                    message: `the memory pass failed: ${error.message}`,
                    ...(error.status === undefined ? {} : { status: error.status })
                  },
                  retryable: error.retryable
                })
              ])
            }
            const response = answer.right
            const text = response.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("\n")
            const { proposals, rejected } = readProposals(text)
            const memoryIds = yield* ids.nextMany(proposals.length)
            yield* record([
              new MemoryExtracted({
                requestId,
                messageId: response.id,
                model: response.model,
                usage: response.usage,
                answer: text,
                proposals,
                ...(rejected === undefined ? {} : { rejected })
              }),
              ...proposals.map((proposal, i) =>
                new MemoryWritten({
                  memoryId: memoryIds[i]!,
                  scope: proposal.scope,
                  kind: "implicit",
                  text: proposal.text,
                  category: proposal.category,
                  source: intent.source
                })
              )
            ])
          })

        /** A call that cannot run (no such tool, bad input) is answered with an error at once. */
        const refuse = (call: Call, message: string) =>
          record([
            new ToolCallCompleted({
              toolUseId: call.id,
              tool: call.name,
              content: message,
              isError: true,
              durationMs: 0
            })
          ])

        const prepare = (call: Call, state: AgentState) => {
          const config = state.config!
          if (call.name === TASK) {
            if (!config.tools.includes(TASK)) {
              return Either.left(
                `task: ${state.agentId} is at the delegation depth limit (maxDepth ${config.maxDepth}); ` +
                  "do this work yourself"
              )
            }
            const type = (call.input as Record<string, unknown> | null)?.["agent_type"]
            if (typeof type === "string" && AgentTypes.find(type, config.agents) === undefined) {
              return Either.left(
                `task: unknown agent type "${type}"; available: ${config.agents.map((t) => t.name).join(", ")}`
              )
            }
          }
          const tool = config.tools.includes(call.name) ? toolNamed(call.name) : undefined
          if (tool === undefined) {
            return Either.left(`No tool named "${call.name}". Available: ${config.tools.join(", ")}.`)
          }
          return Schema.decodeUnknownEither(tool.input)(call.input).pipe(
            Either.map((input) => ({ tool, input })),
            Either.mapLeft((error) => `Invalid input for ${call.name}: ${formatParseError(error)}`)
          )
        }

        /** What the policy decides for a call now, or — for a call that cannot run — its refusal, recorded. */
        const judge = <A>(
          call: Call,
          then: (judged: {
            readonly state: AgentState
            readonly tool: ToolType
            readonly request: PermissionRequest
            readonly decision: PermissionPolicy_.Decision
          }) => Effect.Effect<A, EventLogError>
        ) =>
          Effect.gen(function*() {
            const state = yield* Ref.get(stateRef)
            const prepared = prepare(call, state)
            if (Either.isLeft(prepared)) return yield* refuse(call, prepared.left)
            const { input, tool } = prepared.right
            const request = tool.permission(input)
            const decision = yield* policy.check(request, checkOptions(state))
            return yield* then({ state, tool, request, decision })
          })

        const checkPermissions = (calls: ReadonlyArray<Call>) =>
          Effect.forEach(
            calls,
            (call) =>
              judge(call, ({ decision, request }) =>
                record([PermissionPolicy_.toEvent(decision, { toolUseId: call.id, tool: request.tool })])),
            { discard: true }
          )

        const askUser = (calls: ReadonlyArray<Call>) =>
          Effect.forEach(
            calls,
            (call) =>
              judge(call, ({ decision, request, state, tool }) =>
                Effect.gen(function*() {
                  const answer = yield* prompt.ask({
                    agentId: state.agentId,
                    toolUseId: call.id,
                    tool: tool.name,
                    request,
                    decision
                  })
                  yield* record([
                    new PermissionAnswered({
                      toolUseId: call.id,
                      answer: answer.answer,
                      ...(answer.message === undefined ? {} : { message: answer.message }),
                      ...(answer.answer === "allow_session" ? { rules: decision.suggestions } : {})
                    })
                  ])
                })),
            { discard: true }
          )

        const runOne = (call: Call) =>
          Effect.gen(function*() {
            const state = yield* Ref.get(stateRef)
            const prepared = prepare(call, state)
            if (Either.isLeft(prepared)) {
              return yield* refuse(call, prepared.left)
            }
            const { input, tool } = prepared.right
            const cwd = state.config!.cwd
            const started = yield* Clock.currentTimeMillis
            const readableOptions = checkOptions(state)
            const snapshot = (file: string) =>
              keep(file).pipe(
                Effect.mapError((reason) =>
                  new Tool.ToolError({ tool: tool.name, message: `could not snapshot ${file}: ${reason}` })
                ),
                Effect.flatMap((before) =>
                  record([new FileSnapshotted({ toolUseId: call.id, path: file, before })])
                ),
                Effect.mapError((
                  e
                ) => (e instanceof Tool.ToolError ? e : new Tool.ToolError({ tool: tool.name, message: e.message }))),
                Effect.asVoid
              )
            const outcome: Either.Either<ToolOutput, Tool.ToolError> = yield* Effect.either(
              tool.execute(input, {
                cwd,
                toolUseId: call.id,
                sessionId,
                agentId: state.agentId,
                snapshot,
                record: (events) =>
                  record(events).pipe(
                    Effect.mapError((e) => new Tool.ToolError({ tool: tool.name, message: e.message })),
                    Effect.asVoid
                  ),
                readable: (file) => policy.readable(file, readableOptions)
              })
            )
            const durationMs = Math.max(0, (yield* Clock.currentTimeMillis) - started)
            if (Either.isLeft(outcome)) {
              return yield* record([
                new ToolCallCompleted({
                  toolUseId: call.id,
                  tool: tool.name,
                  content: outcome.left.message,
                  isError: true,
                  durationMs
                })
              ])
            }
            // What each changed file holds now; a file that cannot be read is left out (unknown), never
            // recorded as removed — a rewind treats an unknown as something to confirm with --force.
            const files = yield* Effect.forEach(outcome.right.filesModified ?? [], (file) =>
              keep(path.resolve(cwd, file)).pipe(
                Effect.map((after) => [{ path: path.resolve(cwd, file), after }]),
                Effect.orElseSucceed(() => [])
              )).pipe(Effect.map((kept) =>
                kept.flat()
              ))
            yield* record([
              new ToolCallCompleted({
                toolUseId: call.id,
                tool: tool.name,
                content: outcome.right.content,
                isError: false,
                durationMs,
                ...(files.length > 0 ? { files } : {})
              })
            ])
          })

        const runTools = (calls: ReadonlyArray<Call>) =>
          Effect.gen(function*() {
            // Consecutive read-only calls form one concurrent group; a mutating call is a group of its own.
            const groups: Array<Array<Call>> = []
            for (const call of calls) {
              const readOnly = toolNamed(call.name)?.readOnly ?? true
              const last = groups[groups.length - 1]
              if (
                readOnly && last !== undefined && last.every((c) =>
                  toolNamed(c.name)?.readOnly ?? true
                )
              ) {
                last.push(call)
              } else groups.push([call])
            }
            for (const group of groups) {
              yield* Effect.forEach(group, runOne, { concurrency: "unbounded", discard: true })
            }
          })

        const perform = (intent: Intent) => {
          switch (intent._tag) {
            case "RequestModel":
              return requestModel(intent)
            case "CheckPermissions":
              return checkPermissions(intent.calls)
            case "AskUser":
              return askUser(intent.calls)
            case "RunTools":
              return runTools(intent.calls)
            case "CompleteTurn":
            case "ExhaustBudget":
              return record([intent.decision])
            case "SpawnSubagents":
              return spawnSubagents(intent.decisions)
            case "CompactContext":
              return compact(intent)
            case "ExtractMemory":
              return extractMemory(intent)
          }
        }

        /**
         * Runs each subagent as a fiber of this turn (so interrupting the turn interrupts them), at most
         * MAX_CONCURRENT_SUBAGENTS at once. However a child ends — done, failed, out of turns, interrupted —
         * its parent records a SubagentCompleted for it: a child's failure is never the parent's.
         */
        const spawnSubagents = (decisions: ReadonlyArray<SubagentSpawned>) =>
          Effect.gen(function*() {
            const spawned = yield* record(decisions)
            const parent = yield* Ref.get(stateRef)
            yield* Effect.forEach(
              decisions,
              (decision, i) => runChild(parent, decision, spawned[i]!.id),
              { concurrency: options.maxConcurrentSubagents ?? MAX_CONCURRENT_SUBAGENTS, discard: true }
            )
          })

        const completed = (
          decision: SubagentSpawned,
          outcome: SubagentCompleted["outcome"],
          summary: string,
          state: AgentState,
          durationMs: number
        ) =>
          new SubagentCompleted({
            toolUseId: decision.toolUseId,
            childAgentId: decision.childAgentId,
            outcome,
            summary,
            turns: state.requests,
            usage: state.treeUsage,
            durationMs,
            filesModified: state.filesModified,
            costUsd: state.costUsd
          })

        const runChild = (parent: AgentState, decision: SubagentSpawned, spawnedId: string) =>
          Effect.gen(function*() {
            const started = yield* Clock.currentTimeMillis
            const child = yield* session(sessionId, { ...AgentState_.spawn(parent, decision), lastEventId: spawnedId })
            const sent = options.subagentTimeout === undefined
              ? Effect.asSome(child.send(decision.prompt))
              : Effect.timeoutOption(child.send(decision.prompt), options.subagentTimeout)
            const ended = yield* Effect.exit(sent).pipe(
              Effect.onInterrupt(() =>
                child.state.pipe(
                  Effect.flatMap((state) =>
                    record([completed(decision, "interrupted", "interrupted before it finished", state, 0)])
                  ),
                  Effect.ignore
                )
              )
            )
            const state = yield* child.state
            const durationMs = Math.max(0, (yield* Clock.currentTimeMillis) - started)
            const limit = state.config?.maxTurns ?? null
            const timedOut = Exit.isSuccess(ended) && Option.isNone(ended.value)
            const turn = Exit.isSuccess(ended) ? Option.getOrUndefined(ended.value) : undefined
            const outcome: SubagentCompleted["outcome"] = timedOut
              ? "timed_out"
              : state.budget.exhausted
              ? "budget_exhausted"
              : turn === undefined || turn.error !== undefined
              ? "failed"
              : limit !== null && state.requests >= limit && state.lastResponse?.stopReason === "tool_use"
              ? "max_turns"
              : "completed"
            const summary = Exit.isFailure(ended)
              ? `the subagent failed: ${Cause.pretty(ended.cause).split("\n")[0]}`
              : timedOut
              ? `stopped after ${Duration.format(Duration.decode(options.subagentTimeout!))}, its time limit`
              : turn?.error ?? turn?.text ?? ""
            yield* record([completed(decision, outcome, summary, state, durationMs)])
          })

        const drive: Effect.Effect<void, EventLogError> = Effect.gen(function*() {
          for (;;) {
            const intents = decide(yield* Ref.get(stateRef))
            if (intents.length === 0) {
              return
            }
            for (const intent of intents) {
              yield* perform(intent)
            }
          }
        })

        const send = (content: string | ReadonlyArray<UserBlock>) =>
          Effect.gen(function*() {
            const blocks: ReadonlyArray<UserBlock> = typeof content === "string"
              ? [{ type: "text", text: content }]
              : content
            yield* record([new UserMessageReceived({ content: blocks })])
            yield* drive
            const state = yield* Ref.get(stateRef)
            const failed = state.lastResponse?.failed === true
            return {
              turn: state.turn,
              stopReason: state.lastResponse?.stopReason ?? null,
              text: AgentState_.lastText(state),
              ...(state.budget.exhausted
                ? { error: `the token budget is exhausted (${state.budget.used} of ${state.budget.limit} used)` }
                : failed
                ? { error: state.lastResponse?.error ?? "the model request failed" }
                : {})
            } satisfies TurnResult
          }).pipe(
            Effect.onInterrupt(() => record([new SessionEnded({ reason: "interrupted" })]).pipe(Effect.ignore))
          )

        return {
          sessionId,
          send,
          state: Ref.get(stateRef),
          end: (reason) => record([new SessionEnded({ reason })]).pipe(Effect.asVoid)
        } satisfies Session
      })

    const start = (startOptions: StartOptions) =>
      Effect.gen(function*() {
        const sessionId = startOptions.sessionId ?? (yield* ids.next)
        const recalled = startOptions.memory === false ? "" : yield* memory.context(startOptions.project).pipe(
          Effect.catchAll((error) => Effect.as(Effect.logWarning(`memory: ${error.message}; starting without it`), ""))
        )
        const started = new SessionStarted({
          project: startOptions.project,
          cwd: startOptions.cwd ?? startOptions.project,
          model: startOptions.model,
          settings: startOptions.settings ?? {},
          sources: startOptions.sources ?? [],
          maxDepth: startOptions.maxDepth ?? 3,
          budgetTokens: startOptions.budgetTokens ?? null,
          tools: registry.tools.map((tool) => tool.name),
          // The policy's own rules and mode, so a replay decides by exactly what the live run did.
          rules: policy.settings.rules.map((entry) => ({
            behavior: entry.behavior,
            rule: entry.rule.text,
            layer: entry.layer
          })),
          mode: policy.settings.mode,
          home: policy.home,
          ...(startOptions.maxTokens === undefined ? {} : { maxTokens: startOptions.maxTokens }),
          agents: AgentTypes.withCustom(startOptions.agents ?? []),
          ...(startOptions.budgetWeights === undefined ? {} : { budgetWeights: startOptions.budgetWeights }),
          ...(startOptions.prices === undefined ? {} : { prices: startOptions.prices }),
          ...(startOptions.contextWindow === undefined ? {} : { contextWindow: startOptions.contextWindow }),
          ...(startOptions.appendSystemPrompt === undefined
            ? {}
            : { appendSystemPrompt: startOptions.appendSystemPrompt }),
          ...(startOptions.thinkingBudgetTokens === undefined
            ? {}
            : { thinkingBudgetTokens: startOptions.thinkingBudgetTokens }),
          ...(recalled === "" ? {} : { memory: recalled }),
          ...(startOptions.memoryExtraction === undefined ? {} : { memoryExtraction: startOptions.memoryExtraction })
        })
        const envelopes = yield* log.append(sessionId, [started])
        yield* ingest(envelopes)
        return yield* session(sessionId, envelopes.reduce(AgentState_.evolve, AgentState_.initial("main")))
      })

    const resume = (sessionId: string) =>
      Effect.gen(function*() {
        const state = yield* log.read(sessionId).pipe(
          Stream.runFold(
            AgentState_.initial("main"),
            (s: AgentState, e: Envelope) => (e.agentId === "main" ? AgentState_.evolve(s, e) : s)
          )
        )
        return yield* session(sessionId, state)
      })

    return AgentLoop.of({ start, resume })
  })

export const layer = (options: Options = {}) => Layer.effect(AgentLoop, make(options))
