/**
 * The `recent-topics` projection: what the user's recent requests were about, across sessions —
 * a short line per request, newest first, so a new session knows what the user has been doing.
 *
 * A topic is the first sentence of a message of the main agent's user that says something
 * (greetings skipped), fenced code left out, paths cut to their last two parts
 * (`…/src/Extractor.ts`), links to their host and last part, and trimmed to `maxLength` characters at a word.
 * Acknowledgements ("ok", "continue", "merci", "继续", "はい") and slash commands are not topics.
 * A topic already kept (the same words) moves up instead of repeating; a session keeps at most
 * `perSession` topics (its latest), so one long session does not crowd the others out; the state
 * keeps the `capacity` newest. Times are the envelopes' `at`.
 */
import type { Envelope } from "@weft/kernel/Envelope"
import { Json } from "@weft/kernel/Json"
import * as Projection from "@weft/kernel/Projection"
import { HashMap, Option, Schema } from "effect"
import { sentences } from "./Extractor.js"
import * as Similarity from "./internal/Similarity.js"
import { fold } from "./Tokenizer.js"

export const Topic = Schema.Struct({
  text: Schema.String,
  sessionId: Schema.String,
  /** The session's project, "" when unknown. */
  project: Schema.String,
  at: Schema.String
})
export type Topic = typeof Topic.Type

export interface State {
  /** Newest first. */
  readonly topics: ReadonlyArray<Topic>
  /** Session id → project. */
  readonly sessions: HashMap.HashMap<string, string>
}

export const empty: State = { topics: [], sessions: HashMap.empty() }

/** How many topics a context shows (15). */
export const limit = 15
/** How many the state keeps (30: enough to leave out the current session's and still show `limit`). */
export const capacity = 30
/** How many topics one session keeps (3). */
export const perSession = 3
/** The longest topic line (80). */
export const maxLength = 80

// Topic lines -----------------------------------------------------------------------------------

const FENCED = /(```|~~~)[\s\S]*?(?:\1|$)/g
const URL = /\bhttps?:\/\/([^\s/?#]+)(\S*)/g
const PATH = /(?:~|\.{1,2})?\/?(?:[\w.@-]+\/){2,}[\w.@-]+/g
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/gu

const GREETING = new RegExp(
  "^(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening)|bonjour|salut|coucou|hallo|guten (?:morgen|tag|abend)|" +
    "servus|moin|hola|buenos dias|buenas(?: tardes| noches)?|你好|您好|嗨|こんにちは|おはよう(?:ございます)?|こんばんは)" +
    "(?:\\s+(?:there|all|team|claude|weft))?[\\s!,.。！、]*$",
  "u"
)

const ACK = new RegExp(
  "^(?:ok|okay|k|yes|yep|yeah|y|no|nope|n|sure|thanks|thank you|thx|ty|continue|go on|go ahead|proceed|next|done|" +
    "great|perfect|nice|cool|good|lgtm|retry|again|stop|wait|oui|non|merci|d'accord|continue|vas-y|parfait|ja|nein|" +
    "danke|weiter|genau|si|sí|gracias|vale|sigue|继续|好的|好|是的|谢谢|对|不|はい|いいえ|ありがとう|続けて|お願いします)" +
    "(?:\\s+(?:please|thanks|merci|danke|gracias))?[\\s!,.。！、]*$",
  "u"
)

/** Links to their host and last part, paths to their last two parts, white space collapsed. */
const shorten = (text: string): string =>
  text
    .replace(URL, (_, host: string, rest: string) => {
      const last = rest.split(/[?#]/)[0]!.split("/").filter((part) => part !== "").pop()
      return last === undefined ? host : `${host}/…/${last}`
    })
    .replace(PATH, (path) => `…/${path.split("/").slice(-2).join("/")}`)
    .replace(/\s+/g, " ")
    .trim()

/** Cut to `max` characters at a word (anywhere in text without spaces), with "…". */
const cut = (text: string, max: number): string => {
  if (text.length <= max) return text
  const head = text.slice(0, max - 1)
  const space = head.lastIndexOf(" ")
  return `${(space >= max / 2 ? head.slice(0, space) : head).replace(/[\s,;:.。、-]+$/u, "")}…`
}

/** Whether a line says enough to be a topic: two words, or four CJK characters. */
const substantial = (line: string): boolean => {
  const cjk = line.match(CJK)?.length ?? 0
  const words = line.replace(CJK, " ").match(/[\p{L}\p{N}][\p{L}\p{N}'_-]*/gu)?.length ?? 0
  return words + Math.floor(cjk / 2) >= 2
}

/**
 * The topic line of a user message, or undefined when it is not about anything (an "ok", a
 * greeting, a slash command). A first sentence that only introduces what follows ("Look at
 * this:") takes the next one with it.
 */
export const topicOf = (message: string): string | undefined => {
  if (/^\s*\/[\w-]+(?:\s|$)/.test(message)) return undefined
  const all = sentences(message.replace(FENCED, "\n[code]\n")).map(shorten)
  if (ACK.test(fold(all.join(" ")))) return undefined
  const said = all.filter((line) => line !== "[code]" && !GREETING.test(fold(line)) && !ACK.test(fold(line)))
  const first = said.findIndex(substantial)
  if (first < 0) return undefined
  const line = said[first]!.endsWith(":") && first + 1 < said.length
    ? `${said[first]} ${said[first + 1]}`
    : said[first]!
  return cut(line, maxLength)
}

/** What makes two topics one: the same content words (their folded text when they have none). */
const keyOf = (text: string): string => {
  const terms = Similarity.terms(text)
  return terms.length === 0 ? fold(text) : terms.join(" ")
}

// Evolve ----------------------------------------------------------------------------------------

const ms = (iso: string): number => {
  const t = Date.parse(iso)
  return Number.isNaN(t) ? 0 : t
}

/** The topics with `topic` in, newest first: its duplicate out, its session within `perSession`, `capacity` kept. */
export const insert = (topics: ReadonlyArray<Topic>, topic: Topic): ReadonlyArray<Topic> => {
  const key = keyOf(topic.text)
  const rest = topics.filter((t) => keyOf(t.text) !== key)
  const ofSession = rest.filter((t) => t.sessionId === topic.sessionId)
  const dropped = ofSession.length >= perSession ? ofSession.slice(perSession - 1) : []
  const kept = dropped.length === 0 ? rest : rest.filter((t) => !dropped.includes(t))
  const at = ms(topic.at)
  const index = kept.findIndex((t) => ms(t.at) <= at)
  const out = index < 0 ? [...kept, topic] : [...kept.slice(0, index), topic, ...kept.slice(index)]
  return out.slice(0, capacity)
}

export const evolve = (state: State, envelope: Envelope): State => {
  const event = envelope.event
  switch (event._tag) {
    case "SessionStarted":
      return { ...state, sessions: HashMap.set(state.sessions, envelope.sessionId, event.project) }
    case "UserMessageReceived": {
      if (envelope.agentId !== "main") return state
      const text = topicOf(event.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("\n"))
      if (text === undefined) return state
      const project = Option.getOrElse(HashMap.get(state.sessions, envelope.sessionId), () => "")
      return {
        ...state,
        topics: insert(state.topics, { text, sessionId: envelope.sessionId, project, at: envelope.at })
      }
    }
    default:
      return state
  }
}

// Queries ---------------------------------------------------------------------------------------

export interface Query {
  /** Leave out this session's topics (the session the context is for). */
  readonly exceptSession?: string
  /** Only this project's topics (every project's when absent). */
  readonly project?: string
  /** At most this many (`limit`). */
  readonly limit?: number
}

/** The most recent topics, newest first. */
export const topics = (state: State, query: Query = {}): ReadonlyArray<Topic> =>
  state.topics
    .filter((t) =>
      (query.exceptSession === undefined || t.sessionId !== query.exceptSession) &&
      (query.project === undefined || t.project === query.project)
    )
    .slice(0, query.limit ?? limit)

// Codec -----------------------------------------------------------------------------------------

const StateJson = Schema.Struct({
  sessions: Schema.Record({ key: Schema.String, value: Schema.String }),
  topics: Schema.Array(Topic)
})

const StateFromSelf = Schema.declare(
  (u: unknown): u is State => typeof u === "object" && u !== null && "topics" in u && "sessions" in u,
  { identifier: "RecentTopicsState" }
)

/** The checkpoint: `{ sessions: { id: project }, topics: [...] }`, sessions sorted by id. */
export const codec: Schema.Schema<State, Json> = Schema.compose(
  Json,
  Schema.transform(StateJson, StateFromSelf, {
    strict: true,
    decode: (json) => ({ topics: json.topics, sessions: HashMap.fromIterable(Object.entries(json.sessions)) }),
    encode: (state) => ({
      topics: state.topics,
      sessions: Object.fromEntries(Array.from(state.sessions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    })
  }),
  { strict: false }
)

export const projection: Projection.Projection<State> = Projection.make<State>({
  name: "recent-topics",
  version: 1,
  handles: ["SessionStarted", "UserMessageReceived"],
  initial: empty,
  evolve,
  codec,
  render: (state) =>
    state.topics.length === 0
      ? ["No recent topics."]
      : topics(state, { limit: capacity }).map((t) => `${t.at.slice(0, 10)}  ${t.sessionId}  ${t.text}`)
})
