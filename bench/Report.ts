/**
 * The table `pnpm bench` prints: one row per target, ours against the baseline measured in
 * the same run.
 *
 * Node built-ins only.
 */

export interface Row {
  readonly benchmark: string
  readonly ours: string
  readonly baseline: string
  /** ours ÷ baseline, when the target is a ratio. */
  readonly ratio: number | undefined
  readonly target: string
  /** Whether the target is met; undefined for a row shown for reference only. */
  readonly pass: boolean | undefined
}

const pad = (cells: ReadonlyArray<string>, widths: ReadonlyArray<number>, right: ReadonlySet<number>) =>
  cells.map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ").trimEnd()

export const table = (rows: ReadonlyArray<Row>): string => {
  const header = ["benchmark", "ours", "baseline", "ratio", "target", "result"]
  const cells = rows.map((row) => [
    row.benchmark,
    row.ours,
    row.baseline,
    row.ratio === undefined ? "–" : row.ratio.toFixed(2),
    row.target,
    row.pass === undefined ? "–" : row.pass ? "PASS" : "FAIL"
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const right = new Set([1, 2, 3])
  return [
    pad(header, widths, right),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...cells.map((c) => pad(c, widths, right))
  ].join("\n")
}

export const count = (n: number): string => Math.round(n).toLocaleString("en-US")

export const perSecond = (events: number, ms: number): number => (events * 1000) / ms

export const megabytes = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`

export const kibibytes = (n: number): string => `${count(n / 1024)} KiB`

export const bytes = (n: number): string =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${count(n)} B`
