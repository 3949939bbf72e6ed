/**
 * Settings, as Claude Code lays them out: one JSON object per layer, merged in precedence order
 * `user` < `user-local` < `project` < `project-local` < `flags`.
 *
 * ```json
 * { "permissions": { "allow": ["Bash(npm test:*)"], "ask": [], "deny": ["Read(.env)"],
 *                    "defaultMode": "default", "additionalDirectories": ["../shared"] },
 *   "model": "claude-sonnet-4-5", "maxDepth": 3, "budgetTokens": 200000,
 *   "env": { "FOO": "1" }, "agents": {}, "memory": {} }
 * ```
 *
 * - `decodeLayer` checks one layer: an unknown key is a warning (kept, returned as data — a
 *   newer weft's key does not break this one); a bad value, or a permission rule that does not
 *   parse, is a `SettingsError` naming the file and the key.
 * - `merge` combines layers: a scalar comes from the highest layer that sets it; `env` merges
 *   per variable and `agents` per agent type; `permissions.allow` / `ask` / `deny` and `additionalDirectories` are
 *   concatenated, each rule keeping its layer (deny from any layer wins when evaluating).
 *
 * Pure: reading the files is `@weft/store`'s `SettingsFiles`.
 */
import { Either, ParseResult, Schema } from "effect"
import type * as AgentTypes from "./AgentTypes.js"
import type { SettingSource } from "./Events.js"
import type { Json, JsonObject } from "./Json.js"
import { Json as JsonSchema } from "./Json.js"
import type { RuleEntry } from "./PermissionRule.js"
import * as PermissionRule from "./PermissionRule.js"
import * as Pricing from "./Pricing.js"

export type SettingLayer = SettingSource["layer"]

/** The layers, lowest precedence first. */
export const layers: ReadonlyArray<SettingLayer> = ["user", "user-local", "project", "project-local", "flags"]

export const PermissionMode = Schema.Literal("default", "acceptEdits", "plan", "bypassPermissions").annotations({
  message: () => ({
    message: "expected one of \"default\", \"acceptEdits\", \"plan\", \"bypassPermissions\"",
    override: true
  })
})
export type PermissionMode = typeof PermissionMode.Type

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

const Strings = Schema.Array(
  Schema.String.annotations({ message: () => ({ message: "expected a string", override: true }) })
).annotations({
  message: () => "expected an array of strings"
})
const Count = Schema.Int.pipe(Schema.nonNegative()).annotations({
  message: () => ({ message: "expected an integer ≥ 0", override: true })
})
const Text = Schema.String.annotations({ message: () => ({ message: "expected a string", override: true }) })
const JsonValue = JsonSchema.annotations({ message: () => ({ message: "expected a JSON value", override: true }) })
const Env = Schema.Record({ key: Schema.String, value: Text }).annotations({
  message: () => "expected an object of strings"
})

export const Permissions = Schema.Struct({
  allow: optional(Strings),
  ask: optional(Strings),
  deny: optional(Strings),
  defaultMode: optional(PermissionMode),
  additionalDirectories: optional(Strings)
})

/**
 * An agent type for the task tool, by name (`"agents": { "reviewer": { … } }`). Only `prompt`
 * is required: the description defaults to the prompt's first line, the tools to every
 * built-in one, the rules to none (so its calls ask as in the default mode: reads in the
 * project run, writes and commands ask), the turns to 30.
 */
export const AgentSettings = Schema.Struct({
  description: optional(Text),
  prompt: Text,
  tools: optional(Strings),
  rules: optional(Schema.Struct({ allow: optional(Strings), ask: optional(Strings), deny: optional(Strings) })),
  model: optional(Text),
  maxTurns: optional(
    Schema.Int.pipe(Schema.positive()).annotations({
      message: () => ({ message: "expected an integer ≥ 1", override: true })
    })
  )
})
export type AgentSettings = typeof AgentSettings.Type

const ThinkingBudget = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1024)).annotations({
  message: () => ({ message: "expected an integer ≥ 1024 (the API's least thinking budget)", override: true })
})
const Weight = Pricing.Amount.annotations({ message: () => ({ message: "expected a number ≥ 0", override: true }) })
const Prices = Pricing.PriceTable.annotations({
  message: () => "expected { \"<model>\": { input, output, cacheWrite, cacheRead } } in dollars per million tokens"
})

const Agents = Schema.Record({ key: Schema.String, value: AgentSettings }).annotations({
  message: () => "expected an object of agent types by name"
})

/** The tools a settings agent type gets when it does not list them. */
export const defaultAgentTools: ReadonlyArray<string> = ["read", "glob", "grep", "write", "edit", "bash", "task"]

/** An agent type from its settings entry. */
export const agentType = (name: string, entry: AgentSettings): AgentTypes.AgentType => ({
  name,
  description: entry.description ?? (entry.prompt.split("\n")[0] ?? "").slice(0, 120),
  prompt: entry.prompt,
  tools: entry.tools ?? defaultAgentTools,
  maxTurns: entry.maxTurns ?? 30,
  rules: (["deny", "ask", "allow"] as const).flatMap((behavior) =>
    (entry.rules?.[behavior] ?? []).map((rule) => ({ behavior, rule }))
  ),
  ...(entry.model === undefined ? {} : { model: entry.model })
})

/** A settings file. Keys it does not list are kept and warned about, not refused. */
export const SettingsFile = Schema.Struct({
  permissions: optional(Permissions),
  model: optional(Text),
  maxDepth: optional(Count),
  budgetTokens: optional(Count),
  env: optional(Env),
  /** What a cache-read token counts for against `budgetTokens` (default 1). */
  cacheReadWeight: optional(Weight),
  /** A budget in dollars instead of tokens, through the price table (takes the place of `budgetTokens`). */
  budgetUsd: optional(Weight),
  /** Extended thinking: the tokens each model request may think with (at least 1024; absent: no thinking). */
  thinkingBudgetTokens: optional(ThinkingBudget),
  /** Dollars per million tokens by model id prefix, over `Pricing.defaults`. */
  pricing: optional(Prices),
  agents: optional(Agents),
  memory: optional(JsonValue)
})
export type SettingsFile = typeof SettingsFile.Type

export class SettingsError extends Schema.TaggedError<SettingsError>()("SettingsError", {
  /** The file, or null for the command-line flags. */
  path: Schema.NullOr(Schema.String),
  /** The key, dotted (`permissions.allow[2]`); empty for the file as a whole. */
  key: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    const where = this.path ?? "command-line flags"
    return this.key === ""
      ? `${where}: ${this.reason}; fix or remove it`
      : `${where}: ${this.key}: ${this.reason}; fix or remove it`
  }
}

/** A key weft does not know, in a layer. */
export interface SettingsWarning {
  readonly path: string | null
  readonly key: string
}

/** One layer, checked. */
export interface LayerSettings {
  readonly layer: SettingLayer
  readonly path: string | null
  /** The layer's settings as given (unknown keys included). */
  readonly settings: JsonObject
  readonly rules: ReadonlyArray<RuleEntry>
  readonly warnings: ReadonlyArray<SettingsWarning>
}

/** The merged settings, ready for `SessionStarted` and the permission policy. */
export interface ResolvedSettings {
  /** The merged settings, to record in `SessionStarted`. */
  readonly settings: JsonObject
  /** The layers that were present, lowest precedence first. */
  readonly sources: ReadonlyArray<SettingSource>
  /** Every permission rule of every layer, lowest layer first. */
  readonly rules: ReadonlyArray<RuleEntry>
  readonly mode: PermissionMode
  /** As written (`../shared`, `~/notes`, `/abs`): the policy resolves them against the project root. */
  readonly additionalDirectories: ReadonlyArray<string>
  readonly model?: string
  readonly maxDepth?: number
  readonly budgetTokens?: number
  readonly env: Readonly<Record<string, string>>
  readonly cacheReadWeight?: number
  readonly budgetUsd?: number
  readonly thinkingBudgetTokens?: number
  /** The price table: the defaults with the settings' `pricing` over them. */
  readonly prices: Pricing.PriceTable
  /** Agent types from settings (`agents`), for the task tool; a higher layer's type replaces a lower one's. */
  readonly agents: ReadonlyArray<AgentTypes.AgentType>
  readonly warnings: ReadonlyArray<SettingsWarning>
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const topLevel: Record<string, Schema.Schema<any, any>> = {
  model: Text,
  maxDepth: Count,
  budgetTokens: Count,
  env: Env,
  cacheReadWeight: Weight,
  budgetUsd: Weight,
  thinkingBudgetTokens: ThinkingBudget,
  pricing: Prices,
  agents: Agents,
  memory: JsonValue
}

const permissionFields: Record<string, Schema.Schema<any, any>> = {
  allow: Strings,
  ask: Strings,
  deny: Strings,
  defaultMode: PermissionMode,
  additionalDirectories: Strings
}

const formatPath = (key: string, path: ReadonlyArray<PropertyKey>) =>
  path.reduce<string>(
    (out, segment) => typeof segment === "number" ? `${out}[${segment}]` : `${out}.${String(segment)}`,
    key
  )

/** The first issue of a failed decode, as `{ key, reason }` (one line). */
const firstIssue = (key: string, error: ParseResult.ParseError, actual: unknown) => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = issue?.path ?? []
  const at = path.reduce<unknown>(
    (value, segment) => isObject(value) || Array.isArray(value) ? (value as any)[segment] : undefined,
    actual
  )
  const shown = typeof at === "function" ? undefined : JSON.stringify(at)
  const got = shown === undefined ? "" : `, got ${shown.length > 60 ? `${shown.slice(0, 57)}...` : shown}`
  return {
    key: formatPath(key, path),
    reason: `${(issue?.message ?? "invalid value").split("\n")[0]}${got}`
  }
}

const decodeField = (
  path: string | null,
  key: string,
  schema: Schema.Schema<any, any>,
  value: unknown
): Either.Either<Json, SettingsError> =>
  Either.mapLeft(Schema.decodeUnknownEither(schema)(value), (error) => {
    const issue = firstIssue(key, error, value)
    return new SettingsError({ path, key: issue.key, reason: issue.reason })
  }) as Either.Either<Json, SettingsError>

/** Leaves out `undefined` values (an optional CLI flag not given). */
const defined = (object: Record<string, unknown>) => Object.entries(object).filter(([, value]) => value !== undefined)

/** The first permission rule of an agent type that does not parse, as a `SettingsError`. */
const invalidAgentRule = (path: string | null, agents: Record<string, AgentSettings>): SettingsError | undefined => {
  for (const [name, entry] of Object.entries(agents)) {
    for (const behavior of ["allow", "ask", "deny"] as const) {
      const texts = entry.rules?.[behavior] ?? []
      for (let i = 0; i < texts.length; i++) {
        const rule = PermissionRule.parse(texts[i]!)
        if (Either.isLeft(rule)) {
          return new SettingsError({ path, key: `agents.${name}.rules.${behavior}[${i}]`, reason: rule.left.message })
        }
      }
    }
  }
  return undefined
}

/**
 * Checks one layer's JSON: unknown keys become warnings, a bad value or rule a `SettingsError`.
 * `path` is the file (null for the command-line flags).
 */
export const decodeLayer = (
  layer: SettingLayer,
  path: string | null,
  json: unknown
): Either.Either<LayerSettings, SettingsError> => {
  if (!isObject(json)) {
    return Either.left(new SettingsError({ path, key: "", reason: "expected a JSON object at the top level" }))
  }
  const settings: Record<string, Json> = {}
  const warnings: Array<SettingsWarning> = []
  const rules: Array<RuleEntry> = []
  for (const [key, value] of defined(json)) {
    if (key === "permissions") {
      if (!isObject(value)) {
        return Either.left(new SettingsError({ path, key, reason: "expected an object" }))
      }
      const permissions: Record<string, Json> = {}
      for (const [name, inner] of defined(value)) {
        const dotted = `permissions.${name}`
        const schema = permissionFields[name]
        const decoded = decodeField(path, dotted, schema ?? JsonValue, inner)
        if (Either.isLeft(decoded)) return Either.left(decoded.left)
        if (schema === undefined) warnings.push({ path, key: dotted })
        permissions[name] = decoded.right
        if (name === "allow" || name === "ask" || name === "deny") {
          const texts = decoded.right as ReadonlyArray<string>
          for (let i = 0; i < texts.length; i++) {
            const rule = PermissionRule.parse(texts[i]!)
            if (Either.isLeft(rule)) {
              return Either.left(
                new SettingsError({ path, key: `${dotted}[${i}]`, reason: rule.left.message })
              )
            }
            rules.push({ behavior: name, rule: rule.right, layer })
          }
        }
      }
      settings[key] = permissions
      continue
    }
    const schema = topLevel[key]
    const decoded = decodeField(path, key, schema ?? JsonValue, value)
    if (Either.isLeft(decoded)) return Either.left(decoded.left)
    if (key === "agents") {
      const invalid = invalidAgentRule(path, decoded.right as Record<string, AgentSettings>)
      if (invalid !== undefined) return Either.left(invalid)
    }
    if (schema === undefined) warnings.push({ path, key })
    settings[key] = decoded.right
  }
  return Either.right({ layer, path, settings, rules, warnings })
}

const rank = (layer: SettingLayer) => layers.indexOf(layer)

const union = (a: Json | undefined, b: Json): Json => {
  const seen = new Set<string>()
  const out: Array<Json> = []
  for (const item of [...(Array.isArray(a) ? a : []), ...(Array.isArray(b) ? b : [])]) {
    const key = JSON.stringify(item)
    if (seen.has(key)) continue
    seen.add(key)
    out.push(item)
  }
  return out
}

const LISTS = new Set(["allow", "ask", "deny", "additionalDirectories"])

/** Merges checked layers (in any order: they are sorted by precedence). */
export const merge = (input: ReadonlyArray<LayerSettings>): ResolvedSettings => {
  const sorted = [...input].sort((a, b) => rank(a.layer) - rank(b.layer))
  const settings: Record<string, Json> = {}
  for (const layer of sorted) {
    for (const [key, value] of Object.entries(layer.settings)) {
      const current = settings[key]
      if (key === "permissions" && isObject(value)) {
        const merged: Record<string, Json> = isObject(current) ? { ...current as JsonObject } : {}
        for (const [name, inner] of Object.entries(value as JsonObject)) {
          merged[name] = LISTS.has(name) ? union(merged[name], inner) : inner
        }
        settings[key] = merged
      } else if ((key === "env" || key === "agents" || key === "pricing") && isObject(value)) {
        settings[key] = { ...(isObject(current) ? current as JsonObject : {}), ...value as JsonObject }
      } else {
        settings[key] = value
      }
    }
  }
  const permissions = isObject(settings["permissions"]) ? settings["permissions"] as JsonObject : {}
  const mode = permissions["defaultMode"]
  const string = (value: Json | undefined) => typeof value === "string" ? value : undefined
  const count = (value: Json | undefined) => typeof value === "number" ? value : undefined
  const model = string(settings["model"])
  const maxDepth = count(settings["maxDepth"])
  const budgetTokens = count(settings["budgetTokens"])
  return {
    settings,
    sources: sorted.map((layer) => ({ layer: layer.layer, path: layer.path })),
    rules: sorted.flatMap((layer) => layer.rules),
    mode: Schema.is(PermissionMode)(mode) ? mode : "default",
    additionalDirectories: Array.isArray(permissions["additionalDirectories"])
      ? (permissions["additionalDirectories"] as ReadonlyArray<Json>).filter((dir): dir is string =>
        typeof dir === "string"
      )
      : [],
    ...(model === undefined ? {} : { model }),
    ...(maxDepth === undefined ? {} : { maxDepth }),
    ...(budgetTokens === undefined ? {} : { budgetTokens }),
    env: isObject(settings["env"]) ? settings["env"] as Record<string, string> : {},
    ...(count(settings["budgetUsd"]) === undefined ? {} : { budgetUsd: count(settings["budgetUsd"])! }),
    ...(count(settings["thinkingBudgetTokens"]) === undefined
      ? {}
      : { thinkingBudgetTokens: count(settings["thinkingBudgetTokens"])! }),
    ...(count(settings["cacheReadWeight"]) === undefined
      ? {}
      : { cacheReadWeight: count(settings["cacheReadWeight"])! }),
    prices: {
      ...Pricing.defaults,
      ...(isObject(settings["pricing"]) ? settings["pricing"] as Pricing.PriceTable : {})
    },
    agents: Object.entries(isObject(settings["agents"]) ? settings["agents"] as Record<string, AgentSettings> : {})
      .map(([name, entry]) => agentType(name, entry)),
    warnings: sorted.flatMap((layer) => layer.warnings)
  }
}

/** The merged settings of no layer at all: default mode, no rules. */
export const empty: ResolvedSettings = merge([])

/** Rules as settings would hold them, for tests and built-in policies: `rules("allow", "flags", ["Bash(ls:*)"])`. */
export const rules = (
  behavior: RuleEntry["behavior"],
  layer: string,
  texts: ReadonlyArray<string>
): ReadonlyArray<RuleEntry> => texts.map((text) => ({ behavior, layer, rule: PermissionRule.unsafeParse(text) }))
