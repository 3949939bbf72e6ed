/**
 * `weft diff <session> [--turn N]`: a unified diff, file by file, from what the files a session
 * changed held when user turn N began (default: the last turn) to what they hold now — what
 * `weft rewind` would undo. Created files diff from /dev/null, removed ones to it; binary
 * files say "binary files differ". Prints nothing when nothing differs.
 */
import { Command } from "@effect/cli"
import * as Rewind from "@weft/kernel/Rewind"
import { Effect, Option } from "effect"
import * as Output from "./Output.js"
import { sessionArg, turnOption } from "./RewindCommand.js"
import * as SessionLookup from "./SessionLookup.js"

export const diff = Command.make(
  "diff",
  {
    session: sessionArg,
    turn: turnOption("Diff against the start of user turn N (default: the last turn).")
  },
  ({ session, turn }) =>
    Effect.gen(function*() {
      const ref = yield* SessionLookup.resolve(session)
      const result = yield* Rewind.diff(ref.sessionId, Option.getOrElse(turn, () => "last" as const))
      yield* Output.text(result.files.map((file) => file.patch).join(""))
    })
).pipe(
  Command.withDescription("Show what changed in a session's files since a user turn began, as a unified diff.")
)
