import { describe, expect, test } from 'vitest'
// @ts-expect-error: a plain .mjs script, no declarations
import { installProblem, ownCopy, targetPaths, TARGETS } from '../scripts/prepare-versions.mjs'
import { runVitest, type RunOptions } from './support/run-vitest.js'

// What the check waits for, and whose time it is (test/fixtures/settle: settleTimeout 2000 ms, testTimeout 300 ms,
// hookTimeout 100 ms).
// A connection ended to a peer in this process that keeps its side open cannot close by itself: it is reported at
// once, not after the settle window. One whose peer closes its side by itself, even after the test's and the hooks'
// timeouts, is waited for, and the wait never times the test out (on 3.2 and 4.0 the check is an onTestFinished
// callback, which the hookTimeout timed). On this Vitest and on every prepared target.
interface Target {
  name: string
  vitest: string
}

const SETTLE_TIMEOUT = 2000
const versions: Array<{ name: string; options: () => RunOptions }> = [{ name: 'this Vitest', options: () => ({}) }]
for (const target of TARGETS as Target[]) {
  versions.push({
    name: `${target.name} (Vitest ${target.vitest})`,
    options: () => {
      const problem: string | undefined = installProblem(target)
      if (problem) throw new Error(`${target.name} is not prepared: ${problem}. Run \`node scripts/prepare-versions.mjs\`.`)
      const paths = targetPaths(target)
      return { cwd: ownCopy(target, 'settle'), node: paths.node, vitestCli: paths.vitestCli }
    },
  })
}

describe.each(versions)('$name', ({ options }) => {
  test('leaks that cannot close are not waited for; what closes by itself is, outside the test and hook timeouts', async () => {
    const run = await runVitest('settle', { ...options(), files: ['half-open.test.ts'] })
    const tests = run.modules.flatMap((module) => module.tests)
    const byName = Object.fromEntries(tests.map((t) => [t.name, t]))
    expect(Object.fromEntries(tests.map((t) => [t.name, t.state])), run.output).toEqual({
      'leaks: 1 of 4, connections ended to a peer that keeps its side open': 'failed',
      'leaks: 2 of 4, connections ended to a peer that keeps its side open': 'failed',
      'leaks: 3 of 4, connections ended to a peer that keeps its side open': 'failed',
      'leaks: 4 of 4, connections ended to a peer that keeps its side open': 'failed',
      'leaks: a connection ended to a peer that never reads': 'failed',
      'a connection ended without waiting, whose peer ends its side 500 ms later, is fine': 'passed',
      'a connection ended without waiting, whose peer ends its side at once, is fine': 'passed',
      'a suite whose beforeAll ends a connection without waiting > and whose peer ends its side 500 ms later, is fine': 'passed',
    })
    // the suite's check, a cleanup of a beforeAll hook, waited past the hookTimeout
    expect(
      run.modules.flatMap((module) => module.suites.map((suite) => suite.state)),
      run.output,
    ).toEqual(['passed'])
    expect(
      run.modules.flatMap((module) => module.errors),
      run.output,
    ).toEqual([])
    expect(run.output).not.toMatch(/timed out/i)
    for (const t of tests.filter((t) => t.name.startsWith('leaks:'))) {
      const messages = t.errors.map((error) => error.message)
      expect(messages.length, t.name).toBe(t.name.includes('never reads') ? 1 : 5)
      for (const message of messages)
        expect(message, t.name).toMatch(
          /^TCP socket 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ outlived the test[\s\S]*this side ended, the peer has not/,
        )
      // reported without the settle window's wait (2000 ms): a few loop turns, and the time to describe them
      expect(t.duration, t.name).toBeLessThan(SETTLE_TIMEOUT / 4)
    }
    // waited for: its peer ends its side 500 ms after the test, past the test's timeout (300 ms) and the hooks' (100 ms)
    expect(byName['a connection ended without waiting, whose peer ends its side 500 ms later, is fine']!.duration).toBeGreaterThanOrEqual(
      450,
    )
  })
})
