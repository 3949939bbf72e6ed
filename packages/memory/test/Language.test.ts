import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Language from "../src/Language.js"

/** Real sentences, as developers write them to an agent, two per language. */
const sentences: ReadonlyArray<readonly [Language.Language, string]> = [
  ["en", "Can you check why the integration tests fail on CI since the last merge?"],
  ["en", "I think the problem is in parseJson, it doesn't handle empty arrays."],
  ["fr", "Peux-tu regarder pourquoi les tests d'intégration échouent depuis la dernière fusion ?"],
  ["fr", "Le script de déploiement doit lire le jeton dans l'environnement, pas dans un fichier."],
  ["de", "Kannst du prüfen, warum die Integrationstests seit dem letzten Merge fehlschlagen?"],
  ["de", "Das Deploy-Skript sollte das Token aus der Umgebung lesen, nicht aus einer Datei."],
  ["es", "¿Puedes revisar por qué fallan las pruebas de integración desde la última fusión?"],
  ["es", "El script de despliegue debe leer el token del entorno, no de un archivo."],
  ["it", "Puoi controllare perché i test di integrazione falliscono dall'ultimo merge?"],
  ["it", "Lo script di deploy dovrebbe leggere il token dall'ambiente, non da un file."],
  ["pt", "Você pode verificar por que os testes de integração falham desde o último merge?"],
  ["pt", "O script de deploy deve ler o token do ambiente, não de um arquivo."],
  ["nl", "Kun je kijken waarom de integratietests sinds de laatste merge falen?"],
  ["nl", "Het deployscript moet het token uit de omgeving lezen, niet uit een bestand."],
  ["sv", "Kan du kolla varför integrationstesterna misslyckas sedan den senaste sammanslagningen?"],
  ["sv", "Deployskriptet ska läsa token från miljön, inte från en fil."],
  ["da", "Kan du tjekke, hvorfor integrationstestene fejler siden den sidste merge?"],
  ["da", "Jeg har flyttet noget af koden ud i et nyt modul, og nu virker det ikke for mig."],
  ["no", "Kjør alltid linteren før du pusher noe til hovedgrenen."],
  ["no", "Jeg har flyttet noe av koden ut i en ny modul, og nå virker det ikke for meg."],
  ["fi", "Voitko tarkistaa, miksi integraatiotestit epäonnistuvat viimeisimmän yhdistämisen jälkeen?"],
  ["fi", "Luulen, että ongelma on parseJsonissa, se ei käsittele tyhjiä taulukoita."],
  ["ru", "Можешь посмотреть, почему интеграционные тесты падают после последнего слияния?"],
  ["ru", "Скрипт деплоя должен читать токен из окружения, а не из файла."],
  ["uk", "Можеш подивитися, чому інтеграційні тести падають після останнього злиття?"],
  ["uk", "Скрипт деплою має читати токен із середовища, а не з файлу."],
  ["el", "Ο διακομιστής δεν απαντά και οι δοκιμές αποτυγχάνουν μετά την τελευταία ενημέρωση."],
  ["ar", "الخادم لا يستجيب والاختبارات تفشل منذ التحديث الأخير."]
]

/** Words of code talk that are no language's function words. */
const technical = fc.constantFrom(
  "parseJson",
  "config",
  "webhook",
  "retry",
  "docker",
  "pytest",
  "TIMESTAMPTZ",
  "0xe9",
  "v1.2",
  "src/index.ts",
  "JSON",
  "build",
  "deploy",
  "p99",
  "snake_case",
  "API",
  "GitHub",
  "Kubernetes",
  "npm",
  "README.md"
)

describe("Language", () => {
  it("detects real sentences in each language", () => {
    for (const [language, sentence] of sentences) {
      assert.strictEqual(Language.detect(sentence), language, sentence)
    }
  })

  it("decides CJK by script: kana makes Japanese, Hangul Korean, Han alone Chinese", () => {
    assert.strictEqual(Language.detect("サーバーの設定ファイルを確認してください"), "ja")
    assert.strictEqual(Language.detect("設定ファイル"), "ja")
    assert.strictEqual(Language.detect("한국어 텍스트 검색"), "ko")
    assert.strictEqual(Language.detect("发票下载按钮没有反应"), "zh")
    // A few Latin identifiers do not outweigh the CJK around them.
    assert.strictEqual(Language.detect("我喜欢用 TypeScript 写代码"), "zh")
    assert.strictEqual(Language.detect("tests/i18n.spec.ts に追加しました"), "ja")
  })

  it("calls text without evidence undetermined: code words, numbers, nothing", () => {
    for (const text of ["parse json config", "Comparison done?", "12345", "", "   ", "🚀 ✅", "GET /v1/users"]) {
      assert.strictEqual(Language.detect(text), "und", text)
      assert.deepStrictEqual(Language.candidates(text), [], text)
    }
  })

  it("calls a short text whose words several languages share undetermined, and keeps them as candidates", () => {
    assert.strictEqual(Language.detect("le build casse"), "und")
    assert.includeMembers([...Language.candidates("le build casse")], ["fr", "it"])
    assert.strictEqual(Language.detect("ошибка в тестах"), "und")
    assert.includeMembers([...Language.candidates("ошибка в тестах")], ["ru", "uk"])
    // One word of its own is enough.
    assert.strictEqual(Language.detect("fix the build"), "en")
    assert.strictEqual(Language.detect("der Build ist kaputt"), "de")
  })

  it("does not take English developer words for another language's function words", () => {
    for (const text of ["total final general", "AI per token", "the OS dir", "fix CI"]) {
      assert.notInclude(["es", "it", "fr", "de", "da", "no", "sv", "nl"], Language.detect(text), text)
    }
  })

  it.prop(
    "technical words added to a sentence never change its language",
    [fc.constantFrom(...sentences), fc.array(technical, { minLength: 1, maxLength: 3 }), fc.boolean()],
    ([[language, sentence], words, before]) => {
      const text = before ? `${words.join(" ")} ${sentence}` : `${sentence} ${words.join(" ")}`
      assert.strictEqual(Language.detect(text), language)
    }
  )

  it.prop(
    "a query of one to three technical words is undetermined",
    [fc.array(technical, { minLength: 1, maxLength: 3 })],
    ([words]) => {
      assert.strictEqual(Language.detect(words.join(" ")), "und")
    }
  )

  it.prop(
    "detect is total and agrees with candidates",
    [fc.oneof(fc.string(), fc.fullUnicodeString(), fc.constantFrom(...sentences.map(([, s]) => s)))],
    ([text]) => {
      const language = Language.detect(text)
      assert.include(Language.languages, language)
      const candidates = Language.candidates(text)
      if (language !== "und") assert.deepStrictEqual(candidates, [language])
      assert.isAtMost(candidates.length, 3)
      assert.notInclude(candidates, "und")
      assert.deepStrictEqual(Language.guess(text), { language, candidates })
    }
  )

  it("knows each language's script", () => {
    assert.strictEqual(Language.script("fr"), "latin")
    assert.strictEqual(Language.script("uk"), "cyrillic")
    assert.strictEqual(Language.script("ja"), "cjk")
    assert.strictEqual(Language.script("und"), "other")
  })

  it("has stop words for every analysed language, the Ukrainian list repaired and Greek matching its own spelling", () => {
    for (
      const language of [
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
        "ar"
      ] as const
    ) {
      assert.isAbove(Language.stopWords(language).size, 20, language)
    }
    for (const word of Language.stopWords("uk")) assert.match(word, /^[\p{Script=Cyrillic}']+$/u)
    assert.isTrue(Language.stopWords("uk").has("що"))
    assert.isTrue(Language.stopWords("el").has("αυτες"))
    assert.isTrue(Language.stopWords("fr").has("êtes"))
    assert.isTrue(Language.stopWords("en").has("a"))
    assert.strictEqual(Language.stopWords("zh").size, 0)
  })
})
