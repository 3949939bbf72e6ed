/**
 * A stable 32-bit hash for feature hashing: FNV-1a over code points, finished with murmur3's
 * `fmix32` avalanche so that every output bit — the low ones that pick a bucket and the top one
 * that picks a sign — depends on every input bit. Stable across runs, platforms and Node
 * versions: the vectors it produces are written to disk.
 */

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** murmur3's finaliser: a bijection on 32-bit integers with full avalanche. */
export const fmix32 = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * The hash of the code points `codes[start..end)` under `seed` (different seeds give
 * independent hash families: words and character n-grams never share a bucket by design).
 * Each code point is fed as its three low bytes, so every Unicode scalar value is distinct.
 */
export const hashCodes = (codes: ReadonlyArray<number>, start: number, end: number, seed: number): number => {
  let h = (FNV_OFFSET ^ seed) >>> 0
  for (let i = start; i < end; i++) {
    const c = codes[i]!
    h = Math.imul(h ^ (c & 0xff), FNV_PRIME)
    h = Math.imul(h ^ ((c >>> 8) & 0xff), FNV_PRIME)
    h = Math.imul(h ^ (c >>> 16), FNV_PRIME)
  }
  return fmix32(h)
}

/** The code points of `text`. */
export const codePoints = (text: string): Array<number> => {
  const out: Array<number> = []
  for (const char of text) out.push(char.codePointAt(0)!)
  return out
}

/** The hash of a whole string under `seed`. */
export const hashString = (text: string, seed: number): number => {
  const codes = codePoints(text)
  return hashCodes(codes, 0, codes.length, seed)
}
