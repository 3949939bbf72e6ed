import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Console, Effect } from "effect"
import * as Grep from "../../src/tools/Grep.js"
import { makeContext, writeTree } from "../utils/toolContext.js"

const setup = (files: Record<string, string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped()
    yield* writeTree(dir, files)
    const { context } = yield* makeContext(dir)
    const tool = yield* Grep.make
    const run = (input: Grep.Input) => Effect.map(tool.execute(input, context), (output) => output.content as string)
    /** files_with_matches, sorted, notes left out. */
    const files_ = (input: Omit<Grep.Input, "output_mode">) =>
      Effect.map(run(input), (content) => content.split("\n\n")[0].split("\n").sort())
    return { fs, dir, context, tool, run, files: files_ }
  })

describe("grep", () => {
  it.layer(NodeContext.layer)((it) => {
    it.scoped("lists the files with a match by default, most recently modified first", () =>
      Effect.gen(function*() {
        const { dir, fs, run } = yield* setup({ "a.ts": "needle\n", "b.ts": "hay\n", "sub/c.ts": "x needle y\n" })
        yield* fs.utimes(`${dir}/a.ts`, 1_000, 1_000)
        yield* fs.utimes(`${dir}/sub/c.ts`, 2_000, 2_000)
        assert.strictEqual(yield* run({ pattern: "needle" }), "sub/c.ts\na.ts")
      }))

    it.scoped("content mode prints path:line:text, and path:text without -n", () =>
      Effect.gen(function*() {
        const { run } = yield* setup({ "a.txt": "one\ntwo needle\nthree\nneedle four\r\n", "b.txt": "needle\n" })
        assert.strictEqual(
          yield* run({ pattern: "needle", output_mode: "content" }),
          "a.txt:2:two needle\na.txt:4:needle four\nb.txt:1:needle"
        )
        assert.strictEqual(
          yield* run({ pattern: "needle", output_mode: "content", "-n": false }),
          "a.txt:two needle\na.txt:needle four\nb.txt:needle"
        )
      }))

    it.scoped("context shows lines around matches as path-line-text, with -- between groups", () =>
      Effect.gen(function*() {
        const text = ["l1", "l2 hit", "l3", "l4", "l5", "l6", "l7 hit", "l8 hit", "l9"].join("\n")
        const { run } = yield* setup({ "a.txt": text, "b.txt": "hit\n" })
        assert.strictEqual(
          yield* run({ pattern: "hit", output_mode: "content", context: 1 }),
          [
            "a.txt-1-l1",
            "a.txt:2:l2 hit",
            "a.txt-3-l3",
            "--",
            "a.txt-6-l6",
            "a.txt:7:l7 hit",
            "a.txt:8:l8 hit",
            "a.txt-9-l9",
            "--",
            "b.txt:1:hit"
          ].join("\n")
        )
      }))

    it.scoped("count mode prints path:count of matching lines, in path order", () =>
      Effect.gen(function*() {
        const { run } = yield* setup({ "b.txt": "x\nx x\ny\n", "a.txt": "x\n", "c.txt": "y\n" })
        assert.strictEqual(yield* run({ pattern: "x", output_mode: "count" }), "a.txt:1\nb.txt:2")
      }))

    it.scoped("-i makes the match case-insensitive; the pattern is a JavaScript regex", () =>
      Effect.gen(function*() {
        const { files } = yield* setup({
          "a.txt": "Hello World\n",
          "b.txt": "hello world\n",
          "c.txt": "function  foo()\n"
        })
        assert.deepStrictEqual(yield* files({ pattern: "Hello" }), ["a.txt"])
        assert.deepStrictEqual(yield* files({ pattern: "Hello", "-i": true }), ["a.txt", "b.txt"])
        assert.deepStrictEqual(yield* files({ pattern: "^function\\s+\\w+\\(\\)$" }), ["c.txt"])
      }))

    it.scoped("glob filters by file name anywhere without a slash, by path with one", () =>
      Effect.gen(function*() {
        const { files } = yield* setup({
          "a.ts": "hit",
          "a.js": "hit",
          "src/b.ts": "hit",
          "src/deep/c.tsx": "hit",
          "lib/d.ts": "hit"
        })
        assert.deepStrictEqual(yield* files({ pattern: "hit", glob: "*.ts" }), ["a.ts", "lib/d.ts", "src/b.ts"])
        assert.deepStrictEqual(yield* files({ pattern: "hit", glob: "src/**/*.{ts,tsx}" }), [
          "src/b.ts",
          "src/deep/c.tsx"
        ])
      }))

    it.scoped("skips what .gitignore ignores, nested .gitignore files and negations included", () =>
      Effect.gen(function*() {
        const { files } = yield* setup({
          ".gitignore": "dist/\n*.log\n",
          "dist/out.js": "hit",
          "app.log": "hit",
          "src/main.ts": "hit",
          "src/.gitignore": "fixtures/\n!keep.log\n",
          "src/fixtures/f.ts": "hit",
          "src/keep.log": "hit",
          "src/other.log": "hit",
          "node_modules/m/index.js": "hit",
          ".git/objects/x": "hit"
        })
        assert.deepStrictEqual(yield* files({ pattern: "hit" }), ["src/keep.log", "src/main.ts"])
      }))

    it.scoped("applies the project's .gitignore when path is a subdirectory", () =>
      Effect.gen(function*() {
        const { files } = yield* setup({ ".gitignore": "*.gen.ts\n", "src/a.ts": "hit", "src/a.gen.ts": "hit" })
        assert.deepStrictEqual(yield* files({ pattern: "hit", path: "src" }), ["src/a.ts"])
      }))

    it.scoped("searches a directory asked for by name even if .gitignore ignores it", () =>
      Effect.gen(function*() {
        const { files } = yield* setup({ ".gitignore": "build/\n", "build/out.js": "hit", "src/a.ts": "hit" })
        assert.deepStrictEqual(yield* files({ pattern: "hit" }), ["src/a.ts"])
        assert.deepStrictEqual(yield* files({ pattern: "hit", path: "build" }), ["build/out.js"])
      }))

    it.scoped("searches a single file given as path", () =>
      Effect.gen(function*() {
        const { run } = yield* setup({ "a.txt": "x\nhit\n", "b.txt": "hit\n" })
        assert.strictEqual(yield* run({ pattern: "hit", path: "a.txt", output_mode: "content" }), "a.txt:2:hit")
      }))

    it.scoped("skips binary files", () =>
      Effect.gen(function*() {
        const { dir, fs, files } = yield* setup({ "text.txt": "hit\n" })
        yield* fs.writeFile(`${dir}/blob.bin`, new Uint8Array([104, 105, 116, 0, 10]))
        assert.deepStrictEqual(yield* files({ pattern: "hit" }), ["text.txt"])
      }))

    it.scoped("head_limit keeps the first lines and says it cut", () =>
      Effect.gen(function*() {
        const { run } = yield* setup({ "a.txt": "hit 1\nhit 2\nhit 3\nhit 4\n" })
        assert.strictEqual(
          yield* run({ pattern: "hit", output_mode: "content", head_limit: 2 }),
          "a.txt:1:hit 1\na.txt:2:hit 2\n\n[Output cut at 2 lines; narrow the pattern, path or glob, or raise head_limit.]"
        )
      }))

    it.scoped("says so when nothing matches", () =>
      Effect.gen(function*() {
        const { run } = yield* setup({ "a.txt": "hay\n" })
        assert.strictEqual(yield* run({ pattern: "needle" }), "No matches for needle.")
      }))

    it.scoped("an invalid regular expression is a ToolError, not a crash", () =>
      Effect.gen(function*() {
        const { context, tool } = yield* setup({ "a.txt": "x" })
        const error = yield* Effect.flip(tool.execute({ pattern: "foo(" }, context))
        assert.match(error.message, /^invalid regular expression: .*foo\(/)
      }))

    it.scoped("a missing path is a ToolError", () =>
      Effect.gen(function*() {
        const { context, tool } = yield* setup({})
        const error = yield* Effect.flip(tool.execute({ pattern: "x", path: "nope" }, context))
        assert.match(error.message, /^no such file or directory: .*nope$/)
      }))

    it.scoped("asks for Read permission on path, or the project root", () =>
      Effect.gen(function*() {
        const { tool } = yield* setup({})
        assert.isTrue(tool.readOnly)
        assert.deepStrictEqual(tool.permission({ pattern: "x" }), {
          _tag: "Path",
          tool: "Read",
          path: ".",
          access: "read"
        })
      }))

    it.scoped("finds every match in a tree of 10,000 files", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped()
        const dirs = 100
        const perDir = 100
        yield* Effect.forEach(Array.from({ length: dirs }, (_, d) => d), (d) =>
          fs.makeDirectory(`${dir}/pkg${d}/src`, { recursive: true }).pipe(
            Effect.zipRight(Effect.forEach(
              Array.from({ length: perDir }, (_, f) =>
                f),
              (f) => {
                const needle = (d * perDir + f) % 97 === 0 ? `  const needle = ${d}_${f}\n` : ""
                const text = `// file ${d}/${f}\nexport const value${f} = ${f}\n${needle}${"filler line\n".repeat(20)}`
                return fs.writeFileString(`${dir}/pkg${d}/src/file${f}.ts`, text)
              },
              { concurrency: 20, discard: true }
            ))
          ), { concurrency: 8, discard: true })
        const { context } = yield* makeContext(dir)
        const tool = yield* Grep.make
        const expected = Array.from({ length: dirs * perDir }, (_, i) =>
          i)
          .filter((i) =>
            i % 97 === 0
          )
          .map((i) => `pkg${Math.floor(i / perDir)}/src/file${i % perDir}.ts:1`)
          .sort()

        const started = performance.now()
        const output = yield* tool.execute(
          { pattern: "needle = \\d+_\\d+", output_mode: "count", head_limit: 1000 },
          context
        )
        const elapsed = performance.now() - started
        yield* Console.log(`grep over ${dirs * perDir} files: ${elapsed.toFixed(0)} ms`)

        assert.strictEqual(expected.length, 104)
        assert.deepStrictEqual((output.content as string).split("\n"), expected)
      }), { timeout: 120_000 })
  })
})
