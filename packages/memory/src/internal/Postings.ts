/**
 * The keyword half of a conversation-index segment: an inverted index (term → rows and term
 * frequencies) and each row's length, scored by BM25 with statistics that belong to the whole
 * index rather than to one segment (`Statistics`), so that a document's score does not depend on
 * which segment holds it.
 *
 * The scoring is `KeywordIndex`'s, to the bit (a test checks it): BM25 with k1 = 0.9 and b = 0.4,
 * a document's length being its number of terms, the sum running in query-term order. Only the
 * statistics' scope differs: `KeywordIndex` keeps them per index, here they cover every segment.
 *
 * A growing segment's postings are plain arrays that rows are appended to; a sealed segment's are
 * typed arrays (`encode` / `decode`).
 */

import { Either, Schema } from "effect"

/** Term frequencies are capped here, as `KeywordIndex` caps them. */
const MAX_TF = 0xffff

export const K1 = 0.9
export const B = 0.4

/** A document as the keyword index sees it: its distinct terms, each with its frequency, and its length. */
export interface Analysed {
  readonly terms: ReadonlyArray<string>
  readonly tfs: ReadonlyArray<number>
  /** Its number of terms, repeats included. */
  readonly length: number
}

/** Counts the terms of a text (as `Analyzer.terms` gives them) in order of first appearance. */
export const analysed = (terms: ReadonlyArray<string>): Analysed => {
  const counts = new Map<string, number>()
  for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1)
  return {
    terms: [...counts.keys()],
    tfs: [...counts.values()].map((tf) => Math.min(tf, MAX_TF)),
    length: terms.length
  }
}

/** The rows holding one term, with the term's frequency in each, between `start` and `end`. */
export interface Posting {
  readonly rows: ArrayLike<number>
  readonly tfs: ArrayLike<number>
  readonly start: number
  readonly end: number
}

export interface Postings {
  /** Rows, deleted ones included. */
  readonly rows: number
  /** The number of terms of each row, repeats included. */
  readonly lengths: ArrayLike<number>
  readonly posting: (term: string) => Posting | undefined
  /** Every term with its rows, for sealing and for `Statistics` (each row once per term). */
  readonly terms: () => Iterable<readonly [string, Posting]>
}

/** Postings that rows are appended to: the growing segment's. */
export class Growing implements Postings {
  private readonly index = new Map<string, { rows: Array<number>; tfs: Array<number> }>()
  readonly lengths: Array<number> = []

  get rows(): number {
    return this.lengths.length
  }

  /** Appends row `this.rows`. */
  add(doc: Analysed): void {
    const row = this.lengths.length
    this.lengths.push(doc.length)
    for (let i = 0; i < doc.terms.length; i++) {
      const term = doc.terms[i]!
      let entry = this.index.get(term)
      if (entry === undefined) {
        entry = { rows: [], tfs: [] }
        this.index.set(term, entry)
      }
      entry.rows.push(row)
      entry.tfs.push(doc.tfs[i]!)
    }
  }

  posting(term: string): Posting | undefined {
    const entry = this.index.get(term)
    return entry === undefined ? undefined : { rows: entry.rows, tfs: entry.tfs, start: 0, end: entry.rows.length }
  }

  *terms(): Iterable<readonly [string, Posting]> {
    for (const [term, entry] of this.index) {
      yield [term, { rows: entry.rows, tfs: entry.tfs, start: 0, end: entry.rows.length }]
    }
  }

  /** Takes over the postings of a sealed segment (a growing segment restored from a checkpoint). */
  static from(postings: Postings): Growing {
    const growing = new Growing()
    for (let row = 0; row < postings.rows; row++) growing.lengths.push(postings.lengths[row]!)
    for (const [term, posting] of postings.terms()) {
      const rows: Array<number> = []
      const tfs: Array<number> = []
      for (let i = posting.start; i < posting.end; i++) {
        rows.push(posting.rows[i]!)
        tfs.push(posting.tfs[i]!)
      }
      growing.index.set(term, { rows, tfs })
    }
    return growing
  }
}

/** Immutable postings in typed arrays: a sealed segment's. */
export class Sealed implements Postings {
  constructor(
    private readonly dictionary: Map<string, number>,
    private readonly termList: ReadonlyArray<string>,
    private readonly offsets: Uint32Array,
    private readonly postingRows: Uint32Array,
    private readonly postingTfs: Uint16Array,
    readonly lengths: Uint32Array
  ) {}

  get rows(): number {
    return this.lengths.length
  }

  posting(term: string): Posting | undefined {
    const at = this.dictionary.get(term)
    if (at === undefined) return undefined
    return { rows: this.postingRows, tfs: this.postingTfs, start: this.offsets[at]!, end: this.offsets[at + 1]! }
  }

  *terms(): Iterable<readonly [string, Posting]> {
    for (let at = 0; at < this.termList.length; at++) {
      yield [this.termList[at]!, {
        rows: this.postingRows,
        tfs: this.postingTfs,
        start: this.offsets[at]!,
        end: this.offsets[at + 1]!
      }]
    }
  }

  /** The bytes this holds in memory, roughly. */
  get bytes(): number {
    return this.offsets.byteLength + this.postingRows.byteLength + this.postingTfs.byteLength +
      this.lengths.byteLength + this.termList.length * 48
  }
}

const MAGIC = 0x314b5757 // "WWK1" read little-endian
const VERSION = 1
const HEADER = 24

const decodeTerms = Schema.decodeUnknownEither(Schema.parseJson(Schema.Array(Schema.String)))

const align4 = (n: number) => (n + 3) & ~3

/**
 * The rows `keep` (in order, renumbered from 0) of `postings` as bytes: a header, the terms as a
 * JSON array, then offsets, row lengths, rows and term frequencies (capped at 65,535).
 */
export const encode = (postings: Postings, keep: ReadonlyArray<number>): Uint8Array => {
  const renumber = new Int32Array(postings.rows).fill(-1)
  keep.forEach((row, i) => {
    renumber[row] = i
  })
  const terms: Array<string> = []
  const rows: Array<number> = []
  const tfs: Array<number> = []
  const offsets: Array<number> = [0]
  const entries = [...postings.terms()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  for (const [term, posting] of entries) {
    const before = rows.length
    for (let i = posting.start; i < posting.end; i++) {
      const to = renumber[posting.rows[i]!]!
      if (to < 0) continue
      rows.push(to)
      tfs.push(Math.min(MAX_TF, posting.tfs[i]!))
    }
    if (rows.length === before) continue
    terms.push(term)
    offsets.push(rows.length)
  }
  const termBytes = new TextEncoder().encode(JSON.stringify(terms))
  const n = keep.length
  const at = {
    terms: HEADER,
    offsets: HEADER + align4(termBytes.length),
    lengths: 0,
    rows: 0,
    tfs: 0,
    total: 0
  }
  at.lengths = at.offsets + offsets.length * 4
  at.rows = at.lengths + n * 4
  at.tfs = at.rows + rows.length * 4
  at.total = at.tfs + align4(tfs.length * 2)
  const bytes = new Uint8Array(at.total)
  const view = new DataView(bytes.buffer)
  view.setUint32(0, MAGIC, true)
  view.setUint32(4, VERSION, true)
  view.setUint32(8, termBytes.length, true)
  view.setUint32(12, terms.length, true)
  view.setUint32(16, n, true)
  view.setUint32(20, rows.length, true)
  bytes.set(termBytes, at.terms)
  new Uint32Array(bytes.buffer, at.offsets, offsets.length).set(offsets)
  new Uint32Array(bytes.buffer, at.lengths, n).set(keep.map((row) => postings.lengths[row]!))
  new Uint32Array(bytes.buffer, at.rows, rows.length).set(rows)
  new Uint16Array(bytes.buffer, at.tfs, tfs.length).set(tfs)
  return bytes
}

/** Reads what `encode` wrote; a string saying what is wrong when the bytes are not such postings. */
export const decode = (input: Uint8Array): Sealed | string => {
  if (input.length < HEADER) return `${input.length} bytes, shorter than the header`
  const bytes = input.byteOffset % 4 === 0 ? input : input.slice()
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  if (view.getUint32(0, true) !== MAGIC) return "not a weft keyword segment"
  if (view.getUint32(4, true) !== VERSION) return `format version ${view.getUint32(4, true)}`
  const termBytes = view.getUint32(8, true)
  const termCount = view.getUint32(12, true)
  const n = view.getUint32(16, true)
  const postings = view.getUint32(20, true)
  const offsetsAt = HEADER + align4(termBytes)
  const lengthsAt = offsetsAt + (termCount + 1) * 4
  const rowsAt = lengthsAt + n * 4
  const tfsAt = rowsAt + postings * 4
  const total = tfsAt + align4(postings * 2)
  if (total !== bytes.length) return `${bytes.length} bytes where ${total} were expected`
  const decoded = decodeTerms(new TextDecoder().decode(bytes.subarray(HEADER, HEADER + termBytes)))
  if (Either.isLeft(decoded)) return "its terms are not a JSON list of strings"
  const terms = decoded.right
  if (terms.length !== termCount) return `${terms.length} terms where ${termCount} were expected`
  const base = bytes.byteOffset
  const offsets = new Uint32Array(bytes.buffer, base + offsetsAt, termCount + 1)
  const rows = new Uint32Array(bytes.buffer, base + rowsAt, postings)
  if (offsets[0] !== 0 || offsets[termCount] !== postings) return "its offsets do not cover its postings"
  for (let i = 0; i < termCount; i++) if (offsets[i]! > offsets[i + 1]!) return `term ${i} has a negative length`
  for (let i = 0; i < postings; i++) if (rows[i]! >= n) return `posting ${i} names row ${rows[i]} of ${n}`
  const dictionary = new Map<string, number>()
  terms.forEach((term, i) => dictionary.set(term, i))
  return new Sealed(
    dictionary,
    terms,
    offsets,
    rows,
    new Uint16Array(bytes.buffer, base + tfsAt, postings),
    new Uint32Array(bytes.buffer, base + lengthsAt, n)
  )
}

/**
 * Document frequencies, document count and total length over every live document of the index:
 * the statistics BM25 is computed with, whatever segment a document is in.
 */
export class Statistics {
  readonly df = new Map<string, number>()
  /** Documents by the language they were analysed in: an undetermined query is analysed in these too. */
  readonly languages = new Map<string, number>()
  docs = 0
  totalLength = 0

  /** Counts a document in: its distinct terms, its length and its language. */
  add(terms: ReadonlyArray<string>, length: number, language: string): void {
    this.docs++
    this.totalLength += length
    this.languages.set(language, (this.languages.get(language) ?? 0) + 1)
    for (const term of terms) this.df.set(term, (this.df.get(term) ?? 0) + 1)
  }

  remove(terms: ReadonlyArray<string>, length: number, language: string): void {
    this.docs--
    this.totalLength -= length
    const left = (this.languages.get(language) ?? 0) - 1
    if (left <= 0) this.languages.delete(language)
    else this.languages.set(language, left)
    for (const term of terms) {
      const left = (this.df.get(term) ?? 0) - 1
      if (left <= 0) this.df.delete(term)
      else this.df.set(term, left)
    }
  }
}

/** The inverse document frequency of a term in `df` of `docs` documents. */
export const idf = (df: number, docs: number): number => Math.log(1 + (docs - df + 0.5) / (df + 0.5))

/** A term's BM25 score in a document, as `KeywordIndex` computes it (the same operations in the same order). */
export const score = (idf: number, tf: number, length: number, averageLength: number): number =>
  idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / averageLength))
