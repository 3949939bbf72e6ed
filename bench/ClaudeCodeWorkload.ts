/**
 * A realistic, seeded Claude Code conversation, line by line, in the format Claude Code writes
 * to `~/.claude/projects/<encoded cwd>/<session>.jsonl` (2.0.x): `JSON.stringify` of each entry,
 * keys in Claude Code's order, non-ASCII written as it is.
 *
 * A turn is a `file-history-snapshot` (most of the time), the user's prompt, then model steps.
 * Each step is one response streamed as 2–4 `assistant` lines — one content block each
 * (thinking, text, tool_use), sharing `message.id` and `requestId`, `output_tokens` growing to
 * the final count on the last line — followed by a `user` line with the `tool_result` of every
 * tool call (and Claude Code's `toolUseResult`: a Read's file again, a command's output, a Task's
 * result with its own `usage`). Now and then a `system` line; a file may begin with `summary`
 * lines. A sidechain (a Task subagent's transcript, `<session>/subagents/agent-<id>.jsonl`) has
 * `isSidechain: true` and its `agentId`.
 *
 * Sizes: each line draws its size log-uniformly from a range that depends on its kind (tool
 * results 300 B – 20 KB, streamed text and thinking 400 B – 6 KB, tool inputs 500 B – 6 KB for
 * writes, prompts 300 B – 4 KB); every line is within [MIN_LINE, MAX_LINE]. A little non-ASCII:
 * one prose line in fifty ends with accents, a dash, CJK or a check mark, and Read results
 * number their lines with `→`, as Claude Code does.
 */
import type { Random } from "./Workload.js"
import { makeRandom, utf8Length } from "./Workload.js"

export const MIN_LINE = 300
export const MAX_LINE = 20_000

/** The usage an assistant line carries, with the key it is counted under. */
export interface LineUsage {
  readonly key: string
  readonly at: string
  readonly model: string
  readonly sessionId: string
  readonly agentId: string
  readonly input: number
  readonly output: number
  readonly cacheWrite: number
  readonly cacheRead: number
}

export interface Line {
  readonly line: string
  /** What kind of line: `assistant`, `user (prompt)`, `user (tool_result)`, `summary`, `system`, `file-history-snapshot`. */
  readonly kind: string
  readonly usage?: LineUsage
}

const identifiers = [
  "session",
  "envelope",
  "decoder",
  "chunk",
  "offset",
  "handler",
  "request",
  "response",
  "config",
  "result",
  "index",
  "buffer",
  "stream",
  "layer",
  "effect",
  "schema",
  "value",
  "error",
  "items",
  "count",
  "path",
  "options"
]
const prose = [
  "the",
  "test",
  "fails",
  "because",
  "function",
  "returns",
  "wrong",
  "value",
  "when",
  "input",
  "is",
  "empty",
  "so",
  "I'll",
  "fix",
  "it",
  "in",
  "parser",
  "and",
  "add",
  "a",
  "case",
  "for",
  "that",
  "file",
  "let",
  "me",
  "check"
]
/** Now and then, in prose: a little non-ASCII. */
const unusual = ["— résumé", "naïve", "日本語", "✓ done", "café"]

/** About half a megabyte of text to cut contents from: code (quotes, tabs, backslashes), prose, paths. */
const makeText = (random: Random): string => {
  const parts: Array<string> = []
  let length = 0
  while (length < 1 << 19) {
    let line: string
    switch (random.int(0, 5)) {
      case 0:
        line = `const ${random.pick(identifiers)}${random.int(0, 99)} = ${random.pick(identifiers)}.${
          random.pick(identifiers)
        }(${random.int(0, 4096)})`
        break
      case 1:
        line = `\tif (${random.pick(identifiers)} === "${random.pick(identifiers)}") return "${random.pick(prose)}\\n"`
        break
      case 2:
        line = `  // ${Array.from({ length: random.int(3, 12) }, () => random.pick(prose)).join(" ")}`
        break
      case 3:
        line = `src/${random.pick(identifiers)}/${random.pick(identifiers)}.ts:${random.int(1, 900)}: ${
          random.pick(identifiers)
        } ${random.pick(prose)}`
        break
      default:
        line = Array.from({ length: random.int(6, 20) }, () => random.pick(prose)).join(" ") +
          (random.chance(0.02) ? ` ${random.pick(unusual)}.` : ".")
    }
    parts.push(line)
    length += line.length + 1
  }
  return parts.join("\n")
}

let shared: string | undefined
/** The same text for every conversation of a process (and of every run): it takes a while to make. */
const text = (): string => (shared ??= makeText(makeRandom(0x7e47)))

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
const HEX = "0123456789abcdef"

const models: ReadonlyArray<string> = [
  ...Array<string>(14).fill("claude-sonnet-4-5-20250929"),
  ...Array<string>(3).fill("claude-opus-4-1-20250805"),
  ...Array<string>(3).fill("claude-haiku-4-5-20251001")
]
const toolMix: ReadonlyArray<string> = [
  ...Array<string>(6).fill("Read"),
  ...Array<string>(3).fill("Edit"),
  "Write",
  ...Array<string>(2).fill("Grep"),
  "Glob",
  ...Array<string>(4).fill("Bash"),
  "Task",
  "TodoWrite"
]

export interface Options {
  readonly seed: number
  readonly sessionId: string
  readonly cwd: string
  readonly startMillis: number
  readonly version: string
  readonly gitBranch: string
  /** A subagent's transcript: its Claude Code agent id. */
  readonly agentId?: string
  /** Start with 0–2 `summary` lines (a resumed conversation), as a main session's file may. */
  readonly summaries?: boolean
}

/** An endless, deterministic conversation: `next()` returns its next line. */
export const makeConversation = (options: Options) => {
  const random = makeRandom(options.seed)
  const corpus = text()
  const sidechain = options.agentId !== undefined
  let millis = options.startMillis
  let lastUuid: string | null = null

  const chars = (alphabet: string, n: number) => {
    let s = ""
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(random.next() * alphabet.length)]
    return s
  }
  const uuid = () =>
    `${chars(HEX, 8)}-${chars(HEX, 4)}-4${chars(HEX, 3)}-${"89ab"[random.int(0, 3)]}${chars(HEX, 3)}-${chars(HEX, 12)}`
  const timestamp = () => {
    millis += random.int(300, 20_000)
    return new Date(millis).toISOString()
  }
  const slice = (n: number): string => {
    if (n <= 0) return ""
    const start = random.int(0, corpus.length - n - 1)
    return corpus.slice(start, start + n)
  }
  const filePath = () => `${options.cwd}/src/${random.pick(identifiers)}/${random.pick(identifiers)}.ts`

  /** A line of about `target` bytes: `build`'s entry with `fill` text, which it holds `copies` times. */
  const sized = (target: number, copies: number, build: (fill: string) => object): string => {
    const goal = Math.min(Math.max(target, MIN_LINE), MAX_LINE - 200)
    const empty = JSON.stringify(build(""))
    const room = Math.max(0, Math.floor((goal - utf8Length(empty)) / copies))
    let fill = slice(room)
    let line = JSON.stringify(build(fill))
    // Escapes and multi-byte characters make a line longer than its characters: trim what is over.
    for (let tries = 0; utf8Length(line) > MAX_LINE && fill.length > 0 && tries < 20; tries++) {
      fill = fill.slice(0, Math.max(0, fill.length - Math.ceil((utf8Length(line) - MAX_LINE) / copies) - 16))
      line = JSON.stringify(build(fill))
    }
    // A line the entry's own fields leave short: pad its text up to MIN_LINE.
    for (let tries = 0; utf8Length(line) < MIN_LINE && tries < 20; tries++) {
      fill += slice(Math.ceil((MIN_LINE - utf8Length(line)) / copies) + 8)
      line = JSON.stringify(build(fill))
    }
    return line
  }

  const base = () => ({
    parentUuid: lastUuid,
    isSidechain: sidechain,
    userType: "external",
    cwd: options.cwd,
    sessionId: options.sessionId,
    version: options.version,
    gitBranch: options.gitBranch,
    ...(options.agentId === undefined ? {} : { agentId: options.agentId })
  })

  const queue: Array<Line> = []

  const toolInput = (tool: string, fill: string): Record<string, unknown> => {
    switch (tool) {
      case "Read":
        return { file_path: filePath() }
      case "Write":
        return { file_path: filePath(), content: fill }
      case "Edit": {
        const half = fill.length >> 1
        return { file_path: filePath(), old_string: fill.slice(0, half), new_string: fill.slice(half) }
      }
      case "Grep":
        return { pattern: random.pick(identifiers), path: "src", output_mode: "content", "-n": true }
      case "Glob":
        return { pattern: `src/**/*.${random.pick(["ts", "tsx", "json"])}` }
      case "Bash":
        return {
          command: random.pick(["pnpm test", "pnpm exec tsc -b", "git status", "ls -la src", "pnpm lint"]),
          description: "Run the checks"
        }
      case "Task":
        return { description: "Explore the codebase", prompt: fill, subagent_type: "Explore" }
      default:
        return { todos: [{ content: fill, status: "in_progress", activeForm: "Fixing the parser" }] }
    }
  }

  const numbered = (fill: string): string =>
    fill.split("\n").map((line, i) => `${String(i + 1).padStart(6)}→${line}`).join("\n")

  /** The `tool_result` block's content and Claude Code's `toolUseResult` for a call. */
  const toolResult = (tool: string, input: Record<string, unknown>, fill: string, ms: number) => {
    switch (tool) {
      case "Read": {
        const content = numbered(fill)
        const lines = content.split("\n").length
        return {
          content,
          result: {
            type: "text",
            file: { filePath: input["file_path"], content: fill, numLines: lines, startLine: 1, totalLines: lines }
          }
        }
      }
      case "Edit":
      case "Write":
        return {
          content: `The file ${input["file_path"]} has been updated. Here's the result of running \`cat -n\` on a ` +
            `snippet of the edited file:\n${numbered(fill.slice(0, fill.length >> 2))}`,
          result: {
            filePath: input["file_path"],
            oldString: input["old_string"] ?? "",
            newString: input["new_string"] ?? input["content"] ?? "",
            originalFile: fill,
            structuredPatch: [{ oldStart: 1, oldLines: 3, newStart: 1, newLines: 4, lines: ["-a", "+b"] }],
            userModified: false,
            replaceAll: false
          }
        }
      case "Grep":
      case "Glob":
        return {
          content: fill,
          result: { mode: "content", numFiles: random.int(1, 40), filenames: [], content: fill, numLines: 12 }
        }
      case "Task":
        return {
          content: [{ type: "text", text: fill }],
          result: {
            status: "completed",
            prompt: input["prompt"],
            content: [{ type: "text", text: fill }],
            totalDurationMs: ms,
            totalTokens: random.int(5_000, 90_000),
            totalToolUseCount: random.int(1, 30),
            // Claude Code records the subagent's usage here: a `"usage":{` on a line that is not a response.
            usage: {
              input_tokens: random.int(1, 20),
              cache_creation_input_tokens: random.int(0, 9_000),
              cache_read_input_tokens: random.int(0, 90_000),
              output_tokens: random.int(50, 3_000),
              service_tier: "standard"
            }
          }
        }
      case "Bash":
        return {
          content: fill,
          result: { stdout: fill, stderr: "", interrupted: false, isImage: false }
        }
      default:
        return { content: "Todos have been modified successfully.", result: { oldTodos: [], newTodos: [] } }
    }
  }

  const push = (kind: string, line: string, usage?: LineUsage) => {
    queue.push(usage === undefined ? { line, kind } : { line, kind, usage })
  }

  const prompt = () => {
    const uuid_ = uuid()
    const at = timestamp()
    if (!sidechain && random.chance(0.7)) {
      const messageId = uuid()
      push(
        "file-history-snapshot",
        sized(MIN_LINE, 1, (fill) => ({
          type: "file-history-snapshot",
          messageId,
          snapshot: {
            messageId,
            trackedFileBackups: {
              [filePath()]: { backupFileName: `${chars(HEX, 16)}@v2`, version: 2, backupTime: at }
            },
            timestamp: at,
            note: fill
          },
          isSnapshotUpdate: false
        }))
      )
    }
    push(
      "user (prompt)",
      sized(random.logUniform(300, 4_000), 1, (fill) => ({
        ...base(),
        type: "user",
        message: { role: "user", content: fill },
        uuid: uuid_,
        timestamp: at,
        ...(sidechain ? {} : { thinkingMetadata: { level: "high", disabled: false, triggers: [] } })
      }))
    )
    lastUuid = uuid_
  }

  /** One response, streamed as 2–4 lines, then the results of its tool calls; returns whether it called tools. */
  const step = (last: boolean) => {
    const model = random.pick(models)
    const requestId = `req_011C${chars(BASE62, 17)}`
    const messageId = `msg_01${chars(BASE62, 22)}`
    const n = random.int(2, 4)
    const calls = last ? 0 : random.int(1, n - 1)
    const leading = n - calls
    const blocks: Array<string> = []
    for (let i = 0; i < leading; i++) blocks.push(i === 0 && leading >= 2 && random.chance(0.6) ? "thinking" : "text")
    const tools = Array.from({ length: calls }, () => random.pick(toolMix))
    const cached = random.chance(0.9)
    const input = cached ? random.int(1, 12) : random.int(500, 40_000)
    const cacheWrite = random.int(0, 20_000)
    const cacheRead = cached ? random.int(5_000, 180_000) : 0
    const output = random.int(20, 4_000)
    const calledTools: Array<{ id: string; tool: string; input: Record<string, unknown> }> = []
    for (let j = 0; j < n; j++) {
      const uuid_ = uuid()
      const at = timestamp()
      const outputSoFar = j === n - 1 ? output : Math.max(1, Math.floor((output * (j + 1)) / (n + 1)))
      const usage = {
        input_tokens: input,
        cache_creation_input_tokens: cacheWrite,
        cache_read_input_tokens: cacheRead,
        cache_creation: { ephemeral_5m_input_tokens: cacheWrite, ephemeral_1h_input_tokens: 0 },
        output_tokens: outputSoFar,
        service_tier: "standard"
      }
      const kind = j < leading ? blocks[j]! : "tool_use"
      const tool = kind === "tool_use" ? tools[j - leading]! : ""
      const callId = `toolu_01${chars(BASE62, 22)}`
      const signature = kind === "thinking" ? chars(BASE62, random.int(200, 600)) : ""
      const big = tool === "Write" || tool === "Edit" || tool === "Task" || tool === "TodoWrite"
      const target = kind === "tool_use" ? (big ? random.logUniform(500, 6_000) : 0) : random.logUniform(400, 6_000)
      let calledInput: Record<string, unknown> = {}
      const line = sized(target, 1, (fill) => {
        const block = kind === "thinking"
          ? { type: "thinking", thinking: fill, signature }
          : kind === "text"
          ? { type: "text", text: fill }
          : { type: "tool_use", id: callId, name: tool, input: (calledInput = toolInput(tool, big ? fill : "")) }
        return {
          ...base(),
          message: {
            model,
            id: messageId,
            type: "message",
            role: "assistant",
            content: [block],
            stop_reason: j === n - 1 ? (calls > 0 ? "tool_use" : "end_turn") : null,
            stop_sequence: null,
            usage
          },
          requestId,
          type: "assistant",
          uuid: uuid_,
          timestamp: at
        }
      })
      if (kind === "tool_use") calledTools.push({ id: callId, tool, input: calledInput })
      push("assistant", line, {
        key: `${messageId}:${requestId}`,
        at,
        model,
        sessionId: options.sessionId,
        agentId: options.agentId ?? "main",
        input,
        output: outputSoFar,
        cacheWrite,
        cacheRead
      })
      lastUuid = uuid_
    }
    for (const call of calledTools) {
      const uuid_ = uuid()
      const at = timestamp()
      const ms = random.int(5, 120_000)
      const isError = random.chance(0.04)
      const copies = call.tool === "Read" || call.tool === "Bash" || call.tool === "Grep" || call.tool === "Glob" ||
          call.tool === "Task"
        ? 2
        : call.tool === "TodoWrite"
        ? 1
        : 1.25
      push(
        "user (tool_result)",
        sized(random.logUniform(300, MAX_LINE), copies, (fill) => {
          const { content, result } = toolResult(call.tool, call.input, fill, ms)
          return {
            ...base(),
            type: "user",
            message: {
              role: "user",
              content: [{ tool_use_id: call.id, type: "tool_result", content, ...(isError ? { is_error: true } : {}) }]
            },
            uuid: uuid_,
            timestamp: at,
            toolUseResult: result
          }
        })
      )
      lastUuid = uuid_
    }
    return calls > 0
  }

  const turn = () => {
    prompt()
    const steps = random.int(1, 8)
    for (let i = 0; i < steps; i++) step(i === steps - 1)
    if (random.chance(0.05)) {
      const uuid_ = uuid()
      push(
        "system",
        sized(random.logUniform(300, 1_000), 1, (fill) => ({
          ...base(),
          type: "system",
          subtype: "informational",
          content: fill,
          isMeta: false,
          timestamp: timestamp(),
          uuid: uuid_,
          level: "info"
        }))
      )
      lastUuid = uuid_
    }
  }

  if (options.summaries === true) {
    for (let i = random.int(0, 2); i > 0; i--) {
      push(
        "summary",
        sized(MIN_LINE, 1, (fill) => ({
          type: "summary",
          summary: `Fix the parser's handling of empty input — ${fill}`.slice(0, 260),
          leafUuid: uuid()
        }))
      )
    }
  }

  let read = 0
  return {
    next: (): Line => {
      if (read === queue.length) {
        queue.length = 0
        read = 0
        while (queue.length === 0) turn()
      }
      return queue[read++]!
    }
  }
}
