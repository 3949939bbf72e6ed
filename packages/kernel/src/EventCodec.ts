/**
 * The JSON line codec of the event log, built on `Schema.parseJson`.
 *
 * Decoding first upcasts an event written at an older `v` to the current one (one step at a
 * time, through the registered upcasters), then decodes it against the catalogue. A `_tag`
 * this version does not know — or a `v` newer than it knows — decodes to an `UnknownEvent`
 * that keeps the raw JSON and is written back as it was.
 */
import { Either, ParseResult, Schema } from "effect"
import type { Envelope } from "./Envelope.js"
import { AgentId, Event, UnknownEvent, versions } from "./Events.js"
import type { AnyEvent } from "./Events.js"
import type { JsonObject } from "./Json.js"
import { JsonObject as JsonObjectSchema } from "./Json.js"

/** Maps the raw JSON of an event at version `from` to version `from + 1`. */
export interface Upcaster {
  readonly tag: string
  readonly from: number
  readonly upcast: (raw: JsonObject) => JsonObject
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** The schema of one stored event: raw JSON on the encoded side, a known or unknown event on the other. */
export const makeEventSchema = (upcasters: ReadonlyArray<Upcaster> = []): Schema.Schema<AnyEvent, JsonObject> => {
  const steps = new Map(upcasters.map((u) => [`${u.tag}@${u.from}`, u.upcast] as const))
  const decodeKnown = ParseResult.decodeUnknown(Event)
  const encodeKnown = ParseResult.encode(Event)
  return Schema.transformOrFail(JsonObjectSchema, Schema.Union(Schema.typeSchema(Event), UnknownEvent), {
    strict: true,
    decode: (raw, options, ast) => {
      const tag = raw["_tag"]
      const current = typeof tag === "string" ? versions.get(tag) : undefined
      if (current === undefined) return ParseResult.succeed(new UnknownEvent({ raw }))
      let v = typeof raw["v"] === "number" ? raw["v"] : 1
      if (v > current) return ParseResult.succeed(new UnknownEvent({ raw }))
      let upcasted = raw
      while (v < current) {
        const step = steps.get(`${tag}@${v}`)
        if (step === undefined) {
          return ParseResult.fail(
            new ParseResult.Type(ast, raw, `no upcaster from ${String(tag)} v${v} to v${v + 1}`)
          )
        }
        upcasted = step(upcasted)
        v++
      }
      return decodeKnown(upcasted, options)
    },
    encode: (event, options) => {
      if (event._tag === "UnknownEvent") return ParseResult.succeed(event.raw)
      // `_tag` first: readers (and projections scanning bytes for a tag) find it at once.
      return ParseResult.map(encodeKnown(event, options), (encoded) => {
        if (!isObject(encoded)) return encoded as JsonObject
        const { _tag, ...rest } = encoded
        return { _tag, ...rest } as JsonObject
      })
    }
  })
}

const envelopeFields = {
  seq: Schema.Int.pipe(Schema.positive()),
  id: Schema.String,
  parentId: Schema.NullOr(Schema.String),
  sessionId: Schema.String,
  agentId: AgentId,
  at: Schema.String
}

export const makeEnvelopeSchema = (upcasters: ReadonlyArray<Upcaster> = []) =>
  Schema.Struct({ ...envelopeFields, event: makeEventSchema(upcasters) })

/** The upcasters of this version of weft. Every event is at v1, so there are none yet. */
export const upcasters: ReadonlyArray<Upcaster> = []

export const EnvelopeSchema = makeEnvelopeSchema(upcasters)

/** An envelope as it is written: plain JSON, the event `_tag` first. */
export type EncodedEnvelope = typeof EnvelopeSchema.Encoded

export interface LineCodec {
  /** One envelope as a JSON line, without the trailing newline, or why it cannot be written. */
  readonly encode: (envelope: Envelope) => Either.Either<string, string>
  /** One line (without its newline) back to an envelope, or why it is not one. */
  readonly decode: (line: string) => Either.Either<Envelope, string>
}

export const makeLineCodec = (upcasters: ReadonlyArray<Upcaster> = []): LineCodec => {
  const lineSchema = Schema.parseJson(makeEnvelopeSchema(upcasters))
  const encode = ParseResult.encodeEither(lineSchema, { errors: "first" })
  const decode = ParseResult.decodeUnknownEither(lineSchema, { errors: "first" })
  const decodeFast = makeFastDecode()
  return {
    encode: (envelope) => Either.mapLeft(encode(envelope), describe),
    decode: (line) => {
      const envelope = decodeFast(line)
      return envelope !== undefined ? Either.right(envelope) : Either.mapLeft(decode(line), describe)
    }
  }
}

/**
 * The common case of decoding a line, without the steps that cannot change its result.
 *
 * The line schema decodes the raw event as JSON (`JsonObject`), then — for a known `_tag` at
 * the current `v` — decodes that against the whole catalogue (a union, which picks the one
 * member the `_tag` names), then checks that what came out is an event (it always is: the
 * catalogue only makes events). Here the same steps run through the same schemas, minus the
 * union's dispatch and the final check: the envelope's fields through their field schemas,
 * the raw event through `JsonObject`, and the result straight through the member its `_tag`
 * names. Every line is still decoded by the Schemas.
 *
 * Only an event of a known `_tag` at the current `v` takes this path. Anything else — an
 * unknown or older event, or any line this path rejects — returns `undefined` and is decoded
 * by the line schema, so results and error messages are always the line schema's.
 */
const makeFastDecode = () => {
  const parse = ParseResult.decodeUnknownEither(Schema.parseJson())
  const decodeFields = ParseResult.decodeUnknownEither(Schema.Struct(envelopeFields), { errors: "first" })
  const decodeRaw = ParseResult.decodeUnknownEither(JsonObjectSchema, { errors: "first" })
  const members = new Map<string, (u: unknown) => Either.Either<Event, ParseResult.ParseIssue>>()
  for (const member of Event.members) {
    const schema: Schema.Schema.AnyNoContext = member
    members.set(member.identifier, ParseResult.decodeUnknownEither(schema, { errors: "first" }))
  }
  return (line: string): Envelope | undefined => {
    const json = parse(line)
    if (Either.isLeft(json) || !isObject(json.right)) return undefined
    const fields = decodeFields(json.right)
    if (Either.isLeft(fields)) return undefined
    const raw = decodeRaw(json.right["event"])
    if (Either.isLeft(raw)) return undefined
    const tag = raw.right["_tag"]
    const decodeMember = typeof tag === "string" ? members.get(tag) : undefined
    const v = raw.right["v"]
    if (decodeMember === undefined || (typeof v === "number" ? v : 1) !== versions.get(tag as string)) {
      return undefined
    }
    const event = decodeMember(raw.right)
    if (Either.isLeft(event)) return undefined
    return { ...fields.right, event: event.right }
  }
}

const describe = (issue: ParseResult.ParseIssue): string =>
  ParseResult.TreeFormatter.formatIssueSync(issue).split("\n").map((l) => l.trim()).filter((l) => l !== "").join(" ")

let built: LineCodec | undefined

/** The line codec with this version's upcasters, built on first use: building its parsers costs start-up time. */
const current = (): LineCodec => built ??= makeLineCodec(upcasters)

export const lineCodec: LineCodec = {
  encode: (envelope) => current().encode(envelope),
  decode: (line) => current().decode(line)
}
