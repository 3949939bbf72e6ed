/**
 * `glob`: the files under a directory whose path (relative to that directory) matches a glob
 * pattern, newest first — as Claude Code sorts them, so the files being worked on come first;
 * files modified in the same millisecond are in path order. At most 100 are listed, with a
 * note saying how many matched.
 *
 * Patterns are picomatch globs with their usual meaning: `*` stays within one directory, `**`
 * crosses directories (`**\/*.ts` for every TypeScript file, `*.ts` for those at the top),
 * braces and classes work (`src/**\/*.{ts,tsx}`), dot-files match. The walk skips what git
 * ignores, and `.git` and `node_modules` (see `Walk`).
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, Schema } from "effect"
import picomatch from "picomatch"
import { optional, required } from "../internal/Fields.js"
import { describeError, display } from "../internal/Files.js"
import * as Walk from "../internal/Walk.js"
import * as Tool from "../Tool.js"

export const maxResults = 100

export const Input = Schema.Struct({
  pattern: required(
    Schema.String,
    "The glob to match, relative to path: \"**/*.ts\", \"src/**/*.{ts,tsx}\", \"*.json\""
  ),
  path: optional(
    Schema.String,
    "The directory to search in: absolute, or relative to the project root (default: the project root)"
  )
})
export type Input = typeof Input.Type

const description = `Finds files by name with a glob pattern.
- "**/*.ts" matches TypeScript files in every directory; "*.ts" only those directly in path; braces work: "src/**/*.{ts,tsx}".
- Lists file paths (relative to the project root when inside it), most recently modified first, at most ${maxResults}.
- Skips files ignored by .gitignore, and .git and node_modules.
- To search file contents, use grep.`

export const make = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const walker = yield* Walk.make
  const fail = (message: string) => new Tool.ToolError({ tool: "glob", message })

  const execute = Effect.fn("Glob.execute")(function*(input: Input, context: Tool.ToolContext) {
    const root = path.resolve(context.cwd, input.path ?? ".")
    const info = yield* fs.stat(root).pipe(Effect.mapError((error) => fail(describeError(error, root))))
    if (info.type !== "Directory") {
      return yield* fail(
        `${display(path, context.cwd, root)} is not a directory; path must be a directory to search in`
      )
    }
    let pattern = input.pattern.trim()
    if (path.isAbsolute(pattern)) {
      const relative = path.relative(root, pattern)
      if (relative === ".." || relative.startsWith(`..${path.sep}`)) {
        return yield* fail(`the pattern ${pattern} is outside ${root}; set path instead`)
      }
      pattern = relative.split(path.sep).join("/")
    }
    pattern = pattern.replace(/^(\.\/)+/, "")
    if (pattern === "") return yield* fail("the pattern is empty; for example \"**/*.ts\"")
    const matches = yield* Effect.try({
      try: () => picomatch(pattern, { dot: true }),
      catch: (error) => fail(`invalid glob pattern ${JSON.stringify(input.pattern)}: ${String(error)}`)
    })

    const entries = yield* walker.files({ root, project: context.cwd }).pipe(
      Effect.mapError((error) => fail(describeError(error, root)))
    )
    const found = entries
      .filter((entry) => matches(entry.relative) && (context.readable?.(entry.path) ?? true))
      .sort((a, b) => b.mtime - a.mtime || (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0))
    if (found.length === 0) {
      const where = root === context.cwd ? "" : ` in ${display(path, context.cwd, root)}`
      return { content: `No files match ${input.pattern}${where}.` }
    }
    const listed = found.slice(0, maxResults).map((entry) => display(path, context.cwd, entry.path))
    const note = found.length > maxResults
      ? `\n\n[${found.length} files match; the ${maxResults} most recently modified are listed. Narrow the pattern or path to see the others.]`
      : ""
    return { content: listed.join("\n") + note }
  })

  return Tool.make({
    name: "glob",
    description,
    input: Input,
    readOnly: true,
    permission: (input) => ({ _tag: "Path", tool: "Read", path: input.path ?? ".", access: "read" }),
    execute
  })
})
