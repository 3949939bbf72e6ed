import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { ToolError } from "../../src/Tool.js"
import * as Write from "../../src/tools/Write.js"
import { makeContext } from "../utils/toolContext.js"

const setup = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped()
  const { context, snapshots } = yield* makeContext(dir)
  const tool = yield* Write.make
  return { fs, dir, context, snapshots, tool }
})

describe("write", () => {
  it.layer(NodeContext.layer)((it) => {
    it.scoped("creates a file and its missing parent directories, and reports it modified", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        const output = yield* tool.execute({ path: "deep/er/new.txt", content: "hello\nworld\n" }, context)
        assert.strictEqual(yield* fs.readFileString(`${dir}/deep/er/new.txt`), "hello\nworld\n")
        assert.deepStrictEqual(output.filesModified, [`${dir}/deep/er/new.txt`])
        assert.strictEqual(output.content, "Created deep/er/new.txt (2 lines).")
      }))

    it.scoped("replaces an existing file's whole content", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        yield* fs.writeFileString(`${dir}/a.txt`, "old old old")
        const output = yield* tool.execute({ path: `${dir}/a.txt`, content: "new" }, context)
        assert.strictEqual(yield* fs.readFileString(`${dir}/a.txt`), "new")
        assert.strictEqual(output.content, "Replaced a.txt (1 line).")
      }))

    it.scoped("snapshots the previous content before it writes", () =>
      Effect.gen(function*() {
        const { context, dir, fs, snapshots, tool } = yield* setup
        yield* fs.writeFileString(`${dir}/a.txt`, "before")
        yield* tool.execute({ path: "a.txt", content: "after" }, context)
        assert.deepStrictEqual(yield* snapshots, [{ path: `${dir}/a.txt`, content: Option.some("before") }])
      }))

    it.scoped("snapshots the absence of a file it creates", () =>
      Effect.gen(function*() {
        const { context, dir, snapshots, tool } = yield* setup
        yield* tool.execute({ path: "fresh.txt", content: "x" }, context)
        assert.deepStrictEqual(yield* snapshots, [{ path: `${dir}/fresh.txt`, content: Option.none() }])
      }))

    it.scoped("refuses to write over a directory, without snapshotting", () =>
      Effect.gen(function*() {
        const { context, dir, fs, snapshots, tool } = yield* setup
        yield* fs.makeDirectory(`${dir}/src`)
        const error = yield* Effect.flip(tool.execute({ path: "src", content: "x" }, context))
        assert.strictEqual(error.message, "src is a directory; give the path of a file")
        assert.deepStrictEqual(yield* snapshots, [])
      }))

    it.scoped("a failing snapshot stops the write", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup
        yield* fs.writeFileString(`${dir}/a.txt`, "keep me")
        const failing = {
          ...context,
          snapshot: () => Effect.fail(new ToolError({ tool: "write", message: "snapshot store unavailable" }))
        }
        const result = yield* Effect.flip(tool.execute({ path: "a.txt", content: "lost" }, failing))
        assert.strictEqual(result.message, "snapshot store unavailable")
        assert.strictEqual(yield* fs.readFileString(`${dir}/a.txt`), "keep me")
      }))

    it.scoped("asks for Edit permission with write access, and is not read-only", () =>
      Effect.gen(function*() {
        const { tool } = yield* setup
        assert.isFalse(tool.readOnly)
        assert.deepStrictEqual(tool.permission({ path: "a.txt", content: "" }), {
          _tag: "Path",
          tool: "Edit",
          path: "a.txt",
          access: "write"
        })
      }))
  })
})
