import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import * as BashCommand from "../src/BashCommand.js"
import * as PermissionRule from "../src/PermissionRule.js"

const anchors = { root: "/work/app", home: "/home/ada" }

const reasonOf = (text: string): string => {
  const parsed = PermissionRule.parse(text)
  assert.isTrue(Either.isLeft(parsed), `${text} should not parse`)
  return Either.isLeft(parsed) ? parsed.left.message : ""
}

const pathRule = (text: string) => {
  const rule = PermissionRule.unsafeParse(text)
  assert.strictEqual(rule._tag, "Path")
  return rule as Extract<PermissionRule.Rule, { _tag: "Path" }>
}

const strict = (text: string, path: string) => PermissionRule.matchesPath(pathRule(text).pattern, path, anchors, false)
const loose = (text: string, path: string) => PermissionRule.matchesPath(pathRule(text).pattern, path, anchors, true)

const commandOf = (command: string): BashCommand.SimpleCommand => {
  const parsed = BashCommand.parse(command)
  assert.strictEqual(parsed._tag, "Parsed")
  const commands = (parsed as Extract<BashCommand.Parsed, { _tag: "Parsed" }>).commands
  return commands[commands.length - 1]!
}

const allows = (rule: string, command: string) =>
  PermissionRule.matchesCommand(PermissionRule.unsafeParse(rule), commandOf(command), false)
const denies = (rule: string, command: string) =>
  PermissionRule.matchesCommand(PermissionRule.unsafeParse(rule), commandOf(command), true)

describe("PermissionRule", () => {
  describe("parse", () => {
    it("reads a bare tool, a path rule, a command rule and a specifier rule, keeping the text as written", () => {
      const bare = PermissionRule.unsafeParse("Bash")
      assert.deepStrictEqual(bare, { _tag: "Tool", tool: "Bash", text: "Bash" })
      assert.strictEqual(PermissionRule.unsafeParse("Read(src/**)")._tag, "Path")
      const command = PermissionRule.unsafeParse("  Bash(npm test:*) ")
      assert.deepStrictEqual(command, {
        _tag: "Command",
        tool: "Bash",
        text: "Bash(npm test:*)",
        words: ["npm", "test"],
        prefix: true
      })
      assert.deepStrictEqual(PermissionRule.unsafeParse("Task(explore)"), {
        _tag: "Specifier",
        tool: "Task",
        text: "Task(explore)",
        specifier: "explore"
      })
    })

    it("keeps tool names it does not know (MCP tools), as written", () => {
      assert.deepStrictEqual(PermissionRule.unsafeParse("mcp__github__create_issue"), {
        _tag: "Tool",
        tool: "mcp__github__create_issue",
        text: "mcp__github__create_issue"
      })
    })

    it("refuses a known tool name in another case, so a case trick can neither allow nor disable a deny", () => {
      for (
        const text of [
          "bash(rm:*)",
          "BASH(rm:*)",
          "READ",
          "read(.env)",
          "edit(src/**)",
          "webfetch",
          "Bash(ls)".toLowerCase()
        ]
      ) {
        assert.include(reasonOf(text), "tool names are case-sensitive", text)
      }
      assert.include(reasonOf("bash(rm:*)"), "write \"Bash\", not \"bash\"")
    })

    it("refuses malformed rules with a reason", () => {
      assert.include(reasonOf("Bash(npm test"), "never closed")
      assert.include(reasonOf("Bash (npm test)"), "expected")
      assert.include(reasonOf("Bash()"), "empty specifier")
      assert.include(reasonOf("Bash(:*)"), "no command")
      assert.include(reasonOf("Read(../secrets/**)"), "\"..\" is not supported")
      assert.include(reasonOf("Read(!src/**)"), "negated")
      assert.include(reasonOf("Read(~bob/x)"), "~user")
      assert.include(reasonOf("Edit(src/{a,b)"), "never closed")
    })

    it("refuses a Bash rule that is not one literal command: operators, expansions, a '*' other than ':*'", () => {
      assert.include(reasonOf("Bash(npm test; rm x)"), "one simple command")
      assert.include(reasonOf("Bash(npm test && rm x)"), "one simple command")
      assert.include(reasonOf("Bash(npm test > out)"), "one simple command")
      assert.include(reasonOf("Bash(echo $(id))"), "expansion")
      assert.include(reasonOf("Bash(echo $HOME)"), "expansion")
      assert.include(reasonOf("Bash(git push *)"), "trailing \":*\"")
      assert.include(reasonOf("Bash(npm test*)"), "trailing \":*\"")
      assert.isTrue(Either.isRight(PermissionRule.parse("Bash(echo '*')")))
    })

    it("Bash(*) and Task(*) are the bare tool", () => {
      assert.strictEqual(PermissionRule.unsafeParse("Bash(*)")._tag, "Tool")
      assert.strictEqual(PermissionRule.unsafeParse("Task(*)")._tag, "Tool")
    })
  })

  describe("commands", () => {
    it("an exact rule matches exactly that command, with any spacing or quoting", () => {
      assert.isTrue(allows("Bash(git status)", "git status"))
      assert.isTrue(allows("Bash(git status)", "git   status"))
      assert.isTrue(allows("Bash(git status)", "\"git\" 'status'"))
      assert.isFalse(allows("Bash(git status)", "git status --short"))
      assert.isFalse(allows("Bash(git status)", "git"))
    })

    it("a prefix rule matches at a word boundary: npm test:* is npm test and npm test --watch, not npm testing", () => {
      assert.isTrue(allows("Bash(npm test:*)", "npm test"))
      assert.isTrue(allows("Bash(npm test:*)", "npm test --watch"))
      assert.isFalse(allows("Bash(npm test:*)", "npm testing"))
      assert.isFalse(allows("Bash(npm test:*)", "npm"))
      assert.isFalse(allows("Bash(npm test:*)", "npm \"test --watch\""))
    })

    it("allow rules compare case-sensitively and never match a program named at run time", () => {
      assert.isFalse(allows("Bash(npm test:*)", "NPM test"))
      assert.isFalse(allows("Bash(ls:*)", "$CMD -la"))
      assert.isTrue(allows("Bash", "$CMD -la"))
    })

    it("quoted rule words match the command's words after quote removal", () => {
      assert.isTrue(allows("Bash(npm run \"build\")", "npm run build"))
      assert.isTrue(allows("Bash(echo 'a b')", "echo \"a b\""))
      assert.isFalse(allows("Bash(echo 'a b')", "echo a b"))
    })

    it("an exact rule does not allow a command that gets more arguments at run time (xargs)", () => {
      assert.isFalse(allows("Bash(git status)", "xargs git status"))
      assert.isTrue(allows("Bash(git status:*)", "xargs git status"))
    })

    it("deny rules match regardless of case, through a program's path, and with options in between", () => {
      assert.isTrue(denies("Bash(rm:*)", "RM -rf /"))
      assert.isTrue(denies("Bash(rm:*)", "/bin/rm -rf /"))
      assert.isTrue(denies("Bash(git push:*)", "git -C . push origin"))
      assert.isTrue(denies("Bash(git push)", "git push --force"))
      assert.isFalse(denies("Bash(git push:*)", "git status"))
      assert.isFalse(denies("Bash(rm:*)", "npm test"))
    })
  })

  describe("paths", () => {
    it("relative patterns are relative to the project root; a pattern without a slash matches at any depth", () => {
      assert.isTrue(strict("Read(src/**)", "/work/app/src/a/b.ts"))
      assert.isFalse(strict("Read(src/**)", "/work/app/lib/src/a.ts"))
      assert.isFalse(strict("Read(src/**)", "/work/app/srcx/a.ts"))
      assert.isTrue(strict("Read(*.env)", "/work/app/config/prod.env"))
      assert.isTrue(strict("Read(.env)", "/work/app/.env"))
      assert.isTrue(strict("Read(.env)", "/work/app/a/.env"))
      assert.isFalse(strict("Read(.env)", "/work/app/.env.local"))
      assert.isTrue(strict("Read(**/*.ts)", "/work/app/a.ts"))
      assert.isTrue(strict("Read(**/*.ts)", "/work/app/a/b/c.ts"))
      assert.isFalse(strict("Read(**/*.ts)", "/elsewhere/a.ts"))
    })

    it("/path is the project root, ./path too, //path the file system's, ~/path the home", () => {
      assert.isTrue(strict("Read(/README.md)", "/work/app/README.md"))
      assert.isFalse(strict("Read(/README.md)", "/work/app/docs/README.md"))
      assert.isFalse(strict("Read(/README.md)", "/README.md"))
      assert.isTrue(strict("Read(./.env)", "/work/app/.env"))
      assert.isFalse(strict("Read(./.env)", "/work/app/src/.env"))
      assert.isTrue(strict("Read(//etc/hosts)", "/etc/hosts"))
      assert.isFalse(strict("Read(//etc/hosts)", "/work/app/etc/hosts"))
      assert.isTrue(strict("Read(~/.ssh/**)", "/home/ada/.ssh/id_rsa"))
      assert.isFalse(strict("Read(~/.ssh/**)", "/work/app/.ssh/id_rsa"))
    })

    it("globs: * and ? stay in a segment, [..] classes, {a,b} alternatives, \\ escapes", () => {
      assert.isFalse(strict("Read(/src/*.ts)", "/work/app/src/a/b.ts"))
      assert.isTrue(strict("Read(/src/?.ts)", "/work/app/src/a.ts"))
      assert.isFalse(strict("Read(/src/?.ts)", "/work/app/src/ab.ts"))
      assert.isTrue(strict("Read(/src/[ab].ts)", "/work/app/src/b.ts"))
      assert.isFalse(strict("Read(/src/[!ab].ts)", "/work/app/src/b.ts"))
      assert.isTrue(strict("Read(**/*.{ts,tsx})", "/work/app/x/y.tsx"))
      assert.isFalse(strict("Read(**/*.{ts,tsx})", "/work/app/x/y.js"))
      assert.isTrue(strict("Read(/a\\*b)", "/work/app/a*b"))
      assert.isFalse(strict("Read(/a\\*b)", "/work/app/axxb"))
      assert.isTrue(strict("Read(/src/*)", "/work/app/src/.hidden"))
    })

    it("an allow rule names the paths it allows; a deny rule also covers what is under a path it names", () => {
      assert.isFalse(strict("Edit(.git)", "/work/app/.git/config"))
      assert.isTrue(loose("Edit(.git)", "/work/app/.git/config"))
      assert.isTrue(loose("Read(~)", "/home/ada/.ssh/id_rsa"))
      assert.isTrue(loose("Read(//etc)", "/etc/passwd"))
    })

    it("deny rules match regardless of case and Unicode normalisation; allow rules do not", () => {
      assert.isTrue(loose("Read(.env)", "/work/app/.ENV"))
      assert.isFalse(strict("Read(.env)", "/work/app/.ENV"))
      assert.isTrue(loose("Read(/WORK/x)", "/work/app/work/X"))
      assert.isTrue(loose("Read(/caf\u00e9)", "/work/app/cafe\u0301"))
    })

    it("Read covers Read, Glob and Grep; Edit covers Edit and Write; a Read-family deny covers writes", () => {
      const covers = PermissionRule.coversPathTool
      assert.isTrue(covers("Read", "Glob", false, false))
      assert.isTrue(covers("Read", "Grep", false, false))
      assert.isFalse(covers("Read", "Edit", true, false))
      assert.isTrue(covers("Edit", "Write", true, false))
      assert.isFalse(covers("Edit", "Read", false, false))
      assert.isTrue(covers("Glob", "Glob", false, false))
      assert.isFalse(covers("Glob", "Read", false, false))
      assert.isTrue(covers("Glob", "Read", false, true))
      assert.isTrue(covers("Read", "Edit", true, true))
      assert.isFalse(covers("Edit", "Read", false, true))
    })

    it.prop(
      "a path escaped with escapeGlob and anchored at the root matches that path and no other",
      [fc.array(fc.stringMatching(/^[a-z*?[\]{},!\\. -]{1,6}$/), { minLength: 1, maxLength: 3 })],
      ([segments]) => {
        const clean = segments.filter((segment) => segment !== "." && segment !== "..")
        if (clean.length === 0) return
        const path = `/work/app/${clean.join("/")}`
        const rule = PermissionRule.parse(`Read(/${PermissionRule.escapeGlob(clean.join("/"))})`)
        assert.isTrue(Either.isRight(rule))
        const pattern = (Either.getOrThrow(rule) as Extract<PermissionRule.Rule, { _tag: "Path" }>).pattern
        assert.isTrue(PermissionRule.matchesPath(pattern, path, anchors, false))
        assert.isFalse(PermissionRule.matchesPath(pattern, `${path}x`, anchors, false))
      }
    )
  })

  describe("normalize", () => {
    it("removes ., .. and repeated slashes as path.resolve does", () => {
      assert.strictEqual(PermissionRule.normalize("/a/./b//c/../d/"), "/a/b/d")
      assert.strictEqual(PermissionRule.normalize("/../.."), "/")
      assert.strictEqual(PermissionRule.absolute("src/../../x", "/work/app"), "/work/x")
      assert.strictEqual(PermissionRule.absolute("/etc/passwd", "/work/app"), "/etc/passwd")
    })
  })
})
