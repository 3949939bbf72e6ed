/**
 * Finding a session from what a user types: its id, or any prefix of it that is unique
 * across every project under `WEFT_HOME`.
 */
import type { SessionRef } from "@weft/kernel/EventLog"
import { EventLog, SessionNotFoundError } from "@weft/kernel/EventLog"
import { Effect, Schema } from "effect"

const SHOWN = 5

export class AmbiguousSessionIdError extends Schema.TaggedError<AmbiguousSessionIdError>()("AmbiguousSessionIdError", {
  prefix: Schema.String,
  candidates: Schema.Array(Schema.Struct({ sessionId: Schema.String, project: Schema.String }))
}) {
  override get message() {
    const shown = this.candidates.slice(0, SHOWN).map((c) => `${c.sessionId} (${c.project})`).join(", ")
    const more = this.candidates.length > SHOWN ? `, and ${this.candidates.length - SHOWN} more` : ""
    return `session id "${this.prefix}" is ambiguous: ${this.candidates.length} sessions start with it: ${shown}${more}; ` +
      `type more of the id`
  }
}

/** The session whose id is `prefix`, or the only one whose id starts with it. */
export const resolve = (prefix: string) =>
  Effect.gen(function*() {
    const all = yield* (yield* EventLog).sessions()
    const exact = all.find((s) => s.sessionId === prefix)
    if (exact !== undefined) return exact
    const matches = all.filter((s) => s.sessionId.startsWith(prefix))
    if (matches.length === 1) return matches[0]!
    if (matches.length === 0) {
      return yield* new SessionNotFoundError({
        sessionId: prefix,
        reason: "no session id starts with it in any project; list them with `weft sessions list --all`"
      })
    }
    return yield* new AmbiguousSessionIdError({ prefix, candidates: matches })
  })

/** The shortest prefix of `sessionId`, at least `min` characters, that no other session shares. */
export const shortestPrefix = (sessionId: string, others: ReadonlyArray<SessionRef>, min = 8): string => {
  let length = Math.min(min, sessionId.length)
  for (const other of others) {
    if (other.sessionId === sessionId) continue
    let common = 0
    while (common < sessionId.length && sessionId[common] === other.sessionId[common]) common++
    length = Math.max(length, common + 1)
  }
  const prefix = sessionId.slice(0, Math.min(length, sessionId.length))
  // A prefix ending in "-" reads like a typo; take the next character too.
  return prefix.endsWith("-") && prefix.length < sessionId.length ? sessionId.slice(0, prefix.length + 1) : prefix
}
