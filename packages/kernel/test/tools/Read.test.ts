import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Read from "../../src/tools/Read.js"
import { makeContext } from "../utils/toolContext.js"

const setup = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped()
  const { context } = yield* makeContext(dir)
  const tool = yield* Read.make
  return { fs, dir, context, tool }
})

const lines = (count: number) => Array.from({ length: count }, (_, i) => `line ${i + 1}`).join("\n") + "\n"

describe("read", () => {
  it.layer(NodeContext.layer)((it) => {
    it.scoped("numbers lines as cat -n does, resolving a relative path against cwd", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        yield* fs.writeFileString(`${dir}/a.txt`, "alpha\n\tbeta\n")
        const output = yield* tool.execute({ path: "a.txt" }, context)
        assert.strictEqual(output.content, "     1\talpha\n     2\t\tbeta")
        assert.isUndefined(output.filesModified)
      }))

    it.scoped("shows a last line without a final newline, and hides the CR of CRLF endings", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        yield* fs.writeFileString(`${dir}/crlf.txt`, "one\r\ntwo\r\nthree")
        const output = yield* tool.execute({ path: `${dir}/crlf.txt` }, context)
        assert.strictEqual(output.content, "     1\tone\n     2\ttwo\n     3\tthree")
      }))

    it.scoped("offset is a 1-based line number and limit counts lines; a note says how to go on", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        yield* fs.writeFileString(`${dir}/ten.txt`, lines(10))
        const output = yield* tool.execute({ path: "ten.txt", offset: 3, limit: 2 }, context)
        assert.strictEqual(
          output.content,
          "     3\tline 3\n     4\tline 4\n\n[Lines 3-4 shown; the file goes on: read with offset 5 to continue.]"
        )
        const end = yield* tool.execute({ path: "ten.txt", offset: 9 }, context)
        assert.strictEqual(end.content, "     9\tline 9\n    10\tline 10\n\n[Lines 9-10 of 10 shown.]")
      }))

    it.scoped("reads at most 2000 lines by default", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        yield* fs.writeFileString(`${dir}/long.txt`, lines(2500))
        const content = (yield* tool.execute({ path: "long.txt" }, context)).content as string
        const shown = content.split("\n").filter((line) => /^\s+\d+\t/.test(line))
        assert.strictEqual(shown.length, 2000)
        assert.strictEqual(shown[1999], "  2000\tline 2000")
        assert.include(content, "read with offset 2001 to continue")
      }))

    it.scoped("cuts lines longer than 2000 characters", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        yield* fs.writeFileString(`${dir}/wide.txt`, "x".repeat(5000) + "\nshort\n")
        const content = (yield* tool.execute({ path: "wide.txt" }, context)).content as string
        const [first, second] = content.split("\n")
        assert.strictEqual(first, `     1\t${"x".repeat(2000)}… [line truncated to 2000 characters]`)
        assert.strictEqual(second, "     2\tshort")
      }))

    it.scoped("fails clearly for a missing file", () =>
      Effect.gen(function*() {
        const { context, tool } = yield* setup
        const error = yield* Effect.flip(tool.execute({ path: "nope.txt" }, context))
        assert.strictEqual(error._tag, "ToolError")
        assert.match(error.message, /^no such file or directory: .*nope\.txt$/)
      }))

    it.scoped("fails clearly for a directory, pointing at glob", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        yield* fs.makeDirectory(`${dir}/src`)
        const error = yield* Effect.flip(tool.execute({ path: "src" }, context))
        assert.strictEqual(error.message, "src is a directory, not a file; use glob to list the files in it")
      }))

    it.scoped("fails when offset is past the end, saying how many lines there are", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        yield* fs.writeFileString(`${dir}/three.txt`, lines(3))
        const error = yield* Effect.flip(tool.execute({ path: "three.txt", offset: 7 }, context))
        assert.strictEqual(error.message, "three.txt has 3 lines; offset 7 is past its end")
      }))

    it.scoped("reports a binary file instead of dumping it", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        yield* fs.writeFile(`${dir}/blob.bin`, new Uint8Array([1, 2, 0, 3, 255, 10, 65]))
        const output = yield* tool.execute({ path: "blob.bin" }, context)
        assert.strictEqual(output.content, "blob.bin is a binary file (7 bytes); it is not shown.")
      }))

    it.scoped("says an empty file is empty", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        yield* fs.writeFileString(`${dir}/empty.txt`, "")
        const output = yield* tool.execute({ path: "empty.txt" }, context)
        assert.strictEqual(output.content, "The file empty.txt is empty.")
      }))

    it.scoped("returns a PNG as an image block, base64-encoded", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0])
        yield* fs.writeFile(`${dir}/pixel.png`, png)
        const output = yield* tool.execute({ path: "pixel.png" }, context)
        assert.deepStrictEqual(output.content, [{
          type: "image",
          source: { type: "base64", media_type: "image/png", data: Buffer.from(png).toString("base64") }
        }])
      }))

    it.scoped("asks for read permission on the path as given, and is read-only", () =>
      Effect.gen(function*() {
        const { tool } = yield* setup
        assert.isTrue(tool.readOnly)
        assert.deepStrictEqual(tool.permission({ path: "src/a.ts" }), {
          _tag: "Path",
          tool: "Read",
          path: "src/a.ts",
          access: "read"
        })
      }))
  })
})
