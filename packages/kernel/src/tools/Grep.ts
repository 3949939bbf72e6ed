/**
 * `grep`: searches file contents with a JavaScript regular expression, line by line, in the
 * manner of ripgrep and Claude Code's Grep tool.
 *
 * - Files: a file `path` is searched as given; a directory is walked (see `Walk`: `.gitignore`
 *   files, nested ones too, `.git` and `node_modules` skipped). `glob` filters file paths with
 *   picomatch as ripgrep's `--glob` does: a pattern without `/` matches file names anywhere
 *   (`*.ts`), one with `/` matches paths relative to the searched directory (`src/**\/*.ts`).
 * - Binary files (a NUL byte in the first 8000 bytes) and files over 20 MB are skipped.
 * - Each file is read once; files are read concurrently (64 at a time), the directory walk too.
 * - Output modes: `files_with_matches` (default) lists files, newest first as Claude Code
 *   does; `content` prints matching lines as `path:line:text` (`-n`, on by default) with
 *   `context` lines around them as `path-line-text` and `--` between groups, files in path
 *   order; `count` prints `path:count`, in path order. `head_limit` (default 250) keeps the
 *   first lines or entries and says when it cut. A carriage return ending a line is not part
 *   of it; lines are cut at 2000 characters.
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, Option, Schema } from "effect"
import picomatch from "picomatch"
import { nonNegativeInt, optional, positiveInt, required } from "../internal/Fields.js"
import { describeError, display, isBinary, plural, truncateLine } from "../internal/Files.js"
import * as Walk from "../internal/Walk.js"
import * as Tool from "../Tool.js"

export const defaultHeadLimit = 250
export const maxFileBytes = 20 * 1024 * 1024
const readConcurrency = 64

export const OutputMode = Schema.Literal("content", "files_with_matches", "count")
export type OutputMode = typeof OutputMode.Type

export const Input = Schema.Struct({
  pattern: required(
    Schema.String,
    "A JavaScript regular expression, matched against each line (for example \"function\\s+\\w+\")"
  ),
  path: optional(
    Schema.String,
    "The file or directory to search: absolute, or relative to the project root (default: the project root)"
  ),
  glob: optional(
    Schema.String,
    "Only search files matching this glob: \"*.ts\" (by name, anywhere), \"src/**/*.{ts,tsx}\" (by path)"
  ),
  output_mode: optional(
    OutputMode,
    "\"files_with_matches\" (default): the files that match; \"content\": the matching lines; \"count\": matches per file"
  ),
  "-i": optional(Schema.Boolean, "Case-insensitive search"),
  "-n": optional(Schema.Boolean, "Show line numbers with content output (default true)"),
  context: optional(
    nonNegativeInt,
    "Lines of context to show before and after each match (content output only)"
  ),
  head_limit: optional(
    positiveInt,
    `Show only the first N lines or entries of the output (default ${defaultHeadLimit})`
  )
})
export type Input = typeof Input.Type

const description = `Searches file contents with a regular expression (JavaScript syntax), like ripgrep.
- Matches line by line. Escape regex characters to match them literally: \\( for (, \\. for a dot.
- path: a file or directory (default: the project root). glob filters files: "*.ts" by name, "src/**/*.ts" by path.
- output_mode: "files_with_matches" (default) lists matching files, most recently modified first; "content" shows matching lines (path:line:text), with context lines if asked; "count" shows matches per file.
- Skips files ignored by .gitignore, .git, node_modules and binary files.
- Output is cut after head_limit lines or entries (default ${defaultHeadLimit}).
- To find files by name, use glob.`

interface FileMatches {
  readonly entry: Walk.Entry
  /** 0-based indices of matching lines. */
  readonly matches: ReadonlyArray<number>
  /** The file's lines, kept only for content output. */
  readonly lines: ReadonlyArray<string>
}

const splitLines = (text: string): Array<string> => {
  const lines = text.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line.endsWith("\r")) lines[i] = line.slice(0, -1)
  }
  return lines
}

const byRelativePath = (a: FileMatches, b: FileMatches) =>
  a.entry.relative < b.entry.relative ? -1 : a.entry.relative > b.entry.relative ? 1 : 0

export const make = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const walker = yield* Walk.make
  const fail = (message: string) => new Tool.ToolError({ tool: "grep", message })
  const decoder = new TextDecoder()

  /** The files to search: a file given by name, or the walk of a directory filtered by the glob. */
  const candidates = Effect.fn("Grep.candidates")(function*(
    root: string,
    cwd: string,
    glob: string | undefined,
    readable: ((path: string) => boolean) | undefined
  ) {
    const info = yield* fs.stat(root).pipe(Effect.mapError((error) => fail(describeError(error, root))))
    if (info.type === "File") {
      const entry: Walk.Entry = {
        path: root,
        relative: path.basename(root),
        mtime: Option.match(info.mtime, { onNone: () => 0, onSome: (date) => date.getTime() }),
        size: Number(info.size)
      }
      return [entry]
    }
    if (info.type !== "Directory") return yield* fail(`${display(path, cwd, root)} is not a file or directory`)
    const entries = yield* walker.files({ root, project: cwd }).pipe(
      Effect.mapError((error) => fail(describeError(error, root)))
    )
    const allowed = readable === undefined ? entries : entries.filter((entry) => readable(entry.path))
    if (glob === undefined) return allowed
    const matches = yield* Effect.try({
      try: () => {
        const pattern = glob.replace(/^(\.\/)+/, "")
        return picomatch(pattern, { dot: true, basename: !pattern.includes("/") })
      },
      catch: (error) => fail(`invalid glob ${JSON.stringify(glob)}: ${String(error)}`)
    })
    return allowed.filter((entry) => matches(entry.relative))
  })

  /** One file's matching lines; `undefined` for a binary or unreadable file. */
  const search = (
    entry: Walk.Entry,
    regex: RegExp,
    mode: OutputMode
  ): Effect.Effect<FileMatches | undefined> =>
    fs.readFile(entry.path).pipe(
      Effect.map((bytes) => {
        if (isBinary(bytes)) return undefined
        const lines = splitLines(decoder.decode(bytes))
        const matches: Array<number> = []
        for (let i = 0; i < lines.length; i++) {
          if (regex.test(lines[i])) {
            matches.push(i)
            if (mode === "files_with_matches") break
          }
        }
        return matches.length === 0 ? undefined : { entry, matches, lines: mode === "content" ? lines : [] }
      }),
      Effect.orElseSucceed(() => undefined)
    )

  const contentLines = (file: FileMatches, shown: string, lineNumbers: boolean, context: number) => {
    const out: Array<string> = []
    const format = (index: number, separator: string) =>
      lineNumbers
        ? `${shown}${separator}${index + 1}${separator}${truncateLine(file.lines[index])}`
        : `${shown}${separator}${truncateLine(file.lines[index])}`
    const isMatch = new Set(file.matches)
    let printedThrough = -1
    for (const match of file.matches) {
      const from = Math.max(0, match - context, printedThrough + 1)
      const to = Math.min(file.lines.length - 1, match + context)
      if (context > 0 && printedThrough >= 0 && from > printedThrough + 1) out.push("--")
      for (let i = from; i <= to; i++) out.push(format(i, isMatch.has(i) ? ":" : "-"))
      printedThrough = Math.max(printedThrough, to)
    }
    return out
  }

  const execute = Effect.fn("Grep.execute")(function*(input: Input, context: Tool.ToolContext) {
    const regex = yield* Effect.try({
      try: () => new RegExp(input.pattern, input["-i"] === true ? "i" : ""),
      catch: (error) => fail(`invalid regular expression: ${error instanceof Error ? error.message : String(error)}`)
    })
    const mode = input.output_mode ?? "files_with_matches"
    const root = path.resolve(context.cwd, input.path ?? ".")
    const files = yield* candidates(root, context.cwd, input.glob, context.readable)
    const small = files.filter((entry) => entry.size <= maxFileBytes)
    const skippedLarge = files.length - small.length
    const found = (yield* Effect.forEach(small, (entry) => search(entry, regex, mode), {
      concurrency: readConcurrency
    })).filter((file): file is FileMatches => file !== undefined)

    const limit = input.head_limit ?? defaultHeadLimit
    const shown = (file: FileMatches) => display(path, context.cwd, file.entry.path)
    let lines: Array<string>
    let unit: string
    if (mode === "files_with_matches") {
      found.sort((a, b) => b.entry.mtime - a.entry.mtime || byRelativePath(a, b))
      lines = found.map(shown)
      unit = "files"
    } else if (mode === "count") {
      found.sort(byRelativePath)
      lines = found.map((file) => `${shown(file)}:${file.matches.length}`)
      unit = "files"
    } else {
      found.sort(byRelativePath)
      const around = input.context ?? 0
      lines = []
      for (const file of found) {
        if (around > 0 && lines.length > 0) lines.push("--")
        lines.push(...contentLines(file, shown(file), input["-n"] ?? true, around))
        if (lines.length > limit) break
      }
      unit = "lines"
    }

    const notes: Array<string> = []
    if (lines.length > limit) {
      notes.push(
        `[Output cut at ${limit} ${unit}${
          mode === "content" ? "" : ` of ${lines.length}`
        }; narrow the pattern, path or glob, or raise head_limit.]`
      )
    }
    if (skippedLarge > 0) notes.push(`[${plural(skippedLarge, "file")} over 20 MB not searched.]`)
    const body = lines.length === 0
      ? `No matches for ${input.pattern}${root === context.cwd ? "" : ` in ${display(path, context.cwd, root)}`}.`
      : lines.slice(0, limit).join("\n")
    return { content: notes.length === 0 ? body : `${body}\n\n${notes.join("\n")}` }
  })

  return Tool.make({
    name: "grep",
    description,
    input: Input,
    readOnly: true,
    permission: (input) => ({ _tag: "Path", tool: "Read", path: input.path ?? ".", access: "read" }),
    execute
  })
})
