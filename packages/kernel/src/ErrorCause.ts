/**
 * What went wrong, in one line, from an error and the errors that caused it: what a failed
 * network call says (`fetch failed: connect ECONNREFUSED 127.0.0.1:1 (ECONNREFUSED)`), where the
 * outermost message alone would say only "fetch failed".
 */

/** The messages of `error` and its first few causes, each with its `code` when it has one. */
export const causeOf = (error: unknown): string => {
  const parts: Array<string> = []
  let current: unknown = error
  while (current instanceof Error && parts.length < 4) {
    const code = (current as { code?: unknown }).code
    parts.push(typeof code === "string" ? `${current.message} (${code})` : current.message)
    current = current.cause
  }
  return parts.filter((part) => part !== "").join(": ") || String(error)
}
