/**
 * `bash`: runs `bash -c <command>` in the project root through @effect/platform's `Command`.
 *
 * - stdout and stderr share one pipe (the command runs in a shell whose stderr is its stdout),
 *   so the output reads in the order it was written; stdin is `/dev/null`, so a command that
 *   waits for input ends instead of hanging.
 * - The result ends with `exit code: N`; a non-zero exit is a normal result for the model.
 * - Output over 30,000 characters keeps its first and last 15,000, with a marker in the middle
 *   saying how many characters were cut; only those are held in memory while the command runs.
 * - The command gets its own process group. On timeout (default 2 minutes, at most 10), on
 *   interruption of the calling fiber, and when the shell exits, the whole group is killed
 *   with SIGKILL: nothing the call started outlives it (a background `server &` included).
 *   A timeout is reported in the result, with the output so far.
 */
import { Command, CommandExecutor } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Duration, Effect, Fiber, Option, Schema, Stream } from "effect"
import { optional, required } from "../internal/Fields.js"
import { describeError } from "../internal/Files.js"
import * as Tool from "../Tool.js"

export const defaultTimeout = 120_000
export const maxTimeout = 600_000
export const maxOutput = 30_000

export const Input = Schema.Struct({
  command: required(Schema.String, "The command to run with bash -c, in the project root"),
  timeout: optional(
    Schema.Number.pipe(Schema.int(), Schema.between(1, maxTimeout)),
    `Milliseconds before the command is killed (default ${defaultTimeout}, at most ${maxTimeout})`
  ),
  description: optional(
    Schema.String,
    "What the command does, in 5-10 words, for the person watching (\"Run the unit tests\")"
  )
})
export type Input = typeof Input.Type

const description = `Runs a shell command with bash -c in the project root and returns its output and exit code.
- stdout and stderr are merged, in order. Output over ${maxOutput} characters is cut in the middle.
- The command is killed after timeout milliseconds (default ${defaultTimeout}, at most ${maxTimeout}), with every process it started.
- stdin is empty: commands cannot be interactive. Background processes are stopped when the command ends.
- Prefer read, glob, grep, edit and write to cat, find, grep, sed and echo >: they are faster and safer.
- Quote paths that contain spaces.`

/**
 * The outer shell points stderr at stdout and stdin at /dev/null, then becomes `bash -c
 * "$1"` (same pid, same process group), so the command sees exactly `bash -c command`.
 */
const script = "exec 2>&1 </dev/null; exec bash -c \"$1\""

/** Keeps the first and last `max / 2` characters of what it is given, and how much it was given. */
const outputBuffer = (max: number) => {
  const half = Math.floor(max / 2)
  const decoder = new TextDecoder()
  let head = ""
  let tail = ""
  let total = 0

  const append = (text: string) => {
    total += text.length
    if (head.length < half) {
      const room = half - head.length
      head += text.slice(0, room)
      text = text.slice(room)
    }
    if (text.length === 0) return
    tail += text
    if (tail.length > 4 * half) tail = tail.slice(-half)
  }

  return {
    push: (bytes: Uint8Array) => append(decoder.decode(bytes, { stream: true })),
    text: () => {
      append(decoder.decode())
      if (total <= max) return head + tail
      const kept = tail.slice(-half)
      const cut = total - head.length - kept.length
      return `${head}\n\n[… ${cut} characters of output cut …]\n\n${kept}`
    }
  }
}

/** The executor fails `exitCode` when the shell died of a signal; its description names the signal. */
const signalOf = (error: PlatformError): string => {
  const description = error.description ?? error.message
  return /signal: (\w+)/.exec(description)?.[1] ?? `a signal (${description})`
}

export const make = Effect.gen(function*() {
  const executor = yield* CommandExecutor.CommandExecutor
  const fail = (message: string) => new Tool.ToolError({ tool: "bash", message })

  const execute = Effect.fn("Bash.execute")(function*(input: Input, context: Tool.ToolContext) {
    const timeout = input.timeout ?? defaultTimeout
    const output = outputBuffer(maxOutput)
    const command = Command.make("bash", "-c", script, "bash", input.command).pipe(
      Command.workingDirectory(context.cwd)
    )

    const run = Effect.gen(function*() {
      const child = yield* executor.start(command).pipe(
        Effect.mapError((error) => fail(`could not start bash: ${describeError(error, context.cwd)}`))
      )
      // Runs before the executor's own finalizer (which sends SIGTERM and waits for the exit).
      yield* Effect.addFinalizer(() => child.kill("SIGKILL").pipe(Effect.ignore))
      const reader = yield* child.stdout.pipe(
        Stream.runForEach((bytes) => Effect.sync(() => output.push(bytes))),
        Effect.ignore,
        Effect.fork
      )
      const exit = yield* child.exitCode.pipe(Effect.either)
      // Whatever the shell left running in its group would hold the pipe open.
      yield* child.kill("SIGKILL").pipe(Effect.ignore)
      yield* Fiber.join(reader)
      return exit
    }).pipe(Effect.scoped)

    const outcome = yield* run.pipe(Effect.timeoutOption(Duration.millis(timeout)))
    const text = output.text()
    const shown = text === "" ? "(no output)" : text.endsWith("\n") ? text.slice(0, -1) : text
    return Option.match(outcome, {
      onNone: () => ({
        content: `${shown}\n\n[Timed out after ${timeout} ms: the command and every process it started were killed.]`
      }),
      onSome: (exit) =>
        exit._tag === "Right"
          ? { content: `${shown}\nexit code: ${exit.right}` }
          : { content: `${shown}\n[bash was killed by ${signalOf(exit.left)}; no exit code]` }
    })
  })

  return Tool.make({
    name: "bash",
    description,
    input: Input,
    readOnly: false,
    permission: (input) => ({ _tag: "Command", tool: "Bash", command: input.command }),
    execute
  })
})
