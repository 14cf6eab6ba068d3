import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RunOutcome } from './run-vitest.js'

// The load-failure fixture runs against a copy of the built package whose worker code is broken on purpose (made at
// test time in the fixture's node_modules, never shipped): either it throws as it is evaluated, or its setUpWorker
// does. Both the script build (forks, threads) and the ES module build (vm pools) are broken, so every loader meets
// it. Shared by load-failure.test.ts (this Vitest) and versions.test.ts (the other versions).

export type Broken = 'load' | 'install'

export interface LoadFailureRun {
  name: string
  args: string[]
  broken: Broken
  /** How many times the internal error is shown: once per worker process or thread. */
  shown: number
}

// with one worker, once per run; in the forks and threads pools with isolation (the default), each test file has a
// worker of its own
export const LOAD_FAILURE_RUNS: LoadFailureRun[] = [
  { name: 'cannot load, forks (a worker per file)', args: ['--pool=forks'], broken: 'load', shown: 3 },
  { name: 'cannot load, vmThreads, one worker', args: ['--pool=vmThreads', '--maxWorkers=1'], broken: 'load', shown: 1 },
  { name: 'cannot install, threads (a worker per file)', args: ['--pool=threads'], broken: 'install', shown: 3 },
  {
    name: 'cannot install, forks, no isolation, one worker',
    args: ['--pool=forks', '--no-isolate', '--maxWorkers=1'],
    broken: 'install',
    shown: 1,
  },
  { name: 'cannot install, vmForks, one worker', args: ['--pool=vmForks', '--maxWorkers=1'], broken: 'install', shown: 1 },
]

const MESSAGES: Record<Broken, string> = {
  load: 'a worker build that cannot load (made by the load-failure test)',
  install: 'a worker that cannot install (made by the load-failure test)',
}

/** Puts a copy of the built package (`packageJson` and `dist`) with a broken worker into the fixture's node_modules. */
export function breakPackage(fixture: string, packageJson: string, dist: string, broken: Broken): void {
  const pkg = join(fixture, 'node_modules', 'vitest-leaks')
  rmSync(pkg, { recursive: true, force: true })
  mkdirSync(pkg, { recursive: true })
  cpSync(packageJson, join(pkg, 'package.json'))
  cpSync(dist, join(pkg, 'dist'), { recursive: true })
  const error = `new Error(${JSON.stringify(MESSAGES[broken])})`
  const esm = broken === 'load' ? `throw ${error}\n` : `export const setUpWorker = async () => { throw ${error} }\n`
  const cjs = broken === 'load' ? `throw ${error}\n` : `exports.setUpWorker = async () => { throw ${error} }\n`
  writeFileSync(join(pkg, 'dist', 'worker.js'), esm)
  writeFileSync(join(pkg, 'dist', 'worker.cjs'), cjs)
}

export function removeBrokenPackage(fixture: string): void {
  rmSync(join(fixture, 'node_modules'), { recursive: true, force: true })
}

const BANNER = 'vitest-leaks: internal error'

/** Problems with one run; an empty list means every test kept its own verdict and the error was shown as expected. */
export function loadFailureProblems(outcome: RunOutcome, expected: LoadFailureRun): string[] {
  const problems: string[] = []
  const states = Object.fromEntries(
    outcome.modules.flatMap((m) => m.tests.map((t) => [`${m.file.split('/').at(-1)} > ${t.name}`, t.state])),
  )
  const wanted = {
    'first.test.ts > a timer left open passes: this file runs unchecked': 'passed',
    'first.test.ts > fails by its own assertion': 'failed',
    'first.test.ts > passes': 'passed',
    'second.test.ts > a server left open passes: this file runs unchecked too': 'passed',
    'third.test.ts > importing the matchers entry does not fail the file either': 'passed',
  }
  if (JSON.stringify(states) !== JSON.stringify(wanted))
    problems.push(`test states ${JSON.stringify(states)}, expected ${JSON.stringify(wanted)}`)
  const errors = outcome.modules.flatMap((m) => m.tests.flatMap((t) => t.errors.map((e) => e.message)))
  if (JSON.stringify(errors) !== JSON.stringify(['expected 1 to be 2 // Object.is equality']))
    problems.push(`test errors ${JSON.stringify(errors)}`)
  const fileErrors = outcome.modules.flatMap((m) => m.errors.map((e) => e.message))
  if (fileErrors.length > 0) problems.push(`file errors: ${fileErrors.join('; ')}`)
  if (outcome.unhandled.length > 0) problems.push(`unhandled errors: ${outcome.unhandled.map((e) => e.message).join('; ')}`)
  const shown = outcome.output.split(BANNER).length - 1
  if (shown !== expected.shown) problems.push(`the internal error was shown ${shown} times, not ${expected.shown}`)
  if (!outcome.output.includes(MESSAGES[expected.broken]))
    problems.push(`the output does not say what went wrong ("${MESSAGES[expected.broken]}")`)
  return problems
}
