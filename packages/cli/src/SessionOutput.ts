/**
 * What a running session shows, in the three output formats of `weft` / `weft -p`:
 *
 * - `text`: the main agent's answer streamed to stdout as it arrives; a compact line per tool
 *   call, subagent and failure on stderr (dimmed on a terminal); a spinner on stderr while the
 *   model is thinking (a terminal only).
 * - `json`: nothing while it runs; one result object on stdout at the end.
 * - `stream-json`: every event on stdout as it is logged (the log's own JSON line, under
 *   `event`), the main agent's text deltas, then the result object — one JSON value a line.
 */
import type { Envelope } from "@weft/kernel/Envelope"
import { lineCodec } from "@weft/kernel/EventCodec"
import type { Usage } from "@weft/kernel/Messages"
import type { ModelEvent } from "@weft/kernel/ModelClient"
import { Effect, Either, Fiber, Option, Ref, Schedule } from "effect"
import * as EventSummary from "./EventSummary.js"
import type { OutputFormat } from "./RootCommand.js"

export interface Sink {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
}

export interface Result {
  readonly sessionId: string
  readonly text: string
  readonly error?: string
  readonly turns: number
  readonly durationMs: number
  readonly usage: Usage
  readonly costUsd: number | null
  readonly stopReason: string | null
}

export interface Options {
  readonly format: OutputFormat
  readonly sink: Sink
  /** Dim tool lines and show a spinner: stderr is a terminal and colours are allowed. */
  readonly color: boolean
  readonly spinner: boolean
  /** Print a failed turn's error on stderr (interactive); in print mode the command reports it. */
  readonly reportErrors: boolean
}

const DIM = "\u001b[2m"
const RESET = "\u001b[0m"
const CLEAR_LINE = "\r\u001b[2K"
const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/** The compact line for an event worth showing while a session runs, or none. */
export const progressLine = (envelope: Envelope): string | undefined => {
  const event = envelope.event
  const who = envelope.agentId === "main" ? "" : `[${envelope.agentId}] `
  switch (event._tag) {
    case "ModelResponded":
      return event.content.flatMap((block) =>
        block.type === "tool_use" ? [`● ${who}${toolCall(block.name, block.input)}`] : []
      )
        .join("\n") || undefined
    case "PermissionDecided":
      return event.behavior === "deny" ? `  ⎿ ${who}denied: ${EventSummary.oneLine(event.reason, 100)}` : undefined
    case "PermissionAnswered":
      return event.answer === "deny" ? `  ⎿ ${who}denied by you` : undefined
    case "ToolCallCompleted":
      return event.tool === "task" ? undefined : `  ⎿ ${who}${EventSummary.summary(event)}`
    case "SubagentCompleted":
      return `  ⎿ ${EventSummary.summary(event)}`
    case "ModelFailed":
      // A final failure is the turn's error, told once at its end; a retry is news now.
      return event.retryInMs === undefined ? undefined : `  ! ${who}${EventSummary.summary(event)}`
    case "ContextCompacted":
      return `  ⎿ ${who}older turns summarised (${EventSummary.summary(event)})`
    case "MemoryExtracted":
      return event.proposals.length === 0
        ? undefined
        : `  ⎿ ${who}remembered (implicit): ${EventSummary.oneLine(event.proposals.map((p) => p.text).join("; "), 100)}`
    case "BudgetExhausted":
      return `  ! ${who}budget: ${EventSummary.summary(event)}`
    default:
      return undefined
  }
}

const toolCall = (name: string, input: unknown): string => {
  const fields = input !== null && typeof input === "object" ? (input as Record<string, unknown>) : {}
  const main = ["command", "path", "pattern", "description", "file_path"].map((k) => fields[k]).find((v) =>
    typeof v === "string"
  )
  return `${name}(${main === undefined ? "" : EventSummary.oneLine(String(main), 80)})`
}

export const resultObject = (result: Result) => ({
  type: "result",
  subtype: result.error === undefined ? "success" : "error",
  is_error: result.error !== undefined,
  result: result.text,
  ...(result.error === undefined ? {} : { error: result.error }),
  session_id: result.sessionId,
  num_turns: result.turns,
  duration_ms: result.durationMs,
  stop_reason: result.stopReason,
  usage: result.usage,
  total_cost_usd: result.costUsd
})

export const make = (options: Options) =>
  Effect.gen(function*() {
    const { format, sink } = options
    const spinner = yield* Ref.make<Option.Option<Fiber.RuntimeFiber<unknown>>>(Option.none())
    // Whether the answer's last streamed character ended a line, so stderr lines start on their own.
    const atLineStart = yield* Ref.make(true)
    // Whether stdout alone ends a line: a new response's text starts on a line of its own there.
    const stdoutAtLineStart = yield* Ref.make(true)
    const needsBreak = yield* Ref.make(false)

    const stopSpinner = Ref.getAndSet(spinner, Option.none()).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.void,
        onSome: (fiber) => Fiber.interrupt(fiber).pipe(Effect.zipRight(Effect.sync(() => sink.stderr(CLEAR_LINE))))
      }))
    )

    const startSpinner = Effect.gen(function*() {
      if (!options.spinner || format !== "text") return
      yield* stopSpinner
      let frame = 0
      const fiber = yield* Effect.sync(() => sink.stderr(`${CLEAR_LINE}${FRAMES[frame++ % FRAMES.length]} thinking…`))
        .pipe(
          Effect.repeat(Schedule.spaced("80 millis")),
          Effect.forkDaemon
        )
      yield* Ref.set(spinner, Option.some(fiber))
    })

    const info = (line: string) =>
      Effect.gen(function*() {
        const fresh = yield* Ref.getAndSet(atLineStart, true)
        sink.stderr(`${fresh ? "" : "\n"}${options.color ? `${DIM}${line}${RESET}` : line}\n`)
      })

    /** Each event as it is logged. */
    const onAppend = (envelopes: ReadonlyArray<Envelope>) =>
      Effect.forEach(envelopes, (envelope) =>
        Effect.gen(function*() {
          if (format === "stream-json") {
            const line = lineCodec.encode(envelope)
            if (Either.isRight(line)) sink.stdout(`{"type":"event","event":${line.right}}\n`)
            return
          }
          if (format !== "text") return
          // The memory pass follows the answer at once: no spinner over it, and no new line for it on stdout.
          if (
            envelope.event._tag === "ModelRequested" && envelope.agentId === "main" &&
            envelope.event.purpose !== "remember"
          ) {
            // A new response starts on a line of its own.
            if (!(yield* Ref.get(stdoutAtLineStart))) yield* Ref.set(needsBreak, true)
            return yield* startSpinner
          }
          if (envelope.event._tag === "ModelResponded" || envelope.event._tag === "ModelFailed") yield* stopSpinner
          const line = progressLine(envelope)
          if (line !== undefined) yield* info(line)
        }), { discard: true })

    /** The model's answer as it streams in: the main agent's text goes to stdout at once. */
    const onModelEvent = (agentId: string, event: ModelEvent) =>
      Effect.gen(function*() {
        if (agentId !== "main" || event._tag !== "TextDelta") return
        if (format === "stream-json") {
          sink.stdout(`${JSON.stringify({ type: "text_delta", agent: agentId, text: event.text })}\n`)
          return
        }
        if (format !== "text") return
        yield* stopSpinner
        if (yield* Ref.getAndSet(needsBreak, false)) sink.stdout("\n")
        sink.stdout(event.text)
        yield* Ref.set(atLineStart, event.text.endsWith("\n"))
        yield* Ref.set(stdoutAtLineStart, event.text.endsWith("\n"))
      })

    /** The end of a turn: a newline after streamed text, or the result object. */
    const finish = (result: Result) =>
      Effect.gen(function*() {
        yield* stopSpinner
        if (format === "text") {
          yield* Ref.set(atLineStart, true)
          if (!(yield* Ref.getAndSet(stdoutAtLineStart, true))) sink.stdout("\n")
          if (result.error !== undefined && options.reportErrors) sink.stderr(`weft: ${result.error}\n`)
          return
        }
        sink.stdout(`${JSON.stringify(resultObject(result))}\n`)
      })

    return { onAppend, onModelEvent, finish, stopSpinner }
  })

export type SessionOutput = Effect.Effect.Success<ReturnType<typeof make>>
