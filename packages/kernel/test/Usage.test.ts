import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import * as fc from "fast-check"
import { Buffer } from "node:buffer"
import type { Envelope } from "../src/Envelope.js"
import { ContextCompacted, ModelResponded, UserMessageReceived } from "../src/Events.js"
import * as Pricing from "../src/Pricing.js"
import * as Projection from "../src/Projection.js"
import * as Usage from "../src/projections/Usage.js"
import * as Recorded from "./projections/Recorded.js"

interface Line {
  readonly messageId?: string | undefined
  readonly requestId?: string
  readonly model?: string
  readonly at?: string
  readonly sessionId?: string
  readonly agentId?: string
  readonly seq?: number
  readonly id?: string
  readonly input?: number
  readonly output?: number
  readonly cacheWrite?: number
  readonly cacheRead?: number
}

let seq = 0
/** A `ModelResponded` envelope: a line of a response, as a source gives it. */
const responded = (line: Line): Envelope => {
  const n = line.seq ?? ++seq
  return {
    seq: n,
    id: line.id ?? `id-${n}`,
    parentId: null,
    sessionId: line.sessionId ?? "s1",
    agentId: line.agentId ?? "main",
    at: line.at ?? "2025-08-01T10:00:00.000Z",
    event: new ModelResponded({
      requestId: line.requestId ?? "req_1",
      ...(line.messageId === undefined ? {} : { messageId: line.messageId }),
      model: line.model ?? "claude-sonnet-4-5-20250929",
      content: [],
      usage: {
        input_tokens: line.input ?? 0,
        output_tokens: line.output ?? 0,
        cache_creation_input_tokens: line.cacheWrite ?? 0,
        cache_read_input_tokens: line.cacheRead ?? 0
      },
      stopReason: null
    })
  }
}

const fold = (envelopes: ReadonlyArray<Envelope>) => Projection.fold(Usage.projection, envelopes)
const sorted = (state: Usage.State) => Usage.entries(state).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
const totalTokens = (state: Usage.State) => Usage.report(state, { by: "day" }).totals.totalTokens
/** The state's checkpoint, as JSON text would give it back. */
const checkpointOf = (state: Usage.State): Record<string, any> =>
  JSON.parse(JSON.stringify(Schema.encodeSync(Usage.codec)(state)))
const decode = (json: unknown) => Schema.decodeUnknownSync(Usage.codec)(json)
/** What the state's checkpoint decodes to. */
const checkpointed = (state: Usage.State) => sorted(decode(checkpointOf(state)))

describe("usage: what is counted (ccusage's rules)", () => {
  it("a response streamed three times with growing output counts once, with its largest line", () => {
    const state = fold([
      responded({ messageId: "msg_a", requestId: "req_a", input: 10, output: 1, at: "2025-08-01T10:00:00.000Z" }),
      responded({ messageId: "msg_a", requestId: "req_a", input: 10, output: 40, at: "2025-08-01T10:00:01.000Z" }),
      responded({ messageId: "msg_a", requestId: "req_a", input: 10, output: 25, at: "2025-08-01T10:00:02.000Z" })
    ])
    assert.strictEqual(Usage.size(state), 1)
    const [entry] = Usage.entries(state)
    assert.strictEqual(entry!.output, 40)
    // The kept line's own time: the largest line, not the first or the last.
    assert.strictEqual(entry!.at, "2025-08-01T10:00:01.000Z")
    assert.strictEqual(totalTokens(state), 50)
  })

  it("the same message id under two request ids counts twice", () => {
    const state = fold([
      responded({ messageId: "msg_a", requestId: "req_1", output: 5 }),
      responded({ messageId: "msg_a", requestId: "req_2", output: 7 })
    ])
    assert.strictEqual(Usage.size(state), 2)
    assert.strictEqual(totalTokens(state), 12)
  })

  it("without a request id, the message id alone is the key", () => {
    const state = fold([
      responded({ messageId: "msg_a", requestId: "", output: 5 }),
      responded({ messageId: "msg_a", requestId: "", output: 9 }),
      responded({ messageId: "msg_b", requestId: "", output: 1 })
    ])
    assert.deepStrictEqual(sorted(state).map((e) => [e.key, e.output]), [["msg_a", 9], ["msg_b", 1]])
  })

  it("a response without a message id counts every time, even from the same request", () => {
    const state = fold([
      responded({ requestId: "req_1", output: 5 }),
      responded({ requestId: "req_1", output: 5 }),
      responded({ requestId: "", output: 5 })
    ])
    assert.strictEqual(Usage.size(state), 3)
    assert.strictEqual(totalTokens(state), 15)
  })

  it("of two lines with as many tokens, the first stays (its model and time)", () => {
    const state = fold([
      responded({ messageId: "m", requestId: "r", input: 3, output: 7, model: "claude-opus-4-1" }),
      responded({ messageId: "m", requestId: "r", input: 7, output: 3, model: "claude-haiku-4-5" })
    ])
    const [entry] = Usage.entries(state)
    assert.strictEqual(entry!.model, "claude-opus-4-1")
    assert.strictEqual(entry!.input, 3)
  })

  it("the larger line wins by all its tokens, cache reads included, not by output alone", () => {
    const state = fold([
      responded({ messageId: "m", requestId: "r", output: 10, cacheRead: 100 }),
      responded({ messageId: "m", requestId: "r", output: 20, cacheRead: 0 })
    ])
    assert.strictEqual(Usage.entries(state)[0]!.cacheRead, 100)
  })

  it("a compaction's summary request counts; other events do not", () => {
    const state = fold([
      {
        ...responded({}),
        event: new ContextCompacted({
          fromSeq: 1,
          toSeq: 4,
          summary: [{ type: "text", text: "so far" }],
          usage: { input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
          requestId: "req_c",
          model: "claude-haiku-4-5"
        })
      },
      { ...responded({}), event: new UserMessageReceived({ content: [{ type: "text", text: "hi" }] }) }
    ])
    assert.deepStrictEqual(Usage.entries(state).map((e) => [e.model, e.input, e.output]), [[
      "claude-haiku-4-5",
      100,
      20
    ]])
  })
})

/** Lines of a few responses with few ids, so that keys collide often. */
const line = fc.record({
  messageId: fc.option(fc.constantFrom("m1", "m2", "m3", "m4"), { nil: undefined }),
  requestId: fc.constantFrom("", "r1", "r2"),
  model: fc.constantFrom("claude-sonnet-4-5", "claude-opus-4-1", "mystery-model"),
  at: fc.constantFrom("2025-08-01T10:00:00.000Z", "2025-08-01T23:30:00.000Z", "2025-08-02T03:00:00.000Z"),
  sessionId: fc.constantFrom("s1", "s2"),
  agentId: fc.constantFrom("main", "main/1"),
  input: fc.nat({ max: 50 }),
  output: fc.nat({ max: 50 }),
  cacheWrite: fc.nat({ max: 5 }),
  cacheRead: fc.nat({ max: 5 })
}).map((fields) => ({ ...fields, id: `line-${++seq}`, seq: ++seq }))
const lines = fc.array(line.map(responded), { maxLength: 40 })

describe("usage: the state", () => {
  it("merging the folds of the two parts of a log, cut anywhere, is the fold of it all", () => {
    fc.assert(fc.property(lines, fc.nat(), (envelopes, at) => {
      const cut = at % (envelopes.length + 1)
      const merged = Usage.merge(fold(envelopes.slice(0, cut)), fold(envelopes.slice(cut)))
      assert.deepStrictEqual(sorted(merged), sorted(fold(envelopes)))
    }))
  })

  it("merge keeps the largest line of a response whichever part held it, the earlier part's on a tie", () => {
    const a = fold([responded({ messageId: "m", requestId: "r", output: 10, model: "claude-opus-4-1" })])
    const b = fold([responded({ messageId: "m", requestId: "r", output: 30, model: "claude-haiku-4-5" })])
    const c = fold([responded({ messageId: "m", requestId: "r", output: 10, model: "claude-haiku-4-5" })])
    assert.strictEqual(Usage.entries(Usage.merge(a, b))[0]!.output, 30)
    assert.strictEqual(Usage.entries(Usage.merge(b, a))[0]!.output, 30)
    assert.strictEqual(Usage.entries(Usage.merge(a, c))[0]!.model, "claude-opus-4-1")
  })

  it("a state stays what it was when folding goes on from it, or from an older state, or branches", () => {
    fc.assert(fc.property(lines, lines, lines, (start, left, right) => {
      const base = fold(start)
      const before = sorted(base)
      const one = Projection.fold(Usage.projection, left, base)
      // Branching from `base` again: it no longer is the latest state of its store.
      const two = Projection.fold(Usage.projection, right, base)
      assert.deepStrictEqual(sorted(base), before)
      assert.deepStrictEqual(sorted(one), sorted(fold([...start, ...left])))
      assert.deepStrictEqual(sorted(two), sorted(fold([...start, ...right])))
      // And the initial state is never touched.
      assert.strictEqual(Usage.size(Usage.projection.initial), 0)
    }))
  })

  it("a state decoded from a checkpoint or merged stays what it was when folding goes on from it, or branches", () => {
    fc.assert(fc.property(lines, lines, lines, lines, (start, middle, left, right) => {
      const decoded = decode(checkpointOf(fold(start)))
      for (const base of [decoded, Usage.merge(fold(start), fold(middle))]) {
        const history = base === decoded ? start : [...start, ...middle]
        const before = sorted(base)
        const one = Projection.fold(Usage.projection, left, base)
        const two = Projection.fold(Usage.projection, right, base)
        // A state in the middle of a fold: older than the latest of its store.
        const half = Projection.fold(Usage.projection, left.slice(0, left.length >> 1), base)
        const three = Projection.fold(Usage.projection, right, half)
        assert.deepStrictEqual(sorted(base), before)
        assert.deepStrictEqual(sorted(one), sorted(fold([...history, ...left])))
        assert.deepStrictEqual(sorted(two), sorted(fold([...history, ...right])))
        assert.deepStrictEqual(sorted(three), sorted(fold([...history, ...left.slice(0, left.length >> 1), ...right])))
        for (
          const [state, folded] of [[base, history], [half, [...history, ...left.slice(0, left.length >> 1)]]] as const
        ) {
          assert.strictEqual(Usage.size(state), Usage.size(fold(folded)))
          // What it writes, an overlay over the checkpoint's base or one new base, holds the fold's entries.
          assert.deepStrictEqual(checkpointed(state), sorted(fold(folded)))
        }
      }
    }))
  })

  it("the codec round-trips any state through JSON", () => {
    fc.assert(fc.property(lines, (envelopes) => {
      const state = fold(envelopes)
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(Usage.codec)(state)))
      const back = Schema.decodeUnknownSync(Usage.codec)(json)
      assert.deepStrictEqual(sorted(back), sorted(state))
      // Folding on from the decoded state ends where folding straight through does.
      const more = [responded({ messageId: "m1", requestId: "r1", output: 1000 })]
      assert.deepStrictEqual(
        sorted(Projection.fold(Usage.projection, more, back)),
        sorted(fold([...envelopes, ...more]))
      )
    }))
  })

  it("the codec round-trips any entries exactly, whatever their instants and strings", () => {
    const entry: fc.Arbitrary<Usage.Entry> = fc.record({
      key: fc.fullUnicodeString(),
      at: fc.oneof(
        fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
        fc.constantFrom("2025-08-01T10:00:00Z", "2025-08-01T10:00:00.000+02:00", "", "not a date"),
        fc.fullUnicodeString()
      ),
      model: fc.constantFrom("", "claude-sonnet-4-5-20250929", "<synthetic>"),
      sessionId: fc.constantFrom("s1", "s2", "é"),
      agentId: fc.constantFrom("main", "a1"),
      input: fc.nat(),
      output: fc.nat(),
      cacheWrite: fc.nat(),
      cacheRead: fc.nat()
    })
    fc.assert(fc.property(fc.uniqueArray(entry, { selector: (e) => e.key }), (entries) => {
      const state = Usage.fromEntries(entries)
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(Usage.codec)(state)))
      const back = Schema.decodeUnknownSync(Usage.codec)(json)
      const byKey = (xs: Array<Usage.Entry>) => xs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      assert.deepStrictEqual(byKey(Usage.entries(back)), byKey(Usage.entries(state)))
    }))
  })

  it("a checkpoint that is not a usage state does not decode", () => {
    assert.throws(() => Schema.decodeUnknownSync(Usage.codec)({ entries: [["k", "t"]] }))
    assert.throws(() => Schema.decodeUnknownSync(Usage.codec)({ other: [] }))
    const entry = (key: string, model: string): Usage.Entry => ({
      key,
      at: "2025-08-01T10:00:00.000Z",
      model,
      sessionId: "s1",
      agentId: "main",
      input: 1,
      output: 2,
      cacheWrite: 3,
      cacheRead: 4
    })
    const good = Schema.encodeSync(Usage.codec)(
      Usage.fromEntries([entry("m1:r1", "claude-sonnet-4-5"), entry("m2:r2", "claude-opus-4-1")])
    ) as Record<string, unknown>
    assert.deepStrictEqual(Schema.decodeUnknownSync(Usage.codec)(good), Schema.decodeUnknownSync(Usage.codec)(good))
    assert.doesNotThrow(() => Schema.decodeUnknownSync(Usage.codec)(good))
    const base64 = (array: Uint8Array | Float64Array) =>
      Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString("base64")
    const broken: ReadonlyArray<Record<string, unknown>> = [
      { ...good, size: 3 }, // columns of another size
      { ...good, size: -1 },
      { ...good, keys: ["m1:r1", "m2:r2"] },
      { ...good, keys: "m2:r2m1:r1" }, // not in ascending order
      { ...good, keys: "m1:r1m1:r1" }, // a key twice
      { ...good, keys: "m1:r1m2:r2x" }, // longer than its lengths
      { ...good, keyLengths: base64(new Uint8Array([5, 4])) },
      { ...good, atLengths: base64(new Uint8Array([24, 25])) },
      { ...good, at: null },
      { ...good, models: ["claude-sonnet-4-5", "claude-opus-4-1"] }, // not sorted
      { ...good, models: ["claude-opus-4-1", "claude-opus-4-1"] },
      { ...good, sessions: ["s0", "s1"] }, // a string no row uses
      { ...good, agents: [] }, // an index past its table
      { ...good, agents: [1] },
      { ...good, model: base64(new Uint8Array([0, 2])) },
      { ...good, session: "AAA" }, // not base64 of two numbers
      { ...good, session: "A A=" },
      { ...good, agent: base64(new Float64Array([0, 0])) }, // indexes are whole numbers
      { ...good, input: base64(new Uint8Array([1, 2, 3])) }, // three bytes for two numbers
      { ...good, output: base64(new Float64Array([1, Number.NaN])) },
      { ...good, cacheWrite: base64(new Float64Array([Infinity, 1])) },
      { ...good, cacheRead: undefined }
    ]
    for (const json of broken) {
      assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(Usage.codec)(json)), JSON.stringify(json))
    }
  })

  it("a resumed fold and a merge write one fold's entries, whichever lines replaced the checkpoint's", () => {
    // Lines of a response in other sessions, agents and models: replacing one may leave a string unused.
    const varied = fc.array(
      line.map((l) => ({
        ...l,
        sessionId: `s${l.input % 3}`,
        agentId: l.output % 2 === 0 ? "main" : `main/${l.output % 4}`
      })).map(responded),
      { maxLength: 30 }
    )
    fc.assert(fc.property(varied, fc.nat(), (envelopes, at) => {
      const cut = at % (envelopes.length + 1)
      const whole = checkpointOf(fold(envelopes))
      const resumed = Projection.fold(
        Usage.projection,
        envelopes.slice(cut),
        decode(checkpointOf(fold(envelopes.slice(0, cut))))
      )
      const written = checkpointOf(resumed)
      assert.deepStrictEqual(sorted(decode(written)), sorted(fold(envelopes)))
      // Made into one base, it is the one form: no string of a replaced row left in a table.
      if (written.overlay === undefined) assert.deepStrictEqual(written, whole)
      const merged = Usage.merge(fold(envelopes.slice(0, cut)), fold(envelopes.slice(cut)))
      assert.deepStrictEqual(checkpointOf(merged), whole)
      assert.strictEqual(Usage.size(resumed), Usage.size(fold(envelopes)))
    }))
  })

  it("token counts of any size round-trip exactly: large, fractional, negative, -0", () => {
    const count = fc.oneof(
      fc.nat({ max: 255 }),
      fc.nat(),
      fc.integer({ min: 2 ** 32 - 2, max: Number.MAX_SAFE_INTEGER }),
      fc.double({ noNaN: true, noDefaultInfinity: true })
    )
    const entry = fc.record({
      key: fc.string(),
      at: fc.string(),
      model: fc.string(),
      sessionId: fc.string(),
      agentId: fc.string(),
      input: count,
      output: count,
      cacheWrite: count,
      cacheRead: count
    })
    fc.assert(fc.property(fc.uniqueArray(entry, { selector: (e) => e.key }), (entries) => {
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(Usage.codec)(Usage.fromEntries(entries))))
      const back = Usage.entries(Schema.decodeUnknownSync(Usage.codec)(json))
      const byKey = (xs: Array<Usage.Entry>) => xs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      assert.deepStrictEqual(byKey(back), byKey([...entries]))
      for (const e of back) {
        assert.strictEqual(
          Object.is(e.input, -0),
          entries.some((x) => x.key === e.key && Object.is(x.input, -0))
        )
      }
    }))
  })

  it("a checkpoint of the earlier form, a JSON array per field, decodes to the same state", () => {
    const entries: ReadonlyArray<Usage.Entry> = [
      {
        key: "\u0000s1\u00003\u0000id-3",
        at: "2025-08-01T10:00:00.000Z",
        model: "",
        sessionId: "s1",
        agentId: "main",
        input: 1,
        output: 0,
        cacheWrite: 0,
        cacheRead: 0
      },
      {
        key: "m1:r1",
        at: "2025-08-01T11:00:00.000Z",
        model: "claude-sonnet-4-5",
        sessionId: "s2",
        agentId: "main/1",
        input: 10,
        output: 20,
        cacheWrite: 30,
        cacheRead: 40
      },
      {
        key: "m2",
        at: "2025-08-02T11:00:00.000Z",
        model: "claude-opus-4-1",
        sessionId: "s1",
        agentId: "main",
        input: 5,
        output: 6,
        cacheWrite: 7,
        cacheRead: 2 ** 40
      }
    ]
    // As the earlier codec wrote it: by key, models, sessions and agents in one table in order of first use.
    const legacy = {
      keys: entries.map((e) => e.key),
      at: entries.map((e) => e.at),
      strings: ["", "s1", "main", "claude-sonnet-4-5", "s2", "main/1", "claude-opus-4-1"],
      model: [0, 3, 6],
      session: [1, 4, 1],
      agent: [2, 5, 2],
      input: entries.map((e) => e.input),
      output: entries.map((e) => e.output),
      cacheWrite: entries.map((e) => e.cacheWrite),
      cacheRead: entries.map((e) => e.cacheRead)
    }
    const state = Schema.decodeUnknownSync(Usage.codec)(legacy)
    assert.deepStrictEqual(sorted(state), [...entries])
    // Written again in the new form, as the same entries folded afresh.
    assert.deepStrictEqual(
      Schema.encodeSync(Usage.codec)(state),
      Schema.encodeSync(Usage.codec)(Usage.fromEntries(entries))
    )
    assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(Usage.codec)({ ...legacy, model: [0, 3, 7] })))
    assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(Usage.codec)({ ...legacy, keys: ["m2", "m1:r1", "x"] })))
  })

  it("a checkpoint is mostly long strings: no JSON array of a value per entry", () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({
      key: `msg_${i}:req_${i}`,
      at: "2025-08-01T10:00:00.000Z",
      model: "claude-sonnet-4-5",
      sessionId: `s${i % 7}`,
      agentId: "main",
      input: i,
      output: 2 * i,
      cacheWrite: 0,
      cacheRead: 70_000 * i
    }))
    const json = Schema.encodeSync(Usage.codec)(Usage.fromEntries(many)) as Record<string, unknown>
    for (const [name, value] of Object.entries(json)) {
      if (Array.isArray(value)) assert.isAtMost(value.length, 7, name)
    }
    // Each column as narrow as its numbers: a byte per input below 256? no, two; four for cache reads.
    const bytes = (name: string) => Buffer.from(json[name] as string, "base64").byteLength / many.length
    assert.deepStrictEqual(["input", "output", "cacheWrite", "cacheRead", "session"].map(bytes), [2, 2, 1, 4, 1])
  })
})

describe("usage: a checkpoint is a base and an overlay", () => {
  const entry = (i: number): Usage.Entry => ({
    key: `msg_${String(i).padStart(3, "0")}:req`,
    at: `2025-08-01T10:${String(i % 60).padStart(2, "0")}:00.000Z`,
    model: i % 2 === 0 ? "claude-sonnet-4-5" : "claude-opus-4-1",
    sessionId: `s${i % 3}`,
    agentId: "main",
    input: 10,
    output: 0,
    cacheWrite: 0,
    cacheRead: 1000 * i
  })
  /** A checkpoint of 160 entries, as read back from its file: overlays of up to 10 rows go over it. */
  const base = () => checkpointOf(Usage.fromEntries(Array.from({ length: 160 }, (_, i) => entry(i))))
  /** A line of the response `msg_<i>:req` with these input tokens. */
  const again = (i: number, input: number) =>
    responded({ messageId: `msg_${String(i).padStart(3, "0")}`, requestId: "req", input, model: "claude-haiku-4-5" })
  const keysOf = (columns: unknown) => sorted(decode(columns)).map((e) => e.key)

  it("a resumed state writes the base's columns as it read them, and only new and replaced entries over them", () => {
    const json = base()
    const resumed = Projection.fold(Usage.projection, [
      // More tokens than the base's row (10 + 5,000): replaces it.
      again(5, 6000),
      // Fewer than the base's: the base's row stays, and nothing is written for it.
      again(7, 5),
      again(500, 1)
    ], decode(json))
    const written = Schema.encodeSync(Usage.codec)(resumed) as Record<string, any>
    // The very columns read: a writer can see by `===` that the long strings did not change.
    for (const name of ["keys", "keyLengths", "at", "atLengths", "model", "session", "agent", "input", "cacheRead"]) {
      assert.strictEqual(written[name], json[name], name)
    }
    assert.strictEqual(written.size, 160)
    assert.deepStrictEqual(keysOf(written.overlay), ["msg_005:req", "msg_500:req"])
    assert.deepStrictEqual(sorted(decode(JSON.parse(JSON.stringify(written)))), sorted(resumed))
    assert.strictEqual(Usage.size(decode(written)), 161)
    // Resumed and saved again: the same base, the overlay grown by what was folded since.
    const twice = Projection.fold(Usage.projection, [again(501, 1), again(5, 1)], decode(written))
    const rewritten = Schema.encodeSync(Usage.codec)(twice) as Record<string, any>
    assert.strictEqual(rewritten.keys, json.keys)
    assert.strictEqual(rewritten.cacheRead, json.cacheRead)
    assert.deepStrictEqual(keysOf(rewritten.overlay), ["msg_005:req", "msg_500:req", "msg_501:req"])
  })

  it("an overlay of up to a sixteenth of the base's rows is written over it; one more makes one new base", () => {
    const json = base()
    const write = (n: number) => {
      const more = Array.from({ length: n }, (_, i) => again(500 + i, 1))
      return Schema.encodeSync(Usage.codec)(Projection.fold(Usage.projection, more, decode(json))) as Record<
        string,
        any
      >
    }
    const most = write(10)
    assert.strictEqual(most.keys, json.keys)
    assert.strictEqual(most.overlay.size, 10)
    const more = write(11)
    assert.isUndefined(more.overlay)
    assert.strictEqual(more.size, 171)
    // Nothing folded since: the base alone, as it was read.
    assert.deepStrictEqual(Schema.encodeSync(Usage.codec)(decode(json)), json)
  })

  it("an overlay's rows apply over the base by the fold's rule: more tokens replace, as many or fewer do not", () => {
    const json = base()
    const over = (e: Usage.Entry, input: number): Usage.Entry => ({ ...e, input, model: "claude-haiku-4-5" })
    // Row 3's total is 3,010; row 4's 4,010; row 6's 6,010.
    const overlay = checkpointOf(
      Usage.fromEntries([over(entry(3), 10), over(entry(4), 9), over(entry(6), 11), entry(300)])
    )
    const state = decode({ ...json, overlay })
    const byKey = new Map(Usage.entries(state).map((e) => [e.key, e]))
    assert.strictEqual(Usage.size(state), 161)
    assert.deepStrictEqual(byKey.get(entry(3).key), entry(3))
    assert.deepStrictEqual(byKey.get(entry(4).key), entry(4))
    assert.deepStrictEqual(byKey.get(entry(6).key), over(entry(6), 11))
    assert.deepStrictEqual(byKey.get(entry(300).key), entry(300))
    // A checkpoint without a base but with an overlay is its overlay's entries.
    const none = checkpointOf(Usage.empty)
    assert.deepStrictEqual(sorted(decode({ ...none, overlay })), sorted(decode(overlay)))
  })

  it("a malformed overlay does not decode, and says it is the overlay", () => {
    const json = base()
    const overlay = checkpointOf(Usage.fromEntries([entry(300), entry(301)]))
    assert.doesNotThrow(() => decode({ ...json, overlay }))
    const base64 = (array: Uint8Array) => Buffer.from(array).toString("base64")
    const broken: ReadonlyArray<unknown> = [
      null,
      [],
      "msg_300:req",
      { ...overlay, size: 3 },
      { ...overlay, keys: `${entry(301).key}${entry(300).key}` }, // not in ascending order
      { ...overlay, keys: `${entry(300).key}${entry(300).key}` }, // a key twice
      { ...overlay, models: ["claude-sonnet-4-5", "claude-opus-4-1"] }, // not sorted
      { ...overlay, sessions: ["s0", "s1", "s2"] }, // a string no row uses
      { ...overlay, model: base64(new Uint8Array([0, 2])) }, // an index past its table
      { ...overlay, input: "A A=" },
      { ...overlay, cacheRead: Buffer.from(new Float64Array([1, Number.NaN]).buffer).toString("base64") },
      // The earlier form is a whole checkpoint's, never an overlay's.
      { keys: [entry(300).key], at: [entry(300).at], strings: ["m", "s", "a"], model: [0], session: [1], agent: [2] }
    ]
    for (const bad of broken) {
      const result = Schema.decodeUnknownEither(Usage.codec)({ ...json, overlay: bad })
      assert.isTrue(Either.isLeft(result), JSON.stringify(bad))
      if (Either.isLeft(result)) assert.include(result.left.message, "overlay", JSON.stringify(bad))
    }
  })

  it("resumed and saved round after round, a checkpoint holds what one fold does: overlays grow, then a new base", () => {
    // More responses than `lines` has, so that a base outweighs what is folded after it.
    const many = fc.array(
      fc.tuple(line, fc.nat({ max: 15 })).map(([l, n]) =>
        responded({ ...l, messageId: l.messageId === undefined ? undefined : `${l.messageId}.${n}` })
      ),
      { minLength: 20, maxLength: 150, size: "medium" }
    )
    const seen = { overlay: 0, replacing: 0, grown: 0, rebased: 0 }
    fc.assert(fc.property(many, fc.array(fc.nat({ max: 6 }), { maxLength: 10 }), (envelopes, rounds) => {
      // A first fold, then rounds of a few lines each, every one resumed from the last checkpoint.
      let end = envelopes.length - rounds.reduce((sum, n) => sum + n, 0)
      const cuts = [Math.max(0, end), ...rounds.map((n) => Math.max(0, end += n))]
      let state = Usage.empty
      let from = 0
      let previous: Record<string, any> | undefined
      for (const cut of cuts) {
        state = Projection.fold(Usage.projection, envelopes.slice(from, cut), state)
        from = cut
        const json = checkpointOf(state)
        state = decode(json)
        assert.deepStrictEqual(sorted(state), sorted(fold(envelopes.slice(0, cut))))
        if (json.overlay !== undefined) {
          seen.overlay++
          assert.isAtMost(json.overlay.size * 16, json.size)
          const baseKeys = new Set(keysOf({ ...json, overlay: undefined }))
          if (keysOf(json.overlay).some((key) => baseKeys.has(key))) seen.replacing++
          if (previous?.overlay !== undefined && previous.keys === json.keys) {
            if (json.overlay.size > previous.overlay.size) seen.grown++
          }
        } else if (previous?.overlay !== undefined && json.size > previous.size) {
          seen.rebased++
        }
        previous = json
      }
    }))
    // The runs went through every case: overlays written, replacing base rows, growing, made into a new base.
    for (const [name, count] of Object.entries(seen)) assert.isAbove(count, 0, name)
  })
})

layer(Recorded.layer)("usage over a recorded run", (it) => {
  const laws = Recorded.laws(Usage.projection, { splitSessions: true })
  it.effect("merge of sessions", () => laws.mergeOfSessions)
  it.effect("merge of parts", () => laws.mergeOfParts)
  // The law every built-in keeps, but for entries: a resumed state writes an overlay, where one fold writes none.
  it.effect("codec round trip: a checkpoint of any prefix decodes as it was, and folding on ends the same", () =>
    Effect.gen(function*() {
      const { envelopes } = yield* Recorded.Run
      for (let n = 0; n <= envelopes.length; n++) {
        const json = checkpointOf(fold(envelopes.slice(0, n)))
        const back = decode(json)
        assert.deepStrictEqual(Schema.encodeSync(Usage.codec)(back), json)
        const resumed = Projection.fold(Usage.projection, envelopes.slice(n), back)
        assert.deepStrictEqual(sorted(resumed), sorted(fold(envelopes)))
        assert.deepStrictEqual(checkpointed(resumed), sorted(fold(envelopes)))
      }
    }))
  it.effect("every response of every agent is counted once, with the tokens the log holds", () =>
    Effect.gen(function*() {
      const { envelopes } = yield* Recorded.Run
      const responses = envelopes.flatMap((e) => (e.event._tag === "ModelResponded" ? [e.event] : []))
      const state = fold(envelopes)
      assert.strictEqual(Usage.size(state), responses.length)
      const expected = responses.reduce(
        (n, r) =>
          n + r.usage.input_tokens + r.usage.output_tokens + r.usage.cache_creation_input_tokens +
          r.usage.cache_read_input_tokens,
        0
      )
      assert.strictEqual(totalTokens(state), expected)
      const agents = Usage.report(state, { by: "agent" }).rows.map((r) => r.key)
      assert.deepStrictEqual(agents, ["main", "main/1"])
    }))
})

describe("usage: reports", () => {
  const state = fold([
    // Day one (UTC), sonnet, session s1, main.
    responded({ messageId: "a", input: 1000, output: 500, cacheWrite: 2000, cacheRead: 10000, sessionId: "s1" }),
    // 23:30 UTC on day one: day two in Kolkata (+05:30).
    responded({
      messageId: "b",
      model: "claude-opus-4-1-20250805",
      input: 100,
      output: 100,
      at: "2025-08-01T23:30:00.000Z",
      sessionId: "s2",
      agentId: "main/1"
    }),
    // Day two (UTC), day one in New York: a model the table does not know, with tokens; a synthetic error with none.
    responded({ messageId: "c", model: "mystery-1", input: 7, at: "2025-08-02T03:00:00.000Z", sessionId: "s2" }),
    responded({ messageId: "d", model: "<synthetic>", at: "2025-08-02T03:00:01.000Z", sessionId: "s2" })
  ])

  it("by day: tokens, models used and cost per day, in order, and the totals", () => {
    const report = Usage.report(state, { by: "day", timeZone: "UTC" })
    assert.deepStrictEqual(report.rows.map((r) => [r.key, r.inputTokens, r.outputTokens, r.totalTokens]), [
      ["2025-08-01", 1100, 600, 13700],
      ["2025-08-02", 7, 0, 7]
    ])
    assert.deepStrictEqual(report.rows[0]!.modelsUsed, ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805"])
    // Neither <synthetic> nor an unnamed model is "used"; the unknown one is.
    assert.deepStrictEqual(report.rows[1]!.modelsUsed, ["mystery-1"])
    // sonnet 4.5: (1000×3 + 500×15 + 2000×3.75 + 10000×0.3) / 1e6; opus 4.1: (100×15 + 100×75) / 1e6.
    assert.closeTo(report.rows[0]!.totalCost!, 0.021 + 0.009, 1e-12)
    // A model without a price makes the day's cost unknown; zero tokens cost 0 whatever the model.
    assert.isNull(report.rows[1]!.totalCost)
    assert.isNull(report.totals.totalCost)
    assert.strictEqual(report.totals.totalTokens, 13707)
    assert.strictEqual(Usage.costOf(Usage.entries(fold([responded({ model: "<synthetic>" })]))[0]!), 0)
  })

  it("days are the time zone's: 23:30 UTC is the next day in Kolkata, 03:00 UTC the day before in New York", () => {
    const day = (timeZone: string) =>
      Usage.report(state, { by: "day", timeZone }).rows.map((r) => [r.key, r.totalTokens])
    assert.deepStrictEqual(day("Asia/Kolkata"), [["2025-08-01", 13500], ["2025-08-02", 207]])
    assert.deepStrictEqual(day("America/New_York"), [["2025-08-01", 13707]])
    assert.isTrue(Usage.isTimeZone("Europe/Paris"))
    assert.isFalse(Usage.isTimeZone("Mars/Olympus"))
  })

  it("since and until keep the responses of those days, inclusive", () => {
    const totals = (since?: string, until?: string) =>
      Usage.report(state, {
        by: "day",
        ...(since === undefined ? {} : { since }),
        ...(until === undefined ? {} : { until })
      }).totals.totalTokens
    assert.strictEqual(totals("2025-08-02"), 7)
    assert.strictEqual(totals(undefined, "2025-08-01"), 13700)
    assert.strictEqual(totals("2025-08-01", "2025-08-01"), 13700)
    assert.strictEqual(totals("2025-08-03"), 0)
  })

  it("by model, session and agent: each row its own, together the totals", () => {
    for (const by of ["model", "session", "agent"] as const) {
      const report = Usage.report(state, { by })
      assert.strictEqual(report.rows.reduce((n, r) => n + r.totalTokens, 0), report.totals.totalTokens, by)
    }
    assert.deepStrictEqual(Usage.report(state, { by: "model" }).rows.map((r) => [r.key, r.totalTokens]), [
      ["claude-sonnet-4-5-20250929", 13500],
      ["claude-opus-4-1-20250805", 200],
      ["mystery-1", 7],
      ["<synthetic>", 0]
    ])
    assert.deepStrictEqual(Usage.report(state, { by: "session" }).rows.map((r) => [r.key, r.lastActivity]), [
      ["s1", "2025-08-01"],
      ["s2", "2025-08-02"]
    ])
    assert.deepStrictEqual(Usage.report(state, { by: "agent" }).rows.map((r) => [r.key, r.totalTokens]), [
      ["main", 13507],
      ["main/1", 200]
    ])
  })

  it("any report is the responses taken in order of their instants: first and last activity, models in order of first use", () => {
    // Keys and instants in unrelated orders, instants that tie, several models a group.
    const entry: fc.Arbitrary<Usage.Entry> = fc.record({
      key: fc.string({ minLength: 1, maxLength: 4 }),
      at: fc.constantFrom(
        "2025-08-01T10:00:00.000Z",
        "2025-08-01T23:30:00.000Z",
        "2025-08-02T03:00:00.000Z",
        "2025-08-03T12:00:00.000Z"
      ),
      model: fc.constantFrom("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "<synthetic>", ""),
      sessionId: fc.constantFrom("s1", "s2", "s3"),
      agentId: fc.constantFrom("main", "main/1"),
      input: fc.nat({ max: 1000 }),
      output: fc.nat({ max: 1000 }),
      cacheWrite: fc.nat({ max: 10 }),
      cacheRead: fc.nat({ max: 10 })
    })
    const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
    fc.assert(
      fc.property(
        fc.uniqueArray(entry, { selector: (e) => e.key }),
        fc.constantFrom(...["day", "session", "model", "agent"] as const),
        (entries, by) => {
          const report = Usage.report(Usage.fromEntries(entries), { by, timeZone: "UTC" })
          // The reference: every response in order of instant, then key, grouped as it comes.
          const inOrder = [...entries].sort((x, y) => byString(x.at, y.at) || byString(x.key, y.key))
          const groupOf = (e: Usage.Entry) =>
            by === "day"
              ? e.at.slice(0, 10)
              : by === "session"
              ? e.sessionId
              : by === "model"
              ? Usage.modelName(e.model)
              : e.agentId
          const expected = new Map<string, { first: string; last: string; models: Array<string>; tokens: number }>()
          for (const e of inOrder) {
            const key = groupOf(e)
            const group = expected.get(key) ?? { first: e.at.slice(0, 10), last: "", models: [], tokens: 0 }
            group.last = e.at.slice(0, 10)
            if (!group.models.includes(e.model)) {
              group.models.push(e.model)
            }
            group.tokens += e.input + e.output + e.cacheWrite + e.cacheRead
            expected.set(key, group)
          }
          assert.deepStrictEqual(
            report.rows.map((r) => [r.key, r.firstActivity, r.lastActivity, r.modelsUsed, r.totalTokens]).sort(),
            [...expected].map(([key, g]) => [
              key,
              g.first,
              g.last,
              g.models.filter((m) => m !== "" && m !== "<synthetic>"),
              g.tokens
            ]).sort()
          )
        }
      )
    )
  })

  it("costs come from the price table given: settings can price an unknown model", () => {
    const prices = { ...Pricing.defaults, "mystery-": { input: 1_000_000, output: 0, cacheWrite: 0, cacheRead: 0 } }
    const report = Usage.report(state, { by: "day", prices })
    assert.closeTo(report.rows[1]!.totalCost!, 7, 1e-9)
  })

  it("the table: a row per day, a Total row, numbers aligned with thousands separators, — for an unknown cost", () => {
    const lines = Usage.table(Usage.report(state, { by: "day" }))
    const text = lines.join("\n")
    assert.include(lines[1]!, "Date")
    assert.include(lines[1]!, "Cost (USD)")
    assert.include(text, "13,700")
    assert.include(text, "$0.03")
    assert.match(text, /│ Total +│/)
    assert.include(text, "\u2014")
    assert.include(text, "- sonnet-4-5")
    // Every line as wide as the others: the columns line up.
    assert.strictEqual(new Set(lines.map((l) => l.length)).size, 1)
    assert.notInclude(text, "\u001b[")
    assert.include(Usage.table(Usage.report(state, { by: "day" }), { color: true }).join("\n"), "\u001b[")
  })

  it("the JSON: shaped like ccusage's daily --json", () => {
    const json = Usage.json(Usage.report(state, { by: "day" })) as any
    assert.deepStrictEqual(Object.keys(json.daily[0]), [
      "date",
      "inputTokens",
      "outputTokens",
      "cacheCreationTokens",
      "cacheReadTokens",
      "totalTokens",
      "totalCost",
      "modelsUsed",
      "modelBreakdowns"
    ])
    assert.deepStrictEqual(Object.keys(json.totals), [
      "inputTokens",
      "outputTokens",
      "cacheCreationTokens",
      "cacheReadTokens",
      "totalTokens",
      "totalCost"
    ])
    assert.strictEqual(json.daily[0].date, "2025-08-01")
    assert.deepStrictEqual(Object.keys(Usage.json(Usage.report(state, { by: "session" }))), [
      "sessions",
      "totals",
      "timeZone",
      "costBasis"
    ])
  })

  it("render: the daily table in UTC, or a line saying there is nothing", () => {
    assert.deepStrictEqual(Usage.projection.render!(Usage.empty), ["No usage recorded."])
    assert.include(Usage.projection.render!(state).join("\n"), "2025-08-02")
  })

  it("thousands and short model names", () => {
    assert.strictEqual(Usage.thousands(0), "0")
    assert.strictEqual(Usage.thousands(1234567), "1,234,567")
    assert.strictEqual(Usage.shortModel("claude-sonnet-4-20250514"), "sonnet-4")
    assert.strictEqual(Usage.shortModel("claude-opus-4-1"), "opus-4-1")
  })
})
