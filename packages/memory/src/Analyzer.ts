/**
 * Text → search terms, per language.
 *
 * 1. NFKC (full-width `ｔｅｓｔ` and half-width `ﾃｽﾄ` become `test` and `テスト`), then a Unicode
 *    word split. CJK runs, which have no spaces between words, become characters and
 *    overlapping bigrams (`東京都` → `東`, `東京`, `京`, `京都`, `都`), as in `Tokenizer`.
 * 2. Every other word is lower-cased, dropped if it is a stop word, stemmed, then accent-folded
 *    (`Café` → `cafe`, `Straße` → `strasse`). Folding comes last because the Snowball stemmers
 *    expect accents: `créées` stems to `cré` but `creees` to `cree`. The price is that a query
 *    typed without accents misses the forms whose stem depends on one (`securite` against
 *    `sécurité`); plain words (`cafe`, `resume`) match both ways.
 * 3. The language of a word follows its script: Latin words take the text's language (see
 *    `Language.detect`) and, when the text has none (`"und"`, or a Chinese message quoting
 *    `parseJson`), the `fallback` language, English unless told otherwise; Cyrillic words
 *    Russian or Ukrainian, Greek words Greek, Arabic words Arabic. Other scripts are only folded.
 *    When `detect` cannot decide, a document takes the likeliest candidate (`languageOf`); a
 *    query (`queryTerms`) takes every candidate, the fallback and the languages of the documents
 *    it searches at once, so that a three-word query finds documents in any language it may be
 *    in.
 * 4. Identifiers stay findable: `parseJson`, `snake_case`, `v1.2`, `src/memory/Index.ts` and
 *    `user@example.com` give the whole identifier, folded but not stemmed (`parsejson`,
 *    `v1.2`), followed by its parts analysed as words (`pars`, `json`; `v1`, `2`). A part is
 *    split off at `_`, at a lower-to-upper case change (`parseJSON`, `XMLHttpRequest` → `XML`,
 *    `Http`, `Request`), and at `.` `/` `\` `:` `@` `-` between letters or digits.
 */
import { stemmer as ar } from "@orama/stemmers/arabic"
import { stemmer as da } from "@orama/stemmers/danish"
import { stemmer as nl } from "@orama/stemmers/dutch"
import { stemmer as en } from "@orama/stemmers/english"
import { stemmer as fi } from "@orama/stemmers/finnish"
import { stemmer as fr } from "@orama/stemmers/french"
import { stemmer as de } from "@orama/stemmers/german"
import { stemmer as el } from "@orama/stemmers/greek"
import { stemmer as it } from "@orama/stemmers/italian"
import { stemmer as no } from "@orama/stemmers/norwegian"
import { stemmer as pt } from "@orama/stemmers/portuguese"
import { stemmer as ru } from "@orama/stemmers/russian"
import { stemmer as es } from "@orama/stemmers/spanish"
import { stemmer as sv } from "@orama/stemmers/swedish"
import { stemmer as uk } from "@orama/stemmers/ukrainian"
import * as Language from "./Language.js"

/**
 * Bumped whenever a text's terms may change, so that a stored index built with other terms is
 * rebuilt rather than queried with terms it does not hold.
 */
export const version = 1

export interface Options {
  /** Analyse as this language — or, for a query, all of these — instead of detecting it. */
  readonly language?: Language.Language | ReadonlyArray<Language.Language> | undefined
  /** Stem words (default `true`). */
  readonly stem?: boolean | undefined
  /** Drop stop words (default `true`). */
  readonly stopWords?: boolean | undefined
  /** The language of Latin-script words in text that has none of its own (default `"en"`). */
  readonly fallback?: Language.Language | undefined
}

const stemmers: Partial<Record<Language.Language, (word: string) => string>> = {
  en,
  fr,
  de,
  es,
  it,
  pt,
  nl,
  sv,
  da,
  no,
  fi,
  ru,
  uk,
  el,
  ar
}

const SPECIAL: Record<string, string> = {
  "ß": "ss",
  "æ": "ae",
  "œ": "oe",
  "ø": "o",
  "đ": "d",
  "ð": "d",
  "þ": "th",
  "ł": "l",
  "ħ": "h",
  "ı": "i",
  "ŀ": "l",
  "ŧ": "t"
}
const SPECIALS = /[ßæœøđðþłħıŀŧ]/g
const ASCII = /^[\x00-\x7f]*$/

/**
 * Lower-cases and removes accents: `Ünïcödé` → `unicode`; letters that are not a base letter
 * and a mark are spelt out as in Lucene's ASCII folding (`ß` → `ss`, `ø` → `o`, `æ` → `ae`).
 * For words, not for CJK: NFKD would take Hangul syllables apart.
 */
export const fold = (word: string): string => {
  const lower = word.toLowerCase()
  if (ASCII.test(lower)) return lower
  return lower.normalize("NFKD").replace(/\p{M}+/gu, "").replace(SPECIALS, (char) => SPECIAL[char]!)
}

const CJK_CHAR = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30fc\u3005]/u
const CJK_RUNS = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30fc\u3005]+/gu
const PIECE = "[\\p{L}\\p{N}\\p{M}_]+(?:['’][\\p{L}\\p{M}]+)*"
const CHUNK = new RegExp(`${PIECE}(?:[./\\\\:@-]+${PIECE})*`, "gu")
const SEPARATORS = /[./\\:@-]+/
const CAMEL = /(\p{Ll}|\p{N})(\p{Lu})|(\p{Lu})(\p{Lu}\p{Ll})/gu
const HAS_LETTER = /\p{L}/u
const CYRILLIC = /\p{Script=Cyrillic}/u
const GREEK = /\p{Script=Greek}/u
const ARABIC = /\p{Script=Arabic}/u
const LATIN = /\p{Script=Latin}/u

/** Which languages analyse the words of each script, for one text. */
interface Plan {
  readonly latin: ReadonlyArray<Language.Language>
  readonly cyrillic: ReadonlyArray<Language.Language>
  readonly stem: boolean
  readonly stopWords: boolean
  /** Memoised word → terms, shared by every text analysed with the same plan. */
  readonly cache: Map<string, ReadonlyArray<string>>
}

const GREEK_ONLY: ReadonlyArray<Language.Language> = ["el"]
const ARABIC_ONLY: ReadonlyArray<Language.Language> = ["ar"]
const NONE: ReadonlyArray<Language.Language> = []

const plans = new Map<string, Plan>()
/** Memoised words across all plans; past it, every memo starts afresh. */
const CACHE_LIMIT = 200_000
let memoised = 0

const planFor = (languages: ReadonlyArray<Language.Language>, options: Options | undefined): Plan => {
  const stem = options?.stem ?? true
  const stopWords = options?.stopWords ?? true
  const fallback = options?.fallback ?? "en"
  const pick = (script: Language.Script, otherwise: ReadonlyArray<Language.Language>) => {
    const own = languages.filter((language) => Language.script(language) === script)
    return own.length > 0 ? [...new Set(own)] : otherwise
  }
  const latin = pick("latin", Language.script(fallback) === "latin" ? [fallback] : NONE)
  const cyrillic = pick("cyrillic", ["ru"])
  const key = `${latin.join(",")}|${cyrillic.join(",")}|${stem}|${stopWords}`
  let plan = plans.get(key)
  if (plan === undefined) {
    plan = { latin, cyrillic, stem, stopWords, cache: new Map() }
    plans.set(key, plan)
  }
  return plan
}

const languagesOf = (word: string, plan: Plan): ReadonlyArray<Language.Language> => {
  const code = word.charCodeAt(0)
  if (code < 0x80) return plan.latin
  for (const char of word) {
    if (!HAS_LETTER.test(char)) continue
    if (LATIN.test(char)) return plan.latin
    if (CYRILLIC.test(char)) return plan.cyrillic
    if (GREEK.test(char)) return GREEK_ONLY
    if (ARABIC.test(char)) return ARABIC_ONLY
    return NONE
  }
  return NONE
}

/** Each language's stop words as listed and accent-folded, so that `etes` is as much a stop word as `êtes`. */
const stopSets = new Map<Language.Language, ReadonlySet<string>>(
  Language.languages.map((language) => {
    const listed = [...Language.stopWords(language)]
    return [language, new Set([...listed, ...listed.map(fold)])]
  })
)

/** Whether `word` (lower case) is a stop word of one of `languages`, with or without its accents. */
const isStop = (word: string, languages: ReadonlyArray<Language.Language>) => {
  if (languages.length === 0) return false
  const folded = fold(word)
  for (const language of languages) {
    const stop = stopSets.get(language)!
    if (stop.has(word) || stop.has(folded)) return true
  }
  return false
}

const pushUnique = (out: Array<string>, from: number, term: string) => {
  for (let i = from; i < out.length; i++) {
    if (out[i] === term) return
  }
  out.push(term)
}

/** A word with no separators, case changes or underscores left in it. */
const plainWord = (raw: string, plan: Plan, out: Array<string>) => {
  const lower = raw.toLowerCase().replace(/’/g, "'")
  if (!HAS_LETTER.test(lower)) {
    out.push(lower)
    return
  }
  const languages = languagesOf(lower, plan)
  if (plan.stopWords && isStop(lower, languages)) return
  const start = out.length
  if (languages.length === 0) {
    if (lower.includes("'")) {
      for (const part of lower.split("'")) if (part !== "") pushUnique(out, start, fold(part))
    } else {
      out.push(fold(lower))
    }
    return
  }
  for (const language of languages) {
    const stemmer = plan.stem ? stemmers[language] : undefined
    const emit = (word: string) => {
      if (word === "" || (plan.stopWords && isStop(word, languages))) return
      pushUnique(out, start, fold(stemmer === undefined ? word : stemmer(word)))
    }
    if (!lower.includes("'")) emit(lower)
    // English: `user's` is `user`, `o'reilly` one word; elsewhere an apostrophe elides (l'application).
    else if (language === "en") emit(lower.replace(/'s$/, "").replace(/'/g, ""))
    else for (const part of lower.split("'")) emit(part)
  }
}

/** A word that may still be an identifier (`parseJson`, `snake_case`): the whole, then its parts. */
const word = (raw: string, plan: Plan, out: Array<string>) => {
  const cached = plan.cache.get(raw)
  if (cached !== undefined) {
    for (const term of cached) out.push(term)
    return
  }
  const start = out.length
  const spaced = raw.replace(CAMEL, "$1$3_$2$4")
  const parts = spaced.split("_").filter((part) => part !== "")
  if (parts.length > 1) {
    out.push(fold(raw.replace(/^_+|_+$/g, "")))
    for (const part of parts) plainWord(part, plan, out)
  } else if (parts.length === 1) {
    plainWord(parts[0]!, plan, out)
  }
  if (++memoised > CACHE_LIMIT) {
    for (const other of plans.values()) other.cache.clear()
    memoised = 1
  }
  plan.cache.set(raw, out.slice(start))
}

const cjkRun = (run: string, out: Array<string>) => {
  const chars = [...run]
  for (let i = 0; i < chars.length; i++) {
    out.push(chars[i]!)
    if (i + 1 < chars.length) out.push(chars[i]! + chars[i + 1]!)
  }
}

/** A separator-free piece of a chunk: CJK runs as n-grams, the rest as words. */
const piece = (text: string, plan: Plan, out: Array<string>) => {
  if (!CJK_CHAR.test(text)) {
    word(text, plan, out)
    return
  }
  let last = 0
  for (const match of text.matchAll(CJK_RUNS)) {
    if (match.index > last) word(text.slice(last, match.index), plan, out)
    cjkRun(match[0], out)
    last = match.index + match[0].length
  }
  if (last < text.length) word(text.slice(last), plan, out)
}

const analyse = (text: string, plan: Plan): Array<string> => {
  const out: Array<string> = []
  const normal = ASCII.test(text) ? text : text.normalize("NFKC")
  for (const match of normal.matchAll(CHUNK)) {
    const chunk = match[0]
    if (!SEPARATORS.test(chunk)) {
      piece(chunk, plan, out)
      continue
    }
    if (!CJK_CHAR.test(chunk)) out.push(fold(chunk))
    for (const part of chunk.split(SEPARATORS)) piece(part, plan, out)
  }
  return out
}

const given = (language: Options["language"]): ReadonlyArray<Language.Language> | undefined =>
  language === undefined ? undefined : typeof language === "string" ? [language] : language

/**
 * The language `terms` analyses `text` in when it is not told: the detected one, else the
 * likeliest candidate, else `"und"` (whose Latin words take the fallback language).
 */
export const languageOf = (text: string): Language.Language => {
  const guess = Language.guess(text)
  return guess.language !== "und" ? guess.language : guess.candidates[0] ?? "und"
}

/** The search terms of a document, in order; repeated words repeat. */
export const terms = (text: string, options?: Options): Array<string> =>
  analyse(text, planFor(given(options?.language) ?? [languageOf(text)], options))

/**
 * The distinct search terms of a query, in order of first appearance. A query whose language is
 * undetermined is analysed in each candidate language, the fallback and the `also` languages at
 * once, so that a three-word query finds documents in any language it may be in.
 */
export const queryTerms = (
  text: string,
  options?: Options & {
    /** More languages for an undetermined query: a keyword index passes those of its documents. */
    readonly also?: ReadonlyArray<Language.Language> | undefined
  }
): Array<string> => {
  const languages = given(options?.language) ?? (() => {
    const guess = Language.guess(text)
    return guess.language !== "und"
      ? [guess.language]
      : [...guess.candidates, options?.fallback ?? "en", ...(options?.also ?? [])]
  })()
  return [...new Set(analyse(text, planFor(languages, options)))]
}
