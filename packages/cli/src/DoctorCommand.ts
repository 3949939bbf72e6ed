/**
 * `weft doctor [--repair]`: prints what `Doctor` found under `WEFT_HOME`, file by file, and a
 * summary; exits 1 while problems remain.
 */
import { Command, Options } from "@effect/cli"
import * as Doctor from "@weft/store/Doctor"
import { Effect, Schema } from "effect"
import { Invocation } from "./Invocation.js"
import * as Output from "./Output.js"
import { concise } from "./ParseReason.js"

export class ProblemsRemainError extends Schema.TaggedError<ProblemsRemainError>()("ProblemsRemainError", {
  home: Schema.String,
  problems: Schema.Int,
  repair: Schema.Boolean
}) {
  override get message() {
    return `doctor: ${plural(this.problems, "problem")} remain${this.problems === 1 ? "s" : ""} under ${this.home}` +
      (this.repair ? "; see above for what to do" : "; `weft doctor --repair` fixes what it can")
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

const holder = (h: { readonly pid: number; readonly hostname: string; readonly startedAt: string } | null) =>
  h === null ? "an unreadable lock" : `pid ${h.pid} on ${h.hostname} (since ${h.startedAt})`

const notRepaired = (repair: boolean, unrepaired: string | null, fix: string) =>
  unrepaired !== null ? `; not repaired: ${unrepaired}` : repair ? "" : `; \`weft doctor --repair\` ${fix}`

/** What one finding means and what to do about it, on one line. */
export const describe = (
  finding: Doctor.Finding,
  session: Doctor.SessionReport | null,
  folder: Doctor.FolderReport,
  repair: boolean
): string => {
  const file = session?.path ?? folder.dir
  const history = "it cannot be repaired without rewriting history; read the session past it with " +
    `\`weft sessions show ${session?.sessionId ?? "<id>"} --lenient\``
  switch (finding._tag) {
    case "TornTail":
      return finding.status === "repaired"
        ? `${file}:${finding.line}: moved the torn last line (${
          plural(finding.bytes ?? 0, "byte")
        }) to ${finding.aside}`
        : `${file}:${finding.line}: torn last line${
          finding.bytes === null ? "" : ` of ${plural(finding.bytes, "byte")}`
        } (${concise(finding.reason)}), an append that never finished${
          notRepaired(repair, finding.unrepaired, "moves it aside")
        }`
    case "BadLine":
      return `${file}:${finding.line}: not an event: ${concise(finding.reason)}; ${history}`
    case "SeqGap":
      return `${file}:${finding.line}: seq ${finding.found} where ${finding.expected} was expected; ${history}`
    case "Lock": {
      const missing = session !== null && !session.exists
      if (finding.state === "live") {
        return `${finding.path}: in use by ${holder(finding.holder)}${
          missing ? "; its session file does not exist yet" : ""
        }`
      }
      return finding.status === "repaired"
        ? `${finding.path}: removed the stale lock of ${holder(finding.holder)}`
        : `${finding.path}: stale lock: ${holder(finding.holder)}${finding.holder === null ? "" : " is gone"}${
          missing ? "; its session file does not exist" : ""
        }${notRepaired(repair, finding.unrepaired, "removes it")}`
    }
    case "TornAside":
      return `${finding.path}: ${
        plural(finding.bytes, "byte")
      } an earlier repair kept aside (not events; kept for inspection)`
    case "Unreadable":
      return `${finding.path}: cannot be read: ${finding.reason}`
    case "ProjectFile": {
      if (finding.status === "repaired") return `${finding.path}: restored: the folder holds ${folder.project}`
      const named = finding.named.length === 1 ? finding.named[0]! : undefined
      if (finding.status === "info") {
        return `${finding.path}: missing, in a folder without sessions (the next session of its project claims it)`
      }
      const hidden = "the sessions in this folder are not listed"
      if (finding.reason === null) {
        return `${finding.path}: missing: ${hidden}${named === undefined ? "" : `; they name ${named}`}${
          notRepaired(repair, finding.unrepaired, "restores it")
        }`
      }
      return `${finding.path}: ${finding.reason}: ${hidden}; fix it by hand: it holds ` +
        `{"path":${JSON.stringify(named ?? "<the project's real path>")}}`
    }
  }
}

const STATUS_WIDTH = 8

/** The report as lines: a heading per file with findings, one line per finding, and a summary. */
export const render = (report: Doctor.Report): Array<string> => {
  const out: Array<string> = []
  const entry = (finding: Doctor.Finding, session: Doctor.SessionReport | null, folder: Doctor.FolderReport) =>
    `  ${finding.status.padEnd(STATUS_WIDTH)}  ${describe(finding, session, folder, report.repair)}`
  for (const folder of report.folders) {
    if (folder.findings.length > 0) {
      out.push(`${folder.dir} (project ${folder.project ?? "unknown"})`)
      for (const finding of folder.findings) out.push(entry(finding, null, folder))
    }
    for (const session of folder.sessions) {
      if (session.findings.length === 0) continue
      out.push(
        session.exists
          ? `${session.path} (session ${session.sessionId}, ${plural(session.events, "event")})`
          : `${session.path} (no such file)`
      )
      for (const finding of session.findings) out.push(entry(finding, session, folder))
    }
  }
  const sessions = report.folders.flatMap((f) => f.sessions).filter((s) => s.exists).length
  const problems = Doctor.count(report, "problem")
  const repaired = Doctor.count(report, "repaired")
  const checked = `${plural(sessions, "session")} in ${
    plural(report.folders.length, "project folder")
  } under ${report.home}`
  if (out.length > 0) out.push("")
  out.push(
    problems === 0
      ? `Checked ${checked}: all healthy${repaired === 0 ? "" : ` (${plural(repaired, "repair")} made)`}.`
      : `Checked ${checked}: ${plural(problems, "problem")} remain${problems === 1 ? "s" : ""}${
        repaired === 0 ? "" : `, ${plural(repaired, "repair")} made`
      }.`
  )
  return out
}

export const doctor = Command.make(
  "doctor",
  {
    repair: Options.boolean("repair").pipe(
      Options.withDescription(
        "Fix what can be fixed without rewriting history: move torn tails aside, remove stale locks, " +
          "restore a missing project.json."
      )
    )
  },
  ({ repair }) =>
    Effect.gen(function*() {
      const { home } = yield* Invocation
      const report = yield* Doctor.run({ home, repair })
      yield* Output.lines(render(report))
      const problems = Doctor.count(report, "problem")
      if (problems > 0) return yield* new ProblemsRemainError({ home, problems, repair })
    })
).pipe(
  Command.withDescription(
    "Check every session under WEFT_HOME: torn tails, corrupted lines, seq gaps, locks, project folders."
  )
)
