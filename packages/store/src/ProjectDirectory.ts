/**
 * Finds (and creates) the folder a project's sessions are stored in, keeping two paths that
 * encode alike apart through the real path recorded in each folder's `project.json`.
 */
import { FileSystem, Path } from "@effect/platform"
import { StorageError } from "@weft/kernel/EventLog"
import { Effect, Option, Random, Schema } from "effect"
import { candidateFolder, PROJECT_FILE } from "./Layout.js"

const storageError = (path: string, operation: string) => (cause: { readonly message: string }) =>
  new StorageError({ path, operation, reason: cause.message })

/** The contents of a folder's `project.json`: the real path of the project it holds. */
export const ProjectFile = Schema.parseJson(Schema.Struct({ path: Schema.String }))
const decodeProjectFile = Schema.decodeUnknownOption(ProjectFile)
const encodeProjectFile = Schema.encodeSync(ProjectFile)

/**
 * Writes `file` (a `project.json`) aside under a name of its own, then renames it into place: a
 * reader never sees half of it, and two writers never share the temporary file.
 */
export const writeProjectFile = (file: string, project: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const aside = `${file}.${process.pid}-${(yield* Random.nextInt).toString(36)}.tmp`
    yield* fs.writeFileString(aside, encodeProjectFile({ path: project }) + "\n")
    yield* fs.rename(aside, file)
  }).pipe(Effect.mapError(storageError(file, "write")))

export interface ProjectFolder {
  /** The project's real path. */
  readonly project: string
  readonly dir: string
}

export const make = (home: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.join(home, "projects")

    const readProject = (dir: string) =>
      fs.readFileString(path.join(dir, PROJECT_FILE)).pipe(
        Effect.map((text) => Option.map(decodeProjectFile(text), (p) => p.path)),
        Effect.orElseSucceed(() => Option.none<string>())
      )

    /** The folder of `project`, creating it (and its `project.json`) when `create` is set. */
    const find = (project: string, create: boolean): Effect.Effect<Option.Option<string>, StorageError> =>
      Effect.gen(function*() {
        for (let attempt = 1;; attempt++) {
          const dir = path.join(root, candidateFolder(project, attempt))
          const exists = yield* fs.exists(dir).pipe(Effect.mapError(storageError(dir, "check")))
          if (!exists) {
            if (!create) return Option.none()
            yield* fs.makeDirectory(root, { recursive: true }).pipe(Effect.mapError(storageError(root, "create")))
            // Creating the folder is the claim: of two weft processes creating it at once, one wins.
            const claimed = yield* fs.makeDirectory(dir).pipe(
              Effect.as(true),
              Effect.catchIf(
                (error) => error._tag === "SystemError" && error.reason === "AlreadyExists",
                () => Effect.succeed(false)
              ),
              Effect.mapError(storageError(dir, "create"))
            )
            if (claimed) {
              yield* writeProjectFile(path.join(dir, PROJECT_FILE), project).pipe(
                Effect.provideService(FileSystem.FileSystem, fs)
              )
              return Option.some(dir)
            }
          }
          // A folder just claimed by another process gets its project.json a moment later.
          let owner = yield* readProject(dir)
          for (let wait = 0; Option.isNone(owner) && wait < 50; wait++) {
            yield* Effect.sleep("20 millis")
            owner = yield* readProject(dir)
          }
          // A folder without a project.json (made by an older tool) is claimed by the first path that encodes to it.
          if (Option.isNone(owner)) {
            if (!create) return Option.none()
            yield* writeProjectFile(path.join(dir, PROJECT_FILE), project).pipe(
              Effect.provideService(FileSystem.FileSystem, fs)
            )
            return Option.some(dir)
          }
          if (owner.value === project) return Option.some(dir)
        }
      })

    /** Every project folder with its real path. */
    const list: Effect.Effect<ReadonlyArray<ProjectFolder>, StorageError> = Effect.gen(function*() {
      const exists = yield* fs.exists(root).pipe(Effect.mapError(storageError(root, "check")))
      if (!exists) return []
      const names = yield* fs.readDirectory(root).pipe(Effect.mapError(storageError(root, "list")))
      const folders: Array<ProjectFolder> = []
      for (const name of names.sort()) {
        const dir = path.join(root, name)
        const owner = yield* readProject(dir)
        if (Option.isSome(owner)) folders.push({ project: owner.value, dir })
      }
      return folders
    })

    return { root, find, list } as const
  })
