/**
 * The state of a built-in projection: one value per session, in a persistent map, so a fold over
 * thousands of sessions updates one entry per event instead of copying them all (an object
 * spread per event made `--all` over a large history quadratic). Its JSON form is an object
 * keyed by session id, oldest session first.
 */
import { HashMap, Option, Schema } from "effect"
import type { Json } from "../Json.js"

export type BySession<A> = HashMap.HashMap<string, A>

/** What every session's value holds: when the first event the projection folded for it happened. */
export interface Dated {
  readonly startedAt: string
}

export const empty = <A>(): BySession<A> => HashMap.empty()

/** The session's value after `f`, starting from `fresh()` when the session is new. */
export const modify = <A>(
  state: BySession<A>,
  sessionId: string,
  fresh: () => A,
  f: (value: A) => A
): BySession<A> => HashMap.set(state, sessionId, f(Option.getOrElse(HashMap.get(state, sessionId), fresh)))

/** The sessions, oldest first (by `startedAt`, then id). */
export const sorted = <A extends Dated>(state: BySession<A>): Array<readonly [string, A]> =>
  Array.from(state).sort(([ia, a], [ib, b]) =>
    a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : ia < ib ? -1 : ia > ib ? 1 : 0
  )

/**
 * Combines states folded from sets of sessions: disjoint sets are a union; a session in both
 * (folded in two parts, `a`'s first) is combined with `combine`.
 */
export const merge = <A>(combine: (a: A, b: A) => A) => (a: BySession<A>, b: BySession<A>): BySession<A> =>
  HashMap.reduce(b, a, (acc, value, sessionId) =>
    HashMap.set(
      acc,
      sessionId,
      Option.match(HashMap.get(acc, sessionId), { onNone: () => value, onSome: (first) => combine(first, value) })
    ))

/** The earlier of two times. */
export const earlier = (a: string, b: string): string => (b < a ? b : a)

/**
 * `{ "<sessionId>": value, … }`, oldest session first. Typed as a projection's codec wants it
 * (`Schema<S, Json>`, which is invariant in its JSON side): `I extends Json` is what makes that so.
 */
export const codec = <A extends Dated, I extends Json>(value: Schema.Schema<A, I>): Schema.Schema<BySession<A>, Json> =>
  Schema.transform(
    Schema.Record({ key: Schema.String, value }),
    Schema.HashMapFromSelf({ key: Schema.String, value: Schema.typeSchema(value) }),
    {
      strict: true,
      decode: (record) => HashMap.fromIterable(Object.entries(record)),
      encode: (state) => Object.fromEntries(sorted(state))
    }
  ) as Schema.Schema<BySession<A>, any> as Schema.Schema<BySession<A>, Json>
