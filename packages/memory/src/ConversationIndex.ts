/**
 * Search over every conversation turn and memory entry: BM25 and vectors fused by weighted
 * reciprocal rank, in segments on disk, with a growing segment in memory that makes a document
 * searchable as soon as `add` returns.
 *
 * Segments. `add` puts documents into the growing segment (postings, vectors, texts, in memory).
 * At `sealAt` documents, or on `seal`, its live documents are written as a sealed segment
 * (`internal/Segment.ts`: metadata, postings, Float32 + Int8 vectors, texts). A sealed segment's
 * metadata stays in memory (filters, removal, expiry and the session timeline read it); its body
 * loads the first time a query needs it.
 *
 * Tiers. Hot: the growing segment, the `hotSegments` newest sealed ones and any holding a memory
 * entry of importance ≥ `hotImportance`; their bodies stay in memory. Cold: the others, loaded on
 * demand and evicted, least recently used first, beyond `coldCacheBytes`. A query skips a segment
 * none of whose documents can pass its filters (project, session, role, dates), so a cold segment
 * is not loaded for a query about another project or another month.
 *
 * Scores do not depend on segments. BM25 is computed with index-wide statistics (document
 * frequencies, document count, average length over every live document, whatever its segment), a
 * vector's score is its cosine with the query, and ties go to the smaller id. So the answer to a
 * query is a function of the live documents alone: the same after any sequence of adds, removes,
 * seals, compactions and reopenings as from an index built from scratch with other seal points.
 * An expired document (`now ≥ expiresAt`) is left out of the answers and of the statistics at
 * once, and physically by `compact`.
 *
 * Ranking. The keyword ranking adds to each turn `context` times the best keyword score of the
 * turns next to it in its session (previous and next live turn): an answer rarely repeats the
 * question's words, the question it answers does. The vector ranking is the top cosines. The two
 * are fused by weighted reciprocal rank (`Weights`) over the first `max(k, fusionDepth)` of each;
 * the defaults were chosen on the project's retrieval set (`testing/Quality.ts`). Filters and expiry
 * apply before any of it: a turn the filter leaves out neither appears nor lends its score to its
 * neighbours.
 *
 * Persistence. `checkpoint` writes the growing segment (as a snapshot), the removals, the
 * statistics and, last and atomically, `manifest.json`; `make` on the same directory restores
 * exactly that. Files a checkpoint no longer names are deleted. The manifest records the analyzer
 * and the embedder's `model`: an index built otherwise cannot be searched with this one, and
 * `make` fails (`onMismatch: "fail"`, the default) or starts empty (`"reset"`), saying so in
 * `opened`, so that the caller replays the log into it.
 */
import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { MemoryIndexError } from "@weft/kernel/MemoryIndex"
import type { SearchFilters } from "@weft/kernel/MemoryIndex"
import type { Layer, Scope } from "effect"
import { Effect, Either, Schema } from "effect"
import * as Analyzer from "./Analyzer.js"
import * as Embedder from "./Embedder.js"
import * as Fusion from "./internal/Fusion.js"
import * as Postings from "./internal/Postings.js"
import * as Segment from "./internal/Segment.js"
import * as Snippet from "./internal/Snippet.js"
import * as Language from "./Language.js"
import * as VectorIndex from "./VectorIndex.js"

export interface Doc {
  /** A turn's envelope id, or a memory entry's memoryId. */
  readonly id: string
  readonly kind: "turn" | "memory"
  readonly sessionId: string
  readonly project: string
  readonly role: "user" | "assistant"
  /** ISO instant. */
  readonly at: string
  readonly text: string
  /** Memory entries with a TTL: never returned once expired. */
  readonly expiresAt?: string
  /** Memory entries: feeds the hot tier. */
  readonly importance?: number
}

export interface Weights {
  /** Weight of the keyword (BM25) ranking in the fusion. */
  readonly keyword: number
  /** Weight of the vector ranking in the fusion. */
  readonly vector: number
  /** The reciprocal-rank constant: a document at rank r earns weight / (k + r). */
  readonly k: number
  /** Share of the best neighbouring turn's keyword score added to a turn's (0 turns it off). */
  readonly context: number
}

/**
 * Chosen on the project's retrieval set with the default hashing embedder (`testing/Quality.ts`;
 * its test gives the figures). The hashing vectors are the weaker retriever there and fused 1:1
 * drag BM25 down, so they weigh a tenth: enough to reorder the keyword ranking's tail and to fill
 * it when the keywords find little, not enough to push out a good keyword match. The neighbouring
 * turns' share (`context`) is what lifts recall most: 0.4 did best among 0–0.5.
 */
export const defaultWeights: Weights = { keyword: 1, vector: 0.1, k: 5, context: 0.4 }

/** How many candidates each ranking hands to the fusion, at least. */
export const fusionDepth = 20

export interface Found {
  readonly doc: Doc
  /** The fused score: larger is better. */
  readonly score: number
  /** The sentence(s) around the best match, on one line of at most 240 characters. */
  readonly snippet: string
}

export interface SegmentStats {
  readonly id: string
  /** Live documents. */
  readonly docs: number
  /** Removed documents still in its files, until `compact`. */
  readonly deleted: number
  /** Its files on disk. */
  readonly bytes: number
  readonly tier: "hot" | "cold"
  /** Whether its body is in memory. */
  readonly loaded: boolean
  /** Its documents' time span (ISO). */
  readonly from: string
  readonly to: string
}

export interface TierStats {
  readonly segments: number
  readonly docs: number
  readonly bytes: number
  /** Segments whose body is in memory. */
  readonly loaded: number
}

export interface Stats {
  readonly model: string
  /** Live documents in the index. */
  readonly docs: number
  /** Distinct terms over the live documents. */
  readonly terms: number
  readonly growing: { readonly docs: number; readonly deleted: number }
  /** Hot tiers count the growing segment among their segments. */
  readonly tiers: { readonly hot: TierStats; readonly cold: TierStats }
  readonly segments: ReadonlyArray<SegmentStats>
  /** Bytes of the sealed segments' files. */
  readonly bytesOnDisk: number
  /** Bytes of the bodies in memory, roughly. */
  readonly bytesInMemory: number
}

/** How `make` found the directory. */
export type Opened =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Restored"; readonly docs: number }
  /** The index on disk was built otherwise (`reason`) and was discarded: replay everything into it. */
  | { readonly _tag: "Reset"; readonly reason: string }

export interface SearchOptions {
  readonly k: number
  readonly filters?: SearchFilters | undefined
  /** Milliseconds since the epoch: documents with `expiresAt` at or before it are left out. */
  readonly now: number
  readonly weights?: Weights | undefined
}

export interface ConversationIndex {
  /** Adds documents (an id already there is replaced); searchable when it returns. */
  readonly add: (docs: ReadonlyArray<Doc>) => Effect.Effect<void, MemoryIndexError>
  /** Removes documents from every tier at once; unknown ids are ignored. */
  readonly remove: (ids: ReadonlyArray<string>) => Effect.Effect<void, MemoryIndexError>
  readonly search: (query: string, options: SearchOptions) => Effect.Effect<ReadonlyArray<Found>, MemoryIndexError>
  /** Seals the growing segment now. */
  readonly seal: Effect.Effect<void, MemoryIndexError>
  /** Drops removed and expired (at `now`) documents physically, rewriting the segments that held them. */
  readonly compact: (now: number) => Effect.Effect<void, MemoryIndexError>
  /** Persists the index; `make` on the same directory restores exactly this. */
  readonly checkpoint: Effect.Effect<void, MemoryIndexError>
  readonly stats: Effect.Effect<Stats>
  readonly opened: Opened
}

export interface Options {
  readonly dir: string
  /** Documents in the growing segment at which it seals (default 10,000). */
  readonly sealAt?: number | undefined
  /** The analysis of the keyword index (default: stemming and stop words, English fallback). */
  readonly keyword?: {
    readonly stem?: boolean | undefined
    readonly stopWords?: boolean | undefined
    readonly fallback?: Language.Language | undefined
  } | undefined
  /** Newest sealed segments kept in memory (default 2). */
  readonly hotSegments?: number | undefined
  /** A sealed segment holding a memory entry at least this important stays in memory (default 0.5). */
  readonly hotImportance?: number | undefined
  /** Bytes of cold segment bodies kept in memory after a query (default 256 MiB). */
  readonly coldCacheBytes?: number | undefined
  /** An index built with another analyzer or embedder: fail (default), or discard it and start empty. */
  readonly onMismatch?: "fail" | "reset" | undefined
}

export const defaultSealAt = 10_000

/**
 * The offline embedder conversation search is meant to run with: feature hashing over the
 * analyzer's terms, which found more of the retrieval set's evidence than over `Tokenizer.tokenize`
 * (see `testing/Quality.ts`).
 */
export const hashingOptions: Embedder.HashingOptions = {
  terms: (text) => Analyzer.terms(text),
  termsName: `analyzer-v${Analyzer.version}`
}

export const layerEmbedder: Layer.Layer<Embedder.Embedder> = Embedder.layerHashing(hashingOptions)

// ---------------------------------------------------------------------------------------------
// Persistence

const FORMAT = 1
const MANIFEST = "manifest.json"

const KeywordOptions = Schema.Struct({
  stem: Schema.Boolean,
  stopWords: Schema.Boolean,
  fallback: Language.Language
})

const Manifest = Schema.Struct({
  format: Schema.Literal(FORMAT),
  analyzer: Schema.Number,
  keyword: KeywordOptions,
  model: Schema.String,
  dimensions: Schema.Int,
  nextSegment: Schema.Int,
  stats: Schema.String,
  segments: Schema.Array(Schema.Struct({ id: Schema.String, deleted: Schema.Array(Schema.Int) })),
  growing: Schema.optionalWith(Schema.String, { exact: true })
})
type Manifest = typeof Manifest.Type

const StatsFile = Schema.Struct({
  docs: Schema.Int,
  totalLength: Schema.Int,
  terms: Schema.Array(Schema.String),
  df: Schema.Array(Schema.Int),
  languages: Schema.Array(Schema.Tuple(Language.Language, Schema.Int))
})

const decodeManifest = Schema.decodeUnknownEither(Schema.parseJson(Manifest))
const decodeStats = Schema.decodeUnknownEither(Schema.parseJson(StatsFile))

const fail = (reason: string) => new MemoryIndexError({ reason })

const DAY = 86_400_000
const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/

/** A filter bound in milliseconds: a day is its first millisecond (`since`) or its last (`until`). */
const bound = (value: string, end: boolean): number => {
  if (DAY_PATTERN.test(value)) {
    const start = Date.parse(`${value}T00:00:00Z`)
    return end ? start + DAY - 1 : start
  }
  return /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : NaN
}

interface Filter {
  readonly project: string | undefined
  readonly sessionId: string | undefined
  /** A session to leave out (the one asking). */
  readonly exceptSession: string | undefined
  readonly role: "user" | "assistant" | undefined
  readonly since: number
  readonly until: number
}

const compileFilter = (filters: SearchFilters | undefined): Either.Either<Filter, MemoryIndexError> => {
  const since = filters?.since === undefined ? -Infinity : bound(filters.since, false)
  const until = filters?.until === undefined ? Infinity : bound(filters.until, true)
  if (Number.isNaN(since)) return Either.left(fail(`since "${filters?.since}" is not a day (YYYY-MM-DD) or an instant`))
  if (Number.isNaN(until)) return Either.left(fail(`until "${filters?.until}" is not a day (YYYY-MM-DD) or an instant`))
  return Either.right({
    project: filters?.project,
    sessionId: filters?.sessionId,
    exceptSession: filters?.exceptSession,
    role: filters?.role,
    since,
    until
  })
}

const validWeights = (weights: Weights): boolean =>
  [weights.keyword, weights.vector, weights.k, weights.context].every((w) => Number.isFinite(w) && w >= 0)

const noTerms: Segment.Counted = { terms: [], length: 0 }

const segmentName = (n: number) => `s${String(n).padStart(6, "0")}`

/** `a` before `b` in a session's timeline: by time, then id. */
const earlier = (a: Segment.Row, b: Segment.Row) => a.atMs < b.atMs || (a.atMs === b.atMs && a.id < b.id)

interface Keyed extends Fusion.Scored {
  readonly key: number
}

// ---------------------------------------------------------------------------------------------

export const make = (
  options: Options
): Effect.Effect<
  ConversationIndex,
  MemoryIndexError,
  FileSystem.FileSystem | Path.Path | Embedder.Embedder | Scope.Scope
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const embedder = yield* Embedder.Embedder
    const dir = options.dir
    const sealAt = Math.max(1, Math.floor(options.sealAt ?? defaultSealAt))
    const hotSegments = Math.max(0, Math.floor(options.hotSegments ?? 2))
    const hotImportance = options.hotImportance ?? 0.5
    const coldCacheBytes = options.coldCacheBytes ?? 256 * 1024 * 1024
    const keyword = {
      stem: options.keyword?.stem ?? true,
      stopWords: options.keyword?.stopWords ?? true,
      fallback: options.keyword?.fallback ?? "en"
    } satisfies typeof KeywordOptions.Type
    const dimensions = embedder.dimensions
    /** A document's terms, in the language it is detected in (or `language`, when known). */
    const analyse = (text: string, language: Language.Language = Analyzer.languageOf(text)) => ({
      ...Postings.analysed(Analyzer.terms(text, { ...keyword, language })),
      language
    })
    const file = (name: string) => path.join(dir, name)

    const ioError = (what: string) => (error: PlatformError) =>
      fail(`cannot ${what} (${error.message}): check the memory index directory ${dir}`)
    const readBytes = (name: string) => Effect.mapError(fs.readFile(file(name)), ioError(`read ${file(name)}`))
    const readText = (name: string) => Effect.mapError(fs.readFileString(file(name)), ioError(`read ${file(name)}`))
    const writeBytes = (name: string, bytes: Uint8Array) =>
      Effect.mapError(fs.writeFile(file(name), bytes), ioError(`write ${file(name)}`))
    const writeText = (name: string, text: string) =>
      Effect.mapError(fs.writeFileString(file(name), text), ioError(`write ${file(name)}`))
    const corrupt = (what: string, why: string) =>
      fail(`the memory index at ${dir} is corrupt (${what}: ${why}): rebuild it (weft memory rebuild)`)

    // --- State ------------------------------------------------------------------------------

    let growing = new Segment.Segment("growing", false, Segment.growingBody(dimensions))
    let sealed: Array<Segment.Segment> = []
    const statistics = new Postings.Statistics()
    // The catalog: every live document by key.
    const keyOf = new Map<string, number>()
    const segmentOf: Array<Segment.Segment | undefined> = []
    const rowOf: Array<number> = []
    // The session timeline of turns: a doubly linked list per session, by time then id.
    const previous: Array<number> = []
    const following: Array<number> = []
    const tails = new Map<string, number>()
    // Documents that expire, with their distinct terms.
    const expiring = new Map<number, { readonly expiresMs: number; readonly counted: Segment.Counted }>()
    let nextSegment = 1
    let queries = 0
    // Whether anything changed since the last checkpoint; `changes` counts every change.
    let dirty = false
    let changes = 0
    const changed = () => {
      dirty = true
      changes++
    }
    // The snapshot of the growing segment the last checkpoint wrote, while the growing segment is unchanged.
    let growingSnapshot: string | undefined
    // Per-query scratch, by key.
    let scores = new Float64Array(1024)

    const rowData = (key: number) => segmentOf[key]!.rows[rowOf[key]!]!

    const link = (key: number) => {
      const row = rowData(key)
      if (row.kind !== "turn") return
      let after = tails.get(row.sessionId) ?? -1
      let before = -1
      while (after !== -1 && earlier(row, rowData(after))) {
        before = after
        after = previous[after]!
      }
      previous[key] = after
      following[key] = before
      if (after !== -1) following[after] = key
      if (before !== -1) previous[before] = key
      else tails.set(row.sessionId, key)
    }

    const unlink = (key: number) => {
      const row = rowData(key)
      if (row.kind !== "turn") return
      const p = previous[key]!
      const n = following[key]!
      if (p !== -1) following[p] = n
      if (n !== -1) previous[n] = p
      else if (p === -1) tails.delete(row.sessionId)
      else tails.set(row.sessionId, p)
    }

    /** Registers row `row` of `segment` (already pushed) under a new key. */
    const register = (segment: Segment.Segment, row: number, key: number) => {
      const data = segment.rows[row]!
      keyOf.set(data.id, key)
      segmentOf[key] = segment
      rowOf[key] = row
      previous[key] = -1
      following[key] = -1
      link(key)
      const counted = segment.ttlTerms.get(row)
      if (counted !== undefined) expiring.set(key, { expiresMs: data.expiresMs, counted })
    }

    let keys = 0
    const newKey = () => {
      const key = keys++
      if (key >= scores.length) {
        const grown = new Float64Array(scores.length * 2)
        grown.set(scores)
        scores = grown
      }
      return key
    }

    // The hot sealed segments, worked out again after a change.
    let hot = new Set<Segment.Segment>()
    let hotAt = -1
    const isHot = (segment: Segment.Segment): boolean => {
      if (!segment.sealed) return true
      if (hotAt !== changes) {
        hot = new Set(
          sealed.filter((s, at) => at >= sealed.length - hotSegments || s.holdsImportant(hotImportance))
        )
        hotAt = changes
      }
      return hot.has(segment)
    }

    /** Drops the bodies of cold segments, least recently used first, beyond the cache's size. */
    const evict = () => {
      const cold = sealed.filter((segment) => segment.body !== undefined && !isHot(segment))
      let bytes = cold.reduce((sum, segment) => sum + segment.bodyBytes, 0)
      cold.sort((a, b) => a.lastUsed - b.lastUsed)
      for (const segment of cold) {
        if (bytes <= coldCacheBytes) break
        bytes -= segment.bodyBytes
        segment.setBody(undefined)
      }
    }

    const loadBody = (segment: Segment.Segment) =>
      Effect.gen(function*() {
        segment.lastUsed = queries
        if (segment.body !== undefined) return segment.body
        const names = Segment.files(segment.id)
        const [keywordBytes, vectorBytes, texts] = yield* Effect.all([
          readBytes(names.keyword),
          readBytes(names.vectors),
          readText(names.text)
        ])
        const body = yield* Either.mapLeft(
          Segment.decodeBody(keywordBytes, vectorBytes, texts, segment.rows.length),
          (why) => corrupt(`segment ${segment.id}`, why)
        )
        if (body.vectors.dimensions !== dimensions) {
          return yield* corrupt(`segment ${segment.id}`, `vectors of ${body.vectors.dimensions} dimensions`)
        }
        for (const row of segment.deleted) body.vectors.remove(segment.rows[row]!.id)
        segment.setBody(body)
        return body
      })

    /** The distinct terms of a live document, from what is in memory or from its text. */
    const termsOf = (key: number) =>
      Effect.gen(function*() {
        const segment = segmentOf[key]!
        const row = rowOf[key]!
        const known = segment.rowTerms?.[row] ?? segment.ttlTerms.get(row)
        if (known !== undefined) return known
        const body = yield* loadBody(segment)
        return analyse(body.texts[row]!, segment.rows[row]!.language)
      })

    /** Takes a live document out of everything but its segment's files. */
    const forget = (key: number, counted: Segment.Counted) => {
      const segment = segmentOf[key]!
      const row = rowOf[key]!
      const id = segment.rows[row]!.id
      statistics.remove(counted.terms, counted.length, segment.rows[row]!.language)
      unlink(key)
      segment.deleted.add(row)
      segment.body?.vectors.remove(id)
      expiring.delete(key)
      keyOf.delete(id)
      segmentOf[key] = undefined
      if (!segment.sealed) growingSnapshot = undefined
      changed()
    }

    const removeIds = (ids: Iterable<string>) =>
      Effect.gen(function*() {
        for (const id of ids) {
          const key = keyOf.get(id)
          if (key === undefined) continue
          forget(key, yield* termsOf(key))
        }
      })

    // --- Writing segments -------------------------------------------------------------------

    /** Writes rows `keep` of `source` (whose body is loaded) as segment `id`; returns its size in bytes. */
    const writeSegment = (id: string, source: Segment.Segment, keep: ReadonlyArray<number>, vectors: Uint8Array) =>
      Effect.gen(function*() {
        const names = Segment.files(id)
        const keywordBytes = Postings.encode(source.body!.postings, keep)
        const meta = Segment.encodeMeta(source, keep)
        const texts = Segment.encodeTexts(source, keep)
        yield* Effect.all([
          writeBytes(names.keyword, keywordBytes),
          writeBytes(names.vectors, vectors),
          writeText(names.meta, meta),
          writeText(names.text, texts)
        ], { concurrency: 4 })
        const size = (text: string) => Buffer.byteLength(text)
        return {
          bytes: keywordBytes.length + vectors.length + size(meta) + size(texts),
          keywordBytes,
          texts
        }
      })

    /** The vectors of `source`'s live rows as bytes (the index drops its removed rows itself). */
    const liveVectors = (source: Segment.Segment): Uint8Array => source.body!.vectors.encode()

    /** A sealed segment with rows `keep` of `source`, written as `id`; the catalog moves to it. */
    const rewrite = (source: Segment.Segment, keep: ReadonlyArray<number>) =>
      Effect.gen(function*() {
        const id = segmentName(nextSegment++)
        const vectorBytes = liveVectors(source)
        const written = yield* writeSegment(id, source, keep, vectorBytes)
        const body = yield* Either.mapLeft(
          Segment.decodeBody(written.keywordBytes, vectorBytes, written.texts, keep.length),
          (why) => corrupt(`segment ${id} as just written`, why)
        )
        const segment = new Segment.Segment(id, true, body)
        segment.bytes = written.bytes
        segment.lastUsed = queries
        for (const from of keep) {
          const key = source.keys[from]!
          const row = segment.push(source.rows[from]!, key, source.ttlTerms.get(from) ?? noTerms)
          segmentOf[key] = segment
          rowOf[key] = row
        }
        return segment
      })

    const sealNow = Effect.gen(function*() {
      if (growing.live > 0) {
        const segment = yield* rewrite(growing, growing.liveRows())
        sealed.push(segment)
      }
      growing = new Segment.Segment("growing", false, Segment.growingBody(dimensions))
      growingSnapshot = undefined
      changed()
      evict()
    })

    // --- Opening ----------------------------------------------------------------------------

    const readSegment = (id: string, deleted: ReadonlyArray<number>) =>
      Effect.gen(function*() {
        const names = Segment.files(id)
        const meta = yield* Either.mapLeft(
          Segment.decodeMeta(yield* readText(names.meta)),
          (why) => corrupt(`segment ${id}`, why)
        )
        const segment = new Segment.Segment(id, true, undefined)
        for (const [row, data] of meta.rows.entries()) segment.push(data, newKey(), meta.ttlTerms.get(row) ?? noTerms)
        for (const row of deleted) {
          if (row < 0 || row >= segment.rows.length) return yield* corrupt(`segment ${id}`, `deleted row ${row}`)
          segment.deleted.add(row)
        }
        for (const name of Object.values(names)) {
          const info = yield* Effect.mapError(fs.stat(file(name)), ioError(`read ${file(name)}`))
          segment.bytes += Number(info.size)
        }
        return segment
      })

    const restore = (manifest: Manifest) =>
      Effect.gen(function*() {
        nextSegment = manifest.nextSegment
        for (const entry of manifest.segments) sealed.push(yield* readSegment(entry.id, entry.deleted))
        if (manifest.growing !== undefined) {
          const snapshot = yield* readSegment(manifest.growing, [])
          const body = yield* loadBody(snapshot)
          const restored = new Segment.Segment("growing", false, {
            postings: Postings.Growing.from(body.postings),
            vectors: body.vectors,
            texts: body.texts
          })
          for (const [row, data] of snapshot.rows.entries()) {
            restored.push(
              data,
              snapshot.keys[row]!,
              snapshot.ttlTerms.get(row) ?? analyse(body.texts[row]!, data.language)
            )
          }
          growing = restored
          growingSnapshot = manifest.growing
        }
        for (const segment of [...sealed, growing]) {
          for (let row = 0; row < segment.rows.length; row++) {
            if (!segment.deleted.has(row)) register(segment, row, segment.keys[row]!)
          }
        }
        const stats = yield* Either.mapLeft(
          decodeStats(yield* readText(manifest.stats)),
          (error) => corrupt(manifest.stats, error.message.split("\n")[0] ?? "invalid")
        )
        if (stats.terms.length !== stats.df.length) return yield* corrupt(manifest.stats, "terms and counts differ")
        statistics.docs = stats.docs
        statistics.totalLength = stats.totalLength
        stats.terms.forEach((term, i) => statistics.df.set(term, stats.df[i]!))
        for (const [language, count] of stats.languages) statistics.languages.set(language, count)
        if (statistics.docs !== keyOf.size) {
          return yield* corrupt(manifest.stats, `${statistics.docs} documents counted, ${keyOf.size} found`)
        }
        for (const segment of sealed) if (isHot(segment)) yield* loadBody(segment)
      })

    /** Deletes every file of `dir` that `keep` does not name. */
    const sweep = (keep: ReadonlySet<string>) =>
      Effect.gen(function*() {
        const names = yield* Effect.mapError(fs.readDirectory(dir), ioError(`list ${dir}`))
        yield* Effect.forEach(
          names.filter((name) => !keep.has(name)),
          (name) => Effect.mapError(fs.remove(file(name), { force: true }), ioError(`delete ${file(name)}`)),
          { discard: true }
        )
      })

    const referenced = (manifest: Manifest): Set<string> => {
      const keep = new Set([MANIFEST, manifest.stats])
      const ids = manifest.segments.map((segment) => segment.id)
      if (manifest.growing !== undefined) ids.push(manifest.growing)
      for (const id of ids) for (const name of Object.values(Segment.files(id))) keep.add(name)
      return keep
    }

    yield* Effect.mapError(fs.makeDirectory(dir, { recursive: true }), ioError(`create ${dir}`))
    const hasManifest = yield* Effect.mapError(fs.exists(file(MANIFEST)), ioError(`read ${file(MANIFEST)}`))
    let opened: Opened = { _tag: "Empty" }
    let persisted = false
    if (hasManifest) {
      const manifest = yield* Either.mapLeft(
        decodeManifest(yield* readText(MANIFEST)),
        (error) => corrupt(MANIFEST, error.message.split("\n")[0] ?? "invalid")
      )
      const mismatch = manifest.analyzer !== Analyzer.version
        ? `analyzer version ${manifest.analyzer}, this is version ${Analyzer.version}`
        : manifest.keyword.stem !== keyword.stem || manifest.keyword.stopWords !== keyword.stopWords ||
            manifest.keyword.fallback !== keyword.fallback
        ? `keyword analysis ${JSON.stringify(manifest.keyword)}, this is ${JSON.stringify(keyword)}`
        : manifest.model !== embedder.model || manifest.dimensions !== dimensions
        ? `embedder ${manifest.model}, the configured one is ${embedder.model}`
        : undefined
      if (mismatch === undefined) {
        yield* sweep(referenced(manifest))
        yield* restore(manifest)
        opened = { _tag: "Restored", docs: keyOf.size }
        persisted = true
      } else if (options.onMismatch === "reset") {
        yield* sweep(new Set())
        opened = { _tag: "Reset", reason: `the index at ${dir} was built with ${mismatch}` }
      } else {
        return yield* fail(
          `the memory index at ${dir} was built with ${mismatch}: rebuild it (weft memory rebuild)`
        )
      }
    } else {
      yield* sweep(new Set())
    }

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const segment of sealed) segment.setBody(undefined)
      })
    )

    // --- Search -----------------------------------------------------------------------------

    /** Whether some row of `segment` may pass `filter` at `now`, from its summary alone. */
    const mayMatch = (segment: Segment.Segment, filter: Filter) =>
      segment.live > 0 &&
      (filter.project === undefined || segment.projects.has(filter.project)) &&
      (filter.sessionId === undefined || segment.sessions.has(filter.sessionId)) &&
      (filter.role === undefined || segment.roles.has(filter.role)) &&
      segment.maxAt >= filter.since && segment.minAt <= filter.until

    /** Whether `filter` lets every document through. */
    const open = (filter: Filter) =>
      filter.project === undefined && filter.sessionId === undefined && filter.exceptSession === undefined &&
      filter.role === undefined && filter.since === -Infinity && filter.until === Infinity

    /**
     * The rows a query may return: every live row of `segments` when `masks` is undefined (no
     * filter, nothing expired), else those marked 1 in their segment's mask.
     */
    interface Selection {
      readonly segments: ReadonlyArray<Segment.Segment>
      readonly masks: Map<Segment.Segment, Uint8Array> | undefined
      /** How many rows of each segment its mask lets through. */
      readonly counts?: Map<Segment.Segment, number>
      /** Some document has expired at `now` but is still there. */
      readonly expired: boolean
    }

    const select = (filter: Filter, now: number): Selection => {
      const segments = [...sealed, growing].filter((segment) => mayMatch(segment, filter))
      let expired = false
      for (const entry of expiring.values()) {
        if (entry.expiresMs <= now) {
          expired = true
          break
        }
      }
      if (open(filter) && !expired) return { segments, masks: undefined, expired }
      const masks = new Map<Segment.Segment, Uint8Array>()
      const counts = new Map<Segment.Segment, number>()
      const { since, until } = filter
      const role = filter.role === undefined ? -1 : filter.role === "user" ? 0 : 1
      for (const segment of segments) {
        const n = segment.rows.length
        const mask = new Uint8Array(n)
        const project = filter.project === undefined ? -2 : segment.code(`p:${filter.project}`)
        const session = filter.sessionId === undefined ? -2 : segment.code(`s:${filter.sessionId}`)
        const except = filter.exceptSession === undefined ? -2 : segment.code(`s:${filter.exceptSession}`)
        const { atMs, expiresMs, projectCodes, roleCodes, sessionCodes } = segment
        let count = 0
        for (let row = 0; row < n; row++) {
          if (
            expiresMs[row]! > now && atMs[row]! >= since && atMs[row]! <= until &&
            (project === -2 || projectCodes[row] === project) &&
            (session === -2 || sessionCodes[row] === session) &&
            (except === -2 || sessionCodes[row] !== except) &&
            (role === -1 || roleCodes[row] === role)
          ) {
            mask[row] = 1
            count++
          }
        }
        for (const row of segment.deleted) {
          count -= mask[row]!
          mask[row] = 0
        }
        masks.set(segment, mask)
        counts.set(segment, count)
      }
      return { segments, masks, counts, expired }
    }

    /** Whether the live document `key` is one `selection` may return. */
    const selected = (selection: Selection, key: number) => {
      const segment = segmentOf[key]
      if (segment === undefined) return false
      if (selection.masks === undefined) return true
      return selection.masks.get(segment)?.[rowOf[key]!] === 1
    }

    // Stamps of the documents a query has looked at, by key: `stamps[key] === epoch` when seen.
    let stamps = new Uint32Array(1024)
    let epoch = 0

    /** The query's terms and the statistics of the documents live at `now` (those that have expired are out). */
    const liveStatistics = (query: string, now: number) => {
      let docs = statistics.docs
      let totalLength = statistics.totalLength
      const dfGone = new Map<string, number>()
      const languagesGone = new Map<string, number>()
      for (const [key, entry] of expiring) {
        if (entry.expiresMs > now) continue
        docs--
        totalLength -= entry.counted.length
        for (const term of entry.counted.terms) dfGone.set(term, (dfGone.get(term) ?? 0) + 1)
        const language = rowData(key).language
        languagesGone.set(language, (languagesGone.get(language) ?? 0) + 1)
      }
      // As `KeywordIndex`: an undetermined query is also analysed in the languages of the documents.
      const also = Language.languages.filter((language) =>
        (statistics.languages.get(language) ?? 0) - (languagesGone.get(language) ?? 0) > 0
      )
      const terms = Analyzer.queryTerms(query, { ...keyword, also })
      return { terms, docs, average: totalLength / docs, dfGone }
    }

    /**
     * The keyword ranking: BM25 over the live documents at `now` that pass `filter`, plus
     * `context` times the best score of a turn's neighbours in its session; ids, best first.
     */
    const keywordRanking = (
      live: ReturnType<typeof liveStatistics>,
      selection: Selection,
      now: number,
      context: number,
      depth: number
    ): Array<string> => {
      const { average, dfGone, docs, terms } = live
      if (docs <= 0) return []
      const touched: Array<number> = []
      for (const term of terms) {
        const df = (statistics.df.get(term) ?? 0) - (dfGone.get(term) ?? 0)
        if (df <= 0) continue
        const idf = Postings.idf(df, docs)
        for (const segment of selection.segments) {
          const body = segment.body!
          const posting = body.postings.posting(term)
          if (posting === undefined) continue
          const { end, rows, tfs } = posting
          const lengths = body.postings.lengths
          const segmentKeys = segment.keys
          const mask = selection.masks?.get(segment)
          const deleted = mask === undefined && segment.deleted.size > 0 ? segment.deleted : undefined
          for (let i = posting.start; i < end; i++) {
            const row = rows[i]!
            if (mask !== undefined ? mask[row] === 0 : deleted !== undefined && deleted.has(row)) continue
            const key = segmentKeys[row]!
            if (scores[key] === 0) touched.push(key)
            scores[key] += Postings.score(idf, tfs[i]!, lengths[row]!, average)
          }
        }
      }
      const top = new Fusion.Top<Keyed>(depth)
      const offer = (key: number, value: number) => {
        const floor = top.floor
        if (floor !== undefined && value < floor.score) return
        const id = rowData(key).id
        if (top.admits(value, id)) top.offer({ key, id, score: value })
      }
      if (context > 0) {
        if (stamps.length < scores.length) stamps = new Uint32Array(scores.length)
        if (++epoch === 0xffffffff) {
          stamps.fill(0)
          epoch = 1
        }
        const skipExpired = selection.expired
        const step = (key: number, links: Array<number>) => {
          let at = links[key]!
          if (skipExpired) { while (at !== -1 && rowData(at).expiresMs <= now) at = links[at]! }
          return at
        }
        const consider = (key: number) => {
          if (stamps[key] === epoch) return
          stamps[key] = epoch
          const own = scores[key]!
          // A neighbour that matched nothing is a candidate only if it passes the filter itself.
          if (own === 0 && !selected(selection, key)) return
          const before = step(key, previous)
          const after = step(key, following)
          const around = Math.max(before === -1 ? 0 : scores[before]!, after === -1 ? 0 : scores[after]!)
          offer(key, own + context * around)
        }
        for (const key of touched) {
          consider(key)
          const before = step(key, previous)
          if (before !== -1) consider(before)
          const after = step(key, following)
          if (after !== -1) consider(after)
        }
      } else {
        for (const key of touched) offer(key, scores[key]!)
      }
      for (const key of touched) scores[key] = 0
      return top.sorted().map((hit) => hit.id)
    }

    const passingIds = (segment: Segment.Segment, mask: Uint8Array) => {
      const ids = new Set<string>()
      for (let row = 0; row < mask.length; row++) if (mask[row] === 1) ids.add(segment.rows[row]!.id)
      return (id: string) => ids.has(id)
    }

    const vectorRanking = (query: Float32Array, selection: Selection, depth: number): Array<string> => {
      let norm = 0
      for (let j = 0; j < query.length; j++) norm += query[j]! * query[j]!
      if (!(norm > 0)) return []
      const top = new Fusion.Top<VectorIndex.Hit>(depth)
      for (const segment of selection.segments) {
        const mask = selection.masks?.get(segment)
        const count = selection.counts?.get(segment) ?? 0
        if (mask !== undefined && count === 0) continue
        // With a selective filter the vector index asks about most of its rows: a small set of the
        // ids that pass answers faster than the catalog. Its ids are its live documents'.
        const accept = mask === undefined
          ? undefined
          : count * 8 < segment.rows.length
          ? passingIds(segment, mask)
          : (id: string) => mask[rowOf[keyOf.get(id)!]!] === 1
        for (const hit of segment.body!.vectors.search(query, { k: depth, filter: accept })) {
          // A cosine at or below zero says nothing: unrelated texts scatter around it.
          if (hit.score > 0) top.offer(hit)
        }
      }
      return top.sorted().map((hit) => hit.id)
    }

    const found = (id: string, score: number, terms: ReadonlySet<string>): Found => {
      const key = keyOf.get(id)!
      const segment = segmentOf[key]!
      const row = segment.rows[rowOf[key]!]!
      const text = segment.body!.texts[rowOf[key]!]!
      const doc: Doc = {
        id: row.id,
        kind: row.kind,
        sessionId: row.sessionId,
        project: row.project,
        role: row.role,
        at: row.at,
        text,
        ...(row.expiresAt === undefined ? {} : { expiresAt: row.expiresAt }),
        ...(row.importance === undefined ? {} : { importance: row.importance })
      }
      const analysis = { ...keyword, language: row.language }
      return { doc, score, snippet: Snippet.snippet(text, terms, (piece) => Analyzer.terms(piece, analysis)) }
    }

    // --- The service ------------------------------------------------------------------------

    const lock = yield* Effect.makeSemaphore(1)
    const locked = <A, E>(effect: Effect.Effect<A, E>) => lock.withPermits(1)(effect)

    const add = Effect.fn("ConversationIndex.add")(function*(docs: ReadonlyArray<Doc>) {
      // The last of several documents with one id wins.
      const last = new Map<string, Doc>()
      for (const doc of docs) {
        if (Number.isNaN(Date.parse(doc.at))) return yield* fail(`document ${doc.id}: at "${doc.at}" is not an instant`)
        if (doc.expiresAt !== undefined && Number.isNaN(Date.parse(doc.expiresAt))) {
          return yield* fail(`document ${doc.id}: expiresAt "${doc.expiresAt}" is not an instant`)
        }
        last.delete(doc.id)
        last.set(doc.id, doc)
      }
      const batch = [...last.values()]
      if (batch.length === 0) return
      const vectors = yield* Effect.mapError(
        embedder.embed(batch.map((doc) => doc.text)),
        (error) => fail(`cannot embed documents for the memory index: ${error.message}`)
      )
      if (vectors.length !== batch.length) {
        return yield* fail(`the embedder returned ${vectors.length} vectors for ${batch.length} texts`)
      }
      yield* locked(Effect.gen(function*() {
        yield* removeIds(batch.map((doc) => doc.id))
        for (const [i, doc] of batch.entries()) {
          // Taken anew for each document: the growing segment is a new one after it seals.
          const body = growing.body!
          const postings = body.postings as Postings.Growing
          const analysed = analyse(doc.text)
          const added = body.vectors.add(doc.id, vectors[i]!)
          if (Either.isLeft(added)) return yield* fail(`document ${doc.id}: ${added.left.message}`)
          const atMs = Date.parse(doc.at)
          const row = growing.push(
            {
              id: doc.id,
              kind: doc.kind,
              sessionId: doc.sessionId,
              project: doc.project,
              role: doc.role,
              at: doc.at,
              atMs,
              expiresAt: doc.expiresAt,
              expiresMs: doc.expiresAt === undefined ? Infinity : Date.parse(doc.expiresAt),
              importance: doc.importance,
              language: analysed.language
            },
            newKey(),
            analysed
          )
          postings.add(analysed)
          body.texts.push(doc.text)
          statistics.add(analysed.terms, analysed.length, analysed.language)
          register(growing, row, growing.keys[row]!)
          growingSnapshot = undefined
          changed()
          if (growing.rows.length >= sealAt) yield* sealNow
        }
      }))
    })

    const remove = Effect.fn("ConversationIndex.remove")(function*(ids: ReadonlyArray<string>) {
      yield* locked(Effect.gen(function*() {
        yield* removeIds(ids)
        evict()
      }))
    })

    const search = Effect.fn("ConversationIndex.search")(function*(query: string, options: SearchOptions) {
      const weights = options.weights ?? defaultWeights
      if (!validWeights(weights)) return yield* fail(`invalid search weights ${JSON.stringify(weights)}`)
      const k = Math.max(0, Math.floor(options.k))
      if (k === 0) return []
      const filter = yield* compileFilter(options.filters)
      const depth = Math.max(fusionDepth, k)
      const vector = weights.vector > 0
        ? (yield* Effect.mapError(
          embedder.embed([query]),
          (error) => fail(`cannot embed the query: ${error.message}`)
        ))[0]
        : undefined
      return yield* locked(Effect.gen(function*() {
        queries++
        const selection = select(filter, options.now)
        for (const segment of selection.segments) yield* loadBody(segment)
        const live = liveStatistics(query, options.now)
        const keywordIds = weights.keyword > 0
          ? keywordRanking(live, selection, options.now, weights.context, depth)
          : []
        const vectorIds = vector !== undefined ? vectorRanking(vector, selection, depth) : []
        const fused = Fusion.fuse(
          [{ weight: weights.keyword, ids: keywordIds }, { weight: weights.vector, ids: vectorIds }],
          weights.k,
          k
        )
        const termSet = new Set(live.terms)
        const out = fused.map((hit) => found(hit.id, hit.score, termSet))
        evict()
        return out
      }))
    })

    const seal = locked(sealNow).pipe(Effect.withSpan("ConversationIndex.seal"))

    const compact = Effect.fn("ConversationIndex.compact")(function*(now: number) {
      yield* locked(Effect.gen(function*() {
        for (const [key, entry] of [...expiring]) if (entry.expiresMs <= now) forget(key, entry.counted)
        const next: Array<Segment.Segment> = []
        for (const segment of sealed) {
          if (segment.deleted.size === 0) {
            next.push(segment)
            continue
          }
          if (segment.live === 0) continue
          yield* loadBody(segment)
          const rewritten = yield* rewrite(segment, segment.liveRows())
          next.push(rewritten)
        }
        sealed = next
        if (growing.deleted.size > 0) {
          const keep = growing.liveRows()
          const source = growing
          const body = source.body!
          const postings = Postings.decode(Postings.encode(body.postings, keep))
          if (typeof postings === "string") return yield* corrupt("the growing segment", postings)
          const vectors = VectorIndex.decode(body.vectors.encode())
          if (Either.isLeft(vectors)) return yield* corrupt("the growing segment", vectors.left.message)
          growing = new Segment.Segment("growing", false, {
            postings: Postings.Growing.from(postings),
            vectors: vectors.right,
            texts: keep.map((row) => body.texts[row]!)
          })
          for (const from of keep) {
            const key = source.keys[from]!
            const row = growing.push(source.rows[from]!, key, source.rowTerms![from]!)
            segmentOf[key] = growing
            rowOf[key] = row
          }
          growingSnapshot = undefined
        }
        changed()
        evict()
      }))
    })

    const checkpoint = locked(Effect.gen(function*() {
      if (!dirty && persisted) return
      let growingId: string | undefined
      if (growing.live > 0) {
        if (growingSnapshot === undefined) {
          const id = segmentName(nextSegment++)
          yield* writeSegment(id, growing, growing.liveRows(), liveVectors(growing))
          growingSnapshot = id
        }
        growingId = growingSnapshot
      }
      const statsName = `stats-${segmentName(nextSegment++).slice(1)}.json`
      const terms = [...statistics.df.keys()]
      yield* writeText(
        statsName,
        JSON.stringify({
          docs: statistics.docs,
          totalLength: statistics.totalLength,
          terms,
          df: terms.map((term) => statistics.df.get(term)!),
          languages: [...statistics.languages]
        })
      )
      const manifest: Manifest = {
        format: FORMAT,
        analyzer: Analyzer.version,
        keyword,
        model: embedder.model,
        dimensions,
        nextSegment,
        stats: statsName,
        segments: sealed.map((segment) => ({ id: segment.id, deleted: [...segment.deleted].sort((a, b) => a - b) })),
        ...(growingId === undefined ? {} : { growing: growingId })
      }
      const temporary = `${MANIFEST}.tmp`
      yield* writeText(temporary, JSON.stringify(manifest))
      yield* Effect.mapError(fs.rename(file(temporary), file(MANIFEST)), ioError(`write ${file(MANIFEST)}`))
      yield* sweep(referenced(manifest))
      dirty = false
      persisted = true
    })).pipe(Effect.withSpan("ConversationIndex.checkpoint"))

    const stats = locked(Effect.sync((): Stats => {
      const segmentStats = sealed.map((segment): SegmentStats => ({
        id: segment.id,
        docs: segment.live,
        deleted: segment.deleted.size,
        bytes: segment.bytes,
        tier: isHot(segment) ? "hot" : "cold",
        loaded: segment.body !== undefined,
        from: segment.first,
        to: segment.last
      }))
      const tier = (name: "hot" | "cold"): TierStats => {
        const of = segmentStats.filter((segment) => segment.tier === name)
        const withGrowing = name === "hot" ? 1 : 0
        return {
          segments: of.length + withGrowing,
          docs: of.reduce((sum, segment) => sum + segment.docs, 0) + (name === "hot" ? growing.live : 0),
          bytes: of.reduce((sum, segment) => sum + segment.bytes, 0),
          loaded: of.filter((segment) => segment.loaded).length + withGrowing
        }
      }
      return {
        model: embedder.model,
        docs: keyOf.size,
        terms: statistics.df.size,
        growing: { docs: growing.live, deleted: growing.deleted.size },
        tiers: { hot: tier("hot"), cold: tier("cold") },
        segments: segmentStats,
        bytesOnDisk: sealed.reduce((sum, segment) => sum + segment.bytes, 0),
        bytesInMemory: [growing, ...sealed].reduce((sum, segment) => sum + segment.bodyBytes, 0)
      }
    }))

    return { add, remove, search, seal, compact, checkpoint, stats, opened } satisfies ConversationIndex
  })
