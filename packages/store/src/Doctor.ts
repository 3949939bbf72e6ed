/**
 * `weft doctor`: inspects everything under `WEFT_HOME/projects` and, when asked, repairs what
 * can be repaired without rewriting history. It returns data; the CLI prints it.
 *
 * Per session file: a torn tail, bad lines in the middle, seq gaps (the same scanner readers
 * use), its lock (stale: its holder ran on this host and is gone; live: anything else), and
 * torn tails kept aside by earlier repairs. Per project folder: a missing or unreadable
 * `project.json`, without which its sessions are not listed.
 *
 * Repair keeps every byte: a torn tail is moved aside exactly as the writer does it
 * (`repairTornTail`), under the session's lock, so it never races a live writer; a stale lock
 * is taken over and released (`SessionLock.acquire`); a missing `project.json` is restored
 * when the sessions in the folder agree on their project. Bad lines and seq gaps are only
 * reported: fixing them would rewrite history.
 */
import { FileSystem, Path } from "@effect/platform"
import type { LineCodec } from "@weft/kernel/EventCodec"
import { lineCodec } from "@weft/kernel/EventCodec"
import { StorageError } from "@weft/kernel/EventLog"
import { Effect, Either, Logger, LogLevel, Option, Schema, Stream } from "effect"
import { defaultOwner, repairTornTail } from "./JsonlEventLog.js"
import { encodeProjectPath, LOCK_SUFFIX, PROJECT_FILE, SESSION_SUFFIX } from "./Layout.js"
import * as ProjectDirectory from "./ProjectDirectory.js"
import * as SessionFile from "./SessionFile.js"
import * as SessionLock from "./SessionLock.js"

/** `problem`: still wrong; `repaired`: was wrong, fixed by this run; `info`: worth knowing, nothing wrong. */
export type Status = "problem" | "repaired" | "info"

export type Finding =
  /** The end of the file holds no event: an append that never finished. `bytes` is null when it cannot be cut off. */
  | {
    readonly _tag: "TornTail"
    readonly status: "problem" | "repaired"
    readonly line: number
    readonly reason: string
    readonly bytes: number | null
    /** Where the bytes were moved, once repaired. */
    readonly aside: string | null
    /** Why it was not repaired (a live writer, corruption before it), or null. */
    readonly unrepaired: string | null
  }
  /** A line in the middle that is not an event. */
  | { readonly _tag: "BadLine"; readonly status: "problem"; readonly line: number; readonly reason: string }
  /** An event whose seq is not the one after the previous event's. */
  | {
    readonly _tag: "SeqGap"
    readonly status: "problem"
    readonly line: number
    readonly expected: number
    readonly found: number
  }
  /** The session's lock file: a live one is info; a stale one a problem until removed. */
  | {
    readonly _tag: "Lock"
    readonly status: Status
    readonly path: string
    readonly state: "stale" | "live"
    /** Null when the lock is unreadable. */
    readonly holder: SessionLock.LockInfo | null
    readonly unrepaired: string | null
  }
  /** Bytes an earlier repair kept aside (`<session>.jsonl.torn-<n>`); kept, never removed. */
  | { readonly _tag: "TornAside"; readonly status: "info"; readonly path: string; readonly bytes: number }
  /** A file that could not be read at all. */
  | { readonly _tag: "Unreadable"; readonly status: "problem"; readonly path: string; readonly reason: string }
  /** A project folder whose `project.json` is missing (`reason` null) or does not decode. */
  | {
    readonly _tag: "ProjectFile"
    readonly status: Status
    readonly path: string
    readonly reason: string | null
    /** The projects its sessions' `SessionStarted` name. */
    readonly named: ReadonlyArray<string>
    readonly unrepaired: string | null
  }

export interface SessionReport {
  readonly sessionId: string
  /** `<dir>/<sessionId>.jsonl`. */
  readonly path: string
  /** False for a lock (or kept-aside bytes) whose session file does not exist. */
  readonly exists: boolean
  /** Events that decode. */
  readonly events: number
  /** The project its `SessionStarted` names, if its first line is one. */
  readonly project: string | null
  readonly findings: ReadonlyArray<Finding>
}

export interface FolderReport {
  readonly dir: string
  /** The project `project.json` names, or null when it is missing or unreadable. */
  readonly project: string | null
  readonly findings: ReadonlyArray<Finding>
  readonly sessions: ReadonlyArray<SessionReport>
}

export interface Report {
  readonly home: string
  readonly repair: boolean
  readonly folders: ReadonlyArray<FolderReport>
}

export interface Options {
  /** `WEFT_HOME`. */
  readonly home: string
  /** Fix what can be fixed without rewriting history. */
  readonly repair?: boolean
  /** Who takes session locks to repair them, and how to tell whether a holder is alive; defaults to this process. */
  readonly owner?: SessionLock.Owner
  readonly codec?: LineCodec
  /** Bytes per read when scanning a session. */
  readonly chunkSize?: number
}

/** Every finding of a report, with the folder and session it belongs to. */
export const findings = (report: Report) =>
  report.folders.flatMap((folder) => [
    ...folder.findings.map((finding) => ({ folder, session: null, finding })),
    ...folder.sessions.flatMap((session) => session.findings.map((finding) => ({ folder, session, finding })))
  ])

export const count = (report: Report, status: Status): number =>
  findings(report).filter(({ finding }) => finding.status === status).length

/** Healthy: nothing is (still) wrong. */
export const isHealthy = (report: Report): boolean => count(report, "problem") === 0

const decodeProjectFile = Schema.decodeUnknownEither(ProjectDirectory.ProjectFile)

const TORN_ASIDE = /^(.+)\.jsonl\.torn-[0-9]+$/

const describeLock = (holder: SessionLock.LockInfo | null) =>
  holder === null ? "an unreadable lock" : `pid ${holder.pid} on ${holder.hostname} (since ${holder.startedAt})`

interface Scan {
  readonly events: number
  readonly project: string | null
  readonly problems: ReadonlyArray<SessionFile.Problem>
}

const notScanned: Scan = { events: 0, project: null, problems: [] }

export const run = Effect.fn("Doctor.run")(function*(options: Options) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const codec = options.codec ?? lineCodec
  const owner = options.owner ?? defaultOwner()
  const repair = options.repair ?? false
  const chunkSize = FileSystem.Size(options.chunkSize ?? 1 << 20)
  const root = path.join(options.home, "projects")
  const storage = (p: string, operation: string) => (cause: { readonly message: string }) =>
    new StorageError({ path: p, operation, reason: cause.message })
  // What repair does is in the report; the warnings the writer's helpers log about it would only repeat it.
  const quietly = <A, E, R>(effect: Effect.Effect<A, E, R>) => Logger.withMinimumLogLevel(effect, LogLevel.Error)

  /** Streams the file through the readers' scanner: memory stays flat whatever its size. */
  const scan = (file: string): Effect.Effect<Scan, StorageError> =>
    Effect.gen(function*() {
      const scanner = SessionFile.makeScanner(codec)
      let events = 0
      let project: string | null = null
      const problems: Array<SessionFile.Problem> = []
      const take = (items: ReadonlyArray<SessionFile.Item>) => {
        for (const item of items) {
          if (item._tag === "Problem") {
            problems.push(item.problem)
            continue
          }
          events++
          const event = item.envelope.event
          if (item.line === 1 && event._tag === "SessionStarted") project = event.project
        }
      }
      yield* fs.stream(file, { chunkSize }).pipe(
        Stream.runForEach((bytes) => Effect.sync(() => take(scanner.push(bytes)))),
        Effect.mapError(storage(file, "read"))
      )
      take(scanner.end())
      return { events, project, problems }
    })

  const readLock = (lockPath: string) =>
    Effect.gen(function*() {
      if (!(yield* fs.exists(lockPath).pipe(Effect.orElseSucceed(() => false)))) return undefined
      const holder = yield* SessionLock.readLock(lockPath)
      return {
        holder: Option.getOrNull(holder),
        state: SessionLock.isStale(holder, owner) ? "stale" as const : "live" as const
      }
    })

  const checkSession = (dir: string, sessionId: string, asides: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const file = path.join(dir, sessionId + SESSION_SUFFIX)
      const lockPath = path.join(dir, sessionId + LOCK_SUFFIX)
      const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
      const lock = yield* readLock(lockPath)
      const scanned = exists ? yield* Effect.either(scan(file)) : Either.right(notScanned)
      const scanResult = Either.getOrElse(scanned, () => notScanned)
      const torn = scanResult.problems.find((p) => p.kind === "torn-tail")
      // How many bytes the writer would move aside; it refuses when the line before the tear is bad too.
      const tail = torn === undefined ? undefined : yield* Effect.either(SessionFile.inspectTail(file, codec))

      let tornAside: string | null = null
      let tornUnrepaired: string | null = tail !== undefined && Either.isLeft(tail) ? tail.left.reason : null
      let lockRemoved = false
      let lockUnrepaired: string | null = null
      const wantsTail = torn !== undefined && tornUnrepaired === null
      if (lock?.state === "live" && wantsTail) tornUnrepaired = `in use by ${describeLock(lock.holder)}`
      if (repair && (lock?.state === "stale" || (wantsTail && lock?.state !== "live"))) {
        // The session's own lock, taking over a stale one: no writer can append while the tail is cut.
        const repaired = yield* Effect.scoped(Effect.gen(function*() {
          yield* SessionLock.acquire(lockPath, sessionId, owner)
          if (!wantsTail) return Option.none<string>()
          return yield* repairTornTail(file, yield* SessionFile.inspectTail(file, codec))
        })).pipe(quietly, Effect.either)
        if (Either.isRight(repaired)) {
          lockRemoved = lock?.state === "stale"
          tornAside = Option.getOrNull(repaired.right)
          // Someone repaired it between the scan and the lock: nothing left to do, but not our repair.
          if (wantsTail && tornAside === null) tornUnrepaired = "no longer torn once locked; run `weft doctor` again"
        } else {
          const error = repaired.left
          const why = error._tag === "SessionLockedError"
            ? `in use by ${describeLock(error)}`
            : error.message
          if (wantsTail) tornUnrepaired = why
          if (lock?.state === "stale") lockUnrepaired = why
        }
      }

      const findings: Array<Finding> = []
      if (Either.isLeft(scanned)) {
        findings.push({ _tag: "Unreadable", status: "problem", path: file, reason: scanned.left.reason })
      }
      // A run of bad lines just before a seq gap of that many events explains it: the gap is not reported twice.
      let badRun = { count: 0, last: -1 }
      for (const problem of scanResult.problems) {
        switch (problem.kind) {
          case "torn-tail": {
            const bytes = tail !== undefined && Either.isRight(tail) ? tail.right.size - tail.right.cleanLength : null
            findings.push({
              _tag: "TornTail",
              status: tornAside === null ? "problem" : "repaired",
              line: problem.line,
              reason: problem.reason,
              bytes,
              aside: tornAside,
              unrepaired: tornAside === null ? tornUnrepaired : null
            })
            break
          }
          case "bad-line":
            badRun = { count: problem.line === badRun.last + 1 ? badRun.count + 1 : 1, last: problem.line }
            findings.push({ _tag: "BadLine", status: "problem", line: problem.line, reason: problem.reason })
            break
          case "seq-gap":
            if (problem.line === badRun.last + 1 && problem.found - problem.expected === badRun.count) break
            findings.push({
              _tag: "SeqGap",
              status: "problem",
              line: problem.line,
              expected: problem.expected,
              found: problem.found
            })
            break
        }
      }
      if (lock !== undefined) {
        findings.push({
          _tag: "Lock",
          status: lock.state === "live" ? "info" : lockRemoved ? "repaired" : "problem",
          path: lockPath,
          state: lock.state,
          holder: lock.holder,
          unrepaired: lockUnrepaired
        })
      }
      for (const aside of asides) {
        const info = yield* fs.stat(aside).pipe(Effect.option)
        findings.push({
          _tag: "TornAside",
          status: "info",
          path: aside,
          bytes: Option.match(info, { onNone: () => 0, onSome: (i) => Number(i.size) })
        })
      }
      return {
        sessionId,
        path: file,
        exists,
        events: scanResult.events,
        project: scanResult.project,
        findings
      } satisfies SessionReport
    })

  const readProjectFile = (dir: string) =>
    Effect.gen(function*() {
      const file = path.join(dir, PROJECT_FILE)
      if (!(yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false)))) {
        return { file, project: null, reason: null }
      }
      const text = yield* fs.readFileString(file).pipe(Effect.either)
      if (Either.isLeft(text)) return { file, project: null, reason: text.left.message }
      const decoded = decodeProjectFile(text.right)
      return Either.match(decoded, {
        onLeft: (error) => ({ file, project: null, reason: `does not decode: ${error.message.split("\n")[0]}` }),
        onRight: (p) => ({ file, project: p.path, reason: null })
      })
    })

  /** Restores a missing project.json: the folder is that project's and no other folder claims it. */
  const restoreProjectFile = (dir: string, file: string, named: ReadonlyArray<string>, claimed: Set<string>) =>
    Effect.gen(function*() {
      if (named.length !== 1) {
        return named.length === 0
          ? "no session in it names its project"
          : `its sessions name ${named.length} different projects`
      }
      const project = named[0]!
      const name = path.basename(dir)
      const encoded = encodeProjectPath(project)
      if (name !== encoded && !name.startsWith(`${encoded}~`)) {
        return `its sessions name ${project}, which is not stored under this folder's name`
      }
      if (claimed.has(project)) return `another folder already holds ${project}`
      const written = yield* ProjectDirectory.writeProjectFile(file, project).pipe(
        Effect.provideService(FileSystem.FileSystem, fs),
        Effect.either
      )
      if (Either.isLeft(written)) return written.left.message
      claimed.add(project)
      return null
    })

  if (!(yield* fs.exists(root).pipe(Effect.mapError(storage(root, "check"))))) {
    return { home: options.home, repair, folders: [] } satisfies Report
  }
  const names = (yield* fs.readDirectory(root).pipe(Effect.mapError(storage(root, "list")))).sort()
  const dirs: Array<string> = []
  for (const name of names) {
    const dir = path.join(root, name)
    const info = yield* fs.stat(dir).pipe(Effect.option)
    if (Option.isSome(info) && info.value.type === "Directory") dirs.push(dir)
  }
  const projectFiles = yield* Effect.forEach(dirs, readProjectFile)
  const claimed = new Set(projectFiles.flatMap((p) => (p.project === null ? [] : [p.project])))

  const folders: Array<FolderReport> = []
  for (let i = 0; i < dirs.length; i++) {
    const dir = dirs[i]!
    const projectFile = projectFiles[i]!
    const entries = yield* fs.readDirectory(dir).pipe(Effect.mapError(storage(dir, "list")))
    const sessionIds = new Set<string>()
    const asides = new Map<string, Array<string>>()
    for (const entry of entries.sort()) {
      if (entry.endsWith(SESSION_SUFFIX)) sessionIds.add(entry.slice(0, -SESSION_SUFFIX.length))
      else if (entry.endsWith(LOCK_SUFFIX)) sessionIds.add(entry.slice(0, -LOCK_SUFFIX.length))
      else {
        const torn = TORN_ASIDE.exec(entry)
        if (torn === null) continue
        sessionIds.add(torn[1]!)
        asides.set(torn[1]!, [...(asides.get(torn[1]!) ?? []), path.join(dir, entry)])
      }
    }
    const sessions = yield* Effect.forEach(
      [...sessionIds].sort(),
      (sessionId) => checkSession(dir, sessionId, asides.get(sessionId) ?? [])
    )

    const findings: Array<Finding> = []
    let restored: string | null = null
    if (projectFile.project === null) {
      const named = [...new Set(sessions.flatMap((s) => (s.project === null ? [] : [s.project])))].sort()
      const hasSessions = sessions.some((s) => s.exists)
      const unrepaired = !repair || !hasSessions
        ? null
        : projectFile.reason !== null
        ? "a project.json that does not decode is never overwritten"
        : yield* restoreProjectFile(dir, projectFile.file, named, claimed)
      restored = repair && projectFile.reason === null && hasSessions && unrepaired === null ? named[0]! : null
      findings.push({
        _tag: "ProjectFile",
        // A folder without sessions loses nothing by having no project.json: the next writer claims it.
        status: restored !== null ? "repaired" : hasSessions || projectFile.reason !== null ? "problem" : "info",
        path: projectFile.file,
        reason: projectFile.reason,
        named,
        unrepaired
      })
    }
    folders.push({ dir, project: projectFile.project ?? restored, findings, sessions })
  }
  return { home: options.home, repair, folders } satisfies Report
})
