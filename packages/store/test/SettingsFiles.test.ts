import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { SettingsError } from "@weft/kernel/Settings"
import { Effect } from "effect"
import { load } from "../src/SettingsFiles.js"

/** A weft home and a project in a temp dir; `put` writes a file (creating its directory). */
const setup = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const base = yield* fs.makeTempDirectoryScoped()
  const home = path.join(base, "weft-home")
  const project = path.join(base, "project")
  const put = (file: string, content: string) =>
    Effect.gen(function*() {
      yield* fs.makeDirectory(path.dirname(file), { recursive: true })
      yield* fs.writeFileString(file, content)
    })
  return {
    home,
    project,
    put,
    user: path.join(home, "settings.json"),
    userLocal: path.join(home, "settings.local.json"),
    projectFile: path.join(project, ".weft", "settings.json"),
    projectLocal: path.join(project, ".weft", "settings.local.json")
  }
})

describe("SettingsFiles", () => {
  it.layer(NodeContext.layer)((it) => {
    it.scoped("with no files and no flags, the result is the default mode and no sources", () =>
      Effect.gen(function*() {
        const { home, project } = yield* setup
        const resolved = yield* load({ home, project })
        assert.deepStrictEqual(resolved.sources, [])
        assert.deepStrictEqual(resolved.rules, [])
        assert.strictEqual(resolved.mode, "default")
      }))

    it.scoped("loads the four files and the flags, in precedence order, each rule keeping its layer", () =>
      Effect.gen(function*() {
        const s = yield* setup
        yield* s.put(
          s.user,
          JSON.stringify({ model: "user", permissions: { deny: ["Bash(rm:*)"], defaultMode: "plan" } })
        )
        yield* s.put(s.userLocal, JSON.stringify({ model: "user-local" }))
        yield* s.put(s.projectFile, JSON.stringify({ permissions: { allow: ["Bash(npm test:*)"] }, maxDepth: 2 }))
        yield* s.put(
          s.projectLocal,
          JSON.stringify({ model: "project-local", permissions: { defaultMode: "acceptEdits" } })
        )
        const resolved = yield* load({
          home: s.home,
          project: s.project,
          flags: { permissions: { allow: ["Bash(ls:*)"] } }
        })
        assert.deepStrictEqual(resolved.sources, [
          { layer: "user", path: s.user },
          { layer: "user-local", path: s.userLocal },
          { layer: "project", path: s.projectFile },
          { layer: "project-local", path: s.projectLocal },
          { layer: "flags", path: null }
        ])
        assert.strictEqual(resolved.model, "project-local")
        assert.strictEqual(resolved.maxDepth, 2)
        assert.strictEqual(resolved.mode, "acceptEdits")
        assert.deepStrictEqual(resolved.rules.map((entry) => [entry.behavior, entry.rule.text, entry.layer]), [
          ["deny", "Bash(rm:*)", "user"],
          ["allow", "Bash(npm test:*)", "project"],
          ["allow", "Bash(ls:*)", "flags"]
        ])
        assert.deepStrictEqual(resolved.settings["permissions"], {
          deny: ["Bash(rm:*)"],
          defaultMode: "acceptEdits",
          allow: ["Bash(npm test:*)", "Bash(ls:*)"]
        })
      }))

    it.scoped("a file that is not JSON is a SettingsError with its path and the parser's reason", () =>
      Effect.gen(function*() {
        const s = yield* setup
        yield* s.put(s.projectFile, "{ \"permissions\": { \"allow\": [\"Bash\",] } }")
        const error = yield* load({ home: s.home, project: s.project }).pipe(Effect.flip)
        assert.instanceOf(error, SettingsError)
        assert.strictEqual(error.path, s.projectFile)
        assert.match(
          error.message,
          new RegExp(`^${s.projectFile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: not valid JSON: .+; fix or remove it$`)
        )
        assert.notInclude(error.message, "\n")
      }))

    it.scoped("a bad value names the file and the key; an unknown key is a warning", () =>
      Effect.gen(function*() {
        const s = yield* setup
        yield* s.put(s.user, JSON.stringify({ permissions: { defaultMode: "yolo" } }))
        const error = yield* load({ home: s.home, project: s.project }).pipe(Effect.flip)
        assert.strictEqual(error.key, "permissions.defaultMode")
        assert.include(error.message, `${s.user}: permissions.defaultMode: expected one of`)
        yield* s.put(s.user, JSON.stringify({ colour: "blue" }))
        const resolved = yield* load({ home: s.home, project: s.project })
        assert.deepStrictEqual(resolved.warnings, [{ path: s.user, key: "colour" }])
      }))

    it.scoped("a bad flag is a SettingsError naming the command-line flags", () =>
      Effect.gen(function*() {
        const s = yield* setup
        const error = yield* load({ home: s.home, project: s.project, flags: { permissions: { allow: ["bash(ls)"] } } })
          .pipe(Effect.flip)
        assert.strictEqual(error.path, null)
        assert.include(error.message, "command-line flags: permissions.allow[0]")
      }))

    it.scoped("a settings path that cannot be read as a file is a SettingsError, not an absent layer", () =>
      Effect.gen(function*() {
        const s = yield* setup
        const fs = yield* FileSystem.FileSystem
        yield* fs.makeDirectory(s.user, { recursive: true })
        const error = yield* load({ home: s.home, project: s.project }).pipe(Effect.flip)
        assert.strictEqual(error.path, s.user)
        assert.include(error.message, "could not read it")
      }))
  })
})
