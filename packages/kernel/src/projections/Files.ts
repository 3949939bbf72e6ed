/**
 * `files`: which files each session changed, and the snapshots that let them be restored — for
 * each path, in order, every snapshot taken before a change (`before`: the blob of its content,
 * null when the file did not exist), every change (`after`: the blob the tool left, null when it
 * removed the file) and every rewind (`after`: the blob restored, null when it was removed). The
 * blobs are in `WEFT_HOME/blobs`; `weft diff` and `weft rewind` use them.
 */
import { Schema } from "effect"
import type { Envelope } from "../Envelope.js"
import * as BySession from "../internal/BySession.js"
import { table } from "../internal/Columns.js"
import * as Projection from "../Projection.js"

export const Touch = Schema.Struct({
  kind: Schema.Literal("snapshot", "change", "rewind"),
  seq: Schema.Int,
  at: Schema.String,
  agentId: Schema.String,
  /** The call that snapshotted or changed the file; null for a rewind. */
  toolUseId: Schema.NullOr(Schema.String),
  /** The tool that changed the file (`change` only). */
  tool: Schema.NullOr(Schema.String),
  /** `snapshot`: the blob of the content before (null: no file); `change`, `rewind`: of the content after (null: removed). */
  blob: Schema.NullOr(Schema.String)
})
export type Touch = typeof Touch.Type

export const SessionFiles = Schema.Struct({
  startedAt: Schema.String,
  /** The project's real path, when the session's start was folded. */
  project: Schema.NullOr(Schema.String),
  /** By path (as recorded: absolute), in the order they were first touched. */
  files: Schema.Record({ key: Schema.String, value: Schema.Array(Touch) })
})
export type SessionFiles = typeof SessionFiles.Type

export type State = BySession.BySession<SessionFiles>

const touch = (session: SessionFiles, path: string, entry: Touch): SessionFiles => ({
  ...session,
  files: { ...session.files, [path]: [...(session.files[path] ?? []), entry] }
})

const evolveSession = (session: SessionFiles, envelope: Envelope): SessionFiles => {
  const event = envelope.event
  const at = { seq: envelope.seq, at: envelope.at, agentId: envelope.agentId }
  switch (event._tag) {
    case "SessionStarted":
      return { ...session, project: event.project }
    case "FileSnapshotted":
      return touch(session, event.path, {
        kind: "snapshot",
        ...at,
        toolUseId: event.toolUseId,
        tool: null,
        blob: event.before
      })
    case "ToolCallCompleted":
      return (event.files ?? []).reduce(
        (s, file) =>
          touch(s, file.path, {
            kind: "change",
            ...at,
            toolUseId: event.toolUseId,
            tool: event.tool,
            blob: file.after
          }),
        session
      )
    case "FilesRewound":
      return event.files.reduce(
        (s, file) => touch(s, file.path, { kind: "rewind", ...at, toolUseId: null, tool: null, blob: file.restored }),
        session
      )
    default:
      return session
  }
}

const combine = (a: SessionFiles, b: SessionFiles): SessionFiles => {
  const files: Record<string, ReadonlyArray<Touch>> = { ...a.files }
  for (const [path, touches] of Object.entries(b.files)) files[path] = [...(files[path] ?? []), ...touches]
  return { startedAt: BySession.earlier(a.startedAt, b.startedAt), project: b.project ?? a.project, files }
}

/** What a file's history comes to: its content before the session first changed it, and after the last change. */
export interface Summary {
  readonly path: string
  readonly changes: number
  readonly tools: ReadonlyArray<string>
  /** The blob first snapshotted (null: the file did not exist); undefined when no snapshot was folded. */
  readonly before: string | null | undefined
  /** The blob of its latest content (null: removed); undefined when it only was snapshotted. */
  readonly after: string | null | undefined
  readonly rewound: boolean
}

export const summary = (path: string, touches: ReadonlyArray<Touch>): Summary => {
  const changed = touches.filter((t) => t.kind === "change")
  let last: Touch | undefined
  for (const t of touches) if (t.kind !== "snapshot") last = t
  return {
    path,
    changes: changed.length,
    tools: [...new Set(changed.map((t) => t.tool!))],
    before: touches.find((t) => t.kind === "snapshot")?.blob,
    after: last?.blob,
    rewound: last?.kind === "rewind"
  }
}

const blob = (sha: string | null | undefined, none: string, unknown: string) =>
  sha === undefined ? unknown : sha === null ? none : sha.slice(0, 12)

/** The path relative to the project when it is inside it. */
const shown = (path: string, project: string | null) =>
  project !== null && path.startsWith(project + "/") ? path.slice(project.length + 1) : path

export const projection: Projection.Projection<State> = Projection.make<State>({
  name: "files",
  version: 1,
  handles: ["SessionStarted", "FileSnapshotted", "ToolCallCompleted", "FilesRewound"],
  initial: BySession.empty(),
  evolve: (state, envelope) =>
    BySession.modify(
      state,
      envelope.sessionId,
      () => ({ startedAt: envelope.at, project: null, files: {} }),
      (session) => evolveSession(session, envelope)
    ),
  merge: BySession.merge(combine),
  codec: BySession.codec(SessionFiles),
  render: (state) => {
    const sessions = BySession.sorted(state).filter(([, s]) => Object.keys(s.files).length > 0)
    if (sessions.length === 0) return ["No files changed."]
    return sessions.flatMap(([sessionId, session], i) => [
      ...(i === 0 ? [] : [""]),
      `session ${sessionId}${session.project === null ? "" : ` (${session.project})`}`,
      ...table(
        null,
        Object.entries(session.files).map(([path, touches]) => {
          const s = summary(path, touches)
          return [
            `  ${shown(path, session.project)}`,
            `${s.changes} change${s.changes === 1 ? "" : "s"}${s.tools.length === 0 ? "" : ` (${s.tools.join(", ")})`}`,
            `before ${blob(s.before, "(absent)", "?")}`,
            `after ${blob(s.after, "(removed)", "(unchanged)")}${s.rewound ? " (rewound)" : ""}`
          ]
        })
      )
    ])
  }
})
