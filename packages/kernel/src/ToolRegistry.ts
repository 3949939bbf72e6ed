/**
 * The tools an agent may call: listed in a stable order (the order given, which keeps the
 * request prefix the same from turn to turn, so prompt caching works), looked up by name, and
 * described to the model as JSON Schema.
 *
 * `decodeInput` is how a call's input meets a tool's Schema: input the Schema rejects becomes
 * a `ToolError` the model reads (one line naming each bad field), never a crash.
 *
 * `layerBuiltins` holds read, write, edit, glob, grep, bash and task (delegation to subagents);
 * `builtins` gives the same tools to combine with others (`layer([...builtins, ...memory])`);
 * `memoryTools` are memory and conversation_search, for a session with a `MemoryIndex`.
 */
import type { CommandExecutor, FileSystem, Path } from "@effect/platform"
import { Context, Effect, Layer, Option, ParseResult, Schema } from "effect"
import type { Ids } from "./Ids.js"
import type { MemoryIndex } from "./MemoryIndex.js"
import * as Tool from "./Tool.js"
import * as Bash from "./tools/Bash.js"
import * as ConversationSearch from "./tools/ConversationSearch.js"
import * as Edit from "./tools/Edit.js"
import * as Glob from "./tools/Glob.js"
import * as Grep from "./tools/Grep.js"
import * as Memory from "./tools/Memory.js"
import * as Read from "./tools/Read.js"
import * as Task from "./tools/Task.js"
import * as Write from "./tools/Write.js"

/** A tool as the Messages API wants it: name, description, `input_schema`. */
export type Definition = ReturnType<typeof Tool.definition>

export interface Service {
  /** In the order the registry was made with. */
  readonly tools: ReadonlyArray<Tool.Tool>
  readonly get: (name: string) => Option.Option<Tool.Tool>
  /** `tools`, described for the model, in the same order. */
  readonly definitions: ReadonlyArray<Definition>
}

export class ToolRegistry extends Context.Tag("@weft/kernel/ToolRegistry")<ToolRegistry, Service>() {}

/** Two tools with one name are a programming error (the model could not tell them apart): it is a defect. */
export const make = (tools: Iterable<Tool.Tool>): Effect.Effect<Service> =>
  Effect.suspend(() => {
    const list = Array.from(tools)
    const byName = new Map<string, Tool.Tool>()
    for (const tool of list) {
      if (byName.has(tool.name)) return Effect.dieMessage(`ToolRegistry: two tools are named ${tool.name}`)
      byName.set(tool.name, tool)
    }
    const definitions = list.map(Tool.definition)
    return Effect.succeed(ToolRegistry.of({
      tools: list,
      get: (name) => Option.fromNullable(byName.get(name)),
      definitions
    }))
  })

export const layer = (tools: Iterable<Tool.Tool>): Layer.Layer<ToolRegistry> => Layer.effect(ToolRegistry, make(tools))

/** read, write, edit, glob, grep, bash — in that order. */
export const builtins: Effect.Effect<
  ReadonlyArray<Tool.Tool>,
  never,
  FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor
> = Effect.all([Read.make, Write.make, Edit.make, Glob.make, Grep.make, Bash.make]).pipe(
  Effect.map((tools): ReadonlyArray<Tool.Tool> => [...tools, Task.make()])
)

/** memory and conversation_search — long-term memory, over the `MemoryIndex` provided. */
export const memoryTools: Effect.Effect<ReadonlyArray<Tool.Tool>, never, MemoryIndex | Ids> = Effect.all([
  Memory.make,
  ConversationSearch.make
])

export const layerBuiltins: Layer.Layer<
  ToolRegistry,
  never,
  FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor
> = Layer.effect(ToolRegistry, Effect.flatMap(builtins, make))

const expectedActual = /^Expected (.*), actual (.*)$/s

/**
 * The issues of one field, in one clause: `path is missing`, `offset: Expected an integer,
 * actual 1.5`, or for a union the alternatives together: `output_mode: Expected "content" |
 * "count", actual "lines"`. Input that is not an object at all says so plainly.
 */
const formatField = (path: string, issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>): string => {
  if (issues.some((issue) => issue._tag === "Missing")) return `${path} is missing`
  const messages = issues.map((issue) => shorten(issue.message.replace(/\s+/g, " ")))
  const parsed = messages.map((message) => expectedActual.exec(message))
  const actual = parsed[0]?.[2]
  const text = parsed.every((match) => match !== null && match[2] === actual)
    ? `Expected ${
      path === "" && parsed[0]![1].startsWith("{")
        ? "an object"
        : Array.from(new Set(parsed.map((match) => match![1]))).join(" | ")
    }, actual ${actual}`
    : messages.join("; ")
  return path === "" ? text : `${path}: ${text}`
}

/** A value the model sent can be long; the message quotes at most 200 characters of it. */
const shorten = (message: string): string => {
  const match = expectedActual.exec(message)
  if (match === null || match[2].length <= 200) return message
  return `Expected ${match[1]}, actual ${match[2].slice(0, 200)}…`
}

const formatIssues = (issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>): string => {
  const byPath = new Map<string, Array<ParseResult.ArrayFormatterIssue>>()
  for (const issue of issues) {
    const path = issue.path.map(String).join(".")
    byPath.set(path, [...(byPath.get(path) ?? []), issue])
  }
  return Array.from(byPath, ([path, group]) => formatField(path, group)).join("; ")
}

/**
 * The call's input, decoded by the tool's Schema; or a `ToolError` for the model such as
 * `invalid input for read: path is missing; limit: Expected a positive number, actual -1`.
 * Properties the Schema does not know are dropped.
 */
export const decodeInput = <I>(tool: Tool.Tool<I>, input: unknown): Effect.Effect<I, Tool.ToolError> =>
  Schema.decodeUnknown(tool.input)(input, { errors: "all" }).pipe(
    Effect.mapError((error) =>
      new Tool.ToolError({
        tool: tool.name,
        message: `invalid input for ${tool.name}: ${formatIssues(ParseResult.ArrayFormatter.formatErrorSync(error))}`
      })
    )
  )
