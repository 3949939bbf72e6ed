import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import * as fc from "fast-check"
import { AgentLoop } from "../src/AgentLoop.js"
import * as AgentState from "../src/AgentState.js"
import * as AgentTypes from "../src/AgentTypes.js"
import type { Envelope } from "../src/Envelope.js"
import { EventLog } from "../src/EventLog.js"
import type { AnyEvent } from "../src/Events.js"
import { SessionStarted, SubagentSpawned } from "../src/Events.js"
import type { ModelRequest } from "../src/Messages.js"
import * as ModelClient from "../src/ModelClient.js"
import * as PermissionPolicy from "../src/PermissionPolicy.js"
import * as PermissionPrompt from "../src/PermissionPrompt.js"
import { evaluator } from "../src/PermissionReplay.js"
import type { RuleEntry } from "../src/PermissionRule.js"
import * as PermissionRule from "../src/PermissionRule.js"
import * as Replay from "../src/Replay.js"
import type { PermissionMode } from "../src/Settings.js"
import * as Settings from "../src/Settings.js"
import * as Harness from "../src/testing/Harness.js"
import {
  answer as text,
  calling as uses,
  firstPrompt as asker,
  responsesSoFar as step
} from "../src/testing/ModelScripts.js"
import type { PermissionRequest } from "../src/Tool.js"
import * as ToolRegistry from "../src/ToolRegistry.js"

const root = "/work/app"
const home = "/home/ada"

const subjectOf = (request: PermissionRequest) =>
  request._tag === "Path"
    ? PermissionRule.absolute(request.path, root)
    : request._tag === "Command"
    ? request.command
    : request.specifier

const entries = (behavior: RuleEntry["behavior"], layer: string, texts: ReadonlyArray<string>) =>
  texts.map((text): RuleEntry => ({ behavior, layer, rule: PermissionRule.unsafeParse(text) }))

const evaluate = (
  request: PermissionRequest,
  rules: ReadonlyArray<RuleEntry>,
  restrictions: ReadonlyArray<PermissionPolicy.Restriction> = [],
  mode: PermissionMode = "default"
) =>
  PermissionPolicy.evaluate({
    request,
    subject: subjectOf(request),
    rules,
    mode,
    root,
    home,
    additionalDirectories: [],
    restrictions
  })

const restriction = (name: string, rules: ReadonlyArray<AgentTypes.TypeRule>) =>
  PermissionPolicy.restrictionsOf([{ name, rules }])[0]!

const bash = (command: string): PermissionRequest => ({ _tag: "Command", tool: "Bash", command })
const write = (path: string): PermissionRequest => ({ _tag: "Path", tool: "Edit", path, access: "write" })
const read = (path: string): PermissionRequest => ({ _tag: "Path", tool: "Read", path, access: "read" })

const strictness = { deny: 0, ask: 1, allow: 2 } as const

describe("a subagent's permissions: its parent's rules intersected with its type's", () => {
  it("a deny from the type wins over the parent's allow, and names the type's layer", () => {
    const decision = evaluate(
      bash("rm -rf build"),
      entries("allow", "project", ["Bash"]),
      [restriction("cleaner", [{ behavior: "deny", rule: "Bash(rm:*)" }])]
    )
    assert.strictEqual(decision.behavior, "deny")
    assert.strictEqual(decision.rule, "Bash(rm:*)")
    assert.strictEqual(decision.layer, "agent:cleaner")
    assert.include(decision.reason, "cleaner agent type")
  })

  it("an allow needs both: the parent allows, the type has no rule, so the default mode asks", () => {
    const decision = evaluate(
      bash("npm test"),
      entries("allow", "project", ["Bash(npm test:*)"]),
      [restriction("general", AgentTypes.find("general")!.rules)]
    )
    assert.strictEqual(decision.behavior, "ask")
    assert.strictEqual(decision.layer, "agent:general (default)")
    assert.deepStrictEqual(decision.suggestions, ["Bash(npm test:*)"])
    // With the session's grant added to the type's rules too (as `check` does), it runs.
    const granted = evaluate(
      bash("npm test"),
      entries("allow", "project", ["Bash(npm test:*)"]),
      [{
        ...restriction("general", AgentTypes.find("general")!.rules),
        rules: [
          ...restriction("general", AgentTypes.find("general")!.rules).rules,
          ...entries("allow", "session", ["Bash(npm test:*)"])
        ]
      }]
    )
    assert.strictEqual(granted.behavior, "allow")
  })

  it("a type's allow never widens its parent: the parent's deny and ask stand", () => {
    const code = restriction("code", AgentTypes.find("code")!.rules)
    const denied = evaluate(write(".env"), entries("deny", "user", ["Edit(.env)"]), [code])
    assert.deepStrictEqual([denied.behavior, denied.rule, denied.layer], ["deny", "Edit(.env)", "user"])
    const asked = evaluate(bash("git push"), [], [code])
    assert.deepStrictEqual([asked.behavior, asked.layer], ["ask", "default"])
  })

  it("read-only types deny writes and commands even when the parent allows them", () => {
    for (const name of ["explore", "plan"]) {
      const type = restriction(name, AgentTypes.find(name)!.rules)
      const parent = entries("allow", "project", ["Edit", "Bash"])
      assert.strictEqual(evaluate(write("src/a.ts"), parent, [type]).behavior, "deny")
      assert.strictEqual(evaluate(bash("ls"), parent, [type]).behavior, "deny")
      assert.strictEqual(evaluate(read("src/a.ts"), parent, [type]).behavior, "allow")
    }
  })

  // ------------------------------------------------------------------------------------------
  // Properties

  const ruleTexts = [
    "Read",
    "Read(src/**)",
    "Read(.env)",
    "Read(//etc/**)",
    "Edit",
    "Edit(src/**)",
    "Edit(docs/**)",
    "Write(.env)",
    "Bash",
    "Bash(npm test:*)",
    "Bash(rm:*)",
    "Bash(git push:*)",
    "Bash(ls)",
    "Glob",
    "Grep",
    "Task",
    "Task(explore)",
    "WebFetch"
  ]
  const requests: ReadonlyArray<PermissionRequest> = [
    read("src/a.ts"),
    read(".env"),
    read("/etc/passwd"),
    write("src/a.ts"),
    write("docs/x.md"),
    write(".env"),
    { _tag: "Path", tool: "Write", path: "src/new.ts", access: "write" },
    bash("npm test"),
    bash("rm -rf build"),
    bash("git push origin main"),
    bash("npm test && rm x"),
    bash("ls > out.txt"),
    bash("ls"),
    { _tag: "Other", tool: "Task", specifier: "explore", readOnly: true },
    { _tag: "Other", tool: "WebFetch", specifier: "https://example.com", readOnly: true },
    { _tag: "Path", tool: "Grep", path: "src", access: "read" }
  ]
  const typeRule: fc.Arbitrary<AgentTypes.TypeRule> = fc.record({
    behavior: fc.constantFrom("allow", "ask", "deny"),
    rule: fc.constantFrom(...ruleTexts)
  })
  const typeRules = fc.array(typeRule, { maxLength: 6 })
  const mode = fc.constantFrom<PermissionMode>("default", "acceptEdits", "plan", "bypassPermissions")

  it("for any rules, types and request: the decision is the strictest of the parent's and each type's", () => {
    fc.assert(
      fc.property(
        typeRules,
        fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 6 }), typeRules), { maxLength: 4 }),
        fc.constantFrom(...requests),
        mode,
        (parentRules, chain, request, mode) => {
          const parent = PermissionPolicy.restrictionsOf([{ name: "parent", rules: parentRules }])[0]!.rules
          const restrictions = PermissionPolicy.restrictionsOf(chain.map(([name, rules]) => ({ name, rules })))
          const alone = evaluate(request, parent, [], mode)
          const combined = evaluate(request, parent, restrictions, mode)
          const each = restrictions.map((r) => evaluate(request, r.rules, [], mode))
          // Never more than the parent: a child is never allowed what its parent is denied, or asked.
          assert.isAtMost(strictness[combined.behavior], strictness[alone.behavior])
          if (alone.behavior === "deny") assert.strictEqual(combined.behavior, "deny")
          // An allow needs every level; a deny from any level denies.
          const strictest = Math.min(strictness[alone.behavior], ...each.map((d) => strictness[d.behavior]))
          assert.strictEqual(strictness[combined.behavior], strictest)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("over random delegation trees, no agent is allowed anything its parent is denied (through spawn, as replay folds it)", () => {
    const custom = fc.array(
      fc.record({
        name: fc.constantFrom("alpha", "beta", "gamma"),
        rules: typeRules
      }),
      { maxLength: 3 }
    ).map((types) =>
      types.map((t): AgentTypes.AgentType => ({
        name: t.name,
        description: t.name,
        prompt: t.name,
        tools: Settings.defaultAgentTools,
        maxTurns: 5,
        rules: t.rules
      }))
    )
    fc.assert(
      fc.property(
        typeRules,
        custom,
        fc.array(fc.constantFrom("explore", "plan", "general", "code", "alpha", "beta", "gamma"), {
          minLength: 1,
          maxLength: 5
        }),
        fc.constantFrom(...requests),
        mode,
        (parentRules, customTypes, path, request, mode) => {
          const agents = AgentTypes.withCustom(customTypes)
          let state = AgentState.evolve(
            AgentState.initial("main"),
            envelope(
              "main",
              new SessionStarted({
                project: root,
                cwd: root,
                model: "m",
                settings: {},
                sources: [],
                maxDepth: 10,
                budgetTokens: null,
                tools: Settings.defaultAgentTools,
                rules: parentRules.map((r) => ({ ...r, layer: "project" })),
                mode,
                agents
              })
            )
          )
          const decide = (s: AgentState.AgentState) =>
            evaluate(
              request,
              s.config!.rules.map((r) => ({
                behavior: r.behavior,
                layer: r.layer,
                rule: PermissionRule.unsafeParse(r.rule)
              })),
              PermissionPolicy.restrictionsOf(s.config!.restrictions),
              s.config!.mode
            )
          let before = decide(state)
          for (const [i, agentType] of path.entries()) {
            const child = AgentState.spawn(
              state,
              new SubagentSpawned({
                toolUseId: `t${i}`,
                childAgentId: `${state.agentId}/1`,
                agentType,
                description: "d",
                prompt: "p",
                budgetTokens: null
              })
            )
            const after = decide(child)
            assert.isAtMost(strictness[after.behavior], strictness[before.behavior], `${child.agentId} (${agentType})`)
            // …and nothing its own type does not allow.
            const own = evaluate(
              request,
              restriction(agentType, AgentTypes.find(agentType, agents)?.rules ?? []).rules,
              [],
              mode
            )
            assert.isAtMost(strictness[after.behavior], strictness[own.behavior], `${child.agentId} (${agentType})`)
            state = child
            before = after
          }
        }
      ),
      { numRuns: 300 }
    )
  })
})

let seq = 0
const envelope = (agentId: string, event: AnyEvent): Envelope => ({
  id: `e${++seq}`,
  seq,
  sessionId: "s",
  agentId,
  parentId: null,
  at: "2026-11-21T00:00:00.000Z",
  event
})

// ----------------------------------------------------------------------------------------------
// Through the loop

const readLog = (sessionId: string) =>
  EventLog.pipe(Effect.flatMap((log) => Stream.runCollect(log.read(sessionId))), Effect.map(Chunk.toReadonlyArray))
const ofTag = <T extends AnyEvent["_tag"]>(envelopes: ReadonlyArray<Envelope>, tag: T) =>
  envelopes.map((e) => e.event).filter((e): e is Extract<AnyEvent, { _tag: T }> => e._tag === tag)
const project = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "weft-subperm-" }))

describe("subagent permissions through the loop", () => {
  it.scoped("a settings agent type: listed by the task tool, spawned with its prompt and tools, its deny wins over the parent's allow; replay verifies", () =>
    Effect.gen(function*() {
      const dir = yield* project
      const fs = yield* FileSystem.FileSystem
      yield* fs.writeFileString(`${dir}/notes.md`, "old\n")
      const requests: Array<ModelRequest> = []
      const reviewer = Settings.agentType("reviewer", {
        prompt: "You review changes and never edit.",
        description: "Reviews a change",
        tools: ["read", "edit"],
        rules: { deny: ["Edit"] }
      })
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m", agents: [reviewer] })
        yield* session.send("get it reviewed")
        const log = yield* readLog(session.sessionId)
        const main = requests.find((r) => asker(r) === "get it reviewed")!
        assert.include(main.tools.find((t) => t.name === "task")!.description, "- reviewer: Reviews a change")
        const child = requests.find((r) => asker(r) === "review notes.md")!
        assert.strictEqual(child.system, "You review changes and never edit.")
        assert.deepStrictEqual(child.tools.map((t) => t.name), ["read", "edit"])
        const decided = ofTag(log, "PermissionDecided").find((d) => d.toolUseId === "e1")!
        assert.deepStrictEqual([decided.behavior, decided.rule, decided.layer], ["deny", "Edit", "agent:reviewer"])
        assert.strictEqual(yield* fs.readFileString(`${dir}/notes.md`), "old\n")
        const registry = yield* ToolRegistry.ToolRegistry
        const report = yield* Replay.verify(session.sessionId, log, { evaluatePermission: evaluator(registry.tools) })
        assert.deepStrictEqual([...report.agents].sort(), ["main", "main/1"])
      }).pipe(Effect.provide(Harness.layer({
        // The parent may edit anything without asking.
        settings: { ...Settings.empty, rules: Settings.rules("allow", "project", ["Edit"]) },
        model: ModelClient.layerFake((request) => {
          requests.push(request)
          if (asker(request) === "review notes.md") {
            return step(request) === 0
              ? uses(["e1", "edit", { path: "notes.md", old_string: "old", new_string: "new" }])
              : text("could not edit; looks fine")
          }
          return step(request) === 0
            ? uses(["k1", "task", { agent_type: "reviewer", description: "review", prompt: "review notes.md" }])
            : text("reviewed")
        })
      })))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("the parent's deny reaches a code subagent; a child's ask reaches the user naming the agent path", () =>
    Effect.gen(function*() {
      const dir = yield* project
      const questions: Array<PermissionPrompt.Question> = []
      yield* Effect.gen(function*() {
        const session = yield* (yield* AgentLoop).start({ project: dir, model: "m" })
        yield* session.send("clean up")
        const log = yield* readLog(session.sessionId)
        const rm = ofTag(log, "PermissionDecided").find((d) => d.toolUseId === "rm")!
        assert.deepStrictEqual([rm.behavior, rm.rule, rm.layer], ["deny", "Bash(rm:*)", "user"])
        // `ls` is not denied, and not allowed by the parent: the user is asked, told which agent asks.
        assert.deepStrictEqual(questions.map((q) => [q.agentId, q.toolUseId]), [["main/1", "ls"]])
        const registry = yield* ToolRegistry.ToolRegistry
        yield* Replay.verify(session.sessionId, log, { evaluatePermission: evaluator(registry.tools) })
      }).pipe(Effect.provide(Harness.layer({
        settings: { ...Settings.empty, rules: Settings.rules("deny", "user", ["Bash(rm:*)"]) },
        prompt: Layer.succeed(PermissionPrompt.PermissionPrompt, {
          ask: (question) => Effect.sync(() => questions.push(question)).pipe(Effect.as({ answer: "deny" as const }))
        }),
        model: ModelClient.layerFake((request) => {
          if (asker(request) === "remove build") {
            return step(request) === 0
              ? uses(["rm", "bash", { command: "rm -rf build" }], ["ls", "bash", { command: "ls" }])
              : text("denied")
          }
          return step(request) === 0
            ? uses(["k1", "task", { agent_type: "code", description: "clean", prompt: "remove build" }])
            : text("done")
        })
      })))
    }).pipe(Effect.provide(NodeContext.layer)))
})
