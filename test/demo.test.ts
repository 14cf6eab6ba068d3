import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { ROOT } from './support/run-vitest.js'

// The README's first command: the demo must keep showing every leak in examples/http-api and no false alarm. The
// script checks the outcome itself and exits non-zero when it is not the expected one.
test('npm run demo: the leaky example tests fail with their leaks, the fixed ones pass', async () => {
  const child = spawn(process.execPath, [join(ROOT, 'scripts/demo.mjs')], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', VITEST: undefined, VITEST_WORKER_ID: undefined, VITEST_POOL_ID: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const code = await new Promise((resolve) => child.on('close', resolve))
  expect(code, output).toBe(0)
  expect(output).toContain('As expected: every leak was caught in the test that caused it, and no clean test was blamed.')
})
