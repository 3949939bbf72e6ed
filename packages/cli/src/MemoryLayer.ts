/**
 * Long-term memory as the CLI builds it: the memory indexes of this `WEFT_HOME`, fed from every
 * session file of every project, with the embedder the `memory` settings name (offline hashing
 * by default, or an OpenAI-compatible endpoint). Built only by the commands that use it — a
 * session and `weft memory` — so `weft --version` or `weft usage` never pay for it.
 */
import { FetchHttpClient } from "@effect/platform"
import type { JsonObject } from "@weft/kernel/Json"
import type { MemoryIndex } from "@weft/kernel/MemoryIndex"
import { MemoryIndexError } from "@weft/kernel/MemoryIndex"
import * as Embedder from "@weft/memory/Embedder"
import * as LongTermMemory from "@weft/memory/LongTermMemory"
import * as MemorySettings from "@weft/memory/MemorySettings"
import * as ProjectionRunner from "@weft/store/ProjectionRunner"
import { Effect, Either, Layer } from "effect"
import { UsageError } from "./SessionsCommand.js"

/** The `memory` settings of the merged settings, or a one-line error naming the key. */
export const settingsOf = (settings: JsonObject): Effect.Effect<MemorySettings.MemorySettings, UsageError> =>
  Either.match(MemorySettings.decode(settings["memory"]), {
    onLeft: (reason) => Effect.fail(new UsageError({ reason: `settings: ${reason}; fix it in your settings.json` })),
    onRight: Effect.succeed
  })

/** Reads what was appended to the session files since the cursor the memory indexes saved. */
export const feed = (home: string): LongTermMemory.Feed => ({
  changes: (cursor) =>
    ProjectionRunner.changes(ProjectionRunner.weftSource(home, { _tag: "All" }), LongTermMemory.handles, cursor).pipe(
      Effect.tap((changes) =>
        changes.skippedLines === 0
          ? Effect.void
          : Effect.logWarning(`memory: skipped ${changes.skippedLines} line(s) that are not events; \`weft doctor\``)
      ),
      Effect.map((changes) => ({ envelopes: changes.envelopes, cursor: changes.cursor, rebuilt: changes.rebuilt })),
      Effect.mapError((error) => new MemoryIndexError({ reason: `memory: ${error.message}` }))
    )
})

export const layer = (home: string, settings: MemorySettings.MemorySettings) => {
  const embedder = settings.embedder === undefined
    ? MemorySettings.offlineEmbedder
    : Embedder.layerHttp(settings.embedder).pipe(Layer.provide(FetchHttpClient.layer))
  return LongTermMemory.layer({
    home,
    feed: feed(home),
    ...(settings.sealAt === undefined ? {} : { sealAt: settings.sealAt }),
    weights: MemorySettings.weightsOf(settings),
    ...(settings.contextChars === undefined ? {} : { contextChars: settings.contextChars })
  }).pipe(Layer.provide(embedder)) satisfies Layer.Layer<MemoryIndex | LongTermMemory.LongTermMemory, unknown, unknown>
}
