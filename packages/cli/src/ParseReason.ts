/**
 * The codec explains a line that does not decode with Effect's whole parse tree — every
 * schema on the way down, every union member it tried — on one line, thousands of characters
 * long. People need its end: the field and what was wrong with it.
 */

const BRANCH = /\s*[│]*\s*[└├]─\s*/
const KEY = /^\[(?:"(?:[^"\\]|\\.)*"|\d+)\]$/

/** `… └─ ["content"] └─ Expected ReadonlyArray<…>, actual 7` → `["content"]: Expected ReadonlyArray<…>, actual 7`. */
export const concise = (reason: string, max = 160): string => {
  if (!reason.includes("└─")) return reason
  const segments = reason.split(BRANCH).map((s) => s.replace(/[│\s]+$/, "").trim()).filter((s) => s !== "")
  const last = segments[segments.length - 1] ?? reason
  const key = segments.slice(0, -1).reverse().find((s) => KEY.test(s))
  // Type names in the message can be whole schemas: keep their first words.
  const message = last.replace(/<([^<>]|<[^<>]*>){40,}>/g, "<…>").replace(/\{([^{}]|\{[^{}]*\}){40,}\}/g, "{…}")
  const text = key === undefined ? message : `${key}: ${message}`
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/** Applies `concise` to the parse tree inside a sentence (`path:line: <tree>; skipped …`), keeping the rest. */
export const conciseIn = (sentence: string): string => {
  const last = sentence.lastIndexOf("└─")
  if (last === -1) return sentence
  const start = sentence.indexOf(": (")
  if (start === -1 || start > last) return concise(sentence)
  // The tree ends at the first "; " after its last branch that is not inside <…>, {…} or (…).
  let depth = 0
  let end = sentence.length
  for (let i = last; i < sentence.length; i++) {
    const c = sentence[i]
    if (c === "<" || c === "{" || c === "(") depth++
    else if ((c === ">" || c === "}" || c === ")") && depth > 0) depth--
    else if (c === ";" && depth === 0 && sentence[i + 1] === " ") {
      end = i
      break
    }
  }
  return sentence.slice(0, start + 2) + concise(sentence.slice(start + 2, end)) + sentence.slice(end)
}
