/**
 * The kinds of subagent the `task` tool can delegate to: a description for the model, a
 * system prompt, the tools it gets, and how many turns it may take. Built in: `explore` and
 * `plan` (read-only), `general` (reads and bash), `code` (reads, writes and bash).
 */

export interface AgentType {
  readonly name: string
  readonly description: string
  readonly prompt: string
  /** The tools it is offered (the `task` tool too, while its depth allows). */
  readonly tools: ReadonlyArray<string>
  /** Model requests it may make before it must stop. */
  readonly maxTurns: number
  readonly model?: string
}

const READ_ONLY = ["read", "glob", "grep"]

export const builtins: ReadonlyArray<AgentType> = [
  {
    name: "explore",
    description: "Finds things in the project: files, definitions, usages. Read-only.",
    prompt: "You are a subagent exploring a codebase. Search and read; never change anything. " +
      "Answer with what you found, with file paths.",
    tools: [...READ_ONLY, "task"],
    maxTurns: 20
  },
  {
    name: "plan",
    description: "Reads the project and proposes a step-by-step plan. Read-only.",
    prompt: "You are a subagent planning a change. Read what you need; never change anything. " +
      "Answer with a short, concrete plan.",
    tools: [...READ_ONLY, "task"],
    maxTurns: 20
  },
  {
    name: "general",
    description: "Researches a question, reading files and running commands (bash asks first).",
    prompt: "You are a general-purpose subagent. Do the task you are given and answer briefly.",
    tools: [...READ_ONLY, "bash", "task"],
    maxTurns: 30
  },
  {
    name: "code",
    description: "Makes a change: reads, edits and writes files and runs commands.",
    prompt: "You are a subagent making a code change. Make it, check it, and say what you changed.",
    tools: [...READ_ONLY, "write", "edit", "bash", "task"],
    maxTurns: 40
  }
]

export const find = (name: string, types: ReadonlyArray<AgentType> = builtins): AgentType | undefined =>
  types.find((type) => type.name === name)

/** How deep an agent is: `main` is 0, `main/2` is 1, `main/2/1` is 2. */
export const depthOf = (agentId: string): number => agentId.split("/").length - 1
