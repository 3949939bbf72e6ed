import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as fc from "fast-check"
import { Buffer } from "node:buffer"
import * as KeywordIndex from "../src/KeywordIndex.js"

const unwrap = <A, E>(either: Either.Either<A, E>): A => {
  assert.isTrue(Either.isRight(either), Either.isLeft(either) ? String(either.left) : "")
  return (either as Either.Right<E, A>).right
}

const indexOf = (documents: ReadonlyArray<KeywordIndex.Document>, options?: KeywordIndex.Options) => {
  const index = KeywordIndex.make(options)
  index.add(documents)
  return index
}

const ids = (hits: ReadonlyArray<KeywordIndex.Hit>) => hits.map((hit) => hit.id)

// A small vocabulary, so that random documents and queries share terms, tie and collide.
const word = fc.constantFrom(
  "run",
  "running",
  "runner",
  "test",
  "tests",
  "the",
  "and",
  "cache",
  "café",
  "cafe",
  "東京",
  "京都",
  "parseJson",
  "snake_case",
  "v1.2",
  "déploiement",
  "échoué",
  "Straße",
  "flaky",
  "merge"
)
const text = fc.array(word, { minLength: 0, maxLength: 12 }).map((words) => words.join(" "))
const documentId = fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "ü", "日本")
const documents = fc.uniqueArray(fc.record({ id: documentId, text }), { selector: (document) => document.id })
const queries = fc.array(fc.array(word, { minLength: 1, maxLength: 5 }).map((words) => words.join(" ")), {
  minLength: 1,
  maxLength: 6
})
const options = fc.record({ stem: fc.boolean(), stopWords: fc.boolean() })

describe("KeywordIndex", () => {
  it("finds `the test runner ran` for `running the tests` only when stemming is on", () => {
    const documents = [
      { id: "runner", text: "the test runner ran" },
      { id: "other", text: "the cache is warm" }
    ]
    assert.deepStrictEqual(ids(indexOf(documents).search("running the tests", { k: 10 })), ["runner"])
    assert.deepStrictEqual(ids(indexOf(documents, { stem: false }).search("running the tests", { k: 10 })), [])
  })

  it("drops stop words: they neither match nor rank", () => {
    const documents = [
      { id: "stop", text: "the the the of and cache" },
      { id: "content", text: "cache invalidation" }
    ]
    assert.deepStrictEqual(indexOf(documents).search("the of and", { k: 10 }), [])
    assert.deepStrictEqual(ids(indexOf(documents, { stopWords: false }).search("the of and", { k: 10 })), ["stop"])
    assert.deepStrictEqual(ids(indexOf(documents).search("the cache invalidation", { k: 1 })), ["content"])
  })

  it("folds accents both ways", () => {
    const index = indexOf([
      { id: "accented", text: "the Café menu" },
      { id: "plain", text: "the cafe opening hours" },
      { id: "réseau", text: "Le réseau est lent depuis ce matin" }
    ])
    assert.deepStrictEqual(ids(index.search("cafe", { k: 10 })).sort(), ["accented", "plain"])
    assert.deepStrictEqual(ids(index.search("CAFÉ", { k: 10 })).sort(), ["accented", "plain"])
    assert.deepStrictEqual(ids(index.search("le reseau est lent", { k: 10 })), ["réseau"])
  })

  it("searches an undetermined query in the languages of its documents too", () => {
    // French stems café to caf, English leaves cafe: "cafe" alone is English unless the index says otherwise.
    const index = indexOf([
      { id: "fr", text: "Le café est fermé depuis lundi" },
      { id: "en", text: "the cafe opening hours" }
    ])
    assert.deepStrictEqual(ids(index.search("cafe", { k: 10 })).sort(), ["en", "fr"])
    assert.deepStrictEqual(ids(index.search("the cafe", { k: 10 })), ["en"])
    const english = indexOf([{ id: "en", text: "the cafe opening hours" }])
    assert.deepStrictEqual(ids(english.search("cafe", { k: 10 })), ["en"])
  })

  it("finds a CJK document by bigram, ahead of one sharing only characters", () => {
    const index = indexOf([
      { id: "kyoto", text: "京都の天気は晴れ" },
      { id: "tokyo", text: "東京都の天気は雨" },
      { id: "zh", text: "发票下载按钮没有反应" }
    ])
    assert.strictEqual(ids(index.search("東京", { k: 10 }))[0], "tokyo")
    assert.deepStrictEqual(ids(index.search("下载", { k: 10 })), ["zh"])
    assert.deepStrictEqual(ids(index.search("请修复发票下载", { k: 1 })), ["zh"])
  })

  it("keeps identifiers findable whole, by their parts and in other spellings", () => {
    const index = indexOf([
      { id: "code", text: "call parseJson from src/memory/KeywordIndex.ts, bumped to v1.2 in webhook_dead_letters" },
      { id: "prose", text: "we parse the memory index every day, version 2 of the letters" }
    ])
    for (
      const query of [
        "parseJson",
        "KeywordIndex.ts",
        "src/memory/KeywordIndex.ts",
        "v1.2",
        "webhook_dead_letters",
        "webhookDeadLetters"
      ]
    ) {
      assert.strictEqual(ids(index.search(query, { k: 10 }))[0], "code", query)
    }
    assert.include(ids(index.search("keyword index", { k: 10 })), "code")
    assert.include(ids(index.search("dead letters", { k: 10 })), "code")
  })

  it("ranks best first and breaks ties by id, whatever the order of adding", () => {
    const documents = [
      { id: "b", text: "flaky merge" },
      { id: "c", text: "flaky merge" },
      { id: "a", text: "flaky merge" },
      { id: "best", text: "flaky flaky merge" }
    ]
    const expected = ["best", "a", "b", "c"]
    assert.deepStrictEqual(ids(indexOf(documents).search("flaky merge", { k: 10 })), expected)
    assert.deepStrictEqual(ids(indexOf([...documents].reverse()).search("flaky merge", { k: 10 })), expected)
    const hits = indexOf(documents).search("flaky merge", { k: 10 })
    assert.isAbove(hits[0]!.score, hits[1]!.score)
    assert.strictEqual(hits[1]!.score, hits[3]!.score)
  })

  it("applies the filter before taking the best k", () => {
    const index = indexOf([
      { id: "best", text: "flaky flaky merge" },
      { id: "second", text: "flaky merge" },
      { id: "third", text: "merge" }
    ])
    assert.deepStrictEqual(ids(index.search("flaky merge", { k: 1, filter: (id) => id !== "best" })), ["second"])
    assert.deepStrictEqual(index.search("flaky merge", { k: 0 }), [])
    assert.deepStrictEqual(index.search("flaky", { k: 5, filter: () => false }), [])
  })

  it("replaces a document added again under the same id", () => {
    const index = indexOf([{ id: "a", text: "flaky merge" }])
    index.add([{ id: "a", text: "warm cache" }])
    assert.strictEqual(index.size, 1)
    assert.deepStrictEqual(index.search("flaky", { k: 10 }), [])
    assert.deepStrictEqual(ids(index.search("cache", { k: 10 })), ["a"])
  })

  it("counts the documents it holds", () => {
    const index = indexOf([{ id: "a", text: "x" }, { id: "b", text: "y" }])
    assert.strictEqual(index.size, 2)
    assert.isTrue(index.remove("a"))
    assert.isFalse(index.remove("a"))
    assert.isFalse(index.has("a"))
    assert.isTrue(index.has("b"))
    assert.strictEqual(index.size, 1)
  })

  it.prop(
    "fromJSON(toJSON()) answers every query like the original",
    [documents, fc.array(documentId), queries, options],
    ([documents, removed, queries, options]) => {
      const index = indexOf(documents, options)
      for (const id of removed) index.remove(id)
      const loaded = unwrap(KeywordIndex.fromJSON(index.toJSON()))
      assert.deepStrictEqual(loaded.options, index.options)
      assert.strictEqual(loaded.size, index.size)
      for (const query of queries) {
        assert.deepStrictEqual(loaded.search(query, { k: 5 }), index.search(query, { k: 5 }))
      }
      assert.strictEqual(loaded.toJSON(), index.toJSON())
    }
  )

  it.prop(
    "remove makes a document unfindable, and the index answers as if it had never been added",
    [documents, fc.array(documentId, { minLength: 1 }), queries, options],
    ([documents, removed, queries, options]) => {
      const index = indexOf(documents, options)
      for (const id of removed) index.remove(id)
      const gone = new Set(removed)
      const rebuilt = indexOf(documents.filter((document) => !gone.has(document.id)), options)
      for (const query of queries) {
        const hits = index.search(query, { k: 20 })
        for (const hit of hits) assert.isFalse(gone.has(hit.id))
        assert.deepStrictEqual(hits, rebuilt.search(query, { k: 20 }))
      }
      assert.strictEqual(index.toJSON(), rebuilt.toJSON())
    }
  )

  it.prop(
    "adding one at a time answers like adding all at once",
    [documents, queries],
    ([documents, queries]) => {
      const batch = indexOf(documents)
      const single = KeywordIndex.make()
      for (const document of documents) single.add([document])
      for (const query of queries) {
        assert.deepStrictEqual(single.search(query, { k: 20 }), batch.search(query, { k: 20 }))
      }
      assert.strictEqual(single.toJSON(), batch.toJSON())
    }
  )

  it("answers as if rebuilt after compacting away many removed documents", () => {
    const documents = Array.from({ length: 1200 }, (_, i) => ({
      id: `m${String(i).padStart(4, "0")}`,
      text: `flaky merge ${i % 7 === 0 ? "cache" : "runner"} ${i % 3 === 0 ? "tests" : "deploy"} n${i % 50}`
    }))
    const index = indexOf(documents)
    const removed = documents.filter((_, i) => i % 2 === 0).map((document) => document.id)
    for (const id of removed) index.remove(id)
    const rebuilt = indexOf(documents.filter((_, i) => i % 2 === 1))
    for (const query of ["flaky", "cache tests", "runner deploy n7", "n8 n9 merge"]) {
      assert.deepStrictEqual(index.search(query, { k: 30 }), rebuilt.search(query, { k: 30 }))
    }
    assert.strictEqual(index.toJSON(), rebuilt.toJSON())
    index.add([{ id: "m0000", text: "cache zebra" }])
    assert.strictEqual(ids(index.search("zebra", { k: 5 }))[0], "m0000")
  })

  it("refuses to load what is not an index of this analyzer", () => {
    const json = indexOf([{ id: "a", text: "flaky merge" }]).toJSON()
    const error = (text: string) => {
      const result = KeywordIndex.fromJSON(text)
      assert.isTrue(Either.isLeft(result), text.slice(0, 80))
      return (result as Either.Left<KeywordIndex.KeywordIndexCorruptedError, unknown>).left
    }
    assert.strictEqual(error("not json")._tag, "KeywordIndexCorruptedError")
    assert.match(error(json.replace(/"analyzer":\d+/, "\"analyzer\":0")).message, /analyzer version 0/)
    const stored = JSON.parse(json)
    assert.match(error(JSON.stringify({ ...stored, postings: "" })).message, /postings/)
    assert.match(error(JSON.stringify({ ...stored, ids: ["a", "a"] })).message, /per document|twice/)
    assert.match(
      error(JSON.stringify({ ...stored, counts: Buffer.from([200]).toString("base64") })).message,
      /postings/
    )
  })
})
