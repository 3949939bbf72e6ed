import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Either, Layer, TestClock } from "effect"
import * as fc from "fast-check"
import * as ConversationIndex from "../src/ConversationIndex.js"
import * as Embedder from "../src/Embedder.js"
import { snippet } from "../src/internal/Snippet.js"
import * as KeywordIndex from "../src/KeywordIndex.js"
import * as Quality from "../src/testing/Quality.js"
import * as RetrievalSet from "../src/testing/RetrievalSet.js"

type Doc = ConversationIndex.Doc

const layer = Layer.mergeAll(NodeContext.layer, ConversationIndex.layerEmbedder)

const BASE = Date.parse("2026-03-02T09:00:00Z")
const iso = (minutes: number) => new Date(BASE + minutes * 60_000).toISOString()

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "weft-ci-" }))

const open = (dir: string, options?: Partial<ConversationIndex.Options>) =>
  ConversationIndex.make({ dir, sealAt: 4, ...options })

let counter = 0
const doc = (text: string, fields?: Partial<Doc>): Doc => ({
  id: fields?.id ?? `t${String(counter++).padStart(4, "0")}`,
  kind: "turn",
  sessionId: "s1",
  project: "/home/ana/api",
  role: "user",
  at: iso(counter),
  text,
  ...fields
})

const ids = (found: ReadonlyArray<ConversationIndex.Found>) => found.map((hit) => hit.doc.id)

const bm25 = Quality.bm25

describe("ConversationIndex", () => {
  // -------------------------------------------------------------------------------------------
  // Incremental ≡ rebuilt

  const VOCABULARY = [
    "webhook",
    "retries",
    "retry",
    "backoff",
    "database",
    "pool",
    "deadlock",
    "cache",
    "redis",
    "login",
    "token",
    "deploy",
    "kubernetes",
    "flaky",
    "test",
    "invoice",
    "refund",
    "the",
    "why",
    "mémoire",
    "データベース",
    "接続"
  ]
  const text = fc.array(fc.constantFrom(...VOCABULARY), { minLength: 1, maxLength: 8 }).map((words) => words.join(" "))
  const arbitraryDoc: fc.Arbitrary<Doc> = fc.record({
    n: fc.integer({ min: 0, max: 14 }),
    kind: fc.constantFrom<Array<Doc["kind"]>>("turn", "turn", "memory"),
    sessionId: fc.constantFrom("s1", "s2", "s3"),
    project: fc.constantFrom("/p/a", "/p/b"),
    role: fc.constantFrom<Array<Doc["role"]>>("user", "assistant"),
    minute: fc.integer({ min: 0, max: 120 }),
    text,
    ttl: fc.option(fc.integer({ min: 1, max: 240 }), { nil: undefined }),
    importance: fc.option(fc.double({ min: 0, max: 2, noNaN: true }), { nil: undefined })
  }).map(({ importance, minute, n, ttl, ...rest }) => ({
    ...rest,
    id: `d${String(n).padStart(2, "0")}`,
    at: iso(minute),
    ...(ttl === undefined ? {} : { expiresAt: iso(ttl) }),
    ...(importance === undefined ? {} : { importance })
  }))

  type Op =
    | { readonly _tag: "add"; readonly docs: ReadonlyArray<Doc> }
    | { readonly _tag: "remove"; readonly ids: ReadonlyArray<string> }
    | { readonly _tag: "seal" }
    | { readonly _tag: "compact" }
    | { readonly _tag: "reopen" }
    | { readonly _tag: "tick"; readonly minutes: number }

  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.array(arbitraryDoc, { minLength: 1, maxLength: 4 }).map((docs) => ({ _tag: "add", docs }) as const)
    },
    {
      weight: 2,
      arbitrary: fc.array(fc.integer({ min: 0, max: 14 }), { minLength: 1, maxLength: 3 }).map((ns) =>
        ({
          _tag: "remove",
          ids: ns.map((n) => `d${String(n).padStart(2, "0")}`)
        }) as const
      )
    },
    { weight: 1, arbitrary: fc.constant({ _tag: "seal" } as const) },
    { weight: 1, arbitrary: fc.constant({ _tag: "compact" } as const) },
    { weight: 1, arbitrary: fc.constant({ _tag: "reopen" } as const) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 90 }).map((minutes) => ({ _tag: "tick", minutes }) as const) }
  )

  const query = fc.record({
    text: text.map((words) => words.split(" ").slice(0, 3).join(" ")),
    k: fc.integer({ min: 1, max: 8 }),
    weights: fc.constantFrom(ConversationIndex.defaultWeights, bm25, Quality.vectors, {
      keyword: 1,
      vector: 1,
      k: 60,
      context: 0
    }),
    filters: fc.option(
      fc.record({
        project: fc.option(fc.constantFrom("/p/a", "/p/b"), { nil: undefined }),
        role: fc.option(fc.constantFrom("user" as const, "assistant" as const), { nil: undefined }),
        exceptSession: fc.option(fc.constantFrom("s1", "s2"), { nil: undefined }),
        since: fc.option(fc.integer({ min: 0, max: 120 }).map(iso), { nil: undefined })
      }, { requiredKeys: [] }).map((filters) =>
        Object.fromEntries(Object.entries(filters).filter(([, value]) => value !== undefined))
      ),
      { nil: undefined }
    )
  })

  it.effect.prop(
    "after any adds, removes, seals, compactions, expiries and reopenings, every query answers as an index built " +
      "at once from the live documents (without any seal); removed and expired documents are never returned",
    [fc.array(op, { minLength: 1, maxLength: 14 }), fc.array(query, { minLength: 1, maxLength: 3 })],
    ([ops, queries]) =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const options = { sealAt: 3, hotSegments: 1, coldCacheBytes: 0, hotImportance: 1.5 }
        let index = yield* open(dir, options)
        const live = new Map<string, Doc>()
        let now = BASE
        const unexpired = () =>
          [...live.values()].filter((d) => d.expiresAt === undefined || Date.parse(d.expiresAt) > now)
        const check = Effect.gen(function*() {
          const fresh = yield* open(yield* tempDir, { sealAt: 1_000 })
          // Added in reverse id order, at once: neither the order nor the batches matter.
          yield* fresh.add(unexpired().sort((a, b) => (a.id < b.id ? 1 : -1)))
          const allowed = new Set(unexpired().map((d) => d.id))
          for (const q of queries) {
            const options = { k: q.k, now, weights: q.weights, filters: q.filters }
            const got = yield* index.search(q.text, options)
            const expected = yield* fresh.search(q.text, options)
            assert.deepStrictEqual(got, expected, `query ${JSON.stringify(q)}`)
            for (const hit of got) assert.isTrue(allowed.has(hit.doc.id), `${hit.doc.id} is removed or expired`)
          }
        })
        for (const step of ops) {
          switch (step._tag) {
            case "add":
              yield* index.add(step.docs)
              for (const d of step.docs) live.set(d.id, d)
              break
            case "remove":
              yield* index.remove(step.ids)
              for (const id of step.ids) live.delete(id)
              break
            case "seal":
              yield* index.seal
              break
            case "compact":
              yield* index.compact(now)
              for (const d of [...live.values()]) {
                if (d.expiresAt !== undefined && Date.parse(d.expiresAt) <= now) live.delete(d.id)
              }
              break
            case "reopen":
              yield* index.checkpoint
              index = yield* open(dir, options)
              break
            case "tick":
              now += step.minutes * 60_000
              break
          }
          yield* check
        }
        const stats = yield* index.stats
        assert.strictEqual(stats.docs, live.size)
      }).pipe(Effect.scoped, Effect.provide(layer)),
    { fastCheck: { numRuns: 100 }, timeout: 180_000 }
  )

  it.effect(
    "BM25 alone ranks exactly as KeywordIndex on the retrieval set, in one segment or many",
    () =>
      Effect.gen(function*() {
        const set = yield* RetrievalSet.load()
        const reference = KeywordIndex.make()
        reference.add(set.turns.map((turn) => ({ id: turn.id, text: turn.text })))
        for (const sealAt of [10_000, 37]) {
          const index = yield* Quality.index(set, {}, sealAt)
          for (const question of set.questions) {
            const got = ids(yield* index.search(question.question, { k: 10, now: 0, weights: bm25 }))
            const expected = reference.search(question.question, { k: 10 }).map((hit) => hit.id)
            assert.deepStrictEqual(got, expected, `${question.id} with segments of ${sealAt}`)
          }
        }
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    60_000
  )

  // -------------------------------------------------------------------------------------------
  // Streaming writes, segments, tiers

  it.scoped("a document is searchable as soon as add returns, from the growing segment", () =>
    Effect.gen(function*() {
      const index = yield* open(yield* tempDir, { sealAt: 100 })
      yield* index.add([doc("the deploy to staging failed on the kubernetes readiness probe", { id: "a" })])
      assert.deepStrictEqual(ids(yield* index.search("readiness probe", { k: 5, now: BASE })), ["a"])
      const stats = yield* index.stats
      assert.strictEqual(stats.growing.docs, 1)
      assert.strictEqual(stats.segments.length, 0)
    }).pipe(Effect.provide(layer)))

  it.scoped("the growing segment seals at sealAt documents and on seal, into files on disk", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const index = yield* open(dir, { sealAt: 3 })
      yield* index.add([doc("alpha one"), doc("alpha two"), doc("alpha three"), doc("alpha four")])
      let stats = yield* index.stats
      assert.deepStrictEqual(stats.segments.map((s) => s.docs), [3])
      assert.strictEqual(stats.growing.docs, 1)
      yield* index.add([doc("alpha five")])
      yield* index.seal
      stats = yield* index.stats
      assert.deepStrictEqual(stats.segments.map((s) => s.docs), [3, 2])
      assert.strictEqual(stats.growing.docs, 0)
      const files = yield* fs.readDirectory(dir)
      for (const segment of stats.segments) {
        for (const suffix of [".meta.json", ".keyword.bin", ".vectors.bin", ".text.json"]) {
          assert.include(files, `${segment.id}${suffix}`)
        }
        assert.isAbove(segment.bytes, 0)
      }
      assert.strictEqual((yield* index.search("alpha", { k: 10, now: BASE })).length, 5)
    }).pipe(Effect.provide(layer)))

  it.scoped("hot holds the newest segments and those with an important memory; cold ones load on demand and are evicted", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const options = { sealAt: 2, hotSegments: 1, coldCacheBytes: 0, hotImportance: 1 }
      let index = yield* open(dir, options)
      yield* index.add([
        doc("payments webhook", { project: "/p/pay" }),
        doc("payments retry", { project: "/p/pay" })
      ])
      yield* index.add([
        doc("always sign webhooks", { kind: "memory", importance: 1.5, project: "/p/mem" }),
        doc("memory two", { kind: "memory", importance: 0.2, project: "/p/mem" })
      ])
      yield* index.add([doc("search ranking", { project: "/p/search" }), doc("search bm25", { project: "/p/search" })])
      yield* index.add([doc("newest one", { project: "/p/new" }), doc("newest two", { project: "/p/new" })])
      let stats = yield* index.stats
      assert.deepStrictEqual(stats.segments.map((s) => s.tier), ["cold", "hot", "cold", "hot"])
      assert.deepStrictEqual(stats.tiers.hot.segments, 3)
      assert.deepStrictEqual(stats.tiers.cold, { segments: 2, docs: 4, bytes: stats.tiers.cold.bytes, loaded: 0 })
      yield* index.checkpoint
      index = yield* open(dir, options)
      stats = yield* index.stats
      assert.deepStrictEqual(stats.segments.map((s) => s.loaded), [false, true, false, true])
      // A filter that only the first segment can satisfy loads it, and the query finds its documents.
      const found = yield* index.search("webhook", { k: 5, now: BASE, filters: { project: "/p/pay" } })
      assert.isAbove(found.length, 0)
      for (const hit of found) assert.strictEqual(hit.doc.project, "/p/pay")
      stats = yield* index.stats
      // The cache holds no cold body (coldCacheBytes 0): it was evicted after the query.
      assert.deepStrictEqual(stats.segments.map((s) => s.loaded), [false, true, false, true])
      const larger = yield* open(dir, { ...options, coldCacheBytes: 1 << 30 })
      yield* larger.search("webhook", { k: 5, now: BASE, filters: { project: "/p/pay" } })
      assert.deepStrictEqual((yield* larger.stats).segments.map((s) => s.loaded), [true, true, false, true])
    }).pipe(Effect.provide(layer)))

  it.scoped("a removed document is gone at once from every tier, and stays gone after a checkpoint and compaction", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const options = { sealAt: 2, hotSegments: 1, coldCacheBytes: 0 }
      let index = yield* open(dir, options)
      const docs = [
        doc("cold tier secret token", { id: "cold" }),
        doc("filler one"),
        doc("hot tier secret token", { id: "hot" }),
        doc("filler two"),
        doc("growing secret token", { id: "growing" })
      ]
      yield* index.add(docs)
      const tiers = (yield* index.stats).segments.map((s) => s.tier)
      assert.deepStrictEqual(tiers, ["cold", "hot"])
      const secret = Effect.suspend(() => index.search("secret token", { k: 5, now: BASE, weights: bm25 }))
      assert.sameMembers(ids(yield* secret), ["cold", "hot", "growing"])
      yield* index.remove(["cold", "hot", "growing"])
      assert.deepStrictEqual(ids(yield* secret), [])
      yield* index.checkpoint
      index = yield* open(dir, options)
      assert.deepStrictEqual(ids(yield* secret), [])
      assert.deepStrictEqual((yield* index.stats).segments.map((s) => s.deleted), [1, 1])
      yield* index.compact(BASE)
      const stats = yield* index.stats
      assert.deepStrictEqual(stats.segments.map((s) => [s.docs, s.deleted]), [[1, 0], [1, 0]])
      assert.strictEqual(stats.docs, 2)
    }).pipe(Effect.provide(layer)))

  it.scoped("adding a document with an id already there replaces it", () =>
    Effect.gen(function*() {
      const index = yield* open(yield* tempDir, { sealAt: 2 })
      yield* index.add([doc("postgres connection pool", { id: "m1", kind: "memory" }), doc("filler")])
      yield* index.add([doc("redis cache eviction", { id: "m1", kind: "memory" })])
      const weights = bm25
      assert.deepStrictEqual(ids(yield* index.search("postgres pool", { k: 5, now: BASE, weights })), [])
      assert.deepStrictEqual(ids(yield* index.search("redis eviction", { k: 5, now: BASE, weights })), ["m1"])
      assert.strictEqual((yield* index.stats).docs, 2)
    }).pipe(Effect.provide(layer)))

  it.effect("an expired entry is never returned once the clock reaches expiresAt, and compact drops it physically", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const index = yield* open(dir, { sealAt: 2 })
      const start = yield* Clock.currentTimeMillis
      const at = (ms: number) => new Date(ms).toISOString()
      yield* index.add([
        doc("the staging password rotates weekly", {
          id: "ttl",
          kind: "memory",
          at: at(start),
          expiresAt: at(start + 3_600_000)
        }),
        doc("the staging cluster runs kubernetes", { id: "kept", at: at(start) }),
        doc("the staging database is postgres", { id: "ttl2", at: at(start), expiresAt: at(start + 7_200_000) })
      ])
      const search = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        return ids(yield* index.search("staging", { k: 5, now })).sort()
      })
      assert.deepStrictEqual(yield* search, ["kept", "ttl", "ttl2"])
      yield* TestClock.adjust("59 minutes")
      assert.deepStrictEqual(yield* search, ["kept", "ttl", "ttl2"])
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(yield* search, ["kept", "ttl2"])
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(yield* search, ["kept"])
      assert.strictEqual((yield* index.stats).docs, 3)
      yield* index.compact(yield* Clock.currentTimeMillis)
      const stats = yield* index.stats
      assert.strictEqual(stats.docs, 1)
      assert.deepStrictEqual(stats.segments.map((s) => [s.docs, s.deleted]), [[1, 0]])
      yield* index.checkpoint
      const reopened = yield* open(dir, { sealAt: 2 })
      assert.strictEqual((yield* reopened.stats).docs, 1)
      // Even at a time before the expiry: compacted away means gone.
      assert.deepStrictEqual(ids(yield* reopened.search("staging", { k: 5, now: start })), ["kept"])
    }).pipe(Effect.scoped, Effect.provide(layer)))

  // -------------------------------------------------------------------------------------------
  // Search

  it.scoped("filters apply before the top-k cut: project, session (or all but one), role, and dates as days or instants", () =>
    Effect.gen(function*() {
      const index = yield* open(yield* tempDir, { sealAt: 3 })
      yield* index.add([
        doc("webhook retries webhook retries webhook", { id: "best", project: "/p/a", at: "2026-03-01T10:00:00Z" }),
        doc("webhook retries", { id: "b", project: "/p/b", sessionId: "s9", at: "2026-03-02T10:00:00Z" }),
        doc("webhook retries answer", {
          id: "c",
          project: "/p/b",
          role: "assistant",
          at: "2026-03-03T23:59:59.999Z"
        }),
        doc("webhook retries later", { id: "d", project: "/p/c", at: "2026-03-04T00:00:00Z" })
      ])
      const search = (filters: ConversationIndex.SearchOptions["filters"]) =>
        Effect.map(index.search("webhook retries", { k: 1, now: BASE, filters }), ids)
      assert.deepStrictEqual(yield* search(undefined), ["best"])
      assert.deepStrictEqual(yield* search({ project: "/p/b", role: "user" }), ["b"])
      assert.deepStrictEqual(yield* search({ sessionId: "s9" }), ["b"])
      assert.deepStrictEqual(yield* search({ exceptSession: "s1", project: "/p/b", role: "user" }), ["b"])
      assert.deepStrictEqual(yield* search({ exceptSession: "s9", project: "/p/b", role: "user" }), [])
      assert.deepStrictEqual(yield* search({ role: "assistant" }), ["c"])
      assert.deepStrictEqual(
        (yield* index.search("webhook retries", {
          k: 5,
          now: BASE,
          filters: { since: "2026-03-02", until: "2026-03-03" }
        }))
          .map((hit) => hit.doc.id).sort(),
        ["b", "c"]
      )
      assert.deepStrictEqual(yield* search({ since: "2026-03-03T23:59:59.999Z" }), ["c"])
      assert.deepStrictEqual(yield* search({ until: "2026-03-01T10:00:00Z", project: "/p/b" }), [])
      const bad = yield* Effect.either(index.search("webhook", { k: 1, now: BASE, filters: { since: "last tuesday" } }))
      assert.isTrue(Either.isLeft(bad) && bad.left.reason.includes("since"))
    }).pipe(Effect.provide(layer)))

  it.scoped("context: the turn next to a match is found, though it shares no word with the query", () =>
    Effect.gen(function*() {
      const index = yield* open(yield* tempDir, { sealAt: 100 })
      yield* index.add([
        doc("which delay does the exponential backoff start from?", { id: "q", sessionId: "s1", at: iso(1) }),
        doc("thirty seconds, doubling up to six hours", { id: "a", sessionId: "s1", at: iso(2), role: "assistant" }),
        doc("unrelated chatter about lunch", { id: "x", sessionId: "s1", at: iso(3) }),
        doc("lunch at noon", { id: "y", sessionId: "s2", at: iso(4) })
      ])
      const weights = { ...bm25, context: 0.4 }
      assert.deepStrictEqual(ids(yield* index.search("exponential backoff delay", { k: 5, now: BASE, weights })), [
        "q",
        "a"
      ])
      assert.deepStrictEqual(
        ids(yield* index.search("exponential backoff delay", { k: 5, now: BASE, weights: bm25 })),
        [
          "q"
        ]
      )
    }).pipe(Effect.provide(layer)))

  it.scoped("context follows each session's time order, not the order of adds, and skips expired turns", () =>
    Effect.gen(function*() {
      const index = yield* open(yield* tempDir, { sealAt: 2 })
      const weights = { ...bm25, context: 0.4 }
      // Added out of order: the aside (x) sits between the question (q) and the answer (a) in time.
      yield* index.add([doc("which delay does the exponential backoff start from?", { id: "q", at: iso(1) })])
      yield* index.add([doc("thirty seconds, doubling up to six hours", { id: "a", at: iso(3), role: "assistant" })])
      yield* index.add([doc("an aside about lunch", { id: "x", at: iso(2), expiresAt: iso(30) })])
      const search = (now: number) =>
        Effect.map(index.search("exponential backoff delay", { k: 5, now, weights }), (found) => ids(found).sort())
      assert.deepStrictEqual(yield* search(BASE), ["q", "x"])
      assert.deepStrictEqual(yield* search(BASE + 30 * 60_000), ["a", "q"])
      yield* index.compact(BASE + 30 * 60_000)
      assert.deepStrictEqual(yield* search(BASE), ["a", "q"])
    }).pipe(Effect.provide(layer)))

  it.scoped("results carry the document and a one-line snippet of at most 240 characters around the match", () =>
    Effect.gen(function*() {
      const index = yield* open(yield* tempDir)
      const long = [
        "We looked at the dashboards first.",
        "Nothing stood out in the API latency graphs for the whole week.",
        "Then the on-call noticed\nthat the Redis eviction policy was set to noeviction, so writes failed once memory filled.",
        "We switched it to allkeys-lru and the errors stopped within minutes.",
        "A follow-up ticket tracks alerting on memory usage, which we never had."
      ].join(" ").repeat(2)
      yield* index.add([doc(long, { id: "long", kind: "memory", importance: 0.7, expiresAt: "2027-01-01T00:00:00Z" })])
      const [hit] = yield* index.search("redis eviction policy", { k: 1, now: BASE })
      assert.strictEqual(hit!.doc.text, long)
      assert.strictEqual(hit!.doc.kind, "memory")
      assert.strictEqual(hit!.doc.importance, 0.7)
      assert.strictEqual(hit!.doc.expiresAt, "2027-01-01T00:00:00Z")
      assert.isAtMost(hit!.snippet.length, 240)
      assert.notInclude(hit!.snippet, "\n")
      assert.include(hit!.snippet, "Redis eviction policy")
      assert.isAbove(hit!.score, 0)
    }).pipe(Effect.provide(layer)))

  it("snippet: a short text is the whole text on one line; a long one is cut around the matching sentence", () => {
    const analyse = (text: string) => text.toLowerCase().split(/\W+/).filter((word) => word !== "")
    assert.strictEqual(snippet("  short\n\ttext  ", new Set(["short"]), analyse), "short text")
    const sentences = Array.from({ length: 20 }, (_, i) => `Sentence number ${i} says nothing much at all.`)
    sentences[13] = "The needle is here."
    const cut = snippet(sentences.join(" "), new Set(["needle"]), analyse)
    assert.include(cut, "The needle is here.")
    assert.isAtMost(cut.length, 240)
    assert.isTrue(cut.startsWith("…") && cut.endsWith("…"))
    const huge = `${"lorem ipsum ".repeat(60)}needle ${"dolor sit ".repeat(60)}`
    const window = snippet(huge, new Set(["needle"]), analyse)
    assert.include(window, "needle")
    assert.isAtMost(window.length, 240)
  })

  it.prop(
    "snippet is always one line of at most 240 characters",
    [fc.array(fc.oneof(fc.string(), fc.constantFrom(".", "!", "?", "\n", " ", "needle", "。")), { maxLength: 200 })],
    ([pieces]) => {
      const out = snippet(pieces.join(""), new Set(["needle"]), (t) => t.split(/\s+/))
      assert.isAtMost(out.length, 240)
      assert.notMatch(out, /[\n\r]/)
    }
  )

  // -------------------------------------------------------------------------------------------
  // Persistence

  it.scoped("checkpoint then make on the same directory restores the same answers, growing segment included", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const index = yield* open(dir, { sealAt: 3 })
      yield* index.add(
        ["redis cache", "cache stampede", "postgres pool", "pool deadlock", "redis pool"].map((t) => doc(t))
      )
      yield* index.remove([(yield* index.search("stampede", { k: 1, now: BASE }))[0]!.doc.id])
      yield* index.checkpoint
      const reopened = yield* open(dir, { sealAt: 3 })
      assert.deepStrictEqual(reopened.opened, { _tag: "Restored", docs: 4 })
      for (const q of ["redis", "pool", "cache", "deadlock stampede"]) {
        assert.deepStrictEqual(
          yield* reopened.search(q, { k: 5, now: BASE }),
          yield* index.search(q, { k: 5, now: BASE })
        )
      }
      const before = yield* index.stats
      const after = yield* reopened.stats
      assert.deepStrictEqual(
        [after.docs, after.terms, after.growing, after.segments.map((s) => [s.id, s.docs, s.deleted])],
        [before.docs, before.terms, before.growing, before.segments.map((s) => [s.id, s.docs, s.deleted])]
      )
    }).pipe(Effect.provide(layer)))

  it.scoped("what was not checkpointed is not restored, and the files it wrote are swept", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const index = yield* open(dir, { sealAt: 2 })
      yield* index.add([doc("one kept"), doc("two kept")])
      yield* index.checkpoint
      const kept = new Set(yield* fs.readDirectory(dir))
      yield* index.add([doc("three lost"), doc("four lost")])
      const reopened = yield* open(dir, { sealAt: 2 })
      assert.strictEqual((yield* reopened.stats).docs, 2)
      assert.deepStrictEqual(ids(yield* reopened.search("lost", { k: 5, now: BASE, weights: bm25 })), [])
      assert.sameMembers(yield* fs.readDirectory(dir), [...kept])
    }).pipe(Effect.provide(layer)))

  it.scoped("an index built with another embedder fails to open, or starts empty with onMismatch reset", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const index = yield* open(dir)
      yield* index.add([doc("something")])
      yield* index.checkpoint
      const other = Embedder.layerHashing({ dimensions: 64 })
      const failed = yield* Effect.either(open(dir).pipe(Effect.provide(other)))
      assert.isTrue(Either.isLeft(failed))
      if (Either.isLeft(failed)) {
        assert.include(failed.left.reason, "hashing-v1(tokenize,64)")
        assert.include(failed.left.reason, "weft memory rebuild")
      }
      const reset = yield* open(dir, { onMismatch: "reset" }).pipe(Effect.provide(other))
      assert.strictEqual(reset.opened._tag, "Reset")
      assert.strictEqual((yield* reset.stats).docs, 0)
      yield* reset.add([doc("something else")])
      assert.strictEqual((yield* reset.search("else", { k: 1, now: BASE })).length, 1)
    }).pipe(Effect.provide(layer)))

  it.scoped("a corrupt segment file is reported with the way out", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* tempDir
      const index = yield* open(dir, { sealAt: 1, hotSegments: 0 })
      yield* index.add([doc("one")])
      yield* index.checkpoint
      const id = (yield* index.stats).segments[0]!.id
      yield* fs.writeFileString(`${dir}/${id}.keyword.bin`, "garbage")
      const reopened = yield* open(dir, { sealAt: 1, hotSegments: 0 })
      const failed = yield* Effect.either(reopened.search("one", { k: 1, now: BASE }))
      assert.isTrue(Either.isLeft(failed) && failed.left.reason.includes("corrupt"))
      assert.isTrue(Either.isLeft(failed) && failed.left.reason.includes("weft memory rebuild"))
    }).pipe(Effect.provide(layer)))
})
