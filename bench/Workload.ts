/**
 * A realistic, seeded session: what an agent loop writes, event by event.
 *
 * Each turn is a user message, then model steps — `ModelRequested`, sometimes a
 * `ModelFailed` and a retry, `ModelResponded` with text, thinking and `tool_use` blocks —
 * and for every tool call a `PermissionDecided` (now and then a `PermissionAnswered`), a
 * `FileSnapshotted` before edits, a subagent run for `Task`, and a `ToolCallCompleted`
 * carrying file contents or command output; then `TurnCompleted`, and sometimes a memory
 * write or a context compaction.
 *
 * Events come out in their encoded form (plain JSON, keys in Schema order), so a line is one
 * `JSON.stringify` away; `bench/generate.ts` checks a sample of lines against `lineCodec`.
 *
 * Line sizes: each content-bearing event draws the size of its whole line log-uniformly from
 * a range that depends on its type (tool results 300 B – 20 KB, model responses
 * 400 B – 12 KB, …); the rest are as large as their fields make them (≈ 220–600 B). Every
 * line is kept within [MIN_LINE, MAX_LINE].
 */
import { uuidv7 } from "@weft/kernel/Ids"
import type { JsonObject } from "@weft/kernel/Json"

export const MIN_LINE = 200
export const MAX_LINE = 20_000

/** sfc32: a small, fast, seedable PRNG, so every run writes the same session. */
export const makeRandom = (seed: number) => {
  let a = 0x9e3779b9
  let b = 0x243f6a88
  let c = 0xb7e15162
  let d = seed >>> 0
  const next = (): number => {
    a >>>= 0
    b >>>= 0
    c >>>= 0
    d >>>= 0
    const t = (a + b | 0) + d | 0
    d = d + 1 | 0
    a = b ^ (b >>> 9)
    b = c + (c << 3) | 0
    c = (c << 21) | (c >>> 11)
    c = c + t | 0
    return (t >>> 0) / 4294967296
  }
  for (let i = 0; i < 16; i++) next()
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  return {
    next,
    int,
    chance: (p: number) => next() < p,
    pick: <A>(items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)]!,
    logUniform: (min: number, max: number) => Math.round(Math.exp(Math.log(min) + next() * Math.log(max / min))),
    bytes: (n: number) => {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i += 4) {
        const v = Math.floor(next() * 4294967296)
        for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff
      }
      return out
    }
  }
}
export type Random = ReturnType<typeof makeRandom>

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
const keywords = ["const", "let", "return", "if", "for", "await", "yield*", "export", "import", "function", "type"]
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
  "I",
  "will",
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
  "— résumé",
  "naïve",
  "→",
  "日本語"
]

/**
 * About a megabyte of text to slice contents from: source code (quotes, backslashes, tabs,
 * newlines — what JSON escapes), prose, and a little non-ASCII.
 */
const makeCorpus = (random: Random): string => {
  const parts: Array<string> = []
  let length = 0
  while (length < 1 << 20) {
    let line: string
    switch (random.int(0, 5)) {
      case 0:
        line = `${random.pick(keywords)} ${random.pick(identifiers)}${random.int(0, 99)} = ${
          random.pick(identifiers)
        }.${random.pick(identifiers)}(${random.int(0, 4096)})`
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
        line = Array.from({ length: random.int(6, 20) }, () => random.pick(prose)).join(" ") + "."
    }
    parts.push(line)
    length += line.length + 1
  }
  return parts.join("\n")
}

const tools = ["Read", "Write", "Edit", "Glob", "Grep", "Bash", "Task", "Memory"] as const
/** How often each tool is called: reads and searches most, subagents rarely. */
const toolMix: ReadonlyArray<string> = [
  ...Array<string>(6).fill("Read"),
  ...Array<string>(3).fill("Edit"),
  "Write",
  ...Array<string>(2).fill("Grep"),
  "Glob",
  ...Array<string>(3).fill("Bash"),
  "Task",
  "Memory"
]
const models = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"] as const
const stopReasons = ["end_turn", "tool_use", "max_tokens"] as const

/** One event as the generator made it: its own id, the causal parent, the agent, and the encoded event. */
export interface Generated {
  readonly id: string
  readonly parentId: string | null
  readonly agentId: string
  readonly at: string
  readonly event: JsonObject
  /** `JSON.stringify(event)`. */
  readonly eventJson: string
}

export interface Options {
  readonly seed: number
  readonly sessionId: string
  /** The most digits a seq will have, to size whole lines (default 7). */
  readonly seqDigits?: number
}

/** Stands for the content of a sized event while its JSON template is made. */
const PLACEHOLDER = "\u0000fill\u0000"
const PLACEHOLDER_JSON = JSON.stringify(PLACEHOLDER)
/** The JSON of the events `sized` made, spliced from a template and the escaped corpus. */
const jsonOf = new WeakMap<object, string>()

/** The byte length of a string as UTF-8 (what `Buffer.byteLength` gives, without a Buffer). */
export const utf8Length = (s: string): number => {
  let n = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) n += c >= 0x800 ? 2 : 1
  }
  return n
}

/**
 * An endless, deterministic agent session. `next()` returns the next event; the first is
 * always `SessionStarted` for `project`.
 */
export const makeSession = (options: Options & { readonly project: string }) => {
  const random = makeRandom(options.seed)
  const corpus = makeCorpus(makeRandom(options.seed ^ 0x5eed))
  // The corpus as a JSON string, and where each of its characters starts there: a slice of the corpus is
  // JSON-escaped by slicing this, without escaping it again.
  const corpusJson = JSON.stringify(corpus)
  const escapedAt = new Uint32Array(corpus.length + 1)
  // cost[i]: the bytes of corpus[0, i) once JSON-escaped and UTF-8 encoded, to size contents without encoding them.
  const cost = new Float64Array(corpus.length + 1)
  const escapedLength = new Map<number, number>()
  escapedAt[0] = 1
  for (let i = 0; i < corpus.length; i++) {
    const c = corpus.charCodeAt(i)
    let escaped = escapedLength.get(c)
    if (escaped === undefined) {
      escaped = JSON.stringify(String.fromCharCode(c)).length - 2
      escapedLength.set(c, escaped)
    }
    escapedAt[i + 1] = escapedAt[i]! + escaped
    cost[i + 1] = cost[i]! + (escaped > 1 || c < 0x80 ? escaped : c < 0x800 ? 2 : 3)
  }
  let millis = Date.UTC(2026, 10, 21, 9, 0, 0)
  let idSeq = 0
  let counter = 0
  // {"seq":1000000,"id":"<36>","parentId":"<36>","sessionId":"…","agentId":"main","at":"<24>","event":} — the
  // envelope around an event, for sizing lines.
  const envelopeBytes = (agentId: string) =>
    `{"seq":${"1".repeat(options.seqDigits ?? 7)},"id":"","parentId":"","sessionId":"","agentId":"","at":"","event":}`
      .length + 36 * 2 + options.sessionId.length + agentId.length + 24

  const text = (length: number): string => {
    if (length <= 0) return ""
    const start = random.int(0, corpus.length - length - 1)
    return corpus.slice(start, start + length)
  }
  /** Text from the corpus that takes about `bytes` bytes in a line (never more), and its JSON escaping. */
  const textOfBytes = (bytes: number): { readonly text: string; readonly json: string } => {
    if (bytes <= 0) return { text: "", json: "" }
    const start = random.int(0, corpus.length - 3 * bytes - 1)
    const limit = cost[start]! + bytes
    let lo = start
    let hi = start + bytes
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (cost[mid]! <= limit) lo = mid
      else hi = mid - 1
    }
    return { text: corpus.slice(start, lo), json: corpusJson.slice(escapedAt[start]!, escapedAt[lo]!) }
  }

  /** Fills the `fill` field of an event so that its whole line is about `target` bytes, never more than MAX_LINE. */
  const sized = (agentId: string, target: number, build: (fill: string) => JsonObject): JsonObject => {
    const template = JSON.stringify(build(PLACEHOLDER))
    const at = template.indexOf(PLACEHOLDER_JSON)
    const base = envelopeBytes(agentId) + utf8Length(template) - PLACEHOLDER_JSON.length + 2
    const fill = textOfBytes(Math.min(target, MAX_LINE) - base)
    const event = build(fill.text)
    jsonOf.set(event, `${template.slice(0, at)}"${fill.json}"${template.slice(at + PLACEHOLDER_JSON.length)}`)
    return event
  }

  const nextId = () => {
    millis += random.int(0, 40)
    idSeq = (idSeq + 1) & 0xfff
    return uuidv7(millis, idSeq, random.bytes(8))
  }
  const usage = () => ({
    input_tokens: random.int(1, 200_000),
    output_tokens: random.int(1, 8_000),
    cache_creation_input_tokens: random.int(0, 20_000),
    cache_read_input_tokens: random.int(0, 150_000)
  })
  const shortId = (prefix: string) => `${prefix}_${(counter++).toString(36).padStart(8, "0")}${random.int(1e5, 9e5)}`
  const filePath = () => `/work/project/src/${random.pick(identifiers)}/${random.pick(identifiers)}.ts`

  const queue: Array<Generated> = []
  let turn = 0
  let subagents = 0
  let lastId: string | null = null

  const emit = (agentId: string, parentId: string | null, event: JsonObject): string => {
    const id = nextId()
    queue.push({
      id,
      parentId,
      agentId,
      at: new Date(millis).toISOString(),
      event,
      eventJson: jsonOf.get(event) ?? JSON.stringify(event)
    })
    lastId = id
    return id
  }

  const toolInput = (tool: string): JsonObject => {
    switch (tool) {
      case "Read":
        return { file_path: filePath() }
      case "Write":
        return { file_path: filePath(), content: text(random.logUniform(40, 1500)) }
      case "Edit":
        return { file_path: filePath(), old_string: text(random.int(20, 300)), new_string: text(random.int(20, 300)) }
      case "Glob":
        return { pattern: `src/**/*.${random.pick(["ts", "tsx", "json"])}` }
      case "Grep":
        return { pattern: random.pick(identifiers), path: "src", output_mode: "content", "-n": true }
      case "Bash":
        return { command: random.pick(["pnpm test", "pnpm exec tsc -b", "git status", "ls -la src"]), timeout: 120000 }
      case "Task":
        return { description: "Explore the codebase", prompt: text(random.int(100, 600)), subagent_type: "explore" }
      default:
        return { action: "remember", text: text(random.int(30, 200)) }
    }
  }

  interface Decision {
    readonly call: { readonly id: string; readonly name: string }
    readonly parent: string
  }

  /** One model step of `agentId`; returns the tool calls it made, each with its permission decision. */
  const step = (agentId: string, last: boolean, messageCount: number) => {
    const decisions: Array<Decision> = []
    const model = random.pick(models)
    const requestId = shortId("req")
    const requested = emit(agentId, lastId, {
      _tag: "ModelRequested",
      v: 1,
      requestId,
      model,
      maxTokens: 32000,
      tools: tools.slice(0, random.int(4, tools.length)),
      messageCount
    })
    if (random.chance(0.02)) {
      emit(agentId, requested, {
        _tag: "ModelFailed",
        v: 1,
        requestId,
        attempt: 1,
        error: { type: "overloaded_error", message: "Overloaded", status: 529 },
        retryable: true
      })
    }
    const calls = last ? [] : Array.from({ length: random.int(1, 3) }, () => {
      const tool = random.pick(toolMix)
      return { type: "tool_use", id: shortId("toolu"), name: tool, input: toolInput(tool) } as const
    })
    const thinking = random.chance(0.3)
      ? [{ type: "thinking", thinking: text(random.int(50, 800)), signature: text(random.int(40, 120)) }]
      : []
    const messageId = shortId("msg")
    const spent = usage()
    const responded = emit(
      agentId,
      requested,
      sized(agentId, random.logUniform(400, 12_000), (fill) => ({
        _tag: "ModelResponded",
        v: 1,
        requestId,
        messageId,
        model,
        content: [...thinking, { type: "text", text: fill }, ...calls],
        usage: spent,
        stopReason: last ? "end_turn" : "tool_use"
      }))
    )
    for (const call of calls) {
      const ask = random.chance(0.05)
      const decided = emit(agentId, responded, {
        _tag: "PermissionDecided",
        v: 1,
        toolUseId: call.id,
        tool: call.name,
        behavior: ask ? "ask" : "allow",
        rule: ask ? null : `${call.name}(src/**)`,
        layer: ask ? "default" : random.pick(["user", "project", "project-local"]),
        reason: ask ? "no rule matched; asking the user" : `allowed by ${call.name}(src/**) in project settings`
      })
      if (ask) {
        emit(agentId, decided, {
          _tag: "PermissionAnswered",
          v: 1,
          toolUseId: call.id,
          answer: random.pick(["allow_once", "allow_session", "deny"])
        })
      }
      if (call.name === "Edit" || call.name === "Write") {
        emit(agentId, decided, {
          _tag: "FileSnapshotted",
          v: 1,
          toolUseId: call.id,
          path: String(call.input["file_path"]),
          before: random.chance(0.9) ? Buffer.from(random.bytes(32)).toString("hex") : null
        })
      }
      if (call.name === "Task" && agentId === "main") {
        const child = `main/${++subagents}`
        emit(agentId, decided, {
          _tag: "SubagentSpawned",
          v: 1,
          toolUseId: call.id,
          childAgentId: child,
          agentType: "explore",
          description: "Explore the codebase",
          prompt: String(call.input["prompt"]),
          budgetTokens: random.chance(0.5) ? random.int(10_000, 200_000) : null
        })
        const steps = random.int(1, 3)
        for (let i = 0; i < steps; i++) runTools(child, step(child, i === steps - 1, 2 + 2 * i))
        const spent = usage()
        const durationMs = random.int(2_000, 120_000)
        emit(
          agentId,
          decided,
          sized(agentId, random.logUniform(400, 6_000), (fill) => ({
            _tag: "SubagentCompleted",
            v: 1,
            toolUseId: call.id,
            childAgentId: child,
            outcome: "completed",
            summary: fill,
            turns: steps,
            usage: spent,
            durationMs,
            filesModified: []
          }))
        )
      }
      decisions.push({ call, parent: decided })
    }
    return decisions
  }

  /** The results of the tool calls of one step. */
  const runTools = (agentId: string, decisions: ReadonlyArray<Decision>) => {
    for (const { call, parent } of decisions) {
      const asBlocks = random.chance(0.2)
      const isError = random.chance(0.05)
      const durationMs = random.int(1, 30_000)
      emit(
        agentId,
        parent,
        sized(agentId, random.logUniform(300, MAX_LINE), (fill) => ({
          _tag: "ToolCallCompleted",
          v: 1,
          toolUseId: call.id,
          tool: call.name,
          content: asBlocks ? [{ type: "text", text: fill }] : fill,
          isError,
          durationMs
        }))
      )
    }
  }

  const nextTurn = () => {
    turn++
    emit(
      "main",
      lastId,
      sized("main", random.logUniform(250, 4_000), (fill) => ({
        _tag: "UserMessageReceived",
        v: 1,
        content: [{ type: "text", text: fill }]
      }))
    )
    const steps = random.int(1, 8)
    for (let i = 0; i < steps; i++) runTools("main", step("main", i === steps - 1, 1 + 2 * i))
    emit("main", lastId, { _tag: "TurnCompleted", v: 1, turn, stopReason: random.pick(stopReasons) })
    if (random.chance(0.05)) {
      const memoryId = shortId("mem")
      const scope = random.pick(["user", "project"])
      const kind = random.pick(["explicit", "implicit"])
      emit(
        "main",
        lastId,
        sized("main", random.logUniform(250, 1_000), (fill) => ({
          _tag: "MemoryWritten",
          v: 1,
          memoryId,
          scope,
          kind,
          text: fill
        }))
      )
    }
    if (random.chance(0.01)) {
      const spent = usage()
      emit(
        "main",
        lastId,
        sized("main", random.logUniform(2_000, MAX_LINE), (fill) => ({
          _tag: "ContextCompacted",
          v: 1,
          fromSeq: 1,
          toSeq: 2,
          summary: [{ type: "text", text: fill }],
          usage: spent
        }))
      )
    }
  }

  emit("main", null, {
    _tag: "SessionStarted",
    v: 1,
    project: options.project,
    cwd: options.project,
    model: models[0],
    settings: { permissions: { allow: ["Read(src/**)", "Edit(src/**)", "Bash(pnpm test:*)"], deny: [] } },
    sources: [{ layer: "user", path: "/home/bench/.weft/settings.json" }, { layer: "project", path: null }],
    maxDepth: 3,
    budgetTokens: null
  })

  let read = 0
  return {
    next: (): Generated => {
      if (read === queue.length) {
        queue.length = 0
        read = 0
        while (queue.length === 0) nextTurn()
      }
      return queue[read++]!
    }
  }
}

/**
 * The encoded envelope of a generated event at `seq`: what `lineCodec.encode` writes, key for key —
 * `JSON.stringify` of the envelope, put together from parts that need no escaping and the event's JSON.
 */
export const envelopeLine = (sessionJson: string, seq: number, g: Generated): string =>
  `{"seq":${seq},"id":"${g.id}","parentId":${
    g.parentId === null ? "null" : `"${g.parentId}"`
  },"sessionId":${sessionJson},` +
  `"agentId":"${g.agentId}","at":"${g.at}","event":${g.eventJson}}`
