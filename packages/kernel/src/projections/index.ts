/**
 * The built-in projections, by the name `weft project <name>` takes:
 *
 * - `transcript`: each session's conversation, per agent, for reading;
 * - `usage`: tokens and cost by day, session, model or agent;
 * - `tools`: calls, errors and time per tool;
 * - `files`: the files each session changed, with the snapshots taken before;
 * - `permissions`: every permission decision with its rule and layer — an audit log;
 * - `tree`: each session's delegations, agent by agent.
 */
import type * as Projection from "../Projection.js"
import * as Files from "./Files.js"
import * as Permissions from "./Permissions.js"
import * as Tools from "./Tools.js"
import * as Transcript from "./Transcript.js"
import * as Tree from "./Tree.js"
import * as Usage from "./Usage.js"

export const builtins: Readonly<Record<string, Projection.Any>> = {
  transcript: Transcript.projection,
  usage: Usage.projection,
  tools: Tools.projection,
  files: Files.projection,
  permissions: Permissions.projection,
  tree: Tree.projection
}
