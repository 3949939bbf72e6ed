import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { SystemError } from "@effect/platform/Error"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, FastCheck, Fiber, Option } from "effect"
import { hashOf, make } from "../src/BlobStore.js"

const encoder = new TextEncoder()
const bytesOf = (text: string) => encoder.encode(text)

/** A store in a fresh temp home, and the files under its `blobs` directory. */
const setup = (fs?: FileSystem.FileSystem) =>
  Effect.gen(function*() {
    const nodeFs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const home = yield* nodeFs.makeTempDirectoryScoped()
    const store = yield* make({ home }).pipe(Effect.provideService(FileSystem.FileSystem, fs ?? nodeFs))
    const blobPath = (hash: string) => path.join(home, "blobs", hash.slice(0, 2), hash)
    const files = Effect.gen(function*() {
      const root = path.join(home, "blobs")
      if (!(yield* nodeFs.exists(root))) return []
      const entries = yield* nodeFs.readDirectory(root, { recursive: true })
      const names: Array<string> = []
      for (const entry of entries) {
        const info = yield* nodeFs.stat(path.join(root, entry))
        if (info.type === "File") names.push(path.basename(entry))
      }
      return names
    })
    const tempFiles = Effect.map(files, (names) => names.filter((name) => name.startsWith(".")))
    return { fs: nodeFs, home, store, blobPath, files, tempFiles }
  })

/** The node file system, except that `rename` does what it is told. */
const withRename = (rename: FileSystem.FileSystem["rename"]) =>
  Effect.map(FileSystem.FileSystem, (fs) => FileSystem.FileSystem.of({ ...fs, rename }))

describe("BlobStore", () => {
  it.layer(NodeContext.layer)((it) => {
    it.scoped("get returns the bytes put, under the sha256 hex that put returned", () =>
      Effect.gen(function*() {
        const { store } = yield* setup()
        const bytes = bytesOf("abc")
        const hash = yield* store.put(bytes)
        assert.strictEqual(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        assert.deepStrictEqual(yield* store.get(hash), bytes)
        assert.isTrue(yield* store.has(hash))
      }))

    it.scoped("the empty blob round-trips", () =>
      Effect.gen(function*() {
        const { store } = yield* setup()
        const hash = yield* store.put(new Uint8Array())
        assert.strictEqual(hash, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        assert.deepStrictEqual(yield* store.get(hash), new Uint8Array())
      }))

    it.scoped("a blob is stored at blobs/<first 2 hex chars>/<sha256 hex>", () =>
      Effect.gen(function*() {
        const { blobPath, fs, store } = yield* setup()
        const bytes = bytesOf("laid out")
        const hash = yield* store.put(bytes)
        assert.deepStrictEqual(new Uint8Array(yield* fs.readFile(blobPath(hash))), bytes)
      }))

    it.scoped("the same content gets the same hash and is stored as one file", () =>
      Effect.gen(function*() {
        const { files, store } = yield* setup()
        const first = yield* store.put(bytesOf("twice"))
        const second = yield* store.put(bytesOf("twice"))
        const other = yield* store.put(bytesOf("other"))
        assert.strictEqual(first, second)
        assert.notStrictEqual(first, other)
        assert.deepStrictEqual((yield* files).sort(), [first, other].sort())
      }))

    it.scoped("put does not rewrite a blob that already exists", () =>
      Effect.gen(function*() {
        const { blobPath, fs, store } = yield* setup()
        const hash = yield* store.put(bytesOf("write once"))
        const before = yield* fs.stat(blobPath(hash))
        assert.isTrue(Option.isSome(before.ino))
        assert.strictEqual(yield* store.put(bytesOf("write once")), hash)
        const after = yield* fs.stat(blobPath(hash))
        // A rewrite renames a new file over the old one, which gives the name a new inode.
        assert.deepStrictEqual(after.ino, before.ino)
        assert.deepStrictEqual(after.mtime, before.mtime)
      }))

    it.scoped("many concurrent puts of the same content all succeed and leave one file and no temp files", () =>
      Effect.gen(function*() {
        const { files, store, tempFiles } = yield* setup()
        const bytes = bytesOf("raced")
        const hashes = yield* Effect.all(Array.from({ length: 64 }, () => store.put(bytes)), {
          concurrency: "unbounded"
        })
        const others = yield* Effect.all(Array.from({ length: 16 }, (_, i) => store.put(bytesOf(`other ${i}`))), {
          concurrency: "unbounded"
        })
        assert.deepStrictEqual(new Set(hashes), new Set([hashOf(bytes)]))
        assert.deepStrictEqual(yield* tempFiles, [])
        assert.deepStrictEqual((yield* files).sort(), [hashOf(bytes), ...others].sort())
        assert.deepStrictEqual(yield* store.get(hashOf(bytes)), bytes)
      }))

    it.scoped("a put that fails removes its temp file and reports a StorageError naming the path and operation", () =>
      Effect.gen(function*() {
        const failing = yield* withRename((from) =>
          Effect.fail(
            new SystemError({
              reason: "PermissionDenied",
              module: "FileSystem",
              method: "rename",
              pathOrDescriptor: from
            })
          )
        )
        const { blobPath, files, store } = yield* setup(failing)
        const bytes = bytesOf("doomed")
        const error = yield* Effect.flip(store.put(bytes))
        assert.strictEqual(error._tag, "StorageError")
        assert.strictEqual(error.path, blobPath(hashOf(bytes)))
        assert.strictEqual(error.operation, "rename into")
        assert.deepStrictEqual(yield* files, [])
        assert.isFalse(yield* store.has(hashOf(bytes)))
      }))

    it.scoped("an interrupted put removes its temp file", () =>
      Effect.gen(function*() {
        const renaming = yield* Deferred.make<void>()
        const stuck = yield* withRename(() => Effect.zipRight(Deferred.succeed(renaming, undefined), Effect.never))
        const { files, store, tempFiles } = yield* setup(stuck)
        const fiber = yield* Effect.fork(store.put(bytesOf("interrupted")))
        yield* Deferred.await(renaming)
        assert.strictEqual((yield* tempFiles).length, 1)
        yield* Fiber.interrupt(fiber)
        assert.deepStrictEqual(yield* files, [])
      }))

    it.scoped("get fails with BlobCorruptedError when the bytes on disk were changed", () =>
      Effect.gen(function*() {
        const { blobPath, fs, store } = yield* setup()
        const bytes = bytesOf("pristine")
        const hash = yield* store.put(bytes)
        const changed = new Uint8Array(bytes)
        changed[0] = changed[0]! ^ 1
        yield* fs.writeFile(blobPath(hash), changed)
        const error = yield* Effect.flip(store.get(hash))
        assert.strictEqual(error._tag, "BlobCorruptedError")
        assert.deepInclude(error, { hash, path: blobPath(hash) })
      }))

    it.scoped("get fails with BlobNotFoundError for a hash never put, and has says false", () =>
      Effect.gen(function*() {
        const { blobPath, store } = yield* setup()
        yield* store.put(bytesOf("stored"))
        const hash = hashOf(bytesOf("never stored"))
        const error = yield* Effect.flip(store.get(hash))
        assert.strictEqual(error._tag, "BlobNotFoundError")
        assert.deepInclude(error, { hash, path: blobPath(hash) })
        assert.isFalse(yield* store.has(hash))
      }))

    it.scoped("get rejects a hash that is not 64 lowercase hex chars, and has says false", () =>
      Effect.gen(function*() {
        const { store } = yield* setup()
        const hash = yield* store.put(bytesOf("named"))
        for (const bad of [hash.toUpperCase(), hash.slice(1), `../${hash.slice(3)}`, ""]) {
          const error = yield* Effect.flip(store.get(bad))
          assert.strictEqual(error._tag, "InvalidBlobHashError")
          assert.isFalse(yield* store.has(bad))
        }
      }))

    it.scoped.prop(
      "any bytes round-trip through put and get",
      [FastCheck.uint8Array({ maxLength: 4096 })],
      ([bytes]) =>
        Effect.gen(function*() {
          const { store } = yield* setup()
          const hash = yield* store.put(bytes)
          assert.strictEqual(hash, hashOf(bytes))
          assert.deepStrictEqual(yield* store.get(hash), bytes)
        }),
      { fastCheck: { numRuns: 50 } }
    )
  })
})
