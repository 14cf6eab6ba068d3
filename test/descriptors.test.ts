import { describe, expect, test } from 'vitest'
import { descriptorsNote } from '../src/plugin/pool-notes.js'
import { checkMarkers } from './support/markers.js'
import { runVitest, type RunOutcome } from './support/run-vitest.js'

// The fd snapshot only means something where the worker's descriptor table is its own. In worker-thread pools it is
// shared with Vitest and the other workers: the plugin says so once and takes no snapshot there, and every other
// kind (files included) is still checked.
function stateOf(run: RunOutcome, name: string): string | undefined {
  return run.modules.flatMap((m) => m.tests).find((t) => t.name === name)?.state
}

function messages(run: RunOutcome): string[] {
  return run.modules
    .flatMap((m) => [...m.errors, ...m.suites.flatMap((s) => s.errors), ...m.tests.flatMap((t) => t.errors)])
    .map((e) => e.message)
}

describe.each(['threads', 'vmThreads'])('pool %s', (pool) => {
  let run: RunOutcome
  test('says once that the snapshot is not taken, and blames no test for a descriptor', async () => {
    run = await runVitest('kinds', { files: ['descriptors.test.ts', 'files.test.ts'], args: [`--pool=${pool}`] })
    const notes = run.output.match(/the fd snapshot \(kind `descriptors`\) is not taken there/g) ?? []
    expect(notes, run.output).toHaveLength(1)
    expect(run.output).toContain(`pool '${pool}' runs test files in worker threads that share one descriptor table`)
    expect(
      messages(run).filter((m) => /^file descriptor \d+ \(/.test(m)),
      run.output,
    ).toEqual([])
    expect(stateOf(run, 'leaks: a directory from fs.opendirSync never closed'), run.output).toBe('passed')
    expect(stateOf(run, 'DNS lookups and c-ares queries are fine'), run.output).toBe('passed')
  })

  test('files are still checked', () => {
    expect(stateOf(run, 'leaks: fs.openSync never closed'), run.output).toBe('failed')
    expect(stateOf(run, 'leaks: a FileHandle never closed'), run.output).toBe('failed')
    expect(stateOf(run, 'openSync then closeSync is fine'), run.output).toBe('passed')
  })
})

test.each(['forks', 'vmForks'])('pool %s: no note, and the snapshot runs with no false alarm', async (pool) => {
  const run = await runVitest('kinds', { files: ['descriptors.test.ts'], args: [`--pool=${pool}`] })
  expect(run.output).not.toContain('the fd snapshot')
  // what the fd snapshot and the files probe report; pooled fetch sockets in vm pools are the sockets probe's concern
  const problems = checkMarkers(run.modules[0]!).filter((problem) => !problem.includes('idle keep-alive'))
  expect(problems, run.output).toEqual([])
})

test('the note, by pool and platform', () => {
  expect(descriptorsNote('forks', 'linux')).toBeUndefined()
  expect(descriptorsNote('vmForks', 'linux')).toBeUndefined()
  expect(descriptorsNote('threads', 'linux')).toMatch(/pool 'threads' .* share one descriptor table .* not taken there: no test is blamed/)
  expect(descriptorsNote('forks', 'darwin')).toMatch(/needs Linux's \/proc and is not available on darwin/)
})
