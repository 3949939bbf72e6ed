/**
 * JSON values as a Schema: what the log can hold verbatim (tool inputs, merged settings,
 * the raw body of an event this version does not know).
 */
import { Schema } from "effect"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
export type JsonObject = { readonly [key: string]: Json }

const JsonNumber = Schema.Number.pipe(
  Schema.finite(),
  Schema.annotations({
    // -0 does not survive JSON; generate what JSON can carry.
    arbitrary: () => (fc) => fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n))
  })
)

export const Json: Schema.Schema<Json> = Schema.Union(
  Schema.Null,
  Schema.Boolean,
  JsonNumber,
  Schema.String,
  Schema.Array(Schema.suspend(() => Json)),
  Schema.Record({ key: Schema.String, value: Schema.suspend(() => Json) })
).annotations({ identifier: "Json" })

export const JsonObject: Schema.Schema<JsonObject> = Schema.Record({
  key: Schema.String,
  value: Json
}).annotations({ identifier: "JsonObject" })
