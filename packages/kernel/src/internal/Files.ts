/**
 * What the file tools share: one-line descriptions of file-system failures, telling binary
 * from text, `cat -n` line numbers, and showing a path to the model the way it can pass it back.
 */
import type { Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"

/** Lines longer than this are cut when shown (read, grep's content, edit's snippet). */
export const maxLineLength = 2000

/** What the model reads when a file-system call fails on `path`: one line, no stack. */
export const describeError = (error: PlatformError, path: string): string => {
  if (error._tag === "SystemError") {
    switch (error.reason) {
      case "NotFound":
        return `no such file or directory: ${path}`
      case "PermissionDenied":
        return `permission denied: ${path}`
      case "AlreadyExists":
        return `already exists: ${path}`
      case "BadResource":
        return `not a file or directory that can be used here: ${path}`
      case "Busy":
        return `busy: ${path}`
    }
  }
  return `${path}: ${error.description ?? error.message}`
}

/** As git and ripgrep decide: a NUL byte in the first 8000 bytes makes a file binary. */
export const isBinary = (bytes: Uint8Array): boolean => bytes.subarray(0, 8000).includes(0)

/** `cat -n`'s format: the 1-based line number right-aligned in six columns, a tab, the line. */
export const numbered = (lineNumber: number, line: string): string => `${String(lineNumber).padStart(6)}\t${line}`

export const truncateLine = (line: string, max: number = maxLineLength): string =>
  line.length > max ? `${line.slice(0, max)}… [line truncated to ${max} characters]` : line

/** Paths under the project root are shown relative to it (the tools resolve them back); others stay absolute. */
export const display = (path: Path.Path, cwd: string, absolute: string): string => {
  const relative = path.relative(cwd, absolute)
  if (relative === "") return "."
  if (relative === ".." || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) return absolute
  return relative.split(path.sep).join("/")
}

export const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? "" : "s"}`
