import { fixtureFiles, markedRunProblems } from './markers.js'
import type { RunOutcome } from './run-vitest.js'

// Runs of the environments fixture (test/fixtures/environments), shared by environments.test.ts (this Vitest) and
// versions.test.ts (the other versions).

export interface EnvironmentRun {
  name: string
  args: string[]
  /** Test files to run; all by default. */
  files?: string[]
}

export const ENVIRONMENT_RUNS: EnvironmentRun[] = [
  ...['forks', 'threads', 'vmThreads', 'vmForks'].map((pool) => ({ name: pool, args: [`--pool=${pool}`] })),
  // the first file of a vm pool's worker: its environment was made before the plugin was set up in that worker
  ...['jsdom', 'happy-dom', 'edge-runtime'].map((env) => ({
    name: `vmForks, ${env} alone`,
    args: ['--pool=vmForks'],
    files: [`${env}.test.ts`],
  })),
]

/** Problems with one run; an empty list means every file was checked and behaved as its markers say. */
export function environmentRunProblems(run: RunOutcome, fixture: string, expected: EnvironmentRun): string[] {
  const problems = markedRunProblems(run, fixture, expected.files ?? fixtureFiles(fixture))
  if (run.output.includes('vitest-leaks: internal error')) problems.push('the plugin reported an internal error')
  return problems
}
