/**
 * Where and how weft was invoked: its home (`WEFT_HOME`), the directory the user ran it from,
 * the Anthropic settings of the environment, and what the terminal can do. `bin.ts` reads
 * them all from `Config` and the process and provides them; commands never read the
 * environment.
 */
import { Context, Layer } from "effect"

export interface Service {
  /** `WEFT_HOME`, absolute. */
  readonly home: string
  /** The directory the user ran weft from, absolute (pnpm's `INIT_CWD`, else the process's cwd). */
  readonly directory: string
  /** The user's home directory, for `~/` in permission rules. */
  readonly userHome?: string
  /** `ANTHROPIC_API_KEY`, when set. */
  readonly apiKey?: string
  /** `ANTHROPIC_BASE_URL`, when set: any Anthropic-compatible endpoint. */
  readonly baseUrl?: string
  /** `CLAUDE_CONFIG_DIR`, when set: where Claude Code keeps its history (comma-separated, first wins). */
  readonly claudeConfigDir?: string
  /** Whether stdin, stdout and stderr are terminals. */
  readonly tty?: { readonly stdin: boolean; readonly stdout: boolean; readonly stderr: boolean }
  /** Whether colours may be used on stdout / stderr (a terminal, and `NO_COLOR` unset). */
  readonly color?: { readonly stdout: boolean; readonly stderr: boolean }
  /** Threads this machine can run at once (`os.availableParallelism()`); 1 when unknown. */
  readonly cpus?: number
}

export class Invocation extends Context.Tag("@weft/cli/Invocation")<Invocation, Service>() {}

export const layer = (service: Service): Layer.Layer<Invocation> => Layer.succeed(Invocation, service)
