/**
 * What model usage costs, in US dollars, from a price table: dollars per million tokens of
 * input, output, cache writes and cache reads, by model. A model matches the longest entry its
 * id starts with (`claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`); a model the table does
 * not know costs null (unknown), never 0.
 *
 * The defaults are Anthropic's list prices for Claude models (cache writes at the 5-minute
 * rate). Settings override or add entries (`pricing`) — for a new model, or a negotiated rate.
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

const price = (input: number, output: number, cacheWrite: number, cacheRead: number): Price => ({
  input,
  output,
  cacheWrite,
  cacheRead
})

/** Anthropic's list prices (platform.claude.com, "Pricing"), cache writes at the 5-minute rate. */
export const defaults: PriceTable = {
  "claude-fable-5-1": price(10, 50, 12.5, 0.25),
  "claude-mythos-5-1": price(10, 50, 12.5, 0.25),
  "claude-fable-5": price(10, 50, 12.5, 1),
  "claude-mythos-5": price(10, 50, 12.5, 1),
  "claude-opus-5-5": price(4, 20, 5, 0.2),
  "claude-opus-5": price(5, 25, 6.25, 0.5),
  "claude-opus-4-8": price(5, 25, 6.25, 0.5),
  "claude-opus-4-7": price(5, 25, 6.25, 0.5),
  "claude-opus-4-6": price(5, 25, 6.25, 0.5),
  "claude-opus-4-5": price(5, 25, 6.25, 0.5),
  "claude-opus-4-1": price(15, 75, 18.75, 1.5),
  "claude-opus-4": price(15, 75, 18.75, 1.5),
  "claude-sonnet-5-5": price(2, 10, 2.5, 0.2),
  "claude-sonnet-5": price(2, 10, 2.5, 0.2),
  "claude-sonnet-4-6": price(3, 15, 3.75, 0.3),
  "claude-sonnet-4-5": price(3, 15, 3.75, 0.3),
  "claude-sonnet-4": price(3, 15, 3.75, 0.3),
  "claude-3-7-sonnet": price(3, 15, 3.75, 0.3),
  "claude-haiku-5-5": price(0.1, 0.5, 0.125, 0.01),
  "claude-haiku-4-5": price(1, 5, 1.25, 0.1),
  "claude-3-5-haiku": price(0.8, 4, 1, 0.08),
  "claude-3-haiku": price(0.25, 1.25, 0.3, 0.03)
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

/** What an output, cache-write and cache-read token count for against a budget, an input token counting 1. */
export const BudgetWeights = Schema.Struct({ output: Amount, cacheWrite: Amount, cacheRead: Amount })
export type BudgetWeights = typeof BudgetWeights.Type

/** Every token counts 1. */
export const unweighted: BudgetWeights = { output: 1, cacheWrite: 1, cacheRead: 1 }

/**
 * A budget in dollars as a budget in input tokens of `model`, each other kind of token weighted
 * by its price relative to input: spending it all costs exactly `usd` on that model. Undefined
 * when the table has no price for the model.
 */
export const usdBudget = (
  usd: number,
  model: string,
  table: PriceTable = defaults
): { readonly budgetTokens: number; readonly weights: BudgetWeights } | undefined => {
  const price = find(model, table)
  if (price === undefined || price.input <= 0) return undefined
  return {
    budgetTokens: Math.floor((usd * 1_000_000) / price.input),
    weights: {
      output: price.output / price.input,
      cacheWrite: price.cacheWrite / price.input,
      cacheRead: price.cacheRead / price.input
    }
  }
}

/** Adds costs where an unknown (null) stays unknown. */
export const add = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a + b)
