/**
 * How weft writes to the terminal: results to stdout, everything else — warnings, errors —
 * to stderr, one line each, and no ANSI styling when the stream is not a terminal.
 */
import { Terminal } from "@effect/platform"
import { Cause, Effect, FiberRef, HashSet, Logger } from "effect"
import type { Console, LogLevel } from "effect"
import { conciseIn } from "./ParseReason.js"

/** Writes to stdout, waiting until the write is taken, so a slow reader holds the producer back. */
export const text = (text: string): Effect.Effect<void, never, Terminal.Terminal> =>
  text.length === 0 ? Effect.void : Terminal.Terminal.pipe(
    Effect.flatMap((terminal) => terminal.display(text)),
    // stdout closed under us (`weft … | head`): nobody is left to tell.
    Effect.catchAll(() => Effect.interrupt)
  )

export const lines = (output: ReadonlyArray<string>) =>
  output.length === 0 ? Effect.void : text(output.join("\n") + "\n")

export const line = (text: string) => lines([text])

const ANSI = /\u001b\[[0-9;]*m/g

export const stripAnsi = (text: string): string => text.replace(ANSI, "")

/**
 * A Console that drops ANSI styling from `log` (stdout) and/or `error` (stderr): @effect/cli
 * styles its help and its errors, which is noise in a pipe or a file.
 */
export const plainConsole = (
  console: Console.Console,
  plain: { readonly stdout: boolean; readonly stderr: boolean }
): Console.Console => {
  const strip = (args: ReadonlyArray<unknown>) => args.map((a) => (typeof a === "string" ? stripAnsi(a) : a))
  return {
    ...console,
    log: (...args) => (plain.stdout ? console.log(...strip(args)) : console.log(...args)),
    error: (...args) => (plain.stderr ? console.error(...strip(args)) : console.error(...args))
  }
}

const labels: Partial<Record<LogLevel.LogLevel["_tag"], string>> = {
  Fatal: "error",
  Error: "error",
  Warning: "warning",
  Info: "info",
  Debug: "debug",
  Trace: "trace"
}

const messageText = (message: unknown): string =>
  Array.isArray(message) ? message.map(messageText).join(" ") : typeof message === "string" ? message : String(message)

/**
 * One line per log entry on stderr: `weft: warning: …`, a parse tree in it cut to its end
 * (see `ParseReason`); a cause, if any, only at debug and below.
 */
export const stderrLogger = (write: (line: string) => void): Logger.Logger<unknown, void> =>
  Logger.make(({ cause, logLevel, message }) => {
    write(`weft: ${labels[logLevel._tag] ?? logLevel.label.toLowerCase()}: ${conciseIn(messageText(message))}`)
    if (!Cause.isEmpty(cause) && (logLevel._tag === "Debug" || logLevel._tag === "Trace")) {
      write(Cause.pretty(cause))
    }
  })

/** Runs `effect` with its warnings collected instead of printed, to be summed up by the caller. */
export const collectingWarnings = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const warnings: Array<string> = []
    const collector = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") warnings.push(messageText(message))
    })
    return Effect.locally(effect, FiberRef.currentLoggers, HashSet.make(collector)).pipe(
      Effect.map((result) => [result, warnings as ReadonlyArray<string>] as const)
    )
  })
