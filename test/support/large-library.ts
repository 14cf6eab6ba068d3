import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkMarkers } from './markers.js'
import type { RunOutcome } from './run-vitest.js'

// The large-library fixture's library, written into the fixture's node_modules at test time (never committed):
// shared by large-library.test.ts (this Vitest) and versions.test.ts (the other versions).

const PADDING_BYTES = 20 * 1024 * 1024

/** The bundle's path in a copy of the fixture. */
export function bundleOf(fixture: string): string {
  return join(fixture, 'node_modules', 'big-cli', 'cli.js')
}

/** Writes the library (once: it is kept between runs, and ignored by git): 20 MB of code, then its entry points. */
export function writeLibrary(fixture: string): void {
  const library = join(fixture, 'node_modules', 'big-cli')
  const bundle = bundleOf(fixture)
  if (existsSync(bundle) && statSync(bundle).size > PADDING_BYTES) return
  mkdirSync(library, { recursive: true })
  writeFileSync(join(library, 'package.json'), `${JSON.stringify({ name: 'big-cli', version: '1.0.0', main: 'cli.js' }, null, 2)}\n`)
  const line = (i: number) => `function bundled${i}(value) { return value === ${i} ? 'module ${i} of a bundled CLI' : undefined }\n`
  const chunks: string[] = ["'use strict'\n"]
  let size = 0
  for (let i = 0; size < PADDING_BYTES; i++) {
    const text = line(i)
    chunks.push(text)
    size += text.length
  }
  chunks.push(`
class Cli {
  constructor(options) {
    this.options = options
  }
  start() {
    return this.schedule()
  }
  schedule() {
    return scheduleTick(() => {}, 60_000)
  }
}
function scheduleTick(callback, ms) {
  return setTimeout(callback, ms)
}
exports.run = function run(options) {
  return new Cli(options).start()
}
exports.stop = function stop(timer) {
  clearTimeout(timer)
}
`)
  writeFileSync(bundle, chunks.join(''))
}

/** Problems with a run of the fixture; an empty list means the leak's error carried just the frames it should. */
export function largeLibraryProblems(run: RunOutcome, fixture: string): string[] {
  const file = join(fixture, 'cli.test.ts')
  const module = run.modules.find((m) => m.file === file)
  if (!module) return [`cli.test.ts was not reported:\n${run.output}`]
  const problems = checkMarkers(module)
  const error = module.tests.find((t) => t.name.startsWith('leaks:'))?.errors[0]
  if (!error) return [...problems, 'the leaky test has no error']
  const frames = error.stack.split('\n').filter((line) => /^\s+at /.test(line))
  const library = frames.filter((line) => line.includes(bundleOf(fixture)))
  // the library's first frame (`scheduleTick`, which set the timer), then startCli and the test that called it; none of
  // the library's other frames, no Vitest runner frame
  const lines = frames.map((line) =>
    library.includes(line)
      ? `big-cli ${/\bat (\S+) \(/.exec(line)?.[1]}`
      : line.includes(file)
        ? `cli.test.ts:${/:(\d+):\d+\)?$/.exec(line)?.[1]}`
        : line.trim(),
  )
  const expected = ['big-cli scheduleTick', 'cli.test.ts:5', 'cli.test.ts:9']
  if (JSON.stringify(lines) !== JSON.stringify(expected))
    problems.push(`the leak's frames were ${JSON.stringify(lines)}, expected ${JSON.stringify(expected)}:\n${error.stack}`)
  return problems
}
