/**
 * `weft [prompt]` without -p: an interactive session on a terminal. The bundled CLI runs under
 * `script` (util-linux), which gives it a pseudo-terminal, against the mock Messages API; the test
 * types into the terminal and reads what it shows (stdout and stderr, as one screen).
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import * as Mock from "@weft/kernel/testing/MockMessagesApi"
import type { Scope } from "effect"
import { Deferred, Effect } from "effect"
import { spawn } from "node:child_process"
import { builtWeft, cleanEnv } from "./support/BuiltCli.js"

interface Sandbox {
  readonly home: string
  readonly project: string
}

const sandbox = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const home = yield* fs.makeTempDirectoryScoped({ prefix: "weft-interactive-home-" })
  const project = yield* fs.realPath(yield* fs.makeTempDirectoryScoped({ prefix: "weft-interactive-project-" }))
  return { home, project } satisfies Sandbox
})

/** The environment weft runs in: the parent's, without anything that would change what it does. */
const environment = (box: Sandbox, mock: Mock.MockMessagesApi) => {
  return {
    ...cleanEnv(),
    TERM: "xterm",
    WEFT_HOME: box.home,
    // The bundle keeps its V8 code cache there: not in the user's ~/.cache.
    XDG_CACHE_HOME: `${box.home}/cache`,
    INIT_CWD: box.project,
    ANTHROPIC_API_KEY: "test-key",
    ANTHROPIC_BASE_URL: mock.url
  }
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`

interface Terminal {
  /** Waits until the screen, from where the last wait ended, shows `pattern`; fails after 15 s with the screen. */
  readonly expect: (pattern: RegExp) => Effect.Effect<void>
  readonly type: (keys: string) => Effect.Effect<void>
  /** Everything shown so far. */
  readonly screen: () => string
  /** The exit code, once weft has exited. */
  readonly exited: Effect.Effect<number | null>
}

/** `weft args…` on a pseudo-terminal; killed with the scope. */
const onTerminal = (
  args: ReadonlyArray<string>,
  box: Sandbox,
  mock: Mock.MockMessagesApi
): Effect.Effect<Terminal, never, Scope.Scope> =>
  Effect.gen(function*() {
    const bundle = yield* Effect.promise(builtWeft)
    const exited = yield* Deferred.make<number | null>()
    const command = ["exec", quote(process.execPath), quote(bundle), ...args.map(quote)].join(" ")
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn("script", ["-qefc", command, "/dev/null"], { cwd: box.project, env: environment(box, mock) })
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
    )
    let screen = ""
    let from = 0
    const listeners = new Set<() => void>()
    const shown = (data: Buffer) => {
      screen += data.toString("utf8")
      for (const listener of listeners) listener()
    }
    child.stdout.on("data", shown)
    child.stderr.on("data", shown)
    child.stdin.on("error", () => {})
    child.on("close", (code) => Deferred.unsafeDone(exited, Effect.succeed(code)))

    const expect = (pattern: RegExp) =>
      Effect.async<boolean>((resume) => {
        const check = () => {
          const match = pattern.exec(screen.slice(from))
          if (match === null) return
          from += match.index + match[0].length
          listeners.delete(check)
          resume(Effect.succeed(true))
        }
        listeners.add(check)
        check()
        return Effect.sync(() => listeners.delete(check))
      }).pipe(
        Effect.timeoutTo({ duration: "15 seconds", onTimeout: () => false, onSuccess: (found) => found }),
        Effect.map((found) => assert.isTrue(found, `the terminal never showed ${pattern}; it shows:\n${screen}`))
      )
    return {
      expect,
      type: (keys) => Effect.sync(() => void child.stdin.write(keys)),
      screen: () => screen,
      exited: Deferred.await(exited).pipe(
        Effect.timeoutTo({
          duration: "15 seconds",
          onTimeout: () => assert.fail(`weft did not exit; the terminal shows:\n${screen}`),
          onSuccess: (code) => code
        })
      )
    } satisfies Terminal
  })

interface Logged {
  readonly seq: number
  readonly event: { readonly _tag: string; readonly [key: string]: any }
}

const logOf = (box: Sandbox, sessionId: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = `${box.home}/projects/${box.project.replace(/[^a-zA-Z0-9]/g, "-")}/${sessionId}.jsonl`
    return (yield* fs.readFileString(file)).trimEnd().split("\n").map((line) => JSON.parse(line) as Logged)
  })

/** The session id weft shows when it starts. */
const sessionIdOf = (terminal: Terminal) => {
  const id = /weft · session ([0-9a-f-]{36}) · /.exec(terminal.screen())?.[1]
  assert.isDefined(id, terminal.screen())
  return id!
}

/** Runs `weft` (bundled, plain node) with stdin a pipe, not a terminal. */
const piped = (args: ReadonlyArray<string>, box: Sandbox, mock: Mock.MockMessagesApi) =>
  Effect.flatMap(
    Effect.promise(builtWeft),
    (bundle) =>
      Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
        const child = spawn(process.execPath, [bundle, ...args], { cwd: box.project, env: environment(box, mock) })
        let stdout = ""
        let stderr = ""
        child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text))
        child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text))
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
        child.on("close", (code) => {
          clearTimeout(timer)
          resume(Effect.succeed({ code, stdout, stderr }))
        })
        child.stdin.on("error", () => {})
        child.stdin.end()
        return Effect.sync(() => child.kill("SIGKILL"))
      })
  )

const PROMPT = /› /

layer(NodeContext.layer, { excludeTestServices: true })("weft, interactive", (it) => {
  it.scoped(
    "answers the prompt streamed, reads the next line, asks before a bash command (y runs it), and /exit ends the session",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const box = yield* sandbox
        const mock = yield* Mock.make([
          Mock.response([{ type: "text", text: "Hello! What shall we do?" }], { chunkSize: 3 }),
          Mock.response([{ type: "tool_use", id: "toolu_touch", name: "bash", input: { command: "touch made.txt" } }]),
          Mock.response([{ type: "text", text: "I made the file." }])
        ])
        const terminal = yield* onTerminal(["say hello"], box, mock)
        yield* terminal.expect(/Hello! What shall we do\?\r\n/)
        yield* terminal.expect(PROMPT)
        yield* terminal.type("make a file\r")
        yield* terminal.expect(/weft wants to run `touch made\.txt` \(bash\)/)
        yield* terminal.expect(/\[y\] allow once[\s\S]*\[n\] deny \(default\)\r\n› /)
        assert.isFalse(yield* fs.exists(`${box.project}/made.txt`), "nothing runs before the answer")
        yield* terminal.type("y\r")
        yield* terminal.expect(/⎿ bash ok/)
        yield* terminal.expect(/I made the file\.\r\n/)
        yield* terminal.expect(PROMPT)
        yield* terminal.type("/exit\r")
        const sessionId = sessionIdOf(terminal)
        yield* terminal.expect(new RegExp(`session ${sessionId} saved · weft -r ${sessionId.slice(0, 8)} to continue`))
        assert.strictEqual(yield* terminal.exited, 0, terminal.screen())
        assert.isTrue(yield* fs.exists(`${box.project}/made.txt`))

        const log = (yield* logOf(box, sessionId)).map((e) => e.event)
        assert.deepStrictEqual(
          log.filter((e) => e._tag === "UserMessageReceived").map((e) => e.content[0].text),
          ["say hello", "make a file"]
        )
        const decided = log.find((e) => e._tag === "PermissionDecided")!
        assert.deepStrictEqual([decided.toolUseId, decided.behavior], ["toolu_touch", "ask"])
        const answered = log.find((e) => e._tag === "PermissionAnswered")!
        assert.deepStrictEqual([answered.toolUseId, answered.answer], ["toolu_touch", "allow_once"])
        const completed = log.find((e) => e._tag === "ToolCallCompleted")!
        assert.isFalse(completed.isError)
        assert.deepStrictEqual(log.at(-1), { _tag: "SessionEnded", v: 1, reason: "completed" })
        assert.strictEqual((yield* mock.requests).length, 3)
        // The answer is in the log: the run replays without asking anyone.
        const replay = yield* piped(["replay", sessionId, "--verify"], box, mock)
        assert.strictEqual(replay.code, 0, replay.stdout + replay.stderr)
      })
  )

  it.scoped("Ctrl-D at the prompt ends the session, completed", () =>
    Effect.gen(function*() {
      const box = yield* sandbox
      const mock = yield* Mock.make([Mock.response([{ type: "text", text: "Hi." }])])
      const terminal = yield* onTerminal(["say hi"], box, mock)
      yield* terminal.expect(/Hi\.\r\n/)
      yield* terminal.expect(PROMPT)
      yield* terminal.type("\x04")
      assert.strictEqual(yield* terminal.exited, 0, terminal.screen())
      const sessionId = sessionIdOf(terminal)
      assert.include(terminal.screen(), `session ${sessionId} saved`)
      const log = yield* logOf(box, sessionId)
      assert.deepStrictEqual(log.at(-1)!.event, { _tag: "SessionEnded", v: 1, reason: "completed" })
    }))

  it.scoped("Ctrl-C during a turn interrupts it (the HTTP request is aborted) and the session goes on", () =>
    Effect.gen(function*() {
      const box = yield* sandbox
      const mock = yield* Mock.make([
        Mock.hang(Mock.response([{ type: "text", text: "Let me think about this for a long time" }]), 2),
        Mock.response([{ type: "text", text: "Second answer." }])
      ])
      const terminal = yield* onTerminal(["think hard"], box, mock)
      yield* terminal.expect(/Let me /)
      yield* terminal.type("\x03")
      yield* terminal.expect(/interrupted\r\n/)
      yield* mock.awaitDisconnects(1).pipe(Effect.timeout("10 seconds"), Effect.orDie)
      yield* terminal.expect(PROMPT)
      yield* terminal.type("go on\r")
      yield* terminal.expect(/Second answer\.\r\n/)
      yield* terminal.expect(PROMPT)
      yield* terminal.type("/exit\r")
      assert.strictEqual(yield* terminal.exited, 0, terminal.screen())
      const sessionId = sessionIdOf(terminal)
      const log = (yield* logOf(box, sessionId)).map((e) => e.event)
      // The loop records the interrupted turn as SessionEnded interrupted (AgentLoop's contract), then goes on.
      assert.deepStrictEqual(log.map((e) => e._tag === "SessionEnded" ? `${e._tag} ${e.reason}` : e._tag), [
        "SessionStarted",
        "UserMessageReceived",
        "ModelRequested",
        "SessionEnded interrupted",
        "UserMessageReceived",
        "ModelRequested",
        "ModelResponded",
        "TurnCompleted",
        "SessionEnded completed"
      ])
      assert.deepStrictEqual(
        log.filter((e) => e._tag === "UserMessageReceived").map((e) => e.content[0].text),
        ["think hard", "go on"]
      )
      const replay = yield* piped(["replay", sessionId, "--verify"], box, mock)
      assert.strictEqual(replay.code, 0, replay.stdout + replay.stderr)
    }))

  it.scoped("without a terminal on stdin, weft (no -p) is one line telling to use -p, exit 1", () =>
    Effect.gen(function*() {
      const box = yield* sandbox
      const mock = yield* Mock.make([])
      const runs = yield* Effect.all([piped(["say hi"], box, mock), piped([], box, mock)], { concurrency: 2 })
      for (const run of runs) {
        assert.strictEqual(run.code, 1, run.stderr)
        const lines = run.stderr.split("\n").filter((l) => l.trim() !== "")
        assert.strictEqual(lines.length, 1, run.stderr)
        assert.include(lines[0], "needs a terminal on stdin")
        assert.include(lines[0], "weft -p")
        assert.strictEqual(run.stdout, "")
      }
      assert.deepStrictEqual(yield* mock.requests, [])
    }))
})
