import { describe, expect, test } from 'vitest'
import { runVitest, type RunOutcome } from './support/run-vitest.js'

function states(run: RunOutcome): Record<string, string> {
  return Object.fromEntries(run.modules.flatMap((m) => m.tests.map((t) => [t.name, t.state])))
}

function errorsOf(run: RunOutcome, name: string): string[] {
  return run.modules.flatMap((m) => m.tests.filter((t) => t.name === name).flatMap((t) => t.errors.map((e) => e.message)))
}

describe('setup', () => {
  test("setupFiles: ['vitest-leaks/setup'] alone works, with no import", async () => {
    const run = await runVitest('options', { args: ['--config', 'setup-only.config.ts'] })
    expect(states(run), run.output).toEqual({ 'leaves a server': 'failed', 'leaves a timer': 'failed', clean: 'passed' })
    expect(errorsOf(run, 'leaves a server')[0]).toMatch(/^TCP server listening on 127\.0\.0\.1:\d+ outlived the test that created it/)
  })

  test('a custom runner that overrides the per-attempt methods: every test is still checked', async () => {
    const run = await runVitest('options', { args: ['--config', 'custom-runner.config.ts'] })
    expect(states(run), run.output).toEqual({ 'leaves a server': 'failed', 'leaves a timer': 'failed', clean: 'passed' })
  })

  test('kinds limits what is checked', async () => {
    const run = await runVitest('options', { args: ['--config', 'servers-only.config.ts'] })
    expect(states(run), run.output).toEqual({ 'leaves a server': 'failed', 'leaves a timer': 'passed', clean: 'passed' })
  })
})

test('with the sockets kind off, the descriptors of pooled keep-alive sockets are still explained: no false alarm', async () => {
  const run = await runVitest('options', { args: ['--config', 'no-sockets.config.ts'] })
  expect(states(run), run.output).toEqual({
    'parallel requests through the global keep-alive agent, bodies read': 'passed',
    'fetch, body read': 'passed',
    'the pooled connections are reused': 'passed',
  })
  expect(run.modules[0]?.errors, run.output).toEqual([])
})

describe('bad options fail the run at startup, naming the option and what is accepted', () => {
  test.each([
    [
      'unknown-option.config.ts',
      'vitest-leaks: unknown option `kind`. Accepted options: kinds, settleTimeout, cleanup, mode, ignore, report, baseline, trace, retainedSockets, stacksPerTest.',
    ],
    [
      'bad-kind.config.ts',
      "vitest-leaks: option `kinds` must be an array of 'servers', 'sockets', 'udp', 'timers', 'processes', 'workers', 'watchers', 'listeners', 'files', 'descriptors', 'handles'; got \"fds\".",
    ],
    ['bad-type.config.ts', 'vitest-leaks: option `settleTimeout` must be a number of milliseconds from 0 to 60000; got "100".'],
    ['bad-mode.config.ts', "vitest-leaks: option `mode` must be one of 'fail', 'warn', 'off'; got \"strict\"."],
    ['bad-retained.config.ts', 'vitest-leaks: option `retainedSockets` must be true or false; got "yes".'],
    ['bad-stacks.config.ts', 'vitest-leaks: option `stacksPerTest` must be a whole number from 0 up, or Infinity; got number -1.'],
    [
      'bad-ignore.config.ts',
      'vitest-leaks: option `ignore[0].reason` must be a non-empty string saying why the leak is accepted; got undefined undefined.',
    ],
  ])('%s', async (config, message) => {
    const run = await runVitest('options', { args: ['--config', config] })
    expect(run.exitCode).not.toBe(0)
    expect(run.modules).toEqual([])
    expect(run.output).toContain(message)
  })
})

describe('stacksPerTest: timers and requests past the budget still fail their test, without a stack', () => {
  const file = 'stacks.test.ts'
  const frameLine = (run: RunOutcome, name: string) => {
    const stack = run.modules.flatMap((m) => m.tests.filter((t) => t.name === name).flatMap((t) => t.errors.map((e) => e.stack)))[0] ?? ''
    const match = new RegExp(`${file}:(\\d+):`).exec(stack)
    return match ? Number(match[1]) : undefined
  }

  test('past the budget: the leak fails with no frame and says how to get one; within it: framed', async () => {
    const run = await runVitest('options', { args: ['--config', 'stacks.config.ts'] })
    expect(states(run), run.output).toEqual({
      'churns timers, then leaves one past the budget': 'failed',
      'leaves a timer within the budget': 'failed',
      'listeners past the budget, added by other code': 'failed',
      'clean churn past the budget': 'passed',
      'fetches past the budget, then leaves a body unread': 'failed',
      'leaves a body unread within the budget': 'failed',
      'leaves one past the budget between two churns': 'failed',
    })
    const [interval] = errorsOf(run, 'churns timers, then leaves one past the budget')
    expect(interval).toMatch(/^setInterval timer \(60000 ms, callback `poll`\) outlived the test that created it/)
    expect(interval).toContain(
      'created: in this test (no JavaScript stack: its test had already made 10 timers, and only that many keep their creation stack; run with VITEST_LEAKS_STACKS=all to see where this one was created)',
    )
    expect(frameLine(run, 'churns timers, then leaves one past the budget')).toBeUndefined()
    // the cleared timers after it are dropped as they close; the one still pending is not
    expect(errorsOf(run, 'leaves one past the budget between two churns')).toEqual([
      expect.stringMatching(/^setInterval timer \(60000 ms, callback `amidChurn`\) outlived the test that created it/),
    ])
    // listeners: past the first four stacks of an event, a listener of other code than those gets its own stack
    expect(errorsOf(run, 'listeners past the budget, added by other code')[0]).toMatch(
      /^'tick' listener on a long-lived EventEmitter outlived the test that created it/,
    )
    expect(frameLine(run, 'listeners past the budget, added by other code')).toBe(24)
    expect(errorsOf(run, 'leaves a timer within the budget')[0]).toMatch(/^setTimeout timer \(60000 ms, callback `early`\)/)
    expect(frameLine(run, 'leaves a timer within the budget')).toBe(14)
    // requests: a connection left busy by the 13th request of a test names the request, and has no frame
    const [busy] = errorsOf(run, 'fetches past the budget, then leaves a body unread')
    expect(busy).toMatch(/^fetch \(undici\) TCP socket .* outlived the test that created it/)
    expect(busy).toMatch(/busy: the response body of GET http:\/\/127\.0\.0\.1:\d+\/big was never read or cancelled/)
    expect(busy).toContain(
      '(no JavaScript stack: its test had already made 10 HTTP requests, and only that many keep their stack; run with VITEST_LEAKS_STACKS=all to see where this one was made)',
    )
    expect(frameLine(run, 'fetches past the budget, then leaves a body unread')).toBeUndefined()
    expect(errorsOf(run, 'leaves a body unread within the budget')[0]).toMatch(
      /busy: the response body of GET http:\/\/127\.0\.0\.1:\d+\/big was never read/,
    )
    expect(frameLine(run, 'leaves a body unread within the budget')).toBe(51)
  })

  test('VITEST_LEAKS_STACKS=all: every leak has its code frame', async () => {
    const run = await runVitest('options', { args: ['--config', 'stacks.config.ts'], env: { VITEST_LEAKS_STACKS: 'all' } })
    expect(frameLine(run, 'churns timers, then leaves one past the budget'), run.output).toBe(10)
    expect(frameLine(run, 'fetches past the budget, then leaves a body unread')).toBe(47)
    expect(run.output).not.toContain('VITEST_LEAKS_STACKS=all to see')
  })

  test('a bad VITEST_LEAKS_STACKS stops the run with what it accepts', async () => {
    const run = await runVitest('options', { args: ['--config', 'stacks.config.ts'], env: { VITEST_LEAKS_STACKS: 'many' } })
    expect(run.exitCode).not.toBe(0)
    expect(run.output).toContain('vitest-leaks: environment variable VITEST_LEAKS_STACKS must be "all" or a whole number; got "many".')
  })
})

test("the check may wait for closing resources longer than the hookTimeout: the plugin's own hook is not timed", async () => {
  const run = await runVitest('options', { args: ['--config', 'slow-close.config.ts'] })
  expect(states(run), run.output).toEqual({ 'a connection the server closes 400 ms after the test ended it': 'passed' })
  expect(run.output).not.toMatch(/timed out/i)
})

test("an error in the plugin's own diagnostics_channel subscriber is shown once and never reaches the process", async () => {
  const run = await runVitest('options', { args: ['--config', 'internal-channel.config.ts'] })
  expect(states(run), run.output).toEqual({ 'an unreadable connection is announced': 'passed', 'and another one': 'passed' })
  expect(run.unhandled, run.output).toEqual([])
  expect(run.exitCode).toBe(0)
  expect(run.output.match(/vitest-leaks: internal error/g) ?? []).toHaveLength(1)
  expect(run.output).toContain('connection unreadable')
})

test.each(['onBeforeTryTask', 'onAfterRetryTask'])(
  "tests that ran without the plugin's %s are not passed over in silence",
  async (method) => {
    const run = await runVitest('options', { args: ['--config', 'runner-replaced.config.ts'], env: { REPLACED_METHOD: method } })
    expect(states(run), run.output).toEqual({ 'leaves a timer nobody checks': 'passed' })
    expect(run.output).toContain("the tests of this file ran without Vitest's onBeforeTryTask or onAfterRetryTask: they were not checked")
  },
)

test("the plugin's own error is shown once, as such, and never fails the user's tests", async () => {
  const run = await runVitest('options', { args: ['--config', 'plugin.config.ts'] })
  expect(states(run), run.output).toEqual({ 'first hostile socket': 'passed', 'second hostile socket': 'passed' })
  expect(run.exitCode).toBe(0)
  const notices = run.output.match(/vitest-leaks: internal error/g) ?? []
  expect(notices).toHaveLength(1)
  expect(run.output).toContain('state unreadable')
})
