/**
 * Long-term memory end to end, as a user runs it: `weft demo`'s sessions that remember and
 * recall, and `weft memory add|list|search|forget|stats|rebuild` against a temporary WEFT_HOME —
 * the bundled CLI (`pnpm build`'s), which starts in a fraction of the time tsx takes.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { RECALL_QUERY, REMEMBERED } from "../src/DemoCommand.js"
import { runBuilt } from "./support/BuiltCli.js"

/** `weft args…` from the bundle, with `home` as WEFT_HOME, run from a temporary directory. */
const weft = (args: ReadonlyArray<string>, options: { readonly home: string }) =>
  Effect.flatMap(tempDir("weft-memory-cwd-"), (cwd) => runBuilt(args, { home: options.home, cwd }))

const tempDir = (prefix: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix }))

const ok = (run: { readonly code: number; readonly stderr: string }) => assert.strictEqual(run.code, 0, run.stderr)

describe("weft memory", () => {
  it.live(
    "the demo: a session remembers, a later one finds the first one's words through conversation_search",
    () =>
      Effect.gen(function*() {
        const home = yield* tempDir("weft-memory-")
        const demo = yield* weft(["demo"], { home })
        ok(demo)
        assert.include(demo.stdout, "MemoryWritten")
        // The third session's search found the first session's request, by its words.
        const found = demo.stdout.split("\n").find((line) =>
          line.includes("ToolCallCompleted") && line.includes("session ")
        )
        assert.isDefined(found, demo.stdout)
        assert.include(demo.stdout, "both replay exactly")
        const project = /Recorded a demo session in (\S+) /.exec(demo.stdout)![1]!
        const listed = yield* weft(["--cwd", project, "memory", "list"], { home })
        ok(listed)
        assert.include(listed.stdout, REMEMBERED)
        const searched = yield* weft(["--cwd", project, "memory", "search", RECALL_QUERY, "--json"], { home })
        ok(searched)
        const hits = JSON.parse(searched.stdout) as ReadonlyArray<{ readonly snippet: string; readonly role: string }>
        assert.isTrue(hits.some((hit) => hit.snippet.includes("clean up the build folder")), searched.stdout)
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    120_000
  )

  it.live(
    "add, list, search, forget, stats and rebuild: what the log says, the indexes show",
    () =>
      Effect.gen(function*() {
        const home = yield* tempDir("weft-memory-")
        const project = yield* tempDir("weft-memory-project-")
        const path = yield* Path.Path
        const at = (args: ReadonlyArray<string>) => weft(["--cwd", project, "memory", ...args], { home })

        const added = yield* at(["add", "Our staging server is staging.acme.dev", "--json"])
        ok(added)
        const { memoryId } = JSON.parse(added.stdout) as { readonly memoryId: string }
        ok(yield* at(["add", "I prefer tabs over spaces", "--scope", "user", "--ttl", "30"]))

        const listed = JSON.parse((yield* at(["list", "--json"])).stdout) as ReadonlyArray<
          { readonly memoryId: string; readonly scope: string; readonly text: string; readonly expiresAt?: string }
        >
        assert.deepStrictEqual(listed.map((e) => e.text).sort(), [
          "I prefer tabs over spaces",
          "Our staging server is staging.acme.dev"
        ])
        assert.isDefined(listed.find((e) => e.scope === "user")!.expiresAt)

        const searched = JSON.parse((yield* at(["search", "staging server", "--json"])).stdout) as ReadonlyArray<
          { readonly id: string; readonly kind: string }
        >
        assert.strictEqual(searched[0]?.id, memoryId)
        assert.strictEqual(searched[0]?.kind, "memory")

        // The entries are in the log, in the project's memory session.
        const sessions = (yield* weft(["--cwd", project, "sessions", "list", "--json"], { home })).stdout
        assert.include(sessions, "memory-")

        const forgot = yield* at(["forget", memoryId])
        ok(forgot)
        assert.include(forgot.stdout, "Forgot")
        assert.notInclude((yield* at(["list"])).stdout, "staging")
        const after = JSON.parse((yield* at(["search", "staging server", "--json"])).stdout) as ReadonlyArray<
          { readonly id: string }
        >
        assert.isFalse(after.some((hit) => hit.id === memoryId))

        const unknown = yield* at(["forget", "nope"])
        assert.strictEqual(unknown.code, 1)
        assert.include(unknown.stderr, "no memory nope")

        const stats = JSON.parse((yield* at(["stats", "--json"])).stdout) as {
          readonly dir: string
          readonly memories: { readonly live: number }
        }
        assert.strictEqual(stats.memories.live, 1)
        assert.strictEqual(stats.dir, path.join(home, "projections", "memory", "1"))

        ok(yield* at(["rebuild"]))
        assert.include((yield* at(["list"])).stdout, "I prefer tabs over spaces")
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    120_000
  )

  it.live("a bad memory setting is one line naming the key", () =>
    Effect.gen(function*() {
      const home = yield* tempDir("weft-memory-")
      const fs = yield* FileSystem.FileSystem
      yield* fs.writeFileString(
        `${home}/settings.json`,
        JSON.stringify({ memory: { weights: { keyword: 1, vector: 1, k: "x" } } })
      )
      const run = yield* weft(["memory", "list"], { home })
      assert.strictEqual(run.code, 1)
      const lines = run.stderr.split("\n").filter((l) => l.trim() !== "")
      assert.strictEqual(lines.length, 1, run.stderr)
      assert.include(lines[0], "memory.weights.k")
      yield* fs.writeFileString(`${home}/settings.json`, JSON.stringify({ memory: { extraction: "llm" } }))
      const extraction = yield* weft(["memory", "list"], { home })
      assert.strictEqual(extraction.code, 1)
      assert.match(extraction.stderr, /^weft: settings: memory\.extraction: Expected "rules", actual "llm"[^\n]*\n$/)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 60_000)
})
