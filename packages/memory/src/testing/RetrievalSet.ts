/**
 * The project's own retrieval test set, and recall@k over it.
 *
 * `fixtures/retrieval-set.json` holds a few hundred turns of hand-written conversations (sessions
 * of a developer and a second user with a coding agent across several projects, a few sessions and
 * turns in French, Japanese and Chinese) and questions a user would later ask, each with the ids of
 * every turn that holds its evidence. A question has a kind: `lexical` (shares key words with the
 * evidence), `paraphrase` (same meaning, other words), `other-language` (question and evidence in
 * different languages, or neither in English) or `multi-session` (evidence in two or more sessions).
 *
 * Retrievers are compared by recall@k: for one question, the share of its answers found in the
 * first k results; overall, the mean over questions. Fusion weights are chosen on this set.
 */
import { FileSystem } from "@effect/platform"
import { DateTime, Effect, Option, ParseResult, Schema } from "effect"
import { fileURLToPath } from "node:url"

/** The absolute path of the fixture, for tests and the bench. */
export const path: string = fileURLToPath(new URL("../../fixtures/retrieval-set.json", import.meta.url))

export const Kind = Schema.Literal("lexical", "paraphrase", "other-language", "multi-session")
export type Kind = typeof Kind.Type

/** Every kind, in the order reports show them. */
export const kinds: ReadonlyArray<Kind> = Kind.literals

const UtcInstant = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, {
    message: () => "expected an ISO-8601 UTC time such as 2026-09-14T10:22:00Z"
  }),
  // The calendar must agree: `2026-02-30` is not a date, though `Date` would roll it over to March.
  Schema.filter((at) =>
    Option.exists(DateTime.make(at), (time) => DateTime.formatIso(time).slice(0, 19) === at.slice(0, 19)) ||
    "not a valid date"
  )
)

export const Turn = Schema.Struct({
  /** `<sessionId>-tNN`, e.g. `s07-t04`. */
  id: Schema.String.pipe(Schema.pattern(/^s\d{2,}-t\d{2,}$/, { message: () => "expected a turn id such as s07-t04" })),
  sessionId: Schema.String.pipe(Schema.pattern(/^s\d{2,}$/, { message: () => "expected a session id such as s07" })),
  project: Schema.String.pipe(Schema.startsWith("/", { message: () => "expected an absolute project path" })),
  role: Schema.Literal("user", "assistant"),
  at: UtcInstant,
  text: Schema.NonEmptyTrimmedString
})
export type Turn = typeof Turn.Type

export const Question = Schema.Struct({
  /** `qNNN`, e.g. `q031`. */
  id: Schema.String.pipe(Schema.pattern(/^q\d{3,}$/, { message: () => "expected a question id such as q031" })),
  question: Schema.NonEmptyTrimmedString,
  /** The id of every turn that holds evidence for the answer. */
  answers: Schema.NonEmptyArray(Schema.String),
  kind: Kind,
  /** The question's language, ISO 639-1 (`en`, `fr`, `ja`, …). */
  language: Schema.String.pipe(Schema.pattern(/^[a-z]{2}$/, { message: () => "expected an ISO 639-1 code such as fr" }))
})
export type Question = typeof Question.Type

/** Ids are unique, a turn id starts with its session id, answers name existing turns, once each, and a
 * multi-session question's answers come from at least two sessions. */
const consistency = (set: {
  readonly turns: ReadonlyArray<Turn>
  readonly questions: ReadonlyArray<Question>
}): ReadonlyArray<Schema.FilterIssue> => {
  const issues: Array<Schema.FilterIssue> = []
  const sessionOf = new Map<string, string>()
  set.turns.forEach((turn, i) => {
    if (sessionOf.has(turn.id)) issues.push({ path: ["turns", i, "id"], message: `duplicate turn id ${turn.id}` })
    if (!turn.id.startsWith(`${turn.sessionId}-`)) {
      issues.push({ path: ["turns", i, "id"], message: `turn ${turn.id} does not belong to session ${turn.sessionId}` })
    }
    sessionOf.set(turn.id, turn.sessionId)
  })
  const questionIds = new Set<string>()
  set.questions.forEach((question, i) => {
    if (questionIds.has(question.id)) {
      issues.push({ path: ["questions", i, "id"], message: `duplicate question id ${question.id}` })
    }
    questionIds.add(question.id)
    const seen = new Set<string>()
    question.answers.forEach((answer, j) => {
      const at = ["questions", i, "answers", j]
      if (seen.has(answer)) issues.push({ path: at, message: `${question.id} lists ${answer} twice` })
      if (!sessionOf.has(answer)) {
        issues.push({ path: at, message: `${question.id} answers with unknown turn ${answer}` })
      }
      seen.add(answer)
    })
    const sessions = new Set(question.answers.flatMap((answer) => sessionOf.get(answer) ?? []))
    if (question.kind === "multi-session" && sessions.size < 2) {
      issues.push({
        path: ["questions", i, "answers"],
        message: `${question.id} is multi-session but its answers are in one session`
      })
    }
  })
  return issues
}

export const RetrievalSet = Schema.Struct({
  version: Schema.Literal(1),
  turns: Schema.NonEmptyArray(Turn),
  questions: Schema.NonEmptyArray(Question)
}).pipe(Schema.filter(consistency))
export type RetrievalSet = typeof RetrievalSet.Type

export class RetrievalSetError extends Schema.TaggedError<RetrievalSetError>()("RetrievalSetError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `retrieval set ${this.path}: ${this.reason}`
  }
}

const decodeJson = Schema.decodeUnknown(Schema.parseJson(RetrievalSet), { errors: "all" })

const formatPath = (path: ReadonlyArray<PropertyKey>) =>
  path.reduce<string>(
    (out, segment) =>
      typeof segment === "number" ? `${out}[${segment}]` : out === "" ? String(segment) : `${out}.${String(segment)}`,
    ""
  )

/** The first issue of a failed decode on one line, with how many more there are. */
const describe = (error: ParseResult.ParseError) => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  const where = first === undefined || first.path.length === 0 ? "" : `${formatPath(first.path)}: `
  const what = (first?.message ?? "invalid").split("\n")[0]
  return `${where}${what}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`
}

/** Reads and checks a retrieval set; the error names the file and the first thing wrong in it. */
export const load = Effect.fn("RetrievalSet.load")(function*(file: string = path) {
  const fs = yield* FileSystem.FileSystem
  const text = yield* Effect.mapError(
    fs.readFileString(file),
    (error) => new RetrievalSetError({ path: file, reason: `cannot be read (${error.message})` })
  )
  return yield* Effect.mapError(
    decodeJson(text),
    (error) => new RetrievalSetError({ path: file, reason: describe(error) })
  )
})

/** Recall@k of one retriever: `overall` is the mean over all questions, `byKind` the mean over each kind's
 * questions (only kinds the set has). */
export interface Recall {
  readonly k: number
  readonly overall: number
  readonly byKind: { readonly [K in Kind]?: number }
}

/** |answers ∩ first k of ranking| / |answers|. A turn repeated in the ranking still takes its places. */
const questionRecall = (answers: ReadonlyArray<string>, ranking: ReadonlyArray<string>, k: number) => {
  const top = new Set(ranking.slice(0, Math.max(0, k)))
  return answers.filter((answer) => top.has(answer)).length / answers.length
}

const mean = (values: ReadonlyArray<number>) => values.reduce((sum, value) => sum + value, 0) / values.length

const score = (set: RetrievalSet, rankings: ReadonlyArray<ReadonlyArray<string>>, k: number): Recall => {
  const recalls = set.questions.map((question, i) => questionRecall(question.answers, rankings[i]!, k))
  const byKind: { [K in Kind]?: number } = {}
  for (const kind of kinds) {
    const ofKind = recalls.filter((_, i) => set.questions[i]!.kind === kind)
    if (ofKind.length > 0) byKind[kind] = mean(ofKind)
  }
  return { k, overall: mean(recalls), byKind }
}

/** Recall@k of `retrieve`, which gets each question's text and returns turn ids, best first. */
export const recall = (
  set: RetrievalSet,
  retrieve: (question: string) => ReadonlyArray<string>,
  k: number
): Recall => score(set, set.questions.map((question) => retrieve(question.question)), k)

/** `recall` for a retriever that is an effect (an index behind a service, an HTTP embedder). */
export const recallEffect = <E, R>(
  set: RetrievalSet,
  retrieve: (question: string) => Effect.Effect<ReadonlyArray<string>, E, R>,
  k: number
): Effect.Effect<Recall, E, R> =>
  Effect.map(
    Effect.forEach(set.questions, (question) => retrieve(question.question)),
    (rankings) => score(set, rankings, k)
  )

/** One line of a report: a retriever and its recall@5 and recall@10. */
export interface Row {
  readonly name: string
  readonly at5: Recall
  readonly at10: Recall
}

const figure = (value: number | undefined) => value === undefined ? "-" : value.toFixed(3)

/**
 * Recall@5 and recall@10 per retriever as aligned lines, then recall@10 by kind:
 *
 * ```text
 * retriever  recall@5  recall@10  lexical@10  paraphrase@10  other-language@10  multi-session@10
 * bm25          0.612      0.734       0.933          0.540              0.500             0.700
 * ```
 */
export const report = (rows: ReadonlyArray<Row>): string => {
  const shown = kinds.filter((kind) => rows.some((row) => row.at10.byKind[kind] !== undefined))
  const header = ["retriever", "recall@5", "recall@10", ...shown.map((kind) => `${kind}@10`)]
  const lines = [
    header,
    ...rows.map((row) => [
      row.name,
      figure(row.at5.overall),
      figure(row.at10.overall),
      ...shown.map((kind) => figure(row.at10.byKind[kind]))
    ])
  ]
  const widths = header.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)))
  return lines
    .map((line) =>
      line.map((cell, column) => column === 0 ? cell.padEnd(widths[0]!) : cell.padStart(widths[column]!)).join("  ")
        .trimEnd()
    )
    .join("\n")
}
