import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { ENVIRONMENT_RUNS, environmentRunProblems } from './support/environments.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// The environments fixture (jsdom from the config, happy-dom and edge-runtime from a file's comment) under every
// pool: the plugin loads there, a timer or server left fails its test at its line, a test that cleans up passes, and
// what the environment itself does with timers while a test renders and clicks is no false alarm.
const outcomes = new Map<string, RunOutcome>()
beforeAll(async () => {
  const queue = [...ENVIRONMENT_RUNS]
  const next = async () => {
    for (let run = queue.shift(); run; run = queue.shift())
      outcomes.set(run.name, await runVitest('environments', { args: run.args, files: run.files }))
  }
  await Promise.all([next(), next()])
})

describe('jsdom, happy-dom and edge-runtime test files are checked in every pool', () => {
  test.each(ENVIRONMENT_RUNS.map((run) => [run.name, run] as const))('%s', (_name, expected) => {
    const run = outcomes.get(expected.name)!
    expect(environmentRunProblems(run, join(FIXTURES, 'environments'), expected), run.output).toEqual([])
  })
})
