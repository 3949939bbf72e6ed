/**
 * `pnpm build`: bundles the CLI — `src/bin.ts`, the workspace packages it imports (from their
 * TypeScript sources, through their `exports`) and every dependency — into one file,
 * `dist/weft.js`, the package's `bin`. It runs with plain `node`, from any directory: nothing
 * is resolved from `node_modules` at run time, and `package.json` (the version) is inlined.
 *
 * Most of a cold start used to be V8 parsing the 4 MB bundle. So `dist/weft.js` is a small ESM
 * launcher, followed by the bundle — CommonJS (esbuild, `format: "cjs"`) in a module wrapper —
 * inside a comment, which V8 skips without parsing. The launcher reads the bundle back from its
 * own file and compiles it with `vm.Script` and V8's code cache (Node 20 has no
 * `module.enableCompileCache()`; this is how `v8-compile-cache` speeds up CommonJS): the first
 * run writes the compiled code, as it is when the program exits, to
 * `${XDG_CACHE_HOME:-~/.cache}/weft/v8-<hash of the bundle>-<V8 version>-<arch>.bin` — or, should
 * that fail, to a directory of the user's own in `os.tmpdir()` — and later runs hand it to V8
 * instead of parsing. A cache that cannot be read or written is ignored (weft runs as well
 * without one, only slower to start); one V8 rejects is written again.
 *
 * The bundle sits in `dist/weft.js` as esbuild wrote it, but for a few escapes in comments
 * (`launcher` below), so stack traces name `dist/weft.js` at lines that are that file's own.
 *
 * The esbuild options are those `bench/Bundle.ts` bundles the benchmark programs with, but for
 * the format (CommonJS: nothing in it needs ESM — no `import.meta`, no top-level await) and the
 * working directory, fixed so that the same sources give the same file.
 *
 * `node build.mjs [outfile]`. Plain JavaScript, so that it runs without a TypeScript loader and
 * stays out of the package's TypeScript project (which lists `src` and `test`).
 */
import * as esbuild from "esbuild"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
// The launcher's imports, which `launch` below uses in dist/weft.js.
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as vm from "node:vm"

const cli = path.dirname(fileURLToPath(import.meta.url))

/** Where `pnpm build` writes the bundle: `bin.weft` of package.json. */
export const defaultOutfile = path.join(cli, "dist", "weft.js")

/** Opens the comment that holds the bundle, on a line of its own; the file ends with `closing`. */
const opening = "\n/*\n"
const closing = "\n*/\n"

/** How the bundle's own comment ends are written in the comment, which they would close. The bundle has no U+0001. */
const escapedClose = "*\u0001/"

/**
 * Runs the bundle held in this file (`import.meta.url`) through V8's code cache, the file that
 * `hash` (of the bundle) names. Kept here as source: its `toString()` is the launcher's code, in
 * `dist/weft.js`, which imports what it uses. No syntax newer than Node 20.
 *
 * @param {string} hash
 */
function launch(hash) {
  const filename = fileURLToPath(import.meta.url)
  const text = fs.readFileSync(filename, "latin1")
  const start = text.indexOf("\n/*\n") + 4
  const code = text.slice(start, text.length - 4).replaceAll("*\u0001/", "*/")
  const lineOffset = text.slice(0, start).split("\n").length - 1

  const name = `v8-${hash}-${process.versions.v8}-${process.arch}.bin`
  /** The user's cache directory. */
  const userCache = () => {
    const xdg = process.env.XDG_CACHE_HOME
    return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), ".cache"), "weft")
  }
  /** A directory of the user's own in os.tmpdir(), mode 700: nobody else may plant code for V8 to run. */
  const tmpCache = (create) => {
    const dir = path.join(os.tmpdir(), `weft-cache-${process.getuid?.() ?? os.userInfo().username}`)
    if (create) fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const stat = fs.lstatSync(dir)
    const own = stat.isDirectory() &&
      (process.getuid === undefined || (stat.uid === process.getuid() && (stat.mode & 0o077) === 0))
    if (!own) throw new Error(`${dir} is not the user's own`)
    return dir
  }
  const dirs = [userCache, tmpCache]

  let cachedData
  for (const dir of dirs) {
    try {
      cachedData = fs.readFileSync(path.join(dir(false), name))
      break
    } catch {
      // No cache there.
    }
  }
  const script = new vm.Script(code, { filename, lineOffset, ...(cachedData ? { cachedData } : {}) })

  /** Writes the cache in `at`, aside and renamed into place; opened first, as making the cache costs time. */
  const write = (at) => {
    const partial = path.join(at, `${name}.${process.pid}.partial`)
    const fd = fs.openSync(partial, "w")
    try {
      try {
        fs.writeFileSync(fd, script.createCachedData())
      } finally {
        fs.closeSync(fd)
      }
      fs.renameSync(partial, path.join(at, name))
    } catch (error) {
      fs.rmSync(partial, { force: true })
      throw error
    }
  }
  /** Leaves the caches of the three newest other builds in `at` (weft's that take turns); removes older ones. */
  const prune = (at) => {
    const others = fs.readdirSync(at).filter((file) => /^v8-.*\.bin$/.test(file) && file !== name)
      .map((file) => ({ file, mtime: fs.statSync(path.join(at, file)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime)
    for (const { file } of others.slice(3)) fs.rmSync(path.join(at, file), { force: true })
  }

  if (cachedData === undefined || script.cachedDataRejected === true) {
    // When the program exits, so that the functions it compiled on the way are cached too. Nothing may throw here.
    process.once("exit", () => {
      for (const dir of dirs) {
        let at
        try {
          at = dir(true)
          fs.mkdirSync(at, { recursive: true })
          write(at)
        } catch {
          // Not writable: try the next directory, or start without a cache next time.
          continue
        }
        try {
          prune(at)
        } catch {
          // Another weft pruning too.
        }
        return
      }
    })
  }
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(filename), module, filename, path.dirname(filename))
}

/**
 * `weft.js` for the CommonJS bundle `bundle` (esbuild's output): a hashbang, the launcher, and
 * the bundle in a module wrapper, in a comment from a line of its own to the end of the file.
 *
 * Latin-1 is read as fast as bytes are, and keeps the code one byte per character in V8: so the
 * bundle is ASCII. esbuild escapes every other character in code (`charset: "ascii"`), which
 * leaves comments; there a character is written as its `\u` escape, which is still a comment (a
 * line or paragraph separator, which ends a `//` comment, as a newline).
 *
 * @param {string} bundle
 * @returns {string}
 */
export const launcher = (bundle) => {
  const body = bundle.replace(/^#!.*\n/, "").replace(/[\u2028\u2029]/g, "\n").replace(
    /[^\0-\x7f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  )
  if (body.includes("\u0001")) throw new Error("the bundle holds a U+0001, which build.mjs needs to escape \"*/\"")
  const code = `(function (exports, require, module, __filename, __dirname) {\n${body}\n})`
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 16)
  return [
    "#!/usr/bin/env node",
    "// weft, built by packages/cli/build.mjs: a launcher, and in the comment that ends the file, the CLI",
    "// bundled as CommonJS (with \"*/\" written \"*\\u0001/\"), which the launcher compiles through V8's code cache.",
    `import * as fs from "node:fs"`,
    `import { createRequire } from "node:module"`,
    `import * as os from "node:os"`,
    `import * as path from "node:path"`,
    `import { fileURLToPath } from "node:url"`,
    `import * as vm from "node:vm"`,
    "",
    launch.toString(),
    "",
    `launch(${JSON.stringify(hash)})`
  ].join("\n") + opening + code.replaceAll("*/", escapedClose) + closing
}

/**
 * Bundles the CLI into `outfile` (default `dist/weft.js`), mode 755; resolves to the file. It is
 * written aside and renamed into place, so a process running the previous bundle never reads a
 * half-written one. Outside a `"type": "module"` package, name it `.mjs`: the launcher is ESM.
 *
 * @param {string} [outfile]
 * @returns {Promise<string>}
 */
export const build = async (outfile = defaultOutfile) => {
  const result = await esbuild.build({
    entryPoints: [path.join(cli, "src", "bin.ts")],
    // The paths in esbuild's comments are relative to it: the same sources give the same file, and the same cache.
    absWorkingDir: cli,
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    charset: "ascii",
    logLevel: "error",
    write: false
  })
  const output = result.outputFiles.find((file) => file.path === path.resolve(outfile))
  if (output === undefined) throw new Error(`esbuild wrote no ${outfile}`)
  fs.mkdirSync(path.dirname(outfile), { recursive: true })
  const partial = `${outfile}.${process.pid}.partial`
  fs.writeFileSync(partial, launcher(output.text), { mode: 0o755 })
  fs.chmodSync(partial, 0o755)
  fs.renameSync(partial, outfile)
  return outfile
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = performance.now()
  build(process.argv[2] === undefined ? defaultOutfile : path.resolve(process.argv[2])).then(
    (file) => {
      const size = fs.statSync(file).size
      const ms = Math.round(performance.now() - started)
      process.stderr.write(`${path.relative(process.cwd(), file)}: ${(size / 1e6).toFixed(1)} MB in ${ms} ms\n`)
    },
    (error) => {
      process.stderr.write(`build failed: ${error instanceof Error ? error.message : String(error)}\n`)
      process.exitCode = 1
    }
  )
}
