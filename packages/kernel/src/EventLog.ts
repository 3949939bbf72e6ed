/**
 * The event log port: append-only, one log per session, `seq` gapless from 1.
 *
 * A session exists once its first append — which must begin with `SessionStarted`, naming
 * the project it belongs to — is acknowledged. `append` resolves only when its events are
 * stored (durably, for a durable adapter) and returns their envelopes; `read` streams them.
 */
import { Clock, Context, Effect, Layer, Schema, Stream } from "effect"
import type { Draft, Envelope } from "./Envelope.js"
import { toDraft } from "./Envelope.js"
import type { AnyEvent } from "./Events.js"
import { SessionStarted } from "./Events.js"
import { Ids } from "./Ids.js"

export class SessionNotFoundError extends Schema.TaggedError<SessionNotFoundError>()("SessionNotFoundError", {
  sessionId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `session ${this.sessionId}: ${this.reason}`
  }
}

export class SessionLockedError extends Schema.TaggedError<SessionLockedError>()("SessionLockedError", {
  sessionId: Schema.String,
  path: Schema.String,
  pid: Schema.Number,
  hostname: Schema.String,
  startedAt: Schema.String
}) {
  override get message() {
    return `session ${this.sessionId} is being written by pid ${this.pid} on ${this.hostname} (since ${this.startedAt}); ` +
      `wait for it to finish, or remove ${this.path} if that process is gone`
  }
}

export class LogCorruptedError extends Schema.TaggedError<LogCorruptedError>()("LogCorruptedError", {
  path: Schema.String,
  line: Schema.Int,
  reason: Schema.String
}) {
  override get message() {
    return `${this.path}:${this.line}: ${this.reason}; run \`weft doctor\` to inspect, or read leniently to skip the line`
  }
}

export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  path: Schema.String,
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `could not ${this.operation} ${this.path}: ${this.reason}`
  }
}

export class InvalidEventError extends Schema.TaggedError<InvalidEventError>()("InvalidEventError", {
  sessionId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `session ${this.sessionId}: refused to append: ${this.reason}`
  }
}

export type EventLogError =
  | SessionNotFoundError
  | SessionLockedError
  | LogCorruptedError
  | StorageError
  | InvalidEventError

export interface ReadOptions {
  /** The first seq to emit (default 1). */
  readonly fromSeq?: number
  /** Skip corrupted lines in the middle of the log (each is logged as a warning) instead of failing. */
  readonly lenient?: boolean
}

export interface SessionRef {
  readonly sessionId: string
  /** The project's real path, from the session's `SessionStarted`. */
  readonly project: string
}

export interface Service {
  readonly append: (
    sessionId: string,
    events: ReadonlyArray<AnyEvent | Draft>
  ) => Effect.Effect<ReadonlyArray<Envelope>, EventLogError>
  readonly read: (sessionId: string, options?: ReadOptions) => Stream.Stream<Envelope, EventLogError>
  /** The sessions of one project (by its real path), or of every project; oldest first. */
  readonly sessions: (project?: string) => Effect.Effect<ReadonlyArray<SessionRef>, EventLogError>
}

export class EventLog extends Context.Tag("@weft/kernel/EventLog")<EventLog, Service>() {}

const AGENT_ID = /^main(\/[1-9][0-9]*)*$/
const isAgentId = (agentId: string) => agentId === "main" || AGENT_ID.test(agentId)

/** Session ids name files: letters, digits, `.`, `_` and `-`, not starting with a dot. */
export const isSessionId = (sessionId: string): boolean => /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(sessionId)

/**
 * Checks a batch before it is stored; for a session that does not exist yet, returns the
 * project its `SessionStarted` names. Shared by every adapter, so they refuse alike.
 */
export const validate = (
  sessionId: string,
  drafts: ReadonlyArray<Draft>,
  exists: boolean
): Effect.Effect<string | undefined, InvalidEventError | SessionNotFoundError> => {
  if (!isSessionId(sessionId)) {
    return new InvalidEventError({ sessionId, reason: "a session id may hold only letters, digits, '.', '_' and '-'" })
  }
  for (const draft of drafts) {
    if (draft.agentId !== undefined && !isAgentId(draft.agentId)) {
      return new InvalidEventError({ sessionId, reason: `agentId "${draft.agentId}" is not main or main/<n>/…` })
    }
  }
  if (exists) return Effect.succeed(undefined)
  const first = drafts[0]?.event
  if (!(first instanceof SessionStarted)) {
    return new SessionNotFoundError({
      sessionId,
      reason: "does not exist; a new session's first event must be SessionStarted"
    })
  }
  return Effect.succeed(first.project)
}

/** Gives drafts their envelopes: seq from `firstSeq`, a fresh id each, the time now. */
export const stamp = (
  ids: Ids["Type"],
  sessionId: string,
  firstSeq: number,
  drafts: ReadonlyArray<Draft>
): Effect.Effect<Array<Envelope>> =>
  Effect.gen(function*() {
    const at = new Date(yield* Clock.currentTimeMillis).toISOString()
    const fresh = yield* ids.nextMany(drafts.length)
    const out: Array<Envelope> = new Array(drafts.length)
    for (let i = 0; i < drafts.length; i++) {
      const draft = drafts[i]!
      out[i] = {
        seq: firstSeq + i,
        id: fresh[i]!,
        parentId: draft.parentId ?? null,
        sessionId,
        agentId: draft.agentId ?? "main",
        at,
        event: draft.event
      }
    }
    return out
  })

interface MemorySession {
  readonly project: string
  /** Appended to in place (under the lock): an append costs what it adds, not the session's size. */
  readonly envelopes: Array<Envelope>
}

export const makeMemory: Effect.Effect<Service, never, Ids> = Effect.gen(function*() {
  const ids = yield* Ids
  const store = new Map<string, MemorySession>()
  const lock = yield* Effect.makeSemaphore(1)

  const append = (sessionId: string, events: ReadonlyArray<AnyEvent | Draft>) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const drafts = events.map(toDraft)
      if (drafts.length === 0) return []
      const existing = store.get(sessionId)
      const project = yield* validate(sessionId, drafts, existing !== undefined)
      const envelopes = yield* stamp(ids, sessionId, (existing?.envelopes.length ?? 0) + 1, drafts)
      if (existing === undefined) store.set(sessionId, { project: project!, envelopes: [...envelopes] })
      else existing.envelopes.push(...envelopes)
      return envelopes
    }))

  const read = (sessionId: string, options?: ReadOptions) =>
    Stream.unwrap(Effect.sync(() => {
      const session = store.get(sessionId)
      if (session === undefined) return Stream.fail(new SessionNotFoundError({ sessionId, reason: "does not exist" }))
      const from = options?.fromSeq ?? 1
      // What the session holds when the read starts: later appends are not part of this read.
      return Stream.fromIterable(session.envelopes.slice(Math.max(0, from - 1)))
    }))

  const sessions = (project?: string) =>
    Effect.sync(() =>
      [...store.entries()]
        .filter(([, s]) => project === undefined || s.project === project)
        .map(([sessionId, s]) => ({ sessionId, project: s.project }))
        .sort((a, b) => a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0)
    )

  return EventLog.of({ append, read, sessions })
})

export const layerMemory: Layer.Layer<EventLog, never, Ids> = Layer.effect(EventLog, makeMemory)
