import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { fold, tokenize } from "../src/Tokenizer.js"

describe("Tokenizer", () => {
  it("folds case and accents so that café, CAFÉ and cafe are one term", () => {
    assert.deepStrictEqual(tokenize("Café CAFÉ cafe"), ["cafe", "cafe", "cafe"])
    assert.deepStrictEqual(tokenize("Ærøskøbing naïve Zürich"), ["ærøskøbing", "naive", "zurich"])
  })

  it("splits on punctuation and keeps numbers and apostrophes inside words", () => {
    assert.deepStrictEqual(tokenize("don't re-run test_42, please!"), ["dont", "re", "run", "test", "42", "please"])
  })

  it("splits CJK runs into characters and overlapping bigrams", () => {
    assert.deepStrictEqual(tokenize("東京都"), ["東", "東京", "京", "京都", "都"])
    assert.deepStrictEqual(tokenize("我喜欢weft工具"), ["我", "我喜", "喜", "喜欢", "欢", "weft", "工", "工具", "具"])
  })

  it("handles Japanese kana and Korean hangul as CJK", () => {
    assert.deepStrictEqual(tokenize("テスト"), ["テ", "テス", "ス", "スト", "ト"])
    assert.deepStrictEqual(tokenize("한국어"), ["한", "한국", "국", "국어", "어"])
  })

  it.prop("every term is already folded and holds no white space", [fc.string()], ([text]) => {
    for (const term of tokenize(text)) {
      assert.strictEqual(fold(term), term)
      assert.notMatch(term, /\s/)
    }
  })
})
