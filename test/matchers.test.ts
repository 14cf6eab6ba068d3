import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { checkMatcherMarkers } from './support/matcher-markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// expect(…).toHaveNoOpenSockets() through real Vitest runs of test/fixtures/matchers: with the plugin, alone
// (`setupFiles: ['vitest-leaks/matchers']`), alone listed before the per-test check's setup file, and with the
// plugin's sockets kind off.
const root = join(FIXTURES, 'matchers')
let plugin: RunOutcome
let standalone: RunOutcome
let order: RunOutcome
let kindsOff: RunOutcome
beforeAll(async () => {
  ;[plugin, standalone, order, kindsOff] = await Promise.all([
    runVitest('matchers'),
    runVitest('matchers', { args: ['--config', 'standalone.config.ts'] }),
    runVitest('matchers', { args: ['--config', 'order.config.ts'] }),
    runVitest('matchers', { args: ['--config', 'kinds-off.config.ts'] }),
  ])
})

function moduleOf(run: RunOutcome, file: string) {
  const module = run.modules.find((m) => m.file === join(root, file))
  expect(module, run.output).toBeDefined()
  return module!
}

describe('registered by the plugin', () => {
  test('the run reported every fixture file, with no unhandled error', () => {
    expect(plugin.modules.map((m) => m.file.slice(root.length + 1)).sort(), plugin.output).toEqual([
      'clients.test.ts',
      'graceful.test.ts',
      'servers.test.ts',
    ])
    expect(plugin.unhandled, plugin.output).toEqual([])
  })

  test.each(['servers.test.ts', 'clients.test.ts', 'graceful.test.ts'])(
    '%s: failures at the marked lines with the marked texts; the rest pass',
    (file) => {
      expect(checkMatcherMarkers(moduleOf(plugin, file), root)).toEqual([])
    },
  )
})

describe("alone: setupFiles: ['vitest-leaks/matchers']", () => {
  test('the matcher works and no per-test check runs', () => {
    expect(standalone.unhandled, standalone.output).toEqual([])
    expect(checkMatcherMarkers(moduleOf(standalone, 'standalone/matchers.test.ts'), root)).toEqual([])
  })

  test('listed before vitest-leaks/setup, the per-test check still checks every kind', () => {
    const module = moduleOf(order, 'order/timer.test.ts')
    const states = Object.fromEntries(module.tests.map((t) => [t.name, t.state]))
    expect(states, order.output).toEqual({ 'fails: a timer left pending is still a leak': 'failed', 'and the matcher works': 'passed' })
    expect(module.tests[0]!.errors[0]?.message, order.output).toMatch(
      /^setTimeout timer \(10000 ms, callback anonymous\) outlived the test that created it/,
    )
  })
})

test('with the sockets kind off, connections still count and the client side is said to be unknown', () => {
  expect(kindsOff.unhandled, kindsOff.output).toEqual([])
  expect(checkMatcherMarkers(moduleOf(kindsOff, 'kinds-off/matchers.test.ts'), root)).toEqual([])
})
