import { fixtureFiles, markedRunProblems } from './markers.js'
import type { RunOutcome } from './run-vitest.js'

// Runs of the pools fixture (test/fixtures/pools) under every pool, with and without isolation and file parallelism,
// and what each must print at startup. Shared by pools.test.ts (this Vitest) and versions.test.ts (3.2 and 5.x).

const THREADS_NOTE = 'runs test files in worker threads that share one descriptor table'
const VM_NOTE = "gives test files a copy of Node's built-in modules"

export interface PoolRun {
  name: string
  args: string[]
  /** The startup notes expected, each exactly once; any other line from the plugin is a problem. */
  notes: string[]
}

// With one worker, later files run in a worker (in the vm pools, a vm context) that earlier files used.
export const POOL_RUNS: PoolRun[] = [
  { name: 'threads', args: ['--pool=threads'], notes: [THREADS_NOTE] },
  { name: 'vmThreads', args: ['--pool=vmThreads'], notes: [THREADS_NOTE, VM_NOTE] },
  { name: 'vmForks', args: ['--pool=vmForks'], notes: [VM_NOTE] },
  { name: 'vmThreads, one worker', args: ['--pool=vmThreads', '--maxWorkers=1'], notes: [THREADS_NOTE, VM_NOTE] },
  { name: 'vmForks, one worker', args: ['--pool=vmForks', '--maxWorkers=1'], notes: [VM_NOTE] },
  { name: 'forks, no isolation, one worker', args: ['--pool=forks', '--no-isolate', '--maxWorkers=1'], notes: [] },
  { name: 'threads, no isolation, one worker', args: ['--pool=threads', '--no-isolate', '--maxWorkers=1'], notes: [THREADS_NOTE] },
  { name: 'no file parallelism', args: ['--no-file-parallelism'], notes: [] },
]

/** Problems with one run of the pools fixture in `fixture`; an empty list means every file behaved and the notes were right. */
export function poolRunProblems(run: RunOutcome, fixture: string, expected: PoolRun): string[] {
  const problems = markedRunProblems(run, fixture, fixtureFiles(fixture))
  const notes = run.output.split('\n').filter((line) => line.startsWith('vitest-leaks:'))
  for (const note of expected.notes) {
    const count = notes.filter((line) => line.includes(note)).length
    if (count !== 1) problems.push(`the startup note "${note}" was printed ${count} times, not once`)
  }
  const unexpected = notes.filter((line) => !expected.notes.some((note) => line.includes(note)))
  if (unexpected.length > 0) problems.push(`unexpected lines from the plugin:\n${unexpected.join('\n')}`)
  return problems
}
