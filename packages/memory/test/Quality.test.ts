import { NodeContext } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Console, Context, Effect, Layer } from "effect"
import * as Quality from "../src/testing/Quality.js"
import * as RetrievalSet from "../src/testing/RetrievalSet.js"

/** The quality report over the project's retrieval set, measured once for every test below. */
class Report extends Context.Tag("test/Quality/Report")<Report, ReadonlyMap<string, RetrievalSet.Row>>() {}

const measured = Layer.effect(
  Report,
  Effect.gen(function*() {
    const set = yield* RetrievalSet.load()
    const rows = yield* Quality.measure(set)
    // The figures, for the log of the run: recall@5, recall@10 and recall@10 by kind of question.
    yield* Console.log(`\n${RetrievalSet.report(rows)}`)
    return new Map(rows.map((row) => [row.name, row]))
  })
).pipe(Layer.provide(NodeContext.layer))

const row = (report: ReadonlyMap<string, RetrievalSet.Row>, name: string) => {
  const found = report.get(name)
  assert.isDefined(found, `no retriever named ${name}`)
  return found!
}

describe("Quality", () => {
  layer(measured, { timeout: "120 seconds" })((it) => {
    it.effect("hybrid search with the default weights is at least the best single retriever, at 5 and at 10", () =>
      Effect.gen(function*() {
        const report = yield* Report
        const hybrid = row(report, "hybrid (defaults)")
        const bm25 = row(report, "bm25")
        const vectors = row(report, "vectors")
        assert.isAtLeast(hybrid.at5.overall, Math.max(bm25.at5.overall, vectors.at5.overall))
        assert.isAtLeast(hybrid.at10.overall, Math.max(bm25.at10.overall, vectors.at10.overall))
      }))

    it.effect("stemming and stop words lift BM25's recall", () =>
      Effect.gen(function*() {
        const report = yield* Report
        const on = row(report, "bm25")
        const off = row(report, "bm25, no stemming or stop words")
        assert.isAbove(on.at5.overall, off.at5.overall)
        assert.isAbove(on.at10.overall, off.at10.overall)
      }))

    it.effect("the hashing embedder finds more over the analyzer's terms than over Tokenizer.tokenize", () =>
      Effect.gen(function*() {
        const report = yield* Report
        const analyzer = row(report, "vectors")
        const tokenizer = row(report, "vectors, Tokenizer.tokenize terms")
        assert.isAbove(analyzer.at5.overall, tokenizer.at5.overall)
        assert.isAbove(analyzer.at10.overall, tokenizer.at10.overall)
      }))

    it.effect("the neighbouring turns (context) lift BM25's recall@10", () =>
      Effect.gen(function*() {
        const report = yield* Report
        assert.isAbove(row(report, "bm25 + context").at10.overall, row(report, "bm25").at10.overall)
      }))

    it.effect("the weak retriever fused 1:1 drags the strong one down: why the vectors weigh less by default", () =>
      Effect.gen(function*() {
        const report = yield* Report
        assert.isBelow(row(report, "hybrid 1:1, no context").at10.overall, row(report, "bm25").at10.overall)
      }))
  })
})
