import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import type { Envelope } from "@weft/kernel/Envelope"
import { ToolCallCompleted, UserMessageReceived } from "@weft/kernel/Events"
import * as Projection from "@weft/kernel/Projection"
import { Effect, Exit, Logger } from "effect"
import * as os from "node:os"
import * as ProjectionModule from "../src/ProjectionModule.js"

const envelope = (seq: number, event: Envelope["event"]): Envelope => ({
  seq,
  id: `e${seq}`,
  parentId: null,
  sessionId: "s1",
  agentId: "main",
  at: `2026-05-0${seq}T10:00:00.000Z`,
  event
})

const log: ReadonlyArray<Envelope> = [
  envelope(1, new UserMessageReceived({ content: [{ type: "text", text: "hi" }] })),
  envelope(2, new ToolCallCompleted({ toolUseId: "a", tool: "bash", content: "ok", isError: false, durationMs: 5 })),
  envelope(3, new ToolCallCompleted({ toolUseId: "b", tool: "read", content: "ok", isError: false, durationMs: 5 }))
]

/** Writes `files` into a new temporary directory; its path. */
const writeFiles = (files: Record<string, string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "weft-module-" })
    for (const [name, text] of Object.entries(files)) yield* fs.writeFileString(`${dir}/${name}`, text)
    return dir
  })

const loadError = (file: string) =>
  ProjectionModule.load(file).pipe(
    Effect.flip,
    Effect.map((error) => error.message)
  )

const TYPED = `import type { Projection } from "@weft/kernel/Projection"
import type { Envelope } from "@weft/kernel/Envelope"

interface Counts { readonly [tool: string]: number }

const count = (counts: Counts, { event }: Envelope): Counts =>
  event._tag === "ToolCallCompleted" ? { ...counts, [event.tool]: (counts[event.tool] ?? 0) + 1 } : counts

enum Unused { A }

export const projection: Projection<Counts> = {
  name: "per-tool",
  version: 2,
  handles: ["ToolCallCompleted"],
  initial: {},
  evolve: count,
  render: (counts) => Object.entries(counts).map(([tool, n]) => \`\${tool} \${n}\`)
}
`

describe("ProjectionModule.load", () => {
  it.scoped("a .ts file with types, an enum and a named export loads without a build step and folds", () =>
    Effect.gen(function*() {
      const dir = yield* writeFiles({ "per-tool.ts": TYPED })
      const projection = yield* ProjectionModule.load(`${dir}/per-tool.ts`)
      assert.deepStrictEqual([projection.name, projection.version, projection.handles], [
        "per-tool",
        2,
        ["ToolCallCompleted"]
      ])
      const state = Projection.fold(projection, log)
      assert.deepStrictEqual(state, { bash: 1, read: 1 })
      assert.deepStrictEqual(projection.render!(state), ["bash 1", "read 1"])
      // Nothing is left behind in the temporary directory.
      const fs = yield* FileSystem.FileSystem
      const left = (yield* fs.readDirectory(os.tmpdir())).filter((name) => name.startsWith("weft-projection-"))
      for (const name of left) {
        assert.notInclude(yield* fs.readDirectory(`${os.tmpdir()}/${name}`), "per-tool.mjs")
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a .js module loads where it is, its relative imports resolved from there; so does a .cjs one", () =>
    Effect.gen(function*() {
      const dir = yield* writeFiles({
        "package.json": `{ "type": "module" }`,
        "days.js": `export const day = (at) => at.slice(0, 10)\n`,
        "bash.js": `import { day } from "./days.js"
export default {
  name: "bash-days",
  version: 1,
  handles: ["ToolCallCompleted"],
  initial: [],
  evolve: (days, { at, event }) => (event.tool === "bash" ? [...days, day(at)] : days)
}
`,
        "count.cjs":
          `module.exports = { name: "count", version: 1, handles: ["UserMessageReceived"], initial: 0, evolve: (n) => n + 1 }\n`
      })
      const bash = yield* ProjectionModule.load(`${dir}/bash.js`)
      assert.deepStrictEqual(Projection.fold(bash, log), ["2026-05-02"])
      const count = yield* ProjectionModule.load(`${dir}/count.cjs`)
      assert.strictEqual(Projection.fold(count, log), 1)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a relative path is taken from the process's directory", () =>
    Effect.gen(function*() {
      const dir = yield* writeFiles({
        "p.mts":
          `export default { name: "p", version: 1, handles: ["UserMessageReceived"], initial: 0, evolve: (n: number) => n + 1 }\n`
      })
      const relative = (yield* Path.Path).relative(process.cwd(), `${dir}/p.mts`)
      assert.strictEqual((yield* ProjectionModule.load(relative)).name, "p")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("errors are one line naming the file: missing, wrong extension, no projection exported, a bad shape", () =>
    Effect.gen(function*() {
      const dir = yield* writeFiles({
        "none.ts": `export const other = 1\n`,
        "shape.ts": `export default { name: "x", version: 1, handles: "ToolCallCompleted", initial: 0 }\n`,
        "name.js":
          `export default { name: "a b", version: 1, handles: ["ToolCallCompleted"], initial: 0, evolve: (s) => s }\n`,
        "fn.mjs": `export default () => 1\n`,
        "notes.txt": "hi"
      })
      assert.strictEqual(yield* loadError(`${dir}/missing.ts`), `${dir}/missing.ts: no such file`)
      assert.strictEqual(
        yield* loadError(`${dir}/notes.txt`),
        `${dir}/notes.txt: a projection file is .ts, .mts, .js, .mjs or .cjs`
      )
      assert.match(yield* loadError(`${dir}/none.ts`), new RegExp(`^${dir}/none\\.ts: exports no projection: `))
      assert.strictEqual(
        yield* loadError(`${dir}/shape.ts`),
        `${dir}/shape.ts: its projection needs handles (an array of event tags), evolve (a function (state, envelope) => state)`
      )
      assert.strictEqual(
        yield* loadError(`${dir}/name.js`),
        `${dir}/name.js: projection name "a b": use letters, digits, - and _`
      )
      assert.match(yield* loadError(`${dir}/fn.mjs`), /fn\.mjs: its projection is a function, not an object/)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a syntax error, or an exception while the module loads, is told with file:line", () =>
    Effect.gen(function*() {
      const dir = yield* writeFiles({
        "syntax.ts": `const a: number = 1\n\nexport default {\n  name: "x",,\n}\n`,
        "syntax.mjs": `export default {\n  name: "x"\n  version: 1\n}\n`,
        "throws.ts": `const a: string = "x"\n\nthrow new Error("boom at load")\nexport default {}\n`,
        "imports.ts":
          `import { Schema } from "effect"\nexport default { name: "x", version: 1, handles: ["TurnCompleted"], initial: Schema.String, evolve: (s: unknown) => s }\n`
      })
      assert.strictEqual(yield* loadError(`${dir}/syntax.ts`), `${dir}/syntax.ts:4: SyntaxError: Unexpected token ','`)
      assert.match(yield* loadError(`${dir}/syntax.mjs`), new RegExp(`^${dir}/syntax\\.mjs:3: SyntaxError: `))
      assert.strictEqual(yield* loadError(`${dir}/throws.ts`), `${dir}/throws.ts:3: threw while loading: boom at load`)
      const imports = yield* loadError(`${dir}/imports.ts`)
      assert.include(imports, `${dir}/imports.ts: Cannot find package 'effect'`)
      assert.include(imports, "import weft's and other packages' types only (`import type`)")
      for (const message of [imports]) assert.notInclude(message, "\n")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a handled tag that no event has is warned about (a typo folds nothing), and still loads", () =>
    Effect.gen(function*() {
      const dir = yield* writeFiles({
        "typo.ts":
          `export default { name: "t", version: 1, handles: ["ToolCallComplete"], initial: 0, evolve: (n: number) => n + 1 }\n`
      })
      const warnings: Array<string> = []
      const logger = Logger.make(({ message }) => warnings.push(String(message)))
      const exit = yield* ProjectionModule.load(`${dir}/typo.ts`).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Effect.exit
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], `handles "ToolCallComplete", which no event of this weft has`)
    }).pipe(Effect.provide(NodeContext.layer)))

  it("isPath tells a file from a built-in's name", () => {
    assert.deepStrictEqual(
      ["tools", "./x.ts", "x.ts", "dir/x", "count-bash.mjs", "my_projection"].map(ProjectionModule.isPath),
      [false, true, true, true, true, false]
    )
  })
})
