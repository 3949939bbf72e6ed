import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as fc from "fast-check"
import { Int8Scanner, simdAvailable } from "../src/internal/Int8Scan.js"
import * as VectorIndex from "../src/VectorIndex.js"

type Op =
  | { readonly _tag: "add"; readonly id: string; readonly vector: ReadonlyArray<number> }
  | { readonly _tag: "remove"; readonly id: string }
  | { readonly _tag: "compact" }

/** The model: every live vector, as the index stores it (Float32), and a sort over all of them. */
class Naive {
  readonly rows = new Map<string, Float32Array>()
  apply(op: Op) {
    if (op._tag === "add") this.rows.set(op.id, Float32Array.from(op.vector))
    if (op._tag === "remove") this.rows.delete(op.id)
  }
  search(query: ReadonlyArray<number>, k: number, filter?: (id: string) => boolean): Array<VectorIndex.Hit> {
    const hits: Array<VectorIndex.Hit> = []
    for (const [id, row] of this.rows) {
      if (filter !== undefined && !filter(id)) continue
      let score = 0
      for (let j = 0; j < row.length; j++) score += query[j]! * row[j]!
      hits.push({ id, score })
    }
    hits.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return hits.slice(0, Math.max(0, k))
  }
}

const unwrap = <A, E>(either: Either.Either<A, E>): A => {
  assert.isTrue(Either.isRight(either), Either.isLeft(either) ? String(either.left) : "")
  return (either as Either.Right<E, A>).right
}

const run = (d: number, ops: ReadonlyArray<Op>) => {
  const index = VectorIndex.make(d)
  const naive = new Naive()
  for (const op of ops) {
    if (op._tag === "add") unwrap(index.add(op.id, op.vector))
    if (op._tag === "remove") index.remove(op.id)
    if (op._tag === "compact") index.compact()
    naive.apply(op)
  }
  return { index, naive }
}

// Components from a small set make exact ties and Int8 collisions common; Float32 values cover the rest.
const component = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.float({ min: -1, max: 1, noNaN: true }).map(Math.fround),
  fc.constantFrom(1e-7, -1e-7, 0.5 + 1e-7, 0.5)
)
const vectorOf = (d: number) => fc.array(component, { minLength: d, maxLength: d })
const ids = fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "ü", "日本")
const opsOf = (d: number) =>
  fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ _tag: fc.constant("add" as const), id: ids, vector: vectorOf(d) }) },
      { weight: 2, arbitrary: fc.record({ _tag: fc.constant("remove" as const), id: ids }) },
      { weight: 1, arbitrary: fc.record({ _tag: fc.constant("compact" as const) }) }
    ),
    { maxLength: 40 }
  )
const scenario = fc.integer({ min: 1, max: 40 }).chain((d) =>
  fc.record({
    d: fc.constant(d),
    ops: opsOf(d),
    queries: fc.array(vectorOf(d), { minLength: 1, maxLength: 3 }),
    k: fc.integer({ min: 0, max: 16 }),
    filtered: fc.boolean()
  })
)
const evenIds = (id: string) => id.charCodeAt(0) % 2 === 0

describe("VectorIndex", () => {
  it("scans in WebAssembly SIMD here (a broken kernel would fall back to a loop 10× slower)", () => {
    assert.isTrue(simdAvailable())
  })

  it.prop(
    "the SIMD kernel and its JavaScript fallback compute the same Int8 · Int16 dot products, growing alike",
    [
      fc.integer({ min: 1, max: 70 }).chain((d) =>
        fc.tuple(
          fc.constant(d),
          fc.array(fc.array(fc.integer({ min: -127, max: 127 }), { minLength: d, maxLength: d }), { maxLength: 30 }),
          fc.array(fc.integer({ min: -32767, max: 32767 }), { minLength: d, maxLength: d })
        )
      )
    ],
    ([[d, rows, query]]) => {
      const scanners = [new Int8Scanner(d, 1), new Int8Scanner(d, 1, { simd: false })]
      const dots = scanners.map((scanner) => {
        rows.forEach((row, i) => {
          scanner.reserve(i + 1 < 4 ? 4 : 2 * (i + 1))
          scanner.row(i).set(row)
        })
        scanner.query().set(query)
        return Array.from(scanner.scan(rows.length))
      })
      const expected = rows.map((row) => row.reduce((sum, x, j) => sum + x * query[j]!, 0))
      assert.deepStrictEqual(dots[0], expected)
      assert.deepStrictEqual(dots[1], expected)
    }
  )

  it.prop(
    "search equals a naive sort of every live vector, after any adds, replacements, removals and compactions",
    [scenario],
    ([{ d, filtered, k, ops, queries }]) => {
      const { index, naive } = run(d, ops)
      assert.strictEqual(index.size, naive.rows.size)
      for (const query of queries) {
        const filter = filtered ? evenIds : undefined
        assert.deepStrictEqual(index.search(query, { k, filter }), naive.search(query, k, filter))
      }
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "decode ∘ encode answers every query as the original does, from aligned and unaligned bytes",
    [scenario, fc.integer({ min: 1, max: 3 })],
    ([{ d, k, ops, queries }, shift]) => {
      const { index } = run(d, ops)
      const bytes = index.encode()
      const unaligned = new Uint8Array(bytes.length + shift).subarray(shift)
      unaligned.set(bytes)
      for (const copy of [unwrap(VectorIndex.decode(bytes)), unwrap(VectorIndex.decode(unaligned))]) {
        assert.strictEqual(copy.size, index.size)
        assert.strictEqual(copy.dimensions, d)
        for (const query of queries) {
          assert.deepStrictEqual(copy.search(query, { k }), index.search(query, { k }))
        }
      }
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "removed ids never come back: not from search, compaction, or an encoded segment",
    [scenario, fc.array(ids, { minLength: 1, maxLength: 6 })],
    ([{ d, ops, queries }, removed]) => {
      const { index } = run(d, ops)
      for (const id of removed) index.remove(id)
      const everything = { k: 100 }
      const check = (i: VectorIndex.VectorIndex) => {
        for (const id of removed) assert.isFalse(i.has(id))
        for (const query of queries) {
          const found = i.search(query, everything).map((hit) => hit.id)
          for (const id of removed) assert.notInclude(found, id)
          assert.strictEqual(found.length, i.size)
        }
      }
      check(index)
      check(unwrap(VectorIndex.decode(index.encode())))
      index.compact()
      check(index)
    }
  )

  it("orders rows that differ below the Int8 resolution exactly, and exact duplicates by id", () => {
    const d = 64
    const base = Array.from({ length: d }, (_, j) => Math.sin(j + 1))
    const index = VectorIndex.make(d)
    const naive = new Naive()
    let seed = 11
    const noise = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return (seed / 2 ** 32 - 0.5) * 4e-3
    }
    // 500 rows within about one Int8 step (max / 127 ≈ 8e-3) of the base: their quantised
    // scores order them wrongly, so only the exact re-rank gets the top k right.
    for (let i = 0; i < 500; i++) {
      const op: Op = { _tag: "add", id: `r${i}`, vector: base.map((x) => x + noise()) }
      unwrap(index.add(op.id, op.vector))
      naive.apply(op)
    }
    for (const id of ["dup-b", "dup-a", "dup-c"]) {
      unwrap(index.add(id, base))
      naive.apply({ _tag: "add", id, vector: base })
    }
    for (const k of [1, 5, 10, 50]) assert.deepStrictEqual(index.search(base, { k }), naive.search(base, k))
    const query = base.map((x, j) => x * (1 + 0.01 * Math.cos(j)))
    for (const k of [1, 5, 10, 50]) assert.deepStrictEqual(index.search(query, { k }), naive.search(query, k))
  })

  it("stays exact for queries of any scale, not only unit vectors", () => {
    const d = 24
    const ops: Array<Op> = Array.from({ length: 300 }, (_, i) => ({
      _tag: "add",
      id: `m${i}`,
      vector: Array.from({ length: d }, (_, j) => Math.cos(i * 0.37 + j * 1.3) * (1 + (i % 5)))
    }))
    const { index, naive } = run(d, ops)
    for (const scale of [1e-30, 1e-6, 1, 1e6, 1e30]) {
      const query = Array.from({ length: d }, (_, j) => Math.sin(j * 0.7) * scale)
      assert.deepStrictEqual(index.search(query, { k: 10 }), naive.search(query, 10))
    }
  })

  it("a query of zeros scores every row 0 and returns the k smallest ids that pass the filter", () => {
    const { index } = run(3, ["q", "b", "x", "a", "d", "c"].map((id) => ({ _tag: "add", id, vector: [1, 2, 3] })))
    assert.deepStrictEqual(index.search([0, 0, 0], { k: 3 }), [
      { id: "a", score: 0 },
      { id: "b", score: 0 },
      { id: "c", score: 0 }
    ])
    assert.deepStrictEqual(index.search([0, 0, 0], { k: 2, filter: (id) => id > "c" }).map((h) => h.id), ["d", "q"])
  })

  it("asks the filter about few rows, not every row", () => {
    const d = 32
    const index = VectorIndex.make(d)
    let seed = 7
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed / 2 ** 32 - 0.5
    }
    for (let i = 0; i < 5000; i++) unwrap(index.add(`m${i}`, Array.from({ length: d }, random)))
    let asked = 0
    const hits = index.search(Array.from({ length: d }, random), {
      k: 5,
      filter: () => {
        asked++
        return true
      }
    })
    assert.strictEqual(hits.length, 5)
    assert.isBelow(asked, 500)
  })

  it("rejects a vector of the wrong length or with a non-finite value, and keeps the index as it was", () => {
    const index = VectorIndex.make(3)
    unwrap(index.add("a", [1, 0, 0]))
    for (const vector of [[1, 0], [1, 0, 0, 0], [1, Number.NaN, 0], [Number.POSITIVE_INFINITY, 0, 0]]) {
      const result = index.add("a", vector)
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.strictEqual(result.left._tag, "VectorIndexError")
    }
    assert.deepStrictEqual(index.search([1, 0, 0], { k: 5 }), [{ id: "a", score: 1 }])
  })

  it("counts tombstoned rows until compact reclaims them; re-adding an id replaces its row", () => {
    const { index } = run(2, [
      { _tag: "add", id: "a", vector: [1, 0] },
      { _tag: "add", id: "b", vector: [0, 1] },
      { _tag: "add", id: "a", vector: [0.6, 0.8] },
      { _tag: "remove", id: "b" }
    ])
    assert.deepStrictEqual([index.size, index.rows], [1, 3])
    assert.deepStrictEqual(index.search([1, 0], { k: 5 }), [{ id: "a", score: Math.fround(0.6) }])
    index.compact()
    assert.deepStrictEqual([index.size, index.rows], [1, 1])
    assert.deepStrictEqual(index.search([1, 0], { k: 5 }), [{ id: "a", score: Math.fround(0.6) }])
  })

  it("decode views the Float32 rows of aligned bytes in place, and copies them before the first add", () => {
    const { index } = run(4, [
      { _tag: "add", id: "a", vector: [1, 0, 0, 0] },
      { _tag: "add", id: "b", vector: [0, 1, 0, 0] }
    ])
    const bytes = index.encode()
    const decoded = unwrap(VectorIndex.decode(bytes))
    const rows = new Float32Array(bytes.buffer, 32, 8)
    rows[0] = 0.5 // a's first component, through the bytes
    assert.deepStrictEqual(decoded.search([1, 0, 0, 0], { k: 1 }), [{ id: "a", score: 0.5 }])
    unwrap(decoded.add("c", [0, 0, 1, 0]))
    rows[0] = 0.25
    assert.deepStrictEqual(decoded.search([1, 0, 0, 0], { k: 1 }), [{ id: "a", score: 0.5 }])
  })

  it("decode fails with a VectorIndexError on bytes that are not a whole segment", () => {
    const { index } = run(5, [{ _tag: "add", id: "a", vector: [1, 2, 3, 4, 5] }])
    const bytes = index.encode()
    const other = bytes.slice()
    other[0] = 0
    const longer = new Uint8Array(bytes.length + 4)
    longer.set(bytes)
    for (const bad of [new Uint8Array(0), bytes.subarray(0, bytes.length - 1), other, longer]) {
      const result = VectorIndex.decode(bad)
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.match(result.left.message, /corrupt.*rebuild/)
    }
  })

  it("an encoded empty index decodes to an empty index that answers nothing", () => {
    const decoded = unwrap(VectorIndex.decode(VectorIndex.make(7).encode()))
    assert.strictEqual(decoded.size, 0)
    assert.deepStrictEqual(decoded.search([1, 0, 0, 0, 0, 0, 0], { k: 3 }), [])
  })
})
