import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Analyzer from "../src/Analyzer.js"

const { queryTerms, terms } = Analyzer

describe("Analyzer", () => {
  it("stems and drops stop words in the detected language", () => {
    assert.deepStrictEqual(terms("Running the tests"), ["run", "test"])
    assert.deepStrictEqual(terms("Les déploiements de la semaine dernière ont échoué"), [
      "deploi",
      "semain",
      "derni",
      "echou"
    ])
    assert.deepStrictEqual(terms("Die Änderungen an der Datenbank müssen noch geprüft werden"), [
      "ander",
      "datenbank",
      "muss",
      "gepruft"
    ])
    assert.deepStrictEqual(terms("Тесты падают после последнего обновления"), ["тест", "пада", "последн", "обновлен"])
  })

  it("keeps stop words and whole words when told to", () => {
    assert.deepStrictEqual(terms("Running the tests", { stopWords: false }), ["run", "the", "test"])
    assert.deepStrictEqual(terms("Running the tests", { stem: false }), ["running", "tests"])
    assert.deepStrictEqual(terms("Running the tests", { stem: false, stopWords: false }), ["running", "the", "tests"])
  })

  it("analyses in the language it is given rather than the one it detects", () => {
    assert.deepStrictEqual(terms("parle", { language: "fr" }), ["parl"])
    assert.deepStrictEqual(terms("parle", { language: "en" }), ["parl"])
    assert.deepStrictEqual(terms("die Tests", { language: "de" }), ["test"])
    assert.deepStrictEqual(terms("die Tests", { language: "en" }), ["die", "test"])
  })

  it("folds accents, so accented and plain spellings meet both ways", () => {
    assert.deepStrictEqual(terms("Café"), ["cafe"])
    assert.deepStrictEqual(terms("cafe"), ["cafe"])
    assert.deepStrictEqual(terms("CAFÉ", { stem: false }), ["cafe"])
    assert.deepStrictEqual(terms("Straße", { language: "de" }), terms("Strasse", { language: "de" }))
    assert.deepStrictEqual(terms("Straße", { stem: false }), ["strasse"])
    assert.deepStrictEqual(terms("Ærøskøbing naïve Zürich", { stem: false }), ["aeroskobing", "naive", "zurich"])
    assert.deepStrictEqual(terms("réseau", { language: "fr" }), terms("reseau", { language: "fr" }))
  })

  it("stems before it folds, because the stemmers read accents", () => {
    // Folding first would give `cree` for créée and `cre` for créé.
    assert.deepStrictEqual(terms("créée", { language: "fr" }), ["cre"])
    assert.deepStrictEqual(terms("créé", { language: "fr" }), ["cre"])
    assert.deepStrictEqual(terms("configuración", { language: "es" }), terms("configurar", { language: "es" }))
  })

  it("splits CJK into characters and bigrams, normalising width and keeping ー inside katakana", () => {
    assert.deepStrictEqual(terms("東京都"), ["東", "東京", "京", "京都", "都"])
    assert.deepStrictEqual(terms("サーバー"), ["サ", "サー", "ー", "ーバ", "バ", "バー", "ー"])
    assert.deepStrictEqual(terms("ｻｰﾊﾞｰ"), terms("サーバー"))
    assert.deepStrictEqual(terms("한국어"), ["한", "한국", "국", "국어", "어"])
    assert.deepStrictEqual(terms("ｔｅｓｔ"), ["test"])
  })

  it("analyses Latin words in CJK text in the fallback language", () => {
    assert.deepStrictEqual(terms("我喜欢running tests"), ["我", "我喜", "喜", "喜欢", "欢", "run", "test"])
    assert.deepStrictEqual(terms("我喜欢running tests", { fallback: "fr" }), [
      "我",
      "我喜",
      "喜",
      "喜欢",
      "欢",
      "running",
      "test"
    ])
  })

  it("keeps identifiers findable: the whole, unstemmed, then its parts", () => {
    assert.deepStrictEqual(terms("parseJson"), ["parsejson", "pars", "json"])
    assert.deepStrictEqual(terms("XMLHttpRequest"), ["xmlhttprequest", "xml", "http", "request"])
    assert.deepStrictEqual(terms("snake_case"), ["snake_case", "snake", "case"])
    assert.deepStrictEqual(terms("__init__"), ["init"])
    assert.deepStrictEqual(terms("v1.2"), ["v1.2", "v1", "2"])
    assert.deepStrictEqual(terms("src/memory/KeywordIndex.ts"), [
      "src/memory/keywordindex.ts",
      "src",
      "memori",
      "keywordindex",
      "keyword",
      "index",
      "ts"
    ])
    assert.deepStrictEqual(terms("bob@example.com"), ["bob@example.com", "bob", "exampl", "com"])
    // Sentence punctuation is not part of a word.
    assert.deepStrictEqual(terms("See config.ts. Then rerun."), ["see", "config.ts", "config", "ts", "rerun"])
  })

  it("drops English possessives and splits French elisions", () => {
    assert.deepStrictEqual(terms("the user's settings"), ["user", "set"])
    assert.deepStrictEqual(terms("l'application plante", { language: "fr" }), ["appliqu", "plant"])
    assert.deepStrictEqual(terms("don't", { language: "en" }), [])
    assert.deepStrictEqual(terms("don't", { language: "en", stopWords: false }), ["dont"])
  })

  it("drops stop words typed without their accents, or in a spelling the list predates", () => {
    assert.deepStrictEqual(terms("vous êtes", { language: "fr" }), [])
    assert.deepStrictEqual(terms("vous etes", { language: "fr" }), [])
    assert.deepStrictEqual(terms("dass", { language: "de" }), [])
  })

  it("drops Greek stop words written with accents and final sigma", () => {
    assert.deepStrictEqual(terms("αυτές οι δοκιμές"), ["δοκιμ"])
  })

  it("analyses an undetermined query in every candidate language and the fallback, a document in the likeliest", () => {
    // "de" is French, Spanish and Portuguese: the query is undetermined.
    assert.include(queryTerms("erreur de déploiement"), terms("Le déploiement a échoué", { language: "fr" })[0]!)
    assert.include(queryTerms("erreur de déploiement"), "deploiement")
    assert.notInclude(terms("erreur de déploiement", { language: "en" }), "deploi")
    assert.deepStrictEqual(terms("erreur de déploiement"), terms("erreur de déploiement", { language: "fr" }))
    // A query with nothing to go on is analysed in the fallback language.
    assert.deepStrictEqual(queryTerms("failing builds"), ["fail", "build"])
    assert.deepStrictEqual(queryTerms("failing builds", { fallback: "fr" }), ["failing", "build"])
  })

  it("gives a query's terms once each, in order", () => {
    assert.deepStrictEqual(queryTerms("test tests testing"), ["test"])
    assert.deepStrictEqual(terms("test tests testing"), ["test", "test", "test"])
  })

  it("does not let one option set's memo answer for another", () => {
    assert.deepStrictEqual(terms("running"), ["run"])
    assert.deepStrictEqual(terms("running", { stem: false }), ["running"])
    assert.deepStrictEqual(terms("running"), ["run"])
  })

  it.prop(
    "every term is non-empty, lower-case and free of white space and separators",
    [fc.oneof(
      fc.string(),
      fc.fullUnicodeString(),
      fc.stringOf(fc.constantFrom("a", "B", "é", "_", ".", "/", "東", "ー", " ", "'", "1"))
    )],
    ([text]) => {
      for (const term of terms(text)) {
        assert.isAbove(term.length, 0)
        assert.strictEqual(term, term.toLowerCase())
        assert.notMatch(term, /\s/)
      }
    }
  )

  it.prop(
    "analysis is a function of the text and options",
    [fc.oneof(fc.string(), fc.fullUnicodeString()), fc.boolean(), fc.boolean()],
    ([text, stem, stopWords]) => {
      assert.deepStrictEqual(terms(text, { stem, stopWords }), terms(text, { stem, stopWords }))
      assert.deepStrictEqual(queryTerms(text, { stem, stopWords }), [...new Set(queryTerms(text, { stem, stopWords }))])
    }
  )
})
