import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { frameLine } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

const fixture = join(FIXTURES, 'trace')
const file = join(fixture, 'leaks.test.ts')

beforeAll(() => {
  // a stand-in for a real client library: it creates its socket on a later tick, so no frame of the test is on the
  // socket's own stack
  const lib = join(fixture, 'node_modules/late-connect')
  mkdirSync(lib, { recursive: true })
  writeFileSync(join(lib, 'package.json'), JSON.stringify({ name: 'late-connect', main: 'index.js' }))
  writeFileSync(
    join(lib, 'index.js'),
    [
      "const net = require('node:net')",
      'exports.connectLater = (port) =>',
      '  new Promise((resolve) => setImmediate(() => {',
      "    const socket = net.connect(port, '127.0.0.1')",
      "    socket.on('connect', () => resolve(socket))",
      '  }))',
    ].join('\n'),
  )
})

function errorsOf(run: RunOutcome, name: string) {
  return run.modules.flatMap((m) => m.tests.filter((t) => t.name === name).flatMap((t) => t.errors))
}

function states(run: RunOutcome): Record<string, string> {
  return Object.fromEntries(run.modules.flatMap((m) => m.tests.map((t) => [t.name, t.state])))
}

describe('without trace mode', () => {
  test('a MessagePort left open fails the test at the line that made it listen; a later socket says how to get its stack', async () => {
    const run = await runVitest('trace')
    expect(states(run), run.output).toEqual({
      'leaves a MessagePort open': 'failed',
      'closes its MessagePort': 'passed',
      'leaves a socket a library opened on a later tick': 'failed',
    })
    const [port] = errorsOf(run, 'leaves a MessagePort open')
    expect(port!.message).toContain('MessagePort with a message listener (one end of a MessageChannel) outlived the test that created it')
    expect(port!.message).toContain('fix:     close it with `port.close()`')
    expect(frameLine(port!, file)).toBe(18)
    const [socket] = errorsOf(run, 'leaves a socket a library opened on a later tick')
    expect(socket!.message).toContain('no frame of your code: it was created on a later tick; run with VITEST_LEAKS_TRACE=1')
    // the library's frame is still shown
    expect(socket!.stack).toContain('late-connect/index.js:4')
  })
})

describe('trace mode', () => {
  for (const [how, env] of [
    ['VITEST_LEAKS_TRACE=1', { VITEST_LEAKS_TRACE: '1' }],
    ['the trace option', { TRACE: 'option' }],
  ] as const) {
    test(`${how}: the code frame reaches the user's line, through the async chain`, async () => {
      const run = await runVitest('trace', { env })
      const [port] = errorsOf(run, 'leaves a MessagePort open')
      expect(frameLine(port!, file), run.output).toBe(18)
      const [socket] = errorsOf(run, 'leaves a socket a library opened on a later tick')
      expect(socket!.message).toContain('created on a later tick, 0 async steps after your call')
      expect(frameLine(socket!, file)).toBe(29)
    })
  }
})
