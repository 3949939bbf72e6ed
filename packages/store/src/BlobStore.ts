/**
 * A content-addressed store of bytes (file snapshots): each blob is named by the sha256 of
 * its content and laid out as `<home>/blobs/<first 2 hex chars>/<sha256 hex>`.
 *
 * A blob is written once, atomically: to a temp file in its directory, synced, then renamed
 * into place, so the final name never holds a partial file. `get` checks the content against
 * its name before returning it.
 */
import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { StorageError } from "@weft/kernel/EventLog"
import * as SnapshotStore from "@weft/kernel/SnapshotStore"
import { Context, Effect, Exit, Layer, Random, Schema } from "effect"

export class BlobNotFoundError extends Schema.TaggedError<BlobNotFoundError>()("BlobNotFoundError", {
  hash: Schema.String,
  path: Schema.String
}) {
  override get message() {
    return `blob ${this.hash} not found at ${this.path}; it was never stored here, or was removed — store it again`
  }
}

export class BlobCorruptedError extends Schema.TaggedError<BlobCorruptedError>()("BlobCorruptedError", {
  hash: Schema.String,
  path: Schema.String
}) {
  override get message() {
    return `blob ${this.path} does not hash to ${this.hash}: it was changed on disk; remove it and store the content again`
  }
}

export class InvalidBlobHashError extends Schema.TaggedError<InvalidBlobHashError>()("InvalidBlobHashError", {
  hash: Schema.String
}) {
  override get message() {
    return `"${this.hash}" is not a blob hash (64 lowercase hex chars of sha256); pass a hash returned by BlobStore.put`
  }
}

export interface Service {
  /** Stores the bytes (once) and returns their sha256 hex. */
  readonly put: (bytes: Uint8Array) => Effect.Effect<string, StorageError>
  /** The bytes named `hash`, checked against it. */
  readonly get: (
    hash: string
  ) => Effect.Effect<Uint8Array, BlobNotFoundError | BlobCorruptedError | InvalidBlobHashError | StorageError>
  /** Whether a blob named `hash` is stored (false for a malformed hash). */
  readonly has: (hash: string) => Effect.Effect<boolean, StorageError>
}

export class BlobStore extends Context.Tag("@weft/store/BlobStore")<BlobStore, Service>() {}

/** The sha256 of the bytes, as 64 lowercase hex chars: the name the store gives them. */
/** The sha256 (hex) blobs are named by: the kernel's, so a snapshot's hash is its blob's name. */
export const hashOf = SnapshotStore.hashOf

const isHash = (hash: string): boolean => /^[0-9a-f]{64}$/.test(hash)

const storageError = (path: string, operation: string) => (error: PlatformError) =>
  new StorageError({
    path,
    operation,
    reason: error.description ?? error.message
  })

const randomHex = Effect.map(Random.nextInt, (n) => n.toString(16).padStart(14, "0"))

export const make = (options: { readonly home: string }): Effect.Effect<
  Service,
  never,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.join(options.home, "blobs")
    const dirOf = (hash: string) => path.join(root, hash.slice(0, 2))
    const pathOf = (hash: string) => path.join(dirOf(hash), hash)

    const writeOnce = (tmp: string, final: string, bytes: Uint8Array) =>
      Effect.scoped(Effect.gen(function*() {
        const file = yield* fs.open(tmp, { flag: "wx" }).pipe(Effect.mapError(storageError(tmp, "create")))
        // Registered only once `tmp` is ours: on failure or interruption it goes, so no temp file is left behind.
        yield* Effect.addFinalizer((exit) => Exit.isFailure(exit) ? Effect.ignore(fs.remove(tmp)) : Effect.void)
        // `writeAll` of nothing fails (WriteZero); the empty blob is just the created file.
        if (bytes.length > 0) yield* file.writeAll(bytes).pipe(Effect.mapError(storageError(tmp, "write")))
        yield* file.sync.pipe(Effect.mapError(storageError(tmp, "sync")))
        yield* fs.rename(tmp, final).pipe(Effect.mapError(storageError(final, "rename into")))
      }))

    const put = Effect.fn("BlobStore.put")(function*(bytes: Uint8Array) {
      const hash = hashOf(bytes)
      const final = pathOf(hash)
      if (yield* fs.exists(final).pipe(Effect.mapError(storageError(final, "check")))) return hash
      const dir = dirOf(hash)
      yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(storageError(dir, "create directory")))
      const tmp = path.join(dir, `.${hash}.${yield* randomHex}${yield* randomHex}.tmp`)
      yield* writeOnce(tmp, final, bytes)
      return hash
    })

    const get = Effect.fn("BlobStore.get")(function*(hash: string) {
      if (!isHash(hash)) return yield* new InvalidBlobHashError({ hash })
      const file = pathOf(hash)
      const bytes = yield* fs.readFile(file).pipe(
        Effect.mapError((error) =>
          error._tag === "SystemError" && error.reason === "NotFound"
            ? new BlobNotFoundError({ hash, path: file })
            : storageError(file, "read")(error)
        )
      )
      if (hashOf(bytes) !== hash) return yield* new BlobCorruptedError({ hash, path: file })
      // A plain view of the same memory, not the Node Buffer the platform reads into.
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    })

    const has = Effect.fn("BlobStore.has")(function*(hash: string) {
      if (!isHash(hash)) return false
      const file = pathOf(hash)
      return yield* fs.exists(file).pipe(Effect.mapError(storageError(file, "check")))
    })

    return BlobStore.of({ put, get, has })
  })

export const layer = (options: { readonly home: string }): Layer.Layer<
  BlobStore,
  never,
  FileSystem.FileSystem | Path.Path
> => Layer.effect(BlobStore, make(options))
