/**
 * `memory`: what the model keeps about the user and the project across sessions.
 *
 * - `remember` records a `MemoryWritten` (explicit, scope `project` unless it says `user`),
 *   optionally expiring after `expires_in_days`;
 * - `forget` records a `MemoryForgotten` for an id `list` showed;
 * - `list` shows the live entries of this project and of the user, most important first, and
 *   records a `MemoryRecalled` for them (how often an entry is used makes it more important).
 *
 * The entries are a projection of the log (`MemoryIndex`): what a call records is in the next
 * `list` at once. A memory is weft's own record, not the user's files or commands, so the
 * permission it asks for is read-only (`Memory(remember)`, `Memory(forget)`, `Memory(list)`):
 * a rule can still deny it.
 */
import { Clock, Effect, Schema } from "effect"
import { MemoryForgotten, MemoryRecalled, MemoryWritten } from "../Events.js"
import { Ids } from "../Ids.js"
import { optional, positiveInt, required } from "../internal/Fields.js"
import { MemoryIndex } from "../MemoryIndex.js"
import * as Tool from "../Tool.js"

export const Input = Schema.Struct({
  action: required(
    Schema.Literal("remember", "forget", "list"),
    "remember a fact, preference or instruction; forget one by id; list what is remembered"
  ),
  text: optional(
    Schema.String.pipe(Schema.minLength(1)),
    "remember: the fact, preference or instruction, as one self-contained sentence"
  ),
  scope: optional(
    Schema.Literal("user", "project"),
    "remember: user (about the user, every project) or project (about this project, the default)"
  ),
  memory_id: optional(Schema.String, "forget: the id list showed"),
  expires_in_days: optional(positiveInt, "remember: forget it by itself after this many days")
})
export type Input = typeof Input.Type

const description = `Keeps what should be remembered across sessions.
- action remember with text: a stable fact about the project, a preference or identity of the user, or an instruction
  ("always run the linter before committing"). scope user for the user (all projects), project (default) for this one.
- action list: what is remembered, with ids, most important first.
- action forget with memory_id: drop an entry that is wrong or no longer wanted.
Remember only what will matter in later sessions; never secrets.`

const DAY_MS = 24 * 60 * 60 * 1000

export const make = Effect.gen(function*() {
  const index = yield* MemoryIndex
  const ids = yield* Ids
  const fail = (message: string) => new Tool.ToolError({ tool: "memory", message })
  return Tool.make({
    name: "memory",
    description,
    input: Input,
    readOnly: false,
    permission: (input) => ({ _tag: "Other", tool: "Memory", specifier: input.action, readOnly: true }),
    execute: (input, context) =>
      Effect.gen(function*() {
        switch (input.action) {
          case "remember": {
            if (input.text === undefined) return yield* fail("remember needs text: the sentence to remember")
            const memoryId = yield* ids.next
            const scope = input.scope ?? "project"
            const now = yield* Clock.currentTimeMillis
            const expiresAt = input.expires_in_days === undefined
              ? undefined
              : new Date(now + input.expires_in_days * DAY_MS).toISOString()
            yield* context.record([
              new MemoryWritten({
                memoryId,
                scope,
                kind: "explicit",
                text: input.text.trim(),
                ...(expiresAt === undefined ? {} : { expiresAt })
              })
            ])
            return {
              content: `Remembered as ${memoryId} (${scope}${expiresAt === undefined ? "" : `, until ${expiresAt}`}).`
            }
          }
          case "forget": {
            if (input.memory_id === undefined) return yield* fail("forget needs memory_id: an id list showed")
            const entries = yield* index.memories({ project: context.cwd }).pipe(
              Effect.mapError((e) => fail(e.message))
            )
            const entry = entries.find((e) => e.memoryId === input.memory_id)
            if (entry === undefined) {
              return yield* fail(`no memory ${input.memory_id}: list shows the ids of what is remembered`)
            }
            yield* context.record([new MemoryForgotten({ memoryId: entry.memoryId, scope: entry.scope })])
            return { content: `Forgot ${entry.memoryId}: ${entry.text}` }
          }
          case "list": {
            const entries = yield* index.memories({ project: context.cwd }).pipe(
              Effect.mapError((e) => fail(e.message))
            )
            if (entries.length === 0) return { content: "Nothing is remembered yet." }
            yield* context.record([
              new MemoryRecalled({ memoryIds: entries.map((e) => e.memoryId), query: "" })
            ])
            return {
              content: entries.map((e) =>
                `- ${e.memoryId} (${e.scope}, ${e.kind}${e.category === undefined ? "" : `, ${e.category}`}): ${e.text}`
              ).join("\n")
            }
          }
        }
      })
  })
})
