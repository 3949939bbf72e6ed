/**
 * A mock of the Anthropic Messages API on 127.0.0.1, for testing a model client over real
 * HTTP: each `POST /v1/messages` takes the next reply of a script.
 *
 * A response is streamed as Server-Sent Events exactly as the API streams it —
 * `message_start` (empty content, input and cache usage, `output_tokens: 1`), `ping`, per
 * block `content_block_start` / `content_block_delta` (text, tool input JSON split
 * mid-token, thinking, signature) / `content_block_stop`, `message_delta` (stop reason,
 * output tokens), `message_stop` — or answered as JSON when the request does not stream.
 * A reply may also be an HTTP error (with an optional `retry-after`), an SSE `error` event
 * after some deltas, a connection dropped after some deltas, or a hang after some deltas
 * (for cancellation: `awaitDisconnects` sees the client close the connection).
 *
 * The API key travels as `x-api-key` or as `Authorization: Bearer` (what the SDK sends for
 * API version 2026-10-21); a missing key, or the key `"bad"`, is a 401, and a missing
 * `anthropic-version` a 400, as the API answers — none of them uses up a reply.
 */
import type { Scope } from "effect"
import { Effect, Either, Schema } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import type { Json } from "../Json.js"
import type { AssistantBlock, StopReason, Usage } from "../Messages.js"
import { emptyUsage } from "../Messages.js"

export interface ResponseReply {
  readonly _tag: "Response"
  readonly content: ReadonlyArray<AssistantBlock>
  readonly stop_reason: StopReason | null
  readonly usage: Usage
  readonly id: string | undefined
  /** Characters per text, thinking and tool-input delta. */
  readonly chunkSize: number
}

export interface HttpErrorReply {
  readonly _tag: "HttpError"
  readonly status: number
  readonly type: string
  readonly message: string
  /** The `retry-after` header, in seconds, as the API sends it. */
  readonly retryAfter: string | undefined
}

/** The response's first `afterDeltas` deltas, then an SSE `event: error`, then the end of the body. */
export interface ErrorEventReply {
  readonly _tag: "ErrorEvent"
  readonly response: ResponseReply
  readonly afterDeltas: number
  readonly type: string
  readonly message: string
}

/** The response's first `afterDeltas` deltas, then the connection is destroyed. */
export interface DropReply {
  readonly _tag: "Drop"
  readonly response: ResponseReply
  readonly afterDeltas: number
}

/** The response's first `afterDeltas` deltas, then nothing until the client goes away. */
export interface HangReply {
  readonly _tag: "Hang"
  readonly response: ResponseReply
  readonly afterDeltas: number
}

export type Reply = ResponseReply | HttpErrorReply | ErrorEventReply | DropReply | HangReply

export const response = (
  content: ReadonlyArray<AssistantBlock>,
  options: {
    readonly stop_reason?: StopReason | null
    readonly usage?: Partial<Usage>
    readonly id?: string
    readonly chunkSize?: number
  } = {}
): ResponseReply => ({
  _tag: "Response",
  content,
  stop_reason: options.stop_reason === undefined
    ? content.some((block) => block.type === "tool_use") ? "tool_use" : "end_turn"
    : options.stop_reason,
  usage: { ...emptyUsage, input_tokens: 10, output_tokens: 5, ...options.usage },
  id: options.id,
  chunkSize: options.chunkSize ?? 4
})

export const httpError = (
  status: number,
  type: string,
  message: string,
  options: { readonly retryAfter?: string } = {}
): HttpErrorReply => ({ _tag: "HttpError", status, type, message, retryAfter: options.retryAfter })

export const errorEvent = (
  reply: ResponseReply,
  afterDeltas: number,
  type: string,
  message: string
): ErrorEventReply => ({ _tag: "ErrorEvent", response: reply, afterDeltas, type, message })

export const drop = (reply: ResponseReply, afterDeltas: number): DropReply => ({
  _tag: "Drop",
  response: reply,
  afterDeltas
})

export const hang = (reply: ResponseReply, afterDeltas: number): HangReply => ({
  _tag: "Hang",
  response: reply,
  afterDeltas
})

export interface ReceivedRequest {
  readonly method: string
  readonly path: string
  /** Lower-case names, as node gives them. */
  readonly headers: Readonly<Record<string, string>>
  /** The JSON body, or the raw text when it is not JSON. */
  readonly body: unknown
}

export interface MockMessagesApi {
  /** The base URL to give the client: `http://127.0.0.1:<port>`. */
  readonly url: string
  /** Every request received so far, rejected ones included, in order. */
  readonly requests: Effect.Effect<ReadonlyArray<ReceivedRequest>>
  /** How many replies the client closed before they ended. */
  readonly disconnects: Effect.Effect<number>
  /** Waits until the client has closed `n` replies before they ended. */
  readonly awaitDisconnects: (n: number) => Effect.Effect<void>
}

// ---------------------------------------------------------------------------------------------
// The event stream of a response

interface Frame {
  readonly event: string
  readonly data: Json
  readonly delta: boolean
}

const chunks = (text: string, size: number): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

const frame = (event: string, data: { readonly [key: string]: Json }, delta = false): Frame => ({
  event,
  data: { type: event, ...data },
  delta
})

const blockFrames = (block: AssistantBlock, index: number, size: number): Array<Frame> => {
  const delta = (d: { readonly [key: string]: Json }) => frame("content_block_delta", { index, delta: d }, true)
  const start = (content_block: { readonly [key: string]: Json }) =>
    frame("content_block_start", { index, content_block })
  const stop = frame("content_block_stop", { index })
  switch (block.type) {
    case "text":
      return [
        start({ type: "text", text: "" }),
        ...chunks(block.text, size).map((text) => delta({ type: "text_delta", text })),
        stop
      ]
    case "thinking":
      return [
        start({ type: "thinking", thinking: "", signature: "" }),
        ...chunks(block.thinking, size).map((thinking) => delta({ type: "thinking_delta", thinking })),
        delta({ type: "signature_delta", signature: block.signature }),
        stop
      ]
    case "redacted_thinking":
      return [start({ type: "redacted_thinking", data: block.data }), stop]
    case "tool_use": {
      // As the API does: an empty partial_json first, then the compact JSON in pieces that
      // split keys and values; an empty input is the empty string alone.
      const json = JSON.stringify(block.input)
      const pieces = json === "{}" ? [] : chunks(json, size)
      return [
        start({ type: "tool_use", id: block.id, name: block.name, input: {} }),
        ...["", ...pieces].map((partial_json) => delta({ type: "input_json_delta", partial_json })),
        stop
      ]
    }
  }
}

const messageId = (reply: ResponseReply, n: number) => reply.id ?? `msg_mock_${n}`

const frames = (reply: ResponseReply, model: string, n: number): Array<Frame> => [
  frame("message_start", {
    message: {
      id: messageId(reply, n),
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: reply.usage.input_tokens,
        cache_creation_input_tokens: reply.usage.cache_creation_input_tokens,
        cache_read_input_tokens: reply.usage.cache_read_input_tokens,
        output_tokens: 1,
        service_tier: "standard"
      }
    }
  }),
  frame("ping", {}),
  ...reply.content.flatMap((block, index) => blockFrames(block, index, reply.chunkSize)),
  frame("message_delta", {
    delta: { stop_reason: reply.stop_reason, stop_sequence: null },
    usage: { output_tokens: reply.usage.output_tokens }
  }),
  frame("message_stop", {})
]

/** One SSE event as the API writes it: an `event:` line, a compact JSON `data:` line, a blank line. */
const sse = (event: string, data: Json) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

/** The frames up to and including the `n`-th delta (all of them when there are fewer). */
const untilDeltas = (all: ReadonlyArray<Frame>, n: number): ReadonlyArray<Frame> => {
  let seen = 0
  const at = all.findIndex((f) => f.delta && ++seen === n)
  return n <= 0 ? all.slice(0, 2) : at < 0 ? all : all.slice(0, at + 1)
}

// ---------------------------------------------------------------------------------------------
// The server

const decodeBody = Schema.decodeUnknownEither(Schema.parseJson())

const errorBody = (type: string, message: string) => JSON.stringify({ type: "error", error: { type, message } })

const sendError = (res: Http.ServerResponse, status: number, type: string, message: string, retryAfter?: string) => {
  res.writeHead(status, {
    "content-type": "application/json",
    "request-id": "req_mock",
    ...(retryAfter === undefined ? {} : { "retry-after": retryAfter })
  })
  res.end(errorBody(type, message))
}

const keyOf = (headers: Http.IncomingHttpHeaders): string | undefined => {
  const key = headers["x-api-key"]
  if (typeof key === "string" && key !== "") return key
  const authorization = headers["authorization"]
  return authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : undefined
}

export const make = (script: ReadonlyArray<Reply>): Effect.Effect<MockMessagesApi, never, Scope.Scope> =>
  Effect.gen(function*() {
    const requests: Array<ReceivedRequest> = []
    const waiters = new Set<() => void>()
    let disconnects = 0
    let next = 0

    const disconnected = () => {
      disconnects++
      for (const waiter of waiters) waiter()
    }

    const stream = (
      res: Http.ServerResponse,
      drop: () => void,
      reply: Exclude<Reply, HttpErrorReply>,
      model: string,
      n: number
    ) => {
      const all = frames(reply._tag === "Response" ? reply : reply.response, model, n)
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "request-id": `req_mock_${n}`
      })
      const sent = reply._tag === "Response" ? all : untilDeltas(all, reply.afterDeltas)
      for (const f of sent.slice(0, -1)) res.write(sse(f.event, f.data))
      const last = sent[sent.length - 1]!
      switch (reply._tag) {
        case "Response":
          return res.end(sse(last.event, last.data))
        case "ErrorEvent":
          res.write(sse(last.event, last.data))
          return res.end(sse("error", { type: "error", error: { type: reply.type, message: reply.message } }))
        case "Drop":
          // Once what was sent has left, so the client reads it before the connection breaks.
          return res.write(sse(last.event, last.data), () => drop())
        case "Hang":
          return res.write(sse(last.event, last.data))
      }
    }

    const answer = (req: Http.IncomingMessage, res: Http.ServerResponse, drop: () => void, text: string) => {
      const parsed = decodeBody(text)
      const body = Either.getOrElse(parsed, () => text)
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
      }
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers, body })

      if (req.method !== "POST" || req.url !== "/v1/messages") {
        return sendError(res, 404, "not_found_error", "Not found")
      }
      const key = keyOf(req.headers)
      if (key === undefined) return sendError(res, 401, "authentication_error", "x-api-key header is required")
      if (key === "bad") return sendError(res, 401, "authentication_error", "invalid x-api-key")
      if (req.headers["anthropic-version"] === undefined) {
        return sendError(res, 400, "invalid_request_error", "anthropic-version: header is required")
      }
      if (Either.isLeft(parsed) || typeof body !== "object" || body === null) {
        return sendError(res, 400, "invalid_request_error", "the request body is not a JSON object")
      }

      const n = ++next
      const reply = script[n - 1]
      if (reply === undefined) {
        return sendError(
          res,
          400,
          "invalid_request_error",
          `mock: the script has ${script.length} reply(s) and request ${n} asked for another`
        )
      }
      if (reply._tag === "HttpError") return sendError(res, reply.status, reply.type, reply.message, reply.retryAfter)

      const fields = body as { readonly model?: unknown; readonly stream?: unknown }
      const model = typeof fields.model === "string" ? fields.model : "unknown"
      if (fields.stream === true) return stream(res, drop, reply, model, n)
      if (reply._tag !== "Response") return drop()
      res.writeHead(200, { "content-type": "application/json", "request-id": `req_mock_${n}` })
      res.end(JSON.stringify({
        id: messageId(reply, n),
        type: "message",
        role: "assistant",
        model,
        content: reply.content,
        stop_reason: reply.stop_reason,
        stop_sequence: null,
        usage: reply.usage
      }))
    }

    const server = Http.createServer((req, res) => {
      let ended = false
      let dropped = false
      res.on("finish", () => (ended = true))
      // A reply that closes before it ended, and not because the script dropped it: the client went away.
      res.on("close", () => !ended && !dropped && disconnected())
      const drop = () => {
        dropped = true
        res.destroy()
      }
      const parts: Array<Buffer> = []
      req.on("data", (part: Buffer) => parts.push(part))
      req.on("end", () => answer(req, res, drop, Buffer.concat(parts).toString("utf8")))
    })

    const url = yield* Effect.acquireRelease(
      Effect.async<string>((resume) => {
        server.listen(0, "127.0.0.1", () => {
          const address = server.address() as AddressInfo
          resume(Effect.succeed(`http://127.0.0.1:${address.port}`))
        })
      }),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )

    return {
      url,
      requests: Effect.sync(() => [...requests]),
      disconnects: Effect.sync(() => disconnects),
      awaitDisconnects: (n) =>
        Effect.async<void>((resume) => {
          const check = () => {
            if (disconnects < n) return
            waiters.delete(check)
            resume(Effect.void)
          }
          waiters.add(check)
          check()
          return Effect.sync(() => waiters.delete(check))
        })
    }
  })
