/**
 * Running bench programs in child processes, so that each measures only itself: its own heap,
 * its own garbage collection, its own peak RSS. A program is a bundle made by `Bundle.ts`,
 * run with plain `node` (plus `WEFT_BENCH_NODE_FLAGS`, if set); its arguments are one JSON argv.
 *
 * Node built-ins only: the parent imports this as it is.
 */
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import * as path from "node:path"

/** Extra node flags for every child, e.g. `WEFT_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=prof"` to profile. */
const flags = (process.env["WEFT_BENCH_NODE_FLAGS"] ?? "").split(" ").filter((flag) => flag !== "")

const start = (program: string, args: unknown, ipc: boolean): ChildProcess =>
  spawn(process.execPath, [...flags, program, JSON.stringify(args)], {
    stdio: ["ignore", "pipe", "inherit", ...(ipc ? ["ipc" as const] : [])]
  })

const collect = (child: ChildProcess): Promise<string> =>
  new Promise((resolve, reject) => {
    let out = ""
    child.stdout!.setEncoding("utf8")
    child.stdout!.on("data", (data: string) => (out += data))
    child.on("error", reject)
    child.on("exit", (code, signal) => {
      if (code === 0) resolve(out)
      else reject(new Error(`${path.basename(child.spawnargs[1] ?? "child")} exited with ${signal ?? code}`))
    })
  })

/** Runs `program` with `args` to completion; its result is the JSON line it printed last. */
export const run = async <A>(program: string, args: unknown): Promise<A> => {
  const out = await collect(start(program, args, false))
  const last = out.trim().split("\n").pop()
  if (last === undefined || last === "") throw new Error(`${path.basename(program)} printed no result`)
  return JSON.parse(last) as A
}

/** A child that answers requests one at a time over IPC, until it is told to `close`. */
export interface Server {
  readonly request: <A>(message: unknown) => Promise<A>
  /** Resolves once the child has exited cleanly. */
  readonly exited: Promise<string>
}

export const serve = (program: string, args: unknown): Server => {
  const child = start(program, args, true)
  const exited = collect(child)
  let waiting: { resolve: (a: any) => void; reject: (e: unknown) => void } | undefined
  child.on("message", (message) => {
    const w = waiting
    waiting = undefined
    w?.resolve(message)
  })
  exited.catch((error) => waiting?.reject(error))
  return {
    request: (message) =>
      new Promise((resolve, reject) => {
        waiting = { resolve, reject }
        child.send(message as object)
      }),
    exited
  }
}
