/**
 * BM25 keyword search over analysed text.
 *
 * Documents and queries go through `Analyzer`, each in its own detected language; a query whose
 * language is undetermined is also analysed in the languages of the index's documents. Query
 * terms are OR-ed and matched exactly (no prefix or fuzzy expansion), and a document scores
 *
 *   Σ over the query terms it holds of  idf(t) · tf · (k1 + 1) / (tf + k1 · (1 − b + b · len / avglen))
 *
 * with idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5)) and `len` counting a document's terms.
 * k1 = 0.9 and b = 0.4 (Anserini's defaults, for short documents) did best on the project's
 * retrieval set: recall@10 58.5 against 56.7 with the textbook 1.2 and 0.75. Results come best
 * first, ties going to the smaller id.
 *
 * Every quantity in a score is an integer count (N, df, tf, len, the total length) and the sum
 * runs in query-term order, so an index answers bit for bit the same however it got its
 * documents: added at once or one by one, with removals or without, or loaded by `fromJSON`.
 * `toJSON` writes the living documents only, so it too is the same text either way.
 *
 * Why not minisearch (the library the issue named): at 100,000 chat messages its OR search took
 * 21 ms (p50) and 126 ms (p99) of CPU per 3–8 word query, and no setting fixed that (AND still
 * took 12 ms and found almost nothing); its heap was 246 MB. Its `discard` also scores documents
 * with a stale document frequency until a vacuum runs. Postings here are flat arrays of
 * (document, term frequency) pairs scored into a reused accumulator.
 */
import { Either, Schema } from "effect"
import { Buffer } from "node:buffer"
import * as Analyzer from "./Analyzer.js"
import * as Language from "./Language.js"

export interface Options {
  /** Stem words (default `true`). */
  readonly stem?: boolean | undefined
  /** Drop stop words (default `true`). */
  readonly stopWords?: boolean | undefined
  /** The language of Latin-script words in text that has none of its own (default `"en"`). */
  readonly fallback?: Language.Language | undefined
}

export interface Document {
  readonly id: string
  readonly text: string
}

export interface Hit {
  readonly id: string
  readonly score: number
}

export interface SearchOptions {
  /** How many hits at most. */
  readonly k: number
  /** Keep only the documents it accepts; applied before the best `k` are taken. */
  readonly filter?: ((id: string) => boolean) | undefined
}

export interface KeywordIndex {
  readonly options: {
    readonly stem: boolean
    readonly stopWords: boolean
    readonly fallback: Language.Language
  }
  /** How many documents the index holds. */
  readonly size: number
  readonly has: (id: string) => boolean
  /** Adds documents; a document whose id is already there replaces the earlier one. */
  readonly add: (documents: ReadonlyArray<Document>) => void
  /** Takes a document out, as if it had never been added; `false` when there was none with that id. */
  readonly remove: (id: string) => boolean
  /** The `k` best documents for `query`, best first; ties go to the smaller id. */
  readonly search: (query: string, options: SearchOptions) => Array<Hit>
  /** The whole index as JSON, for `fromJSON`. */
  readonly toJSON: () => string
}

export class KeywordIndexCorruptedError extends Schema.TaggedError<KeywordIndexCorruptedError>()(
  "KeywordIndexCorruptedError",
  { reason: Schema.String }
) {
  override get message() {
    return `cannot load the keyword index: ${this.reason}; rebuild it (weft memory rebuild)`
  }
}

const K1 = 0.9
const B = 0.4
const MAX_TF = 0xffff

type Resolved = KeywordIndex["options"]

/**
 * The mutable heart of an index. Documents are numbered in the order they arrive; a removed
 * document keeps its number, dead, until a compaction renumbers the living ones (in order).
 */
interface State {
  /** term → [doc, tf, doc, tf, …], docs ascending. */
  postings: Map<string, Array<number>>
  /** doc → id, `undefined` once removed. */
  ids: Array<string | undefined>
  numbers: Map<string, number>
  /** doc → its number of terms. */
  lengths: Array<number>
  /** 1 while the document lives. */
  alive: Uint8Array
  /** doc → the index in `Language.languages` of the language it was analysed in. */
  languages: Uint8Array
  /** How many living documents were analysed in each language. */
  languageCounts: Array<number>
  live: number
  totalLength: number
  /** Per-query scratch: a score per doc (zero between queries). */
  scores: Float64Array
}

const emptyState = (): State => ({
  postings: new Map(),
  ids: [],
  numbers: new Map(),
  lengths: [],
  alive: new Uint8Array(1024),
  languages: new Uint8Array(1024),
  languageCounts: Language.languages.map(() => 0),
  live: 0,
  totalLength: 0,
  scores: new Float64Array(0)
})

const grow = (array: Uint8Array, size: number): Uint8Array => {
  if (size <= array.length) return array
  const next = new Uint8Array(Math.max(size, array.length * 2))
  next.set(array)
  return next
}

const addOne = (state: State, id: string, language: Language.Language, terms: ReadonlyArray<string>) => {
  const doc = state.ids.length
  const counts = new Map<string, number>()
  for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1)
  for (const [term, tf] of counts) {
    const list = state.postings.get(term)
    if (list === undefined) state.postings.set(term, [doc, Math.min(tf, MAX_TF)])
    else list.push(doc, Math.min(tf, MAX_TF))
  }
  state.ids.push(id)
  state.numbers.set(id, doc)
  state.lengths.push(terms.length)
  state.alive = grow(state.alive, doc + 1)
  state.alive[doc] = 1
  const code = Language.languages.indexOf(language)
  state.languages = grow(state.languages, doc + 1)
  state.languages[doc] = code
  state.languageCounts[code]!++
  state.live++
  state.totalLength += terms.length
}

const removeOne = (state: State, id: string): boolean => {
  const doc = state.numbers.get(id)
  if (doc === undefined) return false
  state.numbers.delete(id)
  state.ids[doc] = undefined
  state.alive[doc] = 0
  state.languageCounts[state.languages[doc]!]!--
  state.live--
  state.totalLength -= state.lengths[doc]!
  return true
}

/** Drops dead documents from the postings and renumbers the living ones, keeping their order. */
const compact = (state: State) => {
  const renumber = new Int32Array(state.ids.length)
  const ids: Array<string | undefined> = []
  const lengths: Array<number> = []
  const languages = new Uint8Array(Math.max(1024, state.live))
  state.numbers.clear()
  for (let doc = 0; doc < state.ids.length; doc++) {
    const id = state.ids[doc]
    if (id === undefined) {
      renumber[doc] = -1
      continue
    }
    renumber[doc] = ids.length
    languages[ids.length] = state.languages[doc]!
    state.numbers.set(id, ids.length)
    ids.push(id)
    lengths.push(state.lengths[doc]!)
  }
  for (const [term, list] of state.postings) {
    let to = 0
    for (let from = 0; from < list.length; from += 2) {
      const doc = renumber[list[from]!]!
      if (doc < 0) continue
      list[to++] = doc
      list[to++] = list[from + 1]!
    }
    if (to === 0) state.postings.delete(term)
    else list.length = to
  }
  state.ids = ids
  state.lengths = lengths
  state.languages = languages
  state.alive = new Uint8Array(Math.max(1024, ids.length))
  state.alive.fill(1, 0, ids.length)
}

/** The best `k` docs of `touched` by score, ties to the smaller id, best first. */
const topK = (
  state: State,
  touched: ReadonlyArray<number>,
  k: number,
  filter: ((id: string) => boolean) | undefined
): Array<Hit> => {
  const { ids, scores } = state
  // a is worse than b
  const worse = (a: number, b: number) => scores[a]! < scores[b]! || (scores[a] === scores[b] && ids[a]! > ids[b]!)
  const heap: Array<number> = []
  const down = (from: number) => {
    let i = from
    for (;;) {
      const left = 2 * i + 1
      if (left >= heap.length) return
      const right = left + 1
      const child = right < heap.length && worse(heap[right]!, heap[left]!) ? right : left
      if (!worse(heap[child]!, heap[i]!)) return
      const swap = heap[i]!
      heap[i] = heap[child]!
      heap[child] = swap
      i = child
    }
  }
  for (const doc of touched) {
    if (heap.length === k && !worse(heap[0]!, doc)) continue
    if (filter !== undefined && !filter(ids[doc]!)) continue
    if (heap.length < k) {
      heap.push(doc)
      let i = heap.length - 1
      while (i > 0) {
        const parent = (i - 1) >> 1
        if (!worse(heap[i]!, heap[parent]!)) break
        const swap = heap[i]!
        heap[i] = heap[parent]!
        heap[parent] = swap
        i = parent
      }
    } else {
      heap[0] = doc
      down(0)
    }
  }
  heap.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0))
  return heap.map((doc) => ({ id: ids[doc]!, score: scores[doc]! }))
}

const search = (state: State, queryTerms: ReadonlyArray<string>, k: number, filter: SearchOptions["filter"]) => {
  if (k <= 0 || state.live === 0) return []
  if (state.scores.length < state.ids.length) state.scores = new Float64Array(Math.max(1024, state.ids.length * 2))
  const { alive, lengths, scores } = state
  const n = state.live
  const average = state.totalLength / n
  const touched: Array<number> = []
  for (const term of queryTerms) {
    const list = state.postings.get(term)
    if (list === undefined) continue
    let df = 0
    for (let i = 0; i < list.length; i += 2) df += alive[list[i]!]!
    if (df === 0) continue
    const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5))
    for (let i = 0; i < list.length; i += 2) {
      const doc = list[i]!
      if (alive[doc] === 0) continue
      const tf = list[i + 1]!
      const score = idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths[doc]! / average))
      if (scores[doc] === 0) touched.push(doc)
      scores[doc] += score
    }
  }
  const hits = topK(state, touched, k, filter)
  for (const doc of touched) scores[doc] = 0
  return hits
}

// Serialised form: the living documents, renumbered; their lengths, and the postings, as base64
// varints (per posting, the gap from the term's previous doc, then tf), which keeps a sealed
// segment to about two bytes a posting.

const FORMAT = 1

const Stored = Schema.Struct({
  format: Schema.Literal(FORMAT),
  analyzer: Schema.Number,
  stem: Schema.Boolean,
  stopWords: Schema.Boolean,
  fallback: Language.Language,
  ids: Schema.Array(Schema.String),
  /** Varints: each document's length. */
  lengths: Schema.String,
  /** Base64 bytes: each document's language, as its index in `Language.languages`. */
  languages: Schema.String,
  terms: Schema.Array(Schema.String),
  /** Varints: each term's number of postings. */
  counts: Schema.String,
  /** Varints: per posting, the gap from the term's previous doc (the first from -1), then tf. */
  postings: Schema.String
})

const decodeStored = Schema.decodeUnknownEither(Schema.parseJson(Stored))

class Varints {
  bytes = new Uint8Array(1 << 16)
  length = 0
  write(value: number) {
    if (this.length + 8 > this.bytes.length) {
      const next = new Uint8Array(this.bytes.length * 2)
      next.set(this.bytes)
      this.bytes = next
    }
    let rest = value
    while (rest >= 0x80) {
      this.bytes[this.length++] = (rest & 0x7f) | 0x80
      rest = Math.floor(rest / 128)
    }
    this.bytes[this.length++] = rest
  }
  toBase64() {
    return Buffer.from(this.bytes.buffer, 0, this.length).toString("base64")
  }
}

/** Reads varints from base64; `-1` past the end or on a varint too long to be ours. */
const varintReader = (base64: string) => {
  const bytes = Buffer.from(base64, "base64")
  let offset = 0
  return {
    next: (): number => {
      let value = 0
      let scale = 1
      for (;;) {
        if (offset >= bytes.length || scale > 2 ** 35) return -1
        const byte = bytes[offset++]!
        value += (byte & 0x7f) * scale
        if (byte < 0x80) return value
        scale *= 128
      }
    },
    done: () => offset === bytes.length
  }
}

const encode = (state: State, options: Resolved): string => {
  if (state.live < state.ids.length) compact(state)
  const terms = [...state.postings.keys()].sort()
  const lengths = new Varints()
  for (const length of state.lengths) lengths.write(length)
  const counts = new Varints()
  const postings = new Varints()
  for (const term of terms) {
    const list = state.postings.get(term)!
    counts.write(list.length / 2)
    let previous = -1
    for (let i = 0; i < list.length; i += 2) {
      postings.write(list[i]! - previous)
      postings.write(list[i + 1]!)
      previous = list[i]!
    }
  }
  return JSON.stringify({
    format: FORMAT,
    analyzer: Analyzer.version,
    stem: options.stem,
    stopWords: options.stopWords,
    fallback: options.fallback,
    ids: state.ids,
    lengths: lengths.toBase64(),
    languages: Buffer.from(state.languages.buffer, 0, state.ids.length).toString("base64"),
    terms,
    counts: counts.toBase64(),
    postings: postings.toBase64()
  })
}

const corrupted = (reason: string) => Either.left(new KeywordIndexCorruptedError({ reason }))

const decode = (stored: typeof Stored.Type): Either.Either<State, KeywordIndexCorruptedError> => {
  const documents = stored.ids.length
  const state = emptyState()
  const lengths = varintReader(stored.lengths)
  const languages = Buffer.from(stored.languages, "base64")
  if (languages.length !== documents || languages.some((code) => code >= Language.languages.length)) {
    return corrupted("it has not one known language per document")
  }
  state.languages = new Uint8Array(Math.max(1024, documents))
  state.languages.set(languages)
  for (const code of languages) state.languageCounts[code]!++
  for (let doc = 0; doc < documents; doc++) {
    const id = stored.ids[doc]!
    const length = lengths.next()
    if (length < 0) return corrupted("it has not one length per document")
    if (state.numbers.has(id)) return corrupted(`document ${JSON.stringify(id)} appears twice`)
    state.numbers.set(id, doc)
    state.lengths.push(length)
    state.totalLength += length
  }
  if (!lengths.done()) return corrupted("it has not one length per document")
  const counts = varintReader(stored.counts)
  const postings = varintReader(stored.postings)
  for (const term of stored.terms) {
    const count = counts.next()
    if (count <= 0 || state.postings.has(term)) {
      return corrupted(`the postings of ${JSON.stringify(term)} are malformed`)
    }
    const list = new Array<number>(count * 2)
    let doc = -1
    for (let i = 0; i < count; i++) {
      const gap = postings.next()
      const tf = postings.next()
      doc += gap
      if (gap <= 0 || tf <= 0 || doc >= documents) {
        return corrupted(`the postings of ${JSON.stringify(term)} are malformed`)
      }
      list[2 * i] = doc
      list[2 * i + 1] = tf
    }
    state.postings.set(term, list)
  }
  if (!counts.done() || !postings.done()) return corrupted("its postings do not match its terms")
  state.ids = [...stored.ids]
  state.alive = new Uint8Array(Math.max(1024, documents))
  state.alive.fill(1, 0, documents)
  state.live = documents
  return Either.right(state)
}

/** Compact once the dead make up a quarter of the numbered documents. */
const DEAD_SHARE = 0.25
const MIN_DEAD = 256

const wrap = (state: State, options: Resolved): KeywordIndex => {
  const analysis = { stem: options.stem, stopWords: options.stopWords, fallback: options.fallback }
  const maybeCompact = () => {
    const dead = state.ids.length - state.live
    if (dead >= MIN_DEAD && dead >= state.ids.length * DEAD_SHARE) compact(state)
  }
  return {
    options,
    get size() {
      return state.live
    },
    has: (id) => state.numbers.has(id),
    add: (documents) => {
      for (const document of documents) {
        removeOne(state, document.id)
        const language = Analyzer.languageOf(document.text)
        addOne(state, document.id, language, Analyzer.terms(document.text, { ...analysis, language }))
      }
      maybeCompact()
    },
    remove: (id) => {
      const removed = removeOne(state, id)
      if (removed) maybeCompact()
      return removed
    },
    search: (query, { filter, k }) => {
      const also = Language.languages.filter((_, code) => state.languageCounts[code]! > 0)
      return search(state, Analyzer.queryTerms(query, { ...analysis, also }), k, filter)
    },
    toJSON: () => encode(state, options)
  }
}

/** An empty index. */
export const make = (options?: Options): KeywordIndex =>
  wrap(emptyState(), {
    stem: options?.stem ?? true,
    stopWords: options?.stopWords ?? true,
    fallback: options?.fallback ?? "en"
  })

/** Loads what `toJSON` wrote; fails when the text is not such an index or another analyzer version wrote it. */
export const fromJSON = (text: string): Either.Either<KeywordIndex, KeywordIndexCorruptedError> =>
  Either.gen(function*() {
    const stored = yield* Either.mapLeft(
      decodeStored(text),
      (error) => new KeywordIndexCorruptedError({ reason: error.message })
    )
    if (stored.analyzer !== Analyzer.version) {
      return yield* corrupted(
        `it was analysed by analyzer version ${stored.analyzer}, this is version ${Analyzer.version}`
      )
    }
    const state = yield* decode(stored)
    return wrap(state, { stem: stored.stem, stopWords: stored.stopWords, fallback: stored.fallback })
  })
