import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as SnapshotStore from "@weft/kernel/SnapshotStore"
import { Effect, FastCheck, Layer } from "effect"
import * as BlobSnapshotStore from "../src/BlobSnapshotStore.js"
import * as BlobStore from "../src/BlobStore.js"

const bytesOf = (text: string) => new TextEncoder().encode(text)

/** A blob-backed store in a fresh temp home, removed with the test's scope. */
const blobLayer = Layer.unwrapScoped(
  Effect.map(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "weft-snapshots-" })),
    (home) => BlobSnapshotStore.layer({ home })
  )
)

/** What every SnapshotStore adapter must do, run against the in-memory layer and the blob-backed one alike. */
const contract = (
  name: string,
  layer: Layer.Layer<SnapshotStore.SnapshotStore, unknown, FileSystem.FileSystem | Path.Path>
) =>
  describe(`SnapshotStore contract: ${name}`, () => {
    /** A fresh store for each test (each property run). */
    const run = <A, E>(effect: Effect.Effect<A, E, SnapshotStore.SnapshotStore>) =>
      Effect.provide(effect, layer.pipe(Layer.provide(NodeContext.layer), Layer.orDie))

    it.scoped.prop(
      "get returns exactly the bytes put, under the hash SnapshotStore.hashOf gives them",
      [FastCheck.uint8Array({ maxLength: 2048 })],
      ([bytes]) =>
        run(Effect.gen(function*() {
          const store = yield* SnapshotStore.SnapshotStore
          const hash = yield* store.put(bytes)
          assert.strictEqual(hash, SnapshotStore.hashOf(bytes))
          assert.deepStrictEqual(new Uint8Array(yield* store.get(hash)), new Uint8Array(bytes))
        })),
      { fastCheck: { numRuns: 30 } }
    )

    it.scoped("the empty file is a snapshot like any other", () =>
      run(Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        const hash = yield* store.put(new Uint8Array())
        assert.strictEqual(hash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        assert.strictEqual((yield* store.get(hash)).length, 0)
      })))

    it.scoped("putting the same bytes twice gives the same hash; other bytes another", () =>
      run(Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        const first = yield* store.put(bytesOf("same"))
        assert.strictEqual(yield* store.put(bytesOf("same")), first)
        assert.notStrictEqual(yield* store.put(bytesOf("other")), first)
      })))

    it.scoped("changing the array put, or the one get returned, does not change the snapshot", () =>
      run(Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        const bytes = bytesOf("kept")
        const hash = yield* store.put(bytes)
        bytes[0] = 0
        const got = yield* store.get(hash)
        got[1] = 0
        assert.deepStrictEqual(new Uint8Array(yield* store.get(hash)), bytesOf("kept"))
      })))

    it.scoped("get of a hash never put, or of something that is not a hash, fails with SnapshotNotFoundError", () =>
      run(Effect.gen(function*() {
        const store = yield* SnapshotStore.SnapshotStore
        for (const hash of [SnapshotStore.hashOf(bytesOf("never put")), "not-a-hash", "../../etc/passwd"]) {
          const error = yield* Effect.flip(store.get(hash))
          assert.strictEqual(error._tag, "SnapshotNotFoundError")
          assert.include(error.message, hash)
        }
      })))
  })

contract("layerMemory", SnapshotStore.layerMemory)
contract("BlobSnapshotStore.layer", blobLayer)

describe("BlobSnapshotStore", () => {
  it.layer(NodeContext.layer)((it) => {
    it.scoped("a snapshot is the blob blobs/<2 hex>/<sha256> under home, read back by a later store on that home", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const home = yield* fs.makeTempDirectoryScoped()
        const bytes = bytesOf("what the loop snapshotted")
        const hash = yield* Effect.flatMap(SnapshotStore.SnapshotStore, (store) => store.put(bytes)).pipe(
          Effect.provide(BlobSnapshotStore.layer({ home }))
        )
        const file = path.join(home, "blobs", hash.slice(0, 2), hash)
        assert.deepStrictEqual(new Uint8Array(yield* fs.readFile(file)), bytes)
        // A store on the same home — another process, later — finds it; so does the BlobStore itself.
        const again = yield* Effect.flatMap(SnapshotStore.SnapshotStore, (store) => store.get(hash)).pipe(
          Effect.provide(BlobSnapshotStore.layer({ home }))
        )
        assert.deepStrictEqual(new Uint8Array(again), bytes)
        const blob = yield* Effect.flatMap(BlobStore.BlobStore, (blobs) => blobs.get(hash)).pipe(
          Effect.provide(BlobStore.layer({ home }))
        )
        assert.deepStrictEqual(new Uint8Array(blob), bytes)
      }))

    it.scoped("a blob changed on disk is a SnapshotStoreError naming the blob, never the wrong bytes", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const home = yield* fs.makeTempDirectoryScoped()
        yield* Effect.gen(function*() {
          const store = yield* SnapshotStore.SnapshotStore
          const hash = yield* store.put(bytesOf("original"))
          const file = path.join(home, "blobs", hash.slice(0, 2), hash)
          yield* fs.writeFileString(file, "tampered")
          const error = yield* Effect.flip(store.get(hash))
          assert.strictEqual(error._tag, "SnapshotStoreError")
          assert.include(error.message, file)
          assert.include(error.message, "does not hash to")
        }).pipe(Effect.provide(BlobSnapshotStore.layer({ home })))
      }))

    it.scoped("a put the file system refuses is a SnapshotStoreError saying where and what", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const dir = yield* fs.makeTempDirectoryScoped()
        // `home/blobs` is a file, so no blob directory can be made under it.
        const home = path.join(dir, "home")
        yield* fs.makeDirectory(home)
        yield* fs.writeFileString(path.join(home, "blobs"), "not a directory")
        const error = yield* Effect.flatMap(SnapshotStore.SnapshotStore, (store) => store.put(bytesOf("x"))).pipe(
          Effect.provide(BlobSnapshotStore.layer({ home })),
          Effect.flip
        )
        assert.strictEqual(error._tag, "SnapshotStoreError")
        assert.include(error.message, path.join(home, "blobs"))
      }))
  })
})
