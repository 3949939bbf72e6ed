/**
 * Where things live under `WEFT_HOME` (default `~/.weft`):
 *
 * ```
 * settings.json, settings.local.json          user layers
 * projects/<encoded-project-path>/
 *   project.json                              the real path (detects encoding collisions)
 *   <sessionId>.jsonl                         the session's events, all agents
 *   <sessionId>.lock                          single-writer lock
 * blobs/<2 hex>/<sha256>                      content-addressed file contents
 * projections/<name>/<version>/               projection checkpoints
 * ```
 */

/**
 * Claude Code's encoding of a project path into one folder name: every character that is
 * not an ASCII letter or digit becomes `-` (`/Users/bill/My Project` → `-Users-bill-My-Project`).
 */
export const encodeProjectPath = (path: string): string => path.replace(/[^a-zA-Z0-9]/g, "-")

/**
 * The folder names a project may live in, in the order they are tried: the plain encoding,
 * then `<encoding>~2`, `<encoding>~3`, … for paths that encode alike. `~` never appears in
 * an encoding, so a suffixed name never collides with another path's plain one.
 */
export const candidateFolder = (path: string, attempt: number): string =>
  attempt <= 1 ? encodeProjectPath(path) : `${encodeProjectPath(path)}~${attempt}`

export const SESSION_SUFFIX = ".jsonl"
export const LOCK_SUFFIX = ".lock"
export const PROJECT_FILE = "project.json"

export const sessionIdOf = (fileName: string): string | undefined =>
  fileName.endsWith(SESSION_SUFFIX) ? fileName.slice(0, -SESSION_SUFFIX.length) : undefined
