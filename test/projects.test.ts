import { join } from 'node:path'
import { expect, test } from 'vitest'
import { projectsProblems } from './support/projects.js'
import { FIXTURES, runVitest } from './support/run-vitest.js'

// Inline test.projects, one extending the root config and one not: the root's leaks() checks both. versions.test.ts
// runs the same fixture on Vitest 3.2 and 5.1 (on 5.x the config hook alone does not reach inline projects).
test('every inline project is checked, and its pool is judged on its own', async () => {
  const run = await runVitest('projects')
  expect(projectsProblems(run, join(FIXTURES, 'projects')), run.output).toEqual([])
})
