/**
 * What the agent does next, decided from its state alone: `decide(state)` is pure.
 *
 * It returns intents. Some carry the decision event to record (a model request, the end of
 * a turn); the others name an effect for the interpreter to perform — check a permission,
 * ask the user, run tools — whose answers come back as observations. No decision is taken
 * in the interpreter.
 */
import type { AgentState, Call, Config } from "./AgentState.js"
import { estimateInput, isResolved, messageCount, remaining } from "./AgentState.js"

/** Of what is left when subagents are spawned, the share a parent keeps to finish its own work. */
export const PARENT_RESERVE = 0.25

/** Each new subagent's slice of the budget: what is left, less the parent's reserve, shared equally. */
export const slices = (left: number | null, count: number): number | null =>
  left === null ? null : Math.floor((left - Math.ceil(left * PARENT_RESERVE)) / count)
import { BudgetExhausted, ModelRequested, SubagentSpawned, TurnCompleted } from "./Events.js"
import type { JsonObject } from "./Json.js"

/** The name of the tool that delegates to a subagent. */
export const TASK = "task"

const field = (input: unknown, key: string): string => {
  const value = input !== null && typeof input === "object" && !Array.isArray(input)
    ? (input as JsonObject)[key]
    : undefined
  return typeof value === "string" ? value : ""
}

export type Intent =
  /** Record the request, then call the model with the transcript. */
  | { readonly _tag: "RequestModel"; readonly decision: ModelRequested }
  /** Decide whether each call may run (the policy's evaluation is recorded as `PermissionDecided`). */
  | { readonly _tag: "CheckPermissions"; readonly calls: ReadonlyArray<Call> }
  /** Ask the user about each call the policy said to ask about, one at a time. */
  | { readonly _tag: "AskUser"; readonly calls: ReadonlyArray<Call> }
  /** Run the allowed calls: read-only ones together, the others one at a time in the order asked. */
  | { readonly _tag: "RunTools"; readonly calls: ReadonlyArray<Call> }
  /** Record a subagent for each allowed `task` call, then run them (a few at a time). */
  | { readonly _tag: "SpawnSubagents"; readonly decisions: ReadonlyArray<SubagentSpawned> }
  /** Record the end of the turn. */
  | { readonly _tag: "CompleteTurn"; readonly decision: TurnCompleted }
  /** Record that the next request does not fit what is left of the budget: the agent stops here. */
  | { readonly _tag: "ExhaustBudget"; readonly decision: BudgetExhausted }
  /**
   * Record a request to summarise the messages before this turn's (`messages` of them, log events
   * `fromSeq`–`toSeq`), then ask the model for the summary: the next request would not fit the
   * context window.
   */
  | {
    readonly _tag: "CompactContext"
    readonly decision: ModelRequested
    readonly messages: number
    readonly fromSeq: number
    readonly toSeq: number
  }
  /**
   * Record a request for the memory pass, then ask the model (`prompt`, with no tools) what this
   * turn's user message says worth remembering; each valid entry of its answer is recorded as an
   * implicit memory read from `source`, the message's event.
   */
  | {
    readonly _tag: "ExtractMemory"
    readonly decision: ModelRequested
    readonly prompt: string
    readonly source: string
  }

export const requestId = (state: AgentState): string => `${state.agentId}:${state.requests + 1}`

/** Compact when a request's estimated input passes this share of the context window. */
export const COMPACT_AT = 0.8

/** The most a summary may take. */
export const SUMMARY_MAX_TOKENS = 4096

/** Whether the older turns should be summarised before the next request: it would not fit, and there is something to summarise. */
const shouldCompact = (state: AgentState, input: number): boolean => {
  const window = state.config?.contextWindow ?? null
  return window !== null && input > window * COMPACT_AT && state.turnStart !== null &&
    state.turnStart.length >= 2 && state.historyFromSeq !== null && state.turnStart.seq > state.historyFromSeq &&
    state.compactedTurn !== state.turn
}

/** The most the memory pass may answer with: a few short entries as JSON. */
export const REMEMBER_MAX_TOKENS = 512

/** What the model is told when it looks for memories in a user's message. */
export const REMEMBER_SYSTEM_PROMPT = "You find what is worth remembering in a message a user wrote to a coding " +
  "agent, for the agent's later sessions: stable preferences, who the user is (name, role, languages), facts about " +
  "their project, and standing instructions (\"always …\", \"never …\"). Take only what the message itself states as " +
  "lasting; leave out requests about the task at hand, questions, guesses, and secrets (passwords, keys, tokens). " +
  "Answer with JSON only, no prose: a list of objects {\"category\": \"preference\" | \"identity\" | \"fact\" | " +
  "\"instruction\" | \"note\", \"text\": one self-contained sentence in the language of the message, \"scope\": " +
  "\"user\" (true of the user in every project) or \"project\" (true of this project)}. Answer [] when there is " +
  "nothing to remember."

/** The memory pass's one message: the user's, marked off from the question about it. */
export const rememberPrompt = (text: string): string =>
  `The user's message, between the lines of five dashes:\n-----\n${text}\n-----\n` +
  "What in it is worth remembering? Answer with the JSON list only."

/** A high estimate of the memory pass's input tokens: three characters a token, as for any request. */
export const rememberInput = (prompt: string): number => Math.ceil((REMEMBER_SYSTEM_PROMPT.length + prompt.length) / 3)

/**
 * The memory pass at the end of a turn, when the setting is on, the turn's message has text, the
 * pass has not run this turn, and the budget affords it whole — it is skipped rather than cut
 * short: a truncated JSON answer is worth nothing, and an optional pass must not exhaust the budget.
 */
const extractMemory = (state: AgentState, config: Config): Intent | undefined => {
  const message = state.turnMessage
  if (
    config.memoryExtraction !== "model" || message === null || message.text.trim() === "" ||
    state.rememberedTurn === state.turn
  ) return undefined
  const prompt = rememberPrompt(message.text)
  const left = remaining(state.budget)
  if (left !== null && rememberInput(prompt) + Math.ceil(REMEMBER_MAX_TOKENS * config.weights.output) > left) {
    return undefined
  }
  return {
    _tag: "ExtractMemory",
    prompt,
    source: message.id,
    decision: new ModelRequested({
      requestId: requestId(state),
      model: config.model,
      maxTokens: REMEMBER_MAX_TOKENS,
      tools: [],
      messageCount: 1,
      digest: state.digest,
      purpose: "remember"
    }, true)
  }
}

export const decide = (state: AgentState): ReadonlyArray<Intent> => {
  const config = state.config
  if (config === null || state.status !== "working") return []
  const response = state.lastResponse
  if (response === null || (!response.failed && state.calls.length > 0 && state.calls.every(isResolved))) {
    // A subagent that has used its turns stops here; its parent hears `max_turns`.
    if (config.maxTurns !== null && state.requests >= config.maxTurns) {
      return [{
        _tag: "CompleteTurn",
        decision: new TurnCompleted({ turn: state.turn, stopReason: null, digest: state.digest }, true)
      }]
    }
    if (state.budget.exhausted) {
      return [{
        _tag: "CompleteTurn",
        decision: new TurnCompleted({ turn: state.turn, stopReason: null, digest: state.digest }, true)
      }]
    }
    const left = remaining(state.budget)
    const input = estimateInput(state)
    if (left !== null && input >= left) {
      return [{
        _tag: "ExhaustBudget",
        decision: new BudgetExhausted({
          limitTokens: state.budget.limit!,
          usedTokens: state.budget.used + state.budget.reserved,
          neededTokens: input
        }, true)
      }]
    }
    if (shouldCompact(state, input)) {
      const turnStart = state.turnStart!
      return [{
        _tag: "CompactContext",
        messages: turnStart.length,
        fromSeq: state.historyFromSeq!,
        toSeq: turnStart.seq - 1,
        decision: new ModelRequested({
          requestId: requestId(state),
          model: config.model,
          maxTokens: left === null
            ? SUMMARY_MAX_TOKENS
            : Math.max(
              0,
              Math.min(SUMMARY_MAX_TOKENS, Math.floor((left - input) / Math.max(config.weights.output, 1e-9)))
            ),
          tools: [],
          // The messages summarised, and the instruction to summarise them.
          messageCount: turnStart.length + 1,
          digest: state.digest,
          purpose: "compact"
        }, true)
      }]
    }
    return [{
      _tag: "RequestModel",
      // Built by this pure code from already-validated state, so not validated again (it is on every
      // write); replay constructs one per recorded decision.
      decision: new ModelRequested({
        requestId: requestId(state),
        model: config.model,
        // Output is capped to what the budget has left after the (over-)estimated input.
        // (An output token counts its weight: a budget in dollars weighs output at its price.)
        maxTokens: left === null
          ? config.maxTokens
          : Math.min(config.maxTokens, Math.floor((left - input) / Math.max(config.weights.output, 1e-9))),
        tools: config.tools,
        messageCount: messageCount(state),
        digest: state.digest
      }, true)
    }]
  }
  if (response.failed || state.calls.length === 0) {
    // The final response of the turn: the memory pass, when due, before the turn ends.
    const extract = response.failed ? undefined : extractMemory(state, config)
    if (extract !== undefined) return [extract]
    return [{
      _tag: "CompleteTurn",
      decision: new TurnCompleted({ turn: state.turn, stopReason: response.stopReason, digest: state.digest }, true)
    }]
  }
  const pending = state.calls.filter((call) => call.permission === "pending")
  if (pending.length > 0) return [{ _tag: "CheckPermissions", calls: pending }]
  const asking = state.calls.filter((call) => call.permission === "asking")
  if (asking.length > 0) return [{ _tag: "AskUser", calls: asking }]
  const due = state.calls.filter((call) => call.permission === "allowed" && !isResolved(call))
  const tasks = due.filter((call) => call.name === TASK && call.child === undefined)
  const tools = due.filter((call) => call.name !== TASK)
  const intents: Array<Intent> = []
  if (tools.length > 0) intents.push({ _tag: "RunTools", calls: tools })
  if (tasks.length > 0) {
    // One response's subagents share the budget as it stood before any of them was spawned, so the
    // slices come out the same whether the spawns are decided together (live) or one by one (replay).
    const batch = state.calls.filter((call) =>
      call.name === TASK && (call.child !== undefined || (call.permission === "allowed" && !isResolved(call)))
    )
    const held = batch.reduce((sum, call) => sum + (call.reserved ?? 0), 0)
    const left = remaining(state.budget)
    const slice = slices(left === null ? null : left + held, batch.length)
    intents.push({
      _tag: "SpawnSubagents",
      decisions: tasks.map((call, i) =>
        new SubagentSpawned({
          toolUseId: call.id,
          childAgentId: `${state.agentId}/${state.spawned + i + 1}`,
          agentType: field(call.input, "agent_type"),
          description: field(call.input, "description"),
          prompt: field(call.input, "prompt"),
          budgetTokens: slice
        }, true)
      )
    })
  }
  return intents
}
