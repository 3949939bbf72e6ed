/**
 * Replaying a recorded session without calling any model or tool.
 *
 * - `fold`: the state at the end of any prefix of a log.
 * - `verify`: walks the log agent by agent; every recorded decision must be the one the
 *   decider makes now from the state folded so far, and every observation must answer
 *   something that was asked for. The first difference is a `ReplayDivergenceError`
 *   (seq, agent, what the log has, what the kernel decides), as Temporal's replayer reports.
 *   Decisions carry a digest of the observations before them, so a changed observation is
 *   caught at the next decision even when it would not change the decision itself.
 * - `fork`: a new session holding the events up to a seq, recording where it came from.
 */
import { Effect, Schema, Stream } from "effect"
import type { Intent } from "./AgentDecider.js"
import { decide } from "./AgentDecider.js"
import type { AgentState } from "./AgentState.js"
import * as AgentState_ from "./AgentState.js"
import type { Envelope } from "./Envelope.js"
import { EventLog } from "./EventLog.js"
import type { AnyEvent, PermissionDecided } from "./Events.js"
import { SessionStarted } from "./Events.js"

export class ReplayDivergenceError extends Schema.TaggedError<ReplayDivergenceError>()("ReplayDivergenceError", {
  sessionId: Schema.String,
  seq: Schema.Int,
  agentId: Schema.String,
  expected: Schema.String,
  actual: Schema.String
}) {
  override get message() {
    return `replay of session ${this.sessionId} diverged at seq ${this.seq} (agent ${this.agentId}): ` +
      `the log has ${this.expected}, but the kernel now decides ${this.actual}`
  }
}

/**
 * Re-evaluates a recorded permission decision from the state and the recorded subject; the
 * permission policy provides it. Returns what the policy decides now.
 */
export type PermissionEvaluator = (
  state: AgentState,
  recorded: PermissionDecided
) => { readonly behavior: string; readonly rule: string | null; readonly layer: string | null }

export interface VerifyOptions {
  readonly evaluatePermission?: PermissionEvaluator
}

export interface VerifyReport {
  readonly events: number
  readonly decisions: number
  readonly agents: ReadonlyArray<string>
}

export const fold = AgentState_.fold

/** JSON with sorted keys: two events are the same decision when this is, whatever order their fields came in. */
export const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v)

const sameStrings = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  a.length === b.length && a.every((x, i) => x === b[i])

/** Whether a computed decision is the recorded one; field by field, since replay does this for every decision. */
export const sameDecision = (computed: AnyEvent, recorded: AnyEvent): boolean => {
  if (computed._tag === "ModelRequested" && recorded._tag === "ModelRequested") {
    return computed.requestId === recorded.requestId && computed.model === recorded.model &&
      computed.maxTokens === recorded.maxTokens && computed.messageCount === recorded.messageCount &&
      computed.digest === recorded.digest && sameStrings(computed.tools, recorded.tools) &&
      computed.purpose === recorded.purpose
  }
  if (computed._tag === "TurnCompleted" && recorded._tag === "TurnCompleted") {
    return computed.turn === recorded.turn && computed.stopReason === recorded.stopReason &&
      computed.digest === recorded.digest
  }
  return canonical(computed) === canonical(recorded)
}

const describeEvent = (event: AnyEvent): string => {
  const { _tag, ...fields } = event as unknown as Record<string, unknown>
  return `${String(_tag)} ${canonical(fields)}`
}

const describeIntents = (intents: ReadonlyArray<Intent>): string => {
  if (intents.length === 0) return "to wait (nothing is due)"
  return intents.map((intent) => {
    switch (intent._tag) {
      case "RequestModel":
      case "CompleteTurn":
      case "ExhaustBudget":
      case "CompactContext":
      case "ExtractMemory":
        return describeEvent(intent.decision)
      case "SpawnSubagents":
        return intent.decisions.map(describeEvent).join("; ")
      default:
        return `${intent._tag} for ${intent.calls.map((c) => c.id).join(", ")}`
    }
  }).join("; ")
}

const answerOf = (purpose: AgentState["pendingPurpose"]): string =>
  purpose === "compact" ? "ContextCompacted" : purpose === "remember" ? "MemoryExtracted" : "ModelResponded"

/** A verifier fed one envelope at a time, so a log of any size verifies in constant memory per agent. */
export const makeVerifier = (sessionId: string, options: VerifyOptions = {}) => {
  const states = new Map<string, AgentState>()
  let events = 0
  let decisions = 0

  const diverge = (envelope: Envelope, actual: string) =>
    new ReplayDivergenceError({
      sessionId,
      seq: envelope.seq,
      agentId: envelope.agentId,
      expected: describeEvent(envelope.event),
      actual
    })

  /** Checks one envelope against the state before it; returns a divergence or undefined. */
  const check = (state: AgentState, envelope: Envelope): ReplayDivergenceError | undefined => {
    const event = envelope.event
    switch (event._tag) {
      case "ModelRequested":
      case "TurnCompleted": {
        decisions++
        const intents = decide(state)
        const due = intents.find((i) =>
          i._tag === "RequestModel" || i._tag === "CompleteTurn" || i._tag === "CompactContext" ||
          i._tag === "ExtractMemory"
        )
        const computed = due !== undefined && "decision" in due ? due.decision : undefined
        if (computed === undefined || !sameDecision(computed, event)) {
          return diverge(envelope, describeIntents(intents))
        }
        return undefined
      }
      case "PermissionDecided": {
        decisions++
        const intents = decide(state)
        const due = intents.find((i) => i._tag === "CheckPermissions" && i.calls.some((c) => c.id === event.toolUseId))
        if (due === undefined) return diverge(envelope, describeIntents(intents))
        if (options.evaluatePermission !== undefined) {
          const now = options.evaluatePermission(state, event)
          if (now.behavior !== event.behavior || now.rule !== event.rule || now.layer !== event.layer) {
            return diverge(envelope, `PermissionDecided ${canonical({ ...now, toolUseId: event.toolUseId })}`)
          }
        }
        return undefined
      }
      case "SubagentSpawned": {
        decisions++
        const intents = decide(state)
        const spawn = intents.find((i) => i._tag === "SpawnSubagents")
        const computed = spawn?._tag === "SpawnSubagents"
          ? spawn.decisions.find((d) => d.toolUseId === event.toolUseId)
          : undefined
        return computed !== undefined && canonical(computed) === canonical(event)
          ? undefined
          : diverge(envelope, describeIntents(intents))
      }
      case "SubagentCompleted": {
        const call = state.calls.find((c) => c.id === event.toolUseId)
        return call?.child === event.childAgentId && call.result === undefined
          ? undefined
          : diverge(envelope, `no subagent ${event.childAgentId} is running for ${event.toolUseId}`)
      }
      case "BudgetExhausted": {
        decisions++
        const intents = decide(state)
        const due = intents.find((i) => i._tag === "ExhaustBudget")
        return due?._tag === "ExhaustBudget" && canonical(due.decision) === canonical(event)
          ? undefined
          : diverge(envelope, describeIntents(intents))
      }
      case "ModelResponded":
      case "ModelFailed":
      case "ContextCompacted":
      case "MemoryExtracted": {
        if (event.requestId !== state.pendingRequestId) {
          return diverge(envelope, `no response is due (pending request: ${state.pendingRequestId ?? "none"})`)
        }
        // Each answer is to its kind of request: a summary to `compact`, memories to `remember`.
        const answers = event._tag === "ModelResponded"
          ? null
          : event._tag === "ContextCompacted"
          ? "compact"
          : event._tag === "MemoryExtracted"
          ? "remember"
          : state.pendingPurpose
        return answers === state.pendingPurpose
          ? undefined
          : diverge(envelope, `request ${event.requestId} is answered by ${answerOf(state.pendingPurpose)}`)
      }
      case "PermissionAnswered": {
        const call = state.calls.find((c) => c.id === event.toolUseId)
        return call?.permission === "asking"
          ? undefined
          : diverge(envelope, `no question about ${event.toolUseId} is open`)
      }
      case "FileSnapshotted":
      case "ToolCallCompleted": {
        const call = state.calls.find((c) => c.id === event.toolUseId)
        return call !== undefined && call.result === undefined && call.permission !== "denied" &&
            call.permission !== "asking"
          ? undefined
          : diverge(envelope, `no call ${event.toolUseId} is due to run`)
      }
      default:
        return undefined
    }
  }

  return {
    push: (envelope: Envelope): ReplayDivergenceError | undefined => {
      events++
      const state = states.get(envelope.agentId) ?? AgentState_.initial(envelope.agentId)
      const divergence = check(state, envelope)
      if (divergence !== undefined) return divergence
      AgentState_.evolveAll(states, envelope)
      return undefined
    },
    report: (): VerifyReport => ({ events, decisions, agents: [...states.keys()] }),
    state: (agentId = "main") => states.get(agentId) ?? AgentState_.initial(agentId)
  }
}

export const verify = (
  sessionId: string,
  envelopes: Iterable<Envelope>,
  options?: VerifyOptions
): Effect.Effect<VerifyReport, ReplayDivergenceError> =>
  Effect.suspend(() => {
    const verifier = makeVerifier(sessionId, options)
    for (const envelope of envelopes) {
      const divergence = verifier.push(envelope)
      if (divergence !== undefined) return Effect.fail(divergence)
    }
    return Effect.succeed(verifier.report())
  })

/** Verifies a session straight from the log, streaming. */
export const verifySession = (sessionId: string, options?: VerifyOptions & { readonly untilSeq?: number }) =>
  Effect.gen(function*() {
    const log = yield* EventLog
    const verifier = makeVerifier(sessionId, options)
    const until = options?.untilSeq ?? Number.POSITIVE_INFINITY
    yield* log.read(sessionId).pipe(
      Stream.takeWhile((envelope) => envelope.seq <= until),
      Stream.runForEach((envelope) => {
        const divergence = verifier.push(envelope)
        return divergence === undefined ? Effect.void : Effect.fail(divergence)
      })
    )
    return verifier.report()
  })

export class ForkError extends Schema.TaggedError<ForkError>()("ForkError", {
  sessionId: Schema.String,
  seq: Schema.Int,
  reason: Schema.String
}) {
  override get message() {
    return `cannot fork session ${this.sessionId} at seq ${this.seq}: ${this.reason}`
  }
}

/**
 * A new session holding the events of `sessionId` up to `seq`, its `SessionStarted` recording
 * `forkedFrom`. The copies keep their agents; their causal links stay in the original.
 */
export const fork = (sessionId: string, seq: number, newSessionId: string) =>
  Effect.gen(function*() {
    const log = yield* EventLog
    const events = yield* log.read(sessionId).pipe(
      Stream.takeWhile((envelope) => envelope.seq <= seq),
      Stream.runCollect
    )
    const copied = [...events]
    const first = copied[0]?.event
    if (!(first instanceof SessionStarted)) {
      return yield* new ForkError({ sessionId, seq, reason: "the session does not begin with SessionStarted" })
    }
    if (copied.length < seq) {
      return yield* new ForkError({ sessionId, seq, reason: `the session has only ${copied.length} events` })
    }
    const started = new SessionStarted({ ...first, forkedFrom: { sessionId, seq } })
    yield* log.append(newSessionId, [
      { event: started },
      ...copied.slice(1).map((envelope) => ({ event: envelope.event, agentId: envelope.agentId }))
    ])
    return newSessionId
  })
