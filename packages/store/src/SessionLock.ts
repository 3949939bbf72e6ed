/**
 * One writer per session: `<sessionId>.lock` holds the writer's pid, hostname and start time.
 *
 * The lock is created atomically with its content (written aside, then hard-linked into
 * place), so nobody ever sees an empty lock. A second writer gets `SessionLockedError` naming
 * the holder; a lock left by a dead process on this host is taken over, and the takeover is
 * logged. A lock from another host is never taken over: its pid means nothing here.
 */
import { FileSystem } from "@effect/platform"
import { SessionLockedError, StorageError } from "@weft/kernel/EventLog"
import { Clock, Effect, Option, Schema } from "effect"
import type { Scope } from "effect"

export const LockInfo = Schema.Struct({
  pid: Schema.Number,
  hostname: Schema.String,
  startedAt: Schema.String
})
export type LockInfo = typeof LockInfo.Type

const LockFile = Schema.parseJson(LockInfo)
const decodeLock = Schema.decodeUnknownOption(LockFile)
const encodeLock = Schema.encodeSync(LockFile)

/** The process that takes locks, and how to tell whether another one is alive. */
export interface Owner {
  readonly pid: number
  readonly hostname: string
  readonly isAlive: (pid: number) => boolean
}

export const processIsAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

export const readLock = (lockPath: string) =>
  FileSystem.FileSystem.pipe(
    Effect.flatMap((fs) => fs.readFileString(lockPath)),
    Effect.map(decodeLock),
    Effect.orElseSucceed(() => Option.none<LockInfo>())
  )

/** Whether a lock can be taken over: its holder ran on this host and is gone (or it is unreadable). */
export const isStale = (lock: Option.Option<LockInfo>, owner: Owner): boolean =>
  Option.match(lock, {
    onNone: () => true,
    onSome: (info) => info.hostname === owner.hostname && info.pid !== owner.pid && !owner.isAlive(info.pid)
  })

export const acquire = (
  lockPath: string,
  sessionId: string,
  owner: Owner
): Effect.Effect<LockInfo, SessionLockedError | StorageError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const startedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    const info: LockInfo = { pid: owner.pid, hostname: owner.hostname, startedAt }
    const tmp = `${lockPath}.${owner.pid}.tmp`
    const storage = (operation: string) => (cause: { readonly message: string }) =>
      new StorageError({ path: lockPath, operation, reason: cause.message })

    yield* fs.writeFileString(tmp, encodeLock(info)).pipe(Effect.mapError(storage("write the lock")))
    const tryLink = fs.link(tmp, lockPath).pipe(
      Effect.as(true),
      Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "AlreadyExists", () => Effect.succeed(false)),
      Effect.mapError(storage("take the lock"))
    )
    let taken = yield* tryLink
    if (!taken) {
      const holder = yield* readLock(lockPath)
      if (!isStale(holder, owner)) {
        yield* fs.remove(tmp).pipe(Effect.ignore)
        const h = Option.getOrThrow(holder)
        return yield* new SessionLockedError({ sessionId, path: lockPath, ...h })
      }
      yield* Effect.logWarning(
        Option.match(holder, {
          onNone: () => `taking over unreadable lock ${lockPath}`,
          onSome: (h) =>
            `taking over stale lock ${lockPath}: pid ${h.pid} on ${h.hostname} (since ${h.startedAt}) is gone`
        })
      )
      yield* fs.remove(lockPath).pipe(Effect.ignore)
      taken = yield* tryLink
      if (!taken) {
        yield* fs.remove(tmp).pipe(Effect.ignore)
        const h = yield* readLock(lockPath)
        return yield* new SessionLockedError({
          sessionId,
          path: lockPath,
          ...Option.getOrElse(h, () => ({ pid: 0, hostname: "?", startedAt: "?" }))
        })
      }
    }
    yield* fs.remove(tmp).pipe(Effect.ignore)
    yield* Effect.addFinalizer(() =>
      // Release only a lock that is still ours.
      readLock(lockPath).pipe(
        Effect.flatMap((current) =>
          Option.isSome(current) && current.value.pid === info.pid && current.value.startedAt === info.startedAt
            ? fs.remove(lockPath)
            : Effect.void
        ),
        Effect.ignore
      )
    )
    return info
  })
