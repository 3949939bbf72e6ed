/**
 * Bundles a bench program into one ESM file, the way the CLI is bundled for release, so that
 * a child process runs with plain `node`: no TypeScript loader, no module-hook thread.
 *
 * Why: under `node --import tsx`, loading effect, @effect/platform and the weft sources
 * through the loader's hook thread costs about 240 MB of RSS before the first byte is read —
 * more than the read benchmark's whole memory budget, and nothing a user of the bundled CLI
 * pays. Bundled, the same program starts at about a third of that.
 */
import * as esbuild from "esbuild"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const bench = path.dirname(fileURLToPath(import.meta.url))

/** Bundles `bench/<entry>.ts` into `<outDir>/<entry>.mjs`; returns the file. */
export const bundle = async (entry: string, outDir: string): Promise<string> => {
  const outfile = path.join(outDir, `${entry}.mjs`)
  await esbuild.build({
    entryPoints: [path.join(bench, `${entry}.ts`)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "error",
    // CommonJS dependencies bundled into ESM still call require for node built-ins.
    banner: {
      js:
        `import { createRequire as __createRequire } from "node:module"\nconst require = __createRequire(import.meta.url)`
    }
  })
  return outfile
}
