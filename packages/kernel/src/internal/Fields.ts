/**
 * Fields of a tool's input Schema. The description sits on the property, not on its type, so
 * the model reads it in the JSON Schema while a rejected value is still reported in the type's
 * own words ("Expected a positive number, actual -1"). Optional fields are exact: a key that is
 * absent, never `undefined`.
 */
import { Schema } from "effect"

export const required = <S extends Schema.Schema.Any>(schema: S, description: string) =>
  Schema.propertySignature(schema).annotations({ description })

export const optional = <S extends Schema.Schema.All>(schema: S, description: string) =>
  Schema.optionalWith(schema, { exact: true }).annotations({ description })

/** Integers that the JSON Schema shows inline (`Schema.Int` would become a `$ref` to `$defs`). */
export const positiveInt = Schema.Number.pipe(Schema.int(), Schema.positive())
export const nonNegativeInt = Schema.Number.pipe(Schema.int(), Schema.nonNegative())
