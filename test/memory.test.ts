import { expect, test } from 'vitest'
import { runVitest } from './support/run-vitest.js'

// The plugin keeps nothing alive that the program let go: closed sockets are collected at once (a test that checks
// so with a FinalizationRegistry passes with the plugin on), and the worker's heap stays flat over 100 000 sockets.
test('closed sockets are collected, and memory stays flat over 100 000 of them, with the plugin on', async () => {
  const run = await runVitest('memory')
  const states = Object.fromEntries(run.modules.flatMap((m) => m.tests.map((t) => [t.name, t.state])))
  expect(states, run.output).toEqual({
    'memory stays flat over 100 000 client sockets opened and closed': 'passed',
    'memory stays flat over connections accepted by a server of the file': 'passed',
    'a closed socket is collected once the program lets it go': 'passed',
    'an HTTP request aborted by its client is collected (the request objects of a server of the file)': 'passed',
    "a library's object the program let go is collected": 'passed',
  })
}, 240_000)
