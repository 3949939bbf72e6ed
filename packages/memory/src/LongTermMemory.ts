/**
 * weft's long-term memory: the kernel's `MemoryIndex`, built from the log.
 *
 * Three projections of the same events, kept together under
 * `WEFT_HOME/projections/memory/<VERSION>/`:
 * - writable memory (`WritableMemory`): what the user or the model asked to remember, and what
 *   the extractor noticed in user messages, with importance, TTL and decay;
 * - the recent topics across sessions (`RecentTopics`);
 * - conversation search (`ConversationIndex`): every user and assistant turn, and every explicit
 *   memory entry, in a hybrid keyword + vector index of growing and sealed segments.
 *
 * How it stays a projection: on start it asks its `Feed` for what was appended since its cursor
 * (everything, the first time) and folds it; while a session runs, the agent loop hands it each
 * appended envelope (`ingest`), so a message is searchable at once; on close it catches up once
 * more and saves. Every envelope is folded once, by (session, seq), whichever way it arrives, so
 * the indexes are the same as a rebuild from the log (`rebuild`).
 */
import { FileSystem, Path } from "@effect/platform"
import type { Envelope } from "@weft/kernel/Envelope"
import type { Json } from "@weft/kernel/Json"
import type * as Kernel from "@weft/kernel/MemoryIndex"
import { MemoryIndex, MemoryIndexError } from "@weft/kernel/MemoryIndex"
import { Clock, Context, Effect, Either, Layer, Option, Ref, Schema, Scope } from "effect"
import * as ConversationIndex from "./ConversationIndex.js"
import type { Embedder } from "./Embedder.js"
import * as MemoryContext from "./MemoryContext.js"
import * as RecentTopics from "./RecentTopics.js"
import * as WritableMemory from "./WritableMemory.js"

/** Names the on-disk form: bump it when a projection here changes what it derives, and the indexes rebuild. */
export const VERSION = 1

/** The event tags the memory indexes fold. */
export const handles = [
  "SessionStarted",
  "UserMessageReceived",
  "ModelResponded",
  "MemoryWritten",
  "MemoryForgotten",
  "MemoryRecalled"
] as const

/** Where the log's new events come from: the composition root reads the session files (see `weft`'s bin). */
export interface Feed {
  /**
   * What was appended since `cursor` (undefined: everything), each session's events in order,
   * and the cursor to give next time. `rebuilt`: the files changed under the cursor (one was
   * rewritten or removed), so what came back is everything and the indexes start over.
   */
  readonly changes: (cursor: Json | undefined) => Effect.Effect<
    { readonly envelopes: ReadonlyArray<Envelope>; readonly cursor: Json; readonly rebuilt: boolean },
    MemoryIndexError
  >
}

/** A feed over envelopes already in memory (tests): the cursor is how many were taken. */
export const feedOf = (envelopes: Effect.Effect<ReadonlyArray<Envelope>>): Feed => ({
  changes: (cursor) =>
    Effect.map(envelopes, (all) => {
      const from = typeof cursor === "number" && cursor <= all.length ? cursor : 0
      return { envelopes: all.slice(from), cursor: all.length, rebuilt: from === 0 && cursor !== undefined }
    })
})

export interface Options {
  /** `WEFT_HOME`. */
  readonly home: string
  readonly feed: Feed
  /** Docs in a growing segment before it is sealed. */
  readonly sealAt?: number
  readonly weights?: ConversationIndex.Weights
  /** Characters of memory put in a session's system prompt (2,000). */
  readonly contextChars?: number
}

export interface Stats {
  readonly dir: string
  readonly sessions: number
  readonly memories: { readonly live: number; readonly explicit: number; readonly implicit: number }
  readonly topics: number
  readonly conversation: ConversationIndex.Stats
}

export interface Service extends Kernel.Service {
  readonly stats: Effect.Effect<Stats, MemoryIndexError>
  /** Forgets every index and folds the whole log again. */
  readonly rebuild: Effect.Effect<void, MemoryIndexError>
  /** Saves the indexes and the cursor now (also done on close). */
  readonly save: Effect.Effect<void, MemoryIndexError>
}

/** The memory service with what `weft memory` needs beyond the kernel's port. */
export class LongTermMemory extends Context.Tag("@weft/memory/LongTermMemory")<LongTermMemory, Service>() {}

const Saved = Schema.parseJson(Schema.Struct({
  version: Schema.Literal(VERSION),
  cursor: Schema.optional(Schema.Unknown),
  seqs: Schema.Record({ key: Schema.String, value: Schema.Number }),
  projects: Schema.Record({ key: Schema.String, value: Schema.String }),
  writable: Schema.Unknown,
  topics: Schema.Unknown
}))

interface Folded {
  readonly seqs: Map<string, number>
  readonly projects: Map<string, string>
  readonly writable: WritableMemory.State
  readonly topics: RecentTopics.State
}

const emptyFolded = (): Folded => ({
  seqs: new Map(),
  projects: new Map(),
  writable: WritableMemory.empty,
  topics: RecentTopics.empty
})

const textOf = (blocks: ReadonlyArray<{ readonly type: string; readonly text?: unknown }>): string =>
  blocks.flatMap((b) => (b.type === "text" && typeof b.text === "string" ? [b.text] : [])).join("\n").trim()

const failure = (what: string) => (cause: { readonly message: string }) =>
  new MemoryIndexError({ reason: `memory: ${what} (${cause.message})` })

export const make = (options: Options) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = path.join(options.home, "projections", "memory", String(VERSION))
    const stateFile = path.join(dir, "state.json")
    const indexDir = path.join(dir, "conversation")
    const scope = yield* Effect.scope
    const services = yield* Effect.context<FileSystem.FileSystem | Path.Path | Embedder>()

    const load = Effect.gen(function*() {
      const text = yield* fs.readFileString(stateFile).pipe(Effect.option)
      if (Option.isNone(text)) return { folded: emptyFolded(), cursor: undefined as Json | undefined }
      const saved = Schema.decodeUnknownEither(Saved)(text.value)
      const writable = Either.flatMap(saved, (s) => Schema.decodeUnknownEither(WritableMemory.codec)(s.writable))
      const topics = Either.flatMap(saved, (s) => Schema.decodeUnknownEither(RecentTopics.codec)(s.topics))
      if (Either.isLeft(saved) || Either.isLeft(writable) || Either.isLeft(topics)) {
        yield* Effect.logWarning(`memory: ${stateFile} does not decode; rebuilding the memory indexes`)
        yield* fs.remove(dir, { recursive: true }).pipe(Effect.ignore)
        return { folded: emptyFolded(), cursor: undefined as Json | undefined }
      }
      return {
        folded: {
          seqs: new Map(Object.entries(saved.right.seqs)),
          projects: new Map(Object.entries(saved.right.projects)),
          writable: writable.right,
          topics: topics.right
        },
        cursor: saved.right.cursor as Json | undefined
      }
    })

    const openIndex = fs.makeDirectory(indexDir, { recursive: true }).pipe(
      Effect.mapError(failure(`could not create ${indexDir}`)),
      Effect.zipRight(ConversationIndex.make({
        dir: indexDir,
        onMismatch: "reset",
        ...(options.sealAt === undefined ? {} : { sealAt: options.sealAt })
      })),
      Scope.extend(scope),
      Effect.provide(services)
    )

    const now = Clock.currentTimeMillis
    const loaded = yield* load
    const opened = yield* openIndex
    // An index built with another analyzer or embedder was discarded: fold the whole log into the new one.
    const discarded = opened.opened._tag === "Reset"
    if (discarded) yield* Effect.logWarning(`memory: rebuilding conversation search (${opened.opened.reason})`)
    const state = yield* Ref.make(discarded ? emptyFolded() : loaded.folded)
    const cursor = yield* Ref.make(discarded ? undefined : loaded.cursor)
    const index = yield* Ref.make(opened)

    /** Folds envelopes not folded yet into the three projections; returns what the conversation index must add and drop. */
    const fold = (envelopes: ReadonlyArray<Envelope>) =>
      Effect.gen(function*() {
        const before = yield* Ref.get(state)
        const seqs = new Map(before.seqs)
        const projects = new Map(before.projects)
        let writable = before.writable
        let topics = before.topics
        const docs: Array<ConversationIndex.Doc> = []
        const removed: Array<string> = []
        for (const envelope of envelopes) {
          if ((seqs.get(envelope.sessionId) ?? 0) >= envelope.seq) continue
          seqs.set(envelope.sessionId, envelope.seq)
          const event = envelope.event
          writable = WritableMemory.evolve(writable, envelope)
          topics = RecentTopics.evolve(topics, envelope)
          const project = projects.get(envelope.sessionId) ?? ""
          const turn = (role: "user" | "assistant", text: string) => {
            if (text !== "") {
              docs.push({
                id: envelope.id,
                kind: "turn",
                sessionId: envelope.sessionId,
                project,
                role,
                at: envelope.at,
                text
              })
            }
          }
          switch (event._tag) {
            case "SessionStarted":
              projects.set(envelope.sessionId, event.project)
              break
            case "UserMessageReceived":
              turn("user", textOf(event.content))
              break
            case "ModelResponded":
              turn("assistant", textOf(event.content))
              break
            case "MemoryWritten": {
              // Merged into an earlier entry (a paraphrase): that one is already indexed. An implicit
              // entry (the memory pass's) is not: its words are searchable in the user's turn already.
              const entry = WritableMemory.get(writable, event.memoryId)
              if (event.kind === "explicit" && entry !== undefined && entry.memoryId === event.memoryId) {
                docs.push({
                  id: entry.memoryId,
                  kind: "memory",
                  sessionId: envelope.sessionId,
                  project: entry.project ?? project,
                  role: "user",
                  at: envelope.at,
                  text: entry.text,
                  ...(entry.expiresAt === undefined ? {} : { expiresAt: entry.expiresAt })
                })
              }
              break
            }
            case "MemoryForgotten":
              if (WritableMemory.get(writable, event.memoryId) === undefined) removed.push(event.memoryId)
              break
          }
        }
        yield* Ref.set(state, { seqs, projects, writable, topics })
        return { docs, removed }
      })

    const ingest = (envelopes: ReadonlyArray<Envelope>) =>
      Effect.gen(function*() {
        const { docs, removed } = yield* fold(envelopes)
        const conversation = yield* Ref.get(index)
        if (docs.length > 0) yield* conversation.add(docs)
        if (removed.length > 0) yield* conversation.remove(removed)
      })

    const save = Effect.gen(function*() {
      const folded = yield* Ref.get(state)
      yield* (yield* Ref.get(index)).checkpoint
      const writable = yield* Schema.encode(WritableMemory.codec)(folded.writable).pipe(
        Effect.mapError(failure("could not encode the writable memory"))
      )
      const topics = yield* Schema.encode(RecentTopics.codec)(folded.topics).pipe(
        Effect.mapError(failure("could not encode the recent topics"))
      )
      const at = yield* Ref.get(cursor)
      const text = yield* Schema.encode(Saved)({
        version: VERSION,
        ...(at === undefined ? {} : { cursor: at }),
        seqs: Object.fromEntries(folded.seqs),
        projects: Object.fromEntries(folded.projects),
        writable,
        topics
      }).pipe(Effect.mapError(failure("could not encode its state")))
      const aside = `${stateFile}.${(yield* Clock.currentTimeNanos).toString(36)}.tmp`
      yield* fs.writeFileString(aside, text).pipe(
        Effect.zipRight(fs.rename(aside, stateFile)),
        Effect.mapError(failure(`could not save ${stateFile}; check WEFT_HOME is writable`))
      )
    })

    /** Folds what the feed has that was not folded yet, and moves the cursor on. */
    const catchUp: Effect.Effect<void, MemoryIndexError> = Effect.gen(function*() {
      const changes = yield* options.feed.changes(yield* Ref.get(cursor))
      if (changes.rebuilt) yield* reset
      yield* ingest(changes.envelopes)
      yield* Ref.set(cursor, changes.cursor)
    })

    const reset = Effect.gen(function*() {
      yield* fs.remove(indexDir, { recursive: true }).pipe(Effect.ignore)
      yield* Ref.set(state, emptyFolded())
      yield* Ref.set(index, yield* openIndex)
    })

    const rebuild = Effect.gen(function*() {
      yield* Ref.set(cursor, undefined)
      yield* reset
      yield* catchUp
      yield* save
    })

    yield* catchUp
    yield* save
    // On close: what was appended meanwhile (by this process or another), forgotten and expired entries dropped
    // physically from the segments, then saved.
    yield* Effect.addFinalizer(() =>
      catchUp.pipe(
        Effect.zipRight(Effect.flatMap(Ref.get(index), (conversation) => Effect.flatMap(now, conversation.compact))),
        Effect.zipRight(save),
        Effect.catchAll((error) => Effect.logWarning(error.message))
      )
    )

    const memories: Kernel.Service["memories"] = (query) =>
      Effect.gen(function*() {
        const at = yield* now
        const folded = yield* Ref.get(state)
        return WritableMemory.rank(folded.writable, {
          now: at,
          project: query.project,
          ...(query.scope === undefined ? {} : { scope: query.scope }),
          ...(query.limit === undefined ? {} : { limit: query.limit })
        }).map(({ entry, importance }): Kernel.MemoryEntry => ({
          memoryId: entry.memoryId,
          scope: entry.scope,
          kind: entry.kind,
          category: entry.category,
          text: entry.text,
          ...(entry.project === undefined ? {} : { project: entry.project }),
          createdAt: entry.createdAt,
          ...(entry.expiresAt === undefined ? {} : { expiresAt: entry.expiresAt }),
          importance
        }))
      })

    const search: Kernel.Service["search"] = (query, searchOptions = {}) =>
      Effect.gen(function*() {
        const { k, ...filters } = searchOptions
        const found = yield* (yield* Ref.get(index)).search(query, {
          k: k ?? 8,
          filters,
          now: yield* now,
          ...(options.weights === undefined ? {} : { weights: options.weights })
        })
        return found.map(({ doc, score, snippet }): Kernel.SearchHit => ({
          id: doc.id,
          kind: doc.kind,
          sessionId: doc.sessionId,
          project: doc.project,
          role: doc.role,
          at: doc.at,
          snippet,
          score
        }))
      })

    const context: Kernel.Service["context"] = (project) =>
      Effect.gen(function*() {
        const entries = yield* memories({ project, limit: 40 })
        const folded = yield* Ref.get(state)
        return MemoryContext.render({
          entries: entries.map((e) => ({ text: e.text, scope: e.scope })),
          topics: RecentTopics.topics(folded.topics, { limit: RecentTopics.limit }).map((t) => ({
            text: t.text,
            at: t.at
          })),
          ...(options.contextChars === undefined ? {} : { maxChars: options.contextChars })
        })
      })

    const stats = Effect.gen(function*() {
      const folded = yield* Ref.get(state)
      const live = WritableMemory.entries(folded.writable, { now: yield* now, faded: true })
      return {
        dir,
        sessions: folded.seqs.size,
        memories: {
          live: live.length,
          explicit: live.filter((e) => e.kind === "explicit").length,
          implicit: live.filter((e) => e.kind === "implicit").length
        },
        topics: folded.topics.topics.length,
        conversation: yield* (yield* Ref.get(index)).stats
      } satisfies Stats
    })

    return { ingest, memories, search, context, stats, rebuild, save } satisfies Service
  })

/** Long-term memory as the kernel's `MemoryIndex` and as `LongTermMemory` (for `weft memory`). */
export const layer = (
  options: Options
): Layer.Layer<MemoryIndex | LongTermMemory, MemoryIndexError, FileSystem.FileSystem | Path.Path | Embedder> =>
  Layer.scopedContext(
    Effect.map(
      make(options),
      (service) => Context.make(LongTermMemory, service).pipe(Context.add(MemoryIndex, service))
    )
  )
