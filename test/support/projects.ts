import { join } from 'node:path'
import { checkMarkers } from './markers.js'
import type { RunOutcome } from './run-vitest.js'

/** Problems with a run of the projects fixture in `fixture`: both inline projects checked, the threads note once. */
export function projectsProblems(run: RunOutcome, fixture: string): string[] {
  const problems: string[] = []
  if (run.unhandled.length > 0) problems.push(`unhandled errors: ${run.unhandled.map((e) => e.message).join('; ')}`)
  for (const file of ['api/server.test.ts', 'jobs/timer.test.ts']) {
    const module = run.modules.find((m) => m.file === join(fixture, file))
    if (!module) problems.push(`${file} was not reported`)
    else problems.push(...checkMarkers(module).map((problem) => `${file}: ${problem}`))
  }
  // the jobs project runs in threads: what that pool cannot give is said once
  const notes = run.output.split('\n').filter((line) => line.startsWith("vitest-leaks: pool 'threads'"))
  if (notes.length !== 1) problems.push(`the note on pool 'threads' was printed ${notes.length} times, not once`)
  return problems
}
