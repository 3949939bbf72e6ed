// The example test of README.md ("Testing your own tools and policies"), kept running here.
import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, it } from "@effect/vitest"
import { AgentLoop } from "@weft/kernel/AgentLoop"
import { EventLog } from "@weft/kernel/EventLog"
import * as ModelClient from "@weft/kernel/ModelClient"
import * as Replay from "@weft/kernel/Replay"
import { Harness } from "@weft/kernel/testing"
import { Effect, Stream } from "effect"

it.scoped("the agent reads the file it is asked about, and the run replays exactly", () =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped()
    yield* fs.writeFileString(`${dir}/notes.txt`, "buy milk\n")

    const session = yield* (yield* AgentLoop).start({ project: dir, model: "test" })
    const result = yield* session.send("what is in notes.txt?")
    assert.strictEqual(result.text, "You need to buy milk.")

    const events = yield* Stream.runCollect((yield* EventLog).read(session.sessionId))
    const report = yield* Replay.verify(session.sessionId, events)
    assert.strictEqual(report.decisions, 4)
  }).pipe(
    Effect.provide(Harness.layer({
      model: ModelClient.layerScripted([
        { content: [{ type: "tool_use", id: "t1", name: "read", input: { path: "notes.txt" } }] },
        { content: [{ type: "text", text: "You need to buy milk." }] }
      ])
    })),
    Effect.provide(NodeContext.layer)
  ))
