/**
 * A projection: a pure fold over the log — `{ name, version, handles, initial, evolve, codec?,
 * merge? }`. It is how every view of history is built (usage, transcripts, audits, memory
 * indexes), and what users write to build their own.
 *
 * - `handles` lists the event tags it folds. A runner skips every other line of a session file
 *   without decoding it: `tagOf` finds the tag in the raw line, which is what makes folding
 *   faster than parsing everything.
 * - `version`: a new version rebuilds from scratch (its checkpoints are kept apart).
 * - `codec` turns the state into JSON for checkpoints; without one the state must be JSON
 *   already.
 * - `merge` combines states folded from disjoint sets of sessions, so sessions can be folded in
 *   parallel; without it a runner folds on one thread.
 *
 * An `UnknownEvent` (a tag from a newer weft) never reaches `evolve` unless `handles` names its
 * tag; it is never fatal.
 */
import { Data, Either } from "effect"
import type { Schema } from "effect"
import type { Envelope } from "./Envelope.js"
import type { AnyEvent } from "./Events.js"
import type { Json } from "./Json.js"

export interface Projection<S> {
  readonly name: string
  readonly version: number
  readonly handles: ReadonlyArray<AnyEvent["_tag"]>
  readonly initial: S
  readonly evolve: (state: S, envelope: Envelope) => S
  readonly codec?: Schema.Schema<S, Json>
  readonly merge?: (a: S, b: S) => S
  /** What the CLI prints: lines for people (the JSON form is the encoded state). */
  readonly render?: (state: S) => ReadonlyArray<string>
}

export type Any = Projection<any>

/** A projection, typed (`validate` checks one that comes from a user's file). */
export const make = <S>(projection: Projection<S>): Projection<S> => projection

export class InvalidProjection extends Data.TaggedError("InvalidProjection")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/** A projection, checked: a name of letters, digits, `-` and `_`, a version ≥ 1, at least one tag. */
export const validate = <S>(projection: Projection<S>): Either.Either<Projection<S>, InvalidProjection> => {
  if (!/^[A-Za-z0-9_-]+$/.test(projection.name)) {
    return Either.left(
      new InvalidProjection({ reason: `projection name "${projection.name}": use letters, digits, - and _` })
    )
  }
  if (!Number.isInteger(projection.version) || projection.version < 1) {
    return Either.left(
      new InvalidProjection({ reason: `projection ${projection.name}: version must be an integer ≥ 1` })
    )
  }
  if (projection.handles.length === 0) {
    return Either.left(
      new InvalidProjection({ reason: `projection ${projection.name}: handles must list at least one event tag` })
    )
  }
  return Either.right(projection)
}

const EVENT_TAG = "\"event\":{\"_tag\":\""

/**
 * The event tag of a raw log line, found without parsing it: the codec writes the envelope's
 * fields (none of them free text) before `"event":{"_tag":"…"`. Undefined when it cannot tell
 * (an event from a newer weft kept as written may put `_tag` elsewhere): decode such a line.
 */
export const tagOf = (line: string): string | undefined => {
  const at = line.indexOf(EVENT_TAG)
  if (at < 0) return undefined
  const start = at + EVENT_TAG.length
  const end = line.indexOf("\"", start)
  return end < 0 ? undefined : line.slice(start, end)
}

/** Whether the projection folds `tag`. */
export const handlesTag = (projection: Any): (tag: string | undefined) => boolean => {
  const tags = new Set<string>(projection.handles)
  return (tag) => tag !== undefined && tags.has(tag)
}

/** Whether a raw log line must be decoded for the projection: its tag is handled, or cannot be told. */
export const mayHold = (projection: Any): (line: string) => boolean => {
  const handles = handlesTag(projection)
  return (line) => {
    const tag = tagOf(line)
    return tag === undefined || handles(tag)
  }
}

/** Folds envelopes already decoded, skipping the tags the projection does not handle. */
export const fold = <S>(projection: Projection<S>, envelopes: Iterable<Envelope>, from: S = projection.initial): S => {
  const handles = handlesTag(projection)
  let state = from
  for (const envelope of envelopes) {
    const tag = envelope.event._tag === "UnknownEvent" ? envelope.event.tag : envelope.event._tag
    if (handles(tag)) state = projection.evolve(state, envelope)
  }
  return state
}
