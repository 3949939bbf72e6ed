/**
 * One segment of the conversation index: its documents' metadata (always in memory: what filters,
 * removal, expiry and the session timeline need), and its body — postings, vectors and texts —
 * which a sealed segment keeps on disk and loads when a query first needs it.
 *
 * A segment on disk is four files named after its id:
 *
 * - `<id>.meta.json`: the metadata, column by column (sessions and projects through a small
 *   dictionary), and the distinct terms of the documents that expire (so that statistics can leave
 *   out an expired document without loading the body);
 * - `<id>.keyword.bin`: the postings (`Postings.encode`);
 * - `<id>.vectors.bin`: the vectors (`VectorIndex.encode`);
 * - `<id>.text.json`: the texts, for snippets and results.
 *
 * Rows are numbered from 0 in each segment; a removed row stays until the segment is rewritten
 * (`deleted`), and is left out of every answer at once.
 */
import { Either, Schema } from "effect"
import * as Language from "../Language.js"
import * as VectorIndex from "../VectorIndex.js"
import * as Postings from "./Postings.js"

export type Kind = "turn" | "memory"
export type Role = "user" | "assistant"

/** A document's metadata, without its text. */
export interface Row {
  readonly id: string
  readonly kind: Kind
  readonly sessionId: string
  readonly project: string
  readonly role: Role
  readonly at: string
  readonly atMs: number
  readonly expiresAt: string | undefined
  /** `Infinity` when the document does not expire. */
  readonly expiresMs: number
  readonly importance: number | undefined
  /** The language its text was analysed in (`Analyzer.languageOf`). */
  readonly language: Language.Language
}

/** What the statistics count of a document: its distinct terms and its length. */
export interface Counted {
  readonly terms: ReadonlyArray<string>
  readonly length: number
}

export interface Body {
  readonly postings: Postings.Postings
  readonly vectors: VectorIndex.VectorIndex
  readonly texts: Array<string>
}

export const growingBody = (dimensions: number): Body => ({
  postings: new Postings.Growing(),
  vectors: VectorIndex.make(dimensions),
  texts: []
})

export class Segment {
  readonly rows: Array<Row> = []
  /** Row → the index-wide key of its document. */
  readonly keys: Array<number> = []
  readonly deleted = new Set<number>()
  /** The terms of rows that expire, by row. */
  readonly ttlTerms = new Map<number, Counted>()
  /** Per row, its terms; kept for a growing segment only (removal takes them out of the statistics). */
  readonly rowTerms: Array<Counted> | undefined
  minAt = Infinity
  maxAt = -Infinity
  /** The earliest and the latest `at` (ISO). */
  first = ""
  last = ""
  readonly projects = new Set<string>()
  readonly sessions = new Set<string>()
  readonly roles = new Set<Role>()
  readonly kinds = new Set<Kind>()
  /** The largest importance of a memory entry in the segment. */
  maxImportance = -Infinity
  /**
   * Columns for filtering, row by row: codes of the project and session (in `codes`), the role
   * (0 user, 1 assistant), `at` and expiry in milliseconds.
   */
  readonly projectCodes: Array<number> = []
  readonly sessionCodes: Array<number> = []
  readonly roleCodes: Array<number> = []
  readonly atMs: Array<number> = []
  readonly expiresMs: Array<number> = []
  /** Project and session names → codes, for this segment's columns. */
  readonly codes = new Map<string, number>()
  /** Bytes of its files on disk (0 until written). */
  bytes = 0
  /** When a query last used the body, in queries served. */
  lastUsed = 0

  constructor(
    readonly id: string,
    readonly sealed: boolean,
    body: Body | undefined
  ) {
    this.rowTerms = sealed ? undefined : []
    this.setBody(body)
  }

  private current: Body | undefined
  /** The memory the body takes, roughly, as it was loaded (a growing segment's is not tracked). */
  loadedBytes = 0

  get body(): Body | undefined {
    return this.current
  }

  setBody(body: Body | undefined): void {
    this.current = body
    this.loadedBytes = body === undefined || !this.sealed ? 0 : bytesOf(body)
  }

  get live(): number {
    return this.rows.length - this.deleted.size
  }

  /** Appends a row's metadata; its body (postings, vector, text) is the caller's. */
  /** The code of a project or session name in this segment's columns (-1 when none of its rows has it). */
  code(name: string): number {
    return this.codes.get(name) ?? -1
  }

  private intern(name: string): number {
    let code = this.codes.get(name)
    if (code === undefined) {
      code = this.codes.size
      this.codes.set(name, code)
    }
    return code
  }

  push(row: Row, key: number, terms: Counted): number {
    const at = this.rows.length
    this.rows.push(row)
    this.projectCodes.push(this.intern(`p:${row.project}`))
    this.sessionCodes.push(this.intern(`s:${row.sessionId}`))
    this.roleCodes.push(row.role === "user" ? 0 : 1)
    this.atMs.push(row.atMs)
    this.expiresMs.push(row.expiresMs)
    this.keys.push(key)
    if (this.rowTerms !== undefined) this.rowTerms.push(terms)
    if (row.expiresAt !== undefined) this.ttlTerms.set(at, terms)
    if (row.atMs < this.minAt) {
      this.minAt = row.atMs
      this.first = row.at
    }
    if (row.atMs > this.maxAt) {
      this.maxAt = row.atMs
      this.last = row.at
    }
    this.projects.add(row.project)
    this.sessions.add(row.sessionId)
    this.roles.add(row.role)
    this.kinds.add(row.kind)
    if (row.kind === "memory" && row.importance !== undefined) {
      this.maxImportance = Math.max(this.maxImportance, row.importance)
    }
    return at
  }

  /** The live rows, in order. */
  liveRows(): Array<number> {
    const out: Array<number> = []
    for (let row = 0; row < this.rows.length; row++) if (!this.deleted.has(row)) out.push(row)
    return out
  }

  /** Whether a live memory entry in the segment is at least `importance`. */
  holdsImportant(importance: number): boolean {
    if (this.maxImportance < importance) return false
    return this.rows.some((row, i) =>
      row.kind === "memory" && row.importance !== undefined && row.importance >= importance && !this.deleted.has(i)
    )
  }

  /** The memory the body takes, roughly. */
  get bodyBytes(): number {
    return this.body === undefined ? 0 : this.sealed ? this.loadedBytes : bytesOf(this.body)
  }
}

const bytesOf = (body: Body): number => {
  const postings = body.postings
  const keyword = postings instanceof Postings.Sealed ? postings.bytes : postings.rows * 200
  const vectors = body.vectors.rows * (body.vectors.dimensions * 5 + 16)
  let texts = 0
  for (const text of body.texts) texts += text.length * 2
  return keyword + vectors + texts
}

// ---------------------------------------------------------------------------------------------
// Files

export const files = (id: string) => ({
  meta: `${id}.meta.json`,
  keyword: `${id}.keyword.bin`,
  vectors: `${id}.vectors.bin`,
  text: `${id}.text.json`
})

const FORMAT = 1

const MetaFile = Schema.Struct({
  format: Schema.Literal(FORMAT),
  ids: Schema.Array(Schema.String),
  /** One character a row: `t` turn, `m` memory. */
  kinds: Schema.String,
  /** One character a row: `u` user, `a` assistant. */
  roles: Schema.String,
  sessionNames: Schema.Array(Schema.String),
  sessions: Schema.Array(Schema.Int),
  projectNames: Schema.Array(Schema.String),
  projects: Schema.Array(Schema.Int),
  at: Schema.Array(Schema.String),
  languages: Schema.Array(Language.Language),
  expiresAt: Schema.Array(Schema.Tuple(Schema.Int, Schema.String)),
  importance: Schema.Array(Schema.Tuple(Schema.Int, Schema.Number)),
  /** Rows that expire: row, length, distinct terms. */
  ttlTerms: Schema.Array(Schema.Tuple(Schema.Int, Schema.Int, Schema.Array(Schema.String)))
})
type MetaFile = typeof MetaFile.Type

const decodeMetaFile = Schema.decodeUnknownEither(Schema.parseJson(MetaFile))
const decodeTexts = Schema.decodeUnknownEither(Schema.parseJson(Schema.Array(Schema.String)))

/** The metadata of rows `keep` of `segment` as the text of a `.meta.json` file. */
export const encodeMeta = (segment: Segment, keep: ReadonlyArray<number>): string => {
  const sessionNames: Array<string> = []
  const sessionOf = new Map<string, number>()
  const projectNames: Array<string> = []
  const projectOf = new Map<string, number>()
  const index = (names: Array<string>, of: Map<string, number>, name: string) => {
    let at = of.get(name)
    if (at === undefined) {
      at = names.length
      names.push(name)
      of.set(name, at)
    }
    return at
  }
  const ids: Array<string> = []
  const kinds: Array<string> = []
  const roles: Array<string> = []
  const sessions: Array<number> = []
  const projects: Array<number> = []
  const at: Array<string> = []
  const languages: Array<Language.Language> = []
  const expiresAt: Array<readonly [number, string]> = []
  const importance: Array<readonly [number, number]> = []
  const ttlTerms: Array<readonly [number, number, ReadonlyArray<string>]> = []
  keep.forEach((from, to) => {
    const row = segment.rows[from]!
    ids.push(row.id)
    kinds.push(row.kind === "turn" ? "t" : "m")
    roles.push(row.role === "user" ? "u" : "a")
    sessions.push(index(sessionNames, sessionOf, row.sessionId))
    projects.push(index(projectNames, projectOf, row.project))
    at.push(row.at)
    languages.push(row.language)
    if (row.expiresAt !== undefined) {
      expiresAt.push([to, row.expiresAt])
      const counted = segment.ttlTerms.get(from) ?? { terms: [], length: 0 }
      ttlTerms.push([to, counted.length, counted.terms])
    }
    if (row.importance !== undefined) importance.push([to, row.importance])
  })
  const file: MetaFile = {
    format: FORMAT,
    ids,
    kinds: kinds.join(""),
    roles: roles.join(""),
    sessionNames,
    sessions,
    projectNames,
    projects,
    at,
    languages,
    expiresAt,
    importance,
    ttlTerms
  }
  return JSON.stringify(file)
}

const instant = (iso: string): number => Date.parse(iso)

/** Rows from the text of a `.meta.json` file; a string saying what is wrong otherwise. */
export const decodeMeta = (
  text: string
): Either.Either<{ readonly rows: Array<Row>; readonly ttlTerms: Map<number, Counted> }, string> =>
  Either.flatMap(
    Either.mapLeft(decodeMetaFile(text), (error) => error.message.split("\n")[0] ?? "invalid"),
    (file) => {
      const n = file.ids.length
      const columns = [
        file.kinds.length,
        file.roles.length,
        file.sessions.length,
        file.projects.length,
        file.at.length,
        file.languages.length
      ]
      if (columns.some((length) => length !== n)) return Either.left(`columns of different lengths (${n} ids)`)
      const expires = new Map(file.expiresAt)
      const importance = new Map(file.importance)
      const rows: Array<Row> = []
      for (let i = 0; i < n; i++) {
        const sessionId = file.sessionNames[file.sessions[i]!]
        const project = file.projectNames[file.projects[i]!]
        const atMs = instant(file.at[i]!)
        const expiresAt = expires.get(i)
        const expiresMs = expiresAt === undefined ? Infinity : instant(expiresAt)
        if (sessionId === undefined || project === undefined || Number.isNaN(atMs) || Number.isNaN(expiresMs)) {
          return Either.left(`row ${i} is malformed`)
        }
        rows.push({
          id: file.ids[i]!,
          kind: file.kinds[i] === "m" ? "memory" : "turn",
          role: file.roles[i] === "a" ? "assistant" : "user",
          sessionId,
          project,
          at: file.at[i]!,
          atMs,
          expiresAt,
          expiresMs,
          importance: importance.get(i),
          language: file.languages[i]!
        })
      }
      const ttlTerms = new Map<number, Counted>()
      for (const [row, length, terms] of file.ttlTerms) ttlTerms.set(row, { terms, length })
      return Either.right({ rows, ttlTerms })
    }
  )

export const encodeTexts = (segment: Segment, keep: ReadonlyArray<number>): string =>
  JSON.stringify(keep.map((row) => segment.body!.texts[row]!))

/** A body from the bytes of its three files; a string saying what is wrong otherwise. */
export const decodeBody = (
  keyword: Uint8Array,
  vectors: Uint8Array,
  texts: string,
  rows: number
): Either.Either<Body, string> => {
  const postings = Postings.decode(keyword)
  if (typeof postings === "string") return Either.left(`its keyword index: ${postings}`)
  if (postings.rows !== rows) return Either.left(`its keyword index has ${postings.rows} rows, its metadata ${rows}`)
  const decodedVectors = VectorIndex.decode(vectors)
  if (Either.isLeft(decodedVectors)) return Either.left(`its vectors: ${decodedVectors.left.message}`)
  if (decodedVectors.right.size !== rows) {
    return Either.left(`it has ${decodedVectors.right.size} vectors for ${rows} rows`)
  }
  const decodedTexts = decodeTexts(texts)
  if (Either.isLeft(decodedTexts) || decodedTexts.right.length !== rows) return Either.left("its texts are malformed")
  return Either.right({ postings, vectors: decodedVectors.right, texts: [...decodedTexts.right] })
}
