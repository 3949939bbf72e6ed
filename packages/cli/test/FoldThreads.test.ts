/**
 * How many threads `weft usage` and `weft project` fold with: `--workers N` as given, else up to
 * four for a large fold from scratch when this build can start worker threads.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Worker } from "node:worker_threads"
import { AUTO_PARALLEL_BYTES, foldThreads, Workers } from "../src/ProjectCommand.js"

const spawner = (data: unknown) => new Worker("", { eval: true, workerData: data })

describe("foldThreads", () => {
  it.effect("without --workers: as many threads as the machine runs, up to four, from 64 MB to read", () =>
    Effect.gen(function*() {
      const eight = yield* foldThreads(Option.none(), 8)
      assert.strictEqual(eight.workers, 4)
      assert.strictEqual(eight.minParallelBytes, AUTO_PARALLEL_BYTES)
      assert.strictEqual((yield* foldThreads(Option.none(), 2)).workers, 2)
      assert.strictEqual((yield* foldThreads(Option.none(), 1)).workers, 1)
      assert.strictEqual((yield* foldThreads(Option.none(), undefined)).workers, 1)
    }).pipe(Effect.provideService(Workers, spawner)))

  it.effect("without a way to start workers, one thread", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* foldThreads(Option.none(), 8)).workers, 1)
    }))

  it.effect("--workers N is taken as given, whatever the size of the fold", () =>
    Effect.gen(function*() {
      const three = yield* foldThreads(Option.some(3), 8)
      assert.deepStrictEqual([three.workers, three.minParallelBytes], [3, 0])
      assert.strictEqual((yield* foldThreads(Option.some(1), 8)).workers, 1)
    }).pipe(Effect.provideService(Workers, spawner)))
})
