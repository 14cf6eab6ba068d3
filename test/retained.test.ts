import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { checkMarkers } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// Option `retainedSockets`: a closed socket still kept in a Set, a Map or an array after its test fails that test, at
// the line that created it (or started the server that accepted it); one that a variable or a property keeps (the
// last one, in a `let` of a describe block), or that goes away with the test, does not. The fixture's tests say which
// in their names and @leak markers. Run in the forks pool (the default) and in a thread.
const runs = new Map<string, RunOutcome>()
const pools = ['forks', 'threads']
let off: RunOutcome
beforeAll(async () => {
  for (const pool of pools) runs.set(pool, await runVitest('retained', { args: [`--pool=${pool}`] }))
  off = await runVitest('retained', { args: ['--config', 'default.config.ts'] })
})

describe.each(pools)('retainedSockets, pool %s', (pool) => {
  test('leaks fail their test at the marked line; clean tests pass', () => {
    const run = runs.get(pool)!
    expect(
      run.modules.map((m) => m.file),
      run.output,
    ).toEqual([join(FIXTURES, 'retained', 'retained.test.ts')])
    expect(run.unhandled, run.output).toEqual([])
    expect(checkMarkers(run.modules[0]!), run.output).toEqual([])
  })

  test('the summary counts them as retained sockets', () => {
    expect(runs.get(pool)!.output).toContain('7 leaks failed 6 tests, 1 suite: 7 retained sockets')
  })
})

test('off by default: the same tests all pass with leaks()', () => {
  const tests = off.modules.flatMap((m) => m.tests)
  expect(tests.length, off.output).toBeGreaterThan(10)
  for (const t of tests) expect(t.state, `${t.name}\n${off.output}`).toBe('passed')
  expect(off.output).not.toContain('retained socket')
})
