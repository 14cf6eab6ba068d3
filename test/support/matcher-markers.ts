import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { frameLine } from './markers.js'
import type { ModuleOutcome } from './run-vitest.js'

/**
 * Assertion fixtures (test/fixtures/matchers) say what must happen next to the code:
 *
 *   test('fails: a server with an open connection', async () => {
 *     const client = net.connect(port) // client side
 *     expect(server).toHaveNoOpenSockets() // @fails: 1 is open | client side created here:
 *   })
 *
 * A test named "fails: …" must fail with exactly one error whose code frame is a line marked `@fails:` and whose
 * message contains each `|`-separated text of that marker. Every code frame the message draws itself
 * (`❯ file:line:col`, the client side of a connection) must point at a line marked `// client side`. Every other
 * test must pass. The message may be the error's cause: Vitest 3.2's `expect.poll` throws "Matcher did not succeed
 * in time." with the matcher's own error as its cause (4.1 and 5.1 throw the matcher's error, with that as cause).
 */
const FAILS = /\/\/ @fails: (.+)$/
const DRAWN_FRAME = /❯ (\S+?):(\d+):\d+/g

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n')
}

export function checkMatcherMarkers(module: ModuleOutcome, root: string): string[] {
  const problems: string[] = []
  const source = lines(module.file)
  if (module.errors.length > 0) problems.push(`${module.file}: file errors: ${module.errors.map((e) => e.message).join('; ')}`)
  for (const test of module.tests) {
    const title = test.name.split(' > ').at(-1)!
    const label = `test "${test.name}"`
    if (!title.startsWith('fails:')) {
      if (test.state !== 'passed')
        problems.push(`${label} should pass but ${test.state}: ${test.errors.map((e) => e.message).join('\n---\n')}`)
      continue
    }
    if (test.state !== 'failed') {
      problems.push(`${label} should fail but ${test.state}`)
      continue
    }
    if (test.errors.length !== 1) {
      problems.push(`${label} should fail with one error, got ${test.errors.length}:\n${test.errors.map((e) => e.message).join('\n---\n')}`)
      continue
    }
    const error = test.errors[0]!
    const line = frameLine(error, module.file)
    const marker = line === undefined ? undefined : FAILS.exec(source[line - 1] ?? '')
    if (!marker) {
      problems.push(
        `${label}: the error's code frame (line ${line ?? 'none'}) is not a line marked @fails:\n${error.message}\n${error.stack}`,
      )
      continue
    }
    const message = error.message === 'Matcher did not succeed in time.' && error.cause ? error.cause : error.message
    for (const text of marker[1]!.split(' | ')) {
      if (!message.includes(text.trim())) problems.push(`${label}: the message lacks "${text.trim()}":\n${message}`)
    }
    for (const [, file, drawnLine] of message.matchAll(DRAWN_FRAME)) {
      const path = join(root, file!)
      const text = lines(path)[Number(drawnLine) - 1] ?? ''
      if (!text.includes('// client side'))
        problems.push(`${label}: the message's code frame ${file}:${drawnLine} is not a line marked // client side`)
    }
  }
  return problems
}
