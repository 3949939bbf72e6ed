import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Glob from "../../src/tools/Glob.js"
import { makeContext, writeTree } from "../utils/toolContext.js"

const setup = (files: Record<string, string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped()
    yield* writeTree(dir, files)
    const { context } = yield* makeContext(dir)
    const tool = yield* Glob.make
    /** The listed paths, sorted, notes left out. */
    const paths = (input: Glob.Input) =>
      Effect.map(
        tool.execute(input, context),
        (output) => (output.content as string).split("\n\n")[0].split("\n").sort()
      )
    return { fs, dir, context, tool, paths }
  })

describe("glob", () => {
  it.layer(NodeContext.layer)((it) => {
    it.scoped("** crosses directories, * does not", () =>
      Effect.gen(function*() {
        const { paths } = yield* setup({ "a.ts": "", "src/b.ts": "", "src/deep/c.ts": "", "src/d.js": "" })
        assert.deepStrictEqual(yield* paths({ pattern: "**/*.ts" }), ["a.ts", "src/b.ts", "src/deep/c.ts"])
        assert.deepStrictEqual(yield* paths({ pattern: "*.ts" }), ["a.ts"])
        assert.deepStrictEqual(yield* paths({ pattern: "src/**/*.{ts,js}" }), ["src/b.ts", "src/d.js", "src/deep/c.ts"])
      }))

    it.scoped("matches relative to path, and lists paths relative to the project root", () =>
      Effect.gen(function*() {
        const { paths } = yield* setup({ "src/b.ts": "", "src/deep/c.ts": "", "other/e.ts": "" })
        assert.deepStrictEqual(yield* paths({ pattern: "*.ts", path: "src" }), ["src/b.ts"])
        assert.deepStrictEqual(yield* paths({ pattern: "**/*.ts", path: "src" }), ["src/b.ts", "src/deep/c.ts"])
      }))

    it.scoped("lists the most recently modified files first", () =>
      Effect.gen(function*() {
        const { context, dir, fs, tool } = yield* setup({ "old.ts": "", "mid.ts": "", "new.ts": "" })
        yield* fs.utimes(`${dir}/old.ts`, 1_000, 1_000)
        yield* fs.utimes(`${dir}/mid.ts`, 2_000, 2_000)
        yield* fs.utimes(`${dir}/new.ts`, 3_000, 3_000)
        const output = yield* tool.execute({ pattern: "*.ts" }, context)
        assert.strictEqual(output.content, "new.ts\nmid.ts\nold.ts")
      }))

    it.scoped("skips what .gitignore ignores, nested .gitignore files and negations included", () =>
      Effect.gen(function*() {
        const { paths } = yield* setup({
          ".gitignore": "*.log\nbuild/\n!keep.log\n",
          "a.log": "",
          "keep.log": "",
          "build/out.log": "",
          "build/out.txt": "",
          "pkg/.gitignore": "generated.txt\n!a.log\n",
          "pkg/generated.txt": "",
          "pkg/a.log": "",
          "pkg/b.log": "",
          "pkg/source.txt": "",
          "generated.txt": ""
        })
        assert.deepStrictEqual(yield* paths({ pattern: "**/*" }), [
          ".gitignore",
          "generated.txt",
          "keep.log",
          "pkg/.gitignore",
          "pkg/a.log",
          "pkg/source.txt"
        ])
      }))

    it.scoped("applies the project's .gitignore when searching a subdirectory", () =>
      Effect.gen(function*() {
        const { paths } = yield* setup({ ".gitignore": "*.gen.ts\n", "src/a.ts": "", "src/a.gen.ts": "" })
        assert.deepStrictEqual(yield* paths({ pattern: "**/*.ts", path: "src" }), ["src/a.ts"])
      }))

    it.scoped("applies .gitignore files above the project up to its git repository's root, and none above that", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const outer = yield* fs.makeTempDirectoryScoped()
        yield* writeTree(outer, {
          ".gitignore": "*.txt\n",
          "repo/.git/HEAD": "",
          "repo/.gitignore": "*.gen.ts\n",
          "repo/pkg/a.ts": "",
          "repo/pkg/a.gen.ts": "",
          "repo/pkg/notes.txt": ""
        })
        const { context } = yield* makeContext(`${outer}/repo/pkg`)
        const tool = yield* Glob.make
        const output = yield* tool.execute({ pattern: "*" }, context)
        assert.deepStrictEqual((output.content as string).split("\n").sort(), ["a.ts", "notes.txt"])
      }))

    it.scoped("outside a git repository, .gitignore files above the project root do not apply", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const outer = yield* fs.makeTempDirectoryScoped()
        yield* writeTree(outer, { ".gitignore": "*.gen.ts\n", "pkg/a.ts": "", "pkg/a.gen.ts": "" })
        const { context } = yield* makeContext(`${outer}/pkg`)
        const tool = yield* Glob.make
        const output = yield* tool.execute({ pattern: "*" }, context)
        assert.deepStrictEqual((output.content as string).split("\n").sort(), ["a.gen.ts", "a.ts"])
      }))

    it.scoped("never enters .git or node_modules", () =>
      Effect.gen(function*() {
        const { paths } = yield* setup({
          ".git/HEAD": "",
          ".git/config.ts": "",
          "node_modules/lib/index.ts": "",
          "pkg/node_modules/x.ts": "",
          "index.ts": ""
        })
        assert.deepStrictEqual(yield* paths({ pattern: "**/*" }), ["index.ts"])
      }))

    it.scoped("lists at most 100 files and says how many matched", () =>
      Effect.gen(function*() {
        const files = Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`f${i}.txt`, ""]))
        const { context, tool } = yield* setup(files)
        const content = (yield* tool.execute({ pattern: "*.txt" }, context)).content as string
        const [list, note] = content.split("\n\n")
        assert.strictEqual(list.split("\n").length, 100)
        assert.strictEqual(
          note,
          "[130 files match; the 100 most recently modified are listed. Narrow the pattern or path to see the others.]"
        )
      }))

    it.scoped("says so when nothing matches", () =>
      Effect.gen(function*() {
        const { context, tool } = yield* setup({ "src/a.ts": "" })
        const output = yield* tool.execute({ pattern: "**/*.rs" }, context)
        assert.strictEqual(output.content, "No files match **/*.rs.")
        const under = yield* tool.execute({ pattern: "**/*.rs", path: "src" }, context)
        assert.strictEqual(under.content, "No files match **/*.rs in src.")
      }))

    it.scoped("fails clearly for a missing directory and for a file given as path", () =>
      Effect.gen(function*() {
        const { context, tool } = yield* setup({ "a.ts": "" })
        const missing = yield* Effect.flip(tool.execute({ pattern: "*", path: "nope" }, context))
        assert.match(missing.message, /^no such file or directory: .*nope$/)
        const file = yield* Effect.flip(tool.execute({ pattern: "*", path: "a.ts" }, context))
        assert.strictEqual(file.message, "a.ts is not a directory; path must be a directory to search in")
      }))

    it.scoped("asks for Read permission on path, or the project root", () =>
      Effect.gen(function*() {
        const { tool } = yield* setup({})
        assert.isTrue(tool.readOnly)
        assert.deepStrictEqual(tool.permission({ pattern: "*" }), {
          _tag: "Path",
          tool: "Read",
          path: ".",
          access: "read"
        })
        assert.deepStrictEqual(tool.permission({ pattern: "*", path: "src" }), {
          _tag: "Path",
          tool: "Read",
          path: "src",
          access: "read"
        })
      }))
  })
})
