import { type Run, weft } from "./support/SourceCli.js"
/**
 * `weft project` end to end: each test runs `bin.ts` in a child process over a WEFT_HOME holding
 * a `weft demo` session — the built-ins, the README's own projection file (taken from README.md,
 * so the README cannot drift from what runs), checkpoints and `--rebuild`, `--follow`, and the
 * one-line errors. The bundled CLI loads a TypeScript projection too.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Layer, Schedule } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { progressLine } from "../src/ProjectCommand.js"
import { cleanEnv, runBuilt } from "./support/BuiltCli.js"

const repo = fileURLToPath(new URL("../../..", import.meta.url))
const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

const assertOk = (run: Run) => {
  assert.strictEqual(run.code, 0, `exit code; stderr: ${run.stderr}`)
  assert.strictEqual(run.stderr, "", "nothing on stderr (no progress bar when it is not a terminal)")
}

/** A failure as users must see it: one line on stderr, nothing that looks like a stack trace. */
const assertOneLineError = (run: Run, includes: string) => {
  assert.strictEqual(run.code, 1, `exit code; stderr: ${run.stderr}`)
  const lines = run.stderr.split("\n").filter((l) => l.trim() !== "")
  assert.strictEqual(lines.length, 1, `one line on stderr, got:\n${run.stderr}`)
  assert.include(lines[0], includes)
  assert.notMatch(run.stderr, /\n\s+at |Error: \{|FiberFailure/)
}

/** The README's projection file: the first TypeScript block of its "## Projections" section. */
const readmeProjection = (): string => {
  const readme = fs.readFileSync(nodePath.join(repo, "README.md"), "utf8")
  const start = readme.indexOf("\n## Projections\n")
  assert.isAbove(start, 0, "README.md has a ## Projections section")
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1))
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
  assert.isDefined(code, "the Projections section holds a ```ts block")
  assert.include(section, "pnpm weft project ./count-bash.ts --all", "and says how to run it")
  return code!
}

interface Demo {
  readonly home: string
  readonly project: string
  readonly sessionId: string
  /** The day (UTC) the demo ran. */
  readonly day: string
  /** A directory holding the README's count-bash.ts. */
  readonly scripts: string
}

class DemoHome extends Context.Tag("test/ProjectDemoHome")<DemoHome, Demo>() {}

const demoHome = Layer.scoped(
  DemoHome,
  Effect.gen(function*() {
    const fileSystem = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const home = yield* fileSystem.makeTempDirectoryScoped({ prefix: "weft-project-" })
    const scripts = yield* fileSystem.makeTempDirectoryScoped({ prefix: "weft-project-scripts-" })
    yield* fileSystem.writeFileString(path.join(scripts, "count-bash.ts"), readmeProjection())
    const run = yield* weft(["demo"], { home })
    const project = /Recorded a demo session in (.+) \(it holds hello\.txt\)/.exec(run.stdout)?.[1]
    assert.isDefined(project, `demo output:\n${run.stdout}\n${run.stderr}`)
    yield* Effect.addFinalizer(() => fileSystem.remove(project!, { recursive: true }).pipe(Effect.ignore))
    const folder = path.join(home, "projects", project!.replace(/[^a-zA-Z0-9]/g, "-"))
    // The demo's first session (the typo fix; the two after it remember and recall): ids are time-ordered.
    const file = (yield* fileSystem.readDirectory(folder)).filter((f) => f.endsWith(".jsonl")).sort()[0]!
    const first = JSON.parse((yield* fileSystem.readFileString(path.join(folder, file))).split("\n")[0]!)
    return { home, project: project!, sessionId: file.slice(0, -6), day: first.at.slice(0, 10), scripts }
  })
).pipe(Layer.provide(NodeContext.layer))

layer(Layer.merge(demoHome, NodeContext.layer), { excludeTestServices: true })("weft project", (it) => {
  it.effect("tools --all: a row per tool the demo used, and the rm its deny rule refused", () =>
    Effect.gen(function*() {
      const { home } = yield* DemoHome
      const run = yield* weft(["project", "tools", "--all"], { home })
      assertOk(run)
      const lines = run.stdout.trimEnd().split("\n")
      assert.match(lines[0]!, /^TOOL +CALLS +ERRORS +INTERRUPTED +TOTAL +MEAN +MAX$/)
      for (const tool of ["bash", "edit", "grep", "read", "task", "memory", "conversation_search"]) {
        assert.match(lines.find((l) => l.startsWith(`${tool} `))!, new RegExp(`^${tool} +1 +0 +0 `))
      }
      assert.match(run.stdout, /^7 calls in 3 sessions, 0 failed, /m)
      assert.strictEqual(lines.at(-1), "Refused by a permission (never ran): Bash 1")
    }))

  it.effect("tree --session <prefix> --json: the session's agents, as the codec encodes them", () =>
    Effect.gen(function*() {
      const { home, sessionId } = yield* DemoHome
      // The demo's sessions start within a few milliseconds: 20 characters tell them apart.
      const run = yield* weft(["project", "tree", "--session", sessionId.slice(0, 20), "--json"], { home })
      assertOk(run)
      const state = JSON.parse(run.stdout)
      assert.deepStrictEqual(Object.keys(state), [sessionId])
      const agents = state[sessionId].agents
      assert.deepStrictEqual(Object.keys(agents), ["main", "main/1"])
      assert.deepInclude(agents.main, { type: "main", outcome: "completed", turns: 4 })
      assert.deepInclude(agents["main/1"], { type: "explore", outcome: "completed", turns: 2 })
    }))

  it.effect("the README's count-bash.ts runs as written, without a build step", () =>
    Effect.gen(function*() {
      const { day, home, scripts } = yield* DemoHome
      const run = yield* weft(["project", "./count-bash.ts", "--all"], { home, initCwd: scripts })
      assertOk(run)
      // The demo ran one bash command (cat); the rm was refused before it ran.
      assert.strictEqual(run.stdout, `${day}  bash: 1\n`)
      const json = yield* weft(["project", "./count-bash.ts", "--all", "--json"], { home, initCwd: scripts })
      assert.deepStrictEqual(JSON.parse(json.stdout), { [day]: 1 })
    }))

  it.effect("an edited projection file folds from scratch, though its name and version are the same", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const { day, home, scripts } = yield* DemoHome
      const file = `${scripts}/edited.ts`
      yield* fileSystem.writeFileString(file, readmeProjection())
      const before = yield* weft(["project", "./edited.ts", "--all"], { home, initCwd: scripts })
      assert.strictEqual(before.stdout, `${day}  bash: 1\n`)
      // Now it counts every other tool's calls (read, grep, edit, memory, conversation_search): a stale checkpoint
      // would still say 1.
      yield* fileSystem.writeFileString(
        file,
        readmeProjection().replace(`event.tool === "bash"`, `event.tool !== "bash"`)
      )
      const after = yield* weft(["project", "./edited.ts", "--all"], { home, initCwd: scripts })
      assertOk(after)
      assert.strictEqual(after.stdout, `${day}  bash: 5\n`)
    }))

  it.effect("the README's count-bash.ts type-checks against weft's types", () =>
    Effect.sync(() => {
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "weft-readme-"))
      try {
        const file = nodePath.join(dir, "count-bash.mts")
        fs.writeFileSync(file, readmeProjection())
        const program = ts.createProgram([file], {
          strict: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.NodeNext,
          moduleResolution: ts.ModuleResolutionKind.NodeNext,
          skipLibCheck: true,
          types: [],
          paths: { "@weft/kernel/*": [nodePath.join(repo, "packages/kernel/src/*.ts")] }
        })
        const errors = ts.getPreEmitDiagnostics(program).map((d) =>
          ts.flattenDiagnosticMessageText(d.messageText, "\n")
        )
        assert.deepStrictEqual(errors, [])
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }))

  it.effect("without --session, --project or --all: the current project's sessions (--cwd, else INIT_CWD)", () =>
    Effect.gen(function*() {
      const { home, project, scripts, sessionId } = yield* DemoHome
      const [here, elsewhere, byCwd] = yield* Effect.all([
        weft(["project", "tree"], { home, initCwd: project }),
        weft(["project", "tree"], { home, initCwd: scripts }),
        weft(["--cwd", project, "project", "files", "--project", project], { home, initCwd: scripts })
      ], { concurrency: 3 })
      assertOk(here)
      assert.strictEqual(here.stdout.split("\n")[0], `session ${sessionId}`)
      assertOk(elsewhere)
      assert.strictEqual(elsewhere.stdout, `No sessions for ${scripts}. (\`--all\` folds every project's.)\n`)
      assertOk(byCwd)
      assert.match(byCwd.stdout, /^ {2}hello\.txt {2}1 change \(edit\) {2}before [0-9a-f]{12} {2}after [0-9a-f]{12}$/m)
    }))

  it.effect("a second run resumes from the checkpoint; --rebuild folds everything again", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const { home } = yield* DemoHome
      const first = yield* weft(["project", "permissions", "--all", "--json"], { home })
      assertOk(first)
      const checkpoint = `${home}/projections/permissions/1/all.json`
      const saved = JSON.parse(yield* fileSystem.readFileString(checkpoint))
      assert.deepStrictEqual(saved.state, JSON.parse(first.stdout))
      // Tamper with the checkpoint's state: a resumed run shows it, a rebuilt one does not.
      const [sessionId] = Object.keys(saved.state)
      saved.state[sessionId!].decisions[0].reason = "from the checkpoint"
      yield* fileSystem.writeFileString(checkpoint, JSON.stringify(saved))
      const resumed = yield* weft(["project", "permissions", "--all", "--json"], { home })
      assert.strictEqual(JSON.parse(resumed.stdout)[sessionId!].decisions[0].reason, "from the checkpoint")
      const rebuilt = yield* weft(["project", "permissions", "--all", "--json", "--rebuild"], { home })
      assertOk(rebuilt)
      assert.deepStrictEqual(JSON.parse(rebuilt.stdout), JSON.parse(first.stdout))
      assert.deepStrictEqual(JSON.parse(yield* fileSystem.readFileString(checkpoint)).state, JSON.parse(first.stdout))
    }))

  it.effect("errors are one line: an unknown name lists the built-ins; a file that does not load says why, where", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const { home, scripts } = yield* DemoHome
      yield* fileSystem.writeFileString(`${scripts}/broken.ts`, "export default {\n  name: 'x',,\n}\n")
      const [unknown, broken, missing, both] = yield* Effect.all([
        weft(["project", "tool"], { home }),
        weft(["project", "./broken.ts", "--all"], { home, initCwd: scripts }),
        weft(["project", "./nowhere.ts"], { home, initCwd: scripts }),
        weft(["project", "tools", "--all", "--project", "."], { home })
      ], { concurrency: 4 })
      assertOneLineError(
        unknown,
        `no built-in projection "tool"; the built-ins are transcript, usage, tools, files, permissions, tree`
      )
      assertOneLineError(broken, `${scripts}/broken.ts:2: SyntaxError: Unexpected token ','`)
      assertOneLineError(missing, `${scripts}/nowhere.ts: no such file`)
      assertOneLineError(both, "give one of --session, --project and --all")
    }))

  it.scoped("--follow --json prints the state, then again when a session is added", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const home = yield* fileSystem.makeTempDirectoryScoped({ prefix: "weft-follow-" })
      const child = spawn(
        process.execPath,
        ["--import", "tsx", bin, "project", "tree", "--all", "--follow", "--json"],
        {
          cwd: repo,
          env: { ...cleanEnv(), WEFT_HOME: home }
        }
      )
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill()))
      let stdout = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
      const lines = () => stdout.split("\n").filter((l) => l !== "")
      const waitFor = (n: number) =>
        Effect.sync(() => lines().length).pipe(
          Effect.repeat({ until: (count) => count >= n, schedule: Schedule.spaced("100 millis") }),
          Effect.timeoutFail({
            duration: "30 seconds",
            onTimeout: () => new Error(`waiting for ${n} lines: ${stdout}`)
          })
        )
      yield* waitFor(1)
      assert.deepStrictEqual(JSON.parse(lines()[0]!), {})
      const demo = yield* weft(["demo"], { home })
      assert.strictEqual(demo.code, 0, demo.stderr)
      const project = /Recorded a demo session in (.+) \(it holds/.exec(demo.stdout)![1]!
      yield* Effect.addFinalizer(() => fileSystem.remove(project, { recursive: true }).pipe(Effect.ignore))
      yield* waitFor(2)
      // The demo's three sessions, once all are in (the first with its explore subagent).
      yield* Effect.sync(() => JSON.parse(lines().at(-1)!)).pipe(
        Effect.repeat({ until: (state) => Object.keys(state).length >= 3, schedule: Schedule.spaced("100 millis") }),
        Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error(`waiting for 3 sessions: ${stdout}`) })
      )
      const state = JSON.parse(lines().at(-1)!)
      const first = Object.keys(state).sort()[0]!
      assert.deepStrictEqual(Object.keys(state[first].agents), ["main", "main/1"])
    }))
})

describe("the bundled weft project", () => {
  it.live("loads a TypeScript projection file (the bundle runs as a vm.Script, where import() needs help)", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const home = yield* fileSystem.makeTempDirectoryScoped({ prefix: "weft-bundle-project-home-" })
      const cwd = yield* fileSystem.makeTempDirectoryScoped({ prefix: "weft-bundle-project-cwd-" })
      yield* fileSystem.writeFileString(`${cwd}/count-bash.ts`, readmeProjection())
      const demo = yield* runBuilt(["demo"], { home, cwd })
      assert.strictEqual(demo.code, 0, demo.stderr)
      const run = yield* runBuilt(["project", "./count-bash.ts", "--all", "--json"], { home, cwd })
      assert.strictEqual(run.code, 0, run.stderr)
      assert.deepStrictEqual(Object.values(JSON.parse(run.stdout)), [1])
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})

describe("the progress bar", () => {
  const progress = { files: 120, totalFiles: 300, bytes: 35_200_000, totalBytes: 84_000_000, events: 1_234_567 }

  it("shows files, MB, events and an ETA from the bytes read so far", () => {
    const line = progressLine(progress, 10_000, 120)
    assert.match(line, /^\[█+░+\] {2}41% {2}120\/300 files {2}35\.2\/84\.0 MB {2}1,234,567 events {2}ETA 0:14$/)
    assert.isAtMost(line.length, 120)
  })

  it("fits a narrow terminal, dropping the bar first", () => {
    const narrow = progressLine(progress, 10_000, 60)
    assert.isAtMost(narrow.length, 59)
    assert.notInclude(narrow, "[")
    assert.match(progressLine({ ...progress, bytes: 0 }, 100, 120), /ETA …$/)
  })
})

describe("weft project --workers", () => {
  it.live("folds sessions in worker threads, with the same result as one thread", () =>
    Effect.gen(function*() {
      const fileSystem = yield* FileSystem.FileSystem
      const home = yield* fileSystem.makeTempDirectoryScoped({ prefix: "weft-project-workers-" })
      for (let i = 0; i < 3; i++) assertOkRun(yield* weft(["demo"], { home }))
      const parallel = yield* weft(["project", "tools", "--all", "--json", "--workers", "2"], { home })
      // No warning that it fell back to one thread: the workers ran.
      assertOk(parallel)
      const single = yield* weft(["project", "tools", "--all", "--json", "--rebuild"], { home })
      assertOk(single)
      assert.deepStrictEqual(JSON.parse(parallel.stdout), JSON.parse(single.stdout))
      // Three demos of three sessions each.
      assert.lengthOf(Object.keys(JSON.parse(parallel.stdout)), 9)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 60_000)
})

const assertOkRun = (run: Run) => assert.strictEqual(run.code, 0, run.stderr)
