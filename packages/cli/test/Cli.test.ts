import { type Run, weft } from "./support/SourceCli.js"
/**
 * The CLI end to end: each test runs `bin.ts` in a child process, as a user would, against a
 * temporary WEFT_HOME. Spawns are slow (~1 s), so homes are shared within a describe where
 * the tests only read.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { lineCodec } from "@weft/kernel/EventCodec"
import { EventLog } from "@weft/kernel/EventLog"
import * as Ids from "@weft/kernel/Ids"
import { said, started } from "@weft/kernel/testing/EventLogContract"
import { layerJsonl } from "@weft/store/JsonlEventLog"
import { Context, Effect, Either, Layer } from "effect"
import * as os from "node:os"
import { fileURLToPath } from "node:url"

const repo = fileURLToPath(new URL("../../..", import.meta.url))

/** A failure as users must see it: one line on stderr, nothing that looks like a stack trace. */
const assertOneLineError = (run: Run, includes: string) => {
  assert.strictEqual(run.code, 1, `exit code; stderr: ${run.stderr}`)
  const lines = run.stderr.split("\n").filter((l) => l.trim() !== "")
  assert.strictEqual(lines.length, 1, `one line on stderr, got:\n${run.stderr}`)
  assert.include(lines[0], includes)
  assert.notMatch(run.stderr, /\n\s+at |Error: \{|FiberFailure/)
}

const tempDir = (prefix: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix }))

describe("weft", () => {
  it.live("--version prints the version of packages/cli/package.json", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const version = JSON.parse(yield* fs.readFileString(`${repo}/packages/cli/package.json`)).version as string
      assert.match(version, /^\d+\.\d+\.\d+/)
      const run = yield* weft(["--version"], { home: yield* tempDir("weft-cli-") })
      assert.strictEqual(run.code, 0)
      assert.strictEqual(run.stdout.trim(), version)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("--help lists every command, without ANSI styling when stdout is a pipe", () =>
    Effect.gen(function*() {
      const run = yield* weft(["--help"], { home: yield* tempDir("weft-cli-") })
      assert.strictEqual(run.code, 0)
      for (const command of ["sessions list", "sessions show", "doctor", "demo", "--cwd"]) {
        assert.include(run.stdout, command)
      }
      assert.notInclude(run.stdout, "\u001b[")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("@effect/cli's own errors (unknown option, missing argument) exit 1 with one line and no stack trace", () =>
    Effect.gen(function*() {
      const home = yield* tempDir("weft-cli-")
      const [unknown, missing] = yield* Effect.all([
        weft(["sessions", "list", "--bogus"], { home }),
        weft(["sessions", "show"], { home })
      ], { concurrency: 2 })
      assertOneLineError(unknown, "--bogus")
      assertOneLineError(missing, "<id>")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("a --cwd that does not exist is one line naming it", () =>
    Effect.gen(function*() {
      const home = yield* tempDir("weft-cli-")
      assertOneLineError(yield* weft(["--cwd", `${home}/nowhere`, "sessions", "list"], { home }), `${home}/nowhere`)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})

interface Demo {
  readonly run: Run
  /** The demo's first session (the typo fix); `sessions` has the two after it too (remember, recall). */
  readonly sessionId: string
  readonly sessions: ReadonlyArray<string>
  /** The temporary project the demo made (a real path). */
  readonly project: string
}

class DemoHome extends Context.Tag("test/DemoHome")<DemoHome, {
  readonly home: string
  readonly first: Demo
  readonly second: Demo
}>() {}

/** A WEFT_HOME holding two demo sessions, each in its own temporary project. */
const demoHome = Layer.scoped(
  DemoHome,
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const home = yield* tempDir("weft-cli-")
    const demo = Effect.gen(function*() {
      const run = yield* weft(["demo"], { home })
      const project = /Recorded a demo session in (.+) \(it holds hello\.txt\)/.exec(run.stdout)?.[1]
      assert.isDefined(project, `demo output:\n${run.stdout}\n${run.stderr}`)
      yield* Effect.addFinalizer(() => fs.remove(project!, { recursive: true }).pipe(Effect.ignore))
      const folder = path.join(home, "projects", project!.replace(/[^a-zA-Z0-9]/g, "-"))
      // Session ids are time-ordered: the first is the typo fix.
      const sessions = (yield* fs.readDirectory(folder)).filter((f) => f.endsWith(".jsonl")).map((f) => f.slice(0, -6))
        .sort()
      return { run, sessionId: sessions[0]!, sessions, project: project! } satisfies Demo
    })
    return { home, first: yield* demo, second: yield* demo }
  })
).pipe(Layer.provide(NodeContext.layer))

const commonPrefix = (a: string, b: string) => {
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  return a.slice(0, i)
}

const TAGS = [
  "SessionStarted",
  "UserMessageReceived",
  "ModelRequested",
  "ModelResponded",
  "PermissionDecided",
  "PermissionDecided",
  "ToolCallCompleted",
  "SubagentSpawned",
  "UserMessageReceived",
  "ModelRequested",
  "ModelResponded",
  "PermissionDecided",
  "ToolCallCompleted",
  "ModelRequested",
  "ModelResponded",
  "TurnCompleted",
  "SubagentCompleted",
  "ModelRequested",
  "ModelResponded",
  "PermissionDecided",
  "FileSnapshotted",
  "ToolCallCompleted",
  "ModelRequested",
  "ModelResponded",
  "PermissionDecided",
  "PermissionDecided",
  "ToolCallCompleted",
  "ModelRequested",
  "ModelResponded",
  "TurnCompleted",
  "SessionEnded"
]

layer(Layer.merge(demoHome, NodeContext.layer), { excludeTestServices: true })("demo and sessions", (it) => {
  it.effect("demo runs the agent on a scripted model: it reads, edits, runs bash, is denied an rm, and the replay verifies", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { first } = yield* DemoHome
      assert.strictEqual(first.run.code, 0, first.run.stderr)
      assert.strictEqual(first.run.stderr, "")
      const content = yield* fs.readFileString(`${first.project}/hello.txt`)
      const lines = first.run.stdout.split("\n")
      // The first session's events: those before its replay line (the memory sessions come after).
      const events = first.run.stdout.split("replay --verify")[0]!.split("\n").filter((l) =>
        /^\s+\d+ {2}\d{4}-/.test(l)
      )
      assert.deepStrictEqual(events.map((l) => l.split(/\s+/)[5]), TAGS)
      assert.include(events[3], `tool_use read {"path":"hello.txt"}`)
      assert.include(events[6], `read ok`)
      assert.include(events[6], "Hello, wrold!")
      assert.include(events[7], "main/1 explore: Find the typo elsewhere")
      assert.match(events[12]!, /main\/1 +ToolCallCompleted +grep ok/)
      assert.include(events[16], "main/1 completed")
      assert.include(events[18], `tool_use edit`)
      assert.include(events[20], `${first.project}/hello.txt`)
      assert.include(events[24], "allow Bash · rule Bash(cat:*) · layer flags")
      assert.include(events[25], "deny Bash · rule Bash(rm:*) · layer flags")
      assert.include(events[26], "Hello, world!")
      // The edit really happened, the rm did not.
      assert.strictEqual(content.split("\n")[0], "Hello, world!")
      assert.isTrue(yield* fs.exists(`${first.project}/build/out.txt`))
      assert.include(first.run.stdout, "replay --verify: 31 events, 15 decisions — every decision replays exactly")
      const show = lines.find((l) => l.trim().startsWith("weft sessions show "))!.trim().split(" ")[3]!
      assert.isTrue(first.sessionId.startsWith(show), `${show} is a prefix of ${first.sessionId}`)
      assert.include(first.run.stdout, `weft --cwd ${first.project} sessions list`)
    }))

  it.effect("the demo's events chain: each names the event it answers as its parent, across agents", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { first, home } = yield* DemoHome
      const file = `${home}/projects/${first.project.replace(/[^a-zA-Z0-9]/g, "-")}/${first.sessionId}.jsonl`
      const envelopes = (yield* fs.readFileString(file)).trim().split("\n").map((l) => JSON.parse(l))
      assert.strictEqual(envelopes[0].parentId, null)
      // Each event answers its own agent's previous one; a subagent's first answers its SubagentSpawned.
      const last = new Map<string, string>()
      for (const envelope of envelopes) {
        if (envelope.event._tag === "SubagentSpawned") last.set(envelope.event.childAgentId, envelope.id)
        if (envelope.seq > 1) assert.strictEqual(envelope.parentId, last.get(envelope.agentId), `seq ${envelope.seq}`)
        last.set(envelope.agentId, envelope.id)
      }
    }))

  it.effect("sessions list shows only the chosen project's sessions, chosen by --cwd or by --project", () =>
    Effect.gen(function*() {
      const { first, home, second } = yield* DemoHome
      const [byCwd, byProject] = yield* Effect.all([
        weft(["--cwd", first.project, "sessions", "list"], { home }),
        weft(["sessions", "list", "--project", second.project], { home })
      ], { concurrency: 2 })
      assert.strictEqual(byCwd.code, 0, byCwd.stderr)
      const row = byCwd.stdout.split("\n").find((l) => l.startsWith(first.sessionId))
      assert.isDefined(row, byCwd.stdout)
      assert.match(row!, / 31 {2}/)
      assert.include(row!, "hello.txt has a typo")
      assert.notInclude(byCwd.stdout, second.sessionId)
      assert.include(byProject.stdout, second.sessionId)
      assert.notInclude(byProject.stdout, first.sessionId)
    }))

  it.effect("without --cwd the project is INIT_CWD (where `pnpm weft` was run); a relative --cwd starts there", () =>
    Effect.gen(function*() {
      const path = yield* Path.Path
      const { first, home, second } = yield* DemoHome
      const [fromInitCwd, relative] = yield* Effect.all([
        weft(["sessions", "list", "--json"], { home, initCwd: first.project }),
        weft(["--cwd", path.basename(second.project), "sessions", "list", "--json"], {
          home,
          initCwd: path.dirname(second.project)
        })
      ], { concurrency: 2 })
      const ids = (run: Run) => JSON.parse(run.stdout).map((r: { sessionId: string }) => r.sessionId).sort()
      assert.deepStrictEqual(ids(fromInitCwd), first.sessions)
      assert.deepStrictEqual(ids(relative), second.sessions)
      const row = JSON.parse(relative.stdout).find((r: { sessionId: string }) => r.sessionId === second.sessionId)
      assert.strictEqual(row.events, 31)
      assert.strictEqual(
        row.firstMessage,
        "hello.txt has a typo: fix it, show me the file, and clean up the build folder."
      )
      assert.strictEqual(row.project, second.project)
    }))

  it.effect("sessions show <unique prefix> prints one line per event: seq, time, agent, tag, summary", () =>
    Effect.gen(function*() {
      const { first, home, second } = yield* DemoHome
      const others = [...first.sessions, ...second.sessions].filter((id) => id !== first.sessionId)
      const prefix = first.sessionId.slice(
        0,
        Math.max(...others.map((other) => commonPrefix(first.sessionId, other).length)) + 1
      )
      const run = yield* weft(["sessions", "show", prefix], { home })
      assert.strictEqual(run.code, 0, run.stderr)
      const lines = run.stdout.trimEnd().split("\n")
      assert.deepStrictEqual(lines.map((l) => l.trim().split(/\s+/).slice(0, 1)[0]), TAGS.map((_, i) => `${i + 1}`))
      assert.match(
        lines[1]!,
        /^\s+2 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}main {4}UserMessageReceived {2}hello\.txt has a typo/
      )
      assert.include(lines[4], "allow Read · rule (none) · layer acceptEdits")
      assert.include(lines[25], "deny Bash · rule Bash(rm:*) · layer flags")
    }))

  it.effect("sessions show --json prints the stored envelopes: a JSON array that decodes and re-encodes to the log's lines", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { first, home } = yield* DemoHome
      const run = yield* weft(["sessions", "show", first.sessionId, "--json"], { home })
      assert.strictEqual(run.code, 0, run.stderr)
      const printed: Array<unknown> = JSON.parse(run.stdout)
      const file = `${home}/projects/${first.project.replace(/[^a-zA-Z0-9]/g, "-")}/${first.sessionId}.jsonl`
      const stored = (yield* fs.readFileString(file)).trim().split("\n")
      assert.strictEqual(printed.length, stored.length)
      printed.forEach((envelope, i) => {
        const decoded = lineCodec.decode(JSON.stringify(envelope))
        assert.isTrue(Either.isRight(decoded), `element ${i} decodes`)
        if (Either.isRight(decoded)) assert.deepStrictEqual(lineCodec.encode(decoded.right), Either.right(stored[i]))
      })
    }))

  it.effect("an ambiguous prefix is one line naming the candidates, an unknown one a line saying so; both exit 1", () =>
    Effect.gen(function*() {
      const { first, home, second } = yield* DemoHome
      const shared = commonPrefix(first.sessionId, second.sessionId)
      assert.isAbove(shared.length, 0, "UUIDv7 ids made moments apart share their leading time bits")
      const [ambiguous, unknown] = yield* Effect.all([
        weft(["sessions", "show", shared], { home }),
        weft(["sessions", "show", "zzz"], { home })
      ], { concurrency: 2 })
      assertOneLineError(ambiguous, "ambiguous")
      assert.include(ambiguous.stderr, first.sessionId)
      assert.include(ambiguous.stderr, second.sessionId)
      assertOneLineError(unknown, "zzz")
      assert.include(unknown.stderr, "weft sessions list --all")
    }))
})

/** Writes a session through the real log, closing it (and its lock) afterwards. */
const writeSession = (home: string, sessionId: string, texts: ReadonlyArray<string>) =>
  EventLog.pipe(
    Effect.flatMap((log) => log.append(sessionId, [started("/doctor/project"), ...texts.map(said)])),
    Effect.provide(
      layerJsonl({ home, durability: "none" }).pipe(Layer.provide(Layer.mergeAll(NodeContext.layer, Ids.layer)))
    )
  )

const lockText = (pid: number) =>
  JSON.stringify({ pid, hostname: os.hostname(), startedAt: "2026-01-01T00:00:00.000Z" })
const DEAD_PID = 999_999_999

describe("weft doctor", () => {
  it.live("a healthy home: a summary and exit 0", () =>
    Effect.gen(function*() {
      const home = yield* tempDir("weft-cli-")
      yield* writeSession(home, "fine", ["hello"])
      const run = yield* weft(["doctor"], { home })
      assert.strictEqual(run.code, 0, run.stderr)
      assert.include(run.stdout, "all healthy")
      assert.include(run.stdout, "1 session")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live(
    "reports torn tails, bad lines and seq gaps with path:line and locks; --repair moves the torn tail aside byte for byte, " +
      "removes the stale lock and leaves a live lock's session alone",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const home = yield* tempDir("weft-cli-")
        for (const id of ["torn", "bad", "gap", "stale", "live"]) yield* writeSession(home, id, ["a", "b", "c"])
        const dir = `${home}/projects/-doctor-project`
        const file = (id: string) => `${dir}/${id}.jsonl`
        const lines = (id: string) => fs.readFileString(file(id)).pipe(Effect.map((t) => t.split("\n")))

        const tornBytes = `{"seq":5,"id":"01a2`
        const clean = yield* fs.readFile(file("torn"))
        yield* fs.writeFileString(file("torn"), tornBytes, { flag: "a" })
        const bad = yield* lines("bad")
        bad[1] = "{ not json"
        yield* fs.writeFileString(file("bad"), bad.join("\n"))
        const gap = yield* lines("gap")
        gap.splice(2, 1) // seq 3 is gone: line 3 holds seq 4
        yield* fs.writeFileString(file("gap"), gap.join("\n"))
        yield* fs.writeFileString(`${dir}/stale.lock`, lockText(DEAD_PID))
        // This test's own process holds the lock: alive, on this host.
        yield* fs.writeFileString(`${dir}/live.lock`, lockText(process.pid))
        yield* fs.writeFileString(file("live"), "half a line", { flag: "a" })
        const liveBefore = yield* fs.readFileString(file("live"))
        const badBefore = yield* fs.readFileString(file("bad"))

        const report = yield* weft(["doctor"], { home })
        assert.strictEqual(report.code, 1)
        assert.include(report.stdout, `${file("torn")}:5: torn last line of ${tornBytes.length} bytes`)
        assert.include(report.stdout, `${file("bad")}:2: not an event`)
        assert.include(report.stdout, `weft sessions show bad --lenient`)
        assert.include(report.stdout, `${file("gap")}:3: seq 4 where 3 was expected`)
        assert.include(report.stdout, `${dir}/stale.lock: stale lock: pid ${DEAD_PID}`)
        assert.include(report.stdout, `${dir}/live.lock: in use by pid ${process.pid}`)
        assertOneLineError(report, "problems remain")

        const repair = yield* weft(["doctor", "--repair"], { home })
        assert.include(repair.stdout, `moved the torn last line (${tornBytes.length} bytes) to ${file("torn")}.torn-1`)
        assert.include(repair.stdout, `not repaired: in use by pid ${process.pid}`)
        assertOneLineError(repair, "problems remain")
        assert.strictEqual(yield* fs.readFileString(`${file("torn")}.torn-1`), tornBytes)
        assert.deepStrictEqual(yield* fs.readFile(file("torn")), clean)
        assert.isFalse(yield* fs.exists(`${dir}/stale.lock`))
        assert.strictEqual(yield* fs.readFileString(`${dir}/live.lock`), lockText(process.pid))
        assert.strictEqual(yield* fs.readFileString(file("live")), liveBefore)
        assert.strictEqual(yield* fs.readFileString(file("bad")), badBefore)
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))
  )
})

describe("weft replay", () => {
  it.effect(
    "--verify passes on a recorded run; a changed decision is one line naming its seq, exit 1; --json says the same",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const home = yield* tempDir("weft-replay-")
        const demo = yield* weft(["demo"], { home })
        const project = /Recorded a demo session in (.+) \(it holds hello\.txt\)/.exec(demo.stdout)![1]!
        const folder = `${home}/projects/${project.replace(/[^a-zA-Z0-9]/g, "-")}`
        // The demo's first session (the ids are time-ordered); the memory sessions come after it.
        const file = (yield* fs.readDirectory(folder)).filter((f) => f.endsWith(".jsonl")).sort()[0]!
        const sessionId = file.slice(0, -6)

        const ok = yield* weft(["replay", sessionId.slice(0, 20), "--verify"], { home })
        assert.strictEqual(ok.code, 0, ok.stderr)
        assert.include(ok.stdout, `verified ${sessionId}: 31 events, 15 decisions`)

        const tree = yield* weft(["sessions", "tree", sessionId], { home })
        assert.strictEqual(tree.code, 0, tree.stderr)
        assert.match(tree.stdout, /^main +main +completed +4 turns/m)
        assert.match(tree.stdout, /^ {2}main\/1 +explore +completed +2 turns/m)
        const agentOnly = yield* weft(["sessions", "show", sessionId, "--agent", "main/1"], { home })
        const agentLines = agentOnly.stdout.trim().split("\n")
        assert.strictEqual(agentLines.length, 8)
        assert.isTrue(agentLines.every((l) => / main\/1 /.test(l)), agentOnly.stdout)

        const folded = yield* weft(["replay", sessionId, "--until", "22"], { home })
        assert.include(folded.stdout, `at seq 22`)
        assert.include(folded.stdout, `transcript (5 messages):`)

        // A decision the kernel would not make: main's second request asks for other max_tokens.
        const lines = (yield* fs.readFileString(`${folder}/${file}`)).split("\n")
        lines[17] = lines[17]!.replace(`"maxTokens":8192`, `"maxTokens":100`)
        yield* fs.writeFileString(`${folder}/${file}`, lines.join("\n"))
        const diverged = yield* weft(["replay", sessionId, "--verify"], { home })
        assertOneLineError(diverged, "diverged at seq 18 (agent main)")
        const json = yield* weft(["replay", sessionId, "--verify", "--json"], { home })
        assert.strictEqual(json.code, 1)
        const report = JSON.parse(json.stdout.trim())
        assert.strictEqual(report.verified, false)
        assert.strictEqual(report.seq, 18)
        assert.include(report.expected, `"maxTokens":100`)
        assert.include(report.actual, `"maxTokens":8192`)
        yield* fs.remove(project, { recursive: true })
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    60_000
  )
})
