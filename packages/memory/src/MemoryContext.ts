/**
 * The block long-term memory adds to a model request, after the static instructions: what weft
 * remembers about the user and the project, then the recent topics.
 *
 * ```
 * What you remember about the user and this project:
 * - Always use pnpm instead of npm
 * - (project) Our staging server is staging.example.com
 * Recent topics:
 * - 2025-08-01: Fix the flaky EventLog test
 * ```
 *
 * It never exceeds `maxChars`. Entries come in the order given (most important first: give them
 * as `WritableMemory.entries` returns them) and are kept while they fit; topics then fill what is
 * left, with a share of the budget (`topicsShare`) kept for them whatever the entries, so a long
 * memory does not crowd out every topic. Each line is one line (white space collapsed), at most
 * `maxLine` characters. Nothing to say is the empty string.
 */
import type { MemoryScope } from "@weft/kernel/Events"

export interface Remembered {
  readonly text: string
  readonly scope: MemoryScope
}

export interface RecentTopic {
  readonly text: string
  /** ISO-8601: its day is shown. */
  readonly at: string
}

export interface Options {
  readonly entries: ReadonlyArray<Remembered>
  readonly topics: ReadonlyArray<RecentTopic>
  /** The most characters the block may take (2,000). */
  readonly maxChars?: number
  /** The part of `maxChars` kept for topics when there are some (0.25). */
  readonly topicsShare?: number
  /** The longest line (240). */
  readonly maxLine?: number
}

export const defaults = { maxChars: 2000, topicsShare: 0.25, maxLine: 240 } as const

export const memoryHeading = "What you remember about the user and this project:"
export const topicsHeading = "Recent topics:"

const oneLine = (text: string, max: number): string => {
  const line = text.replace(/\s+/g, " ").trim()
  return line.length <= max ? line : `${line.slice(0, Math.max(0, max - 1)).trimEnd()}…`
}

/**
 * The lines of a section: its heading and as many items as fit in `budget` characters (counting
 * a newline after every line but the block's last), or none when not even one fits.
 */
const section = (heading: string, items: ReadonlyArray<string>, budget: number): Array<string> => {
  const lines: Array<string> = []
  let used = heading.length + 1
  for (const item of items) {
    const cost = item.length + 1
    if (used + cost > budget + 1) break
    lines.push(item)
    used += cost
  }
  return lines.length === 0 ? [] : [heading, ...lines]
}

const size = (lines: ReadonlyArray<string>): number =>
  lines.length === 0 ? 0 : lines.reduce((n, line) => n + line.length, 0) + lines.length

/** The block, at most `maxChars` characters; "" when there is nothing to say or no room to say it. */
export const render = (options: Options): string => {
  const maxChars = Math.max(0, Math.floor(options.maxChars ?? defaults.maxChars))
  const maxLine = Math.max(2, options.maxLine ?? defaults.maxLine)
  const share = Math.min(1, Math.max(0, options.topicsShare ?? defaults.topicsShare))
  const remembered = options.entries.map((e) => `- ${e.scope === "project" ? "(project) " : ""}${e.text}`)
    .map((line) => oneLine(line, maxLine))
  const recent = options.topics.map((t) => oneLine(`- ${t.at.slice(0, 10)}: ${t.text}`, maxLine))
  // What the topics would take, within their share: the entries get the rest first.
  const wanted = size(section(topicsHeading, recent, Math.floor(maxChars * share)))
  const first = section(memoryHeading, remembered, maxChars - wanted)
  const second = section(topicsHeading, recent, maxChars - size(first))
  return [...first, ...second].join("\n")
}
