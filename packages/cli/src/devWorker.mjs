// A projection worker when weft runs from source (`pnpm weft`): Node 20 does not carry tsx's
// loader into worker threads, so this plain module loads bin.ts through tsx's API. The bundled
// CLI starts its workers from itself instead.
import { tsImport } from "tsx/esm/api"

await tsImport("./bin.ts", import.meta.url)
