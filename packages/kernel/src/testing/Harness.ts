/**
 * A whole agent on fake layers, for tests: the real loop, decider, tools and permission
 * policy, over an in-memory log and snapshot store with deterministic ids, a model that
 * answers from a script (or a function), and a prompt that answers from a list (or denies).
 * Provide `NodeContext.layer` (the tools use the file system and processes).
 */
import type { CommandExecutor } from "@effect/platform"
import type { FileSystem, Path } from "@effect/platform"
import { Effect, Layer } from "effect"
import { layer as agentLoopLayer } from "../AgentLoop.js"
import type { AgentLoop, Options as AgentLoopOptions } from "../AgentLoop.js"
import * as EventLog from "../EventLog.js"
import * as Ids from "../Ids.js"
import type { ModelClient } from "../ModelClient.js"
import * as PermissionPolicy from "../PermissionPolicy.js"
import * as PermissionPrompt from "../PermissionPrompt.js"
import * as Settings from "../Settings.js"
import * as SnapshotStore from "../SnapshotStore.js"
import type { Tool } from "../Tool.js"
import * as ToolRegistry from "../ToolRegistry.js"

export interface Options {
  readonly model: Layer.Layer<ModelClient>
  /** Answers to permission questions; by default every question is denied, as in a non-interactive run. */
  readonly prompt?: Layer.Layer<PermissionPrompt.PermissionPrompt>
  readonly settings?: PermissionPolicy.PolicySettings
  /** The tools; the built-in ones by default. */
  readonly tools?: Effect.Effect<
    ReadonlyArray<Tool>,
    never,
    FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor
  >
  readonly home?: string
  /** The event log; in memory by default. */
  readonly log?: Layer.Layer<EventLog.EventLog, never, Ids.Ids>
  readonly loop?: AgentLoopOptions
}

export type Services =
  | AgentLoop
  | EventLog.EventLog
  | SnapshotStore.SnapshotStore
  | ToolRegistry.ToolRegistry
  | PermissionPolicy.PermissionPolicy

export const layer = (
  options: Options
): Layer.Layer<Services, never, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> => {
  const tools = Layer.effect(
    ToolRegistry.ToolRegistry,
    Effect.flatMap(options.tools ?? ToolRegistry.builtins, ToolRegistry.make)
  )
  const log = (options.log ?? EventLog.layerMemory).pipe(Layer.provide(Ids.layerTest))
  const policy = PermissionPolicy.layer(options.settings ?? Settings.empty, {
    home: options.home ?? "/nonexistent-home"
  })
  const services = Layer.mergeAll(
    log,
    tools,
    policy,
    options.prompt ?? PermissionPrompt.layerDeny,
    SnapshotStore.layerMemory,
    options.model,
    Ids.layerTest
  )
  return agentLoopLayer(options.loop).pipe(Layer.provideMerge(services))
}
