/**
 * Text for people, as the built-in projections render it: columns two spaces apart, and long
 * text cut to one line.
 */

/** Columns two spaces apart, left-aligned unless `right` names them; the last column is not padded. */
export const table = (
  header: ReadonlyArray<string> | null,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  right: ReadonlyArray<number> = []
): Array<string> => {
  const all = header === null ? rows : [header, ...rows]
  if (all.length === 0) return []
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)))
  return all.map((cells) =>
    cells.map((cell, i) =>
      right.includes(i) ? cell.padStart(widths[i]!) : i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)
    ).join("  ").trimEnd()
  )
}

/** Collapses whitespace (newlines included) and cuts to `max` characters with an ellipsis. */
export const oneLine = (text: string, max: number): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1)).trimEnd()}…`
}

/** `1234567` → `1,234,567`. */
export const count = (n: number): string => n.toLocaleString("en-US")

/** A duration in milliseconds, in the unit that reads best: `840 ms`, `2.4 s`, `3.1 min`. */
export const duration = (ms: number): string =>
  ms < 1000 ? `${Math.round(ms)} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`

/** `2026-05-02T09:22:11.123Z` → `2026-05-02 09:22:11` (UTC, as stored). */
export const time = (at: string): string =>
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(at) ? at.slice(0, 19).replace("T", " ") : at
