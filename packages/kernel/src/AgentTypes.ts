/**
 * The kinds of subagent the `task` tool can delegate to: a description for the model, a
 * system prompt, the tools it gets, how many turns it may take, and its permission rules.
 * Built in: `explore` and `plan` (read-only), `general` (reads, and bash that asks), `code`
 * (reads, writes and bash). Settings add more (`agents`), or replace a built-in by name.
 *
 * A subagent's rules never widen what its parent may do: a call is allowed only when the
 * parent's rules and every type on the way down allow it, and a deny from any of them wins
 * (`PermissionPolicy.evaluate` with `restrictions`).
 */
import { Schema } from "effect"

export const TypeRule = Schema.Struct({
  behavior: Schema.Literal("allow", "ask", "deny"),
  /** As written in settings: `Read`, `Bash(npm test:*)`, `Edit(src/**)`. */
  rule: Schema.String
})
export type TypeRule = typeof TypeRule.Type

/** An agent type as `SessionStarted` records it, so a replay spawns exactly what the live run did. */
export const AgentType = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  prompt: Schema.String,
  /** The tools it is offered (the `task` tool too, while its depth allows). */
  tools: Schema.Array(Schema.String),
  /** Model requests it may make before it must stop. */
  maxTurns: Schema.Int.pipe(Schema.positive()),
  model: Schema.optionalWith(Schema.String, { exact: true }),
  /** What this type may do, intersected with its parent's rules. */
  rules: Schema.Array(TypeRule)
})
export type AgentType = typeof AgentType.Type

const READ_ONLY = ["read", "glob", "grep"]

const allow = (...rules: ReadonlyArray<string>): ReadonlyArray<TypeRule> =>
  rules.map((rule) => ({ behavior: "allow", rule }))
const deny = (...rules: ReadonlyArray<string>): ReadonlyArray<TypeRule> =>
  rules.map((rule) => ({ behavior: "deny", rule }))

export const builtins: ReadonlyArray<AgentType> = [
  {
    name: "explore",
    description: "Finds things in the project: files, definitions, usages. Read-only.",
    prompt: "You are a subagent exploring a codebase. Search and read; never change anything. " +
      "Answer with what you found, with file paths.",
    tools: [...READ_ONLY, "task"],
    maxTurns: 20,
    rules: [...allow("Read", "Glob", "Grep", "Task"), ...deny("Edit", "Bash")]
  },
  {
    name: "plan",
    description: "Reads the project and proposes a step-by-step plan. Read-only.",
    prompt: "You are a subagent planning a change. Read what you need; never change anything. " +
      "Answer with a short, concrete plan.",
    tools: [...READ_ONLY, "task"],
    maxTurns: 20,
    rules: [...allow("Read", "Glob", "Grep", "Task"), ...deny("Edit", "Bash")]
  },
  {
    name: "general",
    description: "Researches a question, reading files and running commands (bash asks first).",
    prompt: "You are a general-purpose subagent. Do the task you are given and answer briefly.",
    tools: [...READ_ONLY, "bash", "task"],
    maxTurns: 30,
    // No rule for Bash: commands ask, as in the default mode, unless the user grants them.
    rules: [...allow("Read", "Glob", "Grep", "Task"), ...deny("Edit")]
  },
  {
    name: "code",
    description: "Makes a change: reads, edits and writes files and runs commands.",
    prompt: "You are a subagent making a code change. Make it, check it, and say what you changed.",
    tools: [...READ_ONLY, "write", "edit", "bash", "task"],
    maxTurns: 40,
    rules: allow("Read", "Glob", "Grep", "Task", "Edit", "Bash")
  }
]

export const find = (name: string, types: ReadonlyArray<AgentType> = builtins): AgentType | undefined =>
  types.find((type) => type.name === name)

/** The built-ins with `custom` added; a custom type named like a built-in replaces it. */
export const withCustom = (custom: ReadonlyArray<AgentType>): ReadonlyArray<AgentType> => [
  ...builtins.filter((type) => !custom.some((c) => c.name === type.name)),
  ...custom
]

/** The layer a type's rules are reported under in a permission decision: `agent:explore`. */
export const layerOf = (name: string): string => `agent:${name}`

/** How deep an agent is: `main` is 0, `main/2` is 1, `main/2/1` is 2. */
export const depthOf = (agentId: string): number => agentId.split("/").length - 1
