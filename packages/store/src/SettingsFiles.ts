/**
 * Reads the settings layers from disk and merges them (`@weft/kernel/Settings`):
 *
 * ```
 * <home>/settings.json                  user
 * <home>/settings.local.json            user-local
 * <project>/.weft/settings.json         project
 * <project>/.weft/settings.local.json   project-local
 * flags (an object from the CLI)        flags
 * ```
 *
 * `home` is weft's home (`WEFT_HOME`, default `~/.weft`). A missing file is an absent layer;
 * a file that cannot be read or is not JSON is a `SettingsError` with its path and the reason.
 */
import { FileSystem, Path } from "@effect/platform"
import type { SettingLayer } from "@weft/kernel/Settings"
import { decodeLayer, merge, SettingsError } from "@weft/kernel/Settings"
import { Effect, Either, ParseResult, Schema } from "effect"

export interface Options {
  /** weft's home: `WEFT_HOME`, default `~/.weft`. */
  readonly home: string
  /** The project root. */
  readonly project: string
  /** The layer from the command line: `{ permissions: { allow, deny, defaultMode }, model }`. */
  readonly flags?: unknown
}

/** The files of each layer, lowest precedence first. */
export const files = (
  path: Path.Path,
  options: Pick<Options, "home" | "project">
): ReadonlyArray<{ readonly layer: SettingLayer; readonly path: string }> => [
  { layer: "user", path: path.join(options.home, "settings.json") },
  { layer: "user-local", path: path.join(options.home, "settings.local.json") },
  { layer: "project", path: path.join(options.project, ".weft", "settings.json") },
  { layer: "project-local", path: path.join(options.project, ".weft", "settings.local.json") }
]

const decodeJson = Schema.decodeUnknownEither(Schema.parseJson())

/** Reads and merges every layer. */
export const load = Effect.fn("SettingsFiles.load")(function*(options: Options) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const layers = []
  for (const file of files(path, options)) {
    const text = yield* fs.readFileString(file.path).pipe(
      Effect.map((text): string | null => text),
      Effect.catchIf(
        (error) => error._tag === "SystemError" && error.reason === "NotFound",
        () => Effect.succeed(null)
      ),
      Effect.mapError((error) =>
        new SettingsError({
          path: file.path,
          key: "",
          reason: `could not read it: ${error.description ?? error.message}`
        })
      )
    )
    if (text === null) continue
    const json = decodeJson(text)
    if (Either.isLeft(json)) {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(json.left)[0]
      // The parser quotes the text around the error, newlines included: keep it to one short line.
      const collapsed = (issue?.message ?? "invalid JSON").replace(/\s+/g, " ")
      const reason = collapsed.length > 200 ? `${collapsed.slice(0, 197)}...` : collapsed
      return yield* new SettingsError({ path: file.path, key: "", reason: `not valid JSON: ${reason}` })
    }
    layers.push(yield* decodeLayer(file.layer, file.path, json.right))
  }
  if (options.flags !== undefined) layers.push(yield* decodeLayer("flags", null, options.flags))
  return merge(layers)
})
