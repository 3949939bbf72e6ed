/**
 * The `memory` projection: what weft remembers about the user (scope `user`, every project) and
 * about each project (scope `project`), folded from the log.
 *
 * - `MemoryWritten` writes an entry (explicit, or implicit from the memory pass: a model reading
 *   the turn's user message, `source`); `MemoryForgotten` removes it whole; `MemoryRecalled`
 *   counts a use of each entry it names.
 * - `UserMessageReceived` of the main agent (a subagent's "user" is its parent) runs
 *   `Extractor.extract`: each proposal is an implicit entry `implicit-<envelope id>-<n>`.
 * - `SessionStarted` says which project a session works in: the project of its `project` entries.
 *
 * Paraphrases merge: a proposal or a write whose content is the same (`internal/Similarity`) as
 * that of a live entry of the same scope and project confirms that entry instead of adding one —
 * confirmations + 1, times refreshed, its text the latest statement's (so "never use double
 * quotes" after "always use double quotes" updates the one entry), except that an implicit
 * statement never replaces an explicit text. An explicit write makes the entry explicit, under
 * the write's id; the ids merged into an entry stay its aliases, so forgetting or recalling any of
 * them reaches it, and its expiry becomes the write's (none when the write gives none). An entry
 * is confirmed at most once per event, and at most once per user message: the rules and the
 * memory pass reading one message state what they find once between them. Candidates are found
 * through a term index (scope, project, term → entries), so a statement is compared with the
 * entries sharing a word with it, not with every entry.
 *
 * Every time comes from the envelopes' `at`, never from a clock: folding a log twice, or from a
 * checkpoint, gives the same state. An entry with `expiresAt` is live until then: `entries` never
 * returns it after, and a later statement starts a new entry; `compact` drops it physically.
 */
import type { Envelope } from "@weft/kernel/Envelope"
import type { MemoryScope } from "@weft/kernel/Events"
import { MemoryCategory, MemoryScope as MemoryScopeSchema } from "@weft/kernel/Events"
import { Json } from "@weft/kernel/Json"
import * as Projection from "@weft/kernel/Projection"
import { HashMap, HashSet, Option, Schema } from "effect"
import * as Extractor from "./Extractor.js"
import * as Importance from "./Importance.js"
import * as Similarity from "./internal/Similarity.js"

export type Category = Importance.Category
export type Kind = Importance.Kind

export interface Entry extends Importance.Input {
  readonly memoryId: string
  readonly scope: MemoryScope
  /** The project of a `project` entry ("" when its session's project is unknown); absent for `user`. */
  readonly project?: string
  readonly text: string
  readonly createdAt: string
  readonly lastConfirmedAt: string
  readonly lastRecalledAt?: string
  readonly expiresAt?: string
  /** Other ids of writes merged into this entry, sorted: forgetting or recalling one reaches it. */
  readonly aliases: ReadonlyArray<string>
  /** The event id of the user message that last stated it (implicit statements): it does not confirm it again. */
  readonly source?: string
}

export interface State {
  /** Live and expired entries (until `compact`), by id. */
  readonly entries: HashMap.HashMap<string, Entry>
  /** Alias → id of the entry it names. */
  readonly aliases: HashMap.HashMap<string, string>
  /** Session id → project. */
  readonly sessions: HashMap.HashMap<string, string>
  /** The latest `at` folded ("" before any): the "now" of `render`. */
  readonly latest: string
  /**
   * Scope, project and content term → the entries whose text has that term: where a statement
   * looks for the entry it confirms. Derived from `entries` (rebuilt from a checkpoint).
   * @internal
   */
  readonly index: HashMap.HashMap<string, HashSet.HashSet<string>>
}

export const empty: State = {
  entries: HashMap.empty(),
  aliases: HashMap.empty(),
  sessions: HashMap.empty(),
  latest: "",
  index: HashMap.empty()
}

// Time ------------------------------------------------------------------------------------------

const ms = (iso: string): number => Date.parse(iso)

const later = (a: string, b: string): string => (a === "" ? b : b === "" ? a : ms(b) > ms(a) ? b : a)

/** Whether the entry is live at `now` (ms): no `expiresAt`, one that does not parse, or one after `now`. */
export const isLive = (entry: Pick<Entry, "expiresAt">, now: number): boolean => {
  if (entry.expiresAt === undefined) return true
  const until = ms(entry.expiresAt)
  return Number.isNaN(until) || until > now
}

// Lookups ---------------------------------------------------------------------------------------

const termsCache = new WeakMap<Entry, ReadonlyArray<string>>()

/** The content terms of an entry's text, computed once per entry. */
const termsOf = (entry: Entry): ReadonlyArray<string> => {
  let terms = termsCache.get(entry)
  if (terms === undefined) {
    terms = Similarity.terms(entry.text)
    termsCache.set(entry, terms)
  }
  return terms
}

const keyOf = (scope: MemoryScope, project: string | undefined, term: string): string =>
  `${scope}\u0000${project ?? ""}\u0000${term}`

type Index = State["index"]

const unindex = (index: Index, entry: Entry): Index => {
  let out = index
  for (const term of termsOf(entry)) {
    const key = keyOf(entry.scope, entry.project, term)
    const ids = HashMap.get(out, key)
    if (Option.isNone(ids)) continue
    const rest = HashSet.remove(ids.value, entry.memoryId)
    out = HashSet.size(rest) === 0 ? HashMap.remove(out, key) : HashMap.set(out, key, rest)
  }
  return out
}

const reindex = (index: Index, entry: Entry): Index => {
  let out = index
  for (const term of termsOf(entry)) {
    const key = keyOf(entry.scope, entry.project, term)
    const ids = Option.getOrElse(HashMap.get(out, key), () => HashSet.empty<string>())
    out = HashMap.set(out, key, HashSet.add(ids, entry.memoryId))
  }
  return out
}

/** The entry an id names: its own or an alias. */
export const get = (state: State, memoryId: string): Entry | undefined => {
  const id = Option.getOrElse(HashMap.get(state.aliases, memoryId), () => memoryId)
  return Option.getOrUndefined(HashMap.get(state.entries, id))
}

/** How many entries the state holds, expired ones included. */
export const size = (state: State): number => HashMap.size(state.entries)

/**
 * The live entry of `scope` (and `project`) that says the same as `terms`, the most similar
 * first, then the oldest, then the smallest id.
 */
const match = (
  state: State,
  scope: MemoryScope,
  project: string | undefined,
  terms: ReadonlyArray<string>,
  now: number
): Entry | undefined => {
  let best: Entry | undefined
  let bestScore = 0
  const seen = new Set<string>()
  for (const term of terms) {
    const ids = HashMap.get(state.index, keyOf(scope, project, term))
    if (Option.isNone(ids)) continue
    for (const id of ids.value) {
      if (seen.has(id)) continue
      seen.add(id)
      const entry = Option.getOrUndefined(HashMap.get(state.entries, id))
      if (entry === undefined || !isLive(entry, now)) continue
      const score = Similarity.similarity(terms, termsOf(entry))
      if (score < Similarity.threshold) continue
      if (
        best === undefined || score > bestScore ||
        (score === bestScore && (entry.createdAt < best.createdAt ||
          (entry.createdAt === best.createdAt && entry.memoryId < best.memoryId)))
      ) {
        best = entry
        bestScore = score
      }
    }
  }
  return best
}

// Evolve ----------------------------------------------------------------------------------------

interface Statement {
  readonly memoryId: string
  readonly scope: MemoryScope
  readonly project: string | undefined
  readonly kind: Kind
  readonly category: Category
  readonly text: string
  readonly at: string
  readonly expiresAt?: string | undefined
  /** The event id of the user message it was read from, for an implicit statement. */
  readonly source?: string | undefined
}

const withoutUndefined = <A extends object>(a: A): A => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(a)) if (value !== undefined) out[key] = value
  return out as A
}

const fresh = (s: Statement): Entry => ({
  memoryId: s.memoryId,
  scope: s.scope,
  ...(s.project === undefined ? {} : { project: s.project }),
  kind: s.kind,
  category: s.category,
  text: s.text,
  createdAt: s.at,
  confirmations: 1,
  lastConfirmedAt: s.at,
  recalls: 0,
  ...(s.expiresAt === undefined ? {} : { expiresAt: s.expiresAt }),
  aliases: [],
  ...(s.source === undefined ? {} : { source: s.source })
})

const stronger = (a: Category, b: Category): Category =>
  Importance.defaults.category[b] > Importance.defaults.category[a] ? b : a

/** `entry` confirmed by `s`: an explicit write takes the entry over, under its own id. */
const confirm = (entry: Entry, s: Statement): Entry => {
  const explicit = s.kind === "explicit"
  const newer = ms(s.at) >= ms(entry.lastConfirmedAt)
  const takesText = explicit ? newer || entry.kind === "implicit" : entry.kind === "implicit" && newer
  const memoryId = explicit ? s.memoryId : entry.memoryId
  const aliases = memoryId === entry.memoryId
    ? entry.aliases
    : [...entry.aliases, entry.memoryId].filter((id) => id !== memoryId).sort()
  return withoutUndefined({
    ...entry,
    memoryId,
    kind: explicit ? "explicit" : entry.kind,
    category: explicit && s.category !== "note" ? s.category : stronger(entry.category, s.category),
    text: takesText ? s.text : entry.text,
    confirmations: entry.confirmations + 1,
    lastConfirmedAt: later(entry.lastConfirmedAt, s.at),
    createdAt: ms(s.at) < ms(entry.createdAt) ? s.at : entry.createdAt,
    expiresAt: explicit ? s.expiresAt : entry.expiresAt,
    aliases,
    source: s.source ?? entry.source
  }) as Entry
}

const put = (state: State, before: Entry | undefined, after: Entry): State => {
  let entries = state.entries
  let aliases = state.aliases
  if (before !== undefined && before.memoryId !== after.memoryId) entries = HashMap.remove(entries, before.memoryId)
  entries = HashMap.set(entries, after.memoryId, after)
  for (const alias of after.aliases) aliases = HashMap.set(aliases, alias, after.memoryId)
  if (HashMap.has(aliases, after.memoryId)) aliases = HashMap.remove(aliases, after.memoryId)
  let index = state.index
  const moved = before === undefined || before.memoryId !== after.memoryId || before.text !== after.text ||
    before.scope !== after.scope || before.project !== after.project
  if (moved) {
    if (before !== undefined) index = unindex(index, before)
    index = reindex(index, after)
  }
  return { ...state, entries, aliases, index }
}

const remove = (state: State, memoryId: string): State => {
  const entry = get(state, memoryId)
  if (entry === undefined) return state
  let aliases = state.aliases
  for (const alias of entry.aliases) aliases = HashMap.remove(aliases, alias)
  const entries = HashMap.remove(state.entries, entry.memoryId)
  return { ...state, entries, aliases, index: unindex(state.index, entry) }
}

/**
 * A statement folded in: a rewrite of the entry it names by id, else a confirmation of the live
 * entry that says the same, else a new entry. `touched` are the entries this event confirmed
 * already: they are not confirmed twice.
 */
const apply = (state: State, s: Statement, touched: Set<string>): State => {
  const now = ms(s.at)
  const named = s.kind === "explicit" ? get(state, s.memoryId) : undefined
  if (named !== undefined) {
    if (touched.has(named.memoryId)) return state
    const rewritten: Entry = withoutUndefined({
      ...confirm(named, s),
      text: s.text,
      scope: s.scope,
      project: s.project,
      category: s.category === "note" ? named.category : s.category
    }) as Entry
    touched.add(rewritten.memoryId)
    return put(state, named, rewritten)
  }
  const same = match(state, s.scope, s.project, Similarity.terms(s.text), now)
  if (same !== undefined) {
    if (touched.has(same.memoryId) || (s.source !== undefined && same.source === s.source)) return state
    const confirmed = confirm(same, s)
    touched.add(confirmed.memoryId)
    return put(state, same, confirmed)
  }
  touched.add(s.memoryId)
  return put(state, undefined, fresh(s))
}

const projectOf = (state: State, envelope: Envelope, scope: MemoryScope, given?: string): string | undefined =>
  scope === "user" ? undefined : given ?? Option.getOrElse(HashMap.get(state.sessions, envelope.sessionId), () => "")

/** What the extractor makes of a text written without a category: its first proposal's, else a note. */
export const categorize = (text: string): Category => Extractor.extract(text)[0]?.category ?? "note"

export const evolve = (state: State, envelope: Envelope): State => {
  const event = envelope.event
  const at = envelope.at
  const next = { ...state, latest: later(state.latest, at) }
  switch (event._tag) {
    case "SessionStarted":
      return { ...next, sessions: HashMap.set(state.sessions, envelope.sessionId, event.project) }
    case "UserMessageReceived": {
      if (envelope.agentId !== "main") return next
      const text = event.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("\n")
      const proposals = Extractor.extract(text)
      let out = next
      const touched = new Set<string>()
      proposals.forEach((proposal, n) => {
        out = apply(out, {
          memoryId: `implicit-${envelope.id}-${n}`,
          scope: proposal.scope,
          project: projectOf(out, envelope, proposal.scope),
          kind: "implicit",
          category: proposal.category,
          text: proposal.text,
          at,
          source: envelope.id
        }, touched)
      })
      return out
    }
    case "MemoryWritten":
      return apply(next, {
        memoryId: event.memoryId,
        scope: event.scope,
        project: projectOf(next, envelope, event.scope, event.project),
        kind: event.kind,
        category: event.category ?? categorize(event.text),
        text: event.text,
        at,
        expiresAt: event.expiresAt,
        source: event.source
      }, new Set())
    case "MemoryForgotten":
      return remove(next, event.memoryId)
    case "MemoryRecalled": {
      let out = next
      const seen = new Set<string>()
      for (const id of event.memoryIds) {
        const entry = get(out, id)
        if (entry === undefined || seen.has(entry.memoryId)) continue
        seen.add(entry.memoryId)
        out = put(out, entry, {
          ...entry,
          recalls: entry.recalls + 1,
          lastRecalledAt: entry.lastRecalledAt === undefined ? at : later(entry.lastRecalledAt, at)
        })
      }
      return out
    }
    default:
      return state
  }
}

// Queries ---------------------------------------------------------------------------------------

export interface Query {
  /** Milliseconds since the epoch: what is expired, and how recent, is measured from it. */
  readonly now: number
  /** Only this scope (both when absent). */
  readonly scope?: MemoryScope
  /** Only this project's `project` entries (every project's when absent); `user` entries pass. */
  readonly project?: string
  /** At most this many, the most important. */
  readonly limit?: number
  readonly weights?: Importance.Weights
  /** Keep implicit entries that have decayed below `weights.fade` (false). */
  readonly faded?: boolean
}

export interface Ranked {
  readonly entry: Entry
  readonly importance: number
}

/** Live entries with their importance, most important first (then the latest confirmed, then by id). */
export const rank = (state: State, query: Query): Array<Ranked> => {
  const weights = query.weights ?? Importance.defaults
  const out: Array<Ranked> = []
  for (const entry of HashMap.values(state.entries)) {
    if (query.scope !== undefined && entry.scope !== query.scope) continue
    if (entry.scope === "project" && query.project !== undefined && entry.project !== query.project) continue
    if (!isLive(entry, query.now)) continue
    if (query.faded !== true && Importance.faded(entry, query.now, weights)) continue
    out.push({ entry, importance: Importance.importance(entry, query.now, weights) })
  }
  out.sort((a, b) =>
    b.importance - a.importance ||
    ms(b.entry.lastConfirmedAt) - ms(a.entry.lastConfirmedAt) ||
    (a.entry.memoryId < b.entry.memoryId ? -1 : a.entry.memoryId > b.entry.memoryId ? 1 : 0)
  )
  return query.limit === undefined ? out : out.slice(0, Math.max(0, query.limit))
}

/** Live entries, most important first. An expired entry is never among them. */
export const entries = (state: State, query: Query): Array<Entry> => rank(state, query).map((r) => r.entry)

/** The state without the entries expired at `now`: what compaction keeps. */
export const compact = (state: State, now: number): State => {
  let out = state
  for (const entry of HashMap.values(state.entries)) if (!isLive(entry, now)) out = remove(out, entry.memoryId)
  return out
}

// Codec -----------------------------------------------------------------------------------------

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

export const EntryJson = Schema.Struct({
  memoryId: Schema.String,
  scope: MemoryScopeSchema,
  project: optional(Schema.String),
  kind: Schema.Literal("explicit", "implicit"),
  category: MemoryCategory,
  text: Schema.String,
  createdAt: Schema.String,
  confirmations: Schema.Int.pipe(Schema.positive()),
  lastConfirmedAt: Schema.String,
  recalls: Schema.NonNegativeInt,
  lastRecalledAt: optional(Schema.String),
  expiresAt: optional(Schema.String),
  aliases: Schema.Array(Schema.String),
  source: optional(Schema.String)
})

const StateJson = Schema.Struct({
  latest: Schema.String,
  sessions: Schema.Record({ key: Schema.String, value: Schema.String }),
  entries: Schema.Array(EntryJson)
})

const StateFromSelf = Schema.declare(
  (u: unknown): u is State =>
    typeof u === "object" && u !== null && "entries" in u && "aliases" in u && "sessions" in u && "index" in u,
  { identifier: "WritableMemoryState" }
)

const byKey = <A>(pairs: Iterable<readonly [string, A]>): Array<readonly [string, A]> =>
  Array.from(pairs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/**
 * The checkpoint: `{ latest, sessions: { id: project }, entries: [...] }`, sessions and entries
 * sorted by id, so that equal states write equal checkpoints however they were folded.
 */
export const codec: Schema.Schema<State, Json> = Schema.compose(
  Json,
  Schema.transform(StateJson, StateFromSelf, {
    strict: true,
    decode: (json) => {
      let entries = HashMap.empty<string, Entry>()
      let aliases = HashMap.empty<string, string>()
      let index: Index = HashMap.empty()
      for (const entry of json.entries) {
        entries = HashMap.set(entries, entry.memoryId, entry as Entry)
        for (const alias of entry.aliases) aliases = HashMap.set(aliases, alias, entry.memoryId)
        index = reindex(index, entry as Entry)
      }
      const sessions = HashMap.fromIterable(Object.entries(json.sessions))
      return { entries, aliases, sessions, latest: json.latest, index }
    },
    encode: (state) => ({
      latest: state.latest,
      sessions: Object.fromEntries(byKey(state.sessions)),
      entries: byKey(state.entries).map(([, entry]) => entry)
    })
  }),
  { strict: false }
)

// Render ----------------------------------------------------------------------------------------

/** `memory list`'s lines: every live entry, most important first, as of the latest event folded. */
export const lines = (state: State, query?: Partial<Query>): Array<string> => {
  const now = query?.now ?? (state.latest === "" ? 0 : ms(state.latest))
  const ranked = rank(state, { ...query, now, faded: query?.faded ?? true })
  if (ranked.length === 0) return ["No memories."]
  return ranked.map(({ entry, importance }) => {
    const where = entry.scope === "user" ? "user" : `project ${entry.project === "" ? "?" : entry.project}`
    const times = entry.confirmations > 1 ? ` ×${entry.confirmations}` : ""
    const expires = entry.expiresAt === undefined ? "" : ` (until ${entry.expiresAt})`
    return `${entry.memoryId}  ${where}  ${entry.kind} ${entry.category}${times}  ${
      importance.toFixed(2)
    }  ${entry.text}${expires}`
  })
}

export const projection: Projection.Projection<State> = Projection.make<State>({
  name: "memory",
  version: 1,
  handles: ["SessionStarted", "UserMessageReceived", "MemoryWritten", "MemoryForgotten", "MemoryRecalled"],
  initial: empty,
  evolve,
  codec,
  render: (state) => lines(state)
})
