/**
 * A shell command as the permission policy sees it: the simple commands that would run.
 *
 * `parse` reads a command the way `bash -c` would, far enough to find every program it starts:
 *
 * - lists and pipelines: `&&`, `||`, `;`, `|`, `|&`, `&`, newlines;
 * - groups: `( … )` and `{ …; }`; command substitutions `$( … )` and backquotes, process
 *   substitutions `<( … )` / `>( … )` and unquoted here-documents: their commands run too, so
 *   they are commands of their own;
 * - quoting: single and double quotes, `$'…'`, backslashes and line continuations are removed,
 *   so `"rm" -rf /`, `r''m`, `\rm` and `$'\x72m'` all read as `rm`;
 * - leading `NAME=value` assignments are dropped, except those that change what a command runs
 *   or loads (`PATH`, `LD_PRELOAD`, `BASH_ENV`, `NODE_OPTIONS`, `GIT_*` …): then the command is
 *   also kept as written (a `guard`), so only a rule naming it exactly can allow it;
 * - wrappers are looked through: `env`, `nohup`, `timeout`, `nice`, `stdbuf`, `time`, `exec`,
 *   `command`, `builtin`, `xargs` and `find -exec` (whose commands get more arguments at run
 *   time: `openEnded`), `bash -c` / `sh -c` / `zsh -c` …, `eval` (their script is parsed);
 *   `sudo` and `doas` are checked both as written (a guard) and through;
 * - redirections are reported with their targets (`> file` writes, `< file` reads; `2>&1` is a
 *   `dup`, here-documents and here-strings are `text`);
 * - a program given by path (`/bin/rm`) also reads as its name (`rm`) for deny and ask rules
 *   (`aliases`); a program name computed at run time (`$CMD`, `{rm,-rf}`, `r*`) is `dynamic`.
 *
 * What it does not model — `if`/`for`/`while`/`case`, functions, `[[ ]]`, arithmetic `$(( ))`,
 * arrays, extglob, parameter expansions beyond the plain ones, unbalanced quotes — makes the
 * result `Unparsed` with the reason: the policy then asks, it never allows.
 *
 * Pure: no IO, total (a string in, a value out).
 */

/** Where a redirection goes. */
export interface Redirect {
  readonly op: string
  readonly target: string
  /**
   * `read` / `write`: a file (`< in`, `> out`, `>> log`, `&> all`); `dup`: another descriptor
   * (`2>&1`, `>&-`); `text`: a here-document or here-string; `process`: a process substitution.
   */
  readonly kind: "read" | "write" | "dup" | "text" | "process"
  /** The target is computed when the command runs (`> "$OUT"`): it cannot be checked. */
  readonly dynamic: boolean
}

/** One program that would run, with its arguments. */
export interface SimpleCommand {
  /** The words after quote removal, assignments and wrappers: what allow rules are matched against. */
  readonly words: ReadonlyArray<string>
  /** Other readings deny and ask rules are matched against too (`rm -rf /` for `/bin/rm -rf /`). */
  readonly aliases: ReadonlyArray<ReadonlyArray<string>>
  /** The program is computed at run time (`$CMD`, a glob, a brace expansion): no rule can allow it. */
  readonly dynamic: boolean
  /** It gets more arguments at run time (`xargs cmd`, `find -exec cmd {} +`): an exact rule cannot allow it. */
  readonly openEnded: boolean
  readonly redirects: ReadonlyArray<Redirect>
  /**
   * Set when the command is checked as written, on top of what it runs: `sudo …`, or an
   * assignment that changes what runs (`PATH=/tmp:$PATH npm test`). The reason, for people.
   */
  readonly guard?: string
}

export type Parsed =
  | { readonly _tag: "Parsed"; readonly commands: ReadonlyArray<SimpleCommand> }
  | { readonly _tag: "Unparsed"; readonly reason: string }

/** Variables that change which program runs or what it loads (regex fragments, case-insensitive). */
const riskyNames = [
  "PATH",
  "ENV",
  "BASH_ENV",
  "BASH_FUNC_.*",
  "SHELLOPTS",
  "BASHOPTS",
  "IFS",
  "PS4",
  "PROMPT_COMMAND",
  "GLOBIGNORE",
  "CDPATH",
  "HOME",
  "ZDOTDIR",
  "SHELL",
  "TMPDIR",
  "EDITOR",
  "VISUAL",
  "PAGER",
  "MANPAGER",
  "BROWSER",
  "CLASSPATH",
  "PERL5OPT",
  "PERL5LIB",
  "PERLLIB",
  "RUBYOPT",
  "RUBYLIB",
  "NODE_OPTIONS",
  "NODE_PATH",
  "JAVA_TOOL_OPTIONS",
  "_JAVA_OPTIONS",
  "JDK_JAVA_OPTIONS",
  "GCONV_PATH",
  "MAVEN_OPTS",
  "GRADLE_OPTS",
  "RUSTFLAGS",
  "RUSTC_WRAPPER",
  "GOFLAGS",
  "CC",
  "CXX",
  "LD",
  "LDFLAGS",
  "CFLAGS",
  "MAKEFLAGS",
  "LD_.*",
  "DYLD_.*",
  "PYTHON.*",
  "GIT_.*",
  "NPM_CONFIG_.*",
  "YARN_.*",
  "PNPM_.*",
  "XDG_.*",
  "SSH_.*",
  "LESS.*",
  "CARGO_.*"
]

/** Assignments that change which program runs or what it loads: the command needs a rule naming them. */
export const riskyVariable = new RegExp(`^(${riskyNames.join("|")})$`, "i")

/** Redirection targets that are not files anyone could care about. */
export const harmlessTargets: ReadonlySet<string> = new Set([
  "/dev/null",
  "/dev/stdin",
  "/dev/stdout",
  "/dev/stderr",
  "/dev/tty"
])

const MAX_DEPTH = 8

/** Raised inside the parser for what it does not model; caught by `parse`, never escapes. */
class Unsupported {
  constructor(readonly reason: string) {}
}

interface Word {
  /** After quote removal; expansions are kept as written (`$HOME`, `$(…)`). */
  readonly value: string
  /** The source text. */
  readonly raw: string
  /** Contains an expansion (`$x`, `$(…)`, backquotes, process substitution). */
  readonly expanded: boolean
  /** Contains unquoted glob, brace or tilde syntax. */
  readonly globbed: boolean
}

const isDynamic = (word: Word) => word.expanded || word.globbed

const KEYWORDS = new Set([
  "if",
  "then",
  "elif",
  "else",
  "fi",
  "for",
  "while",
  "until",
  "do",
  "done",
  "case",
  "esac",
  "select",
  "function",
  "coproc",
  "[[",
  "]]",
  "in"
])

/** `${name}`, `${#name}`, `${name:-word}` and the other plain forms, with a word free of expansions. */
const SAFE_PARAMETER =
  /^#?([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[#?$!*@-])((:?[-=+?]|##?|%%?|\/\/?|\^\^?|,,?)[^$`'"(){}[\]\\]*)?$/

const BLANK = (c: string | undefined) => c === " " || c === "\t"
const ENDS_WORD = (c: string | undefined) =>
  c === undefined || c === " " || c === "\t" || c === "\n" || c === ";" || c === "&" || c === "|" || c === ")" ||
  c === "(" || c === "<" || c === ">"

const basename = (program: string) => program.slice(program.lastIndexOf("/") + 1)

const plain = (words: ReadonlyArray<Word>, openEnded: boolean): SimpleCommand => {
  const values = words.map((word) => word.value)
  const first = words[0]!
  const name = basename(first.value)
  return {
    words: values,
    aliases: first.value.includes("/") && name !== "" && !isDynamic(first) ? [[name, ...values.slice(1)]] : [],
    dynamic: isDynamic(first) || first.value === "",
    openEnded,
    redirects: []
  }
}

interface OptionSpec {
  /** Short flags without an argument. */
  readonly flags?: string
  /** Short options taking an argument, attached (`-n5`) or the next word (`-n 5`). */
  readonly withArgument?: string
  /** Short options whose argument can only be attached (`xargs -i{}`). */
  readonly attachedArgument?: string
  readonly long?: ReadonlyArray<string>
  readonly longWithArgument?: ReadonlyArray<string>
  /** Long options whose argument can only follow `=`. */
  readonly longOptionalArgument?: ReadonlyArray<string>
  /** Accept `-N` (a number) as an option, as `nice -10` does. */
  readonly numeric?: boolean
}

/** Skips the options of wrapper `who` from `words[i]`; returns the index of the first operand. */
const skipOptions = (who: string, words: ReadonlyArray<Word>, i: number, spec: OptionSpec): number => {
  while (i < words.length) {
    const word = words[i]!
    // A computed word could be anything: it becomes the (dynamic) program name.
    if (isDynamic(word)) return i
    const value = word.value
    if (value === "--") return i + 1
    if (!value.startsWith("-") || value === "-") return i
    if (spec.numeric === true && /^-[0-9]+$/.test(value)) {
      i++
      continue
    }
    if (value.startsWith("--")) {
      const eq = value.indexOf("=")
      const name = value.slice(2, eq < 0 ? undefined : eq)
      if (eq < 0 && spec.long?.includes(name)) i++
      else if (spec.longWithArgument?.includes(name)) i += eq < 0 ? 2 : 1
      else if (spec.longOptionalArgument?.includes(name)) i++
      else throw new Unsupported(`${who} option "${value}" is not modelled`)
      continue
    }
    let next = i + 1
    for (let j = 1; j < value.length; j++) {
      const c = value[j]!
      if (spec.flags?.includes(c)) continue
      if (spec.attachedArgument?.includes(c)) break
      if (spec.withArgument?.includes(c)) {
        if (j === value.length - 1) next = i + 2
        break
      }
      throw new Unsupported(`${who} option "${value}" is not modelled`)
    }
    i = next
  }
  return i
}

const SHELLS = new Set(["bash", "sh", "zsh", "dash", "ksh", "mksh", "ash"])

class Parser {
  pos = 0
  private heredocs: Array<{ readonly delimiter: string; readonly strip: boolean; readonly expand: boolean }> = []

  constructor(readonly src: string, readonly depth: number, readonly out: Array<SimpleCommand>) {
    if (depth > MAX_DEPTH) throw new Unsupported(`commands nested more than ${MAX_DEPTH} deep`)
  }

  /** Parses the whole source. */
  all(): void {
    this.list(null)
  }

  private peek(offset = 0): string | undefined {
    return this.src[this.pos + offset]
  }

  private blanks(): void {
    for (;;) {
      const c = this.peek()
      if (BLANK(c)) this.pos++
      else if (c === "\\" && this.peek(1) === "\n") this.pos += 2
      else return
    }
  }

  private comment(): void {
    const end = this.src.indexOf("\n", this.pos)
    this.pos = end < 0 ? this.src.length : end
  }

  /** Whether the next word is exactly `text`, unquoted (a reserved word such as `{` or `}`). */
  private atWord(text: string): boolean {
    return this.src.startsWith(text, this.pos) && ENDS_WORD(this.src[this.pos + text.length])
  }

  private list(end: ")" | "}" | null): void {
    for (;;) {
      this.blanks()
      const c = this.peek()
      if (c === undefined) {
        if (end !== null) throw new Unsupported(`a "${end === ")" ? "(" : "{"}" is never closed`)
        return
      }
      if (c === "#") {
        this.comment()
      } else if (c === "\n") {
        this.pos++
        this.hereDocuments()
      } else if (c === ")") {
        if (end !== ")") throw new Unsupported("a \")\" closes nothing")
        this.pos++
        return
      } else if (c === ";") {
        if (this.peek(1) === ";" || this.peek(1) === "&") throw new Unsupported("case clauses are not modelled")
        this.pos++
      } else if (c === "&" && this.peek(1) !== ">") {
        this.pos += this.peek(1) === "&" ? 2 : 1
      } else if (c === "|") {
        this.pos += this.peek(1) === "|" || this.peek(1) === "&" ? 2 : 1
      } else if (end === "}" && this.atWord("}")) {
        this.pos++
        return
      } else {
        this.command()
      }
    }
  }

  private command(): void {
    if (this.peek() === "(") {
      if (this.peek(1) === "(") throw new Unsupported("arithmetic commands (( … )) are not modelled")
      this.pos++
      this.list(")")
      this.groupRedirects()
      return
    }
    if (this.atWord("{")) {
      this.pos++
      this.list("}")
      this.groupRedirects()
      return
    }
    const words: Array<Word> = []
    const redirects: Array<Redirect> = []
    for (;;) {
      this.blanks()
      const c = this.peek()
      if (c === undefined || c === "\n" || c === ";" || c === "|" || c === ")") break
      if (c === "&") {
        if (this.peek(1) !== ">") break
        redirects.push(this.redirect())
        continue
      }
      if (c === "#") {
        this.comment()
        break
      }
      if (c === "(") {
        throw new Unsupported(
          words.length === 1
            ? "function definitions are not modelled"
            : "a \"(\" here (arrays, extglob) is not modelled"
        )
      }
      if ((c === "<" || c === ">") && this.peek(1) !== "(") {
        redirects.push(this.redirect())
        continue
      }
      if (this.descriptorPrefix()) {
        redirects.push(this.redirect())
        continue
      }
      const word = this.word()
      if (words.length === 0) {
        if (word.raw === "!") continue
        if (KEYWORDS.has(word.raw)) throw new Unsupported(`"${word.raw}" compound commands are not modelled`)
        if (word.raw === "}" || word.raw === "{") throw new Unsupported(`a stray "${word.raw}"`)
      }
      words.push(word)
    }
    this.emit(words, redirects)
  }

  /** Redirections after `)` or `}` apply to the whole group. */
  private groupRedirects(): void {
    const redirects: Array<Redirect> = []
    for (;;) {
      this.blanks()
      const c = this.peek()
      if ((c === "<" || c === ">") && this.peek(1) !== "(") redirects.push(this.redirect())
      else if (c === "&" && this.peek(1) === ">") redirects.push(this.redirect())
      else if (this.descriptorPrefix()) redirects.push(this.redirect())
      else if (ENDS_WORD(c) || c === "#") break
      else throw new Unsupported("words after a group's closing bracket")
    }
    if (redirects.length > 0) this.out.push({ words: [], aliases: [], dynamic: false, openEnded: false, redirects })
  }

  /** `2>`, `10<`: consumes the descriptor number when a redirection follows it. */
  private descriptorPrefix(): boolean {
    let i = this.pos
    while (i < this.src.length && this.src[i]! >= "0" && this.src[i]! <= "9") i++
    if (i === this.pos) return false
    const c = this.src[i]
    if ((c === "<" || c === ">") && this.src[i + 1] !== "(") {
      this.pos = i
      return true
    }
    return false
  }

  private redirect(): Redirect {
    const ops = ["&>>", "&>", ">>", ">|", ">&", "<<<", "<<-", "<<", "<>", "<&", ">", "<"]
    const op = ops.find((candidate) => this.src.startsWith(candidate, this.pos))!
    this.pos += op.length
    this.blanks()
    const c = this.peek()
    if (c === undefined || c === "\n" || c === ";" || c === "&" || c === "|" || c === "(" || c === ")") {
      throw new Unsupported(`a "${op}" redirection without a target`)
    }
    if ((c === "<" || c === ">") && this.peek(1) !== "(") {
      throw new Unsupported(`a "${op}" redirection without a target`)
    }
    if (op === "<<" || op === "<<-") {
      const delimiter = this.word()
      if (delimiter.expanded) throw new Unsupported("a here-document delimiter with an expansion")
      this.heredocs.push({ delimiter: delimiter.value, strip: op === "<<-", expand: !/["'\\]/.test(delimiter.raw) })
      return { op, target: delimiter.value, kind: "text", dynamic: false }
    }
    const target = this.word()
    if (/^[<>]\(/.test(target.raw)) return { op, target: target.value, kind: "process", dynamic: true }
    if (op === "<<<") return { op, target: target.value, kind: "text", dynamic: isDynamic(target) }
    if ((op === ">&" || op === "<&") && !isDynamic(target) && /^([0-9]+-?|-)$/.test(target.value)) {
      return { op, target: target.value, kind: "dup", dynamic: false }
    }
    const kind = op === "<" || op === "<&" ? "read" : "write"
    return { op, target: target.value, kind, dynamic: isDynamic(target) || target.value === "" }
  }

  word(): Word {
    const start = this.pos
    let value = ""
    let expanded = false
    let unquoted = ""
    const tilde = this.peek() === "~"
    for (;;) {
      const c = this.peek()
      if (c === undefined || BLANK(c) || c === "\n" || c === ";" || c === "&" || c === "|" || c === ")") break
      if (c === "(") {
        throw new Unsupported("a \"(\" after a word (function definitions, arrays, extglob) is not modelled")
      }
      if (c === "<" || c === ">") {
        if (this.peek(1) !== "(") break
        if (this.pos !== start) throw new Unsupported("a process substitution inside a word is not modelled")
        this.pos += 2
        this.list(")")
        value += this.src.slice(start, this.pos)
        expanded = true
        continue
      }
      if (c === "\\") {
        const next = this.peek(1)
        if (next === "\n") {
          this.pos += 2
        } else if (next === undefined) {
          value += "\\"
          this.pos++
        } else {
          value += next
          this.pos += 2
        }
        continue
      }
      if (c === "'") {
        const end = this.src.indexOf("'", this.pos + 1)
        if (end < 0) throw new Unsupported("a single quote is never closed")
        value += this.src.slice(this.pos + 1, end)
        this.pos = end + 1
        continue
      }
      if (c === "\"") {
        const quoted = this.doubleQuoted()
        value += quoted.value
        expanded ||= quoted.expanded
        continue
      }
      if (c === "$") {
        const dollar = this.dollar(false)
        value += dollar.value
        expanded ||= dollar.expanded
        continue
      }
      if (c === "`") {
        value += this.backquoted(false)
        expanded = true
        continue
      }
      unquoted += c
      value += c
      this.pos++
    }
    const globbed = tilde || /[*?]|\[.*\]|\{.*(,|\.\.).*\}/.test(unquoted)
    return { value, raw: this.src.slice(start, this.pos), expanded, globbed }
  }

  private doubleQuoted(): { value: string; expanded: boolean } {
    this.pos++
    let value = ""
    let expanded = false
    for (;;) {
      const c = this.peek()
      if (c === undefined) throw new Unsupported("a double quote is never closed")
      if (c === "\"") {
        this.pos++
        return { value, expanded }
      }
      if (c === "\\") {
        const next = this.peek(1)
        if (next === "\n") {
          this.pos += 2
        } else if (next === "$" || next === "`" || next === "\"" || next === "\\") {
          value += next
          this.pos += 2
        } else {
          value += "\\"
          this.pos++
        }
        continue
      }
      if (c === "$") {
        const dollar = this.dollar(true)
        value += dollar.value
        expanded ||= dollar.expanded
        continue
      }
      if (c === "`") {
        value += this.backquoted(true)
        expanded = true
        continue
      }
      value += c
      this.pos++
    }
  }

  private dollar(quoted: boolean): { value: string; expanded: boolean } {
    const start = this.pos
    const next = this.peek(1)
    if (next === "(") {
      if (this.peek(2) === "(") throw new Unsupported("arithmetic expansion $(( … )) is not modelled")
      this.pos += 2
      this.list(")")
      return { value: this.src.slice(start, this.pos), expanded: true }
    }
    if (next === "{") {
      const end = this.src.indexOf("}", this.pos + 2)
      if (end < 0) throw new Unsupported("a \"${\" is never closed")
      const inner = this.src.slice(this.pos + 2, end)
      if (!SAFE_PARAMETER.test(inner)) throw new Unsupported(`the parameter expansion "\${${inner}}" is not modelled`)
      this.pos = end + 1
      return { value: this.src.slice(start, this.pos), expanded: true }
    }
    if (next === "[") throw new Unsupported("arithmetic expansion $[ … ] is not modelled")
    if (next === "'" && !quoted) return { value: this.ansiC(), expanded: false }
    if (next === "\"" && !quoted) {
      this.pos++
      return this.doubleQuoted()
    }
    if (next !== undefined && /[A-Za-z_]/.test(next)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos + 1))!
      this.pos += 1 + match[0].length
      return { value: this.src.slice(start, this.pos), expanded: true }
    }
    if (next !== undefined && /[0-9#?$!*@-]/.test(next)) {
      this.pos += 2
      return { value: this.src.slice(start, this.pos), expanded: true }
    }
    this.pos++
    return { value: "$", expanded: false }
  }

  /** `$'…'`: bash's ANSI-C quoting, decoded. */
  private ansiC(): string {
    this.pos += 2
    let value = ""
    for (;;) {
      const c = this.peek()
      if (c === undefined) throw new Unsupported("a $' quote is never closed")
      this.pos++
      if (c === "'") return value
      if (c !== "\\") {
        value += c
        continue
      }
      const e = this.peek()
      if (e === undefined) throw new Unsupported("a $' quote is never closed")
      this.pos++
      const simple: Record<string, string> = {
        a: "\x07",
        b: "\b",
        e: "\x1b",
        E: "\x1b",
        f: "\f",
        n: "\n",
        r: "\r",
        t: "\t",
        v: "\v",
        "\\": "\\",
        "'": "'",
        "\"": "\"",
        "?": "?"
      }
      if (e in simple) {
        value += simple[e]
      } else if (e === "x" || e === "u" || e === "U") {
        const max = e === "x" ? 2 : e === "u" ? 4 : 8
        const digits = /^[0-9a-fA-F]*/.exec(this.src.slice(this.pos, this.pos + max))![0]
        if (digits === "") {
          value += `\\${e}`
        } else {
          this.pos += digits.length
          const code = parseInt(digits, 16)
          if (code > 0x10ffff) throw new Unsupported("an out-of-range escape in a $' quote")
          value += String.fromCodePoint(code)
        }
      } else if (e >= "0" && e <= "7") {
        const digits = /^[0-7]{0,2}/.exec(this.src.slice(this.pos, this.pos + 2))![0]
        this.pos += digits.length
        value += String.fromCharCode(parseInt(e + digits, 8) & 0xff)
      } else if (e === "c") {
        const control = this.peek()
        if (control === undefined) throw new Unsupported("a $' quote is never closed")
        this.pos++
        value += String.fromCharCode(control.toUpperCase().charCodeAt(0) ^ 0x40)
      } else {
        value += `\\${e}`
      }
    }
  }

  private backquoted(quoted: boolean): string {
    const start = this.pos
    this.pos++
    let inner = ""
    for (;;) {
      const c = this.peek()
      if (c === undefined) throw new Unsupported("a backquote is never closed")
      if (c === "`") {
        this.pos++
        break
      }
      if (c === "\\") {
        const next = this.peek(1)
        if (next === "$" || next === "`" || next === "\\" || (quoted && next === "\"")) {
          inner += next
          this.pos += 2
          continue
        }
      }
      inner += c
      this.pos++
    }
    new Parser(inner, this.depth + 1, this.out).all()
    return this.src.slice(start, this.pos)
  }

  /** Reads the bodies of the here-documents started on the line just ended. */
  private hereDocuments(): void {
    const pending = this.heredocs
    this.heredocs = []
    for (const doc of pending) {
      const bodyStart = this.pos
      let bodyEnd = this.src.length
      while (this.pos < this.src.length) {
        const newline = this.src.indexOf("\n", this.pos)
        const lineEnd = newline < 0 ? this.src.length : newline
        const line = this.src.slice(this.pos, lineEnd)
        if ((doc.strip ? line.replace(/^\t+/, "") : line) === doc.delimiter) {
          bodyEnd = this.pos
          this.pos = Math.min(lineEnd + 1, this.src.length)
          break
        }
        this.pos = lineEnd + 1
      }
      this.pos = Math.min(this.pos, this.src.length)
      if (doc.expand) new Parser(this.src.slice(bodyStart, bodyEnd), this.depth + 1, this.out).hereDocumentBody()
    }
  }

  /** An unquoted here-document's body: text in which `$(…)`, backquotes and `${…}` still run. */
  hereDocumentBody(): void {
    while (this.pos < this.src.length) {
      const c = this.peek()
      if (c === "\\") this.pos += 2
      else if (c === "$") this.dollar(true)
      else if (c === "`") this.backquoted(false)
      else this.pos++
    }
  }

  private emit(words: ReadonlyArray<Word>, redirects: ReadonlyArray<Redirect>): void {
    let i = 0
    const risky: Array<string> = []
    while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*\+?=/.test(words[i]!.raw)) {
      const name = words[i]!.raw.slice(0, words[i]!.raw.indexOf("=")).replace(/\+$/, "")
      if (riskyVariable.test(name)) risky.push(name)
      i++
    }
    const commands = this.unwrap(words.slice(i), this.depth, false)
    if (risky.length > 0) {
      this.out.push({
        ...plain(words, false),
        aliases: [],
        dynamic: false,
        guard: `it sets ${risky.join(", ")}`
      })
    }
    const [first, ...rest] = commands
    if (first === undefined) {
      if (redirects.length > 0) this.out.push({ words: [], aliases: [], dynamic: false, openEnded: false, redirects })
      return
    }
    this.out.push({ ...first, redirects: [...first.redirects, ...redirects] }, ...rest)
  }

  /** The commands `words` runs, looking through wrappers. */
  private unwrap(words: ReadonlyArray<Word>, depth: number, openEnded: boolean): Array<SimpleCommand> {
    if (depth > MAX_DEPTH) throw new Unsupported(`commands nested more than ${MAX_DEPTH} deep`)
    const first = words[0]
    if (first === undefined) return []
    if (isDynamic(first)) return [plain(words, openEnded)]
    const name = basename(first.value).toLowerCase()
    const through = (from: number, ended = openEnded) => this.unwrap(words.slice(from), depth + 1, ended)
    switch (name) {
      case "env": {
        const envOptions: OptionSpec = {
          flags: "i0v",
          withArgument: "uC",
          long: ["ignore-environment", "null", "debug"],
          longWithArgument: ["unset", "chdir"]
        }
        let i = skipOptions("env", words, 1, envOptions)
        // A lone "-" is -i.
        while (words[i]?.value === "-" && !isDynamic(words[i]!)) i = skipOptions("env", words, i + 1, envOptions)
        const risky: Array<string> = []
        while (i < words.length && !isDynamic(words[i]!) && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!.value)) {
          const variable = words[i]!.value.slice(0, words[i]!.value.indexOf("="))
          if (riskyVariable.test(variable)) risky.push(variable)
          i++
        }
        if (i >= words.length) return [plain(words, openEnded)]
        const inner = through(i)
        // Another directory runs other code under the same command (`env -C /tmp/x npm test`).
        const chdir = words.slice(1, i).some((word) => /^-[^-]*C/.test(word.value) || word.value.startsWith("--chdir"))
        if (chdir) risky.push("the directory")
        return risky.length > 0
          ? [{ ...plain(words, openEnded), aliases: [], guard: `it sets ${risky.join(", ")}` }, ...inner]
          : inner
      }
      case "sudo":
      case "doas": {
        const i = name === "sudo"
          ? skipOptions("sudo", words, 1, {
            flags: "AbEHnPSk",
            withArgument: "ugCDhprtUT",
            long: ["preserve-env", "non-interactive", "background", "set-home", "askpass", "stdin", "reset-timestamp"],
            longWithArgument: ["user", "group", "close-from", "chdir", "host", "prompt", "role", "type", "other-user"]
          })
          : skipOptions("doas", words, 1, { flags: "nLs", withArgument: "uC" })
        return [{ ...plain(words, openEnded), guard: `it runs as another user (${name})` }, ...through(i)]
      }
      case "nohup":
      case "builtin":
        return words.length > 1 ? through(words[1]!.value === "--" ? 2 : 1) : [plain(words, openEnded)]
      case "exec":
        return through(skipOptions("exec", words, 1, { flags: "cl", withArgument: "a" }))
      case "command": {
        const option = words[1]?.value ?? ""
        if (/^-[pvV]*[vV]/.test(option)) return [plain(words, openEnded)]
        const i = skipOptions("command", words, 1, { flags: "p" })
        return i < words.length ? through(i) : [plain(words, openEnded)]
      }
      case "time": {
        const i = skipOptions("time", words, 1, {
          flags: "pvqa",
          long: ["portability", "verbose", "quiet", "append"]
        })
        return i < words.length ? through(i) : [plain(words, openEnded)]
      }
      case "nice": {
        const i = skipOptions("nice", words, 1, { withArgument: "n", longWithArgument: ["adjustment"], numeric: true })
        return i < words.length ? through(i) : [plain(words, openEnded)]
      }
      case "timeout": {
        const i = skipOptions("timeout", words, 1, {
          flags: "v",
          withArgument: "sk",
          long: ["preserve-status", "foreground", "verbose"],
          longWithArgument: ["signal", "kill-after"]
        })
        return i + 1 < words.length ? through(i + 1) : [plain(words, openEnded)]
      }
      case "stdbuf": {
        const i = skipOptions("stdbuf", words, 1, {
          withArgument: "ioe",
          longWithArgument: ["input", "output", "error"]
        })
        return i < words.length ? through(i) : [plain(words, openEnded)]
      }
      case "xargs": {
        const i = skipOptions("xargs", words, 1, {
          flags: "0prtx",
          withArgument: "IaELndsP",
          attachedArgument: "ile",
          long: ["null", "no-run-if-empty", "verbose", "interactive", "exit", "open-tty", "show-limits"],
          longWithArgument: [
            "arg-file",
            "delimiter",
            "max-lines",
            "max-args",
            "max-chars",
            "max-procs",
            "process-slot-var"
          ],
          longOptionalArgument: ["replace", "eof"]
        })
        if (i >= words.length) {
          return [{ words: ["echo"], aliases: [], dynamic: false, openEnded: true, redirects: [] }]
        }
        return through(i, true)
      }
      case "find": {
        const commands: Array<SimpleCommand> = [plain(words, openEnded)]
        for (let i = 1; i < words.length; i++) {
          if (!["-exec", "-execdir", "-ok", "-okdir"].includes(words[i]!.value)) continue
          const end = words.findIndex((word, j) =>
            j > i && !isDynamic(word) && (word.value === ";" || word.value === "+")
          )
          if (end < 0) throw new Unsupported(`find ${words[i]!.value} without a closing ";" or "+"`)
          commands.push(...this.unwrap(words.slice(i + 1, end), depth + 1, true))
          i = end
        }
        return commands
      }
      case "eval": {
        const args = words.slice(1)
        if (args.some(isDynamic)) throw new Unsupported("eval of a computed string")
        return this.script(args.map((word) => word.value).join(" "), depth, openEnded)
      }
    }
    if (SHELLS.has(name)) {
      let i = 1
      let script = false
      while (i < words.length) {
        const word = words[i]!
        if (isDynamic(word)) throw new Unsupported(`a computed ${name} option`)
        const value = word.value
        if (value === "--" || value === "-") {
          i++
          break
        }
        if (value.startsWith("--")) {
          i += value === "--rcfile" || value === "--init-file" ? 2 : 1
          continue
        }
        if (!/^[-+]./.test(value)) break
        for (const c of value.slice(1)) {
          if (c === "c") script = true
          if (c === "o" || c === "O") i++
        }
        i++
      }
      if (!script) return [plain(words, openEnded)]
      const body = words[i]
      if (body === undefined) throw new Unsupported(`${name} -c without a command`)
      if (isDynamic(body)) throw new Unsupported(`${name} -c with a computed command`)
      return this.script(body.value, depth, openEnded)
    }
    return [plain(words, openEnded)]
  }

  private script(text: string, depth: number, openEnded: boolean): Array<SimpleCommand> {
    const commands: Array<SimpleCommand> = []
    new Parser(text, depth + 1, commands).all()
    return openEnded ? commands.map((command) => ({ ...command, openEnded: true })) : commands
  }
}

/** The simple commands `command` would run, or why it cannot tell. */
export const parse = (command: string): Parsed => {
  const commands: Array<SimpleCommand> = []
  try {
    new Parser(command, 0, commands).all()
  } catch (error) {
    if (error instanceof Unsupported) return { _tag: "Unparsed", reason: error.reason }
    return { _tag: "Unparsed", reason: `the command could not be read (${String(error)})` }
  }
  return { _tag: "Parsed", commands }
}

/**
 * The words of a Bash rule's specifier (`npm run "build"` → `npm`, `run`, `build`): one simple
 * command of literal words, without operators, redirections or expansions.
 */
export const ruleWords = (
  text: string
): { readonly _tag: "Words"; readonly words: ReadonlyArray<string> } | {
  readonly _tag: "Invalid"
  readonly reason: string
} => {
  const parser = new Parser(text, 0, [])
  const words: Array<string> = []
  let pos = 0
  try {
    for (;;) {
      while (BLANK(text[pos])) pos++
      if (pos >= text.length) break
      const c = text[pos]!
      if (";&|<>()\n#".includes(c)) {
        return { _tag: "Invalid", reason: `"${c}" is not allowed: a Bash rule matches one simple command` }
      }
      parser.pos = pos
      const word = parser.word()
      pos = parser.pos
      if (word.expanded) {
        return { _tag: "Invalid", reason: `"${word.raw}" is an expansion; a rule matches literal words` }
      }
      if (/(^|[^\\])\*/.test(word.raw.replace(/'[^']*'|"[^"]*"/g, ""))) {
        return {
          _tag: "Invalid",
          reason:
            "\"*\" is only supported as a trailing \":*\" (\"npm test:*\" matches every command starting with npm test)"
        }
      }
      words.push(word.value)
    }
  } catch (error) {
    return { _tag: "Invalid", reason: error instanceof Unsupported ? error.reason : String(error) }
  }
  if (words.length === 0) return { _tag: "Invalid", reason: "no command" }
  return { _tag: "Words", words }
}

/** A command's words as one line a person can read (and paste back into a shell). */
export const display = (words: ReadonlyArray<string>): string =>
  words.map((word) => /^[A-Za-z0-9_@%+=:,./~-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`).join(" ")
