/**
 * The snippet of a search result: the sentence that holds most of the query's terms, with the
 * sentences around it while they fit, on one line of at most `max` characters (240).
 *
 * White space (new lines included) becomes single spaces. Sentences end at `.` `!` `?` `…` and
 * their CJK forms. A sentence longer than `max` is cut to a window around its first matching
 * word, with `…` where text was left out. A text with no matching term starts at its beginning.
 */

export const MAX = 240

const SENTENCE = /[^.!?…。！？]+(?:[.!?…。！？]+["'”’)\]]*)?\s*|[.!?…。！？]+\s*/gu
const WORD = /[\p{L}\p{N}_]+(?:[./\\:@'’-][\p{L}\p{N}_]+)*/gu

const ASCII = /^[\x00-\x7f]*$/

const oneLine = (text: string): string => text.replace(/\s+/g, " ").trim()

/** `text` cut to at most `max` characters around `at`, with `…` at each cut end. */
const windowAround = (text: string, at: number, max: number): string => {
  if (text.length <= max) return text
  let start = Math.max(0, Math.min(at - Math.floor(max / 3), text.length - max))
  let end = start + max
  // Make room for the ellipses, then move off the middle of a word.
  if (start > 0) start++
  if (end < text.length) end--
  while (start > 0 && start < at && /[\p{L}\p{N}]/u.test(text[start - 1]!)) start++
  while (end < text.length && end > start + 1 && /[\p{L}\p{N}]/u.test(text[end]!)) end--
  const body = text.slice(start, end).trim()
  return `${start > 0 ? "…" : ""}${body}${end < text.length ? "…" : ""}`
}

/**
 * The snippet of `text` for a query whose analysed terms are `terms`; `analyse` gives the terms of
 * a piece of text the same way.
 */
export const snippet = (
  text: string,
  terms: ReadonlySet<string>,
  analyse: (text: string) => ReadonlyArray<string>,
  max: number = MAX
): string => {
  const line = oneLine(text)
  if (line.length <= max) return line
  const sentences = (line.match(SENTENCE) ?? [line]).map((sentence) => sentence.trim()).filter((s) => s !== "")
  let best = 0
  let bestScore = 0
  // A stem, less its last letter (`happi` of `happy`), starts the word it comes from, once folded:
  // a sentence that holds none of them is not analysed.
  const needles = [...terms].map((term) => term.length > 3 ? term.slice(0, -1) : term)
  sentences.forEach((sentence, i) => {
    const lower = sentence.toLowerCase()
    const folded = ASCII.test(lower) ? lower : lower.normalize("NFKD").replace(/\p{M}+/gu, "")
    if (!needles.some((needle) => folded.includes(needle) || lower.includes(needle))) return
    const seen = new Set<string>()
    for (const term of analyse(sentence)) if (terms.has(term)) seen.add(term)
    if (seen.size > bestScore) {
      best = i
      bestScore = seen.size
    }
  })
  const core = sentences[best]!
  if (core.length > max) {
    let at = 0
    if (bestScore > 0) {
      for (const match of core.matchAll(WORD)) {
        if (analyse(match[0]).some((term) => terms.has(term))) {
          at = match.index
          break
        }
      }
    }
    return windowAround(core, at, max)
  }
  let from = best
  let to = best + 1
  let length = core.length
  const fits = (f: number, t: number, n: number) => n + (f > 0 ? 1 : 0) + (t < sentences.length ? 1 : 0) <= max
  // Widen by whole sentences, the next one first, while the line fits with its ellipses.
  for (let grew = true; grew;) {
    grew = false
    if (to < sentences.length) {
      const next = length + 1 + sentences[to]!.length
      if (fits(from, to + 1, next)) {
        length = next
        to++
        grew = true
      }
    }
    if (from > 0) {
      const next = length + 1 + sentences[from - 1]!.length
      if (fits(from - 1, to, next)) {
        length = next
        from--
        grew = true
      }
    }
  }
  const body = sentences.slice(from, to).join(" ")
  const out = `${from > 0 ? "…" : ""}${body}${to < sentences.length ? "…" : ""}`
  return out.length <= max ? out : windowAround(body, 0, max)
}
