import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { checkMarkers } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// One real Vitest run over the fixture project; each file's tests say in their names and @leak markers what must
// fail, with which message, at which line.
let run: RunOutcome
beforeAll(async () => {
  run = await runVitest('kinds')
})

const files = ['servers', 'sockets', 'http-late', 'around-each', 'around-each-nested', 'timers', 'processes', 'watchers', 'libraries', 'clean', 'scopes', 'cleanup-order', 'concurrent', 'listeners', 'files', 'descriptors', 'tcp-state', 'timing']

describe('every kind, leaky and clean, through real Vitest', () => {
  test('the run reported every fixture file', () => {
    const reported = run.modules.map((m) => m.file.split('/').at(-1))
    expect(reported.sort(), run.output).toEqual(files.map((f) => `${f}.test.ts`).sort())
    expect(run.unhandled, run.output).toEqual([])
  })

  test.each(files)('%s.test.ts: leaks fail their owner at the marked line; clean tests pass', (name) => {
    const module = run.modules.find((m) => m.file === join(FIXTURES, 'kinds', `${name}.test.ts`))
    expect(module, run.output).toBeDefined()
    expect(checkMarkers(module!)).toEqual([])
  })
})
