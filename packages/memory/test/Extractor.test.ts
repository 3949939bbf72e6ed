import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { Category } from "../src/Extractor.js"
import { extract, fold, sentences } from "../src/Extractor.js"

type Scope = "user" | "project"

/** [message, category, scope, text] — per language and category. */
const examples: ReadonlyArray<readonly [string, Category, Scope, string]> = [
  // English
  ["I prefer tabs over spaces.", "preference", "user", "I prefer tabs over spaces"],
  ["I'd rather use vim than emacs", "preference", "user", "I'd rather use vim than emacs"],
  ["I really hate trailing commas!", "preference", "user", "I really hate trailing commas"],
  ["pnpm is my preference, not npm.", "preference", "user", "pnpm is my preference, not npm"],
  ["I'm a big fan of property tests.", "preference", "user", "I'm a big fan of property tests"],
  ["My name is Ada Lovelace.", "identity", "user", "My name is Ada Lovelace"],
  ["Call me Ada.", "identity", "user", "Call me Ada"],
  ["I'm a backend engineer.", "identity", "user", "I'm a backend engineer"],
  ["I work at Acme Corp.", "identity", "user", "I work at Acme Corp"],
  ["We use Postgres for the main database.", "fact", "project", "We use Postgres for the main database"],
  ["This project uses Effect 3.", "fact", "project", "This project uses Effect 3"],
  ["The repo uses pnpm workspaces.", "fact", "project", "The repo uses pnpm workspaces"],
  ["Our staging server is staging.example.com.", "fact", "project", "Our staging server is staging.example.com"],
  ["Always use double quotes.", "instruction", "user", "Always use double quotes"],
  ["Never push to main.", "instruction", "user", "Never push to main"],
  ["Don't ever commit secrets.", "instruction", "user", "Don't ever commit secrets"],
  ["From now on, answer in French.", "instruction", "user", "From now on, answer in French"],
  ["Please always run the linter in this repo.", "instruction", "project", "Always run the linter in this repo"],
  // French
  ["Je préfère les tabulations aux espaces.", "preference", "user", "Je préfère les tabulations aux espaces"],
  ["J'adore le TypeScript strict.", "preference", "user", "J'adore le TypeScript strict"],
  ["Je m'appelle Marie.", "identity", "user", "Je m'appelle Marie"],
  ["Je suis développeuse.", "identity", "user", "Je suis développeuse"],
  ["On utilise Docker pour le déploiement.", "fact", "project", "On utilise Docker pour le déploiement"],
  [
    "Notre serveur de staging est staging.example.com.",
    "fact",
    "project",
    "Notre serveur de staging est staging.example.com"
  ],
  ["Réponds toujours en français.", "instruction", "user", "Réponds toujours en français"],
  ["N'utilise jamais var.", "instruction", "user", "N'utilise jamais var"],
  [
    "Désormais, lance les tests avant chaque commit.",
    "instruction",
    "user",
    "Désormais, lance les tests avant chaque commit"
  ],
  // German
  ["Ich bevorzuge Tabs statt Leerzeichen.", "preference", "user", "Ich bevorzuge Tabs statt Leerzeichen"],
  ["Ich mag keine Semikolons.", "preference", "user", "Ich mag keine Semikolons"],
  ["Ich heiße Anna.", "identity", "user", "Ich heiße Anna"],
  ["Ich bin Entwicklerin.", "identity", "user", "Ich bin Entwicklerin"],
  ["Wir nutzen pnpm.", "fact", "project", "Wir nutzen pnpm"],
  ["Unser Staging-Server ist staging.example.com.", "fact", "project", "Unser Staging-Server ist staging.example.com"],
  ["Verwende immer doppelte Anführungszeichen.", "instruction", "user", "Verwende immer doppelte Anführungszeichen"],
  ["Nie direkt auf main pushen.", "instruction", "user", "Nie direkt auf main pushen"],
  // Spanish
  ["Prefiero pnpm en lugar de npm.", "preference", "user", "Prefiero pnpm en lugar de npm"],
  ["Me gusta más Rust que Go.", "preference", "user", "Me gusta más Rust que Go"],
  ["Me llamo Carlos.", "identity", "user", "Me llamo Carlos"],
  ["Soy ingeniero de datos.", "identity", "user", "Soy ingeniero de datos"],
  ["Usamos PostgreSQL para la base de datos.", "fact", "project", "Usamos PostgreSQL para la base de datos"],
  ["Siempre usa comillas dobles.", "instruction", "user", "Siempre usa comillas dobles"],
  ["Nunca hagas push a main.", "instruction", "user", "Nunca hagas push a main"],
  // Chinese
  ["我更喜欢用pnpm而不是npm。", "preference", "user", "我更喜欢用pnpm而不是npm"],
  ["我不喜欢分号。", "preference", "user", "我不喜欢分号"],
  ["我叫小明。", "identity", "user", "我叫小明"],
  ["我是一名后端工程师。", "identity", "user", "我是一名后端工程师"],
  ["我们用pnpm管理依赖。", "fact", "project", "我们用pnpm管理依赖"],
  ["这个项目使用Effect。", "fact", "project", "这个项目使用Effect"],
  ["总是用中文回答。", "instruction", "user", "总是用中文回答"],
  ["永远不要直接推送到main分支。", "instruction", "user", "永远不要直接推送到main分支"],
  ["以后都用pnpm。", "instruction", "user", "以后都用pnpm"],
  // Japanese
  ["タブの方が好きです。", "preference", "user", "タブの方が好きです"],
  ["私はタブ派です。", "preference", "user", "私はタブ派です"],
  ["私は田中です。", "identity", "user", "私は田中です"],
  ["田中と申します。", "identity", "user", "田中と申します"],
  ["このプロジェクトはpnpmを使っています。", "fact", "project", "このプロジェクトはpnpmを使っています"],
  ["いつも日本語で答えてください。", "instruction", "user", "いつも日本語で答えてください"],
  ["絶対にmainにプッシュしないでください。", "instruction", "user", "絶対にmainにプッシュしないでください"]
]

/** Questions, hedges, reactions and small talk. */
const negatives = [
  "What do you prefer?",
  "Do you like pnpm",
  "How are you?",
  "Can you fix the bug in Extractor.ts",
  "Is this the best way?",
  "I don't know.",
  "I think I prefer tabs.",
  "Maybe we use pnpm.",
  "I love it!",
  "I like that idea",
  "Thanks, that's great!",
  "Hello there",
  "ok",
  "Fix the failing test.",
  "Please run the tests.",
  "I'm a bit tired",
  "I'm designing a new API.",
  "Our tests are failing.",
  "My colleague says I prefer tabs",
  "I used to like tabs",
  "Est-ce que tu préfères pnpm ?",
  "Je ne sais pas.",
  "Peut-être que je préfère les tabs.",
  "J'aime ça",
  "Comme toujours, merci",
  "Weißt du, wie spät es ist?",
  "Vielleicht nutzen wir pnpm.",
  "Ich mag das",
  "Wie immer, danke",
  "¿Qué prefieres?",
  "No sé.",
  "Me gusta eso",
  "你好",
  "你喜欢什么？",
  "我觉得我喜欢tab",
  "我们以后再说",
  "不要担心",
  "ありがとうございます。",
  "今日はいい天気ですね。",
  "それが好きです",
  "私は忙しいです。",
  "たぶんタブの方が好きです。"
]

describe("Extractor", () => {
  it("proposes preferences, identity, facts and instructions in six languages, each with its scope", () => {
    for (const [message, category, scope, text] of examples) {
      assert.deepStrictEqual(extract(message), [{ category, scope, text }], message)
    }
  })

  it("proposes nothing for questions, hedges, reactions and small talk", () => {
    for (const message of negatives) assert.deepStrictEqual(extract(message), [], message)
  })

  it("a statement turned into a question proposes nothing", () => {
    for (const [message] of examples) {
      const question = message.replace(/[.!。！]+$/u, "") +
        (/[\p{Script=Han}\p{Script=Hiragana}]$/u.test(message) ? "？" : "?")
      assert.deepStrictEqual(extract(question), [], question)
    }
  })

  it("a statement hedged proposes nothing", () => {
    for (const [message] of examples.slice(0, 17)) {
      const hedged = `Maybe ${message.charAt(0).toLowerCase()}${message.slice(1)}`
      assert.deepStrictEqual(extract(hedged), [], hedged)
    }
  })

  it("proposes one entry per sentence, in order, and a statement made twice once", () => {
    const message = "Thanks! I prefer tabs over spaces. Can you fix the build? We use pnpm; never push to main.\n" +
      "I prefer tabs over spaces."
    assert.deepStrictEqual(extract(message).map((p) => [p.category, p.text]), [
      ["preference", "I prefer tabs over spaces"],
      ["fact", "We use pnpm"],
      ["instruction", "never push to main"]
    ])
  })

  it("reads neither code blocks nor quoted lines", () => {
    assert.deepStrictEqual(extract("```\nI prefer tabs over spaces.\n```\n> We use yarn.\nWhat does this do?"), [])
    assert.deepStrictEqual(extract("Look:\n```ts\nconst x = 1\n```\nWe use Vitest for tests."), [
      { category: "fact", scope: "project", text: "We use Vitest for tests" }
    ])
  })

  it("drops fillers and 'remember that', and files what follows as what it is", () => {
    assert.deepStrictEqual(extract("btw, I prefer tabs over spaces"), [
      { category: "preference", scope: "user", text: "I prefer tabs over spaces" }
    ])
    assert.deepStrictEqual(extract("Remember that we deploy on Fridays."), [
      { category: "fact", scope: "project", text: "We deploy on Fridays" }
    ])
    assert.deepStrictEqual(extract("Remember that the API key rotates monthly."), [
      { category: "instruction", scope: "user", text: "The API key rotates monthly" }
    ])
    assert.deepStrictEqual(extract("Recuerda que me llamo Carlos."), [
      { category: "identity", scope: "user", text: "Me llamo Carlos" }
    ])
    assert.deepStrictEqual(extract("私はタブ派だと覚えておいて。"), [
      { category: "preference", scope: "user", text: "私はタブ派だ" }
    ])
    assert.deepStrictEqual(extract("记住我们用pnpm。"), [{ category: "fact", scope: "project", text: "我们用pnpm" }])
  })

  it("files an instruction under the project when it names the project, a path or a file", () => {
    const scopes = [
      "Always use double quotes.",
      "In this repo, never push to main.",
      "Never edit src/generated/schema.ts by hand.",
      "Always update CHANGELOG.md.",
      "Dans ce projet, utilise toujours pnpm.",
      "在这个项目里总是用pnpm。"
    ].map((m) => extract(m)[0]?.scope)
    assert.deepStrictEqual(scopes, ["user", "project", "project", "project", "project", "project"])
  })

  it("a transient state is not a project fact", () => {
    for (const message of ["Our CI is broken today.", "The repo is failing right now.", "我们的服务器坏了。"]) {
      assert.deepStrictEqual(extract(message), [], message)
    }
  })

  it("splits sentences on final marks followed by a space, and on CJK marks, not inside host names", () => {
    assert.deepStrictEqual(sentences("Use staging.example.com. Then v1.2! 好的。谢谢"), [
      "Use staging.example.com.",
      "Then v1.2!",
      "好的。",
      "谢谢"
    ])
  })

  it.prop("folding keeps the length, so offsets found in the folded text cut the original", [fc.string()], ([text]) => {
    const normal = text.normalize("NFKC")
    assert.strictEqual(fold(normal).length, normal.length)
  })

  it.prop(
    "every proposal is one line of the message's own words, without a final stop",
    [fc.array(fc.constantFrom(...examples.map(([m]) => m), ...negatives, "\n", " ", "```", "> "), { maxLength: 8 })],
    ([parts]) => {
      const message = parts.join(" ")
      for (const proposal of extract(message)) {
        assert.notMatch(proposal.text, /[\n\r]/)
        assert.notMatch(proposal.text, /[.!。！]$/u)
        assert.isAbove(proposal.text.length, 1)
        assert.include(fold(message.normalize("NFKC")).replace(/\s+/g, " "), fold(proposal.text).slice(1))
      }
    }
  )
})
