import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as BashCommand from "../src/BashCommand.js"

const parsed = (command: string): ReadonlyArray<BashCommand.SimpleCommand> => {
  const result = BashCommand.parse(command)
  assert.strictEqual(result._tag, "Parsed", `${JSON.stringify(command)}: ${JSON.stringify(result)}`)
  return (result as Extract<BashCommand.Parsed, { _tag: "Parsed" }>).commands
}

/** The word lists of the commands, sorted (substitutions come out before the command holding them). */
const words = (command: string) => parsed(command).map((c) => c.words.join(" ")).sort()

const unparsed = (command: string): string => {
  const result = BashCommand.parse(command)
  assert.strictEqual(result._tag, "Unparsed", `${JSON.stringify(command)} should not parse`)
  return result._tag === "Unparsed" ? result.reason : ""
}

describe("BashCommand", () => {
  describe("splitting", () => {
    it("splits on &&, ||, ;, |, |&, & and newlines", () => {
      for (const separator of ["&&", "||", ";", "|", "|&", "&", "\n", " ; ", "\n\n"]) {
        assert.deepStrictEqual(words(`npm test${separator}rm -rf x`), ["npm test", "rm -rf x"], separator)
      }
    })

    it("a \\r is not a separator: it stays in the word, so npm test\\r is not npm test", () => {
      assert.deepStrictEqual(words("npm test\r\nrm x"), ["npm test\r", "rm x"])
    })

    it("finds the commands inside ( … ) and { …; } groups", () => {
      assert.deepStrictEqual(words("(cd src && npm test)"), ["cd src", "npm test"])
      assert.deepStrictEqual(words("{ npm test; rm x; }"), ["npm test", "rm x"])
      assert.deepStrictEqual(words("( (a) ; { b; } )"), ["a", "b"])
    })

    it("finds the commands inside $( … ), backquotes, process substitutions, nested and in double quotes", () => {
      assert.deepStrictEqual(words("npm test $(curl x)"), ["curl x", "npm test $(curl x)"])
      assert.deepStrictEqual(words("npm test `curl x`"), ["curl x", "npm test `curl x`"])
      assert.deepStrictEqual(words("echo \"$(rm -rf /)\""), ["echo $(rm -rf /)", "rm -rf /"])
      assert.deepStrictEqual(words("echo $(a $(b))"), ["a $(b)", "b", "echo $(a $(b))"])
      assert.deepStrictEqual(words("echo `a \\`b\\``"), ["a `b`", "b", "echo `a \\`b\\``"])
      assert.deepStrictEqual(words("diff <(curl x) >(tee y)"), ["curl x", "diff <(curl x) >(tee y)", "tee y"])
    })

    it("runs an unquoted here-document's substitutions, not a quoted one's", () => {
      assert.deepStrictEqual(words("cat <<EOF\nhello $(curl x)\nEOF\nls"), ["cat", "curl x", "ls"])
      assert.deepStrictEqual(words("cat <<'EOF'\nhello $(curl x)\nEOF\nls"), ["cat", "ls"])
      assert.deepStrictEqual(words("cat <<-\"EOF\"\n\t$(curl x)\n\tEOF\nls"), ["cat", "ls"])
    })

    it("a comment is not a command", () => {
      assert.deepStrictEqual(words("npm test # && rm -rf /"), ["npm test"])
      assert.deepStrictEqual(words("npm test a#b"), ["npm test a#b"])
      assert.deepStrictEqual(words("npm test \\# ; rm x"), ["npm test #", "rm x"])
    })
  })

  describe("quoting", () => {
    it("removes quotes and backslashes, so every spelling of rm reads rm", () => {
      for (
        const spelling of [
          "rm",
          "r''m",
          "\"rm\"",
          "\\rm",
          "r\\m",
          "'r'\"m\"",
          "$'rm'",
          "$'\\x72m'",
          "$'\\162m'",
          "r\\\nm"
        ]
      ) {
        assert.deepStrictEqual(parsed(`${spelling} -rf /`)[0]!.words, ["rm", "-rf", "/"], spelling)
      }
    })

    it("keeps quoted spaces inside a word and collapses unquoted blanks", () => {
      assert.deepStrictEqual(parsed("echo 'a  b'\t \"c d\"")[0]!.words, ["echo", "a  b", "c d"])
    })

    it("marks a program named at run time as dynamic: variables, globs, brace expansion, tildes", () => {
      for (
        const command of ["$CMD x", "${CMD} x", "r* x", "{rm,-rf,/}", "~/bin/tool", "$(echo rm) x", "npm$IFS test"]
      ) {
        assert.isTrue(parsed(command).some((c) => c.dynamic), command)
      }
      for (const command of ["'$CMD' x", "\"r*\" x", "rm {}"]) {
        assert.isFalse(parsed(command)[0]!.dynamic, command)
      }
    })
  })

  describe("assignments and wrappers", () => {
    it("drops leading assignments that do not change what runs", () => {
      assert.deepStrictEqual(words("FOO=1 BAR=\"a b\" rm -rf /"), ["rm -rf /"])
    })

    it("keeps a command as written beside what it runs when an assignment changes what runs (PATH …)", () => {
      for (
        const variable of ["PATH", "LD_PRELOAD", "BASH_ENV", "NODE_OPTIONS", "GIT_SSH_COMMAND", "DYLD_INSERT_LIBRARIES"]
      ) {
        const commands = parsed(`${variable}=/tmp/x npm test`)
        assert.deepStrictEqual(commands.map((c) => c.words.join(" ")), [`${variable}=/tmp/x npm test`, "npm test"])
        assert.include(commands[0]!.guard!, variable)
      }
      assert.deepStrictEqual(words("PATH=/tmp"), ["PATH=/tmp"])
      assert.deepStrictEqual(words("X=1"), [])
    })

    it("looks through env, nohup, timeout, nice, stdbuf, time, exec, command and builtin", () => {
      for (
        const wrapper of [
          "env",
          "env -i",
          "env -u HOME A=1",
          "env -",
          "nohup",
          "timeout 5",
          "timeout -s KILL 5s",
          "nice",
          "nice -n 5",
          "nice -10",
          "stdbuf -oL",
          "time",
          "time -p",
          "exec",
          "exec -a name",
          "command",
          "command -p",
          "builtin",
          "nohup nice timeout 1 env"
        ]
      ) {
        assert.deepStrictEqual(words(`${wrapper} rm -rf /`), ["rm -rf /"], wrapper)
      }
    })

    it("env with an assignment that changes what runs, or another directory, keeps the command as written too", () => {
      assert.deepStrictEqual(words("env PATH=/tmp npm test"), ["env PATH=/tmp npm test", "npm test"])
      assert.deepStrictEqual(words("env -C /tmp/x npm test"), ["env -C /tmp/x npm test", "npm test"])
      assert.deepStrictEqual(words("env --chdir=/tmp/x npm test"), ["env --chdir=/tmp/x npm test", "npm test"])
    })

    it("checks sudo and doas both as written and through", () => {
      assert.deepStrictEqual(words("sudo -u root rm -rf /"), ["rm -rf /", "sudo -u root rm -rf /"])
      assert.deepStrictEqual(words("doas rm x"), ["doas rm x", "rm x"])
      assert.isString(parsed("sudo rm x").find((c) => c.words[0] === "sudo")!.guard)
    })

    it("parses the script of bash -c, sh -c, zsh -c and eval", () => {
      assert.deepStrictEqual(words("bash -c \"rm -rf /\""), ["rm -rf /"])
      assert.deepStrictEqual(words("sh -c 'curl x | sh'"), ["curl x", "sh"])
      assert.deepStrictEqual(words("/bin/zsh -lc 'a; b'"), ["a", "b"])
      assert.deepStrictEqual(words("bash -e -o pipefail -c 'a && b' argv0"), ["a", "b"])
      assert.deepStrictEqual(words("eval 'rm -rf /'"), ["rm -rf /"])
      assert.deepStrictEqual(words("eval rm '-rf /'"), ["rm -rf /"])
      assert.deepStrictEqual(words("sh -c \"sh -c 'rm x'\""), ["rm x"])
      assert.deepStrictEqual(words("bash script.sh"), ["bash script.sh"])
    })

    it("the command of xargs and find -exec gets more arguments at run time (open-ended)", () => {
      const xargs = parsed("xargs -0 -n 1 rm")
      assert.deepStrictEqual(xargs.map((c) => [c.words.join(" "), c.openEnded]), [["rm", true]])
      const find = parsed("find . -name '*.tmp' -exec rm {} \\; -print")
      assert.deepStrictEqual(find.map((c) => [c.words[0], c.openEnded]), [["find", false], ["rm", true]])
      assert.deepStrictEqual(parsed("xargs").map((c) => c.words), [["echo"]])
    })

    it("a program given by path also reads as its name (for deny rules)", () => {
      assert.deepStrictEqual(parsed("/usr/bin/rm -rf /")[0]!.aliases, [["rm", "-rf", "/"]])
    })
  })

  describe("redirections", () => {
    it("reports each redirection's kind and target", () => {
      const [command] = parsed("npm test > out.log 2>&1 < in.txt >> all.log &> both 2>/dev/null <<< text >&-")
      assert.deepStrictEqual(command!.words, ["npm", "test"])
      assert.deepStrictEqual(command!.redirects.map((r) => [r.op, r.kind, r.target]), [
        [">", "write", "out.log"],
        [">&", "dup", "1"],
        ["<", "read", "in.txt"],
        [">>", "write", "all.log"],
        ["&>", "write", "both"],
        [">", "write", "/dev/null"],
        ["<<<", "text", "text"],
        [">&", "dup", "-"]
      ])
    })

    it("a computed target is dynamic; >&file writes the file; a group's redirection stands alone", () => {
      assert.isTrue(parsed("npm test > $OUT")[0]!.redirects[0]!.dynamic)
      assert.isTrue(parsed("npm test > ~/.bashrc")[0]!.redirects[0]!.dynamic)
      assert.deepStrictEqual(parsed("npm test >&log")[0]!.redirects[0]!.kind, "write")
      const group = parsed("(npm test) > out")
      assert.deepStrictEqual(group.map((c) => [c.words, c.redirects.map((r) => r.target)]), [
        [["npm", "test"], []],
        [[], ["out"]]
      ])
      assert.deepStrictEqual(parsed("> truncated")[0]!.words, [])
    })
  })

  describe("what it does not model", () => {
    it("says why, instead of guessing", () => {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["echo 'unbalanced", "single quote"],
        ["echo \"unbalanced", "double quote"],
        ["echo `unbalanced", "backquote"],
        ["echo $(unbalanced", "never closed"],
        ["(npm test", "never closed"],
        ["{ npm test; ", "never closed"],
        ["npm test )", "closes nothing"],
        ["if true; then rm x; fi", "\"if\""],
        ["for f in *; do rm $f; done", "\"for\""],
        ["while true; do :; done", "\"while\""],
        ["case x in a) rm;; esac", "\"case\""],
        ["f() { rm x; }; f", "function"],
        ["function f { rm x; }", "\"function\""],
        ["[[ -f x ]] && rm x", "[["],
        ["echo $((1 + 2))", "arithmetic"],
        ["echo $[1 + 2]", "arithmetic"],
        ["((x++))", "arithmetic"],
        ["a=(rm -rf /)", "("],
        ["echo ${x:-$(rm y)}", "parameter expansion"],
        ["echo ${!name}", "parameter expansion"],
        ["echo ${x@P}", "parameter expansion"],
        ["bash -c \"$CMD\"", "computed"],
        ["eval \"$CMD\"", "computed"],
        ["env -S 'rm -rf /'", "env option"],
        ["npm test >", "without a target"],
        ["find . -exec rm {}", "without a closing"]
      ]
      for (const [command, reason] of cases) assert.include(unparsed(command), reason, command)
    })

    it.prop("parse is total: any string gives commands or a reason, never an exception", [
      fc.string({ unit: fc.constantFrom(..."ab $(){}[]'\"`\\;&|<>#=\n\t~*-c".split("")), maxLength: 40 })
    ], ([command]) => {
      const result = BashCommand.parse(command)
      assert.isTrue(result._tag === "Parsed" || (result._tag === "Unparsed" && result.reason.length > 0))
    })

    it.prop(
      "simple commands of plain words joined by separators come back one by one",
      [
        fc.array(fc.array(fc.stringMatching(/^[a-z][a-z0-9._-]{0,5}$/), { minLength: 1, maxLength: 4 }), {
          minLength: 1,
          maxLength: 5
        }),
        fc.array(fc.constantFrom("&&", "||", ";", "|", "&", "\n", " ; ", "|&"), { minLength: 5, maxLength: 5 })
      ],
      ([commands, separators]) => {
        const filtered = commands.filter((c) =>
          !["if", "in", "do", "for", "case", "while", "until", "select"].includes(c[0]!)
        )
        const text = filtered.map((c, i) => `${c.join(" ")}${i < filtered.length - 1 ? separators[i] : ""}`).join("")
        const result = BashCommand.parse(text)
        assert.strictEqual(result._tag, "Parsed")
        if (result._tag === "Parsed") {
          const unwrapped = filtered.filter((c) =>
            ![
              "env",
              "nohup",
              "time",
              "exec",
              "command",
              "builtin",
              "nice",
              "timeout",
              "stdbuf",
              "xargs",
              "eval",
              "sudo",
              "doas",
              "find",
              "bash",
              "sh",
              "zsh",
              "dash",
              "ksh",
              "mksh",
              "ash"
            ].includes(c[0]!)
          )
          if (unwrapped.length === filtered.length) {
            assert.deepStrictEqual(result.commands.map((c) => c.words), filtered)
          }
        }
      }
    )
  })

  describe("ruleWords", () => {
    it("reads one simple command of literal words", () => {
      assert.deepStrictEqual(BashCommand.ruleWords("npm  run \"build\""), {
        _tag: "Words",
        words: ["npm", "run", "build"]
      })
      assert.strictEqual(BashCommand.ruleWords("a | b")._tag, "Invalid")
      assert.strictEqual(BashCommand.ruleWords("a $(b)")._tag, "Invalid")
      assert.strictEqual(BashCommand.ruleWords("")._tag, "Invalid")
    })
  })
})
