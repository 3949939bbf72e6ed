/**
 * The Anthropic Messages API shapes that events carry verbatim: content blocks, usage and
 * stop reasons. Field names follow the API (snake_case) so a recorded response can be sent
 * back unchanged — thinking blocks and their signatures included.
 */
import { Schema } from "effect"
import { Json } from "./Json.js"

export const TextBlock = Schema.Struct({
  type: Schema.Literal("text"),
  text: Schema.String
})
export type TextBlock = typeof TextBlock.Type

export const ImageBlock = Schema.Struct({
  type: Schema.Literal("image"),
  source: Schema.Struct({
    type: Schema.Literal("base64"),
    media_type: Schema.String,
    data: Schema.String
  })
})
export type ImageBlock = typeof ImageBlock.Type

export const ThinkingBlock = Schema.Struct({
  type: Schema.Literal("thinking"),
  thinking: Schema.String,
  signature: Schema.String
})
export type ThinkingBlock = typeof ThinkingBlock.Type

export const RedactedThinkingBlock = Schema.Struct({
  type: Schema.Literal("redacted_thinking"),
  data: Schema.String
})
export type RedactedThinkingBlock = typeof RedactedThinkingBlock.Type

export const ToolUseBlock = Schema.Struct({
  type: Schema.Literal("tool_use"),
  id: Schema.String,
  name: Schema.String,
  input: Json
})
export type ToolUseBlock = typeof ToolUseBlock.Type

/** What the model may answer with. */
export const AssistantBlock = Schema.Union(TextBlock, ThinkingBlock, RedactedThinkingBlock, ToolUseBlock)
export type AssistantBlock = typeof AssistantBlock.Type

/** What a user (or a tool result) may send. */
export const UserBlock = Schema.Union(TextBlock, ImageBlock)
export type UserBlock = typeof UserBlock.Type

export const Usage = Schema.Struct({
  input_tokens: Schema.NonNegativeInt,
  output_tokens: Schema.NonNegativeInt,
  cache_creation_input_tokens: Schema.NonNegativeInt,
  cache_read_input_tokens: Schema.NonNegativeInt
})
export type Usage = typeof Usage.Type

export const emptyUsage: Usage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0
}

export const StopReason = Schema.Literal(
  "end_turn",
  "max_tokens",
  "stop_sequence",
  "tool_use",
  "pause_turn",
  "refusal",
  "model_context_window_exceeded"
)
export type StopReason = typeof StopReason.Type

export const ToolResultBlock = Schema.Struct({
  type: Schema.Literal("tool_result"),
  tool_use_id: Schema.String,
  content: Schema.Union(Schema.String, Schema.Array(UserBlock)),
  is_error: Schema.optionalWith(Schema.Boolean, { exact: true })
})
export type ToolResultBlock = typeof ToolResultBlock.Type

/** One message of a request's transcript; roles alternate, starting with the user. */
export const MessageParam = Schema.Union(
  Schema.Struct({
    role: Schema.Literal("user"),
    content: Schema.Array(Schema.Union(TextBlock, ImageBlock, ToolResultBlock))
  }),
  Schema.Struct({
    role: Schema.Literal("assistant"),
    content: Schema.Array(AssistantBlock)
  })
)
export type MessageParam = typeof MessageParam.Type
export type UserMessageParam = Extract<MessageParam, { role: "user" }>

export const ToolDefinition = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  input_schema: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})
export type ToolDefinition = typeof ToolDefinition.Type

/**
 * Extended thinking with a token budget. The thinking blocks of a response (and their
 * signatures, or the redacted blocks) go back verbatim in the next request.
 */
export const ThinkingConfig = Schema.Struct({
  type: Schema.Literal("enabled"),
  budget_tokens: Schema.Int.pipe(Schema.positive())
})
export type ThinkingConfig = typeof ThinkingConfig.Type

export const ModelRequest = Schema.Struct({
  model: Schema.String,
  system: Schema.String,
  messages: Schema.Array(MessageParam),
  tools: Schema.Array(ToolDefinition),
  max_tokens: Schema.Int.pipe(Schema.positive()),
  thinking: Schema.optionalWith(ThinkingConfig, { exact: true })
})
export type ModelRequest = typeof ModelRequest.Type

export const ModelResponse = Schema.Struct({
  id: Schema.String,
  model: Schema.String,
  content: Schema.Array(AssistantBlock),
  stop_reason: Schema.NullOr(StopReason),
  usage: Usage
})
export type ModelResponse = typeof ModelResponse.Type
