import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { checkMarkers } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// Real Vitest browser-mode runs in Debian's Chromium (test/fixtures/browser-mode/chromium.ts), through
// @vitest/browser-playwright. There are no Node resources in a browser: the plugin must do nothing there, say so
// once, and not get in the browser run's way.

// the executablePath of test/fixtures/browser-mode/chromium.ts
const CHROMIUM = '/usr/bin/chromium'
const FIXTURE = join(FIXTURES, 'browser-mode')

const PLUGIN_NOTICE =
  /vitest-leaks: projects? .* in browser mode, where there are no Node resources to check; the plugin does nothing there\./g
const SETUP_NOTICE =
  /vitest-leaks: this environment has no Node process APIs \(browser mode\?\), so there is nothing to check; the plugin does nothing here\./g

/** The browser tests' states, once per browser instance that ran them. */
function browserTests(instances: number): Record<string, string[]> {
  const passed = Array<string>(instances).fill('passed')
  return {
    'leaves a timeout and an interval pending in the browser': passed,
    'a clean test in the browser': passed,
    'leaves a listener on window and a timeout pending in the browser': passed,
  }
}

/** Each test's states in the files under `dir`: one per project that ran it. */
function states(run: RunOutcome, dir: string): Record<string, string[]> {
  const found: Record<string, string[]> = {}
  for (const module of run.modules.filter((m) => m.file.startsWith(`${join(FIXTURE, dir)}/`))) {
    for (const test of module.tests) (found[test.name] ??= []).push(test.state)
  }
  return found
}

function count(output: string, notice: RegExp): number {
  return output.match(notice)?.length ?? 0
}

/** What no browser run may show: an error of the plugin's own, an error outside a test, a failed browser file. */
function expectNoTrouble(run: RunOutcome): void {
  expect(run.output, run.output).not.toContain('internal error')
  expect(run.unhandled, run.output).toEqual([])
  for (const module of run.modules.filter((m) => m.file.startsWith(`${join(FIXTURE, 'browser')}/`))) {
    expect(module.errors, `${module.file}\n${run.output}`).toEqual([])
  }
}

/** Each test fails (never skips) without the browser: CI installs it. */
function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `test/browser.test.ts runs Vitest in Debian's Chromium at ${CHROMIUM}, which is not installed: apt-get install chromium (.ci/run does it)`,
    )
  }
}

describe('browser mode, in a real Chromium', () => {
  test('leaks(): two browser instances run untouched, their pending timers and listener pass, and the plugin says so once', async () => {
    requireChromium()
    const run = await runVitest('browser-mode', { args: ['--config', 'plugin.config.ts'] })
    expect(states(run, 'browser'), run.output).toEqual(browserTests(2))
    expect(run.exitCode, run.output).toBe(0)
    expect(count(run.output, PLUGIN_NOTICE), run.output).toBe(1)
    expect(run.output).toContain('vitest-leaks: projects "first", "second" run in browser mode')
    // nothing was checked: no summary saying there were no leaks
    expect(count(run.output, / vitest-leaks {2}/g), run.output).toBe(0)
    // the setup file is not loaded in the browser: the plugin's notice is the only one
    expect(count(run.output, SETUP_NOTICE), run.output).toBe(0)
    expectNoTrouble(run)
  })

  test("setupFiles: ['vitest-leaks/setup'] alone: it loads in the browser, does nothing, and says so once for both files", async () => {
    requireChromium()
    const run = await runVitest('browser-mode', { args: ['--config', 'setup.config.ts'] })
    expect(states(run, 'browser'), run.output).toEqual(browserTests(1))
    expect(run.exitCode, run.output).toBe(0)
    expect(count(run.output, SETUP_NOTICE), run.output).toBe(1)
    expect(count(run.output, PLUGIN_NOTICE), run.output).toBe(0)
    expectNoTrouble(run)
  })

  test('a Node project and a browser project: the Node leak still fails, the browser project runs untouched', async () => {
    requireChromium()
    const run = await runVitest('browser-mode', { args: ['--config', 'projects.config.ts'] })
    expect(states(run, 'node'), run.output).toEqual({
      'leaks: an interval never cleared': ['failed'],
      'an interval cleared is fine': ['passed'],
    })
    const node = run.modules.find((m) => m.file === join(FIXTURE, 'node/timer.test.ts'))!
    expect(checkMarkers(node), run.output).toEqual([])
    expect(states(run, 'browser'), run.output).toEqual(browserTests(1))
    expect(run.exitCode, run.output).toBe(1)
    expect(count(run.output, PLUGIN_NOTICE), run.output).toBe(1)
    expect(run.output).toContain('vitest-leaks: project "browser (chromium)" runs in browser mode')
    expect(count(run.output, SETUP_NOTICE), run.output).toBe(0)
    // one summary for the run, though the browser project loads the config (and so a leaks()) of its own
    expect(run.output.match(/ vitest-leaks {2}/g)?.length, run.output).toBe(1)
    expect(run.output).toContain(' vitest-leaks  1 leak failed 1 test: 1 timer')
    expectNoTrouble(run)
  })
})
