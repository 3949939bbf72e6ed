import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, ConfigProvider, Effect, Either, Fiber, Redacted, Schema, TestClock, TestServices } from "effect"
import * as fc from "fast-check"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Embedder from "../src/Embedder.js"
import { hashString } from "../src/internal/Hash.js"
import * as Tokenizer from "../src/Tokenizer.js"

const cosine = (a: Float32Array, b: Float32Array): number => {
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!
  return sum
}

const norm = (v: Float32Array): number => Math.sqrt(cosine(v, v))

// ---------------------------------------------------------------------------------------------
// A loopback OpenAI-compatible server, scripted request by request

interface Recorded {
  readonly method: string
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: { readonly model: string; readonly input: ReadonlyArray<string>; readonly dimensions?: number }
}

interface Reply {
  readonly status?: number
  readonly headers?: Record<string, string>
  /** Sent as it is when a string, as JSON otherwise; `hang` never answers. */
  readonly body?: unknown
  readonly hang?: boolean
}

/** A deterministic, not normalised embedding: `[length, 1, 2, …]` up to `dimensions`. */
const rawEmbedding = (text: string, dimensions: number): Array<number> =>
  Array.from({ length: dimensions }, (_, j) => (j === 0 ? text.length : j))

const ok = (request: Recorded, dimensions = 3): Reply => ({
  body: {
    object: "list",
    model: request.body.model,
    data: request.body.input.map((text, index) => ({
      object: "embedding",
      index,
      embedding: rawEmbedding(text, dimensions)
    }))
  }
})

const serve = (reply: (request: Recorded, n: number) => Reply) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Http.Server; readonly url: string; readonly requests: Array<Recorded> }>(
      (resume) => {
        const requests: Array<Recorded> = []
        const server = Http.createServer((req, res) => {
          const chunks: Array<Buffer> = []
          req.on("data", (chunk: Buffer) => chunks.push(chunk))
          req.on("end", () => {
            const recorded: Recorded = {
              method: req.method ?? "",
              url: req.url ?? "",
              headers: req.headers,
              body: JSON.parse(Buffer.concat(chunks).toString("utf8"))
            }
            requests.push(recorded)
            const answer = reply(recorded, requests.length - 1)
            if (answer.hang === true) return
            res.writeHead(answer.status ?? 200, { "content-type": "application/json", ...answer.headers })
            res.end(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body))
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as Net.AddressInfo).port
          resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, requests }))
        })
      }
    ),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const http = (options: Embedder.HttpOptions) => Embedder.makeHttp(options).pipe(Effect.provide(FetchHttpClient.layer))

const failure = <A>(effect: Effect.Effect<A, Embedder.EmbedderError>) =>
  Effect.flip(effect).pipe(Effect.map((error) => {
    assert.strictEqual(error._tag, "EmbedderError")
    return error
  }))

/** Polls (in real time, for at most a second) until `ready` holds; false if it never does. */
const eventually = (ready: Effect.Effect<boolean>, tries = 200): Effect.Effect<boolean> =>
  Effect.flatMap(ready, (done) =>
    done || tries === 0
      ? Effect.succeed(done)
      : Effect.zipRight(TestServices.provideLive(Effect.sleep("5 millis")), eventually(ready, tries - 1)))

// ---------------------------------------------------------------------------------------------

describe("Embedder", () => {
  describe("hashing", () => {
    it("is stable: the hash and the vectors it gives do not change between versions (they are stored on disk)", () => {
      assert.deepStrictEqual(
        ["", "weft", "database", "東京", "😀"].map((s) => hashString(s, 0)),
        [2872998923, 3017257801, 505681562, 1090706121, 2464043637]
      )
      const vector = Embedder.hashingVector("weft remembers", { dimensions: 32 })
      const expected = [
        0.086,
        -0.154,
        0,
        0,
        -0.086,
        0.086,
        0.24,
        0.154,
        -0.635,
        0.154,
        0.154,
        0,
        0,
        0.154,
        -0.154,
        0.154,
        0,
        -0.154,
        0.327,
        0,
        0,
        0,
        -0.154,
        0.24,
        0,
        0,
        -0.24,
        0,
        0,
        -0.154,
        0.24,
        0
      ]
      assert.deepStrictEqual(Array.from(vector, (x) => Math.round(x * 1000) / 1000), expected)
    })

    it.prop(
      "gives unit vectors of the configured dimensions (zeros for a text without terms), the same every time",
      [fc.string({ maxLength: 200 }), fc.integer({ min: 1, max: 512 })],
      ([text, dimensions]) => {
        const vector = Embedder.hashingVector(text, { dimensions })
        assert.strictEqual(vector.length, dimensions)
        assert.deepStrictEqual(Embedder.hashingVector(text, { dimensions }), vector)
        if (Tokenizer.tokenize(text).length === 0) assert.isTrue(vector.every((x) => x === 0))
        // Features of opposite signs in one bucket cancel: with few buckets, a whole text can.
        else if (norm(vector) !== 0) assert.closeTo(norm(vector), 1, 1e-5)
      }
    )

    it("signed hashing: a word adds +w or −w by its hash, and the signs are balanced over many words", () => {
      const words = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}`)
      let negative = 0
      for (const word of words) {
        const vector = Embedder.hashingVector(word, { dimensions: 64, ngramWeight: 0 })
        const nonZero = Array.from(vector).filter((x) => x !== 0)
        assert.deepStrictEqual(nonZero.map(Math.abs), [1])
        if (nonZero[0]! < 0) negative++
      }
      assert.isAbove(negative, 900)
      assert.isBelow(negative, 1100)
    })

    it("counts repeated words sublinearly (1 + ln tf)", () => {
      const options = { dimensions: 4096, ngramWeight: 0 }
      const cat = Embedder.hashingVector("cat", options)
      const dog = Embedder.hashingVector("dog", options)
      assert.strictEqual(cosine(cat, dog), 0) // distinct buckets at this size
      const text = Embedder.hashingVector("cat cat cat cat dog", options)
      const tf = 1 + Math.log(4)
      assert.closeTo(cosine(text, cat), tf / Math.sqrt(tf * tf + 1), 1e-6)
    })

    it("weights a word above each of its character n-grams", () => {
      const vector = Embedder.hashingVector("database", { dimensions: 4096 })
      const word = Embedder.hashingVector("database", { dimensions: 4096, ngramWeight: 0 })
      const bucket = word.findIndex((x) => x !== 0)
      const others = Array.from(vector).filter((_, i) => i !== bucket).map(Math.abs)
      assert.isAbove(others.filter((x) => x > 0).length, 10)
      assert.isAbove(Math.abs(vector[bucket]!), 2 * Math.max(...others))
    })

    it("brings texts sharing roots across languages nearer than unrelated ones, through character n-grams", () => {
      const unrelated = ["banana smoothie", "weather forecast", "mi gato duerme en el sofá", "Katze", "lunch at noon"]
      const wins = (pairs: ReadonlyArray<readonly [string, string]>, options: Embedder.HashingOptions) =>
        pairs.filter(([a, b]) => {
          const va = Embedder.hashingVector(a, options)
          const sibling = cosine(va, Embedder.hashingVector(b, options))
          return unrelated.every((u) => sibling > cosine(va, Embedder.hashingVector(u, options)))
        }).length
      // One word against another shares three or four n-grams: measured where buckets rarely collide.
      const words = [["database", "base de datos"], ["database", "Datenbank"], ["base de datos", "Datenbank"]] as const
      assert.strictEqual(wins(words, { dimensions: 1024 }), words.length)
      assert.strictEqual(wins(words, { dimensions: 1024, ngramWeight: 0 }), 0)
      // Sentences carry more shared roots: at the default dimensions.
      const sentences = [
        ["the database migration failed", "la migración de la base de datos falló"],
        ["configure the authentication token", "Authentifizierungstoken konfigurieren"],
        ["install the python package", "instalar el paquete de python"],
        ["the configuration of the server", "la configuración del servidor"]
      ] as const
      assert.strictEqual(wins(sentences, {}), sentences.length)
      assert.isBelow(wins(sentences, { ngramWeight: 0 }), 2)
    })

    it("takes its terms from an injected function, named in the model", () => {
      const upper = (text: string) => [text.toUpperCase()]
      const service = Embedder.hashing({ dimensions: 64, terms: upper, termsName: "upper" })
      assert.strictEqual(service.model, "hashing-v1(upper,64)")
      assert.deepStrictEqual(
        Embedder.hashingVector("a b", { dimensions: 64, terms: upper }),
        Embedder.hashingVector("x", { dimensions: 64, terms: () => ["A B"] })
      )
      assert.notStrictEqual(Embedder.hashing({ dimensions: 64 }).model, service.model)
    })

    it.effect("layerHashing embeds each text in order, with the default dimensions", () =>
      Effect.gen(function*() {
        const embedder = yield* Embedder.Embedder
        assert.strictEqual(embedder.dimensions, Embedder.defaultDimensions)
        assert.strictEqual(embedder.model, `hashing-v1(tokenize,${Embedder.defaultDimensions})`)
        const vectors = yield* embedder.embed(["one text", "", "another text"])
        assert.strictEqual(vectors.length, 3)
        assert.deepStrictEqual(vectors[0], Embedder.hashingVector("one text"))
        assert.isTrue(vectors[1]!.every((x) => x === 0))
        assert.deepStrictEqual(vectors[2], Embedder.hashingVector("another text"))
      }).pipe(Effect.provide(Embedder.layerHashing())))
  })

  describe("http", () => {
    it.scoped("POSTs {model, input} as JSON to {baseUrl}/v1/embeddings and returns unit vectors", () =>
      Effect.gen(function*() {
        const server = yield* serve((request) => ok(request))
        const embedder = yield* http({ baseUrl: `${server.url}/`, model: "nomic-embed-text", dimensions: 3 })
        const vectors = yield* embedder.embed(["hello", "hi"])
        assert.strictEqual(server.requests.length, 1)
        const [request] = server.requests
        assert.strictEqual(request!.method, "POST")
        assert.strictEqual(request!.url, "/v1/embeddings")
        assert.match(request!.headers["content-type"] ?? "", /^application\/json/)
        assert.isUndefined(request!.headers.authorization)
        assert.deepStrictEqual(request!.body, { model: "nomic-embed-text", input: ["hello", "hi"], dimensions: 3 })
        const unit = (raw: Array<number>) => Array.from(raw, (x) => Math.fround(x / Math.hypot(...raw)))
        assert.deepStrictEqual(vectors.map((v) => Array.from(v)), [unit([5, 1, 2]), unit([2, 1, 2])])
        assert.strictEqual(embedder.model, "openai-compatible(nomic-embed-text,3)")
      }))

    it.scoped("accepts a baseUrl that already ends in /v1", () =>
      Effect.gen(function*() {
        const server = yield* serve((request) => ok(request))
        const embedder = yield* http({ baseUrl: `${server.url}/v1`, model: "m", dimensions: 3 })
        yield* embedder.embed(["x"])
        assert.strictEqual(server.requests[0]!.url, "/v1/embeddings")
      }))

    it.scoped("learns the dimensions from a first request when settings do not give them", () =>
      Effect.gen(function*() {
        const server = yield* serve((request) => ok(request, 5))
        const embedder = yield* http({ baseUrl: server.url, model: "m" })
        assert.strictEqual(embedder.dimensions, 5)
        assert.strictEqual(embedder.model, "openai-compatible(m,5)")
        assert.isUndefined(server.requests[0]!.body.dimensions)
        const [vector] = yield* embedder.embed(["text"])
        assert.strictEqual(vector!.length, 5)
      }))

    it.scoped("sends texts in batches of batchSize and keeps their order; empty texts are not sent", () =>
      Effect.gen(function*() {
        const server = yield* serve((request) => ok(request))
        const embedder = yield* http({ baseUrl: server.url, model: "m", dimensions: 3, batchSize: 2 })
        const texts = ["a", "bb", "", "ccc", "dddd", "eeeee"]
        const vectors = yield* embedder.embed(texts)
        assert.deepStrictEqual(server.requests.map((r) => r.body.input), [["a", "bb"], ["ccc", "dddd"], ["eeeee"]])
        assert.deepStrictEqual(vectors.map((v) => v[0]! === 0 ? 0 : Math.round(v[0]! / v[1]!)), [1, 2, 0, 3, 4, 5])
        assert.deepStrictEqual(yield* embedder.embed([]), [])
        assert.strictEqual(server.requests.length, 3)
      }))

    it.scoped("orders the vectors by `index`, not by their place in the response", () =>
      Effect.gen(function*() {
        const server = yield* serve((request) => {
          const reply = ok(request) as { body: { data: Array<unknown> } }
          return { body: { ...reply.body, data: [...reply.body.data].reverse() } }
        })
        const embedder = yield* http({ baseUrl: server.url, model: "m", dimensions: 3 })
        const vectors = yield* embedder.embed(["a", "bbb", "bbbbbbb"])
        assert.deepStrictEqual(vectors.map((v) => Math.round(v[0]! / v[1]!)), [1, 3, 7])
      }))

    it.scoped("sends the API key from the variable named by apiKeyEnv as a Bearer token", () =>
      Effect.gen(function*() {
        const server = yield* serve((request) => ok(request))
        const embedder = yield* http({ baseUrl: server.url, model: "m", dimensions: 3, apiKeyEnv: "EMBED_KEY" }).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["EMBED_KEY", "sk-test-123"]])))
        )
        yield* embedder.embed(["x"])
        assert.strictEqual(server.requests[0]!.headers.authorization, "Bearer sk-test-123")
        const direct = yield* http({ baseUrl: server.url, model: "m", dimensions: 3, apiKey: Redacted.make("sk-2") })
        yield* direct.embed(["x"])
        assert.strictEqual(server.requests[1]!.headers.authorization, "Bearer sk-2")
      }))

    it.scoped("a missing key variable fails when the layer is built, naming the variable", () =>
      Effect.gen(function*() {
        const error = yield* failure(
          http({ baseUrl: "http://127.0.0.1:9", model: "m", dimensions: 3, apiKeyEnv: "NO_SUCH_KEY" }).pipe(
            Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
          )
        )
        assert.match(error.message, /NO_SUCH_KEY is not set: export it/)
      }))

    it.scoped("retries a 429 after the retry-after the server asks for, then succeeds", () =>
      Effect.gen(function*() {
        const server = yield* serve((request, n) =>
          n === 0 ? { status: 429, headers: { "retry-after": "2" }, body: { error: "slow down" } } : ok(request)
        )
        const embedder = yield* http({ baseUrl: server.url, model: "m", dimensions: 3 })
        const fiber = yield* Effect.fork(embedder.embed(["x"]))
        // The 429 came back and the retry waits on the clock: exactly 2 s, not the backoff's ~0.5 s.
        const sleeps = Effect.map(TestClock.sleeps(), Chunk.toReadonlyArray)
        const waits = yield* eventually(Effect.map(sleeps, (wakeAt) => wakeAt.includes(2000)))
        assert.isTrue(waits, `no retry waits 2000 ms; pending wake-ups: ${(yield* sleeps).join(", ")}`)
        assert.strictEqual(server.requests.length, 1)
        yield* TestClock.adjust("1999 millis")
        assert.strictEqual(server.requests.length, 1)
        yield* TestClock.adjust("1 millis")
        const [vector] = yield* Fiber.join(fiber)
        assert.strictEqual(server.requests.length, 2)
        assert.strictEqual(vector!.length, 3)
      }))

    it.scopedLive("a 500 forever fails after maxRetries + 1 attempts with an EmbedderError naming the URL", () =>
      Effect.gen(function*() {
        const server = yield* serve(() => ({ status: 500, body: { error: { message: "model crashed" } } }))
        const embedder = yield* http({ baseUrl: server.url, model: "m", dimensions: 3, maxRetries: 2, retryBaseMs: 1 })
        const error = yield* failure(embedder.embed(["x"]))
        assert.strictEqual(server.requests.length, 3)
        assert.strictEqual(error.url, `${server.url}/v1/embeddings`)
        assert.include(error.message, `${server.url}/v1/embeddings answered 500`)
        assert.include(error.message, "model crashed")
        assert.include(error.message, "gave up after 3 attempts")
        assert.notInclude(error.message, "\n")
      }))

    it.scopedLive("a malformed body fails at once with an EmbedderError, without retrying", () =>
      Effect.gen(function*() {
        for (const body of ["not json", { data: [{ index: 0 }] }, { data: [{ index: 0, embedding: ["x"] }] }, {}]) {
          const server = yield* serve(() => ({ body }))
          const embedder = yield* http({ baseUrl: server.url, model: "m", dimensions: 3, retryBaseMs: 1 })
          const error = yield* failure(embedder.embed(["x"]))
          assert.include(error.message, "malformed embeddings response")
          assert.strictEqual(server.requests.length, 1)
        }
      }))

    it.scopedLive("a response that does not fit the request fails: wrong count, repeated index, changed dimensions", () =>
      Effect.gen(function*() {
        const cases: Array<[(request: Recorded) => Reply, RegExp]> = [
          [() => ({ body: { data: [] } }), /sent 0 embeddings for 2 texts/],
          [
            (r) => ({ body: { data: r.body.input.map((_, i) => ({ index: 0, embedding: [i, 1, 1] })) } }),
            /wrong or repeated index/
          ],
          [(r) => ok(r, 4), /4 dimensions where 3 were expected.*weft memory rebuild/]
        ]
        for (const [reply, message] of cases) {
          const server = yield* serve((request) => reply(request))
          const embedder = yield* http({ baseUrl: server.url, model: "m", dimensions: 3, retryBaseMs: 1 })
          const error = yield* failure(embedder.embed(["x", "y"]))
          assert.match(error.message, message)
        }
        // Dimensions learnt from the first response: a later response of another size is an error.
        let size = 3
        const server = yield* serve((request) => ok(request, size))
        const embedder = yield* http({ baseUrl: server.url, model: "m" })
        size = 4
        assert.match((yield* failure(embedder.embed(["x"]))).message, /4 dimensions where 3 were expected/)
      }))

    it.scopedLive("a refused key, a wrong URL, a closed port and a silent server each fail with one clear line", () =>
      Effect.gen(function*() {
        const refused = yield* serve(() => ({ status: 401, body: { error: "invalid api key" } }))
        const e401 = yield* failure(
          Effect.flatMap(http({ baseUrl: refused.url, model: "m", dimensions: 3 }), (e) => e.embed(["x"]))
        )
        assert.match(e401.message, /refused the request \(401.*apiKeyEnv/)
        assert.strictEqual(refused.requests.length, 1)

        const missing = yield* serve(() => ({ status: 404, body: "404 page not found" }))
        const e404 = yield* failure(
          Effect.flatMap(http({ baseUrl: missing.url, model: "m", dimensions: 3 }), (e) => e.embed(["x"]))
        )
        assert.match(e404.message, /answered 404: 404 page not found: check memory\.embedder\.baseUrl/)

        const closed = yield* serve(() => ok({} as Recorded))
        const closedUrl = closed.url
        yield* Effect.async<void>((resume) => {
          closed.server.close(() => resume(Effect.void))
        })
        const eClosed = yield* failure(
          http({ baseUrl: closedUrl, model: "m" })
        )
        // Refused: not retried (the default backoff would take seconds), told at once.
        assert.match(eClosed.message, /cannot reach the embedder at .*ECONNREFUSED.*is the server running/)
        assert.notInclude(eClosed.message, "gave up")
        assert.strictEqual(eClosed.url, `${closedUrl}/v1/embeddings`)

        const silent = yield* serve(() => ({ hang: true }))
        const eSilent = yield* failure(
          Effect.flatMap(
            http({ baseUrl: silent.url, model: "m", dimensions: 3, timeoutMs: 50, maxRetries: 1, retryBaseMs: 1 }),
            (e) => e.embed(["x"])
          )
        )
        assert.match(eSilent.message, /did not answer within 50 ms.*gave up after 2 attempts/)
        assert.strictEqual(silent.requests.length, 2)
        for (const error of [e401, e404, eClosed, eSilent]) assert.notInclude(error.message, "\n")
      }))

    it("HttpEmbedderOptions decodes settings: a base URL and a model, positive integer sizes", () => {
      const decode = (input: unknown) => Either.isRight(Schema.decodeUnknownEither(Embedder.HttpEmbedderOptions)(input))
      assert.isTrue(
        decode({ baseUrl: "http://127.0.0.1:11434", model: "nomic-embed-text", apiKeyEnv: "OPENAI_API_KEY" })
      )
      assert.isTrue(decode({ baseUrl: "u", model: "m", dimensions: 256, batchSize: 8, timeoutMs: 1000, maxRetries: 0 }))
      assert.isFalse(decode({ baseUrl: "u" }))
      assert.isFalse(decode({ baseUrl: "u", model: "m", batchSize: 0 }))
      assert.isFalse(decode({ baseUrl: "u", model: "m", dimensions: 1.5 }))
    })
  })
})
