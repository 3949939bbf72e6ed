/**
 * `weft -p "…"` end to end: the bundled CLI in a child process, talking to the mock Messages API
 * (`MockMessagesApi`, real HTTP and SSE on 127.0.0.1), each test with its own WEFT_HOME and
 * project directory, and none of the parent's ANTHROPIC_* / NO_COLOR / WEFT_DEBUG.
 *
 * Spawns are slow (~0.5–1 s each), so the runs that do not depend on each other run at once.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import * as Mock from "@weft/kernel/testing/MockMessagesApi"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { builtWeft, cleanEnv } from "./support/BuiltCli.js"

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

interface Sandbox {
  /** WEFT_HOME. */
  readonly home: string
  /** The project (a real path), holding hello.txt; weft runs there, with INIT_CWD naming it. */
  readonly project: string
}

const HELLO = "Hello from the weft test project!"

/** A temporary WEFT_HOME and project directory, removed with the scope. */
const sandbox = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const home = yield* fs.makeTempDirectoryScoped({ prefix: "weft-agent-home-" })
  const project = yield* fs.realPath(yield* fs.makeTempDirectoryScoped({ prefix: "weft-agent-project-" }))
  yield* fs.writeFileString(`${project}/hello.txt`, `${HELLO}\n`)
  return { home, project } satisfies Sandbox
})

/**
 * Runs the bundle with `args` in the sandbox's project: stdin is `stdin` then closed (empty by
 * default: not a TTY), and the run is killed after 20 s (a hang is a failure, not a stuck suite).
 */
const weft = (
  args: ReadonlyArray<string>,
  box: Sandbox,
  options: { readonly env?: Readonly<Record<string, string>>; readonly stdin?: string } = {}
) =>
  Effect.flatMap(Effect.promise(builtWeft), (bundle) =>
    Effect.async<Run>((resume) => {
      const child = spawn(process.execPath, [bundle, ...args], {
        cwd: box.project,
        // The bundle keeps its V8 code cache under XDG_CACHE_HOME: the sandbox, not the user's ~/.cache.
        env: {
          ...cleanEnv(),
          WEFT_HOME: box.home,
          XDG_CACHE_HOME: `${box.home}/cache`,
          INIT_CWD: box.project,
          ...options.env
        }
      })
      let stdout = ""
      let stderr = ""
      child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text))
      child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text))
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000)
      child.on("close", (code) => {
        clearTimeout(timer)
        resume(Effect.succeed({ code, stdout, stderr }))
      })
      child.stdin.on("error", () => {})
      child.stdin.end(options.stdin ?? "")
      return Effect.sync(() => {
        clearTimeout(timer)
        child.kill("SIGKILL")
      })
    }))

/** `weft` against `mock`, with an API key. */
const agent = (mock: Mock.MockMessagesApi, box: Sandbox, key = "test-key") =>
(
  args: ReadonlyArray<string>,
  options: { readonly stdin?: string } = {}
) => weft(args, box, { ...options, env: { ANTHROPIC_API_KEY: key, ANTHROPIC_BASE_URL: mock.url } })

/** A failure as users must see it: exit 1, one line on stderr, nothing that looks like a stack trace. */
const assertOneLineError = (run: Run, includes: string) => {
  assert.strictEqual(run.code, 1, `exit code; stderr: ${run.stderr}`)
  const lines = run.stderr.split("\n").filter((l) => l.trim() !== "")
  assert.strictEqual(lines.length, 1, `one line on stderr, got:\n${run.stderr}`)
  assert.include(lines[0], includes, run.stderr)
  assert.notMatch(run.stderr, /\n\s+at |Error: \{|FiberFailure/)
}

interface Logged {
  readonly seq: number
  readonly sessionId: string
  readonly agentId: string
  readonly event: { readonly _tag: string; readonly [key: string]: any }
}

/** A session's log, as stored. */
const logOf = (box: Sandbox, sessionId: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = `${box.home}/projects/${box.project.replace(/[^a-zA-Z0-9]/g, "-")}/${sessionId}.jsonl`
    const text = yield* fs.readFileString(file)
    return text.trimEnd().split("\n").map((line) => JSON.parse(line) as Logged)
  })

const tags = (log: ReadonlyArray<Logged>) => log.map((e) => e.event._tag)

/** The one JSON result object `--output-format json` prints. */
const resultOf = (run: Run) => {
  const lines = run.stdout.trimEnd().split("\n")
  assert.strictEqual(lines.length, 1, `one line on stdout, got:\n${run.stdout}\nstderr:\n${run.stderr}`)
  return JSON.parse(lines[0]!) as {
    readonly type: string
    readonly subtype: string
    readonly result: string
    readonly session_id: string
    readonly error?: string
  }
}

interface RequestBody {
  readonly model: string
  readonly system?: ReadonlyArray<{ readonly text: string }>
  readonly messages: ReadonlyArray<{
    readonly role: string
    readonly content: ReadonlyArray<{ readonly type: string; readonly [key: string]: any }>
  }>
}

/** The bodies of the requests the mock received, in order. */
const bodies = (mock: Mock.MockMessagesApi) =>
  Effect.map(mock.requests, (requests) => requests.map((r) => r.body as RequestBody))

/** The text of every message of a request, in order: what the model was shown. */
const transcript = (body: RequestBody) =>
  body.messages.map((m) =>
    m.content.map((b) =>
      b.type === "text" ? b.text : b.type === "tool_result" ? `tool_result ${JSON.stringify(b.content)}` : b.type
    ).join(" | ")
  )

const verify = (box: Sandbox, sessionId: string) =>
  Effect.map(weft(["replay", sessionId, "--verify"], box), (run) => {
    assert.strictEqual(run.code, 0, `replay --verify ${sessionId}: ${run.stdout}${run.stderr}`)
    assert.include(run.stdout, `verified ${sessionId}`)
  })

const readHello = [
  Mock.response([
    { type: "text", text: "I will read the file." },
    { type: "tool_use", id: "toolu_read_1", name: "read", input: { path: "hello.txt" } }
  ]),
  Mock.response([{ type: "text", text: `The file says: "${HELLO}"` }], { chunkSize: 5 })
]

const answer = (text: string) => Mock.response([{ type: "text", text }])

layer(NodeContext.layer, { excludeTestServices: true })("weft -p against the Messages API", (it) => {
  it.scoped(
    "reads hello.txt and answers: two requests (the second with the tool result), one JSON result, a logged session that replays",
    () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const mock = yield* Mock.make(readHello)
        const run = yield* agent(mock, box)([
          "-p",
          "read hello.txt and tell me what it says",
          "--output-format",
          "json"
        ])
        assert.strictEqual(run.code, 0, run.stderr)
        const result = resultOf(run)
        assert.strictEqual(result.type, "result")
        assert.strictEqual(result.subtype, "success")
        assert.strictEqual(result.result, `The file says: "${HELLO}"`)
        assert.match(result.session_id, /^[0-9a-f-]{36}$/)

        const requests = yield* bodies(mock)
        assert.strictEqual(requests.length, 2)
        assert.deepStrictEqual(transcript(requests[0]!), ["read hello.txt and tell me what it says"])
        const last = requests[1]!.messages.at(-1)!
        assert.strictEqual(last.role, "user")
        const toolResult = last.content.find((b) => b.type === "tool_result")
        assert.isDefined(toolResult, JSON.stringify(last))
        assert.strictEqual(toolResult!.tool_use_id, "toolu_read_1")
        assert.include(JSON.stringify(toolResult!.content), HELLO)

        const id = result.session_id
        const [list, show] = yield* Effect.all([
          weft(["sessions", "list", "--json"], box),
          weft(["sessions", "show", id.slice(0, 8), "--json"], box),
          verify(box, id)
        ], { concurrency: "unbounded" })
        assert.strictEqual(list.code, 0, list.stderr)
        const rows = JSON.parse(list.stdout) as ReadonlyArray<{ sessionId: string; firstMessage: string }>
        assert.deepStrictEqual(rows.map((r) => [r.sessionId, r.firstMessage]), [[
          id,
          "read hello.txt and tell me what it says"
        ]])
        assert.strictEqual(show.code, 0, show.stderr)
        const shown = JSON.parse(show.stdout) as ReadonlyArray<Logged>
        assert.deepStrictEqual(tags(shown), [
          "SessionStarted",
          "UserMessageReceived",
          "ModelRequested",
          "ModelResponded",
          "PermissionDecided",
          "ToolCallCompleted",
          "ModelRequested",
          "ModelResponded",
          "TurnCompleted",
          "SessionEnded"
        ])
        assert.deepStrictEqual(shown.at(-1)!.event, { _tag: "SessionEnded", v: 1, reason: "completed" })
      })
  )

  it.scoped(
    "text streams the answer to stdout and a line per tool call to stderr; without a prompt argument, -p reads stdin",
    () =>
      Effect.gen(function*() {
        const [textBox, stdinBox] = [yield* sandbox, yield* sandbox]
        const textMock = yield* Mock.make(readHello)
        const stdinMock = yield* Mock.make([answer("From stdin.")])
        const [text, fromStdin] = yield* Effect.all([
          agent(textMock, textBox)(["-p", "read hello.txt and tell me what it says"]),
          agent(stdinMock, stdinBox)(["-p"], { stdin: "  the prompt, piped\n" })
        ], { concurrency: "unbounded" })

        assert.strictEqual(text.code, 0, text.stderr)
        // Both answers' text as streamed, each response on a line of its own, then the newline that ends the turn.
        assert.strictEqual(text.stdout, `I will read the file.\nThe file says: "${HELLO}"\n`)
        // Stderr's lines start on their own line, after the text streamed so far.
        const progress = text.stderr.split("\n").filter((line) => line !== "")
        assert.strictEqual(progress[0], "● read(hello.txt)")
        assert.match(progress[1]!, /^ {2}⎿ read ok/)
        assert.include(progress[1], HELLO)
        assert.strictEqual(progress.length, 2, text.stderr)
        assert.notInclude(text.stderr, "\u001b[", "no colour when stderr is not a terminal")

        assert.strictEqual(fromStdin.code, 0, fromStdin.stderr)
        assert.strictEqual(fromStdin.stdout, "From stdin.\n")
        assert.deepStrictEqual((yield* bodies(stdinMock)).map(transcript), [["the prompt, piped"]])
      })
  )

  it.scoped(
    "long-term memory: what is remembered reaches the system prompt after the static instructions, the model searches earlier sessions, and memory.enabled false turns it off",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const box = yield* sandbox
        const added = yield* weft(["memory", "add", "Our staging server is staging.acme.dev"], box)
        assert.strictEqual(added.code, 0, added.stderr)
        const mock = yield* Mock.make([
          Mock.response([
            { type: "tool_use", id: "toolu_search", name: "conversation_search", input: { query: "staging server" } }
          ]),
          answer("It is staging.acme.dev."),
          answer("no memory here")
        ])
        const run = yield* agent(mock, box)(["-p", "where is staging?", "--output-format", "json"])
        assert.strictEqual(run.code, 0, run.stderr)
        const [first, second] = yield* bodies(mock)
        const system = first!.system!.map((b) => b.text).join("\n")
        assert.match(
          system,
          /^You are weft[\s\S]*\n\nWhat you remember about the user and this project:\n[^\n]*staging\.acme\.dev/
        )
        // The search found the remembered entry.
        const result = second!.messages.at(-1)!.content.find((b) => b.type === "tool_result")!
        assert.include(JSON.stringify(result.content), "staging.acme.dev")
        const log = yield* logOf(box, resultOf(run).session_id)
        assert.include(log[0]!.event["memory"], "staging.acme.dev")
        assert.include(JSON.stringify((first as { readonly tools?: unknown }).tools), "conversation_search")

        yield* fs.makeDirectory(`${box.project}/.weft`)
        yield* fs.writeFileString(`${box.project}/.weft/settings.json`, JSON.stringify({ memory: { enabled: false } }))
        const off = yield* agent(mock, box)(["-p", "and now?", "--output-format", "json"])
        assert.strictEqual(off.code, 0, off.stderr)
        const third = (yield* bodies(mock))[2]!
        assert.notInclude(third.system!.map((b) => b.text).join("\n"), "staging.acme.dev")
        assert.notInclude(JSON.stringify((third as { readonly tools?: unknown }).tools), "conversation_search")
      })
  )

  it.scoped("stream-json prints every event as logged and in log order, the text deltas as they come, then the result", () =>
    Effect.gen(function*() {
      const box = yield* sandbox
      const mock = yield* Mock.make(readHello)
      const run = yield* agent(mock, box)(["-p", "read hello.txt", "--output-format", "stream-json"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stderr, "")
      const lines = run.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, any>)
      assert.deepStrictEqual([...new Set(lines.map((l) => l.type))].sort(), ["event", "result", "text_delta"])
      const events = lines.filter((l) => l.type === "event").map((l) => l.event as Logged)
      const results = lines.filter((l) => l.type === "result")
      assert.strictEqual(results.length, 1)
      const result = results[0]!
      assert.strictEqual(result.subtype, "success")
      assert.strictEqual(result.result, `The file says: "${HELLO}"`)
      const log = yield* logOf(box, result.session_id)
      assert.deepStrictEqual(events, log, "every logged event, as logged, in order")
      assert.deepStrictEqual(events.map((e) => e.seq), log.map((_, i) => i + 1))

      const deltas = lines.filter((l) => l.type === "text_delta")
      assert.isAbove(deltas.length, 2)
      assert.isTrue(deltas.every((d) => d.agent === "main"))
      assert.strictEqual(deltas.map((d) => d.text).join(""), `I will read the file.The file says: "${HELLO}"`)
      // A response's deltas come while it streams: after its ModelRequested, before its ModelResponded.
      let lastEvent = ""
      for (const line of lines) {
        if (line.type === "event") lastEvent = line.event.event._tag
        if (line.type === "text_delta") assert.strictEqual(lastEvent, "ModelRequested")
      }
      // The result closes the output: after every event, SessionEnded included.
      assert.deepStrictEqual(
        lines.slice(-2).map((l) => l.type === "event" ? l.event.event._tag : l.type),
        ["SessionEnded", "result"]
      )
    }))

  it.scoped(
    "-r ID-prefix and -c continue a session; --fork-session and --fork-at copy it into a new one; every session replays",
    () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const mock = yield* Mock.make([
          answer("first answer"),
          answer("second answer"),
          answer("other session's answer"),
          answer("continued answer"),
          answer("forked answer"),
          answer("forked-at answer")
        ])
        const run = (args: ReadonlyArray<string>) =>
          Effect.map(agent(mock, box)([...args, "--output-format", "json"]), (run) => {
            assert.strictEqual(run.code, 0, run.stderr)
            return resultOf(run)
          })
        const first = yield* run(["-p", "first question"])
        const a = first.session_id
        const aStart = yield* logOf(box, a)

        const resumed = yield* run(["-r", a.slice(0, 13), "-p", "second question"])
        assert.strictEqual(resumed.session_id, a)
        assert.strictEqual(resumed.result, "second answer")
        const afterResume = yield* logOf(box, a)
        assert.deepStrictEqual(afterResume.slice(0, aStart.length), aStart, "appended, nothing rewritten")
        assert.strictEqual(tags(afterResume).filter((t) => t === "UserMessageReceived").length, 2)
        assert.strictEqual(tags(afterResume).filter((t) => t === "SessionStarted").length, 1)

        // A second session of the project, started after the first: -c continues it.
        const other = yield* run(["-p", "another question"])
        assert.notStrictEqual(other.session_id, a)
        const continued = yield* run(["-c", "-p", "continue please"])
        assert.strictEqual(continued.session_id, other.session_id)
        assert.strictEqual(
          tags(yield* logOf(box, other.session_id)).filter((t) => t === "UserMessageReceived").length,
          2
        )

        const aEvents = (yield* logOf(box, a)).length
        const forked = yield* run(["-r", a, "--fork-session", "-p", "forked question"])
        assert.notStrictEqual(forked.session_id, a)
        const forkLog = yield* logOf(box, forked.session_id)
        assert.strictEqual(forkLog[0]!.event._tag, "SessionStarted")
        assert.deepStrictEqual(forkLog[0]!.event.forkedFrom, { sessionId: a, seq: aEvents })
        assert.strictEqual(tags(forkLog).filter((t) => t === "UserMessageReceived").length, 3)
        assert.isTrue(forkLog.every((e) => e.sessionId === forked.session_id))

        // At the end of the first turn: the second question and its answer are not in the fork.
        const turn1 = aStart.find((e) => e.event._tag === "TurnCompleted")!.seq
        const forkedAt = yield* run(["-r", a, "--fork-at", String(turn1), "-p", "forked-at question"])
        assert.notStrictEqual(forkedAt.session_id, a)
        assert.notStrictEqual(forkedAt.session_id, forked.session_id)
        const forkAtLog = yield* logOf(box, forkedAt.session_id)
        assert.deepStrictEqual(forkAtLog[0]!.event.forkedFrom, { sessionId: a, seq: turn1 })
        assert.strictEqual((yield* logOf(box, a)).length, aEvents, "forking leaves the original as it was")

        const requests = (yield* bodies(mock)).map(transcript)
        assert.deepStrictEqual(requests, [
          ["first question"],
          ["first question", "first answer", "second question"],
          ["another question"],
          ["another question", "other session's answer", "continue please"],
          ["first question", "first answer", "second question", "second answer", "forked question"],
          ["first question", "first answer", "forked-at question"]
        ])

        yield* Effect.all(
          [a, other.session_id, forked.session_id, forkedAt.session_id].map((id) => verify(box, id)),
          { concurrency: "unbounded" }
        )
      })
  )

  it.scoped(
    "memory.extraction model: one more request a turn, after the answer, with no tools; what it finds is logged, listed, and replays",
    () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        yield* (yield* FileSystem.FileSystem).writeFileString(
          `${box.home}/settings.json`,
          JSON.stringify({ memory: { extraction: "model" } })
        )
        const found = "The project's CI runs on Buildkite"
        const mock = yield* Mock.make([
          answer("Hi!"),
          answer(JSON.stringify([{ category: "fact", text: found, scope: "project" }]))
        ])
        // A question: the rules propose nothing from it, the pass does.
        const prompt = "Our CI runs on Buildkite, did you know?"
        const run = yield* agent(mock, box)(["-p", prompt, "--output-format", "json"])
        assert.strictEqual(run.code, 0, run.stderr)
        const result = resultOf(run)
        assert.strictEqual(result.result, "Hi!")
        const requests = yield* bodies(mock)
        assert.strictEqual(requests.length, 2)
        const pass = requests[1]! as RequestBody & { readonly tools?: unknown; readonly max_tokens: number }
        assert.isUndefined(pass.tools)
        assert.strictEqual(pass.max_tokens, 512)
        assert.include(pass.system!.map((b) => b.text).join(""), "worth remembering")
        assert.strictEqual(pass.messages.length, 1)
        assert.include(transcript(pass)[0], prompt)

        const log = yield* logOf(box, result.session_id)
        assert.deepStrictEqual(tags(log).slice(2), [
          "ModelRequested",
          "ModelResponded",
          "ModelRequested",
          "MemoryExtracted",
          "MemoryWritten",
          "TurnCompleted",
          "SessionEnded"
        ])
        assert.deepInclude(log.find((e) => e.event._tag === "MemoryWritten")!.event, {
          kind: "implicit",
          scope: "project",
          category: "fact",
          text: found
        })
        const [listed] = yield* Effect.all([weft(["memory", "list"], box), verify(box, result.session_id)], {
          concurrency: "unbounded"
        })
        assert.strictEqual(listed.code, 0, listed.stderr)
        // Implicit: it starts at half the weight an explicit fact has.
        assert.match(listed.stdout, /  project  implicit  fact +0\.50  The project's CI runs on Buildkite\n/)
      })
  )

  it.scoped(
    "a continued session keeps the model and system prompt it started with; flags it cannot take are named in a warning; --fork-at 0 is refused",
    () =>
      Effect.gen(function*() {
        const box = yield* sandbox
        const mock = yield* Mock.make([answer("Bref."), answer("Encore.")])
        const first = yield* agent(mock, box)([
          "-p",
          "hi",
          "--model",
          "claude-first",
          "--append-system-prompt",
          "Always answer in French.",
          "--output-format",
          "json"
        ])
        const id = resultOf(first).session_id
        const again = yield* agent(mock, box)(["-r", id, "-p", "more", "--model", "claude-second", "--max-depth", "1"])
        assert.strictEqual(again.code, 0, again.stderr)
        const warning = again.stderr.split("\n").filter((l) => l.includes("ignored"))
        assert.lengthOf(warning, 1, again.stderr)
        assert.include(warning[0], "--model, --max-depth: ignored when continuing a session")
        const requests = yield* bodies(mock)
        assert.deepStrictEqual(requests.map((r) => r.model), ["claude-first", "claude-first"])
        for (const request of requests) {
          assert.isTrue(request.system!.map((b) => b.text).join("\n").endsWith("\n\nAlways answer in French."))
        }
        assertOneLineError(
          yield* agent(mock, box)(["-r", id, "--fork-at", "0", "-p", "x"]),
          "--fork-at 0: a seq is 1 or more"
        )
      })
  )

  it.scoped(
    "--model, --max-depth, --append-system-prompt and --disallowed-tools reach the run; -p denies what would ask, without hanging",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const box = yield* sandbox
        yield* fs.makeDirectory(`${box.project}/build`)
        yield* fs.writeFileString(`${box.project}/build/keep.txt`, "keep me\n")
        const mock = yield* Mock.make([
          Mock.response([
            { type: "tool_use", id: "toolu_rm", name: "bash", input: { command: "rm -rf build" } },
            { type: "tool_use", id: "toolu_touch", name: "bash", input: { command: "touch made-by-bash.txt" } }
          ]),
          answer("I could not do either.")
        ])
        const run = yield* agent(mock, box)([
          "-p",
          "clean up",
          "--model",
          "claude-test-model",
          "--max-depth",
          "1",
          "--append-system-prompt",
          "Always answer in French.",
          "--disallowed-tools",
          "Bash(rm:*)",
          "--output-format",
          "json"
        ])
        assert.strictEqual(run.code, 0, run.stderr)
        const result = resultOf(run)
        assert.strictEqual(result.result, "I could not do either.")

        const requests = yield* bodies(mock)
        assert.strictEqual(requests.length, 2)
        assert.deepStrictEqual(requests.map((r) => r.model), ["claude-test-model", "claude-test-model"])
        assert.isTrue(requests[0]!.system!.map((b) => b.text).join("\n").endsWith("\n\nAlways answer in French."))

        const log = yield* logOf(box, result.session_id)
        const started = log[0]!.event
        assert.strictEqual(started.model, "claude-test-model")
        assert.strictEqual(started.maxDepth, 1)
        const decided = log.filter((e) => e.event._tag === "PermissionDecided").map((e) => e.event)
        const rm = decided.find((d) => d.toolUseId === "toolu_rm")!
        assert.deepStrictEqual([rm.behavior, rm.rule, rm.layer], ["deny", "Bash(rm:*)", "flags"])
        const touch = decided.find((d) => d.toolUseId === "toolu_touch")!
        assert.strictEqual(touch.behavior, "ask")
        const answered = log.find((e) => e.event._tag === "PermissionAnswered")!.event
        assert.deepStrictEqual([answered.toolUseId, answered.answer], ["toolu_touch", "deny"])
        assert.include(answered.message, "non-interactive")

        // Neither command ran; the model was told so.
        assert.isTrue(yield* fs.exists(`${box.project}/build/keep.txt`))
        assert.isFalse(yield* fs.exists(`${box.project}/made-by-bash.txt`))
        const results = requests[1]!.messages.at(-1)!.content.filter((b) => b.type === "tool_result")
        assert.deepStrictEqual(results.map((b) => [b.tool_use_id, b.is_error]), [["toolu_rm", true], [
          "toolu_touch",
          true
        ]])
        yield* verify(box, result.session_id)
      })
  )

  it.scoped(
    "usage errors are one line on stderr and exit 1, before any request: no key, no prompt, --fork-session alone, an unknown -r",
    () =>
      Effect.gen(function*() {
        const mock = yield* Mock.make([])
        const [noKey, noPrompt, forkAlone, unknown] = yield* Effect.all([
          Effect.flatMap(sandbox, (box) => weft(["-p", "hello"], box, { env: { ANTHROPIC_BASE_URL: mock.url } })),
          Effect.flatMap(sandbox, (box) => agent(mock, box)(["-p"], { stdin: "" })),
          Effect.flatMap(sandbox, (box) => agent(mock, box)(["--fork-session", "-p", "hello"])),
          Effect.flatMap(sandbox, (box) => agent(mock, box)(["-r", "no-such-session", "-p", "hello"]))
        ], { concurrency: "unbounded" })
        assertOneLineError(noKey, "ANTHROPIC_API_KEY is not set")
        assertOneLineError(noPrompt, "-p needs a prompt")
        assertOneLineError(forkAlone, "--fork-session")
        assertOneLineError(unknown, "no-such-session")
        assert.deepStrictEqual(yield* mock.requests, [])
      })
  )

  it.scoped(
    "a failed model call ends the turn: with json the result says so; stderr is one line (a 401, a 400 with the API's message), exit 1",
    () =>
      Effect.gen(function*() {
        const boxes = [yield* sandbox, yield* sandbox, yield* sandbox]
        const unauthorized = yield* Mock.make([])
        const rejected = yield* Mock.make([
          Mock.httpError(400, "invalid_request_error", "messages.0.content: text content blocks must be non-empty")
        ])
        const [badKeyJson, badKey, badRequest] = yield* Effect.all([
          agent(unauthorized, boxes[0]!, "bad")(["-p", "hello", "--output-format", "json"]),
          agent(unauthorized, boxes[1]!, "bad")(["-p", "hello"]),
          agent(rejected, boxes[2]!)(["-p", "hello"])
        ], { concurrency: "unbounded" })

        assertOneLineError(badKeyJson, "the API key was rejected (401)")
        const failed = resultOf(badKeyJson)
        assert.strictEqual(failed.subtype, "error")
        assert.include(failed.error, "401")
        assert.include(badKeyJson.stderr, failed.session_id)
        assert.deepStrictEqual(
          tags(yield* logOf(boxes[0]!, failed.session_id)).slice(-3),
          ["ModelFailed", "TurnCompleted", "SessionEnded"]
        )

        // The default format, text: the failure once, not three times.
        assertOneLineError(badKey, "the API key was rejected (401): check ANTHROPIC_API_KEY")
        assertOneLineError(badRequest, "(400): messages.0.content: text content blocks must be non-empty")
      })
  )

  it.scoped("a 529 is retried: the run succeeds, the log has ModelFailed attempt 1 with retryInMs, then ModelResponded", () =>
    Effect.gen(function*() {
      const box = yield* sandbox
      const mock = yield* Mock.make([Mock.httpError(529, "overloaded_error", "Overloaded"), answer("made it")])
      const run = yield* agent(mock, box)(["-p", "hello", "--output-format", "json"])
      assert.strictEqual(run.code, 0, run.stderr)
      const result = resultOf(run)
      assert.strictEqual(result.result, "made it")
      assert.strictEqual((yield* bodies(mock)).length, 2)
      const log = (yield* logOf(box, result.session_id)).map((e) => e.event)
      const failed = log.findIndex((e) => e._tag === "ModelFailed")
      assert.isAbove(failed, 0)
      assert.strictEqual(log[failed]!.attempt, 1)
      assert.strictEqual(log[failed]!.error.status, 529)
      assert.isTrue(log[failed]!.retryable)
      assert.isNumber(log[failed]!.retryInMs)
      assert.strictEqual(log[failed + 1]!._tag, "ModelResponded")
      assert.strictEqual(log[failed - 1]!._tag, "ModelRequested")
      yield* verify(box, result.session_id)
    }))
})
