/**
 * Exact top-k search over vectors by dot product (cosine, for the unit vectors embedders give):
 * the vector half of conversation search, one index per segment.
 *
 * Rows live in one growable `Float32Array` (n × d) with their ids alongside; `remove` leaves a
 * tombstone and `compact` drops them. Beside the Float32 rows each row is kept quantised to
 * Int8 (one scale per row) in WebAssembly memory, because the Float32 scan is too slow for the
 * memory search's budget: at 100,000 rows × 384 dimensions the tightest JavaScript loop takes
 * ~35 ms, the Int8 SIMD scan ~2.4 ms, a whole search ~3 ms (figures in `internal/Int8Scan.ts`).
 *
 * The answers are nevertheless exact. Each approximate score carries a proven error bound
 * (Cauchy–Schwarz on the quantisation residuals of the row and of the query, stored per row),
 * so a row whose upper bound falls below the k-th best lower bound cannot be in the top k; the
 * few rows left are scored exactly in Float64 over the Float32 rows, sorted best first, ties by
 * id. The result is the naive sort of every live row, which the tests check.
 *
 * `encode` writes a sealed segment's bytes; `decode` views the Float32 rows and per-row
 * figures in place (no copy when the bytes are 4-aligned, as a freshly read file is), copies
 * only the Int8 rows into WebAssembly memory, and never scans anything. The format is
 * little-endian, as every platform Node runs on.
 */
import { Either, Schema } from "effect"
import { Int8Scanner, strideOf } from "./internal/Int8Scan.js"

export class VectorIndexError extends Schema.TaggedError<VectorIndexError>()("VectorIndexError", {
  message: Schema.String
}) {}

export interface Hit {
  readonly id: string
  readonly score: number
}

export interface SearchOptions {
  readonly k: number
  /** Only ids for which this holds are returned; it is asked about few rows, not all. */
  readonly filter?: ((id: string) => boolean) | undefined
}

export interface VectorIndex {
  readonly dimensions: number
  /** Live rows. */
  readonly size: number
  /** Rows held, tombstones included: what `compact` would reclaim is `rows - size`. */
  readonly rows: number
  readonly has: (id: string) => boolean
  /** Adds a row, or replaces the row of an id already there. Fails on a wrong length or a non-finite value. */
  readonly add: (id: string, vector: ArrayLike<number>) => Either.Either<void, VectorIndexError>
  /** Tombstones the row of `id`; false if there was none. */
  readonly remove: (id: string) => boolean
  /**
   * The `k` live rows with the largest dot product with `query`, best first, ties by id. A query
   * of another length or with a non-finite value finds nothing.
   */
  readonly search: (query: ArrayLike<number>, options: SearchOptions) => Array<Hit>
  /** Drops tombstoned rows (`encode` does it too). */
  readonly compact: () => void
  /** The live rows as bytes for an on-disk segment; `decode` reads them back. */
  readonly encode: () => Uint8Array
}

const MAGIC = 0x31495657 // "WVI1" read little-endian
const VERSION = 1
const HEADER = 32

/** Float32 rounding may go down; bounds stored as Float32 are nudged up so they stay bounds. */
const up = (x: number): number => x * (1 + 1e-6)

class Index implements VectorIndex {
  readonly dimensions: number
  private readonly scanner: Int8Scanner
  private capacity: number
  private count = 0
  private live = 0
  private floats: Float32Array
  /** Per row: the Int8 scale, ‖x − scale·x̂‖₂ and ‖scale·x̂‖₂. */
  private scale: Float32Array
  private residual: Float32Array
  private norm: Float32Array
  private alive: Uint8Array
  private ids: Array<string> = []
  private rowOf = new Map<string, number>()

  constructor(dimensions: number) {
    this.dimensions = dimensions
    this.capacity = 0
    this.scanner = new Int8Scanner(dimensions, 0)
    this.floats = new Float32Array(0)
    this.scale = new Float32Array(0)
    this.residual = new Float32Array(0)
    this.norm = new Float32Array(0)
    this.alive = new Uint8Array(0)
  }

  get size(): number {
    return this.live
  }

  get rows(): number {
    return this.count
  }

  has(id: string): boolean {
    return this.rowOf.has(id)
  }

  private grow(capacity: number): void {
    const d = this.dimensions
    const copy = <A extends Float32Array | Uint8Array>(from: A, to: A, length: number): A => {
      to.set(from.subarray(0, length))
      return to
    }
    this.floats = copy(this.floats, new Float32Array(capacity * d), this.count * d)
    this.scale = copy(this.scale, new Float32Array(capacity), this.count)
    this.residual = copy(this.residual, new Float32Array(capacity), this.count)
    this.norm = copy(this.norm, new Float32Array(capacity), this.count)
    this.alive = copy(this.alive, new Uint8Array(capacity), this.count)
    this.scanner.reserve(capacity)
    this.capacity = capacity
  }

  /** Quantises the Float32 row `i` (already stored) into the scanner. */
  private quantise(i: number): void {
    const d = this.dimensions
    const at = i * d
    let max = 0
    for (let j = 0; j < d; j++) max = Math.max(max, Math.abs(this.floats[at + j]!))
    const q8 = this.scanner.row(i)
    q8.fill(0)
    if (max === 0) {
      this.scale[i] = 0
      this.residual[i] = 0
      this.norm[i] = 0
      return
    }
    // The bounds use the scale as stored, which is what the scores are rebuilt with.
    this.scale[i] = max / 127
    const s = this.scale[i]!
    let residual = 0
    let norm = 0
    for (let j = 0; j < d; j++) {
      const x = this.floats[at + j]!
      const v = Math.max(-127, Math.min(127, Math.round(x / s)))
      q8[j] = v
      residual += (x - v * s) ** 2
      norm += (v * s) ** 2
    }
    this.residual[i] = up(Math.sqrt(residual))
    this.norm[i] = up(Math.sqrt(norm))
  }

  add(id: string, vector: ArrayLike<number>): Either.Either<void, VectorIndexError> {
    const d = this.dimensions
    if (vector.length !== d) {
      return Either.left(
        new VectorIndexError({ message: `a vector of ${vector.length} dimensions was added to an index of ${d}` })
      )
    }
    for (let j = 0; j < d; j++) {
      if (!Number.isFinite(vector[j]!)) {
        return Either.left(new VectorIndexError({ message: `the vector for "${id}" holds ${vector[j]} at ${j}` }))
      }
    }
    this.remove(id)
    if (this.count === this.capacity) this.grow(Math.max(16, this.capacity * 2))
    const i = this.count++
    for (let j = 0; j < d; j++) this.floats[i * d + j] = vector[j]!
    this.quantise(i)
    this.alive[i] = 1
    this.ids[i] = id
    this.rowOf.set(id, i)
    this.live++
    return Either.void
  }

  remove(id: string): boolean {
    const i = this.rowOf.get(id)
    if (i === undefined) return false
    this.rowOf.delete(id)
    this.alive[i] = 0
    this.live--
    return true
  }

  /** The exact score of row `i`: the Float64 sum of the products, in index order. */
  private exact(i: number, query: Float64Array): number {
    const d = this.dimensions
    const floats = this.floats
    const at = i * d
    let sum = 0
    for (let j = 0; j < d; j++) sum += query[j]! * floats[at + j]!
    return sum
  }

  search(query: ArrayLike<number>, options: SearchOptions): Array<Hit> {
    const k = Math.floor(options.k)
    const filter = options.filter
    const d = this.dimensions
    const n = this.count
    if (k <= 0 || this.live === 0 || query.length !== d) return []
    let max = 0
    for (let j = 0; j < d; j++) max = Math.max(max, Math.abs(query[j]!))
    if (!Number.isFinite(max)) return []
    if (max === 0) return this.smallestIds(k, filter)

    // Quantise the query to Int16 with a range small enough that no Int32 sum can overflow; its
    // norm and quantisation error are summed in units of `max`, so that no square overflows.
    const levels = Math.max(1, Math.min(32767, Math.floor(2147483647 / (127 * this.scanner.stride))))
    const t = max / levels
    const q16 = this.scanner.query()
    const q64 = Float64Array.from(query)
    let sumSquares = 0
    let errorSquares = 0
    for (let j = 0; j < d; j++) {
      const u = q64[j]! / max
      const v = Math.round(u * levels)
      q16[j] = v
      sumSquares += u * u
      errorSquares += (u - v / levels) ** 2
    }
    const queryNorm = max * Math.sqrt(sumSquares)
    const queryError = up(max * Math.sqrt(errorSquares))
    // Room for the rounding of Float64 sums, far above it.
    const slack = queryNorm * 1e-6
    const dots = this.scanner.scan(n)
    const { alive, ids, norm, residual, scale } = this

    // One pass: a min-heap of the k best lower bounds gives a threshold that only rises; a row
    // whose upper bound is below it cannot be in the top k. Rows kept on the way are checked
    // against the final threshold.
    const candidates: Array<number> = []
    const uppers: Array<number> = []
    const heap = new Float64Array(k)
    let filled = 0
    let threshold = -Infinity
    for (let i = 0; i < n; i++) {
      if (alive[i] === 0) continue
      const m = norm[i]!
      const approx = dots[i]! * t * scale[i]!
      const error = queryError * m + (queryNorm + slack) * residual[i]! + slack * m
      const upper = approx + error
      if (upper < threshold) continue
      if (filter !== undefined && !filter(ids[i]!)) continue
      candidates.push(i)
      uppers.push(upper)
      const lower = approx - error
      if (filled < k) {
        let at = filled++
        while (at > 0) {
          const parent = (at - 1) >> 1
          if (heap[parent]! <= lower) break
          heap[at] = heap[parent]!
          at = parent
        }
        heap[at] = lower
        if (filled === k) threshold = heap[0]!
      } else if (lower > threshold) {
        let at = 0
        for (;;) {
          const left = 2 * at + 1
          if (left >= k) break
          const child = left + 1 < k && heap[left + 1]! < heap[left]! ? left + 1 : left
          if (heap[child]! >= lower) break
          heap[at] = heap[child]!
          at = child
        }
        heap[at] = lower
        threshold = heap[0]!
      }
    }

    const hits: Array<Hit> = []
    for (let c = 0; c < candidates.length; c++) {
      if (uppers[c]! < threshold) continue
      const i = candidates[c]!
      hits.push({ id: ids[i]!, score: this.exact(i, q64) })
    }
    hits.sort(byScore)
    if (hits.length > k) hits.length = k
    return hits
  }

  /** A query of zeros scores every row 0: the answer is the k smallest ids. */
  private smallestIds(k: number, filter: ((id: string) => boolean) | undefined): Array<Hit> {
    const best: Array<string> = []
    for (let i = 0; i < this.count; i++) {
      if (this.alive[i] === 0) continue
      const id = this.ids[i]!
      if (best.length === k && id >= best[k - 1]!) continue
      if (filter !== undefined && !filter(id)) continue
      let at = best.length === k ? k - 1 : best.length
      while (at > 0 && best[at - 1]! > id) {
        best[at] = best[at - 1]!
        at--
      }
      best[at] = id
    }
    return best.map((id) => ({ id, score: 0 }))
  }

  compact(): void {
    if (this.live === this.count) return
    const d = this.dimensions
    const floats = new Float32Array(this.live * d)
    const scale = new Float32Array(this.live)
    const residual = new Float32Array(this.live)
    const norm = new Float32Array(this.live)
    const ids: Array<string> = []
    const rowOf = new Map<string, number>()
    let to = 0
    for (let from = 0; from < this.count; from++) {
      if (this.alive[from] === 0) continue
      floats.set(this.floats.subarray(from * d, (from + 1) * d), to * d)
      scale[to] = this.scale[from]!
      residual[to] = this.residual[from]!
      norm[to] = this.norm[from]!
      if (from !== to) this.scanner.move(from, to)
      ids.push(this.ids[from]!)
      rowOf.set(this.ids[from]!, to)
      to++
    }
    this.floats = floats
    this.scale = scale
    this.residual = residual
    this.norm = norm
    this.alive = new Uint8Array(this.live).fill(1)
    this.ids = ids
    this.rowOf = rowOf
    this.count = this.live
    this.capacity = this.live
  }

  encode(): Uint8Array {
    this.compact()
    const d = this.dimensions
    const n = this.count
    const stride = this.scanner.stride
    const joined = this.ids.join("")
    const idBytes = new TextEncoder().encode(joined)
    const layout = blocks(d, n, stride, idBytes.length)
    const bytes = new Uint8Array(layout.total)
    const view = new DataView(bytes.buffer)
    view.setUint32(0, MAGIC, true)
    view.setUint32(4, VERSION, true)
    view.setUint32(8, d, true)
    view.setUint32(12, n, true)
    view.setUint32(16, stride, true)
    view.setUint32(20, idBytes.length, true)
    new Float32Array(bytes.buffer, layout.floats, n * d).set(this.floats.subarray(0, n * d))
    new Float32Array(bytes.buffer, layout.scale, n).set(this.scale.subarray(0, n))
    new Float32Array(bytes.buffer, layout.residual, n).set(this.residual.subarray(0, n))
    new Float32Array(bytes.buffer, layout.norm, n).set(this.norm.subarray(0, n))
    const q8 = this.scanner.rows(n)
    bytes.set(new Uint8Array(q8.buffer, q8.byteOffset, q8.length), layout.q8)
    const ends = new Uint32Array(bytes.buffer, layout.ends, n)
    let end = 0
    for (let i = 0; i < n; i++) {
      end += this.ids[i]!.length
      ends[i] = end
    }
    bytes.set(idBytes, layout.ids)
    return bytes
  }

  /** Takes the decoded blocks as its rows. */
  load(floats: Float32Array, scale: Float32Array, residual: Float32Array, norm: Float32Array, q8: Uint8Array) {
    const n = scale.length
    this.floats = floats
    this.scale = scale
    this.residual = residual
    this.norm = norm
    this.alive = new Uint8Array(n).fill(1)
    this.scanner.reserve(n)
    this.capacity = n
    const rows = this.scanner.rows(n)
    new Uint8Array(rows.buffer, rows.byteOffset, rows.length).set(q8)
    this.count = n
    this.live = n
  }

  setIds(ids: Array<string>, rowOf: Map<string, number>) {
    this.ids = ids
    this.rowOf = rowOf
  }
}

const byScore = (a: Hit, b: Hit): number => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** Where each block of the encoding starts; every block starts 4-aligned. */
const blocks = (d: number, n: number, stride: number, idBytes: number) => {
  const floats = HEADER
  const scale = floats + n * d * 4
  const residual = scale + n * 4
  const norm = residual + n * 4
  const q8 = norm + n * 4
  const ends = q8 + n * stride
  const ids = ends + n * 4
  return { floats, scale, residual, norm, q8, ends, ids, total: ids + idBytes }
}

/** An empty index of vectors of `dimensions` (a positive integer). */
export const make = (dimensions: number): VectorIndex => new Index(dimensions)

/**
 * An index from `encode`'s bytes. The Float32 rows are views of `bytes` when it is 4-aligned
 * (the bytes must then not be reused); the first `add` after decoding copies them.
 */
export const decode = (bytes: Uint8Array): Either.Either<VectorIndex, VectorIndexError> => {
  const corrupt = (why: string) =>
    Either.left(new VectorIndexError({ message: `the vector segment is corrupt (${why}): rebuild the memory index` }))
  if (bytes.length < HEADER) return corrupt(`${bytes.length} bytes, shorter than the header`)
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice()
  const view = new DataView(aligned.buffer, aligned.byteOffset, aligned.length)
  if (view.getUint32(0, true) !== MAGIC) return corrupt("not a weft vector segment")
  if (view.getUint32(4, true) !== VERSION) return corrupt(`format version ${view.getUint32(4, true)}`)
  const d = view.getUint32(8, true)
  const n = view.getUint32(12, true)
  const stride = view.getUint32(16, true)
  const idBytes = view.getUint32(20, true)
  if (d === 0 || stride !== strideOf(d)) return corrupt(`${d} dimensions with a stride of ${stride}`)
  const layout = blocks(d, n, stride, idBytes)
  if (layout.total !== aligned.length) return corrupt(`${aligned.length} bytes where ${layout.total} were expected`)
  const at = aligned.byteOffset
  const buffer = aligned.buffer
  const ends = new Uint32Array(buffer, at + layout.ends, n)
  const joined = new TextDecoder().decode(aligned.subarray(layout.ids, layout.ids + idBytes))
  const ids: Array<string> = []
  const rowOf = new Map<string, number>()
  let start = 0
  for (let i = 0; i < n; i++) {
    const end = ends[i]!
    if (end < start || end > joined.length) return corrupt(`id ${i} ends at ${end}`)
    const id = joined.slice(start, end)
    if (rowOf.has(id)) return corrupt(`id "${id}" appears twice`)
    ids.push(id)
    rowOf.set(id, i)
    start = end
  }
  if (start !== joined.length) return corrupt("ids do not fill their block")
  const index = new Index(d)
  index.load(
    new Float32Array(buffer, at + layout.floats, n * d),
    new Float32Array(buffer, at + layout.scale, n),
    new Float32Array(buffer, at + layout.residual, n),
    new Float32Array(buffer, at + layout.norm, n),
    aligned.subarray(layout.q8, layout.q8 + n * stride)
  )
  index.setIds(ids, rowOf)
  return Either.right(index)
}
