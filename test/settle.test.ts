import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
// @ts-expect-error: a plain .mjs script, no declarations
import { installProblem, ownCopy, targetPaths, TARGETS } from '../scripts/prepare-versions.mjs'
import { frameLine } from './support/markers.js'
import { FIXTURES, runVitest, type RunOptions } from './support/run-vitest.js'

// What the check waits for, and whose time it is (test/fixtures/settle: settleTimeout 2000 ms, testTimeout 300 ms,
// hookTimeout 100 ms).
// A connection ended to a peer in this process that keeps its side open cannot close by itself: it is reported at
// once, not after the settle window. One whose peer closes its side by itself, even after the test's and the hooks'
// timeouts, is waited for, and the wait never times the test out (on 3.2 and 4.0 the check is an onTestFinished
// callback, which the hookTimeout timed). A close chain still running in the process when the test is judged (a
// proxy that closes its upstream 5 ms after its client's connection closed) is waited for; the same proxy that never
// closes its upstream leaves a leak, reported at once. A connection to another process gets a short wait, for a
// server that closes it just after its answer to QUIT, and one still connecting (its host lookup in Node's thread
// pool) is waited for until it is up or given up. On this Vitest and on every prepared target.
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

  test('a close chain still running when the test is judged is waited for; the same chain that never closes is a leak', async () => {
    const run = await runVitest('settle', { ...options(), files: ['close-chain.test.ts'] })
    const tests = run.modules.flatMap((module) => module.tests)
    const chained = 'a proxy that closes its upstream 5 ms after its client closed'
    const states = Object.fromEntries(
      [1, 2, 3, 4].map((n) => [`${chained} > ${n} of 4: a client closed by the shared afterEach, not awaited, is fine`, 'passed']),
    )
    expect(Object.fromEntries(tests.map((t) => [t.name, t.state])), run.output).toEqual({
      ...states,
      'a proxy that never closes its upstream > leaks: its upstream, dialled when the test connected': 'failed',
    })
    expect(
      run.modules.flatMap((module) => module.errors),
      run.output,
    ).toEqual([])
    const leaky = tests.find((t) => t.name.includes('leaks:'))!
    expect(
      leaky.errors.map((error) => error.message),
      run.output,
    ).toEqual([
      expect.stringMatching(
        /^WebSocket client \(undici\) TCP socket 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ outlived the test[\s\S]*now: +open to ws:/,
      ),
    ])
    // drawn at the proxy's line that dialled it, blamed on the test that connected
    const file = join(FIXTURES, 'settle', 'close-chain.test.ts')
    const line =
      readFileSync(file, 'utf8')
        .split('\n')
        .findIndex((source) => source.includes('upstreams.add(new WebSocket(')) + 1
    expect(frameLine(leaky.errors[0]!, 'close-chain.test.ts'), run.output).toBe(line)
    // reported once the chain that ran (its client's close) was over, not after the settle window
    expect(leaky.duration, run.output).toBeLessThan(SETTLE_TIMEOUT / 4)
  })

  test('a connection whose server in another process closes it just after its answer is waited for; one left open is a leak', async () => {
    const run = await runVitest('settle', { ...options(), files: ['peer-closes.test.ts'] })
    const tests = run.modules.flatMap((module) => module.tests)
    expect(Object.fromEntries(tests.map((t) => [t.name, t.state])), run.output).toEqual({
      'a connection whose server closes it 5 ms after answering QUIT is fine': 'passed',
      'leaks: a connection to another process that nobody closes': 'failed',
    })
    const leaky = tests.find((t) => t.name.startsWith('leaks:'))!
    expect(
      leaky.errors.map((error) => error.message),
      run.output,
    ).toEqual([expect.stringMatching(/^TCP socket 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ outlived the test[\s\S]*ESTABLISHED/)])
    // a short wait, not the settle window
    expect(leaky.duration, run.output).toBeLessThan(SETTLE_TIMEOUT / 4)
  })

  test('a connection still connecting when the test is judged is waited for; one that connects and stays is a leak', async () => {
    const run = await runVitest('settle', { ...options(), files: ['connecting.test.ts'] })
    const tests = run.modules.flatMap((module) => module.tests)
    expect(Object.fromEntries(tests.map((t) => [t.name, t.state])), run.output).toEqual({
      ...Object.fromEntries(
        [1, 2, 3, 4, 5, 6, 7, 8].map((n) => [`${n} of 8: a connection given up as soon as it connects is fine`, 'passed']),
      ),
      'leaks: a connection dialled and kept': 'failed',
    })
    const leaky = tests.find((t) => t.name.startsWith('leaks:'))!
    expect(
      leaky.errors.map((error) => error.message),
      run.output,
    ).toEqual([expect.stringMatching(/^TCP socket \S+ → \S+ outlived the test[\s\S]*ESTABLISHED/)])
    expect(leaky.duration, run.output).toBeLessThan(SETTLE_TIMEOUT / 4)
  })
})
