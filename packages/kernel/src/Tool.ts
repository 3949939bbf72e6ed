/**
 * A tool the model can call: a name, a description, an input Schema (the model sees the JSON
 * Schema derived from it), what permission it needs for a given input, whether it only reads,
 * and how it runs.
 *
 * A tool's `execute` has every service it needs already (yield them when the tool is built);
 * it fails with `ToolError` for anything the model should hear about — a tool failure is a
 * result for the model, never a crash of the loop.
 */
import type { Effect } from "effect"
import { JSONSchema, Schema } from "effect"
import type { MemoryForgotten, MemoryRecalled, MemoryWritten } from "./Events.js"
import type { UserBlock } from "./Messages.js"

/** What a call needs permission for, in the terms rules are written in (`Read(src/**)`, `Bash(npm test:*)`). */
export type PermissionRequest =
  /** A file tool: `Read`, `Edit` (write and edit), `Glob`, `Grep`; the path as the model gave it. */
  | { readonly _tag: "Path"; readonly tool: string; readonly path: string; readonly access: "read" | "write" }
  /** A shell command, checked part by part. */
  | { readonly _tag: "Command"; readonly tool: "Bash"; readonly command: string }
  /** Anything else: `Task(explore)`, `Memory`; the specifier may be empty. */
  | { readonly _tag: "Other"; readonly tool: string; readonly specifier: string; readonly readOnly: boolean }

export interface ToolContext {
  /** The project root: relative paths resolve against it, bash runs in it. */
  readonly cwd: string
  readonly toolUseId: string
  /** The session the call belongs to. */
  readonly sessionId: string
  readonly agentId: string
  /**
   * Must be called before the tool changes the file at `path` (absolute): its current content
   * (or its absence) goes to the snapshot store and a `FileSnapshotted` event, so the change
   * can be rewound.
   */
  readonly snapshot: (path: string) => Effect.Effect<void, ToolError>
  /**
   * Records what a memory tool observed (an entry written, forgotten or recalled) in the log,
   * before the call's result: the memory indexes are projections of those events.
   */
  readonly record: (
    events: ReadonlyArray<MemoryWritten | MemoryForgotten | MemoryRecalled>
  ) => Effect.Effect<void, ToolError>
  /**
   * For tools that read many files (glob, grep): whether the permission rules let this file
   * (absolute) be read without asking. They skip the files it refuses, so a `Read(.env)` deny
   * holds for a search of the whole project too. Absent: every file the walk finds.
   */
  readonly readable?: (path: string) => boolean
}

export interface ToolOutput {
  readonly content: string | ReadonlyArray<UserBlock>
  /** Absolute paths of files the call changed. */
  readonly filesModified?: ReadonlyArray<string>
}

export class ToolError extends Schema.TaggedError<ToolError>()("ToolError", {
  tool: Schema.String,
  message: Schema.String
}) {}

export interface Tool<I = any> {
  readonly name: string
  readonly description: string
  readonly input: Schema.Schema<I, any>
  readonly readOnly: boolean
  readonly permission: (input: I) => PermissionRequest
  readonly execute: (input: I, context: ToolContext) => Effect.Effect<ToolOutput, ToolError>
}

/** A tool, with its input type inferred from its Schema. */
export const make = <I, E>(tool: Omit<Tool<I>, "input"> & { readonly input: Schema.Schema<I, E> }): Tool<I> => tool

/** The tool as the Messages API wants it: name, description and a JSON Schema of its input. */
export const definition = (tool: Tool) => ({
  name: tool.name,
  description: tool.description,
  input_schema: JSONSchema.make(tool.input) as unknown as Record<string, unknown>
})
