import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fc from "fast-check"
import * as RetrievalSet from "../src/testing/RetrievalSet.js"

const fixture = RetrievalSet.load(RetrievalSet.path).pipe(Effect.provide(NodeFileSystem.layer))

/** The error of `load` on a file holding `text`; a set that loads fails the test. */
const loadText = (text: string) =>
  RetrievalSet.load("/sets/bad.json").pipe(
    Effect.provide(FileSystem.layerNoop({ readFileString: () => Effect.succeed(text) })),
    Effect.match({
      onFailure: (error) => error,
      onSuccess: () => assert.fail("expected load to reject the set")
    })
  )

const turn = (id: string, text = `text of ${id}`) => ({
  id,
  sessionId: id.slice(0, id.indexOf("-")),
  project: "/home/ana/billing-api",
  role: "user",
  at: "2026-09-14T10:22:00Z",
  text
})

const small = {
  version: 1,
  turns: [turn("s01-t01"), turn("s01-t02"), turn("s02-t01"), turn("s02-t02")],
  questions: [
    { id: "q001", question: "one?", answers: ["s01-t01"], kind: "lexical", language: "en" },
    { id: "q002", question: "two?", answers: ["s01-t02", "s02-t01"], kind: "multi-session", language: "en" },
    { id: "q003", question: "trois ?", answers: ["s02-t02"], kind: "other-language", language: "fr" }
  ]
}

const smallSet = Schema.decodeUnknownSync(RetrievalSet.RetrievalSet)(small)

/** Answers keyed by question text, for oracle-like retrievers. */
const answersOf = (set: RetrievalSet.RetrievalSet) =>
  new Map(set.questions.map((question) => [question.question, question.answers]))

/** Sessions an answer list spans. */
const sessionsOf = (set: RetrievalSet.RetrievalSet, answers: ReadonlyArray<string>) => {
  const sessionOf = new Map(set.turns.map((t) => [t.id, t.sessionId]))
  return new Set(answers.map((answer) => sessionOf.get(answer)))
}

/** Lower-cased words split on white space, so that a path or an identifier stays one word. */
const words = (text: string) =>
  text.toLowerCase().split(/\s+/).map((word) => word.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "")).filter(
    (word) => word !== ""
  )

describe("RetrievalSet fixture", () => {
  it.effect("the fixture at RetrievalSet.path decodes", () =>
    Effect.gen(function*() {
      const set = yield* fixture
      assert.strictEqual(set.version, 1)
    }))

  it.effect("turn ids, question ids and question texts are unique, and every answer names an existing turn", () =>
    Effect.gen(function*() {
      const set = yield* fixture
      const turnIds = new Set(set.turns.map((t) => t.id))
      assert.strictEqual(turnIds.size, set.turns.length)
      assert.strictEqual(new Set(set.questions.map((q) => q.id)).size, set.questions.length)
      assert.strictEqual(new Set(set.questions.map((q) => q.question)).size, set.questions.length)
      for (const question of set.questions) {
        for (const answer of question.answers) assert.isTrue(turnIds.has(answer), `${question.id}: ${answer}`)
      }
    }))

  it.effect("is large and varied enough: 300+ turns, 100+ questions, 10+ other-language, 15+ multi-session", () =>
    Effect.gen(function*() {
      const set = yield* fixture
      assert.isAtLeast(set.turns.length, 300)
      assert.isAtLeast(set.questions.length, 100)
      assert.isAtLeast(set.questions.filter((q) => q.kind === "other-language").length, 10)
      const multi = set.questions.filter((q) => q.kind === "multi-session")
      assert.isAtLeast(multi.length, 15)
      for (const question of multi) assert.isAtLeast(sessionsOf(set, question.answers).size, 2, question.id)
      assert.isAtLeast(new Set(set.turns.map((t) => t.sessionId)).size, 25)
      assert.isAtLeast(new Set(set.turns.map((t) => t.project)).size, 3)
      assert.isAtLeast(new Set(set.questions.map((q) => q.language)).size, 4)
      for (const kind of RetrievalSet.kinds) {
        assert.isAtLeast(set.questions.filter((q) => q.kind === kind).length, 10, kind)
      }
    }))

  it.effect("no question quotes its evidence: no run of six words is shared with an answer turn", () =>
    Effect.gen(function*() {
      const set = yield* fixture
      const textOf = new Map(set.turns.map((t) => [t.id, ` ${words(t.text).join(" ")} `]))
      const quotes: Array<string> = []
      for (const question of set.questions) {
        const w = words(question.question)
        for (let i = 0; i + 6 <= w.length; i++) {
          const run = ` ${w.slice(i, i + 6).join(" ")} `
          for (const answer of question.answers) {
            if (textOf.get(answer)!.includes(run)) quotes.push(`${question.id} quotes ${answer}:${run}`)
          }
        }
      }
      assert.deepStrictEqual(quotes, [])
    }))
})

describe("RetrievalSet.load", () => {
  it.effect("fails on malformed JSON with an error naming the file", () =>
    Effect.gen(function*() {
      const error = yield* loadText("{ \"version\": 1,")
      assert.strictEqual(error._tag, "RetrievalSetError")
      assert.strictEqual(error.path, "/sets/bad.json")
      assert.include(error.message, "/sets/bad.json")
    }))

  it.effect("fails when the file cannot be read, naming it", () =>
    Effect.gen(function*() {
      const error = yield* RetrievalSet.load("/does/not/exist.json").pipe(
        Effect.provide(NodeFileSystem.layer),
        Effect.match({ onFailure: (error) => error, onSuccess: () => assert.fail("expected load to fail") })
      )
      assert.strictEqual(error.path, "/does/not/exist.json")
      assert.include(error.reason, "cannot be read")
    }))

  it.effect("rejects an answer that names no turn or is listed twice, pointing at it", () =>
    Effect.gen(function*() {
      const bad = { ...small, questions: [{ ...small.questions[0]!, answers: ["s09-t09"] }] }
      const error = yield* loadText(JSON.stringify(bad))
      assert.include(error.reason, "questions[0].answers[0]")
      assert.include(error.reason, "unknown turn s09-t09")
      const twice = { ...small, questions: [{ ...small.questions[0]!, answers: ["s01-t01", "s01-t01"] }] }
      assert.include(
        (yield* loadText(JSON.stringify(twice))).reason,
        "questions[0].answers[1]: q001 lists s01-t01 twice"
      )
    }))

  it.effect("rejects duplicate turn ids and a turn filed under another session", () =>
    Effect.gen(function*() {
      const duplicate = yield* loadText(JSON.stringify({ ...small, turns: [...small.turns, turn("s01-t01")] }))
      assert.include(duplicate.reason, "duplicate turn id s01-t01")
      const misfiled = yield* loadText(JSON.stringify({ ...small, turns: [{ ...turn("s01-t01"), sessionId: "s02" }] }))
      assert.include(misfiled.reason, "does not belong to session s02")
    }))

  it.effect("rejects a multi-session question whose answers are all in one session", () =>
    Effect.gen(function*() {
      const bad = { ...small, questions: [{ ...small.questions[1]!, answers: ["s01-t01", "s01-t02"] }] }
      const error = yield* loadText(JSON.stringify(bad))
      assert.include(error.reason, "multi-session")
    }))

  it.effect("rejects an unknown kind, a time without a zone and a day the calendar lacks", () =>
    Effect.gen(function*() {
      const kind = yield* loadText(
        JSON.stringify({ ...small, questions: [{ ...small.questions[0]!, kind: "trivia" }] })
      )
      assert.include(kind.reason, "questions[0].kind")
      const at = yield* loadText(JSON.stringify({ ...small, turns: [{ ...turn("s01-t01"), at: "2026-09-14 10:22" }] }))
      assert.include(at.reason, "turns[0].at")
      const day = yield* loadText(
        JSON.stringify({ ...small, turns: [{ ...turn("s01-t01"), at: "2026-02-30T10:22:00Z" }] })
      )
      assert.include(day.reason, "turns[0].at: not a valid date")
    }))
})

describe("RetrievalSet.recall", () => {
  it.effect("an oracle retriever scores 1, an empty one 0, and one answering every other question in between", () =>
    Effect.gen(function*() {
      const set = yield* fixture
      const answers = answersOf(set)
      const oracle = RetrievalSet.recall(set, (question) => answers.get(question) ?? [], 10)
      assert.strictEqual(oracle.overall, 1)
      for (const kind of RetrievalSet.kinds) assert.strictEqual(oracle.byKind[kind], 1)
      const empty = RetrievalSet.recall(set, () => [], 10)
      assert.strictEqual(empty.overall, 0)
      for (const kind of RetrievalSet.kinds) assert.strictEqual(empty.byKind[kind], 0)
      const even = new Set(set.questions.filter((_, i) => i % 2 === 0).map((q) => q.question))
      const half = RetrievalSet.recall(set, (question) => even.has(question) ? answers.get(question)! : [], 10)
      assert.strictEqual(half.overall, even.size / set.questions.length)
      assert.isAbove(half.overall, 0)
      assert.isBelow(half.overall, 1)
    }))

  it("counts the share of a question's answers found, and only within the first k", () => {
    const ranking = new Map<string, ReadonlyArray<string>>([
      ["one?", ["s02-t02", "s01-t01"]],
      ["two?", ["s02-t01", "s01-t01", "s01-t01"]],
      ["trois ?", ["s01-t01", "s01-t02", "s02-t01", "s02-t02"]]
    ])
    const retrieve = (question: string) => ranking.get(question)!
    const at1 = RetrievalSet.recall(smallSet, retrieve, 1)
    assert.deepStrictEqual(at1.byKind, { "lexical": 0, "multi-session": 0.5, "other-language": 0 })
    assert.strictEqual(at1.overall, 0.5 / 3)
    const at2 = RetrievalSet.recall(smallSet, retrieve, 2)
    assert.deepStrictEqual(at2.byKind, { "lexical": 1, "multi-session": 0.5, "other-language": 0 })
    assert.strictEqual(at2.overall, 1.5 / 3)
    assert.notProperty(RetrievalSet.recall(smallSet, retrieve, 2).byKind, "paraphrase")
  })

  it.prop(
    "recall lies in [0, 1] and never decreases as k grows",
    [
      fc.array(fc.array(fc.constantFrom(...smallSet.turns.map((t) => t.id)), { maxLength: 6 }), {
        minLength: 3,
        maxLength: 3
      }),
      fc.nat(6)
    ],
    ([rankings, k]) => {
      const byQuestion = new Map(smallSet.questions.map((q, i) => [q.question, rankings[i]!]))
      const retrieve = (question: string) => byQuestion.get(question)!
      const at = RetrievalSet.recall(smallSet, retrieve, k)
      const next = RetrievalSet.recall(smallSet, retrieve, k + 1)
      assert.isAtLeast(at.overall, 0)
      assert.isAtMost(at.overall, 1)
      assert.isAtMost(at.overall, next.overall)
    }
  )

  it.effect("recallEffect agrees with recall", () =>
    Effect.gen(function*() {
      const set = yield* fixture
      const firstTurns = (question: string) =>
        set.turns.slice(question.length % 50, question.length % 50 + 10).map((t) => t.id)
      const effectful = yield* RetrievalSet.recallEffect(set, (question) => Effect.succeed(firstTurns(question)), 10)
      assert.deepStrictEqual(effectful, RetrievalSet.recall(set, firstTurns, 10))
    }))
})

describe("RetrievalSet.report", () => {
  it("prints one aligned line per retriever with recall@5, recall@10 and recall@10 by kind", () => {
    const answers = answersOf(smallSet)
    const oracle = (question: string) => answers.get(question)!
    const none = () => []
    const text = RetrievalSet.report([
      {
        name: "oracle",
        at5: RetrievalSet.recall(smallSet, oracle, 5),
        at10: RetrievalSet.recall(smallSet, oracle, 10)
      },
      {
        name: "nothing at all",
        at5: RetrievalSet.recall(smallSet, none, 5),
        at10: RetrievalSet.recall(smallSet, none, 10)
      }
    ])
    const lines = text.split("\n")
    assert.strictEqual(lines.length, 3)
    assert.match(lines[0]!, /^retriever\s+recall@5\s+recall@10\s+lexical@10\s+other-language@10\s+multi-session@10$/)
    assert.match(lines[1]!, /^oracle\s+1\.000\s+1\.000\s+1\.000\s+1\.000\s+1\.000$/)
    assert.match(lines[2]!, /^nothing at all\s+0\.000\s+0\.000\s+0\.000\s+0\.000\s+0\.000$/)
    // Aligned: every column ends at the same offset on every line.
    assert.strictEqual(new Set(lines.map((line) => line.length)).size, 1)
    assert.strictEqual(lines[1]!.indexOf("1.000"), lines[2]!.indexOf("0.000"))
    assert.notInclude(text, "paraphrase")
  })
})
