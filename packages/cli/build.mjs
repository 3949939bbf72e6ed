/**
 * `pnpm build`: bundles the CLI — `src/bin.ts`, the workspace packages it imports (from their
 * TypeScript sources, through their `exports`) and every dependency — into one ESM file,
 * `dist/weft.js`, the package's `bin`. It runs with plain `node`, from any directory: nothing
 * is resolved from `node_modules` at run time, and `package.json` (the version) is inlined.
 *
 * The options are those `bench/Bundle.ts` bundles the benchmark programs with, plus the
 * hashbang and the executable bit.
 *
 * `node build.mjs [outfile]`. Plain JavaScript, so that it runs without a TypeScript loader and
 * stays out of the package's TypeScript project (which lists `src` and `test`).
 */
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const cli = path.dirname(fileURLToPath(import.meta.url))

/** Where `pnpm build` writes the bundle: `bin.weft` of package.json. */
export const defaultOutfile = path.join(cli, "dist", "weft.js")

const hashbang = "#!/usr/bin/env node\n"

/**
 * Bundles the CLI into `outfile` (default `dist/weft.js`), mode 755; resolves to the file. It is
 * written aside and renamed into place, so a process running the previous bundle never reads a
 * half-written one. Outside a `"type": "module"` package, name it `.mjs`.
 *
 * @param {string} [outfile]
 * @returns {Promise<string>}
 */
export const build = async (outfile = defaultOutfile) => {
  const result = await esbuild.build({
    entryPoints: [path.join(cli, "src", "bin.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "error",
    write: false,
    // CommonJS dependencies bundled into ESM (yaml, toml, ini, picomatch, …) still call require for node built-ins.
    banner: {
      js:
        `import { createRequire as __createRequire } from "node:module"\nconst require = __createRequire(import.meta.url)`
    }
  })
  const output = result.outputFiles.find((file) => file.path === path.resolve(outfile))
  if (output === undefined) throw new Error(`esbuild wrote no ${outfile}`)
  // esbuild keeps bin.ts's hashbang above the banner; add it should bin.ts ever lose it.
  const text = output.text.startsWith("#!") ? output.text : hashbang + output.text
  fs.mkdirSync(path.dirname(outfile), { recursive: true })
  const partial = `${outfile}.${process.pid}.partial`
  fs.writeFileSync(partial, text, { mode: 0o755 })
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
