/**
 * `write`: creates or replaces a file with the given text, creating missing parent
 * directories. The file's previous content (or its absence) is snapshotted first, so the
 * write can be rewound.
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import { required } from "../internal/Fields.js"
import { describeError, display, plural } from "../internal/Files.js"
import * as Tool from "../Tool.js"

export const Input = Schema.Struct({
  path: required(Schema.String, "The file to write: absolute, or relative to the project root"),
  content: required(Schema.String, "The file's whole new content")
})
export type Input = typeof Input.Type

const description = `Writes a file to the local file system, replacing it if it exists.
- path is absolute or relative to the project root; missing parent directories are created.
- content is the whole file. To change part of an existing file, prefer edit: it sends only the change.
- Read an existing file before you replace it.`

const lineCount = (text: string) => {
  if (text === "") return 0
  let count = 1
  for (let at = text.indexOf("\n"); at !== -1 && at < text.length - 1; at = text.indexOf("\n", at + 1)) count += 1
  return count
}

export const make = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const fail = (message: string) => new Tool.ToolError({ tool: "write", message })

  const execute = Effect.fn("Write.execute")(function*(input: Input, context: Tool.ToolContext) {
    const absolute = path.resolve(context.cwd, input.path)
    const shown = display(path, context.cwd, absolute)
    const existing = yield* fs.stat(absolute).pipe(Effect.option)
    if (Option.isSome(existing) && existing.value.type === "Directory") {
      return yield* fail(`${shown} is a directory; give the path of a file`)
    }
    yield* context.snapshot(absolute)
    yield* fs.makeDirectory(path.dirname(absolute), { recursive: true }).pipe(
      Effect.mapError((error) => fail(describeError(error, path.dirname(absolute))))
    )
    yield* fs.writeFileString(absolute, input.content).pipe(
      Effect.mapError((error) => fail(describeError(error, absolute)))
    )
    const what = `${plural(lineCount(input.content), "line")}`
    return {
      content: Option.isSome(existing) ? `Replaced ${shown} (${what}).` : `Created ${shown} (${what}).`,
      filesModified: [absolute]
    }
  })

  return Tool.make({
    name: "write",
    description,
    input: Input,
    readOnly: false,
    permission: (input) => ({ _tag: "Path", tool: "Edit", path: input.path, access: "write" }),
    execute
  })
})
