/**
 * How much a memory matters now: type × frequency × recency.
 *
 * - Type: the category's weight (instructions, facts and identity above preferences, preferences
 *   above notes) times the kind's: explicit entries above implicit ones, until an implicit entry
 *   has been confirmed `promoteAt` times — then it counts as explicit (promotion).
 * - Frequency: `1 + frequency × log2(1 + confirmation × (confirmations − 1) + recall × recalls)`,
 *   sublinear: the tenth recall adds less than the first.
 * - Recency: `2^(−age / halfLife)`, the age counted from the entry's last confirmation or recall,
 *   whichever is later (an anchor in the future counts as now).
 *
 * The score is a product, so it halves at each half-life whatever the rest. Time is a parameter
 * (milliseconds since the epoch): nothing here reads a clock.
 */
import type { Category as Proposed } from "./Extractor.js"

/** What an entry is about: what the extractor proposes, or a note (what a write did not say). */
export type Category = Proposed | "note"

export type Kind = "explicit" | "implicit"

/** What importance reads of an entry (a `WritableMemory.Entry` is one). */
export interface Input {
  readonly kind: Kind
  readonly category: Category
  /** Times the entry was stated: 1 when first written or proposed. */
  readonly confirmations: number
  /** ISO-8601. */
  readonly lastConfirmedAt: string
  /** `MemoryRecalled` events that named the entry. */
  readonly recalls: number
  /** ISO-8601. */
  readonly lastRecalledAt?: string | undefined
}

export interface Weights {
  /** Days after which recency halves (30). */
  readonly halfLifeDays: number
  /** Weight of each kind (explicit 1, implicit 0.5). */
  readonly kind: { readonly [K in Kind]: number }
  /** Weight of each category (instruction, fact and identity 1, preference 0.7, note 0.4). */
  readonly category: { readonly [C in Category]: number }
  /** How much repetition multiplies the score (1): the factor is `1 + frequency × log2(1 + uses)`. */
  readonly frequency: number
  /** What a confirmation beyond the first counts among uses (1). */
  readonly confirmation: number
  /** What a recall counts among uses (0.5: being recalled is a weaker signal than being restated). */
  readonly recall: number
  /** Confirmations from which an implicit entry weighs as an explicit one (3). */
  readonly promoteAt: number
  /** Below this score an implicit entry has decayed: it is no longer returned (0.02). Explicit ones never are. */
  readonly fade: number
}

export const defaults: Weights = {
  halfLifeDays: 30,
  kind: { explicit: 1, implicit: 0.5 },
  category: { instruction: 1, fact: 1, identity: 1, preference: 0.7, note: 0.4 },
  frequency: 1,
  confirmation: 1,
  recall: 0.5,
  promoteAt: 3,
  fade: 0.02
}

const DAY = 86_400_000

const time = (iso: string | undefined): number => {
  if (iso === undefined) return Number.NEGATIVE_INFINITY
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms
}

/** When the entry was last confirmed or recalled, in milliseconds. */
export const anchor = (entry: Input): number => Math.max(time(entry.lastConfirmedAt), time(entry.lastRecalledAt))

/** `2^(−age / halfLife)`: 1 at the anchor (or before it), ½ one half-life later. */
export const recency = (entry: Input, now: number, weights: Weights = defaults): number => {
  const from = anchor(entry)
  if (from === Number.NEGATIVE_INFINITY) return 0
  const age = Math.max(0, now - from)
  return Math.pow(2, -age / (weights.halfLifeDays * DAY))
}

/** `1 + frequency × log2(1 + uses)`: 1 for an entry stated once and never recalled. */
export const frequency = (entry: Input, weights: Weights = defaults): number => {
  const uses = weights.confirmation * Math.max(0, entry.confirmations - 1) + weights.recall * Math.max(0, entry.recalls)
  return 1 + weights.frequency * Math.log2(1 + uses)
}

/** Whether an implicit entry has been confirmed often enough to weigh as an explicit one. */
export const promoted = (entry: Input, weights: Weights = defaults): boolean =>
  entry.kind === "implicit" && entry.confirmations >= weights.promoteAt

/** The category's weight times the kind's (an implicit entry once promoted weighs as explicit). */
export const typeWeight = (entry: Input, weights: Weights = defaults): number =>
  weights.category[entry.category] * weights.kind[promoted(entry, weights) ? "explicit" : entry.kind]

/** The importance of `entry` at `now` (milliseconds since the epoch). */
export const importance = (entry: Input, now: number, weights: Weights = defaults): number =>
  typeWeight(entry, weights) * frequency(entry, weights) * recency(entry, now, weights)

/** Whether an entry has decayed away: implicit and below `fade`. */
export const faded = (entry: Input, now: number, weights: Weights = defaults): boolean =>
  entry.kind === "implicit" && importance(entry, now, weights) < weights.fade
