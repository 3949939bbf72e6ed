/**
 * The kernel's `SnapshotStore` port on the content-addressed `BlobStore`: a snapshot is the
 * blob `<home>/blobs/<2 hex>/<sha256>`, so what the agent loop snapshots, `weft rewind` and
 * `weft diff` read back from any later process.
 *
 * Errors are the port's: a blob that is not there (or a hash that could not name one) is
 * `SnapshotNotFoundError`; a blob that no longer matches its hash, or a file system that
 * fails, is `SnapshotStoreError` carrying the store's own one-line message.
 */
import type { FileSystem, Path } from "@effect/platform"
import { SnapshotNotFoundError, SnapshotStore, SnapshotStoreError } from "@weft/kernel/SnapshotStore"
import { Effect, Layer } from "effect"
import * as BlobStore from "./BlobStore.js"

export const make: Effect.Effect<SnapshotStore["Type"], never, BlobStore.BlobStore> = Effect.gen(function*() {
  const blobs = yield* BlobStore.BlobStore

  const put = Effect.fn("BlobSnapshotStore.put")(function*(bytes: Uint8Array) {
    return yield* blobs.put(bytes).pipe(Effect.mapError((error) => new SnapshotStoreError({ reason: error.message })))
  })

  const get = Effect.fn("BlobSnapshotStore.get")(function*(hash: string) {
    return yield* blobs.get(hash).pipe(
      Effect.catchTags({
        BlobNotFoundError: () => new SnapshotNotFoundError({ hash }),
        // No blob can be named by it, so there is no such snapshot — as the in-memory store answers.
        InvalidBlobHashError: () => new SnapshotNotFoundError({ hash }),
        BlobCorruptedError: (error) => new SnapshotStoreError({ reason: error.message }),
        StorageError: (error) => new SnapshotStoreError({ reason: error.message })
      })
    )
  })

  return SnapshotStore.of({ put, get })
})

/** Snapshots as blobs under `home` (`WEFT_HOME`). */
export const layer = (options: { readonly home: string }): Layer.Layer<
  SnapshotStore,
  never,
  FileSystem.FileSystem | Path.Path
> => Layer.effect(SnapshotStore, make).pipe(Layer.provide(BlobStore.layer(options)))
