/**
 * Logs for the memory projections' tests: envelopes with ids `e1`, `e2`, … and times that move
 * forward as the test says, plus random logs of sessions, user messages and memory events.
 */
import type { Envelope } from "@weft/kernel/Envelope"
import type { AnyEvent, MemoryCategory, MemoryScope } from "@weft/kernel/Events"
import {
  MemoryForgotten,
  MemoryRecalled,
  MemoryWritten,
  SessionStarted,
  UserMessageReceived
} from "@weft/kernel/Events"
import * as fc from "fast-check"
import { extract } from "../../src/Extractor.js"

export const T0 = Date.parse("2025-01-01T00:00:00.000Z")
export const DAY = 86_400_000

export const started = (project: string) =>
  new SessionStarted({ project, cwd: project, model: "m", settings: {}, sources: [], maxDepth: 3, budgetTokens: null })

export const said = (text: string) => new UserMessageReceived({ content: [{ type: "text", text }] })

export const written = (
  memoryId: string,
  text: string,
  options: {
    readonly scope?: MemoryScope
    readonly kind?: "explicit" | "implicit"
    readonly expiresAt?: string
    readonly category?: MemoryCategory
    readonly project?: string
  } = {}
) =>
  new MemoryWritten({
    memoryId,
    scope: options.scope ?? "user",
    kind: options.kind ?? "explicit",
    text,
    ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt }),
    ...(options.category === undefined ? {} : { category: options.category }),
    ...(options.project === undefined ? {} : { project: options.project })
  })

export const forgotten = (memoryId: string, scope: MemoryScope = "user") => new MemoryForgotten({ memoryId, scope })

export const recalled = (...memoryIds: ReadonlyArray<string>) => new MemoryRecalled({ memoryIds, query: "q" })

export interface Step {
  readonly event: AnyEvent
  readonly sessionId?: string
  readonly agentId?: string
  /** Milliseconds after the previous envelope (one minute when absent). */
  readonly after?: number
}

/** Envelopes in order: ids `e1`, `e2`, …, seqs per session, times from `T0` on. */
export const log = (steps: ReadonlyArray<Step | AnyEvent>): Array<Envelope> => {
  let time = T0
  const seqs = new Map<string, number>()
  return steps.map((input, i) => {
    const step: Step = "event" in input ? input : { event: input }
    const sessionId = step.sessionId ?? "s1"
    const seq = (seqs.get(sessionId) ?? 0) + 1
    seqs.set(sessionId, seq)
    time += step.after ?? 60_000
    return {
      seq,
      id: `e${i + 1}`,
      parentId: null,
      sessionId,
      agentId: step.agentId ?? "main",
      at: new Date(time).toISOString(),
      event: step.event
    }
  })
}

export const iso = (ms: number): string => new Date(ms).toISOString()

/** Statements some of which are paraphrases of each other, some not, some nothing at all. */
export const statements = [
  "I prefer pnpm over npm.",
  "I like pnpm better than npm",
  "Please always use pnpm instead of npm!",
  "Je préfère pnpm à npm.",
  "I prefer tabs over spaces.",
  "Never use double quotes.",
  "Always use double quotes.",
  "We use Postgres for the main database.",
  "Our staging server is staging.example.com.",
  "My name is Ada.",
  "我叫小明。",
  "What do you prefer?",
  "Fix the failing test in Extractor.ts",
  "I don't know.",
  "Remember that the API key rotates monthly."
]

const sessionIds = ["s1", "s2", "s3"]
const explicitIds = ["m1", "m2", "m3"]

/** Ids a random log may name: explicit ones and the implicit ones of its first envelopes. */
export const ids = [...explicitIds, ...Array.from({ length: 12 }, (_, i) => `implicit-e${i + 1}-0`)]

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    event: fc.constantFrom("/a", "/b").map(started),
    sessionId: fc.constantFrom(...sessionIds),
    after: fc.integer({ min: 0, max: 3 * DAY })
  }),
  fc.record({
    event: fc.constantFrom(...statements).map(said),
    sessionId: fc.constantFrom(...sessionIds),
    agentId: fc.constantFrom("main", "main", "main/1"),
    after: fc.integer({ min: 0, max: 20 * DAY })
  }),
  fc.record({
    event: fc
      .tuple(
        fc.constantFrom(...explicitIds),
        fc.constantFrom(...statements),
        fc.constantFrom<MemoryScope | "same">("user", "project", "same", "same"),
        fc.option(fc.integer({ min: -5, max: 60 }), { nil: undefined })
      )
      .map(([id, text, scope, days]) =>
        written(id, text, {
          // Often the scope the extractor gives the same words: the write then confirms their implicit entry.
          scope: scope === "same" ? extract(text)[0]?.scope ?? "user" : scope,
          ...(days === undefined ? {} : { expiresAt: iso(T0 + days * DAY) })
        })
      ),
    sessionId: fc.constantFrom(...sessionIds),
    after: fc.integer({ min: 0, max: 20 * DAY })
  }),
  fc.record({ event: fc.constantFrom(...ids).map((id) => forgotten(id)), after: fc.integer({ min: 0, max: DAY }) }),
  fc.record({
    event: fc.uniqueArray(fc.constantFrom(...ids), { maxLength: 3 }).map((chosen) => recalled(...chosen)),
    after: fc.integer({ min: 0, max: DAY })
  })
)

/** The user says something, then the model writes it down: the write confirms (and takes over) an implicit entry. */
const restated: fc.Arbitrary<ReadonlyArray<Step>> = fc
  .tuple(fc.constantFrom(...statements), fc.constantFrom(...explicitIds), fc.constantFrom(...sessionIds))
  .map(([text, id, sessionId]) => [
    { event: said(text), sessionId },
    { event: written(id, text, { scope: extract(text)[0]?.scope ?? "user" }), sessionId }
  ])

/** A random log of sessions, user messages (some from a subagent) and memory events. */
export const randomLog: fc.Arbitrary<Array<Envelope>> = fc
  .array(fc.oneof({ weight: 4, arbitrary: step.map((one) => [one]) }, { weight: 1, arbitrary: restated }), {
    maxLength: 30
  })
  .map((groups) => log(groups.flat()))
