/**
 * JSON values as a Schema: what the log can hold verbatim (tool inputs, merged settings,
 * the raw body of an event this version does not know).
 *
 * Declared with a structural check rather than as a recursive union: a recursive
 * `Schema.suspend` is re-derived each time a class embedding it is constructed, which made
 * constructing a `ModelResponded` cost ~40× a validation of the same value. A JSON value
 * also needs no transformation, so the check is all there is to do.
 */
import { Schema } from "effect"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
export type JsonObject = { readonly [key: string]: Json }

const MAX_DEPTH = 512

const isPlainObject = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

const check = (u: unknown, depth: number): boolean => {
  switch (typeof u) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(u)
    case "object": {
      if (u === null) return true
      if (depth > MAX_DEPTH) return false
      if (Array.isArray(u)) {
        for (const item of u) if (!check(item, depth + 1)) return false
        return true
      }
      if (!isPlainObject(u)) return false
      for (const key in u) if (!check(u[key], depth + 1)) return false
      return true
    }
    default:
      return false
  }
}

export const isJson = (u: unknown): u is Json => check(u, 0)

export const isJsonObject = (u: unknown): u is JsonObject => isPlainObject(u) && check(u, 0)

/** What JSON can carry back: no -0, no undefined (a JSON round trip of the value). */
const carried = <A>(value: A): A => JSON.parse(JSON.stringify(value))

export const Json: Schema.Schema<Json> = Schema.declare(isJson, {
  identifier: "Json",
  description: "a JSON value",
  arbitrary: () => (fc) => fc.jsonValue().map((v) => carried(v) as Json)
})

export const JsonObject: Schema.Schema<JsonObject> = Schema.declare(isJsonObject, {
  identifier: "JsonObject",
  description: "a JSON object",
  arbitrary: () => (fc) => fc.dictionary(fc.string(), fc.jsonValue()).map((v) => carried(v) as JsonObject)
})
