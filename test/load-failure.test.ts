import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { FIXTURES, ROOT, runVitest, type RunOutcome } from './support/run-vitest.js'

// A plugin that cannot load or install in a worker must never fail a test file: its internal error is shown once
// and the file runs unchecked, each test keeping its own verdict. The fixture runs against a copy of the built
// package whose worker code is broken on purpose (made here, in the fixture's node_modules, never shipped): either it
// throws as it is evaluated, or its setUpWorker does. Both the script build (forks, threads) and the ES module build
// (vm pools) are broken, so every loader meets it.
const FIXTURE = join(FIXTURES, 'load-failure')
const BREAKS = {
  load: `throw new Error('a worker build that cannot load (made by test/load-failure.test.ts)')\n`,
  install: (format: 'esm' | 'cjs') => {
    const body = `async () => { throw new Error('a worker that cannot install (made by test/load-failure.test.ts)') }`
    return format === 'esm' ? `export const setUpWorker = ${body}\n` : `exports.setUpWorker = ${body}\n`
  },
}
// The error is shown once per worker process or thread: with one worker, once per run; in the forks and threads
// pools with isolation (the default), each test file has a worker of its own.
const RUNS = [
  { name: 'cannot load, forks (a worker per file)', args: ['--pool=forks'], broken: 'load', shown: 2 },
  { name: 'cannot load, vmThreads, one worker', args: ['--pool=vmThreads', '--maxWorkers=1'], broken: 'load', shown: 1 },
  { name: 'cannot install, threads (a worker per file)', args: ['--pool=threads'], broken: 'install', shown: 2 },
  { name: 'cannot install, forks, no isolation, one worker', args: ['--pool=forks', '--no-isolate', '--maxWorkers=1'], broken: 'install', shown: 1 },
  { name: 'cannot install, vmForks, one worker', args: ['--pool=vmForks', '--maxWorkers=1'], broken: 'install', shown: 1 },
] as const

function breakPackage(broken: 'load' | 'install'): void {
  const pkg = join(FIXTURE, 'node_modules', 'vitest-leaks')
  rmSync(pkg, { recursive: true, force: true })
  mkdirSync(pkg, { recursive: true })
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'))
  cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true })
  writeFileSync(join(pkg, 'dist', 'worker.js'), broken === 'load' ? BREAKS.load : BREAKS.install('esm'))
  writeFileSync(join(pkg, 'dist', 'worker.cjs'), broken === 'load' ? BREAKS.load : BREAKS.install('cjs'))
}

const outcomes = new Map<string, RunOutcome>()
beforeAll(async () => {
  // one at a time: each run replaces the broken copy
  for (const run of RUNS) {
    breakPackage(run.broken)
    outcomes.set(run.name, await runVitest('load-failure', { args: [...run.args] }))
  }
  rmSync(join(FIXTURE, 'node_modules'), { recursive: true, force: true })
})

const BANNER = 'vitest-leaks: internal error'

describe('a worker that cannot load or install the plugin runs its tests unchecked, with their own verdicts', () => {
  test.each(RUNS.map((run) => [run.name, run] as const))('%s', (_name, run) => {
    const outcome = outcomes.get(run.name)!
    const states = Object.fromEntries(outcome.modules.flatMap((m) => m.tests.map((t) => [`${m.file.split('/').at(-1)} > ${t.name}`, t.state])))
    expect(states, outcome.output).toEqual({
      'first.test.ts > a timer left open passes: this file runs unchecked': 'passed',
      'first.test.ts > fails by its own assertion': 'failed',
      'first.test.ts > passes': 'passed',
      'second.test.ts > a server left open passes: this file runs unchecked too': 'passed',
    })
    const failed = outcome.modules.flatMap((m) => m.tests.filter((t) => t.state === 'failed'))
    expect(failed.flatMap((t) => t.errors.map((e) => e.message)), outcome.output).toEqual(['expected 1 to be 2 // Object.is equality'])
    expect(outcome.modules.flatMap((m) => m.errors), outcome.output).toEqual([])
    expect(outcome.unhandled, outcome.output).toEqual([])
    // once per worker, with what went wrong
    expect(outcome.output.split(BANNER).length - 1, outcome.output).toBe(run.shown)
    expect(outcome.output, outcome.output).toContain(run.broken === 'load' ? 'a worker build that cannot load' : 'a worker that cannot install')
  })
})
