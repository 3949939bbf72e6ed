/**
 * An agent's state, folded from its events: `evolve(state, envelope)` is pure, so any prefix
 * of a log is a state, with no IO.
 *
 * The model-facing transcript is part of the state, in the Messages API's shape: an assistant
 * message per response, and one user message carrying every tool result of that response, in
 * the order the tools were asked for, followed by whatever the user says next.
 */
import { createHash } from "node:crypto"
import * as AgentTypes from "./AgentTypes.js"
import type { Envelope } from "./Envelope.js"
import type { AnyEvent, SubagentCompleted, SubagentSpawned } from "./Events.js"
import { isObservation } from "./Events.js"
import type { Json, JsonObject } from "./Json.js"
import type { MessageParam, StopReason, ToolResultBlock, Usage, UserBlock, UserMessageParam } from "./Messages.js"
import { emptyUsage } from "./Messages.js"
import * as Pricing from "./Pricing.js"

export const DEFAULT_MAX_TOKENS = 8192

export interface Config {
  readonly model: string
  readonly maxTokens: number
  readonly tools: ReadonlyArray<string>
  readonly settings: JsonObject
  readonly project: string
  readonly cwd: string
  readonly home: string | null
  readonly rules: ReadonlyArray<
    { readonly behavior: "allow" | "ask" | "deny"; readonly rule: string; readonly layer: string }
  >
  readonly mode: "default" | "acceptEdits" | "plan" | "bypassPermissions"
  /** How deep delegation may go: an agent at this depth is not offered the task tool. */
  readonly maxDepth: number
  /** For a subagent: its type (`explore`, `code`, …) and how many model requests it may make. */
  readonly agentType: string | null
  readonly maxTurns: number | null
  /** The agent types the task tool may spawn (recorded in `SessionStarted`; the built-ins in older logs). */
  readonly agents: ReadonlyArray<AgentTypes.AgentType>
  /** For a subagent: the rules of its type and of every type above it, outermost first. */
  readonly restrictions: ReadonlyArray<Restriction>
  /** What an output, cache-write and cache-read token count for against the budget (an input token: 1). */
  readonly weights: Pricing.BudgetWeights
  readonly prices: Pricing.PriceTable
  /** The model's context window in tokens; null: never compact. */
  readonly contextWindow: number | null
  /** Text added to the main agent's system prompt. */
  readonly appendSystemPrompt: string | null
  /** Extended thinking's budget per request; null: no thinking. */
  readonly thinkingBudgetTokens: number | null
  /** What long-term memory adds to the main agent's system prompt; null: nothing. */
  readonly memory: string | null
  /** `model`: after each turn's final response, a model pass proposes memories from the turn's user message. */
  readonly memoryExtraction: "rules" | "model"
}

/** An agent type's rules, as text (what `PermissionPolicy` parses into a `Restriction`). */
export interface Restriction {
  readonly name: string
  readonly rules: ReadonlyArray<AgentTypes.TypeRule>
}

export type Permission = "pending" | "asking" | "allowed" | "denied"

export interface Call {
  readonly id: string
  readonly name: string
  readonly input: Json
  readonly permission: Permission
  /** Why it was denied, for the model. */
  readonly denial?: string
  /** For a `task` call: the subagent it spawned, and the tokens reserved for it. */
  readonly child?: string
  readonly reserved?: number
  readonly result?: { readonly content: string | ReadonlyArray<UserBlock>; readonly isError: boolean }
}

export type Status =
  /** Waiting for the user. */
  | "idle"
  /** A user turn is open and the next step is the kernel's. */
  | "working"
  /** A model request is out. */
  | "requesting"
  | "ended"

export interface AgentState {
  readonly agentId: string
  readonly config: Config | null
  readonly status: Status
  /** User turns so far. */
  readonly turn: number
  /** Model requests so far (request ids count them). */
  readonly requests: number
  readonly pendingRequestId: string | null
  /** What the pending request is for when it is not a turn of the agent (`ModelRequested.purpose`). */
  readonly pendingPurpose: "compact" | "remember" | null
  /** The transcript so far, newest message first (see `History`); `transcript(state)` gives it as an array. */
  readonly history: History | null
  /** The tool calls of the latest response, until their results join the transcript. */
  readonly calls: ReadonlyArray<Call>
  /** How the latest model request ended: its stop reason, or `failed`. */
  readonly lastResponse:
    | { readonly stopReason: StopReason | null; readonly failed: boolean; readonly error?: string }
    | null
  /** Rules granted for the rest of the session by `allow_session` answers. */
  readonly grants: ReadonlyArray<string>
  /** Subagents spawned so far: the next is `<agentId>/<spawned + 1>`. */
  readonly spawned: number
  /** Files this agent's tools changed, first change first. */
  readonly filesModified: ReadonlyArray<string>
  readonly usage: Usage
  /** Its own usage and that of its finished subagents: what its parent is told it spent. */
  readonly treeUsage: Usage
  /** What its own requests and its finished subagents cost, in dollars; null once a price is unknown. */
  readonly costUsd: number | null
  readonly budget: Budget
  /** A running digest of every observation folded, which decisions carry. */
  readonly digest: string
  readonly lastEventId: string | null
  readonly lastSeq: number
  /**
   * Where the current turn begins: the seq of its user message and how many messages came
   * before it — what a compaction may summarise. Null when the turn's message joined earlier
   * tool results (no clean boundary).
   */
  readonly turnStart: { readonly seq: number; readonly length: number } | null
  /** The seq of the first user message: where any summary's range starts. */
  readonly historyFromSeq: number | null
  /** The turn in which the context was last compacted (once a turn at most). */
  readonly compactedTurn: number | null
  /**
   * The user message that opened the current turn: its event's id and its text (images left
   * out). What the memory pass reads.
   */
  readonly turnMessage: { readonly id: string; readonly text: string } | null
  /** The turn whose message was last given to the memory pass (once a turn at most). */
  readonly rememberedTurn: number | null
}

/**
 * Tokens an agent may spend — on its own requests and its subagents' — and what is spent. A
 * spawn reserves a slice of what is left for the child; the child's actual spend is charged
 * when it completes and the slice is released. So however subagents nest and interleave, a
 * tree never spends more than its root's limit.
 */
export interface Budget {
  /** Null: no limit. */
  readonly limit: number | null
  readonly used: number
  /** Held for subagents still running. */
  readonly reserved: number
  /** Set once a request did not fit: the agent takes no more turns. */
  readonly exhausted: boolean
}

/** Tokens a response costs against a budget: input, output, and cache writes and reads (weight 1). */
/** The tokens a usage counts for against a budget, each kind at its weight (rounded up). */
export const charge = (usage: Usage, weights: Pricing.BudgetWeights = Pricing.unweighted): number =>
  usage.input_tokens + Math.ceil(
    usage.output_tokens * weights.output + usage.cache_creation_input_tokens * weights.cacheWrite +
      usage.cache_read_input_tokens * weights.cacheRead - 1e-9
  )

/** Tokens allowed for what a request carries besides the transcript: the system prompt and tool definitions. */
export const REQUEST_OVERHEAD_TOKENS = 2000

/** A deliberately high estimate of a request's input tokens: three characters a token, plus the overhead. */
export const estimateInput = (state: AgentState): number => {
  const pending = state.calls.length === 0 ? 0 : JSON.stringify(state.calls.map(resultBlock)).length
  return Math.ceil(((state.history?.chars ?? 0) + pending) / 3) + REQUEST_OVERHEAD_TOKENS
}

/** Tokens left to this agent for its own requests and new subagents. */
export const remaining = (budget: Budget): number | null =>
  budget.limit === null ? null : Math.max(0, budget.limit - budget.used - budget.reserved)

export const initial = (agentId: string): AgentState => ({
  agentId,
  config: null,
  status: "idle",
  turn: 0,
  requests: 0,
  pendingRequestId: null,
  pendingPurpose: null,
  history: null,
  calls: [],
  lastResponse: null,
  grants: [],
  spawned: 0,
  filesModified: [],
  usage: emptyUsage,
  treeUsage: emptyUsage,
  costUsd: 0,
  budget: { limit: null, used: 0, reserved: 0, exhausted: false },
  digest: "0",
  lastEventId: null,
  lastSeq: 0,
  turnStart: null,
  historyFromSeq: null,
  compactedTurn: null,
  turnMessage: null,
  rememberedTurn: null
})

export const INTERRUPTED = "Interrupted: this tool call did not finish; its effects, if any, are unknown."

export const isResolved = (call: Call): boolean => call.result !== undefined || call.permission === "denied"

const resultBlock = (call: Call): ToolResultBlock => {
  if (call.result !== undefined) {
    return {
      type: "tool_result",
      tool_use_id: call.id,
      content: call.result.content,
      ...(call.result.isError ? { is_error: true } : {})
    }
  }
  return {
    type: "tool_result",
    tool_use_id: call.id,
    content: call.permission === "denied" ? call.denial ?? "Permission denied." : INTERRUPTED,
    is_error: true
  }
}

/**
 * The transcript as a persistent list, newest message first: adding a message shares every
 * earlier one, so folding a long session stays linear and every prefix's state stays intact.
 */
export interface History {
  readonly message: MessageParam
  readonly previous: History | null
  readonly length: number
  /** The size of the transcript up to here, as JSON: what a request's input is estimated from. */
  readonly chars: number
}

const push = (history: History | null, message: MessageParam): History => ({
  message,
  previous: history,
  length: (history?.length ?? 0) + 1,
  chars: (history?.chars ?? 0) + JSON.stringify(message).length + 1
})

const appendUser = (history: History | null, content: UserMessageParam["content"]): History => {
  // Roles must alternate: content for the user after tool results joins their message.
  if (history !== null && history.message.role === "user") {
    return {
      ...history,
      message: { role: "user", content: [...history.message.content, ...content] },
      chars: history.chars + JSON.stringify(content).length
    }
  }
  return push(history, { role: "user", content })
}

/** The history with the results of the current calls, as the next request would carry it. */
const flushed = (state: AgentState): History | null =>
  state.calls.length === 0 ? state.history : appendUser(state.history, state.calls.map(resultBlock))

/** How many messages the next request would carry. */
export const messageCount = (state: AgentState): number => flushed(state)?.length ?? 0

/** The messages a request would carry now, oldest first: the transcript plus the results of the current calls. */
export const transcript = (state: AgentState): ReadonlyArray<MessageParam> => {
  const out: Array<MessageParam> = []
  for (let node = flushed(state); node !== null; node = node.previous) out.push(node.message)
  return out.reverse()
}

/** The text of the latest response, if any. */
export const lastText = (state: AgentState): string => {
  for (let node = state.history; node !== null; node = node.previous) {
    if (node.message.role === "assistant") {
      return node.message.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("\n")
    }
  }
  return ""
}

const addUsage = (a: Usage, b: Usage): Usage => ({
  input_tokens: a.input_tokens + b.input_tokens,
  output_tokens: a.output_tokens + b.output_tokens,
  cache_creation_input_tokens: a.cache_creation_input_tokens + b.cache_creation_input_tokens,
  cache_read_input_tokens: a.cache_read_input_tokens + b.cache_read_input_tokens
})

const chain = (digest: string, event: AnyEvent): string =>
  createHash("sha256").update(digest).update(JSON.stringify(event)).digest("hex").slice(0, 16)

const updateCall = (state: AgentState, id: string, f: (call: Call) => Call): AgentState => ({
  ...state,
  calls: state.calls.map((call) => (call.id === id ? f(call) : call))
})

/** Folds one event of this agent into its state. Events of other agents must be filtered out by the caller. */
export const evolve = (state: AgentState, envelope: Envelope): AgentState => {
  const event = envelope.event
  const base: AgentState = {
    ...state,
    lastEventId: envelope.id,
    lastSeq: envelope.seq,
    digest: isObservation(event) ? chain(state.digest, event) : state.digest
  }
  switch (event._tag) {
    case "SessionStarted":
      return {
        ...base,
        config: {
          model: event.model,
          maxTokens: event.maxTokens ?? DEFAULT_MAX_TOKENS,
          tools: event.tools ?? [],
          settings: event.settings,
          project: event.project,
          cwd: event.cwd,
          home: event.home ?? null,
          rules: event.rules ?? [],
          mode: event.mode ?? "default",
          maxDepth: event.maxDepth,
          agentType: null,
          maxTurns: null,
          agents: event.agents ?? AgentTypes.builtins,
          restrictions: [],
          weights: event.budgetWeights ?? Pricing.unweighted,
          prices: event.prices ?? Pricing.defaults,
          contextWindow: event.contextWindow ?? null,
          appendSystemPrompt: event.appendSystemPrompt ?? null,
          thinkingBudgetTokens: event.thinkingBudgetTokens ?? null,
          memory: event.memory ?? null,
          memoryExtraction: event.memoryExtraction ?? "rules"
        },
        budget: { ...state.budget, limit: event.budgetTokens }
      }
    case "UserMessageReceived": {
      // Calls left unanswered by an interruption are answered as interrupted, so the transcript stays valid.
      return {
        ...base,
        history: appendUser(flushed(state), event.content),
        turnStart: flushed(state)?.message.role === "user"
          ? null
          : { seq: envelope.seq, length: flushed(state)?.length ?? 0 },
        historyFromSeq: state.historyFromSeq ?? envelope.seq,
        turnMessage: {
          id: envelope.id,
          text: event.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("\n")
        },
        calls: [],
        turn: state.turn + 1,
        status: "working",
        pendingRequestId: null,
        pendingPurpose: null,
        lastResponse: null
      }
    }
    case "ModelRequested":
      return {
        ...base,
        history: flushed(state),
        calls: [],
        requests: state.requests + 1,
        pendingRequestId: event.requestId,
        pendingPurpose: event.purpose ?? null,
        rememberedTurn: event.purpose === "remember" ? state.turn : state.rememberedTurn,
        status: "requesting"
      }
    case "ModelResponded": {
      if (event.requestId !== state.pendingRequestId) return base
      const calls: Array<Call> = []
      for (const block of event.content) {
        if (block.type === "tool_use") {
          calls.push({ id: block.id, name: block.name, input: block.input, permission: "pending" })
        }
      }
      return {
        ...base,
        history: push(state.history, { role: "assistant", content: event.content }),
        calls,
        pendingRequestId: null,
        pendingPurpose: null,
        status: "working",
        lastResponse: { stopReason: event.stopReason, failed: false },
        usage: addUsage(state.usage, event.usage),
        treeUsage: addUsage(state.treeUsage, event.usage),
        costUsd: Pricing.add(state.costUsd, Pricing.cost(event.model, event.usage, state.config?.prices)),
        budget: { ...state.budget, used: state.budget.used + charge(event.usage, state.config?.weights) }
      }
    }
    case "ContextCompacted": {
      if (event.requestId !== state.pendingRequestId || state.turnStart === null) return base
      // The summary and an acknowledgement stand for every message before this turn's.
      const kept = transcript(state).slice(state.turnStart.length)
      let history = push(
        push(null, {
          role: "user",
          content: [
            {
              type: "text",
              text: `[A summary of the conversation so far (log events ${event.fromSeq}–${event.toSeq}; the full ` +
                "record stays in the session log)]"
            },
            ...event.summary
          ]
        }),
        { role: "assistant", content: [{ type: "text", text: "Understood; I will go on from this summary." }] }
      )
      for (const message of kept) history = push(history, message)
      return {
        ...base,
        history,
        turnStart: { seq: state.turnStart.seq, length: 2 },
        compactedTurn: state.turn,
        pendingRequestId: null,
        pendingPurpose: null,
        status: "working",
        lastResponse: null,
        usage: addUsage(state.usage, event.usage),
        treeUsage: addUsage(state.treeUsage, event.usage),
        costUsd: Pricing.add(
          state.costUsd,
          Pricing.cost(event.model ?? state.config?.model ?? "", event.usage, state.config?.prices)
        ),
        budget: { ...state.budget, used: state.budget.used + charge(event.usage, state.config?.weights) }
      }
    }
    case "MemoryExtracted":
      // The memory pass's answer: the turn goes on as its last response left it, the pass paid for.
      if (event.requestId !== state.pendingRequestId) return base
      return {
        ...base,
        pendingRequestId: null,
        pendingPurpose: null,
        status: "working",
        usage: addUsage(state.usage, event.usage),
        treeUsage: addUsage(state.treeUsage, event.usage),
        costUsd: Pricing.add(state.costUsd, Pricing.cost(event.model, event.usage, state.config?.prices)),
        budget: { ...state.budget, used: state.budget.used + charge(event.usage, state.config?.weights) }
      }
    case "ModelFailed":
      // A failed attempt that will be retried leaves the request pending.
      if (event.requestId !== state.pendingRequestId || event.retryInMs !== undefined) return base
      // The memory pass is optional: its failure leaves the turn as its last response left it.
      if (state.pendingPurpose === "remember") {
        return { ...base, pendingRequestId: null, pendingPurpose: null, status: "working" }
      }
      return {
        ...base,
        pendingRequestId: null,
        pendingPurpose: null,
        status: "working",
        lastResponse: { stopReason: null, failed: true, error: `${event.error.type}: ${event.error.message}` }
      }
    case "PermissionDecided":
      return updateCall(base, event.toolUseId, (call) => ({
        ...call,
        permission: event.behavior === "allow" ? "allowed" : event.behavior === "deny" ? "denied" : "asking",
        ...(event.behavior === "deny" ? { denial: `Permission denied: ${event.reason}` } : {})
      }))
    case "PermissionAnswered": {
      const answered = updateCall(base, event.toolUseId, (call) => ({
        ...call,
        permission: event.answer === "deny" ? "denied" : "allowed",
        ...(event.answer === "deny"
          ? { denial: `The user denied this tool call.${event.message ? ` ${event.message}` : ""}` }
          : {})
      }))
      return event.answer === "allow_session" && event.rules !== undefined
        ? { ...answered, grants: [...answered.grants, ...event.rules] }
        : answered
    }
    case "ToolCallCompleted":
      return updateCall(
        {
          ...base,
          filesModified: event.files === undefined
            ? state.filesModified
            : [
              ...state.filesModified,
              ...event.files.map((f) => f.path).filter((p) => !state.filesModified.includes(p))
            ]
        },
        event.toolUseId,
        (call) => ({
          ...call,
          permission: call.permission === "denied" ? "denied" : "allowed",
          result: { content: event.content, isError: event.isError }
        })
      )
    case "SubagentSpawned":
      return {
        ...updateCall(
          base,
          event.toolUseId,
          (call) => ({ ...call, child: event.childAgentId, reserved: event.budgetTokens ?? 0 })
        ),
        spawned: state.spawned + 1,
        budget: { ...state.budget, reserved: state.budget.reserved + (event.budgetTokens ?? 0) }
      }
    case "SubagentCompleted": {
      const reserved = state.calls.find((call) => call.id === event.toolUseId)?.reserved ?? 0
      return {
        ...updateCall(base, event.toolUseId, (call) => ({
          ...call,
          result: {
            content: subagentResult(event, field(call.input, "description")),
            isError: event.outcome !== "completed"
          }
        })),
        treeUsage: addUsage(state.treeUsage, event.usage),
        costUsd: Pricing.add(state.costUsd, event.costUsd ?? null),
        budget: {
          ...state.budget,
          used: state.budget.used + charge(event.usage, state.config?.weights),
          reserved: Math.max(0, state.budget.reserved - reserved)
        }
      }
    }
    case "BudgetExhausted":
      return { ...base, budget: { ...state.budget, exhausted: true } }
    case "TurnCompleted":
      return { ...base, status: "idle" }
    case "SessionEnded":
      return { ...base, status: "ended", pendingRequestId: null, pendingPurpose: null }
    default:
      return base
  }
}

/** What the parent's model reads when a subagent is done: a structured result, as JSON. */
export const subagentResult = (event: SubagentCompleted, title: string): string =>
  JSON.stringify({
    agent: event.childAgentId,
    title,
    outcome: event.outcome,
    summary: event.summary,
    turns: event.turns,
    tokens: charge(event.usage),
    costUsd: event.costUsd ?? null,
    durationMs: event.durationMs,
    filesModified: event.filesModified
  })

const field = (input: Json, name: string): string => {
  const value = input !== null && typeof input === "object" && !Array.isArray(input)
    ? (input as JsonObject)[name]
    : undefined
  return typeof value === "string" ? value : ""
}

/**
 * A subagent's state when it is spawned: its parent's project, settings, rules and limits,
 * its type's tools (without `task` once it is as deep as delegation may go) and turn limit.
 */
export const spawn = (parent: AgentState, event: SubagentSpawned): AgentState => {
  const config = parent.config
  if (config === null) return initial(event.childAgentId)
  const type = AgentTypes.find(event.agentType, config.agents)
  const atLimit = AgentTypes.depthOf(event.childAgentId) >= config.maxDepth
  const tools = (type?.tools ?? []).filter((tool) => !(atLimit && tool === "task") && config.tools.includes(tool))
  return {
    ...initial(event.childAgentId),
    // What the user granted for the session holds for the subagents it spawns.
    grants: parent.grants,
    config: {
      ...config,
      model: type?.model ?? config.model,
      tools,
      agentType: event.agentType,
      maxTurns: type?.maxTurns ?? null,
      // The memory pass reads what the user wrote; a subagent's messages are its parent's.
      memoryExtraction: "rules",
      // A type this session does not know has no tools, so nothing to allow.
      restrictions: [...config.restrictions, { name: event.agentType, rules: type?.rules ?? [] }]
    },
    budget: { limit: event.budgetTokens, used: 0, reserved: 0, exhausted: false }
  }
}

/** Folds one event of a session with several agents: a spawn starts the child's state. */
export const evolveAll = (states: Map<string, AgentState>, envelope: Envelope): Map<string, AgentState> => {
  const before = states.get(envelope.agentId) ?? initial(envelope.agentId)
  const after = evolve(before, envelope)
  states.set(envelope.agentId, after)
  if (envelope.event._tag === "SubagentSpawned") states.set(envelope.event.childAgentId, spawn(after, envelope.event))
  return states
}

/** The state after every event of `agentId` in `envelopes` (folded onto `from`, by default the initial state). */
export const fold = (envelopes: Iterable<Envelope>, agentId = "main", from?: AgentState): AgentState => {
  if (from === undefined && agentId !== "main") {
    // A subagent's state starts at its parent's spawn: fold the whole session.
    const states = new Map<string, AgentState>()
    for (const envelope of envelopes) evolveAll(states, envelope)
    return states.get(agentId) ?? initial(agentId)
  }
  let state = from ?? initial(agentId)
  for (const envelope of envelopes) if (envelope.agentId === agentId) state = evolve(state, envelope)
  return state
}
