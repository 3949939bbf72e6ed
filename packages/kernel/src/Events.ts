/**
 * The event catalogue: every step an agent takes, past tense, one `Schema.TaggedClass` each.
 *
 * Decisions (computed by the kernel from its state): `ModelRequested`, `PermissionDecided`,
 * `SubagentSpawned`, `BudgetExhausted`, `TurnCompleted`.
 * Observations (what the outside world answered): `UserMessageReceived`, `ModelResponded`,
 * `ModelFailed`, `PermissionAnswered`, `FileSnapshotted`, `ToolCallCompleted`,
 * `SubagentCompleted`, `ContextCompacted`, `MemoryExtracted`, `MemoryWritten`, `FilesRewound`.
 *
 * Every event carries `v`, its schema version. Adding an optional field keeps `v`; anything
 * else bumps it and registers an upcaster (see `EventCodec`).
 */
import { Schema } from "effect"
import { AgentType } from "./AgentTypes.js"
import { JsonObject } from "./Json.js"
import { AssistantBlock, StopReason, TextBlock, Usage, UserBlock } from "./Messages.js"
import { Amount, BudgetWeights, PriceTable } from "./Pricing.js"

const version = <const N extends number>(n: N) =>
  Schema.Literal(n).pipe(Schema.propertySignature, Schema.withConstructorDefault(() => n))

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** A path inside the session log naming an agent: `main`, `main/2`, `main/2/1`. */
export const AgentId = Schema.String.pipe(
  Schema.pattern(/^main(\/[1-9][0-9]*)*$/),
  Schema.annotations({
    identifier: "AgentId",
    arbitrary: () => (fc) =>
      fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 3 }).map((path) => ["main", ...path].join("/"))
  })
)

export const SettingSource = Schema.Struct({
  layer: Schema.Literal("user", "user-local", "project", "project-local", "flags"),
  path: Schema.NullOr(Schema.String)
})
export type SettingSource = typeof SettingSource.Type

export class SessionStarted extends Schema.TaggedClass<SessionStarted>()("SessionStarted", {
  v: version(1),
  /** The project's real path: it names the folder the session is stored in. */
  project: Schema.String,
  cwd: Schema.String,
  model: Schema.String,
  /** The merged settings, recorded so a replay never reads today's settings files. */
  settings: JsonObject,
  sources: Schema.Array(SettingSource),
  maxDepth: Schema.NonNegativeInt,
  budgetTokens: Schema.NullOr(Schema.NonNegativeInt),
  /** Every permission rule with the settings layer it came from, lowest layer first. */
  rules: optional(Schema.Array(Schema.Struct({
    behavior: Schema.Literal("allow", "ask", "deny"),
    rule: Schema.String,
    layer: Schema.String
  }))),
  /** The permission mode the session started in. */
  mode: optional(Schema.Literal("default", "acceptEdits", "plan", "bypassPermissions")),
  /** The user's home when the session started, for `~/` in permission rules (replay re-checks with it). */
  home: optional(Schema.String),
  forkedFrom: optional(Schema.Struct({ sessionId: Schema.String, seq: Schema.Int })),
  /** The tools offered to the model, in order. */
  tools: optional(Schema.Array(Schema.String)),
  /** `max_tokens` of each model request. */
  maxTokens: optional(Schema.Int.pipe(Schema.positive())),
  /** The agent types the task tool may spawn, built-in and from settings (the built-ins when absent). */
  agents: optional(Schema.Array(AgentType)),
  /**
   * What an output, cache-write and cache-read token count for against the budget, an input
   * token counting 1 (all 1 when absent). A budget in dollars is one in input tokens weighted by
   * the model's prices.
   */
  budgetWeights: optional(BudgetWeights),
  /** The price table costs are computed with (`Pricing.defaults` when absent). */
  prices: optional(PriceTable),
  /** The model's context window in tokens: older turns are summarised before a request would overflow it. */
  contextWindow: optional(Schema.Int.pipe(Schema.positive())),
  /** Text added to the main agent's system prompt (`--append-system-prompt`), kept for resuming. */
  appendSystemPrompt: optional(Schema.String),
  /** Extended thinking: the tokens each request may think with (settings `thinkingBudgetTokens`). */
  thinkingBudgetTokens: optional(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1024))),
  /**
   * What long-term memory put in the main agent's system prompt after the static instructions
   * (the user's memory, the recent topics), as it was when the session started.
   */
  memory: optional(Schema.String),
  /**
   * How implicit memory is found in the user's messages: `rules` (absent) by the memory
   * projection's rules alone; `model` by them and a model pass at the end of each turn of the
   * main agent (`ModelRequested { purpose: "remember" }`, answered by `MemoryExtracted`).
   */
  memoryExtraction: optional(Schema.Literal("rules", "model"))
}) {}

export class UserMessageReceived extends Schema.TaggedClass<UserMessageReceived>()("UserMessageReceived", {
  v: version(1),
  content: Schema.Array(UserBlock)
}) {}

export class ModelRequested extends Schema.TaggedClass<ModelRequested>()("ModelRequested", {
  v: version(1),
  requestId: Schema.String,
  model: Schema.String,
  maxTokens: Schema.NonNegativeInt,
  /** The names of the tools offered, in order. */
  tools: Schema.Array(Schema.String),
  /** How many transcript messages the request carries. */
  messageCount: Schema.NonNegativeInt,
  /** A digest of every observation the agent had folded when it decided: replay detects a changed input by it. */
  digest: optional(Schema.String),
  /**
   * Set for a request that is not a turn of the agent: `compact` summarises the older turns
   * (answered by `ContextCompacted`); `remember` asks what this turn's user message says worth
   * remembering (answered by `MemoryExtracted`).
   */
  purpose: optional(Schema.Literal("compact", "remember"))
}) {}

export class ModelResponded extends Schema.TaggedClass<ModelResponded>()("ModelResponded", {
  v: version(1),
  requestId: Schema.String,
  messageId: optional(Schema.String),
  model: Schema.String,
  content: Schema.Array(AssistantBlock),
  usage: Usage,
  stopReason: Schema.NullOr(StopReason)
}) {}

export class ModelFailed extends Schema.TaggedClass<ModelFailed>()("ModelFailed", {
  v: version(1),
  requestId: Schema.String,
  attempt: Schema.Int.pipe(Schema.positive()),
  error: Schema.Struct({
    type: Schema.String,
    message: Schema.String,
    status: optional(Schema.Int)
  }),
  retryable: Schema.Boolean,
  /** Set when the client tries again after this many milliseconds: the request is still pending. */
  retryInMs: optional(Schema.NonNegativeInt)
}) {}

export const PermissionBehavior = Schema.Literal("allow", "deny", "ask")
export type PermissionBehavior = typeof PermissionBehavior.Type

export class PermissionDecided extends Schema.TaggedClass<PermissionDecided>()("PermissionDecided", {
  v: version(1),
  toolUseId: Schema.String,
  tool: Schema.String,
  behavior: PermissionBehavior,
  /** The rule that decided, as written (`Bash(npm test:*)`), or null for the mode's default. */
  rule: Schema.NullOr(Schema.String),
  /** The settings layer the rule came from, or the permission mode when no rule matched. */
  layer: Schema.NullOr(Schema.String),
  reason: Schema.String,
  /**
   * What the rules were matched against, as observed when deciding: the resolved real path
   * (symlinks followed) or the command. Replay matches the rules against this again.
   */
  subject: optional(Schema.String)
}) {}

export class PermissionAnswered extends Schema.TaggedClass<PermissionAnswered>()("PermissionAnswered", {
  v: version(1),
  toolUseId: Schema.String,
  answer: Schema.Literal("allow_once", "allow_session", "deny"),
  message: optional(Schema.String),
  /** For `allow_session`: the rules granted for the rest of the session. */
  rules: optional(Schema.Array(Schema.String))
}) {}

export class FileSnapshotted extends Schema.TaggedClass<FileSnapshotted>()("FileSnapshotted", {
  v: version(1),
  toolUseId: Schema.String,
  path: Schema.String,
  /** sha256 of the content before the change, in the blob store; null when the file did not exist. */
  before: Schema.NullOr(Schema.String)
}) {}

export class ToolCallCompleted extends Schema.TaggedClass<ToolCallCompleted>()("ToolCallCompleted", {
  v: version(1),
  toolUseId: Schema.String,
  tool: Schema.String,
  content: Schema.Union(Schema.String, Schema.Array(UserBlock)),
  isError: Schema.Boolean,
  durationMs: Schema.NonNegativeInt,
  interrupted: optional(Schema.Boolean),
  /** The files the call changed, with the sha256 of what it left (null: it removed the file). */
  files: optional(Schema.Array(Schema.Struct({ path: Schema.String, after: Schema.NullOr(Schema.String) })))
}) {}

export const SubagentOutcome = Schema.Literal(
  "completed",
  "failed",
  "timed_out",
  "budget_exhausted",
  "max_turns",
  "interrupted"
)
export type SubagentOutcome = typeof SubagentOutcome.Type

export class SubagentSpawned extends Schema.TaggedClass<SubagentSpawned>()("SubagentSpawned", {
  v: version(1),
  toolUseId: Schema.String,
  childAgentId: AgentId,
  agentType: Schema.String,
  description: Schema.String,
  prompt: Schema.String,
  /** Tokens reserved from the parent's remaining budget; null when the session has no budget. */
  budgetTokens: Schema.NullOr(Schema.NonNegativeInt)
}) {}

export class SubagentCompleted extends Schema.TaggedClass<SubagentCompleted>()("SubagentCompleted", {
  v: version(1),
  toolUseId: Schema.String,
  childAgentId: AgentId,
  outcome: SubagentOutcome,
  summary: Schema.String,
  turns: Schema.NonNegativeInt,
  usage: Usage,
  durationMs: Schema.NonNegativeInt,
  filesModified: Schema.Array(Schema.String),
  /** What the subagent's tree cost in dollars; null when a model's price is unknown. */
  costUsd: optional(Schema.NullOr(Amount))
}) {}

export class BudgetExhausted extends Schema.TaggedClass<BudgetExhausted>()("BudgetExhausted", {
  v: version(1),
  limitTokens: Schema.NonNegativeInt,
  usedTokens: Schema.NonNegativeInt,
  neededTokens: Schema.NonNegativeInt
}) {}

export class TurnCompleted extends Schema.TaggedClass<TurnCompleted>()("TurnCompleted", {
  v: version(1),
  turn: Schema.Int.pipe(Schema.positive()),
  stopReason: Schema.NullOr(StopReason),
  digest: optional(Schema.String)
}) {}

export class ContextCompacted extends Schema.TaggedClass<ContextCompacted>()("ContextCompacted", {
  v: version(1),
  /** The seq range (inclusive) the summary stands for; the originals stay in the log. */
  fromSeq: Schema.Int.pipe(Schema.positive()),
  toSeq: Schema.Int.pipe(Schema.positive()),
  summary: Schema.Array(TextBlock),
  usage: Usage,
  /** The summary request it answers. */
  requestId: optional(Schema.String),
  /** The model that wrote the summary. */
  model: optional(Schema.String)
}) {}

export const MemoryScope = Schema.Literal("user", "project")
export type MemoryScope = typeof MemoryScope.Type

/** What a memory is about: how much it weighs (instructions, facts and identity above preferences, notes last). */
export const MemoryCategory = Schema.Literal("preference", "identity", "fact", "instruction", "note")
export type MemoryCategory = typeof MemoryCategory.Type

/** An entry the memory pass proposes: what it is about, the statement, and whom it is true of. */
export const MemoryProposal = Schema.Struct({
  category: MemoryCategory,
  text: Schema.String,
  scope: MemoryScope
})
export type MemoryProposal = typeof MemoryProposal.Type

/**
 * The answer to a memory pass (`ModelRequested { purpose: "remember" }`): the model's text as it
 * came, and the entries taken from it, each recorded next as an implicit `MemoryWritten`.
 */
export class MemoryExtracted extends Schema.TaggedClass<MemoryExtracted>()("MemoryExtracted", {
  v: version(1),
  /** The request it answers. */
  requestId: Schema.String,
  messageId: optional(Schema.String),
  model: Schema.String,
  usage: Usage,
  /** The model's text, kept whatever it holds, so what was not taken can be audited. */
  answer: Schema.String,
  /** The valid entries of the answer, in its order. */
  proposals: Schema.Array(MemoryProposal),
  /** Why the answer, or some of its entries, were not taken. */
  rejected: optional(Schema.String)
}) {}

export class MemoryWritten extends Schema.TaggedClass<MemoryWritten>()("MemoryWritten", {
  v: version(1),
  memoryId: Schema.String,
  scope: MemoryScope,
  kind: Schema.Literal("explicit", "implicit"),
  text: Schema.String,
  expiresAt: optional(Schema.String),
  /** Absent: the memory projection classifies the text itself (a note when it cannot tell). */
  category: optional(MemoryCategory),
  /** The project of a `project` memory; absent: the project of the session that wrote it. */
  project: optional(Schema.String),
  /**
   * For an implicit memory the memory pass proposed: the id of the event of the user message it
   * was read from. One message states an entry once, whether the rules or the pass found it.
   */
  source: optional(Schema.String)
}) {}

export class MemoryForgotten extends Schema.TaggedClass<MemoryForgotten>()("MemoryForgotten", {
  v: version(1),
  memoryId: Schema.String,
  scope: MemoryScope
}) {}

export class MemoryRecalled extends Schema.TaggedClass<MemoryRecalled>()("MemoryRecalled", {
  v: version(1),
  memoryIds: Schema.Array(Schema.String),
  query: Schema.String
}) {}

export class FilesRewound extends Schema.TaggedClass<FilesRewound>()("FilesRewound", {
  v: version(1),
  toTurn: Schema.Int.pipe(Schema.positive()),
  files: Schema.Array(Schema.Struct({
    path: Schema.String,
    /** The blob restored, or null when the file was removed because it did not exist then. */
    restored: Schema.NullOr(Schema.String)
  })),
  forced: Schema.Boolean
}) {}

export class SessionEnded extends Schema.TaggedClass<SessionEnded>()("SessionEnded", {
  v: version(1),
  reason: Schema.Literal("completed", "interrupted", "failed", "budget_exhausted"),
  message: optional(Schema.String)
}) {}

/**
 * An event whose `_tag` (or `v`) this version of weft does not know — written by a newer
 * weft. It keeps the raw JSON so it is written back byte-for-byte equivalent; projections
 * skip it, nothing drops it.
 */
export class UnknownEvent extends Schema.TaggedClass<UnknownEvent>()("UnknownEvent", {
  raw: JsonObject
}) {
  get tag(): string {
    const tag = this.raw["_tag"]
    return typeof tag === "string" ? tag : "?"
  }
}

export const Event = Schema.Union(
  SessionStarted,
  UserMessageReceived,
  ModelRequested,
  ModelResponded,
  ModelFailed,
  PermissionDecided,
  PermissionAnswered,
  FileSnapshotted,
  ToolCallCompleted,
  SubagentSpawned,
  SubagentCompleted,
  BudgetExhausted,
  TurnCompleted,
  ContextCompacted,
  MemoryExtracted,
  MemoryWritten,
  MemoryForgotten,
  MemoryRecalled,
  FilesRewound,
  SessionEnded
)
export type Event = typeof Event.Type

/** What a log holds: a known event, or one kept verbatim from a newer weft. */
export type AnyEvent = Event | UnknownEvent

export type Tag = Event["_tag"]

/** The current schema version of every known tag. */
export const versions: ReadonlyMap<string, number> = new Map(
  Event.members.map((member) => {
    const v = member.fields.v.ast
    const literal = v._tag === "PropertySignatureDeclaration" && v.type._tag === "Literal" ? v.type.literal : 1
    return [member.identifier, Number(literal)] as const
  })
)

export const isDecision = (event: AnyEvent): boolean => {
  switch (event._tag) {
    case "ModelRequested":
    case "PermissionDecided":
    case "SubagentSpawned":
    case "BudgetExhausted":
    case "TurnCompleted":
      return true
    default:
      return false
  }
}

/** What the outside world answered; a decision's digest covers every observation before it. */
export const isObservation = (event: AnyEvent): boolean => {
  switch (event._tag) {
    case "UserMessageReceived":
    case "ModelResponded":
    case "ModelFailed":
    case "PermissionAnswered":
    case "FileSnapshotted":
    case "ToolCallCompleted":
    case "SubagentCompleted":
    case "ContextCompacted":
    case "MemoryExtracted":
    case "MemoryWritten":
    case "FilesRewound":
      return true
    default:
      return false
  }
}
