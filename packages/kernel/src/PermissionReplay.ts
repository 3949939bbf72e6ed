/**
 * Re-deciding a recorded permission offline: the call's request comes from the tool and the
 * recorded input, the rules and mode from `SessionStarted`, the grants from the answers folded
 * so far, and what the rules are matched against from the recorded `subject` — the one part
 * that was observed (it depends on the file system). `PermissionPolicy.evaluate` is pure, so
 * the replay decides exactly as the live run did, or the log has diverged.
 */
import { Either, Schema } from "effect"
import * as path from "node:path"
import type { AgentState } from "./AgentState.js"
import type { PermissionDecided } from "./Events.js"
import { evaluate, restrictionsOf } from "./PermissionPolicy.js"
import * as PermissionRule from "./PermissionRule.js"
import type { RuleEntry } from "./PermissionRule.js"
import type { PermissionEvaluator } from "./Replay.js"
import type { Tool } from "./Tool.js"

const parsed = (behavior: RuleEntry["behavior"], layer: string, text: string): ReadonlyArray<RuleEntry> =>
  Either.match(PermissionRule.parse(text), { onLeft: () => [], onRight: (rule) => [{ behavior, rule, layer }] })

const additionalDirectories = (state: AgentState): ReadonlyArray<string> => {
  const permissions = state.config?.settings["permissions"]
  const dirs = permissions !== null && typeof permissions === "object" && !Array.isArray(permissions)
    ? (permissions as Record<string, unknown>)["additionalDirectories"]
    : undefined
  return Array.isArray(dirs) ? dirs.filter((d): d is string => typeof d === "string") : []
}

export const evaluator = (tools: ReadonlyArray<Tool>): PermissionEvaluator => (state, recorded: PermissionDecided) => {
  const config = state.config
  const call = state.calls.find((c) => c.id === recorded.toolUseId)
  const tool = tools.find((t) => t.name === call?.name)
  if (config === null || call === undefined || tool === undefined) {
    return { behavior: "undecidable: no such call or tool", rule: null, layer: null }
  }
  const input = Schema.decodeUnknownEither(tool.input)(call.input)
  if (Either.isLeft(input)) return { behavior: "undecidable: the call's input is invalid", rule: null, layer: null }
  const request = tool.permission(input.right)
  const root = config.cwd
  const home = config.home ?? root
  const grants = state.grants.flatMap((text) => parsed("allow", "session", text))
  const decision = evaluate({
    request,
    subject: recorded.subject ?? (request._tag === "Path" ? path.resolve(root, request.path) : ""),
    rules: [...config.rules.flatMap((entry) => parsed(entry.behavior, entry.layer, entry.rule)), ...grants],
    restrictions: restrictionsOf(config.restrictions).map((r) => ({ ...r, rules: [...r.rules, ...grants] })),
    mode: config.mode,
    root,
    home,
    additionalDirectories: additionalDirectories(state).map((dir) => path.resolve(root, dir.replace(/^~(?=\/)/, home)))
  })
  return { behavior: decision.behavior, rule: decision.rule, layer: decision.layer }
}
