/**
 * `task`: delegate a piece of work to a subagent of a given type. The subagent starts with
 * the prompt alone (not this conversation), works with its type's tools, and its result comes
 * back as this call's result: what it found or did, its outcome, turns, tokens, duration and
 * the files it changed.
 *
 * The agent loop runs task calls itself — spawning the subagent is a decision it records — so
 * `execute` is never reached through it.
 */
import { Effect, Schema } from "effect"
import * as AgentTypes from "../AgentTypes.js"
import * as Tool from "../Tool.js"

export const Input = Schema.Struct({
  agent_type: Schema.String.annotations({ description: "Which kind of subagent: one of the types listed above." }),
  description: Schema.String.annotations({ description: "A short title for the task (3-5 words)." }),
  prompt: Schema.String.annotations({
    description: "Everything the subagent needs to know: it does not see this conversation."
  })
})

/** What the model is told about the tool: when to delegate, and the agent types there are. */
export const describe = (types: ReadonlyArray<AgentTypes.AgentType>): string =>
  [
    "Delegate a task to a subagent that works on its own and reports back. Use it for searches or changes",
    "that need many steps, and run several at once when they are independent. Agent types:",
    ...types.map((type) => `- ${type.name}: ${type.description}`)
  ].join("\n")

export const make = (types: ReadonlyArray<AgentTypes.AgentType> = AgentTypes.builtins): Tool.Tool<typeof Input.Type> =>
  Tool.make({
    name: "task",
    description: describe(types),
    input: Input,
    readOnly: false,
    permission: (input) => ({ _tag: "Other", tool: "Task", specifier: input.agent_type, readOnly: true }),
    execute: () =>
      Effect.fail(new Tool.ToolError({ tool: "task", message: "the task tool runs through the agent loop" }))
  })
