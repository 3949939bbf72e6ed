/**
 * The directory walk behind `glob` and `grep`: every file under a root that git would not
 * ignore, with its modification time and size.
 *
 * - `.gitignore` files are honoured wherever they are: in each directory walked (nested rules
 *   override outer ones, `!negations` included, with the `ignore` package's git semantics) and
 *   in the directories above the walk's root up to its git repository's root (outside a
 *   repository: up to the project root), as ripgrep reads parent ignore files. A root that
 *   those outer rules ignore was asked for by name, so only the rules inside it apply there.
 * - `.git`, `.hg`, `.svn` and `node_modules` are never entered; other dot-files are walked.
 * - Symbolic links are followed; a directory already walked (same device and inode) is not
 *   walked again, so link cycles end. Entries that vanish or cannot be read mid-walk are skipped.
 * - The tree is walked level by level: all directories of a level are listed, then all their
 *   entries stat-ed, 64 file-system calls at a time.
 */
import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Option } from "effect"
import ignore from "ignore"
import type { Ignore } from "ignore"

export interface Entry {
  /** Absolute. */
  readonly path: string
  /** Relative to the walk's root, with `/` separators. */
  readonly relative: string
  /** Milliseconds since the epoch; 0 when the platform does not say. */
  readonly mtime: number
  readonly size: number
}

export interface Options {
  /** An absolute directory to walk. */
  readonly root: string
  /** The project root: outside a git repository, `.gitignore` files between it and `root` apply too. */
  readonly project: string
}

export interface Walker {
  readonly files: (options: Options) => Effect.Effect<ReadonlyArray<Entry>, PlatformError>
}

/** Directories never entered. */
export const skippedDirectories: ReadonlySet<string> = new Set([".git", ".hg", ".svn", "node_modules"])

/** How many file-system calls a walk keeps in flight. */
const ioConcurrency = 64

interface Directory {
  readonly absolute: string
  readonly relative: string
  /** The `.gitignore` rules that apply to its entries, outermost first. */
  readonly rules: ReadonlyArray<Rules>
}

interface Rules {
  /** The directory holding the `.gitignore`. */
  readonly base: string
  readonly matcher: Ignore
}

export const make: Effect.Effect<Walker, never, FileSystem.FileSystem | Path.Path> = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const toPosix = (p: string) => (path.sep === "/" ? p : p.split(path.sep).join("/"))

  const loadRules = (dir: string) =>
    fs.readFileString(path.join(dir, ".gitignore")).pipe(
      Effect.map((text): Option.Option<Rules> => Option.some({ base: dir, matcher: ignore().add(text) })),
      Effect.orElseSucceed(() => Option.none<Rules>())
    )

  /** Git's answer: the deepest rule that matches decides; a path no rule matches is kept. */
  const isIgnored = (rules: ReadonlyArray<Rules>, absolute: string, directory: boolean): boolean => {
    let ignored = false
    for (const { base, matcher } of rules) {
      const relative = toPosix(path.relative(base, absolute))
      if (relative === "" || relative.startsWith("../") || !ignore.isPathValid(relative)) continue
      const result = matcher.test(directory ? `${relative}/` : relative)
      if (result.ignored) ignored = true
      else if (result.unignored) ignored = false
    }
    return ignored
  }

  const isInside = (dir: string, ancestor: string) => {
    const relative = path.relative(ancestor, dir)
    return relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative)
  }

  /** The nearest directory at or above `dir` that holds a `.git`. */
  const repositoryRoot = (dir: string): Effect.Effect<Option.Option<string>> =>
    fs.exists(path.join(dir, ".git")).pipe(
      Effect.orElseSucceed(() => false),
      Effect.flatMap((found) => {
        if (found) return Effect.succeed(Option.some(dir))
        const parent = path.dirname(dir)
        return parent === dir ? Effect.succeed(Option.none()) : repositoryRoot(parent)
      })
    )

  /**
   * The `.gitignore` rules of the directories above `root`, outermost first: from its git
   * repository's root (or, outside a repository, from the project root) down to its parent.
   */
  const outerRules = Effect.fn("Walk.outerRules")(function*(root: string, project: string) {
    const top = Option.getOrElse(
      Option.filter(yield* repositoryRoot(root), (repository) => repository !== root),
      () => project
    )
    if (top === root || !isInside(root, top)) return []
    const parts = path.relative(top, root).split(path.sep)
    const dirs = parts.slice(0, -1).reduce((acc, part) => [...acc, path.join(acc[acc.length - 1], part)], [top])
    const loaded = yield* Effect.forEach(dirs, loadRules, { concurrency: "unbounded" })
    const rules = loaded.flatMap(Option.toArray)
    return isIgnored(rules, root, true) ? [] : rules
  })

  const files = Effect.fn("Walk.files")(function*(options: Options) {
    const visited = new Set<string>()
    const firstVisit = (info: FileSystem.File.Info) => {
      if (Option.isNone(info.ino)) return true
      const key = `${info.dev}:${info.ino.value}`
      if (visited.has(key)) return false
      visited.add(key)
      return true
    }
    firstVisit(yield* fs.stat(options.root))
    const rootNames = yield* fs.readDirectory(options.root)

    // Level by level: every directory of a level is listed, then every entry of it is
    // stat-ed, each with bounded concurrency, so the whole width of the tree is in flight.
    const found: Array<Entry> = []
    let level: ReadonlyArray<Directory> = [{
      absolute: options.root,
      relative: "",
      rules: yield* outerRules(options.root, options.project)
    }]
    let names: ReadonlyArray<ReadonlyArray<string>> = [rootNames]
    while (level.length > 0) {
      const rules = yield* Effect.forEach(level, (dir, i) =>
        names[i].includes(".gitignore")
          ? Effect.map(loadRules(dir.absolute), (own) =>
            Option.match(own, { onNone: () => dir.rules, onSome: (own) => [...dir.rules, own] }))
          : Effect.succeed(dir.rules), { concurrency: ioConcurrency })
      const children = level.flatMap((dir, i) =>
        names[i].map((name) => ({
          name,
          absolute: path.join(dir.absolute, name),
          relative: dir.relative === "" ? name : `${dir.relative}/${name}`,
          rules: rules[i]
        }))
      )
      const infos = yield* Effect.forEach(
        children,
        (child) => Effect.option(fs.stat(child.absolute)),
        { concurrency: ioConcurrency }
      )
      const next: Array<Directory> = []
      children.forEach((child, i) => {
        const info = infos[i]
        if (Option.isNone(info)) return
        if (info.value.type === "Directory") {
          if (skippedDirectories.has(child.name) || isIgnored(child.rules, child.absolute, true)) return
          if (firstVisit(info.value)) next.push(child)
        } else if (info.value.type === "File" && !isIgnored(child.rules, child.absolute, false)) {
          found.push({
            path: child.absolute,
            relative: child.relative,
            mtime: Option.match(info.value.mtime, { onNone: () => 0, onSome: (date) => date.getTime() }),
            size: Number(info.value.size)
          })
        }
      })
      level = next
      names = yield* Effect.forEach(
        next,
        (dir) => fs.readDirectory(dir.absolute).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => [])),
        { concurrency: ioConcurrency }
      )
    }
    return found as ReadonlyArray<Entry>
  })

  return { files }
})
