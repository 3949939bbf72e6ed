/**
 * Where weft was invoked: its home (`WEFT_HOME`) and the directory the user ran it from.
 * `bin.ts` reads both from `Config` and provides them; commands never read the environment.
 */
import { Context, Layer } from "effect"

export interface Service {
  /** `WEFT_HOME`, absolute. */
  readonly home: string
  /** The directory the user ran weft from, absolute (pnpm's `INIT_CWD`, else the process's cwd). */
  readonly directory: string
}

export class Invocation extends Context.Tag("@weft/cli/Invocation")<Invocation, Service>() {}

export const layer = (service: Service): Layer.Layer<Invocation> => Layer.succeed(Invocation, service)
