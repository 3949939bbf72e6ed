/**
 * Whether a tool call may run: allow, deny, or ask the user.
 *
 * `evaluate` is the decision, pure and total, so a replay can run it again offline on what was
 * recorded. Its order is fixed:
 *
 * 1. deny rules, from any layer — one matching rule denies (a compound command: any denied part
 *    denies the whole);
 * 2. plan mode: a write, a command or a non-read-only tool is denied;
 * 3. ask rules (not in bypassPermissions);
 * 4. allow rules, with the session's grants (`PermissionAnswered` allow_session, layer `session`);
 * 5. the mode's default:
 *    - `default`: reads inside the project (or an additional directory) are allowed; writes,
 *      commands and tools that are not read-only ask;
 *    - `acceptEdits`: writes inside the project are allowed too, except under `.weft/` (its
 *      settings grant permissions) and `.git/` (hooks and config run code); commands ask;
 *    - `plan`: read-only (see 2);
 *    - `bypassPermissions`: everything is allowed (outside the project too).
 *    In every mode but bypassPermissions a path outside the project and the additional
 *    directories is denied unless a rule allows it (reads included).
 *
 * A command is split into its simple commands (`BashCommand.parse`); every one must be allowed.
 * A command weft cannot read, a program or a redirection target computed at run time (`$CMD`,
 * `> $OUT`) ask in every mode (plan: deny) — `evaluate` never allows what it cannot check. A
 * redirection to or from a file (other than `/dev/null` & co.) asks too, except in
 * bypassPermissions: `evaluate` cannot follow the symlinks on its path. Deny rules still apply
 * to it (`> .git/config` is denied by `Edit(.git/**)`).
 *
 * `resolve` is the effectful part: it makes the request's path absolute as the file tools do
 * (`path.resolve(cwd, path)`, plus `~/` for the user's home) and follows every symlink on the
 * way, so a link inside the project that points outside counts as outside. The result is the
 * decision's `subject`, recorded in `PermissionDecided.subject`.
 */
import { FileSystem } from "@effect/platform"
import { Context, Effect, Either, Layer, Option } from "effect"
import * as BashCommand from "./BashCommand.js"
import { PermissionDecided } from "./Events.js"
import type { Rule, RuleEntry } from "./PermissionRule.js"
import * as PermissionRule from "./PermissionRule.js"
import type { PermissionMode, ResolvedSettings } from "./Settings.js"
import type { PermissionRequest } from "./Tool.js"

export interface Decision {
  readonly behavior: "allow" | "deny" | "ask"
  /**
   * The rule that decided, as written; for a command allowed part by part, every rule that
   * allowed a part, comma-separated (`Bash(npm test:*), Bash(git status)`). Null when the
   * mode decided.
   */
  readonly rule: string | null
  /** The layer of the rule (comma-separated when several), or the mode when no rule decided. */
  readonly layer: string | null
  /** One line, for people. */
  readonly reason: string
  /** What was matched: the resolved path, the command, or the specifier. */
  readonly subject: string
  /**
   * For `ask`: rules that would allow the call, as they would be written in settings (empty when
   * no rule could — an ask rule decided, or weft cannot read the command).
   */
  readonly suggestions: ReadonlyArray<string>
}

export interface Locations {
  /** The project root (absolute). */
  readonly root: string
  /** The user's home (absolute), for `~/` in rules and paths. */
  readonly home: string
  /** More directories whose files count as inside the project. */
  readonly additionalDirectories: ReadonlyArray<string>
}

export interface Input extends Locations {
  readonly request: PermissionRequest
  /** From `resolve`: the resolved path (a Path request), the command, or the specifier. */
  readonly subject: string
  /** Every rule, with the session's grants. */
  readonly rules: ReadonlyArray<RuleEntry>
  readonly mode: PermissionMode
  /** For a subagent: the rules of its type and of every type above it, each with the session's grants. */
  readonly restrictions?: ReadonlyArray<Restriction>
}

/** An agent type's rules, which a subagent's calls must satisfy too. */
export interface Restriction {
  /** The agent type. */
  readonly name: string
  /** The layer its decisions are reported under (`agent:explore`). */
  readonly layer: string
  readonly rules: ReadonlyArray<RuleEntry>
}

/** Tools whose calls ask by default even when read-only: what they send leaves the machine. */
export const networkTools: ReadonlySet<string> = new Set(["WebFetch", "WebSearch"])

/** Directories under the root that acceptEdits does not write without asking. */
export const protectedDirectories: ReadonlyArray<string> = [".weft", ".git"]

const fromRule = (
  behavior: Decision["behavior"],
  entry: RuleEntry,
  reason: string,
  subject: string
): Decision => ({ behavior, rule: entry.rule.text, layer: entry.layer, reason, subject, suggestions: [] })

const fromMode = (
  behavior: Decision["behavior"],
  mode: PermissionMode,
  reason: string,
  subject: string,
  suggestions: ReadonlyArray<string> = []
): Decision => ({ behavior, rule: null, layer: mode, reason, subject, suggestions })

const named = (entry: RuleEntry) => `${entry.rule.text} (${entry.layer})`

const expandHome = (path: string, home: string) => path === "~" || path.startsWith("~/") ? home + path.slice(1) : path

/** The rule that would allow `tool` on `path`, anchored as precisely as the path allows. */
const pathSuggestion = (tool: string, path: string, locations: Locations): string => {
  const { home, root } = locations
  if (PermissionRule.isWithin(path, root) && root !== "/") {
    return `${tool}(/${PermissionRule.escapeGlob(path.slice(root.length + 1))})`
  }
  if (PermissionRule.isWithin(path, home) && home !== "/") {
    return `${tool}(~/${PermissionRule.escapeGlob(path.slice(home.length + 1))})`
  }
  return `${tool}(/${PermissionRule.escapeGlob(path)})`
}

const isInside = (path: string, locations: Locations) =>
  PermissionRule.isWithin(path, locations.root) ||
  locations.additionalDirectories.some((dir) => PermissionRule.isWithin(path, PermissionRule.normalize(dir)))

const coversPath = (
  rule: Rule,
  tool: string,
  write: boolean,
  path: string,
  locations: Locations,
  loose: boolean
): boolean =>
  (rule._tag === "Tool" || rule._tag === "Path") &&
  PermissionRule.coversPathTool(rule.tool, tool, write, loose) &&
  (rule._tag === "Tool" || PermissionRule.matchesPath(rule.pattern, path, locations, loose))

const evaluatePath = (
  input: Input,
  request: Extract<PermissionRequest, { _tag: "Path" }>
): Decision => {
  const { mode, rules } = input
  const write = request.access === "write" || PermissionRule.editFamily.has(request.tool)
  const path = PermissionRule.absolute(input.subject, input.root)
  const verb = write ? "writing" : "reading"
  if (path.includes("\0")) return fromMode("deny", mode, `${verb} a path with a NUL byte is refused`, path)
  const covers = (entry: RuleEntry, loose: boolean) => coversPath(entry.rule, request.tool, write, path, input, loose)

  const denied = rules.find((entry) => entry.behavior === "deny" && covers(entry, true))
  if (denied) return fromRule("deny", denied, `${verb} ${path} is denied by ${named(denied)}`, path)
  if (mode === "plan" && write) return fromMode("deny", mode, `plan mode is read-only: ${path} cannot be written`, path)
  if (mode !== "bypassPermissions") {
    const asked = rules.find((entry) => entry.behavior === "ask" && covers(entry, true))
    if (asked) return fromRule("ask", asked, `${verb} ${path} needs approval: ${named(asked)}`, path)
  }
  const allowed = rules.find((entry) => entry.behavior === "allow" && covers(entry, false))
  if (allowed) return fromRule("allow", allowed, `${verb} ${path} is allowed by ${named(allowed)}`, path)

  const suggestion = pathSuggestion(write ? "Edit" : "Read", path, input)
  if (mode === "bypassPermissions") return fromMode("allow", mode, "bypassPermissions allows what no rule denies", path)
  if (!isInside(path, input)) {
    return fromMode(
      "deny",
      mode,
      `${path} is outside the project (${input.root}); ${verb} it needs a rule such as ${suggestion}`,
      path,
      [suggestion]
    )
  }
  if (!write) return fromMode("allow", mode, "reads inside the project are allowed", path)
  const guarded = protectedDirectories.find((dir) => PermissionRule.isWithin(path, `${input.root}/${dir}`))
  if (mode === "acceptEdits" && guarded === undefined) {
    return fromMode("allow", mode, "acceptEdits allows writes inside the project", path)
  }
  return fromMode(
    "ask",
    mode,
    guarded !== undefined && mode === "acceptEdits"
      ? `writing ${path} needs approval: files under ${guarded}/ change what weft or git may run`
      : `writing ${path} needs approval`,
    path,
    [suggestion]
  )
}

const harmlessTarget = (target: string) => BashCommand.harmlessTargets.has(target) || /^\/dev\/fd\/[0-9]+$/.test(target)

/** A redirection's file as an absolute path, when it can be known without running anything. */
const redirectPath = (redirect: BashCommand.Redirect, locations: Locations): string | undefined => {
  if (redirect.kind !== "read" && redirect.kind !== "write") return undefined
  if (redirect.target === "~" || redirect.target.startsWith("~/")) {
    return PermissionRule.absolute(expandHome(redirect.target, locations.home), locations.root)
  }
  if (redirect.dynamic) return undefined
  return PermissionRule.absolute(redirect.target, locations.root)
}

type Verdict =
  | { readonly _tag: "Allow"; readonly entry: RuleEntry | null; readonly text: string }
  | {
    readonly _tag: "Ask"
    readonly entry: RuleEntry | null
    readonly reason: string
    readonly suggestion: string | null
  }

/** The rule that would allow one simple command: its program and subcommand as a prefix (`Bash(npm test:*)`). */
const commandSuggestion = (command: BashCommand.SimpleCommand): string | null => {
  if (command.dynamic || command.words.length === 0) return null
  if (command.guard !== undefined) return `Bash(${BashCommand.display(command.words)})`
  const [program, sub] = command.words
  const prefix = sub !== undefined && /^[A-Za-z][A-Za-z0-9_-]*$/.test(sub) && !program!.includes("/")
    ? [program!, sub]
    : [program!]
  return `Bash(${BashCommand.display(prefix)}:*)`
}

const evaluateCommand = (input: Input, command: string): Decision => {
  const { mode, rules } = input
  const denies = rules.filter((entry) => entry.behavior === "deny")
  const everything = denies.find((entry) => entry.rule._tag === "Tool" && entry.rule.tool === "Bash")
  if (everything) return fromRule("deny", everything, `every command is denied by ${named(everything)}`, command)

  const parsed = BashCommand.parse(command)
  if (parsed._tag === "Unparsed") {
    if (mode === "plan") return fromMode("deny", mode, "plan mode is read-only: commands do not run", command)
    return fromMode("ask", mode, `weft cannot check this command (${parsed.reason}); it needs approval`, command)
  }
  const commands = parsed.commands

  for (const part of commands) {
    const shown = BashCommand.display(part.words)
    const denied = denies.find((entry) => PermissionRule.matchesCommand(entry.rule, part, true))
    if (denied) return fromRule("deny", denied, `"${shown}" is denied by ${named(denied)}`, command)
    for (const redirect of part.redirects) {
      const path = redirectPath(redirect, input)
      if (path === undefined) continue
      const write = redirect.kind === "write"
      const tool = write ? "Edit" : "Read"
      const hit = denies.find((entry) => coversPath(entry.rule, tool, write, path, input, true))
      if (hit) {
        return fromRule(
          "deny",
          hit,
          `${write ? "writing" : "reading"} ${path} by redirection is denied by ${named(hit)}`,
          command
        )
      }
    }
  }
  if (mode === "plan") return fromMode("deny", mode, "plan mode is read-only: commands do not run", command)
  if (commands.length === 0) return fromMode("ask", mode, "the command runs nothing weft can check", command)

  const bypass = mode === "bypassPermissions"
  const asks = bypass ? [] : rules.filter((entry) => entry.behavior === "ask")
  const allows = rules.filter((entry) => entry.behavior === "allow")

  const verdict = (part: BashCommand.SimpleCommand): Verdict => {
    const shown = BashCommand.display(part.words)
    const asked = asks.find((entry) => PermissionRule.matchesCommand(entry.rule, part, true))
    if (asked) {
      return { _tag: "Ask", entry: asked, reason: `"${shown}" needs approval: ${named(asked)}`, suggestion: null }
    }
    for (const redirect of part.redirects) {
      if (redirect.kind !== "read" && redirect.kind !== "write") continue
      if (!redirect.dynamic && harmlessTarget(redirect.target)) continue
      if (redirect.dynamic) {
        return {
          _tag: "Ask",
          entry: null,
          reason: `"${redirect.op} ${redirect.target}" redirects to a path computed at run time`,
          suggestion: null
        }
      }
      if (bypass) continue
      const path = redirectPath(redirect, input)!
      return {
        _tag: "Ask",
        entry: null,
        reason: `${redirect.kind === "write" ? "writes" : "reads"} ${path} by redirection`,
        suggestion: null
      }
    }
    if (part.words.length === 0) return { _tag: "Allow", entry: null, text: "" }
    if (part.dynamic) {
      return { _tag: "Ask", entry: null, reason: `"${shown}" runs a program named at run time`, suggestion: null }
    }
    const allowed = allows.find((entry) => PermissionRule.matchesCommand(entry.rule, part, false))
    if (allowed) return { _tag: "Allow", entry: allowed, text: shown }
    if (bypass) return { _tag: "Allow", entry: null, text: shown }
    return {
      _tag: "Ask",
      entry: null,
      reason: part.guard === undefined
        ? `"${shown}" is not allowed by any rule`
        : `"${shown}" is not allowed by any rule (${part.guard})`,
      suggestion: commandSuggestion(part)
    }
  }

  const verdicts = commands.map(verdict)
  const asking = verdicts.filter((v): v is Extract<Verdict, { _tag: "Ask" }> => v._tag === "Ask")
  if (asking.length > 0) {
    const first = asking[0]!
    const fixable = asking.every((v) => v.suggestion !== null)
    const suggestions = fixable ? [...new Set(asking.map((v) => v.suggestion!))] : []
    const reason = asking.map((v) => v.reason).join("; ")
    return first.entry === null
      ? fromMode("ask", mode, reason, command, suggestions)
      : { ...fromRule("ask", first.entry, reason, command), suggestions }
  }
  const allowed = verdicts as ReadonlyArray<Extract<Verdict, { _tag: "Allow" }>>
  const byRule = allowed.filter((v) => v.entry !== null)
  const entries = [...new Map(byRule.map((v) => [`${v.entry!.rule.text}\u0000${v.entry!.layer}`, v.entry!])).values()]
  if (entries.length === 0) {
    return fromMode(
      "allow",
      mode,
      bypass ? "bypassPermissions allows what no rule denies" : "the command runs no program",
      command
    )
  }
  const layers = [
    ...new Set([...entries.map((entry) => entry.layer), ...(byRule.length < allowed.length ? [mode] : [])])
  ]
  return {
    behavior: "allow",
    rule: [...new Set(entries.map((entry) => entry.rule.text))].join(", "),
    layer: layers.join(", "),
    reason: entries.length === 1 && byRule.length === allowed.length
      ? `allowed by ${named(entries[0]!)}`
      : `every part is allowed: ${
        allowed.filter((v) => v.text !== "").map((v) => `"${v.text}" by ${v.entry === null ? mode : named(v.entry)}`)
          .join("; ")
      }`,
    subject: command,
    suggestions: []
  }
}

const evaluateOther = (
  input: Input,
  request: Extract<PermissionRequest, { _tag: "Other" }>
): Decision => {
  const { mode, rules } = input
  const subject = request.specifier
  const call = subject === "" ? request.tool : `${request.tool}(${subject})`
  const matches = (entry: RuleEntry, loose: boolean) =>
    entry.rule.tool === request.tool &&
    (entry.rule._tag === "Tool" ||
      (entry.rule._tag === "Specifier" &&
        (loose ? entry.rule.specifier.toLowerCase() === subject.toLowerCase() : entry.rule.specifier === subject)))

  const denied = rules.find((entry) => entry.behavior === "deny" && matches(entry, true))
  if (denied) return fromRule("deny", denied, `${call} is denied by ${named(denied)}`, subject)
  if (mode === "plan" && !request.readOnly) {
    return fromMode("deny", mode, `plan mode is read-only: ${call} is not`, subject)
  }
  if (mode !== "bypassPermissions") {
    const asked = rules.find((entry) => entry.behavior === "ask" && matches(entry, true))
    if (asked) return fromRule("ask", asked, `${call} needs approval: ${named(asked)}`, subject)
  }
  const allowed = rules.find((entry) => entry.behavior === "allow" && matches(entry, false))
  if (allowed) return fromRule("allow", allowed, `${call} is allowed by ${named(allowed)}`, subject)
  if (mode === "bypassPermissions") {
    return fromMode("allow", mode, "bypassPermissions allows what no rule denies", subject)
  }
  if (request.readOnly && !networkTools.has(request.tool)) {
    return fromMode("allow", mode, `${call} is read-only`, subject)
  }
  return fromMode("ask", mode, `${call} needs approval`, subject, [call])
}

const evaluateRules = (input: Input): Decision => {
  const request = input.request
  switch (request._tag) {
    case "Path":
      return evaluatePath(input, request)
    case "Command":
      return evaluateCommand(input, input.subject)
    case "Other":
      return evaluateOther(input, request)
  }
}

const strictness: Record<Decision["behavior"], number> = { deny: 0, ask: 1, allow: 2 }

/**
 * The decision for a request, given what `resolve` observed. Pure and total.
 *
 * With `restrictions` (a subagent's types, outermost first), the request is decided by the
 * rules and by each restriction alike, in the same mode, and the strictest answer wins: a deny
 * from any of them denies, and an allow needs all of them. So a subagent is never allowed what
 * its parent is not.
 */
export const evaluate = (input: Input): Decision =>
  (input.restrictions ?? []).reduce<Decision>((decision, restriction) => {
    if (decision.behavior === "deny") return decision
    const theirs = evaluateRules({ ...input, rules: restriction.rules })
    const difference = strictness[theirs.behavior] - strictness[decision.behavior]
    if (difference > 0) return decision
    if (difference === 0) {
      return theirs.behavior === "ask"
        ? { ...decision, suggestions: [...new Set([...decision.suggestions, ...theirs.suggestions])] }
        : decision
    }
    return {
      ...theirs,
      layer: theirs.rule === null ? `${restriction.layer} (${theirs.layer})` : theirs.layer,
      reason: `the ${restriction.name} agent type: ${theirs.reason}`
    }
  }, evaluateRules(input))

// ---------------------------------------------------------------------------------------------
// Resolving paths

/**
 * The real path of `path` (absolute): every symlink on the way is followed, dangling ones too
 * (a write through a dangling link creates its target); what does not exist is kept as written.
 */
export const realPath = (path: string): Effect.Effect<string, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    let pending = path.split("/").filter((segment) => segment !== "" && segment !== ".")
    let current = "/"
    let links = 0
    while (pending.length > 0) {
      const head = pending[0]!
      pending = pending.slice(1)
      if (head === "..") {
        current = current.slice(0, current.lastIndexOf("/")) || "/"
        continue
      }
      const candidate = current === "/" ? `/${head}` : `${current}/${head}`
      // The OS gives up after 40 links (ELOOP); so does this, and the tool's call will fail.
      const target = links >= 40 ? Option.none() : yield* Effect.option(fs.readLink(candidate))
      if (Option.isNone(target)) {
        current = candidate
        continue
      }
      links++
      if (target.value.startsWith("/")) current = "/"
      pending = [...target.value.split("/").filter((segment) => segment !== "" && segment !== "."), ...pending]
    }
    return current
  })

/**
 * Resolves what `evaluate` needs: the request's subject (a path made absolute against the root,
 * `~/` expanded, symlinks followed) and the locations' real paths.
 */
export const resolve = (
  request: PermissionRequest,
  locations: Locations
): Effect.Effect<{ readonly subject: string; readonly locations: Locations }, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const lexical = (path: string) => PermissionRule.absolute(expandHome(path, locations.home), locations.root)
    const root = yield* realPath(PermissionRule.normalize(locations.root))
    const home = yield* realPath(PermissionRule.normalize(locations.home))
    const additionalDirectories = yield* Effect.forEach(
      locations.additionalDirectories,
      (dir) => realPath(lexical(dir))
    )
    const subject = request._tag === "Path"
      ? yield* realPath(lexical(request.path))
      : request._tag === "Command"
      ? request.command
      : request.specifier
    return { subject, locations: { root, home, additionalDirectories } }
  })

// ---------------------------------------------------------------------------------------------
// The port

export interface CheckOptions {
  /** The project root: relative paths resolve against it, commands run in it. */
  readonly cwd: string
  /** Rules granted for the rest of the session (answers `allow_session`): allow rules, layer `session`. */
  readonly sessionRules?: ReadonlyArray<Rule>
  /** The mode now, when the user changed it during the session; the settings' otherwise. */
  readonly mode?: PermissionMode
  /** For a subagent: its types' rules (the session's grants are added to each). */
  readonly restrictions?: ReadonlyArray<Restriction>
}

export interface Service {
  readonly check: (request: PermissionRequest, options: CheckOptions) => Effect.Effect<Decision>
  /** The rules and mode it decides by: the loop records them in `SessionStarted` so replay decides alike. */
  readonly settings: PolicySettings
  /** The user's home it expands `~/` to. */
  readonly home: string
  /**
   * Whether the file at `path` (absolute, as a directory walk found it) may be read without
   * asking: what tools that read many files use to skip the rest.
   */
  readonly readable: (path: string, options: CheckOptions) => boolean
}

export class PermissionPolicy extends Context.Tag("@weft/kernel/PermissionPolicy")<PermissionPolicy, Service>() {}

/** The settings the policy reads. */
export type PolicySettings = Pick<ResolvedSettings, "rules" | "mode" | "additionalDirectories">

/** The rules to decide by: the settings', the session's grants, and a subagent's restrictions with the grants too. */
const rulesFor = (settings: PolicySettings, check: CheckOptions) => {
  const session = (check.sessionRules ?? []).map((rule): RuleEntry => ({ behavior: "allow", rule, layer: "session" }))
  return {
    rules: [...settings.rules, ...session],
    mode: check.mode ?? settings.mode,
    ...(check.restrictions === undefined || check.restrictions.length === 0 ? {} : {
      restrictions: check.restrictions.map((restriction) => ({
        ...restriction,
        rules: [...restriction.rules, ...session]
      }))
    })
  }
}

export const make = (
  settings: PolicySettings,
  options: { readonly home: string }
): Effect.Effect<Service, never, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const check = Effect.fn("PermissionPolicy.check")(function*(request: PermissionRequest, check: CheckOptions) {
      const resolved = yield* resolve(request, {
        root: check.cwd,
        home: options.home,
        additionalDirectories: settings.additionalDirectories
      }).pipe(Effect.provideService(FileSystem.FileSystem, fs))
      return evaluate({ request, subject: resolved.subject, ...rulesFor(settings, check), ...resolved.locations })
    })
    const readable = (path: string, check: CheckOptions) =>
      evaluate({
        request: { _tag: "Path", tool: "Read", path, access: "read" },
        subject: path,
        ...rulesFor(settings, check),
        root: check.cwd,
        home: options.home,
        additionalDirectories: settings.additionalDirectories.map((dir) =>
          PermissionRule.absolute(expandHome(dir, options.home), check.cwd)
        )
      }).behavior === "allow"
    return PermissionPolicy.of({ check, settings, home: options.home, readable })
  })

export const layer = (
  settings: PolicySettings,
  options: { readonly home: string }
): Layer.Layer<PermissionPolicy, never, FileSystem.FileSystem> =>
  Layer.effect(PermissionPolicy, make(settings, options))

// ---------------------------------------------------------------------------------------------
// Helpers for the loop and the prompt

/** The decision as the event that records it. */
export const toEvent = (decision: Decision, call: { readonly toolUseId: string; readonly tool: string }) =>
  new PermissionDecided({
    toolUseId: call.toolUseId,
    tool: call.tool,
    behavior: decision.behavior,
    rule: decision.rule,
    layer: decision.layer,
    reason: decision.reason,
    subject: decision.subject
  })

/**
 * A subagent's restrictions from its types' rules as text (`AgentState`'s `config.restrictions`),
 * each reported under the layer `agent:<type>`. A rule that does not parse is left out (settings
 * refuse such rules before a session starts).
 */
export const restrictionsOf = (
  types: ReadonlyArray<{
    readonly name: string
    readonly rules: ReadonlyArray<{ readonly behavior: RuleEntry["behavior"]; readonly rule: string }>
  }>
): ReadonlyArray<Restriction> =>
  types.map((type) => {
    const layer = `agent:${type.name}`
    return {
      name: type.name,
      layer,
      rules: type.rules.flatMap(({ behavior, rule }) =>
        Either.match(PermissionRule.parse(rule), {
          onLeft: () => [],
          onRight: (parsed): ReadonlyArray<RuleEntry> => [{ behavior, rule: parsed, layer }]
        })
      )
    }
  })

/** The rules an `allow_session` answer grants: the decision's suggestions. */
export const grants = (decision: Decision): ReadonlyArray<Rule> =>
  decision.suggestions.flatMap((text) => {
    const rule = PermissionRule.parse(text)
    return Either.isRight(rule) ? [rule.right] : []
  })
