import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"
import * as Bash from "../../src/tools/Bash.js"
import { makeContext } from "../utils/toolContext.js"

const setup = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped()
  const { context } = yield* makeContext(dir)
  const tool = yield* Bash.make
  const run = (command: string, timeout?: number) =>
    Effect.map(
      tool.execute(timeout === undefined ? { command } : { command, timeout }, context),
      (output) => output.content as string
    )
  /** The pids the command wrote to `file`, one per line, once it has written `count` of them. */
  const pidsIn = (file: string, count: number) =>
    fs.readFileString(`${dir}/${file}`).pipe(
      Effect.map((text) => text.split("\n").filter((line) => line !== "").map(Number)),
      Effect.filterOrFail((pids) => pids.length >= count),
      Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("10 seconds")))
    )
  return { fs, dir, context, tool, run, pidsIn }
})

/** Whether a process still runs: a zombie waiting to be reaped has stopped running. */
const isRunning = (pid: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const stat = yield* fs.readFileString(`/proc/${pid}/stat`).pipe(Effect.option)
    if (stat._tag === "Some") return !/^\d+ \(.*\) [ZX]/.test(stat.value)
    return yield* Effect.try(() => process.kill(pid, 0)).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
  })

/** Waits (briefly) for the processes to be gone; answers which still run. */
const stillRunning = (pids: ReadonlyArray<number>) =>
  Effect.filter(pids, isRunning).pipe(
    Effect.filterOrFail((running) => running.length === 0),
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("3 seconds"))),
    Effect.orElse(() => Effect.filter(pids, isRunning))
  )

describe("bash", () => {
  // Live services: timeouts here are real time.
  layer(NodeContext.layer, { excludeTestServices: true })((it) => {
    it.scoped("returns the output and exit code 0", () =>
      Effect.gen(function*() {
        const { run } = yield* setup
        assert.strictEqual(yield* run("echo hello"), "hello\nexit code: 0")
      }))

    it.scoped("a non-zero exit is a result with its code, not a failure", () =>
      Effect.gen(function*() {
        const { run } = yield* setup
        assert.strictEqual(yield* run("echo failing; exit 3"), "failing\nexit code: 3")
      }))

    it.scoped("a shell killed by a signal is a result naming the signal, not a failure", () =>
      Effect.gen(function*() {
        const { run } = yield* setup
        assert.strictEqual(yield* run("echo before; kill -9 $$"), "before\n[bash was killed by SIGKILL; no exit code]")
      }))

    it.scoped("a cwd that does not exist is a ToolError", () =>
      Effect.gen(function*() {
        const { context, dir, tool } = yield* setup
        const error = yield* Effect.flip(tool.execute({ command: "true" }, { ...context, cwd: `${dir}/missing` }))
        assert.match(error.message, /^could not start bash: no such file or directory: .*missing$/)
      }))

    it.scoped("captures stderr, merged with stdout in the order written", () =>
      Effect.gen(function*() {
        const { run } = yield* setup
        assert.strictEqual(
          yield* run("echo one; echo two >&2; echo three; ls /definitely/not/here"),
          "one\ntwo\nthree\nls: cannot access '/definitely/not/here': No such file or directory\nexit code: 2"
        )
      }))

    it.scoped("runs in the context's cwd", () =>
      Effect.gen(function*() {
        const { dir, fs, run } = yield* setup
        const real = yield* fs.realPath(dir)
        assert.strictEqual(yield* run("pwd -P"), `${real}\nexit code: 0`)
      }))

    it.scoped("says when there is no output", () =>
      Effect.gen(function*() {
        const { run } = yield* setup
        assert.strictEqual(yield* run("true"), "(no output)\nexit code: 0")
      }))

    it.scoped("stdin is empty, so a command reading it does not hang", () =>
      Effect.gen(function*() {
        const { run } = yield* setup
        assert.strictEqual(yield* run("cat; echo done"), "done\nexit code: 0")
      }))

    it.scoped("caps output at 30,000 characters, keeping both ends and saying how much was cut", () =>
      Effect.gen(function*() {
        const { run } = yield* setup
        const content = yield* run("printf 'start'; head -c 50000 /dev/zero | tr '\\0' 'x'; printf 'end\\n'")
        assert.include(content, "\n\n[… 20009 characters of output cut …]\n\n")
        assert.isTrue(content.startsWith("startxxx"))
        assert.isTrue(content.endsWith("xxxend\nexit code: 0"))
        assert.isBelow(content.length, 30_100)
      }))

    it.scoped("kills the command and its children on timeout, and says so", () =>
      Effect.gen(function*() {
        const { pidsIn, run } = yield* setup
        const content = yield* run("echo $$ > pids; sleep 30 & echo $! >> pids; echo started; wait", 500)
        assert.strictEqual(
          content,
          "started\n\n[Timed out after 500 ms: the command and every process it started were killed.]"
        )
        const pids = yield* pidsIn("pids", 2)
        assert.deepStrictEqual(yield* stillRunning(pids), [])
      }))

    it.scoped("a command that ignores SIGTERM is still killed on timeout", () =>
      Effect.gen(function*() {
        const { pidsIn, run } = yield* setup
        const content = yield* run("trap '' TERM; echo $$ > pids; sleep 30 & echo $! >> pids; wait", 300)
        assert.include(content, "[Timed out after 300 ms")
        assert.deepStrictEqual(yield* stillRunning(yield* pidsIn("pids", 2)), [])
      }))

    it.scoped("interrupting the call kills the command and its children", () =>
      Effect.gen(function*() {
        const { pidsIn, run } = yield* setup
        const fiber = yield* Effect.fork(run("echo $$ > pids; sleep 30 & echo $! >> pids; wait"))
        const pids = yield* pidsIn("pids", 2)
        assert.deepStrictEqual(yield* Effect.filter(pids, isRunning), pids)
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(yield* stillRunning(pids), [])
      }))

    it.scoped("background processes do not outlive the call", () =>
      Effect.gen(function*() {
        const { pidsIn, run } = yield* setup
        const content = yield* run("sleep 30 > /dev/null 2>&1 & echo $! > pids; echo left")
        assert.strictEqual(content, "left\nexit code: 0")
        assert.deepStrictEqual(yield* stillRunning(yield* pidsIn("pids", 1)), [])
      }))

    it.scoped("asks for Bash permission on the command, and is not read-only", () =>
      Effect.gen(function*() {
        const { tool } = yield* setup
        assert.isFalse(tool.readOnly)
        assert.deepStrictEqual(tool.permission({ command: "npm test" }), {
          _tag: "Command",
          tool: "Bash",
          command: "npm test"
        })
      }))
  })
})
