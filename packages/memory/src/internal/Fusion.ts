/**
 * Rankings and their fusion, for the conversation index.
 *
 * - `Top` keeps the `size` best of a stream of scored documents (score descending, then id
 *   ascending) in a binary heap: the order is total, so the same documents always give the same list.
 * - `fuse` is weighted reciprocal rank fusion: a document's fused score is
 *   Σ weight / (k + rank) over the rankings it appears in (ranks from 1). A ranking with weight 0
 *   does not count; ties go to the smaller id.
 */

export interface Scored {
  readonly id: string
  readonly score: number
}

/** Whether `a` ranks before `b`: a larger score, or the same score and a smaller id. */
export const before = (a: Scored, b: Scored): boolean => a.score > b.score || (a.score === b.score && a.id < b.id)

export const byRank = (a: Scored, b: Scored): number => before(a, b) ? -1 : before(b, a) ? 1 : 0

/** The `size` best items offered, best first. */
export class Top<A extends Scored> {
  private readonly heap: Array<A> = []
  constructor(readonly size: number) {}

  /** The worst item kept, once `size` are kept. */
  get floor(): A | undefined {
    return this.heap.length < this.size ? undefined : this.heap[0]
  }

  /** Whether an item scoring `score` with id `id` would be kept now. */
  admits(score: number, id: string): boolean {
    const floor = this.floor
    return floor === undefined || score > floor.score || (score === floor.score && id < floor.id)
  }

  offer(item: A): void {
    if (this.size <= 0) return
    const heap = this.heap
    if (heap.length < this.size) {
      heap.push(item)
      let at = heap.length - 1
      while (at > 0) {
        const parent = (at - 1) >> 1
        // The root is the worst item: a parent ranks after its children.
        if (before(heap[parent]!, item)) {
          heap[at] = heap[parent]!
          at = parent
        } else break
      }
      heap[at] = item
      return
    }
    if (!before(item, heap[0]!)) return
    let at = 0
    for (;;) {
      const left = 2 * at + 1
      if (left >= heap.length) break
      const right = left + 1
      const worse = right < heap.length && before(heap[left]!, heap[right]!) ? right : left
      // Both children rank before `item`: it belongs here.
      if (before(heap[worse]!, item)) break
      heap[at] = heap[worse]!
      at = worse
    }
    heap[at] = item
  }

  /** The items kept, best first. */
  sorted(): Array<A> {
    return [...this.heap].sort(byRank)
  }
}

export interface Ranking {
  readonly weight: number
  /** Ids, best first. */
  readonly ids: ReadonlyArray<string>
}

/** Weighted reciprocal rank fusion of `rankings`, best first, at most `limit`. */
export const fuse = (rankings: ReadonlyArray<Ranking>, k: number, limit: number): Array<Scored> => {
  const scores = new Map<string, number>()
  for (const ranking of rankings) {
    if (!(ranking.weight > 0)) continue
    ranking.ids.forEach((id, i) => {
      scores.set(id, (scores.get(id) ?? 0) + ranking.weight / (k + i + 1))
    })
  }
  const top = new Top<Scored>(limit)
  for (const [id, score] of scores) top.offer({ id, score })
  return top.sorted()
}
