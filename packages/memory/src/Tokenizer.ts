/**
 * Turns text into search terms without assuming English: Unicode-aware word splitting, case
 * and accent folding (`Café` → `cafe`), and CJK runs — which have no spaces between words —
 * split into single characters and overlapping bigrams (`東京都` → `東`, `京`, `都`, `東京`, `京都`).
 */

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u
const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu

/** Lower-cases and removes combining marks: `Ünïcödé` → `unicode`. Leaves CJK as it is. */
export const fold = (text: string): string => text.normalize("NFKD").replace(/\p{M}+/gu, "").toLowerCase()

const cjkTerms = (run: string, out: Array<string>) => {
  const chars = [...run]
  for (let i = 0; i < chars.length; i++) {
    out.push(chars[i]!)
    if (i + 1 < chars.length) out.push(chars[i]! + chars[i + 1]!)
  }
}

/** The search terms of `text`, in order; repeated terms repeat. */
export const tokenize = (text: string): Array<string> => {
  const out: Array<string> = []
  // NFC first, so folding a precomposed CJK character never splits it into parts.
  for (const match of text.normalize("NFC").matchAll(WORD)) {
    const word = match[0]
    if (!CJK.test(word)) {
      out.push(fold(word).replace(/['’]/g, ""))
      continue
    }
    // A word mixing scripts (`weft用`) splits into its CJK runs and the rest.
    let run = ""
    let other = ""
    for (const char of word) {
      if (CJK.test(char)) {
        if (other !== "") out.push(fold(other))
        other = ""
        run += char
      } else {
        if (run !== "") cjkTerms(run, out)
        run = ""
        other += char
      }
    }
    if (run !== "") cjkTerms(run, out)
    if (other !== "") out.push(fold(other))
  }
  return out
}
