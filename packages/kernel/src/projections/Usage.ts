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
 * summary request of a compaction) counts like a response without a message id.
 *
 * Days are computed when reporting, in a time zone given then (ccusage uses the local one by
 * default and takes `--timezone`); the state holds instants only. Costs too are computed when
 * reporting, from `Pricing` (the defaults with settings' `pricing` over them): a model the table
 * does not know costs null (shown "—"), except that a response of zero tokens costs 0.
 */
import { ParseResult, Schema } from "effect"
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

interface Node extends Entry {
  /** Set once, when the node goes into a store. */
  version: number
  /** The entry this one replaced, still what older states see. */
  prev: Node | undefined
}

interface Store {
  readonly nodes: Map<string, Node>
  latest: number
}

/**
 * The projection's state: a persistent map from key to entry. A fold appends to a store shared
 * by the states it goes through, each state seeing the entries up to its own version, so evolve
 * costs a `Map` update rather than a copy and every state stays what it was. Evolving a state
 * that is not the latest of its store (branching) copies what it sees first.
 */
export interface State {
  /** @internal */
  readonly store: Store | undefined
  /** @internal */
  readonly version: number
}

export const empty: State = { store: undefined, version: 0 }

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
  if (state.store === undefined) return out
  for (const head of state.store.nodes.values()) {
    const node = visible(head, state.version)
    if (node !== undefined) out.push(strip(node))
  }
  return out
}

/** How many responses the state counts. */
export const size = (state: State): number => {
  if (state.store === undefined) return 0
  if (state.store.latest === state.version) return state.store.nodes.size
  let n = 0
  for (const head of state.store.nodes.values()) if (visible(head, state.version) !== undefined) n++
  return n
}

/** A store the state may append to: its own when it is the latest, else a copy of what it sees. */
const own = (state: State): Store => {
  if (state.store === undefined) return { nodes: new Map(), latest: state.version }
  if (state.store.latest === state.version) return state.store
  const nodes = new Map<string, Node>()
  for (const [key, head] of state.store.nodes) {
    const node = visible(head, state.version)
    if (node !== undefined) nodes.set(key, { ...strip(node), version: state.version, prev: undefined })
  }
  return { nodes, latest: state.version }
}

/** All the tokens of an entry: what decides which of two lines of one response is kept. */
export const totalOf = (entry: Pick<Entry, "input" | "output" | "cacheWrite" | "cacheRead">): number =>
  entry.input + entry.output + entry.cacheWrite + entry.cacheRead

const makeNode = (entry: Entry, version: number, prev: Node | undefined): Node => ({
  key: entry.key,
  at: entry.at,
  model: entry.model,
  sessionId: entry.sessionId,
  agentId: entry.agentId,
  input: entry.input,
  output: entry.output,
  cacheWrite: entry.cacheWrite,
  cacheRead: entry.cacheRead,
  version,
  prev
})

/** Puts `node` (new, not in any store yet) in `store` at `version` unless what is there has as many tokens or more. */
const upsert = (store: Store, version: number, node: Node): boolean => {
  const existing = store.nodes.get(node.key)
  if (existing !== undefined && !(totalOf(node) > totalOf(existing))) return false
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
  for (const entry of more) if (upsert(store, version, makeNode(entry, version, undefined))) changed = true
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
  version: 0,
  prev: undefined
})

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

/**
 * Combines states folded from disjoint sets of files, `a` from the earlier ones: a key in both
 * keeps the larger entry (`a`'s on a tie), as one fold over `a`'s files then `b`'s would.
 */
export const merge = (a: State, b: State): State => insertAll(a, entries(b))

const StateFromSelf = Schema.declare(
  (u: unknown): u is State => typeof u === "object" && u !== null && "version" in u && "store" in u,
  { identifier: "UsageState" }
)

/** The checkpoint form: one column per field (see `codec`). */
interface Columns {
  readonly keys: ReadonlyArray<string>
  readonly at: ReadonlyArray<string>
  /** The models, sessions and agents, each once. */
  readonly strings: ReadonlyArray<string>
  /** Indexes into `strings`. */
  readonly model: ReadonlyArray<number>
  readonly session: ReadonlyArray<number>
  readonly agent: ReadonlyArray<number>
  readonly input: ReadonlyArray<number>
  readonly output: ReadonlyArray<number>
  readonly cacheWrite: ReadonlyArray<number>
  readonly cacheRead: ReadonlyArray<number>
}

const COLUMNS = [
  "keys",
  "at",
  "strings",
  "model",
  "session",
  "agent",
  "input",
  "output",
  "cacheWrite",
  "cacheRead"
] as const

/** The state of columns checked in one plain loop, or why they are not a usage state. */
const decodeColumns = (json: unknown): State | string => {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return "expected { keys: [...], … }"
  const columns = json as Record<string, unknown>
  for (const name of COLUMNS) if (!Array.isArray(columns[name])) return `expected ${name}: [...]`
  const c = columns as unknown as Columns
  const n = c.keys.length
  for (const name of COLUMNS) {
    if (name !== "strings" && c[name].length !== n) return `${name}: expected ${n} values, one per key`
  }
  const strings = c.strings
  for (let i = 0; i < strings.length; i++) if (typeof strings[i] !== "string") return `strings[${i}]: expected a string`
  const stringAt = (index: unknown): string | undefined =>
    typeof index === "number" && Number.isInteger(index) && index >= 0 && index < strings.length
      ? strings[index]
      : undefined
  // As `fromEntries` would: every node at version 1, a later one of a key replacing a smaller one.
  const nodes = new Map<string, Node>()
  for (let i = 0; i < n; i++) {
    const key = c.keys[i]
    const at = c.at[i]
    const model = stringAt(c.model[i])
    const sessionId = stringAt(c.session[i])
    const agentId = stringAt(c.agent[i])
    const input = c.input[i]
    const output = c.output[i]
    const cacheWrite = c.cacheWrite[i]
    const cacheRead = c.cacheRead[i]
    if (
      typeof key !== "string" || typeof at !== "string" || model === undefined || sessionId === undefined ||
      agentId === undefined || typeof input !== "number" || typeof output !== "number" ||
      typeof cacheWrite !== "number" || typeof cacheRead !== "number"
    ) {
      return `entry ${i}: expected a key, an instant, three string indexes and four numbers`
    }
    const node: Node = {
      key,
      at,
      model,
      sessionId,
      agentId,
      input,
      output,
      cacheWrite,
      cacheRead,
      version: 1,
      prev: undefined
    }
    const existing = nodes.get(key)
    if (existing === undefined || totalOf(node) > totalOf(existing)) nodes.set(key, node)
  }
  return nodes.size === 0 ? empty : { store: { nodes, latest: 1 }, version: 1 }
}

const encodeColumns = (state: State): Columns => {
  const table = new Map<string, number>()
  const strings: Array<string> = []
  const indexOf = (s: string): number => {
    let index = table.get(s)
    if (index === undefined) {
      index = strings.length
      strings.push(s)
      table.set(s, index)
    }
    return index
  }
  const keys: Array<string> = []
  const at: Array<string> = []
  const model: Array<number> = []
  const session: Array<number> = []
  const agent: Array<number> = []
  const input: Array<number> = []
  const output: Array<number> = []
  const cacheWrite: Array<number> = []
  const cacheRead: Array<number> = []
  const visibleNodes: Array<Node> = []
  if (state.store !== undefined) {
    for (const head of state.store.nodes.values()) {
      const node = visible(head, state.version)
      if (node !== undefined) visibleNodes.push(node)
    }
  }
  // By key: equal states, however folded or merged, write the same checkpoint.
  visibleNodes.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))
  for (const e of visibleNodes) {
    keys.push(e.key)
    at.push(e.at)
    model.push(indexOf(e.model))
    session.push(indexOf(e.sessionId))
    agent.push(indexOf(e.agentId))
    input.push(e.input)
    output.push(e.output)
    cacheWrite.push(e.cacheWrite)
    cacheRead.push(e.cacheRead)
  }
  return { keys, at, strings, model, session, agent, input, output, cacheWrite, cacheRead }
}

/**
 * JSON in the shape of columns, checked only at the top: `decodeColumns` checks every cell in its
 * one loop, and `encodeColumns` writes only strings and numbers. Walking the whole value again, as
 * `Json` does, cost as much as the rest of decoding it.
 */
const ColumnsJson: Schema.Schema<Json> = Schema.declare(
  (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u),
  { identifier: "UsageColumns", description: "usage columns: { keys: [...], at: [...], … }" }
)

/**
 * The checkpoint form, one column per field: `{ keys, at, strings, model, session, agent, input,
 * output, cacheWrite, cacheRead }`, models, sessions and agents as indexes into `strings`.
 * Checked by hand in one loop rather than with a Schema per entry: a state holds a hundred
 * thousand entries, and a Schema.Tuple each cost more than folding them did; columns parse,
 * check and stringify in a fraction of the time rows of tuples took.
 */
export const codec: Schema.Schema<State, Json> = Schema.transformOrFail(ColumnsJson, StateFromSelf, {
  strict: true,
  decode: (json, _, ast) => {
    const decoded = decodeColumns(json)
    return typeof decoded === "string"
      ? ParseResult.fail(new ParseResult.Type(ast, json, decoded))
      : ParseResult.succeed(decoded)
  },
  encode: (state) => ParseResult.succeed(encodeColumns(state) as unknown as Json)
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

/** Whether `timeZone` is a time zone Intl knows (an IANA name such as `Europe/Paris`, or `UTC`). */
export const isTimeZone = (timeZone: string): boolean => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone })
    return true
  } catch {
    return false
  }
}

/** The day (YYYY-MM-DD) of an instant in a time zone; "unknown" for a time that does not parse. */
export const dayIn = (timeZone: string): (at: string) => string => {
  const format = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
  const utc = timeZone === "UTC" || timeZone === "Etc/UTC"
  // Every zone's offset is a whole number of minutes: instants of one minute share a day.
  const cache = new Map<string, string>()
  const compute = (at: string): string => {
    const date = new Date(at)
    if (Number.isNaN(date.getTime())) return "unknown"
    let year = "", month = "", day = ""
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

const add = (acc: Accumulator, entry: Entry, cost: number | null) => {
  acc.input += entry.input
  acc.output += entry.output
  acc.cacheWrite += entry.cacheWrite
  acc.cacheRead += entry.cacheRead
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
  const all = entries(state)
    .map((entry) => ({ entry, day: dayOf(entry.at) }))
    .filter(({ day }) =>
      (options.since === undefined || day >= options.since) && (options.until === undefined || day <= options.until)
    )
    .sort((x, y) => compareStrings(x.entry.at, y.entry.at) || compareStrings(x.entry.key, y.entry.key))

  interface Group {
    readonly key: string
    readonly acc: Accumulator
    readonly models: Map<string, Accumulator>
    first: string
    last: string
  }
  const groups = new Map<string, Group>()
  const overall = accumulator()
  for (const { day, entry } of all) {
    const key = options.by === "day"
      ? day
      : options.by === "session"
      ? entry.sessionId
      : options.by === "model"
      ? modelName(entry.model)
      : entry.agentId
    let group = groups.get(key)
    if (group === undefined) {
      group = { key, acc: accumulator(), models: new Map(), first: day, last: day }
      groups.set(key, group)
    }
    const cost = costOf(entry, prices(entry.model))
    add(group.acc, entry, cost)
    add(overall, entry, cost)
    group.last = day
    let model = group.models.get(entry.model)
    if (model === undefined) {
      model = accumulator()
      group.models.set(entry.model, model)
    }
    add(model, entry, cost)
  }

  const rows: Array<Row> = [...groups.values()].map((group) => ({
    key: group.key,
    ...totals(group.acc),
    modelsUsed: [...group.models.keys()].filter((m) => m !== "" && m !== SYNTHETIC),
    modelBreakdowns: [...group.models.entries()]
      .filter(([m]) => m !== SYNTHETIC)
      .map(([m, acc]) => ({
        modelName: modelName(m),
        inputTokens: acc.input,
        outputTokens: acc.output,
        cacheCreationTokens: acc.cacheWrite,
        cacheReadTokens: acc.cacheRead,
        cost: acc.cost
      }))
      .sort((x, y) => (y.cost ?? Infinity) - (x.cost ?? Infinity) || compareStrings(x.modelName, y.modelName)),
    firstActivity: group.first,
    lastActivity: group.last
  }))
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
  handles: ["ModelResponded", "ContextCompacted"],
  initial: empty,
  evolve,
  codec,
  merge,
  render: (state) =>
    size(state) === 0
      ? ["No usage recorded."]
      : [...table(report(state, { by: "day", timeZone: "UTC" })), `Days in UTC. Cost from ${costBasis}.`]
})
