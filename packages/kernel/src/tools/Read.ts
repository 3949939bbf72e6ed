/**
 * `read`: a file's lines numbered as `cat -n` prints them, from a 1-based `offset`, at most
 * `limit` lines (2000 by default), each cut at 2000 characters.
 *
 * The file is streamed, so reading a window of a large log does not load the whole of it;
 * reading stops as soon as the window is full. Carriage returns before a newline are not
 * shown. A directory, a missing file or anything but a regular file is a `ToolError`; a binary
 * file (a NUL byte in its first 8000 bytes) is reported, not dumped. PNG, JPEG, GIF and WebP
 * images whose bytes say what their extension says are returned as image blocks, as Claude
 * Code does, up to 3.75 MB (the API's 5 MB once base64-encoded).
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, Encoding, Schema, Stream } from "effect"
import { nonNegativeInt, optional, positiveInt, required } from "../internal/Fields.js"
import { describeError, display, isBinary, maxLineLength, numbered, plural, truncateLine } from "../internal/Files.js"
import type { UserBlock } from "../Messages.js"
import * as Tool from "../Tool.js"

export const defaultLimit = 2000
export const maxImageBytes = 3.75 * 1024 * 1024

export const Input = Schema.Struct({
  path: required(Schema.String, "The file to read: absolute, or relative to the project root"),
  offset: optional(
    nonNegativeInt,
    "The 1-based line number to start reading at (default 1). Use it with limit for long files"
  ),
  limit: optional(positiveInt, `How many lines to read (default ${defaultLimit})`)
})
export type Input = typeof Input.Type

const description = `Reads a file from the local file system.
- path is absolute or relative to the project root.
- By default reads up to ${defaultLimit} lines from the start; for long files pass offset (a 1-based line number) and limit.
- Lines are numbered as cat -n prints them: the number, a tab, then the line. The number and tab are not part of the file.
- Lines longer than ${maxLineLength} characters are cut.
- Images (PNG, JPEG, GIF, WebP) are shown as images. Binary files are reported, not shown.
- Reading a directory fails: use glob to list files.`

const imageTypes: Record<string, { readonly mediaType: string; readonly magic: (bytes: Uint8Array) => boolean }> = {
  ".png": { mediaType: "image/png", magic: (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 },
  ".jpg": { mediaType: "image/jpeg", magic: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  ".jpeg": { mediaType: "image/jpeg", magic: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  ".gif": { mediaType: "image/gif", magic: (b) => ascii(b, 0, 4) === "GIF8" },
  ".webp": { mediaType: "image/webp", magic: (b) => ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP" }
}

const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to))

/** Enough bytes for `maxLineLength` characters of any UTF-8 text. */
const maxLineBytes = maxLineLength * 4 + 4

/**
 * Collects the numbered lines `first`..`last` (1-based, inclusive) from chunks of bytes.
 * `push` answers whether more bytes are wanted.
 */
const lineWindow = (first: number, last: number) => {
  const decoder = new TextDecoder()
  const lines: Array<string> = []
  let lineNumber = 1
  let pieces: Array<Uint8Array> = []
  let pieceBytes = 0
  let cut = false
  let open = false
  let more = false

  const emit = () => {
    if (lineNumber >= first) {
      const bytes = new Uint8Array(pieceBytes)
      let at = 0
      for (const piece of pieces) {
        bytes.set(piece, at)
        at += piece.length
      }
      let text = decoder.decode(bytes)
      if (text.endsWith("\r")) text = text.slice(0, -1)
      lines.push(numbered(lineNumber, cut || text.length > maxLineLength ? truncateLine(text) : text))
    }
    pieces = []
    pieceBytes = 0
    cut = false
    open = false
  }

  const push = (chunk: Uint8Array): boolean => {
    let at = 0
    while (at < chunk.length) {
      if (lineNumber > last) {
        more = true
        return false
      }
      const newline = chunk.indexOf(10, at)
      const end = newline === -1 ? chunk.length : newline
      if (lineNumber >= first && end > at) {
        const room = maxLineBytes - pieceBytes
        if (end - at > room) cut = true
        if (room > 0) {
          const piece = chunk.subarray(at, at + Math.min(room, end - at))
          pieces.push(piece)
          pieceBytes += piece.length
        }
      }
      if (newline === -1) {
        open = true
        at = chunk.length
      } else {
        emit()
        lineNumber += 1
        at = newline + 1
      }
    }
    return true
  }

  /** The lines read, whether the file goes on past `last`, and (when it was read to its end) its line count. */
  const finish = () => {
    if (open && lineNumber <= last) emit()
    const total = more ? undefined : lineNumber - 1 + (open ? 1 : 0)
    return { lines, more, total }
  }

  return { push, finish }
}

export const make = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const fail = (message: string) => new Tool.ToolError({ tool: "read", message })

  const readImage = Effect.fn("Read.readImage")(function*(absolute: string, size: number, mediaType: string) {
    if (size > maxImageBytes) {
      return yield* fail(
        `${absolute} is an image of ${(size / 1024 / 1024).toFixed(1)} MB; at most ${
          maxImageBytes / 1024 / 1024
        } MB can be shown`
      )
    }
    const bytes = yield* fs.readFile(absolute).pipe(Effect.mapError((error) => fail(describeError(error, absolute))))
    const block: UserBlock = {
      type: "image",
      source: { type: "base64", media_type: mediaType, data: Encoding.encodeBase64(bytes) }
    }
    return { content: [block] }
  })

  const execute = Effect.fn("Read.execute")(function*(input: Input, context: Tool.ToolContext) {
    const absolute = path.resolve(context.cwd, input.path)
    const shown = display(path, context.cwd, absolute)
    const info = yield* fs.stat(absolute).pipe(Effect.mapError((error) => fail(describeError(error, absolute))))
    if (info.type === "Directory") {
      return yield* fail(`${shown} is a directory, not a file; use glob to list the files in it`)
    }
    if (info.type !== "File") return yield* fail(`${shown} is not a regular file (it is a ${info.type})`)
    const size = Number(info.size)
    if (size === 0) return { content: `The file ${shown} is empty.` }

    const first = Math.max(1, input.offset ?? 1)
    const last = first + (input.limit ?? defaultLimit) - 1
    const window = lineWindow(first, last)
    const image = imageTypes[path.extname(absolute).toLowerCase()]
    let head: Uint8Array | undefined
    yield* fs.stream(absolute, { chunkSize: 64 * 1024 }).pipe(
      Stream.runForEachWhile((chunk) =>
        Effect.sync(() => {
          if (head === undefined) {
            head = chunk
            if (isBinary(chunk) || (image !== undefined && image.magic(chunk))) return false
          }
          return window.push(chunk)
        })
      ),
      Effect.mapError((error) => fail(describeError(error, absolute)))
    )
    if (head !== undefined && image !== undefined && image.magic(head)) {
      return yield* readImage(absolute, size, image.mediaType)
    }
    if (head !== undefined && isBinary(head)) {
      return { content: `${shown} is a binary file (${plural(size, "byte")}); it is not shown.` }
    }

    const { lines, more, total } = window.finish()
    if (lines.length === 0) {
      return yield* fail(`${shown} has ${plural(total ?? 0, "line")}; offset ${first} is past its end`)
    }
    const through = first + lines.length - 1
    const notes: Array<string> = []
    if (more) {
      notes.push(`[Lines ${first}-${through} shown; the file goes on: read with offset ${through + 1} to continue.]`)
    } else if (first > 1 || input.limit !== undefined) notes.push(`[Lines ${first}-${through} of ${total} shown.]`)
    return { content: notes.length === 0 ? lines.join("\n") : `${lines.join("\n")}\n\n${notes.join("\n")}` }
  })

  return Tool.make({
    name: "read",
    description,
    input: Input,
    readOnly: true,
    permission: (input) => ({ _tag: "Path", tool: "Read", path: input.path, access: "read" }),
    execute
  })
})
