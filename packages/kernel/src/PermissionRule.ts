/**
 * Permission rules, as written in settings: `Tool` or `Tool(specifier)`.
 *
 * Tool names are case-sensitive. A name that differs only in case from a known tool (`bash`,
 * `READ`) is refused when the rule is parsed, so a case trick can neither sneak an allow in nor
 * silently disable a deny. Other names (`mcp__github__create_issue`) are kept as written.
 *
 * - `Read(…)` covers the Read, Glob and Grep requests, `Edit(…)` covers Edit and Write: the file
 *   tools ask for `Read` (read, glob, grep) or `Edit` (write, edit). A `Glob(…)`, `Grep(…)` or
 *   `Write(…)` rule allows only requests naming that tool, but denies (and asks for) the whole
 *   family. A deny or ask rule of the Read family also covers writes: editing a file shows it.
 * - Path specifiers are gitignore-style globs: `*` and `?` stay within a path segment, `**`
 *   spans segments, `[a-z]` and `{ts,tsx}` work, `\` escapes. A pattern without a `/` (other
 *   than a trailing one) matches at any depth: `*.env`, `.env`. Anchors, as Claude Code:
 *   - `src/**`, `./src/**`, `/src/**`: relative to the project root (`/path` is the root, not
 *     the file system's root);
 *   - `//etc/hosts`: an absolute path of the file system;
 *   - `~/.ssh/**`: under the user's home (given as data, never read from the environment).
 *   `..` is refused (write the absolute `//path` instead), and so is a leading `!`.
 *   An allow rule names the paths it allows (`src/**` for what is inside src); a deny or ask
 *   rule also covers everything under a path it names (`Edit(.git)` covers `.git/config`), and
 *   matches regardless of case and Unicode normalisation (case-insensitive file systems).
 * - `Bash(npm test)` allows exactly that command; `Bash(npm test:*)` every command starting
 *   with those words (`npm test`, `npm test --watch`, not `npm testing`). Words are compared
 *   after quote removal, so spacing and quoting do not matter. A `*` anywhere else is refused.
 *   Deny and ask rules match more loosely: case-insensitively, a program given by path by its
 *   name, and the rule's other words anywhere after the program, in order (`Bash(git push:*)`
 *   also denies `git -C . push`).
 * - Any other tool: `Task(explore)` matches that exact specifier; a bare `Tool` matches every
 *   request of the tool.
 *
 * Pure.
 */
import { Either, Schema } from "effect"
import * as BashCommand from "./BashCommand.js"

export class InvalidRuleError extends Schema.TaggedError<InvalidRuleError>()("InvalidRuleError", {
  rule: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `permission rule ${JSON.stringify(this.rule)}: ${this.reason}`
  }
}

/** The tools weft knows: a rule naming one of these in another case is refused. */
export const knownTools: ReadonlyArray<string> = [
  "Read",
  "Edit",
  "Write",
  "Glob",
  "Grep",
  "Bash",
  "Task",
  "Memory",
  "WebFetch",
  "WebSearch",
  "NotebookEdit",
  "TodoWrite"
]

/** Tools whose requests are reads of paths. */
export const readFamily: ReadonlySet<string> = new Set(["Read", "Glob", "Grep"])
/** Tools whose requests are writes of paths. */
export const editFamily: ReadonlySet<string> = new Set(["Edit", "Write", "NotebookEdit"])

export interface PathPattern {
  /** What relative patterns are relative to. */
  readonly base: "root" | "home" | "absolute"
  /** The glob, relative to its base, without leading `/` or `./`. */
  readonly glob: string
  /** For allow rules: case-sensitive, the path itself. */
  readonly strict: RegExp
  /** For deny and ask rules: case-insensitive, NFC. */
  readonly loose: RegExp
}

export type Rule =
  /** `Bash`, `Read`, `Task`: every request of the tool. */
  | { readonly _tag: "Tool"; readonly tool: string; readonly text: string }
  | { readonly _tag: "Path"; readonly tool: string; readonly text: string; readonly pattern: PathPattern }
  | {
    readonly _tag: "Command"
    readonly tool: "Bash"
    readonly text: string
    readonly words: ReadonlyArray<string>
    /** `:*`: the words are a prefix. */
    readonly prefix: boolean
  }
  | { readonly _tag: "Specifier"; readonly tool: string; readonly text: string; readonly specifier: string }

/** A rule, where it came from, and what it does. */
export interface RuleEntry {
  readonly behavior: "allow" | "ask" | "deny"
  readonly rule: Rule
  /** The settings layer (`user` … `flags`), or `session` for a grant answered in this session. */
  readonly layer: string
}

const invalid = (rule: string, reason: string) => Either.left(new InvalidRuleError({ rule, reason }))

const escapeRegex = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")

/** The regex body of a gitignore-style glob, or why it is not one. */
const globBody = (glob: string): string | { readonly error: string } => {
  let out = ""
  let braces = 0
  let i = 0
  while (i < glob.length) {
    const c = glob[i]!
    if (c === "*") {
      const atSegmentStart = i === 0 || glob[i - 1] === "/"
      if (glob[i + 1] === "*" && atSegmentStart && (i + 2 === glob.length || glob[i + 2] === "/")) {
        if (i + 2 === glob.length) {
          out += ".*"
          i += 2
        } else {
          // `**/**/` is `**/`: one group, so a long path cannot make the regex backtrack.
          if (!out.endsWith("(?:.*/)?")) out += "(?:.*/)?"
          i += 3
        }
        continue
      }
      while (glob[i] === "*") i++
      out += "[^/]*"
      continue
    }
    if (c === "?") {
      out += "[^/]"
    } else if (c === "[") {
      let j = i + 1
      if (glob[j] === "!" || glob[j] === "^") j++
      if (glob[j] === "]") j++
      while (j < glob.length && glob[j] !== "]") j++
      if (j >= glob.length) {
        out += "\\["
      } else {
        let content = glob.slice(i + 1, j)
        const negated = content.startsWith("!") || content.startsWith("^")
        if (negated) content = content.slice(1)
        const body = content.replace(/[\\\]^]/g, "\\$&")
        out += negated ? `[^/${body}]` : `(?!/)[${body}]`
        i = j
      }
    } else if (c === "{") {
      braces++
      out += "(?:"
    } else if (c === "," && braces > 0) {
      out += "|"
    } else if (c === "}" && braces > 0) {
      braces--
      out += ")"
    } else if (c === "\\") {
      const next = glob[i + 1]
      if (next === undefined) return { error: "it ends with a lone \"\\\"" }
      out += escapeRegex(next)
      i++
    } else {
      out += escapeRegex(c)
    }
    i++
  }
  if (braces > 0) return { error: "a \"{\" is never closed" }
  return out
}

const parsePath = (text: string, tool: string, specifier: string): Either.Either<Rule, InvalidRuleError> => {
  // As gitignore: trailing blanks are dropped unless escaped (`\ `).
  let spec = specifier.replace(/^\s+/, "").replace(/(?<!\\)\s+$/, "")
  if (spec.startsWith("!")) return invalid(text, "negated patterns are not supported; write a deny rule instead")
  let base: PathPattern["base"] = "root"
  let anchored = false
  if (spec.startsWith("//")) {
    base = "absolute"
    anchored = true
    spec = spec.slice(2)
  } else if (spec === "~" || spec.startsWith("~/")) {
    base = "home"
    anchored = true
    spec = spec.slice(1)
  } else if (spec.startsWith("~")) {
    return invalid(text, "\"~user\" paths are not supported; write ~/path or an absolute //path")
  } else if (spec.startsWith("/") || spec.startsWith("./")) {
    anchored = true
  }
  const segments = spec.split("/").filter((segment) => segment !== "" && segment !== ".")
  if (segments.includes("..")) {
    return invalid(text, "\"..\" is not supported in a rule's path; write an absolute //path or ~/path instead")
  }
  // gitignore: a slash at the beginning or in the middle anchors the pattern; a trailing one does not.
  if (!anchored && spec.replace(/\/+$/, "").includes("/")) anchored = true
  const glob = segments.join("/")
  const body = globBody(glob)
  if (typeof body !== "string") return invalid(text, body.error)
  const looseBody = globBody(glob.normalize("NFC"))
  const source = (b: string) => anchored ? `^(?:${b})$` : `^(?:.*/)?(?:${b})$`
  return Either.right({
    _tag: "Path",
    tool,
    text,
    pattern: {
      base,
      glob,
      strict: new RegExp(source(body), "s"),
      loose: new RegExp(source(typeof looseBody === "string" ? looseBody : body), "is")
    }
  })
}

const parseCommand = (text: string, specifier: string): Either.Either<Rule, InvalidRuleError> => {
  let spec = specifier.trim()
  if (spec === "*") return Either.right({ _tag: "Tool", tool: "Bash", text })
  const prefix = spec.endsWith(":*")
  if (prefix) spec = spec.slice(0, -2).trimEnd()
  if (spec === "") return invalid(text, "no command before \":*\"; write Bash alone to match every command")
  const words = BashCommand.ruleWords(spec)
  if (words._tag === "Invalid") return invalid(text, words.reason)
  return Either.right({ _tag: "Command", tool: "Bash", text, words: words.words, prefix })
}

/** Parses a rule as written in settings (surrounding whitespace aside). */
export const parse = (input: string): Either.Either<Rule, InvalidRuleError> => {
  const text = input.trim()
  const match = /^([^()\s]*)(?:\((.*)\))?$/s.exec(text)
  if (match === null) {
    return invalid(
      text,
      text.includes("(") && !text.endsWith(")")
        ? "a \"(\" is never closed; write Tool or Tool(specifier)"
        : "expected Tool or Tool(specifier)"
    )
  }
  const tool = match[1]!
  const specifier = match[2]
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(tool)) {
    return invalid(text, "expected a tool name (letters, digits, _ and -) then an optional (specifier)")
  }
  if (!knownTools.includes(tool)) {
    const known = knownTools.find((name) => name.toLowerCase() === tool.toLowerCase())
    if (known !== undefined) return invalid(text, `tool names are case-sensitive: write "${known}", not "${tool}"`)
  }
  if (specifier === undefined) return Either.right({ _tag: "Tool", tool, text })
  if (specifier.trim() === "") return invalid(text, `an empty specifier; write ${tool} alone to match every request`)
  if (readFamily.has(tool) || editFamily.has(tool)) return parsePath(text, tool, specifier)
  if (tool === "Bash") return parseCommand(text, specifier)
  if (specifier.trim() === "*") return Either.right({ _tag: "Tool", tool, text })
  return Either.right({ _tag: "Specifier", tool, text, specifier: specifier.trim() })
}

/** Like `parse`, for rules known to be valid (tests, built-ins); a defect otherwise. */
export const unsafeParse = (input: string): Rule => Either.getOrThrow(parse(input))

// ---------------------------------------------------------------------------------------------
// Paths

/** Lexically normalises an absolute POSIX path: no `.`, `..` or repeated `/`, no trailing `/`. */
export const normalize = (path: string): string => {
  const out: Array<string> = []
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue
    if (segment === "..") out.pop()
    else out.push(segment)
  }
  return `/${out.join("/")}`
}

/** `path` against `base` when relative, normalised (as `path.resolve(base, path)`). */
export const absolute = (path: string, base: string): string =>
  normalize(path.startsWith("/") ? path : `${base}/${path}`)

/** Whether `path` is `dir` or inside it (both absolute and normalised). */
export const isWithin = (path: string, dir: string): boolean =>
  dir === "/" || path === dir || path.startsWith(`${dir}/`)

export interface Anchors {
  /** The project root, absolute (resolved). */
  readonly root: string
  /** The user's home, absolute (resolved). */
  readonly home: string
}

const relativeTo = (path: string, base: string, loose: boolean): string | undefined => {
  const p = loose ? path.normalize("NFC").toLowerCase() : path
  const b = loose ? base.normalize("NFC").toLowerCase() : base
  if (b === "/") return p.slice(1)
  if (p === b) return ""
  if (p.startsWith(`${b}/`)) return p.slice(b.length + 1)
  return undefined
}

/**
 * Whether a path pattern matches `path` (absolute, normalised). `loose` (deny and ask rules):
 * regardless of case, and the path or any directory above it; otherwise the path itself.
 */
export const matchesPath = (pattern: PathPattern, path: string, anchors: Anchors, loose: boolean): boolean => {
  const base = pattern.base === "root" ? anchors.root : pattern.base === "home" ? anchors.home : "/"
  const relative = relativeTo(path, base, loose)
  if (relative === undefined) return false
  if (!loose) return pattern.strict.test(relative)
  if (pattern.loose.test(relative)) return true
  if (relative === "") return false
  const segments = relative.split("/")
  for (let i = 0; i < segments.length; i++) {
    if (pattern.loose.test(segments.slice(0, i).join("/"))) return true
  }
  return false
}

/**
 * Whether a rule about `ruleTool` covers a path request of `requestTool` that reads or writes.
 * `loose` (deny and ask): a Read-family rule covers reads and writes, an Edit-family rule writes.
 */
export const coversPathTool = (ruleTool: string, requestTool: string, write: boolean, loose: boolean): boolean => {
  const family = readFamily.has(ruleTool) ? "read" : editFamily.has(ruleTool) ? "edit" : null
  if (family === null) return ruleTool === requestTool
  if (loose) return family === "read" || write
  if (ruleTool === "Read") return !write
  if (ruleTool === "Edit") return write
  return ruleTool === requestTool && (family === "read" ? !write : write)
}

// ---------------------------------------------------------------------------------------------
// Commands

const isSubsequence = (needle: ReadonlyArray<string>, haystack: ReadonlyArray<string>): boolean => {
  let i = 0
  for (const word of haystack) {
    if (i < needle.length && word === needle[i]) i++
  }
  return i === needle.length
}

/**
 * Whether a Bash rule matches one simple command. Strict (allow): the words, exactly or as a
 * prefix; never a dynamic command, and an open-ended one only by a prefix. Loose (deny and ask):
 * any reading of the command (its aliases too), regardless of case, the rule's first word as the
 * program and its other words in order anywhere after it.
 */
export const matchesCommand = (
  rule: Rule,
  command: BashCommand.SimpleCommand,
  loose: boolean
): boolean => {
  if (rule._tag === "Tool") return rule.tool === "Bash"
  if (rule._tag !== "Command") return false
  if (!loose) {
    if (command.dynamic || command.words.length < rule.words.length) return false
    if (!rule.prefix && (command.openEnded || command.words.length !== rule.words.length)) return false
    return rule.words.every((word, i) => command.words[i] === word)
  }
  const [program, ...rest] = rule.words.map((word) => word.toLowerCase())
  for (const reading of [command.words, ...command.aliases]) {
    const words = reading.map((word) => word.toLowerCase())
    if (words.length === 0 || words[0] !== program) continue
    if (isSubsequence(rest, words.slice(1))) return true
  }
  return false
}

/** Escapes glob syntax, so a path can be written into a rule literally. */
export const escapeGlob = (path: string): string => path.replace(/[*?[\]{}\\!\s]/g, "\\$&")
