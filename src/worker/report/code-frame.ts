import { readFileSync } from 'node:fs'
import { isAbsolute, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/** A source position, from a printed stack frame. */
export interface SourcePosition {
  file: string
  line: number
  column: number
}

const FRAME = /^\s*at (?:.+? \()?(.+?):(\d+):(\d+)\)?\s*$/

/** The position in `    at fn (/abs/file.ts:12:3)` or `    at /abs/file.ts:12:3` (or a `file://` URL). */
export function positionOf(frame: string): SourcePosition | undefined {
  const match = FRAME.exec(frame)
  if (!match) return undefined
  let file = match[1]!
  if (file.startsWith('file://')) {
    try {
      file = fileURLToPath(file)
    } catch {
      return undefined
    }
  }
  return isAbsolute(file) ? { file, line: Number(match[2]), column: Number(match[3]) } : undefined
}

const CONTEXT_BEFORE = 2
const CONTEXT_AFTER = 1
const MAX_WIDTH = 100

/**
 * A code frame in the style Vitest draws under an error (`❯ file:line:col`, numbered lines, a caret under the
 * column), for a position Vitest would not draw itself: one of several inside a single message. Lines are indented
 * by `indent`. Undefined when the file cannot be read (a frame that was not source-mapped to a file on disk).
 */
export function drawCodeFrame(position: SourcePosition, root: string, indent: string): string[] | undefined {
  let source: string
  try {
    source = readFileSync(position.file, 'utf8')
  } catch {
    return undefined
  }
  const lines = source.split(/\r?\n/)
  const target = position.line - 1
  if (target < 0 || target >= lines.length) return undefined
  const first = Math.max(0, target - CONTEXT_BEFORE)
  const last = Math.min(lines.length - 1, target + CONTEXT_AFTER)
  const width = String(last + 1).length + 2
  const shown = relative(root, position.file)
  const out = [`${indent}❯ ${shown.startsWith('..') ? position.file : shown}:${position.line}:${position.column}`]
  for (let index = first; index <= last; index++) {
    let text = lines[index]!.replace(/\t/g, '  ')
    if (text.length > MAX_WIDTH) text = `${text.slice(0, MAX_WIDTH - 1)}…`
    out.push(`${indent}${String(index + 1).padStart(width)}| ${text}`.trimEnd())
    if (index === target) out.push(`${indent}${' '.repeat(width)}| ${' '.repeat(Math.max(0, position.column - 1))}^`)
  }
  return out
}
