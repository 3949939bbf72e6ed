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

export const makeEnvelopeSchema = (upcasters: ReadonlyArray<Upcaster> = []) =>
  Schema.Struct({
    seq: Schema.Int.pipe(Schema.positive()),
    id: Schema.String,
    parentId: Schema.NullOr(Schema.String),
    sessionId: Schema.String,
    agentId: AgentId,
    at: Schema.String,
    event: makeEventSchema(upcasters)
  })

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
  return {
    encode: (envelope) => Either.mapLeft(encode(envelope), describe),
    decode: (line) => Either.mapLeft(decode(line), describe)
  }
}

const describe = (issue: ParseResult.ParseIssue): string =>
  ParseResult.TreeFormatter.formatIssueSync(issue).split("\n").map((l) => l.trim()).filter((l) => l !== "").join(" ")

export const lineCodec: LineCodec = makeLineCodec(upcasters)
