import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { POOL_RUNS, poolRunProblems } from './support/pools.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// The pools fixture under every pool, with and without isolation and file parallelism: each file must be checked,
// with the right owner and code frame, clean tests must pass, and what a pool cannot give is said once at startup.
const outcomes = new Map<string, RunOutcome>()
beforeAll(async () => {
  // two runs at a time: each is one Vitest with its own workers
  const queue = [...POOL_RUNS]
  const next = async () => {
    for (let run = queue.shift(); run; run = queue.shift()) outcomes.set(run.name, await runVitest('pools', { args: run.args }))
  }
  await Promise.all([next(), next()])
})

describe('every pool, isolated or not: leaks fail their owner at the marked line; clean tests pass', () => {
  test.each(POOL_RUNS.map((run) => [run.name, run] as const))('%s', (_name, expected) => {
    const run = outcomes.get(expected.name)!
    expect(poolRunProblems(run, join(FIXTURES, 'pools'), expected), run.output).toEqual([])
  })
})
