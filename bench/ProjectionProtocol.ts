/**
 * What `bench/Projections.ts` and its child processes say to each other (arguments as one JSON
 * argv, results as one JSON line on stdout), and where the generated corpora live.
 *
 * Node built-ins only, so that the baseline fold stays free of effect and weft.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** weft's own session logs, or Claude Code's history. */
export type CorpusKind = "weft" | "claude-code"

/** Token totals of the `usage` projection: what every fold of one corpus must agree on. */
export interface Totals {
  /** Responses counted (after dropping the streamed duplicates). */
  readonly entries: number
  readonly input: number
  readonly output: number
  readonly cacheWrite: number
  readonly cacheRead: number
}

export const sameTotals = (a: Totals, b: Totals): boolean =>
  a.entries === b.entries && a.input === b.input && a.output === b.output && a.cacheWrite === b.cacheWrite &&
  a.cacheRead === b.cacheRead

/** CPU time (user + system, every thread) since `from`, in ms. */
export const cpuMsSince = (from: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(from)
  return (used.user + used.system) / 1000
}

export const showTotals = (t: Totals): string =>
  `${t.entries} responses, in ${t.input}, out ${t.output}, cache write ${t.cacheWrite}, cache read ${t.cacheRead}`

/**
 * The usage fold both sides do, in plain code: one entry per response key, the one with the
 * most tokens kept (the first on a tie), as the `usage` projection and ccusage count.
 */
export const makeTally = () => {
  interface Entry {
    readonly at: string
    readonly model: string
    readonly sessionId: string
    readonly agentId: string
    readonly input: number
    readonly output: number
    readonly cacheWrite: number
    readonly cacheRead: number
    readonly total: number
  }
  const entries = new Map<string, Entry>()
  return {
    add: (
      key: string,
      at: string,
      model: string,
      sessionId: string,
      agentId: string,
      input: number,
      output: number,
      cacheWrite: number,
      cacheRead: number
    ): void => {
      const total = input + output + cacheWrite + cacheRead
      const existing = entries.get(key)
      if (existing !== undefined && !(total > existing.total)) return
      entries.set(key, { at, model, sessionId, agentId, input, output, cacheWrite, cacheRead, total })
    },
    totals: (): Totals => {
      let input = 0, output = 0, cacheWrite = 0, cacheRead = 0
      for (const e of entries.values()) {
        input += e.input
        output += e.output
        cacheWrite += e.cacheWrite
        cacheRead += e.cacheRead
      }
      return { entries: entries.size, input, output, cacheWrite, cacheRead }
    }
  }
}

export interface GenerateCorpusArgs {
  readonly kind: CorpusKind
  /** Where the finished corpus goes (it is written beside it first, then renamed into place). */
  readonly dir: string
  /** About how many bytes of session files to write. */
  readonly bytes: number
  readonly seed: number
  readonly version: string
}

/** A generated corpus, as `manifest.json` describes it (written last: a corpus without one is incomplete). */
export interface Manifest {
  readonly version: string
  readonly kind: CorpusKind
  /** The session files' root, relative to the corpus dir: `home` (a WEFT_HOME) or `claude` (a Claude Code config dir). */
  readonly root: string
  /** Every session file, relative to `root`, in the order written. */
  readonly files: ReadonlyArray<string>
  readonly bytes: number
  readonly lines: number
  readonly sessions: number
  readonly projects: number
  readonly minLine: number
  readonly maxLine: number
  /** Lines holding a character beyond ASCII. */
  readonly nonAsciiLines: number
  /** Lines and bytes per kind of line (weft: the event tag; Claude Code: the line type). */
  readonly mix: Readonly<Record<string, { readonly lines: number; readonly bytes: number }>>
  readonly totals: Totals
  /** What `extra/` adds: lines to append to some files (`extra/append/<file>`), and new files (`extra/new/<file>`). */
  readonly extra: {
    readonly appended: ReadonlyArray<string>
    readonly created: ReadonlyArray<string>
    readonly bytes: number
    readonly lines: number
    /** The totals of the corpus with the extra data. */
    readonly totals: Totals
  }
  /** Generation time. */
  readonly ms: number
  /** Lines of weft's corpus decoded with `lineCodec` and encoded again, which came back byte for byte. */
  readonly checkedLines: number
}

export const MANIFEST = "manifest.json"

export const readManifest = (dir: string): Manifest | undefined => {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), "utf8")) as Manifest
  } catch {
    return undefined
  }
}

export interface FoldArgs {
  readonly kind: CorpusKind
  /** The source: a WEFT_HOME (weft), or Claude Code's config dir. */
  readonly root: string
  /** WEFT_HOME for checkpoints (ours only; for weft the same as `root`). */
  readonly home: string
  readonly workers: number
  /** Read and write the checkpoint (ours only). */
  readonly checkpoint: boolean
  /** The worker thread's bundle (ours, with workers > 1). */
  readonly workerProgram?: string
}

export interface FoldResult {
  readonly ms: number
  /** CPU time of the process (every thread) over the same span: user + system. */
  readonly cpuMs: number
  /** Bytes read by this run. */
  readonly bytes: number
  readonly files: number
  /** Lines parsed (baseline) or envelopes folded (ours). */
  readonly events: number
  readonly totals: Totals
  readonly fromCheckpoint: boolean
  readonly skippedLines: number
  readonly maxRssKb: number
}
