/**
 * Deterministic, offline language detection: which language a text is in, so that the analyzer
 * can pick its stop words and stemmer.
 *
 * The script decides first: Hangul is Korean, Han with kana is Japanese, Han alone is Chinese,
 * Greek is Greek, Arabic script is Arabic, anything else that is neither Latin nor Cyrillic is
 * undetermined. Among the languages sharing a script (Latin; Cyrillic), each language scores its
 * stop words found in the text (the `@orama/stopwords` lists), a word shared by several lists
 * counting for each a share of one, plus a little for distinctive letters (ß, ñ, ç, å, ø, ї…).
 *
 * A text is in language L when L has the evidence of at least one word of its own and leads the
 * runner-up by that much again; otherwise it is `"und"`. So a short query made of technical words
 * (`"parse json config"`) or of words several languages share (`"le build casse"`) is `"und"`
 * rather than a guess that flips with one word: what to do with `"und"` is the caller's choice
 * (the analyzer analyses it with a fallback language, `"en"` unless told otherwise). `candidates`
 * gives the languages still in the running when `detect` cannot decide.
 */
import { stopwords as ar } from "@orama/stopwords/arabic"
import { stopwords as da } from "@orama/stopwords/danish"
import { stopwords as nl } from "@orama/stopwords/dutch"
import { stopwords as en } from "@orama/stopwords/english"
import { stopwords as fi } from "@orama/stopwords/finnish"
import { stopwords as fr } from "@orama/stopwords/french"
import { stopwords as de } from "@orama/stopwords/german"
import { stopwords as el } from "@orama/stopwords/greek"
import { stopwords as it } from "@orama/stopwords/italian"
import { stopwords as no } from "@orama/stopwords/norwegian"
import { stopwords as pt } from "@orama/stopwords/portuguese"
import { stopwords as ru } from "@orama/stopwords/russian"
import { stopwords as es } from "@orama/stopwords/spanish"
import { stopwords as sv } from "@orama/stopwords/swedish"
import { stopwords as ukOrama } from "@orama/stopwords/ukrainian"
import { Schema } from "effect"

/** The languages weft analyses, as ISO 639-1 codes, and `"und"` (undetermined). */
export const Language = Schema.Literal(
  "en",
  "fr",
  "de",
  "es",
  "it",
  "pt",
  "nl",
  "sv",
  "da",
  "no",
  "fi",
  "ru",
  "uk",
  "el",
  "ar",
  "zh",
  "ja",
  "ko",
  "und"
)
export type Language = typeof Language.Type

/** Every language, in a fixed order (ties between languages go to the earlier one). */
export const languages: ReadonlyArray<Language> = Language.literals

export type Script = "latin" | "cyrillic" | "greek" | "arabic" | "cjk" | "other"

/** The script a language is written in. */
export const script = (language: Language): Script => scriptOf[language]

const scriptOf: Record<Language, Script> = {
  en: "latin",
  fr: "latin",
  de: "latin",
  es: "latin",
  it: "latin",
  pt: "latin",
  nl: "latin",
  sv: "latin",
  da: "latin",
  no: "latin",
  fi: "latin",
  ru: "cyrillic",
  uk: "cyrillic",
  el: "greek",
  ar: "arabic",
  zh: "cjk",
  ja: "cjk",
  ko: "cjk",
  und: "other"
}

// The Ukrainian list in @orama/stopwords 3.1.18 is mis-encoded (`яко╞`, `в╡д`): its readable
// entries plus the commonest function words stand in for it.
const uk = [
  ...ukOrama.filter((word) => /^[\p{Script=Cyrillic}']+$/u.test(word)),
  ..."і у в на до не від його її їх є він для так але щоб бо також вже ще чи там тут якщо тому цього цієї цим"
    .split(" ")
]

const lists: Record<Exclude<Language, "zh" | "ja" | "ko" | "und">, ReadonlyArray<string>> = {
  // The Snowball English list has "a"; the orama one lacks it, and it is in most English messages.
  en: [...en, "a"],
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

/**
 * The stop words of a language, lower case and spelt as in its list (the analyzer adds their
 * accent-folded forms), empty for languages without a list. The Ukrainian list is repaired (see
 * above) and the Greek one, written without accents and with σ for a final ς, has its ς back.
 */
export const stopWords = (language: Language): ReadonlySet<string> => stopSets.get(language) ?? empty

const empty: ReadonlySet<string> = new Set()

const stopSets = new Map<Language, ReadonlySet<string>>(
  Object.entries(lists).map((
    [language, words]
  ) => [language as Language, new Set(words.map((word) => word.toLowerCase().replace(/σ$/, "ς")))])
)

// Words of other languages' lists that English developer chat uses as words of its own ("total",
// "final", "ai", "per", "os", "dir", "CI"): they are not evidence for those languages.
const lookalikes = new Set(
  ("general final total ex solo mal ver dice ir dos usa uso sea son van fin sin con dan mas come era ad ai per ed " +
    "ci col want door men ben hem op na also hat war bin man um er hin den des dem dir nun pour eu ton mon end " +
    "mine alt sit mod dog din dig ham os ind ned var min sig eg bare kom ha vi nas num com")
    .split(" ")
)

// Function words the lists lack, and words that tell close languages apart (Danish `altid`,
// `sidste`; Norwegian `siste`, `ennå`).
const extra: Partial<Record<Language, string>> = {
  en: "i please also just",
  fr: "pourquoi depuis toujours quoi avant après doit peut peux veux faut aussi très fait comme rien tout tous " +
    "toutes encore déjà alors donc où chez vers",
  de: "warum seit immer bitte dass schon gibt wurde wurden kannst sollen müssen",
  es: "siempre",
  it: "sempre prima dopo dovrebbe puoi posso ancora già ogni quando senza sotto sopra fare fatto però molto",
  pt: "pode deve qualquer coisa então porque ainda agora onde sobre desde antes sempre",
  nl: "waarom sinds altijd eerst voordat vorige kun kunt gaan graag wel zit ligt",
  sv: "alltid innan förra ska också bara redan måste",
  da: "altid sidste endnu hvornår uge kan hvorfor siden",
  no: "siste ennå uke",
  fi: "ennen eikä pitää viime aina jälkeen myös vain",
  uk: "чому після який має із"
}

const detectable: ReadonlyArray<Language> = [
  "en",
  "fr",
  "de",
  "es",
  "it",
  "pt",
  "nl",
  "sv",
  "da",
  "no",
  "fi",
  "ru",
  "uk"
]

// Single letters are words only in some lists (the Spanish list holds the whole alphabet).
const SINGLE: Partial<Record<Language, string>> = {
  en: "a i",
  fr: "à y",
  es: "a e o u y",
  it: "a e i o è",
  pt: "a e o à é",
  sv: "i",
  da: "i",
  no: "i å",
  ru: "в и с к у я о а",
  uk: "в і у з й"
}
const SINGLE_WEIGHT = 0.5

/** word → languages whose list holds it, and what a sighting is worth. */
const evidence = new Map<string, { readonly holders: Array<number>; readonly weight: number }>()
detectable.forEach((language, index) => {
  const words = [
    ...lists[language as keyof typeof lists],
    ...(extra[language]?.split(" ") ?? []),
    ...(SINGLE[language]?.split(" ") ?? [])
  ]
  for (const raw of words) {
    const word = raw.toLowerCase()
    const single = [...word].length === 1
    if (single && !(SINGLE[language]?.split(" ").includes(word) ?? false)) continue
    if (language !== "en" && lookalikes.has(word)) continue
    const entry = evidence.get(word) ?? { holders: [], weight: single ? SINGLE_WEIGHT : 1 }
    if (!entry.holders.includes(index)) entry.holders.push(index)
    evidence.set(word, entry)
  }
})

/** Letters that only some languages use; each occurrence is worth half a word, shared between them. */
const letters = new Map<string, Array<number>>(
  Object.entries({
    "ß": ["de"],
    "ü": ["de"],
    "ñ": ["es"],
    "ã": ["pt"],
    "õ": ["pt"],
    "ç": ["fr", "pt"],
    "œ": ["fr"],
    "ê": ["fr", "pt"],
    "â": ["fr", "pt"],
    "ô": ["fr", "pt"],
    "î": ["fr"],
    "û": ["fr"],
    "ë": ["fr", "nl"],
    "ï": ["fr", "nl"],
    "è": ["fr", "it"],
    "à": ["fr", "it", "pt"],
    "ù": ["fr", "it"],
    "ì": ["it"],
    "ò": ["it"],
    "á": ["es", "pt"],
    "í": ["es", "pt"],
    "ó": ["es", "pt"],
    "ú": ["es", "pt"],
    "ä": ["de", "sv", "fi"],
    "ö": ["de", "sv", "fi"],
    "å": ["sv", "da", "no"],
    "æ": ["da", "no"],
    "ø": ["da", "no"],
    "і": ["uk"],
    "ї": ["uk"],
    "є": ["uk"],
    "ґ": ["uk"],
    "ы": ["ru"],
    "э": ["ru"],
    "ъ": ["ru"],
    "ё": ["ru"]
  }).map(([letter, holders]) => [letter, holders.map((language) => detectable.indexOf(language as Language))])
)
const LETTER_WEIGHT = 0.5

const HAN = /\p{Script=Han}/u
const KANA = /[\p{Script=Hiragana}\p{Script=Katakana}]/u
const HANGUL = /\p{Script=Hangul}/u
const LATIN = /\p{Script=Latin}/u
const CYRILLIC = /\p{Script=Cyrillic}/u
const GREEK = /\p{Script=Greek}/u
const ARABIC = /\p{Script=Arabic}/u
const LETTER = /\p{L}/u
const TOKEN = /[\p{L}\p{M}\p{N}_]+(?:['’][\p{L}\p{M}]+)*(?:[./\\:@]+[\p{L}\p{M}\p{N}_]+(?:['’][\p{L}\p{M}]+)*)*/gu
/** Paths, addresses, identifiers and numbers say nothing of the language around them. */
const CODE = /[./\\:@_\p{N}]|\p{Ll}\p{Lu}/u

/** A CJK character carries about as much as three letters of an alphabet. */
const CJK_WEIGHT = 3

interface Counts {
  latin: number
  cyrillic: number
  greek: number
  arabic: number
  han: number
  kana: number
  hangul: number
  other: number
}

const NON_ASCII = /[^\x00-\x7f]/
const ASCII_LETTER = /[a-z]/i

const countScripts = (text: string): Counts => {
  const counts: Counts = { latin: 0, cyrillic: 0, greek: 0, arabic: 0, han: 0, kana: 0, hangul: 0, other: 0 }
  if (!NON_ASCII.test(text)) {
    // Only the dominant script matters, and plain ASCII text has one at most.
    if (ASCII_LETTER.test(text)) counts.latin = 1
    return counts
  }
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) {
      if ((code | 0x20) >= 0x61 && (code | 0x20) <= 0x7a) counts.latin++
      continue
    }
    const point = text.codePointAt(i)!
    if (point > 0xffff) i++
    const char = String.fromCodePoint(point)
    if (LATIN.test(char)) counts.latin++
    else if (CYRILLIC.test(char)) counts.cyrillic++
    else if (HAN.test(char)) counts.han++
    else if (KANA.test(char)) counts.kana++
    else if (HANGUL.test(char)) counts.hangul++
    else if (GREEK.test(char)) counts.greek++
    else if (ARABIC.test(char)) counts.arabic++
    else if (LETTER.test(char)) counts.other++
  }
  return counts
}

type Dominant = "latin" | "cyrillic" | "greek" | "arabic" | "cjk" | "other" | "none"

const dominant = (counts: Counts): Dominant => {
  const cjk = (counts.han + counts.kana + counts.hangul) * CJK_WEIGHT
  let best: Dominant = "none"
  let top = 0
  for (
    const [name, weight] of [
      ["latin", counts.latin],
      ["cjk", cjk],
      ["cyrillic", counts.cyrillic],
      ["greek", counts.greek],
      ["arabic", counts.arabic],
      ["other", counts.other]
    ] as const
  ) {
    if (weight > top) {
      best = name
      top = weight
    }
  }
  return best
}

const cjkLanguage = (counts: Counts): Language => {
  if (counts.hangul >= counts.han + counts.kana) return "ko"
  // Japanese text all but always has kana between its kanji; Chinese has none.
  return counts.kana > 0 && counts.kana * 10 >= counts.han + counts.kana ? "ja" : "zh"
}

/** The evidence for each language of a script in `text`, in `detectable` order. */
const scores = (text: string, scriptName: "latin" | "cyrillic"): Array<number> => {
  const result = detectable.map(() => 0)
  const add = (holders: ReadonlyArray<number>, weight: number) => {
    for (const index of holders) result[index] += weight / holders.length
  }
  for (const match of text.matchAll(TOKEN)) {
    if (CODE.test(match[0])) continue
    const lower = match[0].toLowerCase()
    const word = lower.includes("’") ? lower.replace(/’/g, "'") : lower
    const found = evidence.get(word)
    if (found !== undefined) {
      add(found.holders, found.weight)
    } else if (word.includes("'")) {
      // French and Italian elide: l'application, dell'utente, qu'il.
      for (const part of word.split("'")) {
        const partFound = evidence.get(part)
        if (partFound !== undefined) add(partFound.holders, partFound.weight)
      }
    }
    if (!NON_ASCII.test(word)) continue
    for (const char of word) {
      const holders = letters.get(char)
      if (holders !== undefined) add(holders, LETTER_WEIGHT)
    }
  }
  detectable.forEach((language, index) => {
    if (scriptOf[language] !== scriptName) result[index] = 0
  })
  return result
}

interface Ranked {
  readonly language: Language
  readonly score: number
}

const rank = (text: string, scriptName: "latin" | "cyrillic"): Array<Ranked> =>
  scores(text, scriptName)
    .map((score, index) => ({ language: detectable[index]!, score }))
    .filter((entry) => entry.score > 0)
    .sort((a, b) => b.score - a.score || detectable.indexOf(a.language) - detectable.indexOf(b.language))

/** The evidence a language needs, and its lead over the runner-up: one word of its own. */
const MARGIN = 1

export interface Guess {
  readonly language: Language
  readonly candidates: ReadonlyArray<Language>
}

/** `detect` and `candidates` at once. */
export const guess = (text: string): Guess => {
  const counts = countScripts(text)
  const main = dominant(counts)
  switch (main) {
    case "cjk": {
      const language = cjkLanguage(counts)
      return { language, candidates: [language] }
    }
    case "greek":
      return { language: "el", candidates: ["el"] }
    case "arabic":
      return { language: "ar", candidates: ["ar"] }
    case "latin":
    case "cyrillic": {
      const ranked = rank(text, main)
      const first = ranked[0]
      if (first === undefined) return { language: "und", candidates: [] }
      const second = ranked[1]?.score ?? 0
      const sure = first.score >= MARGIN && first.score - second >= MARGIN
      const candidates = ranked.filter((entry) => entry.score * 2 >= first.score).slice(0, 3).map((entry) =>
        entry.language
      )
      return sure ? { language: first.language, candidates: [first.language] } : { language: "und", candidates }
    }
    default:
      return { language: "und", candidates: [] }
  }
}

/** The language of `text`, or `"und"` when the evidence is too thin or too evenly shared to tell. */
export const detect = (text: string): Language => guess(text).language

/**
 * The languages `text` may be in, likeliest first: the detected language alone when `detect` is
 * sure; when it is not, up to three languages scoring at least half the best (empty when nothing
 * points anywhere, as for `"parse json config"`).
 */
export const candidates = (text: string): ReadonlyArray<Language> => guess(text).candidates
