import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as Pricing from "../src/Pricing.js"
import * as Settings from "../src/Settings.js"

const USER = "/home/ada/.weft/settings.json"
const PROJECT = "/work/app/.weft/settings.json"

const decoded = (layer: Settings.SettingLayer, path: string | null, json: unknown) => {
  const result = Settings.decodeLayer(layer, path, json)
  assert.isTrue(Either.isRight(result), Either.isLeft(result) ? result.left.message : "")
  return Either.getOrThrow(result)
}

const failure = (json: unknown, path: string | null = USER) => {
  const result = Settings.decodeLayer("user", path, json)
  assert.isTrue(Either.isLeft(result), "expected a SettingsError")
  return Either.isLeft(result) ? result.left : new Settings.SettingsError({ path: "", key: "", reason: "" })
}

const ruleTexts = (resolved: Settings.ResolvedSettings) =>
  resolved.rules.map((entry) => `${entry.behavior} ${entry.rule.text} @${entry.layer}`)

describe("Settings", () => {
  describe("decodeLayer", () => {
    it("decodes a full settings file; each rule keeps its behavior and layer", () => {
      const layer = decoded("project", PROJECT, {
        permissions: {
          allow: ["Bash(npm test:*)", "Read(src/**)"],
          ask: ["Bash(git push:*)"],
          deny: ["Read(.env)"],
          defaultMode: "acceptEdits",
          additionalDirectories: ["../shared"]
        },
        model: "claude-sonnet-4-5",
        maxDepth: 2,
        budgetTokens: 100000,
        env: { CI: "1" },
        agents: { reviewer: { prompt: "review" } },
        memory: { enabled: true }
      })
      assert.deepStrictEqual(layer.warnings, [])
      assert.deepStrictEqual(layer.rules.map((entry) => [entry.behavior, entry.rule.text, entry.layer]), [
        ["allow", "Bash(npm test:*)", "project"],
        ["allow", "Read(src/**)", "project"],
        ["ask", "Bash(git push:*)", "project"],
        ["deny", "Read(.env)", "project"]
      ])
      assert.strictEqual(layer.settings["model"], "claude-sonnet-4-5")
    })

    it("an unknown key, top-level or under permissions, is a warning naming file and key, and is kept", () => {
      const layer = decoded("user", USER, { theme: "dark", permissions: { allowed: ["Bash"] } })
      assert.deepStrictEqual(layer.warnings, [
        { path: USER, key: "theme" },
        { path: USER, key: "permissions.allowed" }
      ])
      assert.strictEqual(layer.settings["theme"], "dark")
      assert.deepStrictEqual(layer.rules, [])
    })

    it("a bad value is a SettingsError naming the file and the key, on one line", () => {
      const cases: ReadonlyArray<readonly [unknown, string, string]> = [
        [{ permissions: { defaultMode: "yolo" } }, "permissions.defaultMode", "expected one of \"default\""],
        [{ permissions: { allow: "Bash" } }, "permissions.allow", "expected an array of strings"],
        [{ permissions: { deny: ["Read(.env)", 7] } }, "permissions.deny[1]", "expected a string, got 7"],
        [{ permissions: "all" }, "permissions", "expected an object"],
        [{ maxDepth: -1 }, "maxDepth", "expected an integer ≥ 0, got -1"],
        [{ budgetTokens: 1.5 }, "budgetTokens", "expected an integer ≥ 0"],
        [{ model: 3 }, "model", "expected a string"],
        [{ env: { CI: 1 } }, "env.CI", "expected a string"]
      ]
      for (const [json, key, reason] of cases) {
        const error = failure(json)
        assert.strictEqual(error.path, USER)
        assert.strictEqual(error.key, key)
        assert.include(error.reason, reason)
        assert.strictEqual(error.message, `${USER}: ${key}: ${error.reason}; fix or remove it`)
        assert.notInclude(error.message, "\n")
      }
    })

    it("the defaultMode error lists every mode", () => {
      assert.strictEqual(
        failure({ permissions: { defaultMode: "yolo" } }).message,
        `${USER}: permissions.defaultMode: expected one of "default", "acceptEdits", "plan", "bypassPermissions", ` +
          `got "yolo"; fix or remove it`
      )
    })

    it("a rule that does not parse is a SettingsError naming the file, the key and the rule", () => {
      const error = failure({ permissions: { allow: ["Bash(npm test:*)", "bash(curl:*)"] } }, PROJECT)
      assert.strictEqual(error.key, "permissions.allow[1]")
      assert.strictEqual(
        error.message,
        `${PROJECT}: permissions.allow[1]: permission rule "bash(curl:*)": tool names are case-sensitive: ` +
          `write "Bash", not "bash"; fix or remove it`
      )
      assert.strictEqual(failure({ permissions: { deny: ["READ(.env)"] } }).key, "permissions.deny[0]")
    })

    it("a file that is not an object is a SettingsError for the whole file", () => {
      const error = failure([1, 2])
      assert.strictEqual(error.key, "")
      assert.strictEqual(error.message, `${USER}: expected a JSON object at the top level; fix or remove it`)
    })

    it("the command-line flags are named as such, and an undefined flag is no flag", () => {
      const error = failure({ model: 1 }, null)
      assert.strictEqual(error.message, "command-line flags: model: expected a string, got 1; fix or remove it")
      const flags = decoded("flags", null, {
        model: undefined,
        permissions: { allow: ["Bash(ls:*)"], deny: undefined }
      })
      assert.deepStrictEqual(flags.settings, { permissions: { allow: ["Bash(ls:*)"] } })
    })
  })

  describe("merge", () => {
    const user = decoded("user", USER, {
      model: "user-model",
      maxDepth: 1,
      env: { A: "user", B: "user" },
      permissions: {
        allow: ["Bash(ls:*)"],
        deny: ["Bash(rm:*)"],
        defaultMode: "plan",
        additionalDirectories: ["~/notes"]
      }
    })
    const userLocal = decoded("user-local", "/home/ada/.weft/settings.local.json", { maxDepth: 2 })
    const project = decoded("project", PROJECT, {
      model: "project-model",
      env: { B: "project" },
      permissions: { allow: ["Bash(npm test:*)", "Bash(ls:*)"], defaultMode: "acceptEdits" }
    })
    const projectLocal = decoded("project-local", "/work/app/.weft/settings.local.json", {
      permissions: { ask: ["Bash(git push:*)"], additionalDirectories: ["../shared"] },
      theme: "dark"
    })
    const flags = decoded("flags", null, { model: "flag-model", permissions: { allow: ["Read(//tmp/**)"] } })

    it("a scalar comes from the highest layer that sets it, whatever order the layers come in", () => {
      for (
        const order of [[user, userLocal, project, projectLocal, flags], [
          flags,
          projectLocal,
          user,
          project,
          userLocal
        ]]
      ) {
        const merged = Settings.merge(order)
        assert.strictEqual(merged.model, "flag-model")
        assert.strictEqual(merged.maxDepth, 2)
        assert.strictEqual(merged.mode, "acceptEdits")
        assert.deepStrictEqual(merged.env, { A: "user", B: "project" })
        assert.deepStrictEqual(merged.sources, [
          { layer: "user", path: USER },
          { layer: "user-local", path: "/home/ada/.weft/settings.local.json" },
          { layer: "project", path: PROJECT },
          { layer: "project-local", path: "/work/app/.weft/settings.local.json" },
          { layer: "flags", path: null }
        ])
      }
    })

    it("rule lists are concatenated, lowest layer first, each rule keeping its layer", () => {
      const merged = Settings.merge([flags, project, user, projectLocal])
      assert.deepStrictEqual(ruleTexts(merged), [
        "allow Bash(ls:*) @user",
        "deny Bash(rm:*) @user",
        "allow Bash(npm test:*) @project",
        "allow Bash(ls:*) @project",
        "ask Bash(git push:*) @project-local",
        "allow Read(//tmp/**) @flags"
      ])
    })

    it("the merged settings (for SessionStarted) hold every layer's lists, deduplicated, and unknown keys", () => {
      const merged = Settings.merge([user, project, projectLocal, flags])
      assert.deepStrictEqual(merged.settings["permissions"], {
        allow: ["Bash(ls:*)", "Bash(npm test:*)", "Read(//tmp/**)"],
        deny: ["Bash(rm:*)"],
        defaultMode: "acceptEdits",
        additionalDirectories: ["~/notes", "../shared"],
        ask: ["Bash(git push:*)"]
      })
      assert.strictEqual(merged.settings["theme"], "dark")
      assert.deepStrictEqual(merged.additionalDirectories, ["~/notes", "../shared"])
      assert.deepStrictEqual(merged.warnings, [{ path: "/work/app/.weft/settings.local.json", key: "theme" }])
    })

    it("agent types from settings: defaults filled in, merged per name with the higher layer winning", () => {
      const merged = Settings.merge([
        decoded("user", USER, {
          agents: {
            reviewer: { prompt: "Review the diff.\nBe terse.", tools: ["read", "grep"] },
            writer: {
              prompt: "write docs",
              description: "Writes docs",
              rules: { deny: ["Bash"], allow: ["Edit(docs/**)"] }
            }
          }
        }),
        decoded("project", PROJECT, {
          agents: { reviewer: { prompt: "Review strictly.", maxTurns: 5, model: "claude-haiku-4-5" } }
        })
      ])
      assert.deepStrictEqual(merged.agents, [
        {
          name: "reviewer",
          description: "Review strictly.",
          prompt: "Review strictly.",
          tools: Settings.defaultAgentTools,
          maxTurns: 5,
          rules: [],
          model: "claude-haiku-4-5"
        },
        {
          name: "writer",
          description: "Writes docs",
          prompt: "write docs",
          tools: Settings.defaultAgentTools,
          maxTurns: 30,
          rules: [{ behavior: "deny", rule: "Bash" }, { behavior: "allow", rule: "Edit(docs/**)" }]
        }
      ])
    })

    it("an agent type's bad rule or missing prompt is a SettingsError naming the key", () => {
      const badRule = failure({ agents: { writer: { prompt: "p", rules: { deny: ["Bash(", "Read"] } } } })
      assert.strictEqual(badRule.key, "agents.writer.rules.deny[0]")
      assert.include(failure({ thinkingBudgetTokens: 100 }).message, "thinkingBudgetTokens: expected an integer ≥ 1024")
      const noPrompt = failure({ agents: { writer: { tools: ["read"] } } })
      assert.include(noPrompt.key, "agents.writer")
      assert.include(noPrompt.message, USER)
    })

    it("no layer at all is the default mode with no rules", () => {
      assert.deepStrictEqual(Settings.empty, {
        settings: {},
        sources: [],
        rules: [],
        mode: "default",
        additionalDirectories: [],
        env: {},
        prices: Pricing.defaults,
        agents: [],
        warnings: []
      })
    })
  })
})
