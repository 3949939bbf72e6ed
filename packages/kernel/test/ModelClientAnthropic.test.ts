import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Either, Fiber, Random, Stream, TestClock, TestServices } from "effect"
import * as Net from "node:net"
import type { AssistantBlock, MessageParam, ModelRequest } from "../src/Messages.js"
import * as ModelClient from "../src/ModelClient.js"
import * as ModelClientAnthropic from "../src/ModelClientAnthropic.js"
import * as Mock from "../src/testing/MockMessagesApi.js"

const request: ModelRequest = {
  model: "claude-test",
  system: "You are weft.",
  messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
  tools: [],
  max_tokens: 1024
}

const anthropic = (url: string, options: Partial<ModelClientAnthropic.Options> = {}) =>
  ModelClientAnthropic.makeAnthropic({
    apiKey: "test-key",
    baseURL: url,
    initialDelayMs: 8,
    maxDelayMs: 1000,
    ...options
  })

const events = (client: ModelClient.Service, req: ModelRequest = request) =>
  Stream.runCollect(client.stream(req)).pipe(Effect.map(Chunk.toReadonlyArray))

/** Every element of the stream, its failure last. */
const outcome = (client: ModelClient.Service, req: ModelRequest = request) =>
  client.stream(req).pipe(Stream.either, Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

const ofTag = <T extends ModelClient.ModelEvent["_tag"]>(all: ReadonlyArray<ModelClient.ModelEvent>, tag: T) =>
  all.filter((e): e is Extract<ModelClient.ModelEvent, { _tag: T }> => e._tag === tag)

const completed = (all: ReadonlyArray<ModelClient.ModelEvent>) => {
  const last = all[all.length - 1]
  assert.strictEqual(last?._tag, "Completed")
  return (last as Extract<ModelClient.ModelEvent, { _tag: "Completed" }>).response
}

const bodies = (api: Mock.MockMessagesApi) =>
  Effect.map(api.requests, (requests) => requests.map((r) => r.body as Record<string, any>))

/** A fixed jitter: every draw is half of the ceiling. */
const halfJitter = Effect.withRandom(Random.fixed([0.5]))

/** A port on 127.0.0.1 nobody listens on. */
const closedPort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

describe("ModelClientAnthropic", () => {
  it.scoped("streamed text arrives as several TextDelta events, then Completed with the content and usage", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([
        Mock.response([{ type: "text", text: "Hello from the mock Messages API!" }], {
          id: "msg_01",
          usage: { input_tokens: 12, output_tokens: 9, cache_creation_input_tokens: 300, cache_read_input_tokens: 2048 }
        })
      ])
      const all = yield* events(yield* anthropic(api.url))
      const deltas = ofTag(all, "TextDelta")
      assert.isAbove(deltas.length, 2)
      assert.strictEqual(deltas.map((d) => d.text).join(""), "Hello from the mock Messages API!")
      assert.isTrue(deltas.every((d) => d.index === 0))
      assert.deepStrictEqual(completed(all), {
        id: "msg_01",
        model: "claude-test",
        content: [{ type: "text", text: "Hello from the mock Messages API!" }],
        stop_reason: "end_turn",
        usage: { input_tokens: 12, output_tokens: 9, cache_creation_input_tokens: 300, cache_read_input_tokens: 2048 }
      })
    }))

  it.scoped("create answers with the response that stream completes with", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([
        Mock.response([{ type: "text", text: "whole" }], { id: "msg_02", stop_reason: "max_tokens" })
      ])
      const response = yield* (yield* anthropic(api.url)).create(request)
      assert.deepStrictEqual([response.id, response.content, response.stop_reason], [
        "msg_02",
        [{ type: "text", text: "whole" }],
        "max_tokens"
      ])
    }))

  it.scoped("a tool call's input is assembled from split input_json_delta pieces; the next request carries the tool_result", () =>
    Effect.gen(function*() {
      const input = { path: "src/main.ts", lines: [1, 20], options: { follow: true, note: "a \"quoted\" {brace}" } }
      const api = yield* Mock.make([
        Mock.response([
          { type: "text", text: "Let me look." },
          { type: "tool_use", id: "toolu_01", name: "read", input },
          { type: "tool_use", id: "toolu_02", name: "glob", input: {} }
        ], { chunkSize: 3 }),
        Mock.response([{ type: "text", text: "It defines main." }])
      ])
      const client = yield* anthropic(api.url)
      const first = yield* events(client)
      assert.deepStrictEqual(
        ofTag(first, "ToolUseStarted").map((e) => [e.index, e.id, e.name]),
        [[1, "toolu_01", "read"], [2, "toolu_02", "glob"]]
      )
      const response = completed(first)
      assert.strictEqual(response.stop_reason, "tool_use")
      assert.deepStrictEqual(response.content, [
        { type: "text", text: "Let me look." },
        { type: "tool_use", id: "toolu_01", name: "read", input },
        { type: "tool_use", id: "toolu_02", name: "glob", input: {} }
      ])

      const messages: ReadonlyArray<MessageParam> = [
        ...request.messages,
        { role: "assistant", content: response.content },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_01", content: "export const main = 1" },
            { type: "tool_result", tool_use_id: "toolu_02", content: "src/main.ts", is_error: false }
          ]
        }
      ]
      const second = yield* client.create({ ...request, messages })
      assert.deepStrictEqual(second.content, [{ type: "text", text: "It defines main." }])

      const sent = (yield* bodies(api))[1]!
      assert.deepStrictEqual(sent.messages[1].content[1], { type: "tool_use", id: "toolu_01", name: "read", input })
      assert.deepStrictEqual(sent.messages[2].content[0], {
        type: "tool_result",
        tool_use_id: "toolu_01",
        content: "export const main = 1"
      })
      assert.strictEqual(sent.messages[2].content[1].tool_use_id, "toolu_02")
    }))

  it.scoped("thinking: the request asks for it, deltas stream, and thinking blocks come back with their signatures verbatim", () =>
    Effect.gen(function*() {
      const content: ReadonlyArray<AssistantBlock> = [
        {
          type: "thinking",
          thinking: "The user greets me; a short answer will do.",
          signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"
        },
        { type: "redacted_thinking", data: "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw" },
        { type: "text", text: "Hello!" }
      ]
      const api = yield* Mock.make([Mock.response(content), Mock.response([{ type: "text", text: "again" }])])
      const client = yield* anthropic(api.url)
      const thinking = { type: "enabled", budget_tokens: 2048 } as const
      const all = yield* events(client, { ...request, thinking })
      assert.strictEqual(
        ofTag(all, "ThinkingDelta").map((d) => d.thinking).join(""),
        "The user greets me; a short answer will do."
      )
      const response = completed(all)
      assert.deepStrictEqual(response.content, content)

      yield* client.create({
        ...request,
        thinking,
        messages: [...request.messages, { role: "assistant", content: response.content }, {
          role: "user",
          content: [{ type: "text", text: "and again" }]
        }]
      })
      const [first, second] = yield* bodies(api)
      assert.deepStrictEqual(first!.thinking, thinking)
      assert.deepStrictEqual(second!.messages[1].content.slice(0, 2), content.slice(0, 2))
    }))

  it.scopedLive("a 529, a 503 and a 429 are retried with exponential backoff and full jitter, each attempt visible", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([
        Mock.httpError(529, "overloaded_error", "Overloaded"),
        Mock.httpError(503, "api_error", "Service unavailable"),
        Mock.httpError(429, "rate_limit_error", "Too many requests"),
        Mock.response([{ type: "text", text: "made it" }])
      ])
      const all = yield* events(yield* anthropic(api.url)).pipe(halfJitter)
      const retries = ofTag(all, "Retrying")
      assert.deepStrictEqual(
        retries.map((r) => [r.attempt, r.error.type, r.error.status, r.error.retryable, r.delayMs]),
        [[1, "overloaded_error", 529, true, 4], [2, "api_error", 503, true, 8], [3, "rate_limit_error", 429, true, 16]]
      )
      assert.deepStrictEqual(completed(all).content, [{ type: "text", text: "made it" }])
      assert.strictEqual((yield* api.requests).length, 4)
    }))

  it.scoped("a retry-after header sets the wait before the next attempt", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([
        Mock.httpError(429, "rate_limit_error", "Too many requests", { retryAfter: "2" }),
        Mock.response([{ type: "text", text: "after the wait" }])
      ])
      const fiber = yield* Effect.fork(events(yield* anthropic(api.url)))
      // Wait (in real time) until the client sleeps on the test clock.
      while (Chunk.isEmpty(yield* TestClock.sleeps())) yield* TestServices.provideLive(Effect.sleep("5 millis"))
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* TestClock.sleeps()), [2000])
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual((yield* api.requests).length, 1)
      yield* TestClock.adjust("1 millis")
      const all = yield* Fiber.join(fiber)
      assert.deepStrictEqual(ofTag(all, "Retrying").map((r) => [r.attempt, r.delayMs]), [[1, 2000]])
      assert.deepStrictEqual(completed(all).content, [{ type: "text", text: "after the wait" }])
      assert.strictEqual((yield* api.requests).length, 2)
    }))

  it.scopedLive("a connection dropped mid-stream and an SSE error event are retried; Completed holds only the attempt that succeeded", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([
        Mock.drop(Mock.response([{ type: "text", text: "first try, cut short" }]), 2),
        Mock.errorEvent(Mock.response([{ type: "text", text: "second try" }]), 1, "overloaded_error", "Overloaded"),
        Mock.response([{ type: "text", text: "third time lucky" }])
      ])
      const all = yield* events(yield* anthropic(api.url))
      assert.deepStrictEqual(
        all.map((e) => e._tag === "TextDelta" ? "delta" : e._tag).filter((t, i, a) => t !== a[i - 1]),
        [
          "delta",
          "Retrying",
          "delta",
          "Retrying",
          "delta",
          "Completed"
        ]
      )
      const [dropped, overloaded] = ofTag(all, "Retrying")
      assert.strictEqual(dropped!.error.type, "connection_error")
      assert.deepStrictEqual([overloaded!.error.type, overloaded!.error.retryable], ["overloaded_error", true])
      assert.include(overloaded!.error.message, "Overloaded")
      assert.deepStrictEqual(completed(all).content, [{ type: "text", text: "third time lucky" }])
    }))

  it.scopedLive("retries are bounded: after maxRetries the stream fails with the last error", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([
        Mock.httpError(529, "overloaded_error", "Overloaded"),
        Mock.httpError(529, "overloaded_error", "Overloaded"),
        Mock.httpError(529, "overloaded_error", "Still overloaded"),
        Mock.response([{ type: "text", text: "never reached" }])
      ])
      const all = yield* outcome(yield* anthropic(api.url, { maxRetries: 2 }))
      assert.deepStrictEqual(
        all.map((e) => Either.isRight(e) ? e.right._tag : e.left._tag),
        ["Retrying", "Retrying", "ModelError"]
      )
      const error = all[2]!.pipe(Either.flip, Either.getOrThrow)
      assert.deepStrictEqual([error.type, error.status, error.retryable], ["overloaded_error", 529, true])
      assert.include(error.message, "Still overloaded")
      assert.strictEqual((yield* api.requests).length, 3)
    }))

  it.scopedLive("a refused connection is retried, then fails naming the base URL", () =>
    Effect.gen(function*() {
      const url = `http://127.0.0.1:${yield* closedPort}`
      const all = yield* outcome(yield* anthropic(url, { maxRetries: 1 }))
      assert.deepStrictEqual(all.map((e) => Either.isRight(e) ? e.right._tag : e.left.type), [
        "Retrying",
        "connection_error"
      ])
      const error = all[1]!.pipe(Either.flip, Either.getOrThrow)
      assert.include(error.message, `cannot reach the Anthropic API at ${url}`)
      assert.isTrue(error.retryable)
    }))

  it.scoped("a 400 is an invalid_request_error carrying the API's message, not retried", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([
        Mock.httpError(400, "invalid_request_error", "messages.0.content.0.text: text content blocks must be non-empty")
      ])
      const error = yield* Effect.flip((yield* anthropic(api.url)).create(request))
      assert.deepStrictEqual([error.type, error.status, error.retryable], ["invalid_request_error", 400, false])
      assert.strictEqual(
        error.message,
        "the API rejected the request (400): messages.0.content.0.text: text content blocks must be non-empty"
      )
      assert.strictEqual((yield* api.requests).length, 1)
    }))

  it.scoped("a rejected key is a 401 authentication_error that names ANTHROPIC_API_KEY, not retried", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([Mock.response([{ type: "text", text: "unused" }])])
      const error = yield* Effect.flip((yield* anthropic(api.url, { apiKey: "bad" })).create(request))
      assert.deepStrictEqual([error.type, error.status, error.retryable, error.message], [
        "authentication_error",
        401,
        false,
        "the API key was rejected (401): check ANTHROPIC_API_KEY"
      ])
      assert.strictEqual((yield* api.requests).length, 1)
    }))

  it.scoped("an empty key fails at once with the missing-key message, without a request", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([])
      const error = yield* Effect.flip((yield* anthropic(api.url, { apiKey: "" })).create(request))
      assert.deepStrictEqual([error.type, error.message], ["authentication_error", ModelClientAnthropic.missingKey])
      assert.strictEqual((yield* api.requests).length, 0)
    }))

  it.scoped("an unknown model is named in the error, with the API's message", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([Mock.httpError(404, "not_found_error", "model: claude-nope")])
      const error = yield* Effect.flip((yield* anthropic(api.url)).create({ ...request, model: "claude-nope" }))
      assert.deepStrictEqual([error.type, error.status, error.retryable, error.message], [
        "not_found_error",
        404,
        false,
        "unknown model \"claude-nope\": model: claude-nope"
      ])
    }))

  it.scopedLive("interrupting the stream mid-response aborts the HTTP request: the server sees the connection close", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([
        Mock.hang(Mock.response([{ type: "text", text: "a long answer, never finished" }]), 2)
      ])
      const client = yield* anthropic(api.url)
      const firstDelta = yield* Deferred.make<void>()
      const fiber = yield* client.stream(request).pipe(
        Stream.tap((e) => e._tag === "TextDelta" ? Deferred.succeed(firstDelta, undefined) : Effect.void),
        Stream.runDrain,
        Effect.fork
      )
      yield* Deferred.await(firstDelta)
      assert.strictEqual(yield* api.disconnects, 0)
      yield* Fiber.interrupt(fiber)
      yield* api.awaitDisconnects(1).pipe(Effect.timeoutFail({
        duration: "3 seconds",
        onTimeout: () => new Error("the server never saw the connection close")
      }))
      assert.strictEqual(yield* api.disconnects, 1)
    }))

  it.scoped("the request carries cache_control on the system prompt, the last tool, the last message and the previous user turn", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([Mock.response([{ type: "text", text: "ok" }])])
      const tool = (name: string) => ({ name, description: `${name} a file`, input_schema: { type: "object" } })
      yield* (yield* anthropic(api.url)).create({
        ...request,
        tools: [tool("read"), tool("write")],
        messages: [
          { role: "user", content: [{ type: "text", text: "first" }] },
          { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "read", input: { path: "a" } }] },
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: "t1", content: "A" }, { type: "text", text: "note" }]
          },
          {
            role: "assistant",
            content: [{ type: "thinking", thinking: "hm", signature: "sig" }, { type: "text", text: "done" }]
          },
          { role: "user", content: [{ type: "text", text: "second" }, { type: "text", text: "more" }] }
        ]
      })
      const [received] = yield* api.requests
      const body = received!.body as Record<string, any>
      const ephemeral = { type: "ephemeral" }
      assert.deepStrictEqual(body.system, [{ type: "text", text: "You are weft.", cache_control: ephemeral }])
      assert.deepStrictEqual(body.tools.map((t: any) => t.cache_control), [undefined, ephemeral])
      assert.deepStrictEqual(body.messages[4].content, [{ type: "text", text: "second" }, {
        type: "text",
        text: "more",
        cache_control: ephemeral
      }])
      assert.deepStrictEqual(body.messages[2].content[1], { type: "text", text: "note", cache_control: ephemeral })
      assert.strictEqual(JSON.stringify(body).split("cache_control").length - 1, 4)
      assert.isTrue(body.stream)
      assert.isDefined(received!.headers["anthropic-version"])
      assert.strictEqual(received!.headers["authorization"] ?? received!.headers["x-api-key"], "Bearer test-key")
    }))
})

describe("ModelClient.fromCreate", () => {
  it.effect("layerScripted streams one TextDelta per text block, then Completed", () =>
    Effect.gen(function*() {
      const client = yield* ModelClient.ModelClient
      const all = yield* events(client)
      assert.deepStrictEqual(all.map((e) => e._tag), ["TextDelta", "TextDelta", "Completed"])
      assert.deepStrictEqual(ofTag(all, "TextDelta").map((e) => [e.index, e.text]), [[0, "a"], [2, "b"]])
    }).pipe(Effect.provide(ModelClient.layerScripted([{
      content: [
        { type: "text", text: "a" },
        { type: "tool_use", id: "t", name: "read", input: {} },
        { type: "text", text: "b" }
      ]
    }]))))
})

describe("MockMessagesApi", () => {
  it.scoped("answers a request that does not stream with the message as JSON, and refuses a request without a key", () =>
    Effect.gen(function*() {
      const api = yield* Mock.make([Mock.response([{ type: "text", text: "plain" }], { id: "msg_json" })])
      const post = (headers: Record<string, string>) =>
        Effect.promise(() =>
          fetch(`${api.url}/v1/messages`, {
            method: "POST",
            headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
            body: JSON.stringify({ ...request, stream: false })
          }).then(async (res) => [res.status, (await res.json()) as Record<string, any>] as const)
        )
      const [unauthorized, refusal] = yield* post({})
      assert.deepStrictEqual([unauthorized, refusal.error.type], [401, "authentication_error"])
      const [status, message] = yield* post({ "x-api-key": "k" })
      assert.strictEqual(status, 200)
      assert.deepStrictEqual([message.id, message.content, message.stop_reason], [
        "msg_json",
        [{ type: "text", text: "plain" }],
        "end_turn"
      ])
    }))
})
