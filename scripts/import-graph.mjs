// `node scripts/import-graph.mjs`: the import graph of src/ (type imports included), checked for what the layout
// promises (src/README.md): no import circles, no file of src/plugin/ importing src/worker/ or the other way round,
// nothing in src/shared/ importing either half. Prints the longest import chain; exits 1 on any violation.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const src = join(root, 'src')

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : name.endsWith('.ts') ? [path] : []
  })
}

const files = walk(src)
const graph = new Map()
for (const file of files) {
  const text = readFileSync(file, 'utf8')
  const targets = new Set()
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = resolve(dirname(file), match[1].replace(/\.js$/, '.ts'))
    if (existsSync(target)) targets.add(target)
  }
  graph.set(file, [...targets])
}

const name = (file) => relative(src, file)
const problems = []

// circles: a depth-first search that reports each back edge's loop once
const state = new Map()
const stack = []
function visit(file) {
  state.set(file, 'open')
  stack.push(file)
  for (const next of graph.get(file)) {
    if (state.get(next) === 'open') problems.push(`import circle: ${[...stack.slice(stack.indexOf(next)), next].map(name).join(' → ')}`)
    else if (!state.has(next)) visit(next)
  }
  stack.pop()
  state.set(file, 'done')
}
for (const file of files) if (!state.has(file)) visit(file)

// the halves: plugin/ and worker/ never import each other; shared/ imports neither
const half = (file) => name(file).split('/')[0]
for (const [file, targets] of graph) {
  for (const target of targets) {
    const [from, to] = [half(file), half(target)]
    const crosses =
      (from === 'plugin' && to === 'worker') ||
      (from === 'worker' && to === 'plugin') ||
      (from === 'shared' && (to === 'plugin' || to === 'worker'))
    if (crosses) problems.push(`${name(file)} imports ${name(target)}: ${from}/ must not import ${to}/`)
  }
}

// the longest chain (the graph has no circles once the checks above pass)
const longest = new Map()
function chain(file, seen = new Set()) {
  if (longest.has(file)) return longest.get(file)
  if (seen.has(file)) return [file]
  seen.add(file)
  let best = []
  for (const next of graph.get(file)) {
    const candidate = chain(next, seen)
    if (candidate.length > best.length) best = candidate
  }
  seen.delete(file)
  const result = [file, ...best]
  longest.set(file, result)
  return result
}
const deepest = files.map((file) => chain(file)).sort((a, b) => b.length - a.length)[0]
console.log(`import graph: ${files.length} files, longest chain ${deepest.length} levels: ${deepest.map(name).join(' → ')}`)
for (const problem of problems) console.error(problem)
process.exit(problems.length > 0 ? 1 : 0)
