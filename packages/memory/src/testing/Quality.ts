/**
 * Retrieval quality of conversation search on the project's retrieval set (`RetrievalSet`):
 * recall@5 and recall@10, overall and by kind of question, of BM25 alone, vectors alone and
 * their fusion, each as a `ConversationIndex` holding every turn of the set and searched with
 * the given weights. Used by `test/Quality.test.ts` (which holds the defaults to their promise)
 * and by the memory bench.
 *
 * A retriever is `Weights` plus the analysis of the keyword index and the term function of the
 * hashing embedder, so that what stemming and stop words, or the analyzer's terms in the
 * embedder, add can be measured the same way.
 */
import { FileSystem } from "@effect/platform"
import type { Path } from "@effect/platform"
import type { MemoryIndexError } from "@weft/kernel/MemoryIndex"
import { Effect } from "effect"
import type { Scope } from "effect"
import * as ConversationIndex from "../ConversationIndex.js"
import * as Embedder from "../Embedder.js"
import * as RetrievalSet from "./RetrievalSet.js"

export interface Retriever {
  readonly name: string
  readonly weights: ConversationIndex.Weights
  /** The keyword analysis (default: stemming and stop words). */
  readonly keyword?: { readonly stem: boolean; readonly stopWords: boolean } | undefined
  /** The hashing embedder's options (default `ConversationIndex.hashingOptions`). */
  readonly embedder?: Embedder.HashingOptions | undefined
}

const k = ConversationIndex.defaultWeights.k

/** BM25 alone: no vectors, no neighbouring turns. */
export const bm25: ConversationIndex.Weights = { keyword: 1, vector: 0, k, context: 0 }

/** Vectors alone. */
export const vectors: ConversationIndex.Weights = { keyword: 0, vector: 1, k, context: 0 }

/** The retrievers the quality report compares. */
export const retrievers: ReadonlyArray<Retriever> = [
  { name: "bm25", weights: bm25 },
  { name: "bm25, no stemming or stop words", weights: bm25, keyword: { stem: false, stopWords: false } },
  { name: "vectors", weights: vectors },
  { name: "vectors, Tokenizer.tokenize terms", weights: vectors, embedder: {} },
  { name: "bm25 + context", weights: { ...bm25, context: ConversationIndex.defaultWeights.context } },
  { name: "hybrid 1:1, no context", weights: { keyword: 1, vector: 1, k, context: 0 } },
  { name: "hybrid (defaults)", weights: ConversationIndex.defaultWeights }
]

/** The set's turns as documents. */
export const docs = (set: RetrievalSet.RetrievalSet): Array<ConversationIndex.Doc> =>
  set.turns.map((turn) => ({
    id: turn.id,
    kind: "turn",
    sessionId: turn.sessionId,
    project: turn.project,
    role: turn.role,
    at: turn.at,
    text: turn.text
  }))

/** An index of the whole set (segments of `sealAt` turns) under a temporary directory. */
export const index = (
  set: RetrievalSet.RetrievalSet,
  retriever: Pick<Retriever, "keyword" | "embedder">,
  sealAt = 100
): Effect.Effect<
  ConversationIndex.ConversationIndex,
  MemoryIndexError,
  FileSystem.FileSystem | Path.Path | Scope.Scope
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "weft-quality-" }).pipe(Effect.orDie)
    const embedder = Embedder.hashing(retriever.embedder ?? ConversationIndex.hashingOptions)
    const index = yield* ConversationIndex.make({ dir, sealAt, keyword: retriever.keyword }).pipe(
      Effect.provideService(Embedder.Embedder, embedder)
    )
    yield* index.add(docs(set))
    return index
  })

/** The ids `index` returns for `question` with `weights`, best first. */
export const ranking = (
  index: ConversationIndex.ConversationIndex,
  weights: ConversationIndex.Weights,
  k: number
) =>
(question: string) =>
  Effect.map(
    index.search(question, { k, weights, now: 0 }),
    (found) => found.map((hit) => hit.doc.id)
  )

/** Recall@5 and recall@10 of each retriever over `set`; retrievers with the same analysis share an index. */
export const measure = (
  set: RetrievalSet.RetrievalSet,
  compared: ReadonlyArray<Retriever> = retrievers
): Effect.Effect<Array<RetrievalSet.Row>, MemoryIndexError, FileSystem.FileSystem | Path.Path> =>
  Effect.scoped(Effect.gen(function*() {
    const indexes = new Map<string, ConversationIndex.ConversationIndex>()
    const rows: Array<RetrievalSet.Row> = []
    for (const retriever of compared) {
      const key = JSON.stringify([
        retriever.keyword ?? null,
        retriever.embedder === undefined ? null : {
          ...retriever.embedder,
          terms: retriever.embedder.termsName ?? String(retriever.embedder.terms ?? "tokenize")
        }
      ])
      let built = indexes.get(key)
      if (built === undefined) {
        built = yield* index(set, retriever)
        indexes.set(key, built)
      }
      const at5 = yield* RetrievalSet.recallEffect(set, ranking(built, retriever.weights, 5), 5)
      const at10 = yield* RetrievalSet.recallEffect(set, ranking(built, retriever.weights, 10), 10)
      rows.push({ name: retriever.name, at5, at10 })
    }
    return rows
  }))
