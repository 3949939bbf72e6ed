/**
 * What model usage costs, in US dollars, from a price table: dollars per million tokens of
 * input, output, cache writes and cache reads, by model. A model matches the longest entry its
 * id starts with (`claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`); a model the table does
 * not know costs null (unknown), never 0.
 *
 * The defaults are Anthropic's list prices for current Claude models (cache writes at the
 * 5-minute rate, 1.25× input; cache reads at 0.1× input). Settings override or add entries
 * (`pricing`).
 */
import { Schema } from "effect"
import type { Usage } from "./Messages.js"

/** A finite amount ≥ 0 (JSON has no Infinity). */
export const Amount = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

export const Price = Schema.Struct({
  input: Amount,
  output: Amount,
  cacheWrite: Amount,
  cacheRead: Amount
})
export type Price = typeof Price.Type

/** Prices by model id prefix. */
export const PriceTable = Schema.Record({ key: Schema.String, value: Price })
export type PriceTable = typeof PriceTable.Type

const price = (input: number, output: number): Price => ({
  input,
  output,
  cacheWrite: input * 1.25,
  cacheRead: input / 10
})

export const defaults: PriceTable = {
  "claude-opus-4-5": price(5, 25),
  "claude-opus-4-1": price(15, 75),
  "claude-opus-4": price(15, 75),
  "claude-sonnet-4-5": price(3, 15),
  "claude-sonnet-4": price(3, 15),
  "claude-3-7-sonnet": price(3, 15),
  "claude-haiku-4-5": price(1, 5),
  "claude-3-5-haiku": price(0.8, 4),
  "claude-3-haiku": price(0.25, 1.25)
}

/** The entry for `model`: the longest prefix of its id in the table. */
export const find = (model: string, table: PriceTable = defaults): Price | undefined => {
  let best: string | undefined
  for (const key of Object.keys(table)) {
    if (model.startsWith(key) && (best === undefined || key.length > best.length)) best = key
  }
  return best === undefined ? undefined : table[best]
}

/** The cost of one response's usage in dollars, or null when the model is not in the table. */
export const cost = (model: string, usage: Usage, table: PriceTable = defaults): number | null => {
  const entry = find(model, table)
  if (entry === undefined) return null
  return (usage.input_tokens * entry.input +
    usage.output_tokens * entry.output +
    usage.cache_creation_input_tokens * entry.cacheWrite +
    usage.cache_read_input_tokens * entry.cacheRead) / 1_000_000
}

/** Adds costs where an unknown (null) stays unknown. */
export const add = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a + b)
