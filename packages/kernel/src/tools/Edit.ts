/**
 * `edit`: replaces an exact string in a file — once, where it must be unique, or everywhere
 * with `replace_all`. Everything else in the file is kept byte for byte: a byte-order mark,
 * CRLF line endings, a missing final newline.
 *
 * In a file with CRLF line endings, an `old_string` written with bare `\n` (as the model sees
 * lines in `read`) that does not occur as given is matched with `\r\n`, and `new_string` is
 * written with `\r\n` too, so the file keeps one line-ending style.
 *
 * Refused with a `ToolError`: a missing file, a binary or non-UTF-8 file, an empty
 * `old_string` (use `write` to create files), `old_string` equal to `new_string`, an
 * `old_string` that does not occur, or occurs more than once without `replace_all`.
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, Schema } from "effect"
import { optional, required } from "../internal/Fields.js"
import { describeError, display, isBinary, numbered, plural, truncateLine } from "../internal/Files.js"
import * as Tool from "../Tool.js"

export const Input = Schema.Struct({
  path: required(Schema.String, "The file to edit: absolute, or relative to the project root"),
  old_string: required(
    Schema.String,
    "The exact text to replace, whitespace and indentation included (without read's line-number prefixes)"
  ),
  new_string: required(Schema.String, "The text to put in its place (must differ from old_string)"),
  replace_all: optional(
    Schema.Boolean,
    "Replace every occurrence of old_string (default false: it must occur exactly once)"
  )
})
export type Input = typeof Input.Type

const description = `Replaces exact text in a file.
- old_string must match the file exactly, whitespace and indentation included. Do not include the line-number prefix that read shows.
- The edit fails if old_string does not occur, or occurs more than once: add surrounding lines to make it unique, or set replace_all to change every occurrence (for example to rename a variable).
- Read the file before editing it.
- To create a file, use write.`

/** Non-overlapping occurrences, left to right. */
const occurrences = (text: string, search: string): Array<number> => {
  const found: Array<number> = []
  for (let at = text.indexOf(search); at !== -1; at = text.indexOf(search, at + search.length)) found.push(at)
  return found
}

/** `text` with `search` at `positions` replaced; no `$&`-style patterns, unlike `String.prototype.replace`. */
const replaceAt = (text: string, search: string, replacement: string, positions: ReadonlyArray<number>): string => {
  let result = ""
  let from = 0
  for (const at of positions) {
    result += text.slice(from, at) + replacement
    from = at + search.length
  }
  return result + text.slice(from)
}

/** A few numbered lines around the change at `at` (`length` characters of new text), as `cat -n` shows them. */
const snippet = (text: string, at: number, length: number, around = 3): string => {
  const lines = text.split("\n")
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop()
  const firstChanged = text.slice(0, at).split("\n").length
  const lastChanged = firstChanged + text.slice(at, at + length).split("\n").length - 1
  const from = Math.max(1, firstChanged - around)
  const to = Math.min(lines.length, lastChanged + around)
  const shown: Array<string> = []
  for (let line = from; line <= to; line++) shown.push(numbered(line, truncateLine(lines[line - 1].replace(/\r$/, ""))))
  return shown.join("\n")
}

export const make = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const fail = (message: string) => new Tool.ToolError({ tool: "edit", message })
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
  const encoder = new TextEncoder()

  const execute = Effect.fn("Edit.execute")(function*(input: Input, context: Tool.ToolContext) {
    const absolute = path.resolve(context.cwd, input.path)
    const shown = display(path, context.cwd, absolute)
    if (input.old_string === "") {
      return yield* fail("old_string is empty; to create a file or replace it whole, use write")
    }
    if (input.old_string === input.new_string) {
      return yield* fail("old_string and new_string are the same; there is nothing to change")
    }
    const info = yield* fs.stat(absolute).pipe(Effect.mapError((error) => fail(describeError(error, absolute))))
    if (info.type !== "File") return yield* fail(`${shown} is not a file (it is a ${info.type.toLowerCase()})`)
    const bytes = yield* fs.readFile(absolute).pipe(Effect.mapError((error) => fail(describeError(error, absolute))))
    if (isBinary(bytes)) return yield* fail(`${shown} is a binary file; edit changes text files only`)
    const text = yield* Effect.try({
      try: () => decoder.decode(bytes),
      catch: () => fail(`${shown} is not valid UTF-8 text; edit would not keep its bytes, so it is left alone`)
    })

    let search = input.old_string
    let replacement = input.new_string
    let positions = occurrences(text, search)
    if (positions.length === 0 && text.includes("\r\n") && /(?<!\r)\n/.test(search)) {
      const crlf = (s: string) => s.replace(/\r?\n/g, "\r\n")
      const found = occurrences(text, crlf(search))
      if (found.length > 0) {
        search = crlf(search)
        replacement = crlf(replacement)
        positions = found
      }
    }
    if (positions.length === 0) {
      return yield* fail(
        `old_string was not found in ${shown}; it must match exactly, whitespace and indentation included (read the file again to see its current text)`
      )
    }
    if (positions.length > 1 && input.replace_all !== true) {
      return yield* fail(
        `old_string occurs ${positions.length} times in ${shown}; add surrounding lines to make it unique, or set replace_all to replace every occurrence`
      )
    }

    const updated = replaceAt(text, search, replacement, positions)
    yield* context.snapshot(absolute)
    yield* fs.writeFile(absolute, encoder.encode(updated)).pipe(
      Effect.mapError((error) => fail(describeError(error, absolute)))
    )
    const content = positions.length === 1
      ? `Edited ${shown}:\n${snippet(updated, positions[0], replacement.length)}`
      : `Edited ${shown}: replaced ${plural(positions.length, "occurrence")}.`
    return { content, filesModified: [absolute] }
  })

  return Tool.make({
    name: "edit",
    description,
    input: Input,
    readOnly: false,
    permission: (input) => ({ _tag: "Path", tool: "Edit", path: input.path, access: "write" }),
    execute
  })
})
