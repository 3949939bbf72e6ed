import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Edit from "../../src/tools/Edit.js"
import { makeContext } from "../utils/toolContext.js"

const setup = (initial: string | Uint8Array) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped()
    const file = `${dir}/file.txt`
    yield* typeof initial === "string" ? fs.writeFileString(file, initial) : fs.writeFile(file, initial)
    const { context, snapshots } = yield* makeContext(dir)
    const tool = yield* Edit.make
    const text = fs.readFileString(file)
    const bytes = Effect.map(fs.readFile(file), (b) => Array.from(b))
    return { file, context, snapshots, tool, text, bytes }
  })

describe("edit", () => {
  it.layer(NodeContext.layer)((it) => {
    it.scoped("replaces the one occurrence and leaves the rest as it was", () =>
      Effect.gen(function*() {
        const { context, file, text, tool } = yield* setup("a\nconst x = 1\nb\n")
        const output = yield* tool.execute({ path: "file.txt", old_string: "x = 1", new_string: "x = 2" }, context)
        assert.strictEqual(yield* text, "a\nconst x = 2\nb\n")
        assert.deepStrictEqual(output.filesModified, [file])
        assert.strictEqual(output.content, "Edited file.txt:\n     1\ta\n     2\tconst x = 2\n     3\tb")
      }))

    it.scoped("fails when old_string does not occur, and leaves the file alone", () =>
      Effect.gen(function*() {
        const { context, snapshots, text, tool } = yield* setup("hello\n")
        const error = yield* Effect.flip(
          tool.execute({ path: "file.txt", old_string: "goodbye", new_string: "x" }, context)
        )
        assert.match(error.message, /^old_string was not found in file\.txt; it must match exactly/)
        assert.strictEqual(yield* text, "hello\n")
        assert.deepStrictEqual(yield* snapshots, [])
      }))

    it.scoped("fails when old_string is not unique, saying how many times it occurs", () =>
      Effect.gen(function*() {
        const { context, text, tool } = yield* setup("x\nx\nx\n")
        const error = yield* Effect.flip(tool.execute({ path: "file.txt", old_string: "x", new_string: "y" }, context))
        assert.strictEqual(
          error.message,
          "old_string occurs 3 times in file.txt; add surrounding lines to make it unique, or set replace_all to replace every occurrence"
        )
        assert.strictEqual(yield* text, "x\nx\nx\n")
      }))

    it.scoped("replace_all replaces every occurrence", () =>
      Effect.gen(function*() {
        const { context, text, tool } = yield* setup("foo bar foo\nfoo\n")
        const output = yield* tool.execute(
          { path: "file.txt", old_string: "foo", new_string: "baz", replace_all: true },
          context
        )
        assert.strictEqual(yield* text, "baz bar baz\nbaz\n")
        assert.strictEqual(output.content, "Edited file.txt: replaced 3 occurrences.")
      }))

    it.scoped("fails when old_string equals new_string", () =>
      Effect.gen(function*() {
        const { context, tool } = yield* setup("same\n")
        const error = yield* Effect.flip(
          tool.execute({ path: "file.txt", old_string: "same", new_string: "same" }, context)
        )
        assert.strictEqual(error.message, "old_string and new_string are the same; there is nothing to change")
      }))

    it.scoped("fails on an empty old_string, pointing at write", () =>
      Effect.gen(function*() {
        const { context, tool } = yield* setup("text\n")
        const error = yield* Effect.flip(tool.execute({ path: "file.txt", old_string: "", new_string: "x" }, context))
        assert.strictEqual(error.message, "old_string is empty; to create a file or replace it whole, use write")
      }))

    it.scoped("fails clearly for a missing file", () =>
      Effect.gen(function*() {
        const { context, tool } = yield* setup("")
        const error = yield* Effect.flip(tool.execute({ path: "gone.txt", old_string: "a", new_string: "b" }, context))
        assert.match(error.message, /^no such file or directory: .*gone\.txt$/)
      }))

    it.scoped("keeps CRLF line endings, matching an old_string written with \\n", () =>
      Effect.gen(function*() {
        const { bytes, context, text, tool } = yield* setup("one\r\ntwo\r\nthree\r\n")
        yield* tool.execute({ path: "file.txt", old_string: "one\ntwo", new_string: "uno\ndos\ndos" }, context)
        assert.strictEqual(yield* text, "uno\r\ndos\r\ndos\r\nthree\r\n")
        assert.notInclude((yield* bytes).map((b) => String.fromCharCode(b)).join(""), "s\nt")
      }))

    it.scoped("keeps the bytes outside the change: BOM, CRLF, no final newline, other text", () =>
      Effect.gen(function*() {
        const encoder = new TextEncoder()
        const before = encoder.encode("\uFEFFfirst\r\nmiddle é 漢\r\nlast")
        const { bytes, context, tool } = yield* setup(before)
        yield* tool.execute({ path: "file.txt", old_string: "middle", new_string: "centre" }, context)
        assert.deepStrictEqual(yield* bytes, Array.from(encoder.encode("\uFEFFfirst\r\ncentre é 漢\r\nlast")))
      }))

    it.scoped("inserts new_string literally, $& and $1 included", () =>
      Effect.gen(function*() {
        const { context, text, tool } = yield* setup("price\n")
        yield* tool.execute({ path: "file.txt", old_string: "price", new_string: "$& costs $1 $$" }, context)
        assert.strictEqual(yield* text, "$& costs $1 $$\n")
      }))

    it.scoped("snapshots the file's content before changing it", () =>
      Effect.gen(function*() {
        const { context, file, snapshots, tool } = yield* setup("before\n")
        yield* tool.execute({ path: "file.txt", old_string: "before", new_string: "after" }, context)
        assert.deepStrictEqual(yield* snapshots, [{ path: file, content: Option.some("before\n") }])
      }))

    it.scoped("refuses a binary file", () =>
      Effect.gen(function*() {
        const { context, tool } = yield* setup(new Uint8Array([97, 0, 98]))
        const error = yield* Effect.flip(tool.execute({ path: "file.txt", old_string: "a", new_string: "c" }, context))
        assert.strictEqual(error.message, "file.txt is a binary file; edit changes text files only")
      }))

    it.scoped("refuses a file that is not valid UTF-8 rather than corrupt it", () =>
      Effect.gen(function*() {
        const latin1 = new Uint8Array([99, 97, 102, 0xe9, 10])
        const { bytes, context, tool } = yield* setup(latin1)
        const error = yield* Effect.flip(
          tool.execute({ path: "file.txt", old_string: "caf", new_string: "x" }, context)
        )
        assert.match(error.message, /is not valid UTF-8 text/)
        assert.deepStrictEqual(yield* bytes, Array.from(latin1))
      }))

    it.scoped("asks for Edit permission with write access", () =>
      Effect.gen(function*() {
        const { tool } = yield* setup("")
        assert.isFalse(tool.readOnly)
        assert.deepStrictEqual(tool.permission({ path: "a.ts", old_string: "a", new_string: "b" }), {
          _tag: "Path",
          tool: "Edit",
          path: "a.ts",
          access: "write"
        })
      }))
  })
})
