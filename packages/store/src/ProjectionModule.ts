/**
 * A user's projection, from a file: `weft project ./count-bash.ts`.
 *
 * - `.js`, `.mjs` and `.cjs` files are imported where they are, so their own imports resolve
 *   from there as Node resolves them.
 * - `.ts` and `.mts` files need no build step: sucrase strips the types (it keeps line numbers,
 *   so an error's line is the file's) into a `.mjs` in a new temporary directory of
 *   `os.tmpdir()`, which is imported, then removed. `import type` (and imports used only as
 *   types, such as `import type { Projection } from "@weft/kernel/Projection"`) vanish. Any other
 *   import is resolved from that temporary directory, where there is no `node_modules`: a
 *   TypeScript projection is one self-contained file. Importing weft's or Effect's packages at
 *   run time is not supported (weft's bundled CLI carries no `node_modules` to resolve them
 *   from); a projection without a `codec` keeps its state as plain JSON instead.
 *
 * The module's default export (or its export named `projection`) must be a projection:
 * `{ name, version, handles, initial, evolve }` and optionally `codec` (an Effect Schema),
 * `merge` and `render`. What is wrong is told in one line, with `path:line` for a syntax error
 * or an exception thrown while the module loads.
 *
 * The import goes through a one-line CommonJS file written beside the transpiled one: weft's
 * bundled CLI runs as a `vm.Script`, where a dynamic `import()` has no loader to call, while a
 * module loaded by Node's `require` has one.
 */
import { FileSystem, Path } from "@effect/platform"
import { Event } from "@weft/kernel/Events"
import * as Projection from "@weft/kernel/Projection"
import { Effect, Either, Schema } from "effect"
import { createRequire } from "node:module"
import * as os from "node:os"
import { pathToFileURL } from "node:url"
import * as vm from "node:vm"
// Types only: sucrase itself is imported when a file is loaded, not when weft starts.
import type * as Sucrase from "sucrase"

export class ProjectionModuleError extends Schema.TaggedError<ProjectionModuleError>()("ProjectionModuleError", {
  path: Schema.String,
  /** The 1-based line at fault, when one is known. */
  line: Schema.optional(Schema.Int),
  reason: Schema.String
}) {
  override get message() {
    return `${this.path}${this.line === undefined ? "" : `:${this.line}`}: ${this.reason}`
  }
}

/** The extensions a projection file may have, and whether its types must be stripped. */
const extensions: Readonly<Record<string, "typescript" | "javascript">> = {
  ".ts": "typescript",
  ".mts": "typescript",
  ".js": "javascript",
  ".mjs": "javascript",
  ".cjs": "javascript"
}

/** Whether `arg` names a file rather than a built-in projection: it has a path separator or a projection file's extension. */
export const isPath = (arg: string): boolean =>
  arg.includes("/") || arg.includes("\\") || Object.keys(extensions).some((ext) => arg.endsWith(ext))

const describe = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)

const knownTags: ReadonlySet<string> = new Set(Event.members.map((member) => member.identifier))

/** What is wrong with `value` as a projection, or nothing. */
export const check = (value: unknown): Projection.Any | string => {
  if (typeof value !== "object" || value === null) {
    return `its projection is ${value === null ? "null" : `a ${typeof value}`}, not an object ` +
      "{ name, version, handles, initial, evolve }"
  }
  const p = value as Record<string, unknown>
  const wrong: Array<string> = []
  if (typeof p.name !== "string") wrong.push("name (a string)")
  if (typeof p.version !== "number") wrong.push("version (a number)")
  if (!Array.isArray(p.handles) || !p.handles.every((tag) => typeof tag === "string")) {
    wrong.push("handles (an array of event tags)")
  }
  if (!("initial" in p) || p.initial === undefined) wrong.push("initial (the state before any event)")
  if (typeof p.evolve !== "function") wrong.push("evolve (a function (state, envelope) => state)")
  if (p.codec !== undefined && !Schema.isSchema(p.codec)) wrong.push("codec (an Effect Schema, or nothing)")
  if (p.merge !== undefined && typeof p.merge !== "function") wrong.push("merge (a function, or nothing)")
  if (p.render !== undefined && typeof p.render !== "function") wrong.push("render (a function, or nothing)")
  if (wrong.length > 0) return `its projection needs ${wrong.join(", ")}`
  return Either.match(Projection.validate(p as unknown as Projection.Projection<unknown>), {
    onLeft: (invalid) => invalid.message,
    onRight: (projection) => projection
  })
}

/** The `path:line` of the first frame of `stack` in `file` (a path or a file URL), if any. */
const lineIn = (stack: string | undefined, file: string): number | undefined => {
  if (stack === undefined) return undefined
  for (const name of [pathToFileURL(file).href, file]) {
    const at = stack.indexOf(`${name}:`)
    if (at >= 0) {
      const line = /^(\d+)/.exec(stack.slice(at + name.length + 1))
      if (line !== null) return Number(line[1])
    }
  }
  return undefined
}

/**
 * Where a syntax error is: Node's ESM loader does not say, so the code is compiled again, as
 * CommonJS (sucrase's `imports` transform, which keeps lines), whose syntax errors V8 reports as
 * `file:line` on the first line of the stack.
 */
const syntaxErrorLine = (
  sucrase: typeof Sucrase,
  source: string,
  file: string,
  typescript: boolean
): number | undefined => {
  let code: string
  try {
    code = sucrase.transform(source, {
      transforms: typescript ? ["typescript", "imports"] : ["imports"],
      filePath: file,
      disableESTransforms: true
    }).code
  } catch (error) {
    // sucrase's own parser found it.
    return (error as { readonly loc?: { readonly line?: number } }).loc?.line
  }
  try {
    vm.compileFunction(code, ["exports", "require", "module", "__filename", "__dirname"], { filename: file })
    return undefined
  } catch (error) {
    return error instanceof SyntaxError ? lineIn(error.stack, file) : undefined
  }
}

/** The module's projection: its default export, or its export named `projection`. */
const exported = (module: Record<string, unknown>): unknown => {
  const candidates = [module.default, module.projection]
  // A CommonJS module's exports are its default export: look inside them too.
  const inner = module.default
  if (typeof inner === "object" && inner !== null && !("evolve" in inner)) {
    candidates.push((inner as Record<string, unknown>).default, (inner as Record<string, unknown>).projection)
  }
  return candidates.find((candidate) => candidate !== undefined)
}

/**
 * Loads the projection a file exports. Nothing is cached by weft: a `.ts` file is transpiled
 * again on each load (Node caches a `.js` file's module by its path).
 */
export const load = (
  file: string
): Effect.Effect<Projection.Any, ProjectionModuleError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const absolute = path.resolve(file)
    const fail = (reason: string, line?: number) =>
      new ProjectionModuleError({ path: absolute, reason, ...(line === undefined ? {} : { line }) })

    const kind = extensions[path.extname(absolute)]
    if (kind === undefined) {
      return yield* fail("a projection file is .ts, .mts, .js, .mjs or .cjs")
    }
    const source = yield* fs.readFileString(absolute).pipe(
      Effect.mapError((error) =>
        fail(
          error._tag === "SystemError" && error.reason === "NotFound"
            ? "no such file"
            : `could not read it (${error.message})`
        )
      )
    )
    const sucrase = yield* Effect.promise(() => import("sucrase"))
    const dir = yield* fs.makeTempDirectoryScoped({ directory: os.tmpdir(), prefix: "weft-projection-" }).pipe(
      Effect.mapError((error) => fail(`could not make a temporary directory to load it from (${error.message})`))
    )

    // What Node imports: the file itself, or its types stripped into the temporary directory.
    let target = absolute
    if (kind === "typescript") {
      const code = yield* Effect.try({
        try: () =>
          sucrase.transform(source, { transforms: ["typescript"], filePath: absolute, disableESTransforms: true }).code,
        catch: (error) => {
          const loc = (error as { readonly loc?: { readonly line?: number } }).loc
          return fail(`does not parse: ${describe(error).replace(/\s*\(\d+:\d+\)$/, "")}`, loc?.line)
        }
      })
      target = path.join(dir, `${path.basename(absolute).replace(/\.m?ts$/, "")}.mjs`)
      yield* fs.writeFileString(target, code).pipe(
        Effect.mapError((error) => fail(`could not write ${target} (${error.message})`))
      )
    }
    const trampoline = path.join(dir, "import.cjs")
    yield* fs.writeFileString(trampoline, "module.exports = (url) => import(url)\n").pipe(
      Effect.mapError((error) => fail(`could not write ${trampoline} (${error.message})`))
    )
    const importer = createRequire(trampoline)(trampoline) as (url: string) => Promise<Record<string, unknown>>

    const module = yield* Effect.tryPromise({
      try: () => importer(pathToFileURL(target).href),
      catch: (error) => {
        const e = error as { readonly code?: string; readonly stack?: string }
        if (error instanceof SyntaxError) {
          const line = syntaxErrorLine(sucrase, source, absolute, kind === "typescript")
          const hint = /\b(import|export)\b/.test(error.message) && path.extname(absolute) === ".js"
            ? "; Node took the file for CommonJS: name it .mjs, or add \"type\": \"module\" to its package.json"
            : ""
          return fail(`SyntaxError: ${error.message}${hint}`, line)
        }
        if (e.code === "ERR_MODULE_NOT_FOUND" && kind === "typescript") {
          return fail(
            `${
              describe(error).split("\n")[0]!.replace(target, absolute)
            }: a TypeScript projection file runs on its own, ` +
              "without node_modules; import weft's and other packages' types only (`import type`)"
          )
        }
        const line = lineIn(e.stack, target)
        return fail(`threw while loading: ${describe(error).split("\n")[0]}`, line)
      }
    })

    const candidate = exported(module)
    if (candidate === undefined) {
      return yield* fail(
        "exports no projection: `export default { name, version, handles, initial, evolve }` " +
          "(or export it as `projection`)"
      )
    }
    const projection = check(candidate)
    if (typeof projection === "string") return yield* fail(projection)
    const unknown = projection.handles.filter((tag: string) => !knownTags.has(tag))
    if (unknown.length > 0) {
      yield* Effect.logWarning(
        `${absolute}: handles ${unknown.map((tag: string) => `"${tag}"`).join(", ")}, which no event of this weft ` +
          `has (its events: ${
            [...knownTags].join(", ")
          }); lines with such a tag are folded only if a newer weft wrote them`
      )
    }
    return projection
  }).pipe(Effect.scoped)
