import { cpSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, expect, test } from 'vitest'
import { checkMarkers } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// Resources a library creates on a later tick, with no frame of the test's code in their stacks: they still fail the
// test that was running, and show the library's frames. (Libraries whose later connections the plugin traces back
// to the user's call, such as ioredis, undici pools and fetch, are in the integration fixtures.)
const fixture = join(FIXTURES, 'origins')
let run: RunOutcome
beforeAll(async () => {
  // a library must live in node_modules to be one; node_modules is not committed, so it is installed here
  const lib = join(fixture, 'node_modules/later-lib')
  rmSync(lib, { recursive: true, force: true })
  mkdirSync(join(fixture, 'node_modules'), { recursive: true })
  cpSync(join(fixture, 'lib/later-lib'), lib, { recursive: true })
  run = await runVitest('origins')
})

test('leaks fail the test that was running, at the marked line or with no frame of its file', () => {
  expect(run.unhandled, run.output).toEqual([])
  const module = run.modules.find((m) => m.file === join(fixture, 'later.test.ts'))
  expect(module, run.output).toBeDefined()
  expect(checkMarkers(module!)).toEqual([])
})

test('with no frame of the user, the error names the library and shows its frames', () => {
  const module = run.modules.find((m) => m.file === join(fixture, 'later.test.ts'))!
  const test = module.tests.find((t) => t.name === 'leaks: a client that connects on a later tick, never closed')!
  expect(test.errors).toHaveLength(2)
  for (const error of test.errors) {
    expect(error.message).toContain('outlived the test that created it')
    expect(error.message).toContain('created: in this test (through later-lib)')
    expect(error.stack).toMatch(/node_modules\/later-lib\/index\.js:\d+:\d+/)
  }
})
