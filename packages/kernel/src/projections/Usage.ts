/**
 * The built-in `usage` projection: the tokens every model response used, kept once per response,
 * to be totalled by day, session, model or agent, with a cost from a price table.
 *
 * What counts, and how often, follows ccusage's rules (ryoppippi/ccusage,
 * `apps/ccusage/src/adapter/claude/data-loader.ts`: `createUniqueHash` with the `requestId`-less
 * fallback of ccusage PR #985, and `shouldReplaceEntryMetadata`), so that totals over Claude
 * Code's history equal `ccusage claude daily --json`:
 *
 * - a response is counted once per `messageId:requestId`, or per `messageId` alone when it has
 *   no request id (an empty `requestId`); a response without a message id is counted every time;
 * - of the lines that share a key, the one with the largest total (input + output + cache write +
 *   cache read) is kept: Claude Code writes a response several times while it streams, and the
 *   early lines carry partial output counts. On a tie the first one stays.
 *
 * The state keeps, per key, that largest usage with its time, model, session and agent, so a
 * later line (or a later partial fold, in `merge`) can still replace it. `ContextCompacted` (the
 * summary request of a compaction) counts like a response without a message id; `MemoryExtracted`
 * (the answer of a memory pass) like a response.
 *
 * A checkpoint holds the state as a base, sorted columns written once, and an overlay of the
 * entries added or replaced since (see `codec`): a run resumed from it writes the base's columns
 * as it read them and the few entries it folded, not the whole state again.
 *
 * Days are computed when reporting, in a time zone given then (ccusage uses the local one by
 * default and takes `--timezone`); the state holds instants only. Costs too are computed when
 * reporting, from `Pricing` (the defaults with settings' `pricing` over them): a model the table
 * does not know costs null (shown "—"), except that a response of zero tokens costs 0.
 */
import { ParseResult, Schema } from "effect"
import { Buffer } from "node:buffer"
import type { Envelope } from "../Envelope.js"
import type { Json } from "../Json.js"
import type { Usage } from "../Messages.js"
import * as Pricing from "../Pricing.js"
import * as Projection from "../Projection.js"

/** The usage kept for one response. */
export interface Entry {
  /** `messageId:requestId`, `messageId`, or a key of its own for a response without a message id. */
  readonly key: string
  readonly at: string
  /** "" when the response did not name its model. */
  readonly model: string
  readonly sessionId: string
  readonly agentId: string
  readonly input: number
  readonly output: number
  readonly cacheWrite: number
  readonly cacheRead: number
}

/** Whole numbers, in an array as narrow as they allow. */
type Counts = Uint8Array | Uint16Array | Uint32Array

/** Token counts: whole numbers as `Counts`, any others in float64s. */
type Numbers = Counts | Float64Array

/** The string fields of an entry, each kept as an index into a table of its values. */
const FIELDS = ["model", "session", "agent"] as const
type Field = typeof FIELDS[number]

type PerField<A> = { readonly [F in Field]: A }

/** A base's columns as read, keys and instants cut by their lengths; `assemble` checks them. */
interface Parts {
  readonly size: number
  /** Every key, one after the other, each `keyLengths[i]` long. */
  readonly keys: string
  readonly keyLengths: Counts
  /** The instants, as `keys`. */
  readonly at: string
  readonly atLengths: Counts
  /** The models, sessions and agents the rows use, each table sorted, each string in it once. */
  readonly tables: PerField<ReadonlyArray<string>>
  /** Indexes into `tables`. */
  readonly model: Counts
  readonly session: Counts
  readonly agent: Counts
  readonly input: Numbers
  readonly output: Numbers
  readonly cacheWrite: Numbers
  readonly cacheRead: Numbers
}

/**
 * Entries sorted by key, in columns, never changed once made: what a checkpoint decodes to and
 * `merge` makes. Loading 40,000 entries this way costs a few typed arrays, not 40,000 objects
 * and a `Map`; a key is found by binary search, cutting out only the keys it compares with.
 */
interface Base extends Parts {
  /** Where each key and instant ends, made from their lengths once needed (a cache, as `encoded`). */
  ends: Ends | undefined
  /** How many rows use each string of `tables`, once needed (a cache). */
  uses: PerField<Uint32Array> | undefined
  /** Its checkpoint form, made once (a cache: the base itself never changes). */
  encoded: Columns | undefined
}

interface Ends {
  readonly key: Uint32Array
  readonly at: Uint32Array
}

interface Node extends Entry {
  /** The row of the store's base with this key, which this entry hides; -1 when the base has none. Set with `version`. */
  baseIndex: number
  /** Set once, when the node goes into a store. */
  version: number
  /** The entry this one replaced, still what older states see. */
  prev: Node | undefined
}

interface Store {
  readonly base: Base
  /** The overlay: entries with keys the base lacks, or with more tokens than the base's. */
  readonly nodes: Map<string, Node>
  latest: number
  /** Keys of `nodes` not in the base, at `latest`. */
  fresh: number
  /** What a version sees as one base, once made (see `compact`): a version never changes. */
  compacted: { readonly version: number; readonly base: Base } | undefined
}

/**
 * The projection's state: a base (see `Base`) under a persistent map from key to entry. A fold
 * appends to a store shared by the states it goes through, each state seeing the entries up to
 * its own version, so evolve costs a `Map` update rather than a copy and every state stays what
 * it was. Evolving a state that is not the latest of its store (branching) copies what it sees of
 * the map first; the base is shared. A key is looked up in the map, then in the base; an entry in
 * the map hides the base's row of its key. Encoding writes the base as it is and what the state
 * sees of the map as an overlay, while that is small beside the base; else it makes a new base of
 * both, as `merge` and reports do. Decoding gives the base back, the overlay's rows in the map.
 */
export interface State {
  /** @internal */
  readonly store: Store | undefined
  /** @internal */
  readonly version: number
}

export const empty: State = { store: undefined, version: 0 }

const emptyBase: Base = {
  size: 0,
  keys: "",
  keyLengths: new Uint8Array(0),
  at: "",
  atLengths: new Uint8Array(0),
  tables: { model: [], session: [], agent: [] },
  model: new Uint8Array(0),
  session: new Uint8Array(0),
  agent: new Uint8Array(0),
  input: new Uint8Array(0),
  output: new Uint8Array(0),
  cacheWrite: new Uint8Array(0),
  cacheRead: new Uint8Array(0),
  ends: undefined,
  uses: { model: new Uint32Array(0), session: new Uint32Array(0), agent: new Uint32Array(0) },
  encoded: undefined
}

const stateOf = (base: Base): State =>
  base.size === 0 ? empty : { store: { base, nodes: new Map(), latest: 1, fresh: 0, compacted: undefined }, version: 1 }

const sums = (lengths: Counts): Uint32Array => {
  const ends = new Uint32Array(lengths.length)
  let end = 0
  for (let i = 0; i < lengths.length; i++) ends[i] = end += lengths[i]!
  return ends
}

const endsOf = (base: Base): Ends => {
  if (base.ends === undefined) base.ends = { key: sums(base.keyLengths), at: sums(base.atLengths) }
  return base.ends
}

const usesOf = (base: Base): PerField<Uint32Array> => {
  if (base.uses === undefined) {
    const count = (indexes: Counts, table: ReadonlyArray<string>) => {
      const uses = new Uint32Array(table.length)
      for (let i = 0; i < indexes.length; i++) uses[indexes[i]!]!++
      return uses
    }
    base.uses = {
      model: count(base.model, base.tables.model),
      session: count(base.session, base.tables.session),
      agent: count(base.agent, base.tables.agent)
    }
  }
  return base.uses
}

const startOf = (ends: Uint32Array, i: number): number => (i === 0 ? 0 : ends[i - 1]!)

const keyAt = (base: Base, ends: Ends, i: number): string => base.keys.slice(startOf(ends.key, i), ends.key[i])

const rowTotal = (base: Base, i: number): number =>
  base.input[i]! + base.output[i]! + base.cacheWrite[i]! + base.cacheRead[i]!

const rowEntry = (base: Base, ends: Ends, i: number): Entry => ({
  key: base.keys.slice(startOf(ends.key, i), ends.key[i]),
  at: base.at.slice(startOf(ends.at, i), ends.at[i]),
  model: base.tables.model[base.model[i]!]!,
  sessionId: base.tables.session[base.session[i]!]!,
  agentId: base.tables.agent[base.agent[i]!]!,
  input: base.input[i]!,
  output: base.output[i]!,
  cacheWrite: base.cacheWrite[i]!,
  cacheRead: base.cacheRead[i]!
})

/** The row of `key` in `base`, or `-1 - r` when it has none, `r` being how many rows sort before `key`. */
const search = (base: Base, key: string): number => {
  const ends = endsOf(base)
  let lo = 0
  let hi = base.size
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const other = keyAt(base, ends, mid)
    if (key === other) return mid
    if (key > other) lo = mid + 1
    else hi = mid
  }
  return -1 - lo
}

const visible = (node: Node | undefined, version: number): Node | undefined => {
  while (node !== undefined && node.version > version) node = node.prev
  return node
}

const strip = (node: Node): Entry => ({
  key: node.key,
  at: node.at,
  model: node.model,
  sessionId: node.sessionId,
  agentId: node.agentId,
  input: node.input,
  output: node.output,
  cacheWrite: node.cacheWrite,
  cacheRead: node.cacheRead
})

/** Every entry of the state, in no particular order. */
export const entries = (state: State): Array<Entry> => {
  const out: Array<Entry> = []
  const store = state.store
  if (store === undefined) return out
  const base = store.base
  const ends = endsOf(base)
  const hidden = new Uint8Array(store.nodes.size > 0 ? base.size : 0)
  for (const head of store.nodes.values()) {
    const node = visible(head, state.version)
    if (node === undefined) continue
    out.push(strip(node))
    if (node.baseIndex >= 0) hidden[node.baseIndex] = 1
  }
  for (let i = 0; i < base.size; i++) if (hidden.length === 0 || hidden[i] === 0) out.push(rowEntry(base, ends, i))
  return out
}

/** How many responses the state counts. */
export const size = (state: State): number => {
  const store = state.store
  if (store === undefined) return 0
  if (store.latest === state.version) return store.base.size + store.fresh
  let n = store.base.size
  for (const head of store.nodes.values()) {
    const node = visible(head, state.version)
    if (node !== undefined && node.baseIndex < 0) n++
  }
  return n
}

const makeNode = (entry: Entry, baseIndex: number, version: number, prev: Node | undefined): Node => ({
  key: entry.key,
  at: entry.at,
  model: entry.model,
  sessionId: entry.sessionId,
  agentId: entry.agentId,
  input: entry.input,
  output: entry.output,
  cacheWrite: entry.cacheWrite,
  cacheRead: entry.cacheRead,
  baseIndex,
  version,
  prev
})

/** A store the state may append to: its own when it is the latest, else a copy of what it sees. */
const own = (state: State): Store => {
  if (state.store === undefined) {
    return { base: emptyBase, nodes: new Map(), latest: state.version, fresh: 0, compacted: undefined }
  }
  if (state.store.latest === state.version) return state.store
  const nodes = new Map<string, Node>()
  let fresh = 0
  for (const [key, head] of state.store.nodes) {
    const node = visible(head, state.version)
    if (node === undefined) continue
    nodes.set(key, makeNode(node, node.baseIndex, state.version, undefined))
    if (node.baseIndex < 0) fresh++
  }
  return { base: state.store.base, nodes, latest: state.version, fresh, compacted: undefined }
}

/** All the tokens of an entry: what decides which of two lines of one response is kept. */
export const totalOf = (entry: Pick<Entry, "input" | "output" | "cacheWrite" | "cacheRead">): number =>
  entry.input + entry.output + entry.cacheWrite + entry.cacheRead

/**
 * Puts `node` (new, not in any store yet) in `store` at `version` unless what is there (in the
 * map, else in the base) has as many tokens or more.
 */
const upsert = (store: Store, version: number, node: Node): boolean => {
  const existing = store.nodes.get(node.key)
  if (existing !== undefined) {
    if (!(totalOf(node) > totalOf(existing))) return false
    node.baseIndex = existing.baseIndex
  } else {
    const found = search(store.base, node.key)
    if (found >= 0 && !(totalOf(node) > rowTotal(store.base, found))) return false
    node.baseIndex = found >= 0 ? found : -1
    if (found < 0) store.fresh++
  }
  // Two writes within one version: the first was never visible on its own.
  node.prev = existing !== undefined && existing.version === version ? existing.prev : existing
  node.version = version
  store.nodes.set(node.key, node)
  return true
}

/** Inserts entries in order, as if folded one by one. */
export const insertAll = (state: State, more: Iterable<Entry>): State => {
  const store = own(state)
  const version = state.version + 1
  let changed = false
  for (const entry of more) if (upsert(store, version, makeNode(entry, -1, version, undefined))) changed = true
  if (!changed) return state
  store.latest = version
  return { store, version }
}

/** A state holding exactly these entries (their keys distinct: a later one replaces an earlier smaller one). */
export const fromEntries = (more: Iterable<Entry>): State => insertAll(empty, more)

/**
 * The dedup key of a response (ccusage's `createUniqueHash`, with its fallback to the message id
 * alone): a response without a message id gets a key of its own, made of where it is in the log.
 */
export const keyOf = (
  messageId: string | undefined,
  requestId: string | undefined,
  envelope: Pick<Envelope, "sessionId" | "seq" | "id">
): string =>
  messageId === undefined || messageId === ""
    ? `\u0000${envelope.sessionId}\u0000${envelope.seq}\u0000${envelope.id}`
    : requestId === undefined || requestId === ""
    ? messageId
    : `${messageId}:${requestId}`

const nodeOf = (
  envelope: Envelope,
  messageId: string | undefined,
  requestId: string | undefined,
  model: string,
  usage: Usage
): Node => ({
  key: keyOf(messageId, requestId, envelope),
  at: envelope.at,
  model,
  sessionId: envelope.sessionId,
  agentId: envelope.agentId,
  input: usage.input_tokens,
  output: usage.output_tokens,
  cacheWrite: usage.cache_creation_input_tokens,
  cacheRead: usage.cache_read_input_tokens,
  baseIndex: -1,
  version: 0,
  prev: undefined
})

/**
 * Folds the usage of one answered request: a response (`ModelResponded`), a compaction's summary
 * (`ContextCompacted`, counted as a response without a message id) or a memory pass's answer
 * (`MemoryExtracted`, counted as a response: once per message id and request id).
 */
export const evolve = (state: State, envelope: Envelope): State => {
  const event = envelope.event
  let node: Node
  switch (event._tag) {
    case "ModelResponded":
      node = nodeOf(envelope, event.messageId, event.requestId, event.model, event.usage)
      break
    case "ContextCompacted":
      node = nodeOf(envelope, undefined, event.requestId, event.model ?? "", event.usage)
      break
    case "MemoryExtracted":
      node = nodeOf(envelope, event.messageId, event.requestId, event.model, event.usage)
      break
    default:
      return state
  }
  if (state.store !== undefined && state.store.latest === state.version) {
    // The common case: a node and a state, nothing else.
    const version = state.version + 1
    if (!upsert(state.store, version, node)) return state
    state.store.latest = version
    return { store: state.store, version }
  }
  return insertAll(state, [node])
}

// Bases ---------------------------------------------------------------------------------------

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** The index of `s` in a sorted table, or -1. */
const find = (table: ReadonlyArray<string>, s: string): number => {
  let lo = 0
  let hi = table.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const other = table[mid]!
    if (s === other) return mid
    if (s > other) lo = mid + 1
    else hi = mid
  }
  return -1
}

/** The sorted union of two sorted tables. */
const union = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): ReadonlyArray<string> => {
  if (b.length === 0) return a
  if (a.length === 0) return b
  const out: Array<string> = []
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const x = a[i]!
    const y = b[j]!
    if (x <= y) i++
    if (y <= x) j++
    out.push(x < y ? x : y)
  }
  while (i < a.length) out.push(a[i++]!)
  while (j < b.length) out.push(b[j++]!)
  return out
}

/**
 * Where the strings of sorted table `from` are in sorted table `to`: undefined when each is at
 * the same index — the common case (no string gone, new ones sorting last), where the indexes
 * are copied without a loop in JS. A string `to` lacks maps anywhere: no row copied uses it.
 */
const remapOf = (from: ReadonlyArray<string>, to: ReadonlyArray<string>): Uint32Array | undefined => {
  let same = to.length >= from.length
  for (let i = 0; same && i < from.length; i++) same = from[i] === to[i]
  if (same) return undefined
  const out = new Uint32Array(from.length)
  let j = 0
  for (let i = 0; i < from.length; i++) {
    while (j < to.length && to[j]! < from[i]!) j++
    out[i] = j
  }
  return out
}

type Remaps = PerField<Uint32Array | undefined>

/**
 * A base being written in key order, into tables fixed beforehand: rows of other bases (runs of
 * them copied whole) and entries.
 */
interface Builder {
  size: number
  readonly keys: Array<string>
  readonly keyLengths: Uint32Array
  readonly at: Array<string>
  readonly atLengths: Uint32Array
  readonly tables: PerField<ReadonlyArray<string>>
  /** Per base copied from, where its tables' strings are in ours. */
  readonly remaps: Map<Base, Remaps>
  readonly model: Uint32Array
  readonly session: Uint32Array
  readonly agent: Uint32Array
  readonly input: Float64Array
  readonly output: Float64Array
  readonly cacheWrite: Float64Array
  readonly cacheRead: Float64Array
  /** Rows `from`…`to` of `run`, to be copied. */
  run: Base | undefined
  from: number
  to: number
}

const builder = (capacity: number, tables: PerField<ReadonlyArray<string>>, remaps: Map<Base, Remaps>): Builder => ({
  size: 0,
  keys: [],
  keyLengths: new Uint32Array(capacity),
  at: [],
  atLengths: new Uint32Array(capacity),
  tables,
  remaps,
  model: new Uint32Array(capacity),
  session: new Uint32Array(capacity),
  agent: new Uint32Array(capacity),
  input: new Float64Array(capacity),
  output: new Float64Array(capacity),
  cacheWrite: new Float64Array(capacity),
  cacheRead: new Float64Array(capacity),
  run: undefined,
  from: 0,
  to: 0
})

const copyIndexes = (out: Uint32Array, at: number, column: Counts, from: number, to: number, remap?: Uint32Array) => {
  if (remap === undefined) {
    out.set(column.subarray(from, to), at)
    return
  }
  for (let i = from, o = at; i < to; i++, o++) out[o] = remap[column[i]!]!
}

/** Copies rows `from`…`to` of `base`: natively, but for the indexes of a table that changed. */
const copyRun = (b: Builder, base: Base, from: number, to: number) => {
  const n = b.size
  const ends = endsOf(base)
  b.keys.push(base.keys.slice(startOf(ends.key, from), ends.key[to - 1]))
  b.at.push(base.at.slice(startOf(ends.at, from), ends.at[to - 1]))
  b.keyLengths.set(base.keyLengths.subarray(from, to), n)
  b.atLengths.set(base.atLengths.subarray(from, to), n)
  b.input.set(base.input.subarray(from, to), n)
  b.output.set(base.output.subarray(from, to), n)
  b.cacheWrite.set(base.cacheWrite.subarray(from, to), n)
  b.cacheRead.set(base.cacheRead.subarray(from, to), n)
  const remaps = b.remaps.get(base)
  copyIndexes(b.model, n, base.model, from, to, remaps?.model)
  copyIndexes(b.session, n, base.session, from, to, remaps?.session)
  copyIndexes(b.agent, n, base.agent, from, to, remaps?.agent)
  b.size = n + to - from
}

const flush = (b: Builder) => {
  if (b.run !== undefined && b.to > b.from) copyRun(b, b.run, b.from, b.to)
  b.run = undefined
}

/** Appends rows `from`…`to` of `base`. */
const pushRows = (b: Builder, base: Base, from: number, to: number) => {
  if (b.run === base && b.to === from) {
    b.to = to
    return
  }
  flush(b)
  b.run = base
  b.from = from
  b.to = to
}

/** Appends an entry, its model, session and agent at these indexes of the tables. */
const pushEntry = (b: Builder, entry: Entry, model: number, session: number, agent: number) => {
  flush(b)
  const o = b.size
  b.keys.push(entry.key)
  b.keyLengths[o] = entry.key.length
  b.at.push(entry.at)
  b.atLengths[o] = entry.at.length
  b.model[o] = model
  b.session[o] = session
  b.agent[o] = agent
  b.input[o] = entry.input
  b.output[o] = entry.output
  b.cacheWrite[o] = entry.cacheWrite
  b.cacheRead[o] = entry.cacheRead
  b.size = o + 1
}

const finish = (b: Builder, uses: PerField<Uint32Array> | undefined): Base => {
  flush(b)
  const n = b.size
  return {
    size: n,
    keys: b.keys.join(""),
    keyLengths: b.keyLengths.subarray(0, n),
    at: b.at.join(""),
    atLengths: b.atLengths.subarray(0, n),
    tables: b.tables,
    model: b.model.subarray(0, n),
    session: b.session.subarray(0, n),
    agent: b.agent.subarray(0, n),
    input: b.input.subarray(0, n),
    output: b.output.subarray(0, n),
    cacheWrite: b.cacheWrite.subarray(0, n),
    cacheRead: b.cacheRead.subarray(0, n),
    ends: undefined,
    uses,
    encoded: undefined
  }
}

/** What the state sees, as one base: its base with its map's entries in their places; made once per version. */
const compact = (state: State): Base => {
  const store = state.store
  if (store === undefined) return emptyBase
  if (store.compacted?.version !== state.version) {
    store.compacted = { version: state.version, base: compactAnew(store, state.version) }
  }
  return store.compacted.base
}

/** The strings of some entries' field, each once in order of first sight, and how many use each. */
interface Sighted {
  readonly ids: Map<string, number>
  readonly strings: Array<string>
  readonly counts: Array<number>
}

const sighted = (): Sighted => ({ ids: new Map(), strings: [], counts: [] })

const sight = (seen: Sighted, s: string): number => {
  let id = seen.ids.get(s)
  if (id === undefined) {
    id = seen.strings.length
    seen.strings.push(s)
    seen.counts.push(0)
    seen.ids.set(s, id)
  }
  seen.counts[id]!++
  return id
}

/**
 * The base of what `version` of `store` sees. Its tables are the base's, less the strings only
 * hidden rows used, with the entries' strings; counting their uses takes the entries and the
 * base's counts, not a pass over the rows. A first fold's entries (tens of thousands, the base
 * empty) go through the same steps: one pass for their strings, one to write them.
 */
const compactAnew = (store: Store, version: number): Base => {
  const base = store.base
  const hiding: Array<Node> = []
  const fresh: Array<Node> = []
  for (const head of store.nodes.values()) {
    const node = visible(head, version)
    if (node !== undefined) (node.baseIndex >= 0 ? hiding : fresh).push(node)
  }
  if (hiding.length === 0 && fresh.length === 0) return base
  hiding.sort((x, y) => x.baseIndex - y.baseIndex)
  // Keys are distinct.
  fresh.sort((x, y) => (x.key < y.key ? -1 : 1))
  // The entries' strings, by id in order of first sight: hiding entries first, then fresh ones.
  const entries = hiding.length === 0 ? fresh : hiding.concat(fresh)
  const seen = { model: sighted(), session: sighted(), agent: sighted() }
  const ids = {
    model: new Uint32Array(entries.length),
    session: new Uint32Array(entries.length),
    agent: new Uint32Array(entries.length)
  }
  for (let k = 0; k < entries.length; k++) {
    const node = entries[k]!
    ids.model[k] = sight(seen.model, node.model)
    ids.session[k] = sight(seen.session, node.sessionId)
    ids.agent[k] = sight(seen.agent, node.agentId)
  }
  const baseUses = usesOf(base)
  const tables: Record<Field, ReadonlyArray<string>> = { model: [], session: [], agent: [] }
  const remaps: Record<Field, Uint32Array | undefined> = { model: undefined, session: undefined, agent: undefined }
  const uses: Record<Field, Uint32Array> = { model: baseUses.model, session: baseUses.session, agent: baseUses.agent }
  // Per field, the index in the new table of each id.
  const indexes: Record<Field, Uint32Array> = { model: ids.model, session: ids.session, agent: ids.agent }
  for (const field of FIELDS) {
    const table = base.tables[field]
    const { counts, strings } = seen[field]
    const left = baseUses[field].slice()
    for (const node of hiding) left[base[field][node.baseIndex]!]!--
    const kept = left.every((n) => n > 0) ? table : table.filter((_, i) => left[i]! > 0)
    const merged = union(kept, strings.filter((s) => find(kept, s) < 0).sort(byString))
    const remap = remapOf(table, merged)
    const counted = new Uint32Array(merged.length)
    for (let i = 0; i < table.length; i++) if (left[i]! > 0) counted[remap === undefined ? i : remap[i]!] = left[i]!
    const where = new Uint32Array(strings.length)
    for (let id = 0; id < strings.length; id++) {
      where[id] = find(merged, strings[id]!)
      counted[where[id]!]! += counts[id]!
    }
    tables[field] = merged
    remaps[field] = remap
    uses[field] = counted
    indexes[field] = where
  }
  const b = builder(base.size + fresh.length, tables, new Map([[base, remaps]]))
  const push = (k: number) =>
    pushEntry(
      b,
      entries[k]!,
      indexes.model[ids.model[k]!]!,
      indexes.session[ids.session[k]!]!,
      indexes.agent[ids.agent[k]!]!
    )
  let i = 0
  let h = 0
  // The base's rows up to `end`, each hidden one replaced by the entry hiding it.
  const copyTo = (end: number) => {
    while (i < end) {
      const next = h < hiding.length ? Math.min(hiding[h]!.baseIndex, end) : end
      if (next > i) {
        pushRows(b, base, i, next)
        i = next
      } else {
        push(h++)
        i++
      }
    }
  }
  if (base.size === 0) {
    // A first fold's tens of thousands of entries: one plain loop.
    const { agent, cacheRead, cacheWrite, input, model, output, session } = b
    for (let k = 0; k < entries.length; k++) {
      const node = entries[k]!
      b.keys.push(node.key)
      b.keyLengths[k] = node.key.length
      b.at.push(node.at)
      b.atLengths[k] = node.at.length
      model[k] = indexes.model[ids.model[k]!]!
      session[k] = indexes.session[ids.session[k]!]!
      agent[k] = indexes.agent[ids.agent[k]!]!
      input[k] = node.input
      output[k] = node.output
      cacheWrite[k] = node.cacheWrite
      cacheRead[k] = node.cacheRead
    }
    b.size = entries.length
  } else {
    for (let f = 0; f < fresh.length; f++) {
      copyTo(-1 - search(base, fresh[f]!.key))
      push(hiding.length + f)
    }
    copyTo(base.size)
  }
  return finish(b, uses)
}

/** `base` without the strings of its tables no row uses. */
const withoutUnused = (base: Base): Base => {
  const uses = usesOf(base)
  if (FIELDS.every((field) => uses[field].every((n) => n > 0))) return base
  const tables: Record<Field, ReadonlyArray<string>> = { ...base.tables }
  const columns: Record<Field, Counts> = { model: base.model, session: base.session, agent: base.agent }
  for (const field of FIELDS) {
    const kept = base.tables[field].filter((_, i) => uses[field][i]! > 0)
    const remap = remapOf(base.tables[field], kept)
    if (remap === undefined) continue
    const column = new Uint32Array(base.size)
    copyIndexes(column, 0, base[field], 0, base.size, remap)
    tables[field] = kept
    columns[field] = column
  }
  return { ...base, tables, ...columns, uses: undefined, encoded: undefined }
}

/**
 * Combines states folded from disjoint sets of files, `a` from the earlier ones: a key in both
 * keeps the larger entry (`a`'s on a tie), as one fold over `a`'s files then `b`'s would. One
 * pass over both, in key order, into a new base.
 */
export const merge = (a: State, b: State): State => {
  const x = compact(a)
  const y = compact(b)
  if (y.size === 0) return stateOf(x)
  if (x.size === 0) return stateOf(y)
  const tables: Record<Field, ReadonlyArray<string>> = { model: [], session: [], agent: [] }
  const xRemaps: Record<Field, Uint32Array | undefined> = { model: undefined, session: undefined, agent: undefined }
  const yRemaps: Record<Field, Uint32Array | undefined> = { model: undefined, session: undefined, agent: undefined }
  for (const field of FIELDS) {
    tables[field] = union(x.tables[field], y.tables[field])
    xRemaps[field] = remapOf(x.tables[field], tables[field])
    yRemaps[field] = remapOf(y.tables[field], tables[field])
  }
  const out = builder(x.size + y.size, tables, new Map([[x, xRemaps], [y, yRemaps]]))
  const xEnds = endsOf(x)
  const yEnds = endsOf(y)
  let i = 0
  let j = 0
  while (i < x.size && j < y.size) {
    const xKey = keyAt(x, xEnds, i)
    const yKey = keyAt(y, yEnds, j)
    if (xKey < yKey) {
      pushRows(out, x, i, i + 1)
      i++
    } else if (xKey > yKey) {
      pushRows(out, y, j, j + 1)
      j++
    } else {
      if (rowTotal(y, j) > rowTotal(x, i)) pushRows(out, y, j, j + 1)
      else pushRows(out, x, i, i + 1)
      i++
      j++
    }
  }
  pushRows(out, x, i, x.size)
  pushRows(out, y, j, y.size)
  // The smaller line of a response in both may have been the only one to use a string.
  return stateOf(withoutUnused(finish(out, undefined)))
}

// The checkpoint form ---------------------------------------------------------------------------

const StateFromSelf = Schema.declare(
  (u: unknown): u is State => typeof u === "object" && u !== null && "version" in u && "store" in u,
  { identifier: "UsageState" }
)

/** The checkpoint form of a base (see `codec`). */
interface Columns {
  readonly size: number
  readonly keys: string
  /** The length of each key: numbers in base64, as every column below but `at` and the tables. */
  readonly keyLengths: string
  readonly at: string
  readonly atLengths: string
  readonly models: ReadonlyArray<string>
  readonly sessions: ReadonlyArray<string>
  readonly agents: ReadonlyArray<string>
  readonly model: string
  readonly session: string
  readonly agent: string
  readonly input: string
  readonly output: string
  readonly cacheWrite: string
  readonly cacheRead: string
}

/** A checkpoint (see `codec`): a base's columns, with the entries the state holds over them. */
interface Checkpoint extends Columns {
  readonly overlay?: Columns
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** The narrowest of uint8, uint16 and uint32 that holds `max`, with `column`'s numbers. */
const narrowTo = (column: Numbers, max: number): Counts => {
  const Type = max <= 0xff ? Uint8Array : max <= 0xffff ? Uint16Array : Uint32Array
  return column instanceof Type ? column : new Type(column)
}

const bytesOf = (column: Numbers): Buffer => Buffer.from(column.buffer, column.byteOffset, column.byteLength)

/**
 * `column` in the narrowest array that holds its numbers exactly: uint32, then uint16, then
 * uint8, for as long as narrowing and widening back gives the same bytes (not so for a fraction,
 * a negative number, -0, or one too large). Native copies and a byte compare: no loop in JS over
 * 40,000 numbers, which would run before the JIT has compiled it.
 */
const narrowest = (column: Numbers): Numbers => {
  let best = column
  if (best instanceof Float64Array) {
    const narrow = new Uint32Array(best)
    if (!bytesOf(new Float64Array(narrow)).equals(bytesOf(best))) return best
    best = narrow
  }
  if (best instanceof Uint32Array) {
    const narrow = new Uint16Array(best)
    if (!bytesOf(new Uint32Array(narrow)).equals(bytesOf(best))) return best
    best = narrow
  }
  if (best instanceof Uint16Array) {
    const narrow = new Uint8Array(best)
    if (!bytesOf(new Uint16Array(narrow)).equals(bytesOf(best))) return best
    best = narrow
  }
  return best
}

/** A column in base64: its numbers' bytes, little-endian. */
const toBase64 = (column: Numbers): string => {
  const bytes = bytesOf(column)
  if (littleEndian || column.BYTES_PER_ELEMENT === 1) return bytes.toString("base64")
  const copy = Buffer.from(bytes)
  const swapped = column.BYTES_PER_ELEMENT === 2
    ? copy.swap16()
    : column.BYTES_PER_ELEMENT === 4
    ? copy.swap32()
    : copy.swap64()
  return swapped.toString("base64")
}

/**
 * `count` numbers from base64, their width (1, 2, 4 or 8 bytes) given by the bytes there are:
 * whole numbers of 1, 2 or 4 bytes, float64s of 8 when `floats`. Undefined for anything else.
 */
const fromBase64 = (text: unknown, count: number, floats: boolean): Numbers | undefined => {
  if (typeof text !== "string") return undefined
  let bytes = Buffer.from(text, "base64")
  // Buffer.from skips what is not base64: then the lengths do not agree.
  if (text.length !== Math.ceil(bytes.byteLength / 3) * 4) return undefined
  if (count === 0) return bytes.byteLength === 0 ? new Uint8Array(0) : undefined
  const width = bytes.byteLength / count
  if (width !== 1 && width !== 2 && width !== 4 && !(width === 8 && floats)) return undefined
  if (!littleEndian && width > 1) {
    if (width === 2) bytes.swap16()
    else if (width === 4) bytes.swap32()
    else bytes.swap64()
  }
  // A typed array starts at a multiple of its width.
  if (bytes.byteOffset % width !== 0) bytes = Buffer.from(new Uint8Array(bytes))
  const { buffer, byteOffset } = bytes
  return width === 1
    ? new Uint8Array(buffer, byteOffset, count)
    : width === 2
    ? new Uint16Array(buffer, byteOffset, count)
    : width === 4
    ? new Uint32Array(buffer, byteOffset, count)
    : new Float64Array(buffer, byteOffset, count)
}

const countsFrom = (text: unknown, count: number): Counts | undefined =>
  fromBase64(text, count, false) as Counts | undefined

const encodeBase = (base: Base): Columns => {
  if (base.encoded === undefined) {
    const { agent, model, session } = base.tables
    base.encoded = {
      size: base.size,
      keys: base.keys,
      keyLengths: toBase64(narrowest(base.keyLengths)),
      at: base.at,
      atLengths: toBase64(narrowest(base.atLengths)),
      models: model,
      sessions: session,
      agents: agent,
      model: toBase64(narrowTo(base.model, model.length - 1)),
      session: toBase64(narrowTo(base.session, session.length - 1)),
      agent: toBase64(narrowTo(base.agent, agent.length - 1)),
      input: toBase64(narrowest(base.input)),
      output: toBase64(narrowest(base.output)),
      cacheWrite: toBase64(narrowest(base.cacheWrite)),
      cacheRead: toBase64(narrowest(base.cacheRead))
    }
  }
  return base.encoded
}

/** An array of strings, each once; `sorted`: in ascending order. */
const stringTable = (name: string, strings: unknown, sorted: boolean): ReadonlyArray<string> | string => {
  if (!Array.isArray(strings)) return `${name}: expected [...]`
  const seen = new Set<string>()
  for (let i = 0; i < strings.length; i++) {
    const s: unknown = strings[i]
    if (typeof s !== "string" || seen.has(s) || (sorted && i > 0 && !(strings[i - 1] < s))) {
      return `${name}[${i}]: expected a string, each once${sorted ? ", in ascending order" : ""}`
    }
    seen.add(s)
  }
  return strings as ReadonlyArray<string>
}

/** The columns `encodeBase` writes, each of the right size. */
const readColumns = (c: Record<string, unknown>): Parts | string => {
  const n = c.size
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) return "size: expected a count"
  const { at, keys } = c
  if (typeof keys !== "string") return "keys: expected a string"
  if (typeof at !== "string") return "at: expected a string"
  const models = stringTable("models", c.models, true)
  if (typeof models === "string") return models
  const sessions = stringTable("sessions", c.sessions, true)
  if (typeof sessions === "string") return sessions
  const agents = stringTable("agents", c.agents, true)
  if (typeof agents === "string") return agents
  const keyLengths = countsFrom(c.keyLengths, n)
  const atLengths = countsFrom(c.atLengths, n)
  const model = countsFrom(c.model, n)
  const session = countsFrom(c.session, n)
  const agent = countsFrom(c.agent, n)
  const input = fromBase64(c.input, n, true)
  const output = fromBase64(c.output, n, true)
  const cacheWrite = fromBase64(c.cacheWrite, n, true)
  const cacheRead = fromBase64(c.cacheRead, n, true)
  if (keyLengths === undefined || atLengths === undefined) {
    return `keyLengths, atLengths: expected ${n} lengths each, in base64`
  }
  if (model === undefined || session === undefined || agent === undefined) {
    return `model, session, agent: expected ${n} indexes each, in base64`
  }
  if (input === undefined || output === undefined || cacheWrite === undefined || cacheRead === undefined) {
    return `input, output, cacheWrite, cacheRead: expected ${n} numbers each, in base64`
  }
  return {
    size: n,
    keys,
    keyLengths,
    at,
    atLengths,
    tables: { model: models, session: sessions, agent: agents },
    model,
    session,
    agent,
    input,
    output,
    cacheWrite,
    cacheRead
  }
}

const LEGACY = ["keys", "at", "model", "session", "agent", "input", "output", "cacheWrite", "cacheRead"] as const

/**
 * The columns of checkpoints written before bases (one JSON array per field, sorted by key alike,
 * models, sessions and agents indexing one table): they load without a rebuild, and are written
 * in the new form next time.
 */
const readLegacyColumns = (c: Record<string, unknown>): Parts | string => {
  for (const name of LEGACY) if (!Array.isArray(c[name])) return `expected ${name}: [...]`
  const columns = c as { readonly [K in typeof LEGACY[number]]: ReadonlyArray<unknown> }
  const n = columns.keys.length
  for (const name of LEGACY) if (columns[name].length !== n) return `${name}: expected ${n} values, one per key`
  const strings = stringTable("strings", c.strings, false)
  if (typeof strings === "string") return strings
  const text = (column: ReadonlyArray<unknown>) => {
    const lengths = new Uint32Array(n)
    for (let i = 0; i < n; i++) {
      const value = column[i]
      if (typeof value !== "string") return undefined
      lengths[i] = value.length
    }
    return { text: (column as ReadonlyArray<string>).join(""), lengths }
  }
  const numbers = (column: ReadonlyArray<unknown>) => {
    const out = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      const value = column[i]
      if (typeof value !== "number") return undefined
      out[i] = value
    }
    return out
  }
  // Indexes into `strings` as indexes into a sorted table of the strings they use.
  const split = (column: ReadonlyArray<unknown>) => {
    const used = new Set<number>()
    for (let i = 0; i < n; i++) {
      const value = column[i]
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value >= strings.length) {
        return undefined
      }
      used.add(value)
    }
    const table = [...used].map((index) => strings[index]!).sort(byString)
    const where = new Map(table.map((s, index) => [s, index]))
    const indexes = new Uint32Array(n)
    for (let i = 0; i < n; i++) indexes[i] = where.get(strings[column[i] as number]!)!
    return { table, indexes }
  }
  const keys = text(columns.keys)
  const at = text(columns.at)
  const model = split(columns.model)
  const session = split(columns.session)
  const agent = split(columns.agent)
  const input = numbers(columns.input)
  const output = numbers(columns.output)
  const cacheWrite = numbers(columns.cacheWrite)
  const cacheRead = numbers(columns.cacheRead)
  if (
    keys === undefined || at === undefined || model === undefined || session === undefined || agent === undefined ||
    input === undefined || output === undefined || cacheWrite === undefined || cacheRead === undefined
  ) return "expected per entry a key, an instant, three string indexes and four numbers"
  return {
    size: n,
    keys: keys.text,
    keyLengths: keys.lengths,
    at: at.text,
    atLengths: at.lengths,
    tables: { model: model.table, session: session.table, agent: agent.table },
    model: model.indexes,
    session: session.indexes,
    agent: agent.indexes,
    input,
    output,
    cacheWrite,
    cacheRead
  }
}

const finite = (column: Numbers): boolean => {
  if (!(column instanceof Float64Array)) return true
  // x - x is NaN for NaN and ±Infinity.
  for (let i = 0; i < column.length; i++) if (column[i]! - column[i]! !== 0) return false
  return true
}

/**
 * The base of checked parts, or why they are not one, in one loop over the rows, kept short
 * (it runs before the JIT has compiled it): keys and instants cut where their lengths say, keys
 * strictly ascending, indexes within their tables and every string of a table used — the one
 * form `encodeBase` writes, so that equal bases have one encoding — and token counts finite.
 */
const assemble = (parts: Parts): Base | string => {
  const { agent, at, atLengths, keyLengths, keys, model, session, size: n, tables } = parts
  const keyEnds = new Uint32Array(n)
  const atEnds = new Uint32Array(n)
  const models = tables.model.length
  const sessions = tables.session.length
  const agents = tables.agent.length
  const uses = { model: new Uint32Array(models), session: new Uint32Array(sessions), agent: new Uint32Array(agents) }
  const modelUses = uses.model
  const sessionUses = uses.session
  const agentUses = uses.agent
  let keyEnd = 0
  let atEnd = 0
  let previous = ""
  for (let i = 0; i < n; i++) {
    const keyStart = keyEnd
    keyEnds[i] = keyEnd += keyLengths[i]!
    atEnds[i] = atEnd += atLengths[i]!
    const key = keys.slice(keyStart, keyEnd)
    if (i > 0 && !(previous < key)) return `keys: ${i} is not after ${i - 1}`
    previous = key
    const m = model[i]!
    const s = session[i]!
    const a = agent[i]!
    if (m >= models || s >= sessions || a >= agents) return `row ${i}: an index past its table`
    modelUses[m]!++
    sessionUses[s]!++
    agentUses[a]!++
  }
  // The ends only grow: these two bound them all.
  if (keyEnd !== keys.length || atEnd !== at.length) return "keyLengths, atLengths: not the lengths of keys, at"
  for (const field of FIELDS) if (!uses[field].every((count) => count > 0)) return `${field}: a string no row uses`
  if (!finite(parts.input) || !finite(parts.output) || !finite(parts.cacheWrite) || !finite(parts.cacheRead)) {
    return "input, output, cacheWrite, cacheRead: expected finite numbers"
  }
  return {
    size: n,
    keys,
    keyLengths,
    at,
    atLengths,
    tables,
    model,
    session,
    agent,
    input: parts.input,
    output: parts.output,
    cacheWrite: parts.cacheWrite,
    cacheRead: parts.cacheRead,
    ends: { key: keyEnds, at: atEnds },
    uses,
    encoded: undefined
  }
}

const isRecord = (json: unknown): json is Record<string, unknown> =>
  typeof json === "object" && json !== null && !Array.isArray(json)

/** The base of checkpoint columns (either form), or why they are not one. */
const decodeBase = (c: Record<string, unknown>): Base | string => {
  const legacy = Array.isArray(c.keys)
  const parts = legacy ? readLegacyColumns(c) : readColumns(c)
  if (typeof parts === "string") return parts
  const base = assemble(parts)
  if (typeof base === "string" || legacy) return base
  // What was read is what `encodeBase` would write again, or as good.
  base.encoded = {
    size: base.size,
    keys: base.keys,
    keyLengths: c.keyLengths as string,
    at: base.at,
    atLengths: c.atLengths as string,
    models: base.tables.model,
    sessions: base.tables.session,
    agents: base.tables.agent,
    model: c.model as string,
    session: c.session as string,
    agent: c.agent as string,
    input: c.input as string,
    output: c.output as string,
    cacheWrite: c.cacheWrite as string,
    cacheRead: c.cacheRead as string
  }
  return base
}

/**
 * The state of a checkpoint, or why it is not one: its base, with the overlay's rows put over it
 * as a fold would put them (a row replaces the base's of its key only with more tokens), each a
 * node of the map at version 1. The overlay's rows cost a search of the base each, not a new base.
 */
const decodeState = (json: unknown): State | string => {
  if (!isRecord(json)) return "expected { size, keys, … }"
  const base = decodeBase(json)
  if (typeof base === "string") return base
  if (json.overlay === undefined) return stateOf(base)
  if (!isRecord(json.overlay)) return "overlay: expected { size, keys, … }"
  // The form `encodeBase` writes only: overlays came after the earlier form.
  const parts = readColumns(json.overlay)
  const overlay = typeof parts === "string" ? parts : assemble(parts)
  if (typeof overlay === "string") return `overlay: ${overlay}`
  const store: Store = { base, nodes: new Map(), latest: 1, fresh: 0, compacted: undefined }
  const ends = endsOf(overlay)
  for (let i = 0; i < overlay.size; i++) upsert(store, 1, makeNode(rowEntry(overlay, ends, i), -1, 1, undefined))
  return store.nodes.size === 0 ? stateOf(base) : { store, version: 1 }
}

/**
 * Most rows an overlay holds per row of its base: 1/16. Every load builds a node per overlay row
 * (a search of the base each: about 7 µs a row before the JIT has compiled it), while a new base
 * costs one pass over the state and a write of all of it (on 40,000 rows, some 25 ms to encode
 * and as much again to write). At a sixteenth, the largest overlay (2,500 rows of 40,000) costs a
 * load about what making a new base costs a save. Runs that fold 1% more each write overlays of
 * 1%, 2%, … 6% of the rows, and the seventh a new base. A quarter would let overlays cost loads
 * four times as much, and make the new base, with that many more entries, slower too.
 */
const OVERLAY_SHARE = 1 / 16

/** What `codec` writes (see there): the base's own columns and an overlay, or the state as one new base. */
const encodeState = (state: State): Checkpoint => {
  const store = state.store
  if (store !== undefined && store.base.size > 0) {
    const overlay: Array<Node> = []
    for (const head of store.nodes.values()) {
      const node = visible(head, state.version)
      if (node !== undefined) overlay.push(node)
    }
    if (overlay.length === 0) return encodeBase(store.base)
    if (overlay.length <= store.base.size * OVERLAY_SHARE) {
      // The base's cached columns: the very strings it was decoded from, or encoded once.
      return { ...encodeBase(store.base), overlay: encodeBase(baseOfEntries(overlay)) }
    }
  }
  return encodeBase(compact(state))
}

/** A sorted table of the strings of a column, each once, and where each row's string is in it. */
const tabulate = (column: ReadonlyArray<string>): { readonly table: Array<string>; readonly indexes: Uint32Array } => {
  const table = [...new Set(column)].sort(byString)
  const where = new Map<string, number>()
  for (let i = 0; i < table.length; i++) where.set(table[i]!, i)
  const indexes = new Uint32Array(column.length)
  for (let i = 0; i < column.length; i++) indexes[i] = where.get(column[i]!)!
  return { table, indexes }
}

/**
 * A base of entries with distinct keys (sorted here, in place): an overlay to write, a few hundred
 * rows. Plainer than going through a store of their own and `compactAnew`, at half the cost: a
 * resumed run writes it once, before the JIT has compiled any of it.
 */
const baseOfEntries = (entries: Array<Entry>): Base => {
  entries.sort((x, y) => (x.key < y.key ? -1 : 1))
  const n = entries.length
  const keys: Array<string> = new Array(n)
  const at: Array<string> = new Array(n)
  const models: Array<string> = new Array(n)
  const sessions: Array<string> = new Array(n)
  const agents: Array<string> = new Array(n)
  const keyLengths = new Uint32Array(n)
  const atLengths = new Uint32Array(n)
  const input = new Float64Array(n)
  const output = new Float64Array(n)
  const cacheWrite = new Float64Array(n)
  const cacheRead = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const entry = entries[i]!
    keys[i] = entry.key
    keyLengths[i] = entry.key.length
    at[i] = entry.at
    atLengths[i] = entry.at.length
    models[i] = entry.model
    sessions[i] = entry.sessionId
    agents[i] = entry.agentId
    input[i] = entry.input
    output[i] = entry.output
    cacheWrite[i] = entry.cacheWrite
    cacheRead[i] = entry.cacheRead
  }
  const model = tabulate(models)
  const session = tabulate(sessions)
  const agent = tabulate(agents)
  return {
    size: n,
    keys: keys.join(""),
    keyLengths,
    at: at.join(""),
    atLengths,
    tables: { model: model.table, session: session.table, agent: agent.table },
    model: model.indexes,
    session: session.indexes,
    agent: agent.indexes,
    input,
    output,
    cacheWrite,
    cacheRead,
    ends: undefined,
    uses: undefined,
    encoded: undefined
  }
}

/** JSON in the shape of columns, checked only at the top: `decodeState` checks the rest. */
const ColumnsJson: Schema.Schema<Json> = Schema.declare(
  (u: unknown): u is Json => isRecord(u),
  { identifier: "UsageColumns", description: "usage columns: { size, keys, keyLengths, … }" }
)

/**
 * The checkpoint form: a base (see `Base`) in columns, and an `overlay` of the same columns holding
 * the entries added or replaced since the base was made. `keys` and `at` are the keys and
 * instants one after the other, cut by `keyLengths` and `atLengths`; `model`, `session` and
 * `agent` index `models`, `sessions` and `agents`, each the sorted strings the rows use. Every
 * numeric column is base64 of little-endian numbers, each as wide as the column needs (its bytes
 * over `size`): uint8, uint16 or uint32 for whole numbers, float64 for token counts that are not.
 * Parsing and writing a few long strings costs a fraction of 40,000 small values each, and
 * decoding builds no object per entry of the base.
 *
 * A state decoded from a checkpoint, and folded on, writes its base's columns as they were read
 * (the same strings: a writer can tell by `===` that they did not change) and what it folded as
 * the overlay, so saving costs what changed, not the whole state. When the overlay would hold
 * more than a sixteenth as many rows as the base (see `OVERLAY_SHARE`), or there is no base, the
 * state is written as one new base without an overlay. Equal states may therefore write
 * different checkpoints; they decode to the same entries. Overlay rows apply over the base by
 * the fold's rule: a row replaces the base's of its key only with more tokens. Checkpoints
 * without an overlay, and of the earlier form (a JSON array per field, no overlay), still decode.
 */
export const codec: Schema.Schema<State, Json> = Schema.transformOrFail(ColumnsJson, StateFromSelf, {
  strict: true,
  decode: (json, _, ast) => {
    const decoded = decodeState(json)
    return typeof decoded === "string"
      ? ParseResult.fail(new ParseResult.Type(ast, json, decoded))
      : ParseResult.succeed(decoded)
  },
  encode: (state) => ParseResult.succeed(encodeState(state) as unknown as Json)
})

// Reports ---------------------------------------------------------------------------------------

export type By = "day" | "session" | "model" | "agent"

/** Token counts and cost, under the names ccusage's JSON uses. */
export interface Totals {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheCreationTokens: number
  readonly cacheReadTokens: number
  readonly totalTokens: number
  /** Dollars; null when a model with tokens has no price. */
  readonly totalCost: number | null
}

export interface ModelBreakdown {
  readonly modelName: string
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheCreationTokens: number
  readonly cacheReadTokens: number
  readonly cost: number | null
}

export interface Row extends Totals {
  /** The day (YYYY-MM-DD), session id, model or agent path. */
  readonly key: string
  /** The models used, in the order of first use; neither an unnamed model nor `<synthetic>`. */
  readonly modelsUsed: ReadonlyArray<string>
  readonly modelBreakdowns: ReadonlyArray<ModelBreakdown>
  /** The day of the first and of the last response counted in the row. */
  readonly firstActivity: string
  readonly lastActivity: string
}

export interface Report {
  readonly by: By
  readonly timeZone: string
  readonly rows: ReadonlyArray<Row>
  readonly totals: Totals
}

export interface ReportOptions {
  readonly by: By
  /** An IANA time zone for days (default UTC). */
  readonly timeZone?: string
  /** Only responses of this day (YYYY-MM-DD) or later. */
  readonly since?: string
  /** Only responses of this day (YYYY-MM-DD) or earlier. */
  readonly until?: string
  readonly prices?: Pricing.PriceTable
}

/** What costs are based on, for the user to read next to them. */
export const costBasis = "weft's price table (Anthropic list prices in USD per million tokens, cache writes at " +
  "the 5-minute rate; settings \"pricing\" overrides or adds models); \u2014 marks a model without a price"

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/

const isUtc = (timeZone: string): boolean => timeZone === "UTC" || timeZone === "Etc/UTC"

/** Whether `timeZone` is a time zone Intl knows (an IANA name such as `Europe/Paris`, or `UTC`). */
export const isTimeZone = (timeZone: string): boolean => {
  // Without Intl: making a first DateTimeFormat loads the time zone data (~15 ms).
  if (isUtc(timeZone)) return true
  try {
    new Intl.DateTimeFormat("en-US", { timeZone })
    return true
  } catch {
    return false
  }
}

/** The day (YYYY-MM-DD) of an instant in a time zone; "unknown" for a time that does not parse. */
export const dayIn = (timeZone: string): (at: string) => string => {
  // Made once needed: in UTC, instants in Z take their day from their text.
  let format: Intl.DateTimeFormat | undefined
  const utc = isUtc(timeZone)
  // Every zone's offset is a whole number of minutes: instants of one minute share a day.
  const cache = new Map<string, string>()
  const compute = (at: string): string => {
    const date = new Date(at)
    if (Number.isNaN(date.getTime())) return "unknown"
    let year = "", month = "", day = ""
    format ??= new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
    for (const part of format.formatToParts(date)) {
      if (part.type === "year") year = part.value
      else if (part.type === "month") month = part.value
      else if (part.type === "day") day = part.value
    }
    return `${year.padStart(4, "0")}-${month}-${day}`
  }
  return (at) => {
    const zulu = ISO_UTC.test(at) && at.endsWith("Z")
    if (utc && zulu) return at.slice(0, 10)
    if (!zulu) return compute(at)
    const minute = at.slice(0, 16)
    let day = cache.get(minute)
    if (day === undefined) {
      day = compute(at)
      cache.set(minute, day)
    }
    return day
  }
}

/** The cost of one entry: 0 for no tokens at all, whatever the model; null for an unpriced model. */
export const costOf = (entry: Entry, prices: Pricing.PriceTable = Pricing.defaults): number | null =>
  totalOf(entry) === 0 ? 0 : Pricing.cost(entry.model, {
    input_tokens: entry.input,
    output_tokens: entry.output,
    cache_creation_input_tokens: entry.cacheWrite,
    cache_read_input_tokens: entry.cacheRead
  }, prices)

interface Accumulator {
  input: number
  output: number
  cacheWrite: number
  cacheRead: number
  cost: number | null
}

const accumulator = (): Accumulator => ({ input: 0, output: 0, cacheWrite: 0, cacheRead: 0, cost: 0 })

/** Adds row `i` of `base`, which costs `cost`. */
const add = (acc: Accumulator, base: Base, i: number, cost: number | null) => {
  acc.input += base.input[i]!
  acc.output += base.output[i]!
  acc.cacheWrite += base.cacheWrite[i]!
  acc.cacheRead += base.cacheRead[i]!
  acc.cost = Pricing.add(acc.cost, cost)
}

const totals = (acc: Accumulator): Totals => ({
  inputTokens: acc.input,
  outputTokens: acc.output,
  cacheCreationTokens: acc.cacheWrite,
  cacheReadTokens: acc.cacheRead,
  totalTokens: acc.input + acc.output + acc.cacheWrite + acc.cacheRead,
  totalCost: acc.cost
})

const SYNTHETIC = "<synthetic>"

/** The name a model goes by in a report: "unknown" for a response that did not name it. */
export const modelName = (model: string): string => (model === "" ? "unknown" : model)

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/**
 * Totals by day, session, model or agent, each row with the models used and a breakdown by
 * model, and the totals of all rows. Responses outside `since`…`until` (days in `timeZone`) are
 * left out. Rows: days, sessions (by last activity) and agents in ascending order, models by
 * tokens, most first.
 */
export const report = (state: State, options: ReportOptions): Report => {
  const timeZone = options.timeZone ?? "UTC"
  const table = options.prices ?? Pricing.defaults
  // One lookup per model, not per response.
  const known = new Map<string, Pricing.PriceTable>()
  const prices = (model: string): Pricing.PriceTable => {
    let one = known.get(model)
    if (one === undefined) {
      const price = Pricing.find(model, table)
      one = price === undefined ? {} : { [model]: price }
      known.set(model, one)
    }
    return one
  }
  const dayOf = dayIn(timeZone)
  // Straight from the columns: row numbers and days, no object per response.
  const base = compact(state)
  const { tables } = base
  const ends = endsOf(base).at
  // Rows in key order, each once, with no sort by instant: a group's first and last activity
  // and the order its models were first used in are kept as the earliest and latest (instant,
  // row) met. Sorting 40,000 rows by instant cost more than the rest of the report.
  interface Seen {
    at: string
    row: number
  }
  const before = (at: string, row: number, seen: Seen) => at < seen.at || (at === seen.at && row < seen.row)
  interface Model {
    readonly acc: Accumulator
    readonly first: Seen
  }
  interface Group {
    readonly key: string
    readonly acc: Accumulator
    readonly models: Map<string, Model>
    readonly first: Seen & { day: string }
    readonly last: Seen & { day: string }
  }
  const groups = new Map<string, Group>()
  const overall = accumulator()
  for (let i = 0; i < base.size; i++) {
    const at = base.at.slice(startOf(ends, i), ends[i])
    const day = dayOf(at)
    if ((options.since !== undefined && day < options.since) || (options.until !== undefined && day > options.until)) {
      continue
    }
    const entryModel = tables.model[base.model[i]!]!
    const key = options.by === "day"
      ? day
      : options.by === "session"
      ? tables.session[base.session[i]!]!
      : options.by === "model"
      ? modelName(entryModel)
      : tables.agent[base.agent[i]!]!
    let group = groups.get(key)
    if (group === undefined) {
      group = {
        key,
        acc: accumulator(),
        models: new Map(),
        first: { at, row: i, day },
        last: { at, row: i, day }
      }
      groups.set(key, group)
    } else if (before(at, i, group.first)) {
      group.first.at = at
      group.first.row = i
      group.first.day = day
    } else if (!before(at, i, group.last)) {
      group.last.at = at
      group.last.row = i
      group.last.day = day
    }
    const cost = rowTotal(base, i) === 0 ? 0 : Pricing.cost(entryModel, {
      input_tokens: base.input[i]!,
      output_tokens: base.output[i]!,
      cache_creation_input_tokens: base.cacheWrite[i]!,
      cache_read_input_tokens: base.cacheRead[i]!
    }, prices(entryModel))
    add(group.acc, base, i, cost)
    add(overall, base, i, cost)
    let model = group.models.get(entryModel)
    if (model === undefined) {
      model = { acc: accumulator(), first: { at, row: i } }
      group.models.set(entryModel, model)
    } else if (before(at, i, model.first)) {
      model.first.at = at
      model.first.row = i
    }
    add(model.acc, base, i, cost)
  }

  const rows: Array<Row> = [...groups.values()].map((group) => {
    // In the order of first use.
    const models = [...group.models.entries()].sort(([, x], [, y]) =>
      compareStrings(x.first.at, y.first.at) || x.first.row - y.first.row
    )
    return {
      key: group.key,
      ...totals(group.acc),
      modelsUsed: models.map(([m]) => m).filter((m) => m !== "" && m !== SYNTHETIC),
      modelBreakdowns: models
        .filter(([m]) => m !== SYNTHETIC)
        .map(([m, { acc }]) => ({
          modelName: modelName(m),
          inputTokens: acc.input,
          outputTokens: acc.output,
          cacheCreationTokens: acc.cacheWrite,
          cacheReadTokens: acc.cacheRead,
          cost: acc.cost
        }))
        .sort((x, y) => (y.cost ?? Infinity) - (x.cost ?? Infinity) || compareStrings(x.modelName, y.modelName)),
      firstActivity: group.first.day,
      lastActivity: group.last.day
    }
  })
  rows.sort((x, y) => {
    switch (options.by) {
      case "day":
      case "agent":
        return compareStrings(x.key, y.key)
      case "session":
        return compareStrings(x.lastActivity, y.lastActivity) || compareStrings(x.key, y.key)
      case "model":
        return y.totalTokens - x.totalTokens || compareStrings(x.key, y.key)
    }
  })
  return { by: options.by, timeZone, rows, totals: totals(overall) }
}

// Tables ----------------------------------------------------------------------------------------

/** 1234567 → "1,234,567". */
export const thousands = (n: number): string => {
  const [whole, fraction] = String(n).split(".")
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ",")
  return fraction === undefined ? grouped : `${grouped}.${fraction}`
}

/** "$12.34"; "—" for an unknown cost. */
export const dollars = (cost: number | null): string => (cost === null ? "\u2014" : `$${cost.toFixed(2)}`)

/** `claude-sonnet-4-5-20250929` → `sonnet-4-5`, as ccusage shows models. */
export const shortModel = (model: string): string => model.replace(/^claude-/, "").replace(/-\d{8}$/, "")

const firstColumn: Record<By, string> = { day: "Date", session: "Session", model: "Model", agent: "Agent" }

/**
 * The report as a table with borders, like ccusage's: the key, the models used (one per line),
 * input, output, cache create, cache read, total tokens and cost, then a Total row. Numbers are
 * right-aligned with thousands separators; `color` styles the header and the Total row.
 */
export const table = (report: Report, options?: { readonly color?: boolean }): ReadonlyArray<string> => {
  const color = options?.color === true
  const withModels = report.by !== "model"
  const header = [
    firstColumn[report.by],
    ...(withModels ? ["Models"] : []),
    "Input",
    "Output",
    "Cache Create",
    "Cache Read",
    "Total Tokens",
    "Cost (USD)"
  ]
  const numbers = (t: Totals) => [
    thousands(t.inputTokens),
    thousands(t.outputTokens),
    thousands(t.cacheCreationTokens),
    thousands(t.cacheReadTokens),
    thousands(t.totalTokens),
    dollars(t.totalCost)
  ]
  const cells = (row: Row): Array<ReadonlyArray<string>> => [
    [row.key],
    ...(withModels ? [row.modelsUsed.map((m) => `- ${shortModel(m)}`)] : []),
    ...numbers(row).map((n) => [n])
  ]
  const body = report.rows.map(cells)
  const total: Array<ReadonlyArray<string>> = [
    ["Total"],
    ...(withModels ? [[]] : []),
    ...numbers(report.totals).map((n) => [n])
  ]
  const all = [header.map((h) => [h]), ...body, total]
  const widths = header.map((_, i) => Math.max(...all.map((row) => Math.max(0, ...row[i]!.map((l) => l.length)))))
  const leftAligned = withModels ? 2 : 1
  const style = (
    text: string,
    code: string
  ) => (color && text.trim() !== "" ? `\u001b[${code}m${text}\u001b[39m` : text)
  const rule = (left: string, middle: string, right: string) =>
    left + widths.map((w) => "\u2500".repeat(w + 2)).join(middle) + right
  const render = (row: Array<ReadonlyArray<string>>, code?: string): Array<string> => {
    const height = Math.max(1, ...row.map((cell) => cell.length))
    const out: Array<string> = []
    for (let line = 0; line < height; line++) {
      out.push(
        "\u2502" + row.map((cell, i) => {
          const text = cell[line] ?? ""
          const padded = i < leftAligned ? text.padEnd(widths[i]!) : text.padStart(widths[i]!)
          return ` ${code === undefined ? padded : style(padded, code)} `
        }).join("\u2502") + "\u2502"
      )
    }
    return out
  }
  const lines = [rule("\u250c", "\u252c", "\u2510"), ...render(all[0]!, "36")]
  for (const row of body) lines.push(rule("\u251c", "\u253c", "\u2524"), ...render(row))
  lines.push(rule("\u251c", "\u253c", "\u2524"), ...render(total, "33"), rule("\u2514", "\u2534", "\u2518"))
  return lines
}

/** The JSON form of a report, shaped like ccusage's (`{ daily: [{ date, … }], totals }` by day). */
export const json = (report: Report): Record<string, unknown> => {
  const name = { day: "daily", session: "sessions", model: "models", agent: "agents" }[report.by]
  const keyName = { day: "date", session: "sessionId", model: "model", agent: "agentId" }[report.by]
  return {
    [name]: report.rows.map(({ firstActivity, key, lastActivity, ...row }) => ({
      [keyName]: key,
      ...(report.by === "session" ? { firstActivity, lastActivity } : {}),
      inputTokens: row.inputTokens,
      outputTokens: row.outputTokens,
      cacheCreationTokens: row.cacheCreationTokens,
      cacheReadTokens: row.cacheReadTokens,
      totalTokens: row.totalTokens,
      totalCost: row.totalCost,
      ...(report.by === "model" ? {} : { modelsUsed: row.modelsUsed, modelBreakdowns: row.modelBreakdowns })
    })),
    totals: report.totals,
    timeZone: report.timeZone,
    costBasis
  }
}

export const projection: Projection.Projection<State> = Projection.make({
  name: "usage",
  version: 2,
  handles: ["ModelResponded", "ContextCompacted", "MemoryExtracted"],
  initial: empty,
  evolve,
  codec,
  merge,
  render: (state) =>
    size(state) === 0
      ? ["No usage recorded."]
      : [...table(report(state, { by: "day", timeZone: "UTC" })), `Days in UTC. Cost from ${costBasis}.`]
})
