import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import * as PermissionPolicy from "../src/PermissionPolicy.js"
import * as PermissionPrompt from "../src/PermissionPrompt.js"
import * as PermissionRule from "../src/PermissionRule.js"
import type { PermissionMode } from "../src/Settings.js"
import * as Settings from "../src/Settings.js"
import type { PermissionRequest } from "../src/Tool.js"

const root = "/work/app"
const home = "/home/ada"

const read = (path: string, tool = "Read"): PermissionRequest => ({ _tag: "Path", tool, path, access: "read" })
const write = (path: string, tool = "Edit"): PermissionRequest => ({ _tag: "Path", tool, path, access: "write" })
const bash = (command: string): PermissionRequest => ({ _tag: "Command", tool: "Bash", command })
const other = (tool: string, specifier: string, readOnly: boolean): PermissionRequest => ({
  _tag: "Other",
  tool,
  specifier,
  readOnly
})

/** Evaluates with a lexical subject (what `resolve` gives when no symlink is involved). */
const evaluate = (
  request: PermissionRequest,
  options: {
    readonly mode?: PermissionMode
    readonly rules?: ReadonlyArray<PermissionRule.RuleEntry>
    readonly additionalDirectories?: ReadonlyArray<string>
  } = {}
) =>
  PermissionPolicy.evaluate({
    request,
    subject: request._tag === "Path"
      ? PermissionRule.absolute(request.path, root)
      : request._tag === "Command"
      ? request.command
      : request.specifier,
    rules: options.rules ?? [],
    mode: options.mode ?? "default",
    root,
    home,
    additionalDirectories: options.additionalDirectories ?? []
  })

const behavior = (request: PermissionRequest, mode: PermissionMode) => evaluate(request, { mode }).behavior

describe("PermissionPolicy", () => {
  describe("modes, when no rule matches", () => {
    const table: ReadonlyArray<readonly [string, PermissionRequest, Record<PermissionMode, string>]> = [
      ["a read inside the project", read("src/a.ts"), {
        default: "allow",
        acceptEdits: "allow",
        plan: "allow",
        bypassPermissions: "allow"
      }],
      ["a write inside the project", write("src/a.ts"), {
        default: "ask",
        acceptEdits: "allow",
        plan: "deny",
        bypassPermissions: "allow"
      }],
      ["a command", bash("make"), { default: "ask", acceptEdits: "ask", plan: "deny", bypassPermissions: "allow" }],
      ["a read outside the project", read("/etc/hosts"), {
        default: "deny",
        acceptEdits: "deny",
        plan: "deny",
        bypassPermissions: "allow"
      }],
      ["a write outside the project", write("../other/x"), {
        default: "deny",
        acceptEdits: "deny",
        plan: "deny",
        bypassPermissions: "allow"
      }],
      ["a read-only tool", other("Task", "explore", true), {
        default: "allow",
        acceptEdits: "allow",
        plan: "allow",
        bypassPermissions: "allow"
      }],
      ["a tool that is not read-only", other("Memory", "", false), {
        default: "ask",
        acceptEdits: "ask",
        plan: "deny",
        bypassPermissions: "allow"
      }],
      ["a network tool", other("WebFetch", "https://example.com", true), {
        default: "ask",
        acceptEdits: "ask",
        plan: "ask",
        bypassPermissions: "allow"
      }]
    ]
    for (const [name, request, expected] of table) {
      it(`${name}: ${JSON.stringify(expected)}`, () => {
        for (const mode of ["default", "acceptEdits", "plan", "bypassPermissions"] as const) {
          assert.strictEqual(behavior(request, mode), expected[mode], mode)
        }
      })
    }

    it("the decision names the mode as its layer, with no rule", () => {
      const decision = evaluate(write("src/a.ts"))
      assert.deepStrictEqual([decision.rule, decision.layer], [null, "default"])
      assert.deepStrictEqual(decision.suggestions, ["Edit(/src/a.ts)"])
    })

    it("acceptEdits still asks before writing .weft/ and .git/", () => {
      assert.strictEqual(behavior(write(".weft/settings.local.json"), "acceptEdits"), "ask")
      assert.strictEqual(behavior(write(".git/hooks/pre-commit"), "acceptEdits"), "ask")
      assert.strictEqual(behavior(write(".weft/settings.json"), "bypassPermissions"), "allow")
    })

    it("plan mode denies a command and a write even when a rule allows it", () => {
      const rules = Settings.rules("allow", "project", ["Bash(npm test:*)", "Edit(src/**)"])
      assert.strictEqual(evaluate(bash("npm test"), { mode: "plan", rules }).behavior, "deny")
      assert.strictEqual(evaluate(write("src/a.ts"), { mode: "plan", rules }).behavior, "deny")
    })

    it("additional directories count as inside the project", () => {
      const options = { additionalDirectories: ["/work/shared"] }
      assert.strictEqual(evaluate(read("/work/shared/lib.ts"), options).behavior, "allow")
      assert.strictEqual(evaluate(write("/work/shared/lib.ts"), { ...options, mode: "acceptEdits" }).behavior, "allow")
      assert.strictEqual(evaluate(read("/work/sharedx/lib.ts"), options).behavior, "deny")
    })
  })

  describe("rules", () => {
    it("deny beats allow from any layer, in either direction of precedence", () => {
      for (
        const rules of [
          [...Settings.rules("deny", "user", ["Bash(rm:*)"]), ...Settings.rules("allow", "flags", ["Bash(rm:*)"])],
          [...Settings.rules("allow", "user", ["Bash(rm:*)"]), ...Settings.rules("deny", "flags", ["Bash(rm:*)"])]
        ]
      ) {
        const decision = evaluate(bash("rm x"), { rules })
        assert.strictEqual(decision.behavior, "deny")
        assert.strictEqual(decision.rule, "Bash(rm:*)")
      }
      const paths = [...Settings.rules("deny", "user", ["Read(.env)"]), ...Settings.rules("allow", "flags", ["Read"])]
      assert.deepStrictEqual([
        evaluate(read(".env"), { rules: paths }).behavior,
        evaluate(read(".env"), { rules: paths }).layer
      ], [
        "deny",
        "user"
      ])
      const tools = [
        ...Settings.rules("deny", "project", ["Task(general)"]),
        ...Settings.rules("allow", "flags", ["Task"])
      ]
      assert.strictEqual(evaluate(other("Task", "general", false), { rules: tools }).behavior, "deny")
      assert.strictEqual(evaluate(other("Task", "explore", false), { rules: tools }).behavior, "allow")
    })

    it("deny beats allow even in bypassPermissions", () => {
      const rules = [...Settings.rules("deny", "user", ["Bash(rm:*)", "Read(.env)"])]
      assert.strictEqual(evaluate(bash("rm -rf /"), { rules, mode: "bypassPermissions" }).behavior, "deny")
      assert.strictEqual(evaluate(read(".env"), { rules, mode: "bypassPermissions" }).behavior, "deny")
    })

    it("ask beats allow; bypassPermissions skips ask rules", () => {
      const rules = [
        ...Settings.rules("allow", "flags", ["Bash(git:*)", "Edit(src/**)"]),
        ...Settings.rules("ask", "user", ["Bash(git push:*)", "Edit(src/generated/**)"])
      ]
      const push = evaluate(bash("git push origin"), { rules })
      assert.deepStrictEqual([push.behavior, push.rule, push.layer], ["ask", "Bash(git push:*)", "user"])
      assert.deepStrictEqual(push.suggestions, [])
      assert.strictEqual(evaluate(write("src/generated/x.ts"), { rules }).behavior, "ask")
      assert.strictEqual(evaluate(write("src/x.ts"), { rules }).behavior, "allow")
      assert.strictEqual(evaluate(bash("git push"), { rules, mode: "bypassPermissions" }).behavior, "allow")
    })

    it("an allow rule outside the project allows exactly that path", () => {
      const rules = Settings.rules("allow", "user", ["Read(//etc/hosts)", "Read(~/notes/**)"])
      assert.strictEqual(evaluate(read("/etc/hosts"), { rules }).behavior, "allow")
      assert.strictEqual(evaluate(read("/etc/passwd"), { rules }).behavior, "deny")
      assert.strictEqual(evaluate(read("/home/ada/notes/today.md"), { rules }).behavior, "allow")
      assert.strictEqual(evaluate(read("/home/ada/.ssh/id_rsa"), { rules }).behavior, "deny")
    })

    it("Read rules cover Glob and Grep; Edit rules cover Write; a Glob rule allows only Glob", () => {
      const rules = Settings.rules("allow", "user", [
        "Read(//opt/data/**)",
        "Edit(//opt/out/**)",
        "Glob(//opt/list/**)"
      ])
      assert.strictEqual(evaluate(read("/opt/data/x", "Grep"), { rules }).behavior, "allow")
      assert.strictEqual(evaluate(read("/opt/data/x", "Glob"), { rules }).behavior, "allow")
      assert.strictEqual(evaluate(write("/opt/out/x", "Write"), { rules }).behavior, "allow")
      assert.strictEqual(evaluate(read("/opt/out/x"), { rules }).behavior, "deny")
      assert.strictEqual(evaluate(read("/opt/list/x", "Glob"), { rules }).behavior, "allow")
      assert.strictEqual(evaluate(read("/opt/list/x", "Read"), { rules }).behavior, "deny")
    })

    it("session grants count as allow rules, named with layer session, and never beat a deny", () => {
      const grant = { behavior: "allow" as const, layer: "session", rule: PermissionRule.unsafeParse("Bash(make:*)") }
      const decision = evaluate(bash("make build"), { rules: [grant] })
      assert.deepStrictEqual([decision.behavior, decision.rule, decision.layer], ["allow", "Bash(make:*)", "session"])
      const denied = evaluate(bash("make build"), {
        rules: [...Settings.rules("deny", "project", ["Bash(make:*)"]), grant]
      })
      assert.strictEqual(denied.behavior, "deny")
    })
  })

  describe("commands", () => {
    const rules = [
      ...Settings.rules("allow", "project", ["Bash(npm test:*)"]),
      ...Settings.rules("allow", "user", ["Bash(git status)"]),
      ...Settings.rules("deny", "user", ["Bash(rm:*)"])
    ]

    it("a compound command is allowed only when every part is, and names every rule and layer that allowed it", () => {
      const decision = evaluate(bash("npm test && git status"), { rules })
      assert.strictEqual(decision.behavior, "allow")
      assert.strictEqual(decision.rule, "Bash(npm test:*), Bash(git status)")
      assert.strictEqual(decision.layer, "project, user")
      assert.include(decision.reason, "\"git status\" by Bash(git status) (user)")
    })

    it("one part no rule allows makes the whole command ask, with the rule that would allow that part", () => {
      const decision = evaluate(bash("npm test && make build"), { rules })
      assert.strictEqual(decision.behavior, "ask")
      assert.deepStrictEqual(decision.suggestions, ["Bash(make build:*)"])
      assert.include(decision.reason, "\"make build\" is not allowed by any rule")
    })

    it("one denied part denies the whole command, naming the deny rule", () => {
      const decision = evaluate(bash("npm test && git status; rm -rf /"), { rules })
      assert.deepStrictEqual([decision.behavior, decision.rule, decision.layer], ["deny", "Bash(rm:*)", "user"])
    })

    it("a command weft cannot read asks (and plan mode denies it), even under a bare Bash allow", () => {
      const all = Settings.rules("allow", "user", ["Bash"])
      const decision = evaluate(bash("if true; then make; fi"), { rules: all })
      assert.strictEqual(decision.behavior, "ask")
      assert.include(decision.reason, "weft cannot check this command")
      assert.deepStrictEqual(decision.suggestions, [])
      assert.strictEqual(evaluate(bash("if true; then make; fi"), { rules: all, mode: "plan" }).behavior, "deny")
      assert.strictEqual(
        evaluate(bash("if true; then make; fi"), { rules: all, mode: "bypassPermissions" }).behavior,
        "ask"
      )
    })

    it("a bare Bash deny denies every command, readable or not", () => {
      const none = Settings.rules("deny", "user", ["Bash"])
      assert.strictEqual(evaluate(bash("ls"), { rules: none, mode: "bypassPermissions" }).behavior, "deny")
      assert.strictEqual(evaluate(bash("if x; then y; fi"), { rules: none }).behavior, "deny")
    })

    it("a redirection to a file asks; to /dev/null it does not; an Edit deny on the target denies", () => {
      assert.strictEqual(evaluate(bash("npm test > out.log"), { rules }).behavior, "ask")
      assert.strictEqual(evaluate(bash("npm test < input.txt"), { rules }).behavior, "ask")
      assert.strictEqual(evaluate(bash("npm test > /dev/null 2>&1"), { rules }).behavior, "allow")
      const denyGit = [...rules, ...Settings.rules("deny", "project", ["Edit(.git/**)"])]
      assert.strictEqual(evaluate(bash("npm test >> ./.git/config"), { rules: denyGit }).behavior, "deny")
      assert.strictEqual(evaluate(bash("npm test > out.log"), { rules, mode: "bypassPermissions" }).behavior, "allow")
    })
  })

  describe("evaluate is pure", () => {
    it("the same input gives the same decision, so a replay can re-run it on the recorded subject", () => {
      const rules = Settings.rules("allow", "project", ["Read(src/**)"])
      const input = {
        request: read("src/link/x"),
        subject: "/elsewhere/x",
        rules,
        mode: "default" as const,
        root,
        home,
        additionalDirectories: []
      }
      const first = PermissionPolicy.evaluate(input)
      assert.deepStrictEqual(PermissionPolicy.evaluate(input), first)
      assert.strictEqual(first.behavior, "deny")
      assert.strictEqual(first.subject, "/elsewhere/x")
    })

    it("toEvent records the decision with its subject", () => {
      const decision = evaluate(read("src/a.ts"))
      const event = PermissionPolicy.toEvent(decision, { toolUseId: "toolu_1", tool: "read" })
      assert.deepStrictEqual(
        [event.behavior, event.rule, event.layer, event.subject, event.toolUseId],
        ["allow", null, "default", "/work/app/src/a.ts", "toolu_1"]
      )
    })

    it("grants turns an ask's suggestions into the rules allow_session adds", () => {
      const decision = evaluate(bash("make build && cargo test"))
      assert.deepStrictEqual(PermissionPolicy.grants(decision).map((rule) => rule.text), [
        "Bash(make build:*)",
        "Bash(cargo test:*)"
      ])
      const again = evaluate(bash("make build && cargo test --release"), {
        rules: PermissionPolicy.grants(decision).map((rule) => ({ behavior: "allow", rule, layer: "session" }))
      })
      assert.strictEqual(again.behavior, "allow")
    })
  })

  describe("resolve (file system)", () => {
    it.layer(NodeContext.layer)((it) => {
      /** base/{project/src, outside/secret.txt, home}, with the real (symlink-free) paths. */
      const setup = Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const base = yield* PermissionPolicy.realPath(yield* fs.makeTempDirectoryScoped())
        const project = path.join(base, "project")
        const outside = path.join(base, "outside")
        const homeDir = path.join(base, "home")
        for (const dir of [path.join(project, "src"), outside, homeDir, path.join(base, "shared")]) {
          yield* fs.makeDirectory(dir, { recursive: true })
        }
        yield* fs.writeFileString(path.join(outside, "secret.txt"), "secret")
        yield* fs.writeFileString(path.join(project, "src", "a.ts"), "a")
        const resolve = (request: PermissionRequest, additionalDirectories: ReadonlyArray<string> = []) =>
          PermissionPolicy.resolve(request, { root: project, home: homeDir, additionalDirectories })
        return { fs, path, base, project, outside, homeDir, resolve }
      })

      it.scoped("normalises .. and resolves relative paths against the root", () =>
        Effect.gen(function*() {
          const { base, project, resolve } = yield* setup
          assert.strictEqual((yield* resolve(read("src/../src/./a.ts"))).subject, `${project}/src/a.ts`)
          assert.strictEqual(
            (yield* resolve(read("src/../../outside/secret.txt"))).subject,
            `${base}/outside/secret.txt`
          )
          assert.strictEqual((yield* resolve(read("/etc//hosts"))).subject, "/etc/hosts")
          assert.strictEqual((yield* resolve(read("does/not/exist.ts"))).subject, `${project}/does/not/exist.ts`)
        }))

      it.scoped("expands ~/ to the home given as data", () =>
        Effect.gen(function*() {
          const { homeDir, resolve } = yield* setup
          assert.strictEqual((yield* resolve(read("~/.ssh/id_rsa"))).subject, `${homeDir}/.ssh/id_rsa`)
        }))

      it.scoped("a symlink inside the project that points outside resolves outside, and is denied", () =>
        Effect.gen(function*() {
          const { fs, outside, project, resolve } = yield* setup
          yield* fs.symlink(outside, `${project}/src/out`)
          yield* fs.symlink(`${outside}/secret.txt`, `${project}/src/secret.txt`)
          yield* fs.symlink("../../outside/new.txt", `${project}/src/dangling.txt`)
          const viaDir = yield* resolve(read("src/out/secret.txt"))
          assert.strictEqual(viaDir.subject, `${outside}/secret.txt`)
          const viaFile = yield* resolve(write("src/secret.txt"))
          assert.strictEqual(viaFile.subject, `${outside}/secret.txt`)
          const dangling = yield* resolve(write("src/dangling.txt"))
          assert.strictEqual(dangling.subject, `${outside}/new.txt`)
          const rules = Settings.rules("allow", "project", ["Read(src/**)", "Edit(src/**)"])
          for (
            const [request, resolved] of [[read("src/out/secret.txt"), viaDir], [
              write("src/secret.txt"),
              viaFile
            ]] as const
          ) {
            const decision = PermissionPolicy.evaluate({
              request,
              subject: resolved.subject,
              rules,
              mode: "acceptEdits",
              ...resolved.locations
            })
            assert.strictEqual(decision.behavior, "deny")
          }
        }))

      it.scoped("a symlink's .. is taken from where the link points, as the OS does", () =>
        Effect.gen(function*() {
          const { fs, outside, project, resolve } = yield* setup
          yield* fs.makeDirectory(`${outside}/deep`)
          yield* fs.symlink(`${outside}/deep`, `${project}/deep`)
          yield* fs.symlink("deep/..", `${project}/up`)
          assert.strictEqual((yield* resolve(read("up/secret.txt"))).subject, `${outside}/secret.txt`)
        }))

      it.scoped("a symlink loop ends instead of hanging", () =>
        Effect.gen(function*() {
          const { fs, project, resolve } = yield* setup
          yield* fs.symlink(`${project}/b`, `${project}/a`)
          yield* fs.symlink(`${project}/a`, `${project}/b`)
          const resolved = yield* resolve(read("a/x"))
          assert.isString(resolved.subject)
        }))

      it.scoped("the root and additional directories are resolved too", () =>
        Effect.gen(function*() {
          const { base, fs, homeDir, project } = yield* setup
          yield* fs.symlink(project, `${base}/alias`)
          yield* fs.symlink(`${base}/shared`, `${homeDir}/shared-link`)
          const resolved = yield* PermissionPolicy.resolve(read("src/a.ts"), {
            root: `${base}/alias`,
            home: homeDir,
            additionalDirectories: ["~/shared-link", "../outside"]
          })
          assert.strictEqual(resolved.locations.root, project)
          assert.deepStrictEqual(resolved.locations.additionalDirectories, [`${base}/shared`, `${base}/outside`])
          assert.strictEqual(resolved.subject, `${project}/src/a.ts`)
          const decision = PermissionPolicy.evaluate({
            request: read("../shared/x"),
            subject: `${base}/shared/x`,
            rules: [],
            mode: "default",
            ...resolved.locations
          })
          assert.strictEqual(decision.behavior, "allow")
        }))

      it.scoped("the layer's check resolves, adds session grants and honours a mode override", () =>
        Effect.gen(function*() {
          const { fs, homeDir, outside, project } = yield* setup
          yield* fs.symlink(outside, `${project}/src/out`)
          const settings = {
            ...Settings.empty,
            rules: [
              ...Settings.rules("allow", "project", ["Read(src/**)"]),
              ...Settings.rules("deny", "user", ["Bash(rm:*)"])
            ]
          }
          const policy = yield* PermissionPolicy.make(settings, { home: homeDir })
          const escaped = yield* policy.check(read("src/out/secret.txt"), { cwd: project })
          assert.deepStrictEqual([escaped.behavior, escaped.subject], ["deny", `${outside}/secret.txt`])
          const asked = yield* policy.check(bash("make"), { cwd: project })
          assert.strictEqual(asked.behavior, "ask")
          const granted = yield* policy.check(bash("make"), {
            cwd: project,
            sessionRules: [PermissionRule.unsafeParse("Bash(make:*)")]
          })
          assert.deepStrictEqual([granted.behavior, granted.layer], ["allow", "session"])
          const planned = yield* policy.check(write("src/a.ts"), { cwd: project, mode: "plan" })
          assert.strictEqual(planned.behavior, "deny")
          const viaTag = yield* Effect.flatMap(
            PermissionPolicy.PermissionPolicy,
            (p) => p.check(bash("rm x"), { cwd: project })
          )
            .pipe(Effect.provide(PermissionPolicy.layer(settings, { home: homeDir })))
          assert.strictEqual(viaTag.behavior, "deny")
        }))
    })
  })
})

describe("PermissionPrompt", () => {
  const question = (decision: PermissionPolicy.Decision): PermissionPrompt.Question => ({
    agentId: "main",
    toolUseId: "toolu_1",
    tool: "bash",
    request: bash(decision.subject),
    decision
  })

  it.effect("layerDeny denies, naming the rule that would allow the call and where to put it", () =>
    Effect.gen(function*() {
      const prompt = yield* PermissionPrompt.PermissionPrompt
      const answer = yield* prompt.ask(question(evaluate(bash("npm test --watch"))))
      assert.strictEqual(answer.answer, "deny")
      assert.include(
        answer.message!,
        "to allow it, add \"Bash(npm test:*)\" to permissions.allow in .weft/settings.json " +
          "or pass --allowed-tools \"Bash(npm test:*)\""
      )
      const byAskRule = yield* prompt.ask(
        question(evaluate(bash("git push"), { rules: Settings.rules("ask", "user", ["Bash(git push:*)"]) }))
      )
      assert.include(byAskRule.message!, "the ask rule \"Bash(git push:*)\" (user) requires a person")
      const unreadable = yield* prompt.ask(question(evaluate(bash("if a; then b; fi"))))
      assert.include(unreadable.message!, "no rule can allow it")
    }).pipe(Effect.provide(PermissionPrompt.layerDeny)))

  it.effect("layerScripted answers in order, then dies with PromptScriptExhaustedError", () =>
    Effect.gen(function*() {
      const prompt = yield* PermissionPrompt.PermissionPrompt
      const q = question(evaluate(bash("make")))
      assert.deepStrictEqual(yield* prompt.ask(q), { answer: "allow_once" })
      assert.deepStrictEqual(yield* prompt.ask(q), { answer: "deny", message: "no" })
      const exit = yield* Effect.exit(prompt.ask(q))
      assert.isTrue(Exit.isFailure(exit))
      const defect = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined
      assert.instanceOf(defect, PermissionPrompt.PromptScriptExhaustedError)
      assert.include(
        (defect as PermissionPrompt.PromptScriptExhaustedError).message,
        "no answer left for bash (toolu_1) after 2"
      )
    }).pipe(
      Effect.provide(PermissionPrompt.layerScripted([{ answer: "allow_once" }, { answer: "deny", message: "no" }]))
    ))

  it("toEvent records the answer", () => {
    const event = PermissionPrompt.toEvent({ toolUseId: "toolu_1" }, { answer: "allow_session" })
    assert.deepStrictEqual([event.toolUseId, event.answer, event.message], ["toolu_1", "allow_session", undefined])
  })
})
