import { assert, describe, it } from "@effect/vitest"
import type { Envelope } from "@weft/kernel/Envelope"
import type { AnyEvent, MemoryCategory } from "@weft/kernel/Events"
import { MemoryWritten, ModelFailed } from "@weft/kernel/Events"
import * as Projection from "@weft/kernel/Projection"
import { Clock, Effect, Either, Schema, TestClock } from "effect"
import * as fc from "fast-check"
import * as Importance from "../src/Importance.js"
import * as Similarity from "../src/internal/Similarity.js"
import type { State } from "../src/WritableMemory.js"
import { compact, entries, get, lines, projection, rank, size } from "../src/WritableMemory.js"
import type { Step } from "./utils/MemoryLog.js"
import { DAY, forgotten, ids, iso, log, randomLog, recalled, said, started, T0, written } from "./utils/MemoryLog.js"

const fold = (envelopes: ReadonlyArray<Envelope>, from: State = projection.initial) =>
  Projection.fold(projection, envelopes, from)

const encode = Schema.encodeSync(projection.codec!)
const decode = Schema.decodeUnknownSync(projection.codec!)
/** Through the checkpoint: the codec's JSON, as a string and back. */
const checkpoint = (state: State): State => decode(JSON.parse(JSON.stringify(encode(state))))

const END = T0 + 10_000 * DAY
const NOW = T0 + 400 * DAY
const all = (state: State, now = NOW) => entries(state, { now, faded: true })

/** Fifteen ways to say one preference: wording, order, tense, instructions, four other languages. */
const paraphrases = [
  "I prefer pnpm over npm.",
  "I like pnpm better than npm.",
  "Please always use pnpm instead of npm.",
  "pnpm is my preference, not npm.",
  "I've always preferred pnpm to npm.",
  "I'd rather use pnpm than npm.",
  "From now on, use pnpm rather than npm.",
  "Never use npm, use pnpm.",
  "My preference is pnpm over npm.",
  "I prefer pnpm to npm for installing packages.",
  "Btw, I really prefer using pnpm, not npm!",
  "Je préfère pnpm à npm.",
  "Ich bevorzuge pnpm statt npm.",
  "我更喜欢pnpm而不是npm。",
  "npmよりpnpmの方が好きです。"
]

const different = [
  "I prefer tabs over spaces.",
  "I like dark mode.",
  "I prefer pnpm over npm.",
  "I hate trailing commas.",
  "I'd rather use vim than emacs.",
  "I love functional programming.",
  "I prefer TypeScript to JavaScript.",
  "I prefer short commit messages.",
  "I like British spelling.",
  "I prefer Postgres over MySQL.",
  "I dislike long meetings.",
  "I enjoy pair programming.",
  "I prefer small pull requests.",
  "I like verbose logs when debugging.",
  "I prefer Linux to macOS."
]

/** Each text said in a session of its own, a day apart. */
const sessions = (texts: ReadonlyArray<string>, project = "/p"): Array<Step> =>
  texts.flatMap((text, i) => [
    { event: started(project), sessionId: `s${i}`, after: DAY },
    { event: said(text), sessionId: `s${i}` }
  ])

describe("WritableMemory", () => {
  it("a user message proposes implicit entries: deterministic ids, scopes, the session's project", () => {
    const state = fold(log([started("/work/weft"), said("I prefer tabs over spaces. We use pnpm.")]))
    const got = all(state).map((e) => [e.memoryId, e.scope, e.project, e.kind, e.category, e.text, e.confirmations])
    assert.sameDeepMembers(got, [
      ["implicit-e2-0", "user", undefined, "implicit", "preference", "I prefer tabs over spaces", 1],
      ["implicit-e2-1", "project", "/work/weft", "implicit", "fact", "We use pnpm", 1]
    ])
    const entry = get(state, "implicit-e2-1")!
    assert.strictEqual(entry.createdAt, iso(T0 + 2 * 60_000))
    assert.strictEqual(entry.lastConfirmedAt, entry.createdAt)
  })

  it("a subagent's user messages are its parent's words, not the user's", () => {
    const state = fold(log([started("/p"), { event: said("I prefer tabs over spaces."), agentId: "main/1" }]))
    assert.strictEqual(size(state), 0)
  })

  it("fifteen paraphrases of one preference make one entry confirmed fifteen times", () => {
    const state = fold(log(sessions(paraphrases)))
    const got = all(state)
    assert.strictEqual(got.length, 1, got.map((e) => e.text).join(" | "))
    assert.strictEqual(got[0]!.confirmations, 15)
    assert.strictEqual(got[0]!.text, "npmよりpnpmの方が好きです")
  })

  it("fifteen different preferences stay fifteen entries", () => {
    const state = fold(log(sessions(different)))
    assert.strictEqual(all(state).length, 15)
    assert.isTrue(all(state).every((e) => e.confirmations === 1))
  })

  it("paraphrases merge only within one scope and project", () => {
    const state = fold(log([
      ...sessions(["We use pnpm for packages.", "We use pnpm for packages."], "/a"),
      ...sessions(["We use pnpm for packages."], "/b")
    ]))
    const got = all(state).map((e) => [e.project, e.confirmations])
    assert.sameDeepMembers(got, [["/a", 2], ["/b", 1]])
    const scoped = fold(
      log([started("/a"), said("Always use pnpm."), written("m1", "Always use pnpm", { scope: "project" })])
    )
    assert.sameDeepMembers(all(scoped).map((e) => e.scope), ["user", "project"])
  })

  it("a later statement on the same subject updates the entry to what was said last", () => {
    const state = fold(log([started("/p"), said("Always use double quotes."), said("Never use double quotes.")]))
    assert.deepStrictEqual(all(state).map((e) => [e.text, e.confirmations]), [["Never use double quotes", 2]])
  })

  it("an entry is confirmed at most once per message", () => {
    const state = fold(log([started("/p"), said("I prefer pnpm over npm. I really like pnpm better than npm!")]))
    assert.deepStrictEqual(all(state).map((e) => e.confirmations), [1])
  })

  it("an explicit write of a known implicit fact takes it over: explicit, under its id, the old id an alias", () => {
    const state = fold(
      log([started("/p"), said("I prefer tabs over spaces."), written("m1", "Prefers tabs to spaces")])
    )
    const [entry] = all(state)
    assert.strictEqual(entry!.memoryId, "m1")
    assert.strictEqual(entry!.kind, "explicit")
    assert.strictEqual(entry!.text, "Prefers tabs to spaces")
    assert.strictEqual(entry!.confirmations, 2)
    assert.deepStrictEqual(entry!.aliases, ["implicit-e2-0"])
    assert.strictEqual(get(state, "implicit-e2-0"), entry)
  })

  it("forgetting a merged entry by any of its ids removes it whole", () => {
    const steps = [started("/p"), said("I prefer tabs over spaces."), written("m1", "Prefers tabs to spaces")]
    for (const id of ["m1", "implicit-e2-0"]) {
      const state = fold(log([...steps, forgotten(id)]))
      assert.strictEqual(size(state), 0, id)
      assert.isUndefined(get(state, "m1"))
      assert.isUndefined(get(state, "implicit-e2-0"))
    }
  })

  it("a checkpoint keeps the aliases: forgetting by an old id after resuming still removes the entry", () => {
    const envelopes = log([started("/p"), said("I prefer tabs over spaces."), written("m1", "Prefers tabs to spaces")])
    const resumed = checkpoint(fold(envelopes))
    assert.strictEqual(get(resumed, "implicit-e2-0")?.memoryId, "m1")
    assert.strictEqual(size(fold(log([forgotten("implicit-e2-0")]), resumed)), 0)
  })

  it("an implicit statement confirms an explicit entry but never replaces its text", () => {
    const state = fold(
      log([started("/p"), written("m1", "Prefers tabs to spaces"), said("I prefer tabs over spaces.")])
    )
    assert.deepStrictEqual(all(state).map((e) => [e.memoryId, e.kind, e.text, e.confirmations]), [
      ["m1", "explicit", "Prefers tabs to spaces", 2]
    ])
  })

  it("a write under an existing id rewrites that entry", () => {
    const state = fold(log([
      started("/p"),
      written("m1", "Deploys go out on Fridays", { scope: "project" }),
      written("m1", "Deploys go out on Tuesdays", { scope: "project", expiresAt: iso(T0 + 90 * DAY) })
    ]))
    assert.deepStrictEqual(
      entries(state, { now: T0 + DAY }).map((e) => [e.memoryId, e.text, e.expiresAt, e.confirmations]),
      [
        ["m1", "Deploys go out on Tuesdays", iso(T0 + 90 * DAY), 2]
      ]
    )
  })

  it("a recall counts once per event, reaches an entry through its aliases, and ranks it higher", () => {
    const state = fold(log([
      started("/p"),
      written("m1", "Always run the linter before committing"),
      written("m2", "Always squash merge pull requests"),
      recalled("m2", "m2"),
      said("I prefer tabs over spaces."),
      written("m3", "Prefers tabs to spaces"),
      recalled("implicit-e5-0")
    ]))
    assert.strictEqual(get(state, "m2")!.recalls, 1)
    assert.strictEqual(get(state, "m3")!.recalls, 1)
    assert.strictEqual(get(state, "m1")!.recalls, 0)
    assert.strictEqual(get(state, "m3")!.lastRecalledAt, iso(T0 + 7 * 60_000))
    const order = entries(state, { now: T0 + 10 * DAY }).map((e) => e.memoryId)
    assert.isBelow(order.indexOf("m2"), order.indexOf("m1"))
  })

  it("ranks explicit above implicit, and instructions and facts above preferences", () => {
    const state = fold(log([
      started("/p"),
      said("I prefer tabs over spaces."),
      said("We use pnpm for packages."),
      written("m1", "Prefers dark mode", { category: "preference" }),
      written("m2", "Never force-push", { category: "instruction" })
    ]))
    assert.deepStrictEqual(entries(state, { now: T0 + DAY }).map((e) => e.memoryId), [
      "m2",
      "m1",
      "implicit-e3-0",
      "implicit-e2-0"
    ])
  })

  it("filters by scope and project, and limits", () => {
    const state = fold(log([
      { event: started("/a"), sessionId: "a" },
      { event: said("We use pnpm for packages. I prefer tabs over spaces."), sessionId: "a" },
      { event: started("/b"), sessionId: "b" },
      { event: said("We use yarn for packages."), sessionId: "b" },
      { event: written("m1", "Deploys from main", { scope: "project", project: "/c" }), sessionId: "b" }
    ]))
    const texts = (query: Parameters<typeof entries>[1]) => entries(state, query).map((e) => e.text).sort()
    const NOW = T0 + DAY
    assert.deepStrictEqual(texts({ now: NOW, project: "/a" }), [
      "I prefer tabs over spaces",
      "We use pnpm for packages"
    ])
    assert.deepStrictEqual(texts({ now: NOW, project: "/c", scope: "project" }), ["Deploys from main"])
    assert.deepStrictEqual(texts({ now: NOW, scope: "user" }), ["I prefer tabs over spaces"])
    assert.strictEqual(entries(state, { now: NOW }).length, 4)
    assert.strictEqual(entries(state, { now: NOW, limit: 2 }).length, 2)
  })

  it("a write's category is the one given, else what the extractor makes of it, else a note", () => {
    const state = fold(log([
      started("/p"),
      written("m1", "Ship it", { category: "instruction" }),
      written("m2", "We use Vitest for tests", { scope: "project" }),
      written("m3", "The office wifi password is on the fridge")
    ]))
    assert.deepStrictEqual(["m1", "m2", "m3"].map((id) => get(state, id)!.category), ["instruction", "fact", "note"])
  })

  it("an expired entry is never returned, a later statement starts anew, and compaction drops it", () => {
    const envelopes = log([
      started("/p"),
      written("m1", "Always use the staging database", { expiresAt: iso(T0 + 10 * DAY) }),
      { event: said("Always use the staging database."), after: 20 * DAY }
    ])
    const before = fold(envelopes.slice(0, 2))
    assert.deepStrictEqual(entries(before, { now: T0 + DAY }).map((e) => e.memoryId), ["m1"])
    assert.deepStrictEqual(entries(before, { now: T0 + 10 * DAY }), [])
    const state = fold(envelopes.slice(2), before)
    assert.deepStrictEqual(entries(state, { now: T0 + 21 * DAY }).map((e) => e.memoryId), ["implicit-e3-0"])
    assert.strictEqual(size(state), 2)
    assert.strictEqual(size(compact(state, T0 + 21 * DAY)), 1)
    assert.strictEqual(size(compact(state, T0 + DAY)), 2)
  })

  it("implicit entries decay away unless confirmed; explicit ones stay until forgotten", () => {
    const state = fold(log([started("/p"), said("I prefer tabs over spaces."), written("m1", "Prefers dark mode")]))
    const later = T0 + 365 * DAY
    assert.deepStrictEqual(entries(state, { now: later }).map((e) => e.memoryId), ["m1"])
    assert.strictEqual(entries(state, { now: later, faded: true }).length, 2)
    const confirmed = fold(log([
      started("/p"),
      said("I prefer tabs over spaces."),
      { event: said("I like tabs better than spaces."), after: 300 * DAY }
    ]))
    assert.strictEqual(entries(confirmed, { now: later }).length, 1)
  })

  it.effect("TTL holds under TestClock: an entry disappears when the clock passes its expiresAt", () =>
    Effect.gen(function*() {
      const state = fold(log([started("/p"), written("m1", "Use the staging database", { expiresAt: iso(T0 + DAY) })]))
      yield* TestClock.setTime(T0 + 60 * 60_000)
      const now = () => Clock.currentTimeMillis.pipe(Effect.map((now) => entries(state, { now }).length))
      assert.strictEqual(yield* now(), 1)
      yield* TestClock.adjust("1 day")
      assert.strictEqual(yield* now(), 0)
    }))

  it("a write without a project is the project of its session", () => {
    const state = fold(log([started("/p"), written("m1", "Deploys from main", { scope: "project" })]))
    assert.strictEqual(get(state, "m1")!.project, "/p")
  })

  it("folds only the events it handles", () => {
    const envelopes = log([
      started("/p"),
      new ModelFailed({ requestId: "r", attempt: 1, error: { type: "x", message: "boom" }, retryable: false }),
      said("We use pnpm.")
    ])
    assert.deepStrictEqual(encode(fold(envelopes)), encode(fold([envelopes[0]!, envelopes[2]!])))
  })

  it("renders one line per live entry, most important first", () => {
    const state = fold(log([started("/p"), said("We use pnpm."), written("m1", "Never force-push")]))
    const rendered = lines(state)
    assert.strictEqual(rendered.length, 2)
    assert.match(rendered[0]!, /^m1 {2}user {2}explicit instruction {2}1\.00 {2}Never force-push$/)
    assert.match(rendered[1]!, /^implicit-e2-0 {2}project \/p {2}implicit fact/)
    assert.deepStrictEqual(lines(projection.initial), ["No memories."])
  })

  it("a checkpoint that is not a memory state does not decode", () => {
    const decodeEither = Schema.decodeUnknownEither(projection.codec!)
    assert.isTrue(Either.isLeft(decodeEither({ entries: {} })))
    assert.isTrue(Either.isLeft(decodeEither({ latest: "", sessions: {}, entries: [{ memoryId: "m" }] })))
    assert.isTrue(Either.isRight(decodeEither(encode(fold(log([started("/p"), said("We use pnpm.")]))))))
  })

  it("the similarity merges the paraphrases and keeps the different preferences apart", () => {
    const terms = paraphrases.map(Similarity.terms)
    for (const t of terms) assert.isTrue(Similarity.same(t, terms[0]!), t.join(" "))
    const others = different.map(Similarity.terms)
    for (let i = 0; i < others.length; i++) {
      for (let j = i + 1; j < others.length; j++) assert.isFalse(Similarity.same(others[i]!, others[j]!), `${i} ${j}`)
    }
  })

  describe("properties", () => {
    it.prop("folding from a checkpoint at any point equals folding all", [randomLog, fc.nat()], ([envelopes, cut]) => {
      const at = envelopes.length === 0 ? 0 : cut % (envelopes.length + 1)
      const whole = fold(envelopes)
      const resumed = fold(envelopes.slice(at), checkpoint(fold(envelopes.slice(0, at))))
      assert.deepStrictEqual(encode(resumed), encode(whole))
      assert.deepStrictEqual(all(resumed, END), all(whole, END))
      for (const id of ids) assert.deepStrictEqual(get(resumed, id), get(whole, id), id)
    })

    it.prop("the term index kept while folding is the one rebuilt from the entries", [randomLog], ([envelopes]) => {
      const flat = (state: State) =>
        Array.from(state.index).map(([key, ids]) => `${key} ${Array.from(ids).sort().join(",")}`).sort()
      const state = fold(envelopes)
      assert.deepStrictEqual(flat(state), flat(checkpoint(state)))
    })

    it.prop("a forgotten id never appears in entries", [randomLog, fc.constantFrom(...ids)], ([envelopes, id]) => {
      const before = fold(envelopes)
      const target = get(before, id)
      const forget: Envelope = {
        seq: 1_000,
        id: "forget",
        parentId: null,
        sessionId: "s1",
        agentId: "main",
        at: iso(END),
        event: forgotten(id)
      }
      const state = fold([forget], before)
      for (const now of [T0, NOW, END]) {
        for (const { entry } of rank(state, { now, faded: true })) {
          assert.notStrictEqual(entry.memoryId, id)
          assert.notInclude(entry.aliases, id)
          if (target !== undefined) assert.notStrictEqual(entry.memoryId, target.memoryId)
        }
      }
      assert.isUndefined(get(state, id))
    })

    it.prop(
      "an expired entry is never returned",
      [randomLog, fc.integer({ min: 0, max: 2000 })],
      ([envelopes, days]) => {
        const now = T0 + days * DAY
        for (const entry of entries(fold(envelopes), { now, faded: true })) {
          if (entry.expiresAt !== undefined) assert.isAbove(Date.parse(entry.expiresAt), now)
        }
      }
    )
  })
})

describe("WritableMemory: implicit entries from the memory pass", () => {
  /** What the memory pass records for a statement it read in the user message of event `source`. */
  const proposed = (memoryId: string, text: string, source: string, category: MemoryCategory = "preference") =>
    new MemoryWritten({ memoryId, scope: "user", kind: "implicit", text, category, source })

  it("start less important than the same statement written explicitly, and decay away where an explicit entry stays", () => {
    const implicit = fold(
      log([started("/p"), said("hello"), proposed("m1", "The user prefers tabs over spaces", "e2")])
    )
    const explicit = fold(log([
      started("/p"),
      said("hello"),
      written("m1", "The user prefers tabs over spaces", {
        category: "preference"
      })
    ]))
    const at = T0 + DAY
    const [a] = rank(implicit, { now: at })
    const [b] = rank(explicit, { now: at })
    assert.deepStrictEqual([a!.entry.kind, b!.entry.kind], ["implicit", "explicit"])
    assert.isBelow(a!.importance, b!.importance)
    // A year on, the implicit entry has faded; the explicit one has not.
    assert.deepStrictEqual(entries(implicit, { now: T0 + 365 * DAY }), [])
    assert.strictEqual(entries(explicit, { now: T0 + 365 * DAY }).length, 1)
  })

  it("merge with paraphrases as rule-found entries do, once per user message, and are promoted when confirmed again", () => {
    const state = (steps: ReadonlyArray<AnyEvent>) => fold(log([started("/p"), ...steps]))
    // e2: the rules find the preference; the pass reading e2 proposes a paraphrase — one statement, not two.
    const once = state([said("I prefer tabs over spaces."), proposed("m1", "The user prefers tabs over spaces", "e2")])
    assert.deepStrictEqual(all(once).map((e) => [e.memoryId, e.kind, e.confirmations]), [[
      "implicit-e2-0",
      "implicit",
      1
    ]])
    // e4: a question the rules pass over; the pass reading it finds the preference again: a confirmation.
    const twice = state([
      said("I prefer tabs over spaces."),
      proposed("m1", "The user prefers tabs over spaces", "e2"),
      said("Can you reindent this file?"),
      proposed("m2", "User prefers tabs over spaces", "e4"),
      proposed("m3", "The user prefers tabs, not spaces", "e4")
    ])
    assert.deepStrictEqual(all(twice).map((e) => [e.memoryId, e.confirmations, e.aliases]), [["implicit-e2-0", 2, []]])
    // A third message stating it promotes it: it weighs as an explicit entry.
    const thrice = state([
      said("I prefer tabs over spaces."),
      said("Can you reindent this file?"),
      proposed("m2", "User prefers tabs over spaces", "e3"),
      said("Tabs, not spaces, remember?"),
      proposed("m3", "The user prefers tabs over spaces", "e5")
    ])
    const [entry] = all(thrice)
    assert.strictEqual(entry!.confirmations, 3)
    assert.isTrue(Importance.promoted(entry!))
    // Through a checkpoint, the message that last stated it is kept: the same message does not confirm it again.
    const resumed = fold(log([proposed("m4", "The user prefers tabs over spaces", "e5")]), checkpoint(thrice))
    assert.strictEqual(all(resumed)[0]!.confirmations, 3)
  })
})
