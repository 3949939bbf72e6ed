import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, FastCheck, Layer, Option, Schema } from "effect"
import * as Tool from "../../src/Tool.js"
import { decodeInput, layerBuiltins, make, ToolRegistry } from "../../src/ToolRegistry.js"

const echo = (name: string) =>
  Tool.make({
    name,
    description: `echoes (${name})`,
    input: Schema.Struct({ text: Schema.String }),
    readOnly: true,
    permission: () => ({ _tag: "Other", tool: name, specifier: "", readOnly: true }),
    execute: (input) => Effect.succeed({ content: input.text })
  })

describe("ToolRegistry", () => {
  it.layer(layerBuiltins.pipe(Layer.provideMerge(NodeContext.layer)))((it) => {
    it.effect("holds the seven builtins in a fixed order, task last", () =>
      Effect.gen(function*() {
        const registry = yield* ToolRegistry
        assert.deepStrictEqual(registry.tools.map((tool) => tool.name), [
          "read",
          "write",
          "edit",
          "glob",
          "grep",
          "bash",
          "task"
        ])
      }))

    it.effect("describes every builtin to the model with a JSON Schema of its input", () =>
      Effect.gen(function*() {
        const registry = yield* ToolRegistry
        assert.deepStrictEqual(
          registry.definitions.map((definition) => definition.name),
          registry.tools.map((t) => t.name)
        )
        const required: Record<string, ReadonlyArray<string>> = {
          read: ["path"],
          write: ["path", "content"],
          edit: ["path", "old_string", "new_string"],
          glob: ["pattern"],
          grep: ["pattern"],
          bash: ["command"],
          task: ["agent_type", "description", "prompt"]
        }
        for (const definition of registry.definitions) {
          const schema = definition.input_schema as {
            type: string
            required: Array<string>
            properties: Record<string, { description?: string }>
          }
          assert.isAbove(definition.description.length, 20, definition.name)
          assert.strictEqual(schema.type, "object", definition.name)
          assert.deepStrictEqual(schema.required, required[definition.name], definition.name)
          for (const [key, property] of Object.entries(schema.properties)) {
            assert.isString(property.description, `${definition.name}.${key} has a description`)
          }
        }
        const grep = registry.definitions.find((definition) => definition.name === "grep")!
        assert.deepStrictEqual(
          Object.keys((grep.input_schema as { properties: object }).properties),
          ["pattern", "path", "glob", "output_mode", "-i", "-n", "context", "head_limit"]
        )
      }))

    it.effect("get finds a tool by name, and nothing for an unknown name", () =>
      Effect.gen(function*() {
        const registry = yield* ToolRegistry
        assert.strictEqual(Option.map(registry.get("grep"), (tool) => tool.name).pipe(Option.getOrNull), "grep")
        assert.isTrue(Option.isNone(registry.get("Grep")))
      }))

    it.effect("decodeInput turns a missing field and a wrong type into one line for the model", () =>
      Effect.gen(function*() {
        const read = Option.getOrThrow((yield* ToolRegistry).get("read"))
        const error = yield* Effect.flip(decodeInput(read, { offset: "ten", limit: -1 }))
        assert.strictEqual(error._tag, "ToolError")
        assert.strictEqual(error.tool, "read")
        assert.strictEqual(
          error.message,
          "invalid input for read: path is missing; offset: Expected number, actual \"ten\"; limit: Expected a positive number, actual -1"
        )
      }))

    it.effect("decodeInput names the allowed values of a literal field", () =>
      Effect.gen(function*() {
        const grep = Option.getOrThrow((yield* ToolRegistry).get("grep"))
        const error = yield* Effect.flip(decodeInput(grep, { pattern: "x", output_mode: "lines" }))
        assert.strictEqual(
          error.message,
          "invalid input for grep: output_mode: Expected \"content\" | \"files_with_matches\" | \"count\", actual \"lines\""
        )
      }))

    it.effect("decodeInput says plainly that the input must be an object", () =>
      Effect.gen(function*() {
        const glob = Option.getOrThrow((yield* ToolRegistry).get("glob"))
        const error = yield* Effect.flip(decodeInput(glob, "**/*.ts"))
        assert.strictEqual(error.message, "invalid input for glob: Expected an object, actual \"**/*.ts\"")
      }))

    it.effect("decodeInput quotes at most 200 characters of a bad value", () =>
      Effect.gen(function*() {
        const write = Option.getOrThrow((yield* ToolRegistry).get("write"))
        const error = yield* Effect.flip(decodeInput(write, { path: "a", content: ["x".repeat(1000)] }))
        assert.isBelow(error.message.length, 300)
        assert.match(error.message, /^invalid input for write: content: Expected string, actual \["xxx/)
      }))

    it.effect("decodeInput rejects a bash timeout over 10 minutes", () =>
      Effect.gen(function*() {
        const bash = Option.getOrThrow((yield* ToolRegistry).get("bash"))
        const error = yield* Effect.flip(decodeInput(bash, { command: "ls", timeout: 900_000 }))
        assert.strictEqual(
          error.message,
          "invalid input for bash: timeout: Expected a number between 1 and 600000, actual 900000"
        )
      }))

    it.effect("decodeInput passes valid input through, dropping properties the schema does not know", () =>
      Effect.gen(function*() {
        const edit = Option.getOrThrow((yield* ToolRegistry).get("edit"))
        const input = yield* decodeInput(edit, { path: "a", old_string: "x", new_string: "y", extra: 1 })
        assert.deepStrictEqual(input, { path: "a", old_string: "x", new_string: "y" })
      }))

    it.effect.prop(
      "decodeInput never crashes: any JSON is a decoded input or a one-line ToolError",
      [FastCheck.jsonValue()],
      ([json]) =>
        Effect.gen(function*() {
          for (const tool of (yield* ToolRegistry).tools) {
            const exit = yield* Effect.exit(decodeInput(tool, json))
            if (Exit.isFailure(exit)) {
              const error = Option.getOrThrow(
                Exit.causeOption(exit).pipe(
                  Option.flatMap((cause) => cause._tag === "Fail" ? Option.some(cause.error) : Option.none())
                )
              )
              assert.strictEqual(error._tag, "ToolError")
              assert.isTrue(error.message.startsWith(`invalid input for ${tool.name}: `))
              assert.notInclude(error.message, "\n")
            }
          }
        })
    )
  })

  it.effect("layer keeps the order it is given", () =>
    Effect.gen(function*() {
      const registry = yield* ToolRegistry
      assert.deepStrictEqual(registry.tools.map((tool) => tool.name), ["zeta", "alpha", "mid"])
      assert.deepStrictEqual(registry.definitions.map((definition) => definition.name), ["zeta", "alpha", "mid"])
    }).pipe(Effect.provide(Layer.effect(ToolRegistry, make([echo("zeta"), echo("alpha"), echo("mid")])))))

  it.effect("two tools with one name are a defect", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(make([echo("same"), echo("other"), echo("same")]))
      assert.isTrue(Exit.isFailure(exit) && Exit.causeOption(exit).pipe(Option.exists((cause) => cause._tag === "Die")))
    }))
})
