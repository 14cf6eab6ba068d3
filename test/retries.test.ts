import { join } from 'node:path'
import { expect, test } from 'vitest'
import { retriesProblems } from './support/retries.js'
import { FIXTURES, runVitest } from './support/run-vitest.js'

// retry and repeats check every attempt; test.fails, skip, todo and only behave as the README says (the same
// fixture runs on Vitest 3.2 and 5.1 in versions.test.ts)
test('retries, repeats, test.fails, skip, todo and only through real Vitest', async () => {
  const run = await runVitest('retries', { args: ['--allowOnly'] })
  expect(retriesProblems(run, join(FIXTURES, 'retries')), run.output).toEqual([])
})
