import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { breakPackage, LOAD_FAILURE_RUNS, loadFailureProblems, removeBrokenPackage } from './support/load-failure.js'
import { FIXTURES, ROOT, runVitest, type RunOutcome } from './support/run-vitest.js'

// A plugin that cannot load or install in a worker must never fail a test file: its internal error is shown once
// (per worker) and the file runs unchecked, each test keeping its own verdict.
const FIXTURE = join(FIXTURES, 'load-failure')
const outcomes = new Map<string, RunOutcome>()
beforeAll(async () => {
  // one at a time: each run replaces the broken copy
  for (const run of LOAD_FAILURE_RUNS) {
    breakPackage(FIXTURE, join(ROOT, 'package.json'), join(ROOT, 'dist'), run.broken)
    outcomes.set(run.name, await runVitest('load-failure', { args: run.args }))
  }
  removeBrokenPackage(FIXTURE)
})

describe('a worker that cannot load or install the plugin runs its tests unchecked, with their own verdicts', () => {
  test.each(LOAD_FAILURE_RUNS.map((run) => [run.name, run] as const))('%s', (_name, expected) => {
    const outcome = outcomes.get(expected.name)!
    expect(loadFailureProblems(outcome, expected), outcome.output).toEqual([])
  })
})
