/**
 * Lines from the person at the terminal, for an interactive session: one readline interface
 * on stdin for the whole session (its questions included), so keys are read once.
 *
 * - `readLine(prompt)`: the next line, or none once the input ends (Ctrl-D).
 * - `interruptible(effect)`: runs a turn; Ctrl-C while it runs interrupts it (the loop records
 *   how it ended) and the session goes on. Ctrl-C at the prompt only reminds how to leave.
 */
import { Effect, Exit, Fiber, Option, Runtime } from "effect"
import * as readline from "node:readline"

export interface LineReader {
  readonly readLine: (prompt: string) => Effect.Effect<Option.Option<string>>
  readonly interruptible: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<Option.Option<A>, E>
}

export const make = Effect.acquireRelease(
  Effect.sync(() => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true })
    let closed = false
    rl.on("close", () => {
      closed = true
    })
    // At the prompt, Ctrl-C clears the line; during a turn `interruptible` replaces this.
    const idle = () => {
      process.stdout.write("\n(Ctrl-D or /exit ends the session)\n")
      rl.prompt()
    }
    rl.on("SIGINT", idle)
    return { rl, idle, isClosed: () => closed }
  }),
  ({ rl }) => Effect.sync(() => rl.close())
).pipe(Effect.map(({ idle, isClosed, rl }): LineReader => ({
  readLine: (prompt) =>
    Effect.async<Option.Option<string>>((resume) => {
      if (isClosed()) return resume(Effect.succeed(Option.none()))
      const onLine = (line: string) => {
        rl.off("close", onClose)
        resume(Effect.succeed(Option.some(line)))
      }
      const onClose = () => {
        rl.off("line", onLine)
        resume(Effect.succeed(Option.none()))
      }
      rl.once("line", onLine)
      rl.once("close", onClose)
      rl.setPrompt(prompt)
      rl.prompt()
      return Effect.sync(() => {
        rl.off("line", onLine)
        rl.off("close", onClose)
      })
    }),
  interruptible: (effect) =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(effect)
      const runFork = Runtime.runFork(yield* Effect.runtime<never>())
      const onInterrupt = () => {
        process.stderr.write("\n^C interrupting…\n")
        runFork(Fiber.interrupt(fiber))
      }
      rl.off("SIGINT", idle)
      rl.on("SIGINT", onInterrupt)
      const exit = yield* Fiber.await(fiber).pipe(
        Effect.ensuring(Effect.sync(() => {
          rl.off("SIGINT", onInterrupt)
          rl.on("SIGINT", idle)
        }))
      )
      if (Exit.isSuccess(exit)) return Option.some(exit.value)
      if (Exit.isInterrupted(exit)) {
        process.stderr.write("interrupted\n")
        return Option.none()
      }
      return yield* Effect.failCause(exit.cause)
    })
})))
