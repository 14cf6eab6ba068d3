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

  test('kinds limits what is checked', async () => {
    const run = await runVitest('options', { args: ['--config', 'servers-only.config.ts'] })
    expect(states(run), run.output).toEqual({ 'leaves a server': 'failed', 'leaves a timer': 'passed', clean: 'passed' })
  })
})

describe('bad options fail the run at startup, naming the option and what is accepted', () => {
  test.each([
    ['unknown-option.config.ts', 'vitest-leaks: unknown option `kind`. Accepted options: kinds, settleTimeout, cleanup, mode, ignore, report, baseline, trace, retainedSockets.'],
    [
      'bad-kind.config.ts',
      "vitest-leaks: option `kinds` must be an array of 'servers', 'sockets', 'udp', 'timers', 'processes', 'workers', 'watchers', 'listeners', 'files', 'descriptors', 'handles'; got \"fds\".",
    ],
    ['bad-type.config.ts', 'vitest-leaks: option `settleTimeout` must be a number of milliseconds from 0 to 60000; got "100".'],
    ['bad-mode.config.ts', "vitest-leaks: option `mode` must be one of 'fail', 'warn', 'off'; got \"strict\"."],
    ['bad-retained.config.ts', 'vitest-leaks: option `retainedSockets` must be true or false; got "yes".'],
    ['bad-ignore.config.ts', 'vitest-leaks: option `ignore[0].reason` must be a non-empty string saying why the leak is accepted; got undefined undefined.'],
  ])('%s', async (config, message) => {
    const run = await runVitest('options', { args: ['--config', config] })
    expect(run.exitCode).not.toBe(0)
    expect(run.modules).toEqual([])
    expect(run.output).toContain(message)
  })
})

test("an error in the plugin's own diagnostics_channel subscriber is shown once and never reaches the process", async () => {
  const run = await runVitest('options', { args: ['--config', 'internal-channel.config.ts'] })
  expect(states(run), run.output).toEqual({ 'an unreadable connection is announced': 'passed', 'and another one': 'passed' })
  expect(run.unhandled, run.output).toEqual([])
  expect(run.exitCode).toBe(0)
  expect(run.output.match(/vitest-leaks: internal error/g) ?? []).toHaveLength(1)
  expect(run.output).toContain('connection unreadable')
})

test("the plugin's own error is shown once, as such, and never fails the user's tests", async () => {
  const run = await runVitest('options', { args: ['--config', 'plugin.config.ts'] })
  expect(states(run), run.output).toEqual({ 'first hostile socket': 'passed', 'second hostile socket': 'passed' })
  expect(run.exitCode).toBe(0)
  const notices = run.output.match(/vitest-leaks: internal error/g) ?? []
  expect(notices).toHaveLength(1)
  expect(run.output).toContain('state unreadable')
})
