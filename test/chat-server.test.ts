import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { linkPackage, ROOT, runVitest, type ErrorOutcome, type ModuleOutcome, type RunOutcome } from './support/run-vitest.js'

// examples/chat-server, as the README shows it: the tests run against three leaky connection managers (one bug each)
// and against the fixed one. Each leaky test fails with exactly the leaks below, at the line that made them; every
// other test, and every suite and file, passes.
const EXAMPLE = join(ROOT, 'examples/chat-server')
const TESTS = join(EXAMPLE, 'test/chat-tests.ts')

interface Expected {
  /** Each error's message matches its text, and one of its frames is on the line of test/chat-tests.ts that is `at`. */
  errors: Array<{ text: RegExp; at: string }>
}

const LEAKY: Record<string, Expected> = {
  'relays what one client says to the others': { errors: [] },
  'quitting > says goodbye to a client that quits': {
    errors: [
      {
        text: /^closed connection accepted on 127\.0\.0\.1:\d+ from 127\.0\.0\.1:\d+ outlived the test that created it\n {2}now: {5}closed, but still referenced from a Map `chat\.connections\.clients` \(of a ForgetfulConnectionManager\), as `\.socket` of an entry: it is never garbage collected\n/,
        at: 'chat = await start(new managers.quitting(OPTIONS))',
      },
    ],
  },
  'idle clients > disconnects a client that says nothing': {
    errors: [
      {
        text: /^TCP socket 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ outlived the test that created it\n {2}now: .*0 bytes read, 0 bytes written/,
        at: 'await connect(chat)',
      },
    ],
  },
  'shutdown > says goodbye to every client still connected': {
    errors: [
      {
        text: /^TCP socket .* outlived the test that created it \(1 of 2 leaks\)\n {2}now: .*; with it: connection accepted on /,
        at: "await join(chat, 'alice')",
      },
      {
        text: /^TCP socket .* outlived the test that created it \(2 of 2 leaks\)\n {2}now: .*; with it: connection accepted on /,
        at: "await join(chat, 'bob')",
      },
    ],
  },
}

let run: RunOutcome
beforeAll(async () => {
  linkPackage(join(ROOT, 'examples'))
  run = await runVitest('chat-server', { cwd: EXAMPLE })
})

function moduleOf(file: string): ModuleOutcome {
  const module = run.modules.find((m) => m.file === join(EXAMPLE, 'test', file))
  expect(module, run.output).toBeDefined()
  return module!
}

function lineOf(code: string): number {
  const index = readFileSync(TESTS, 'utf8')
    .split('\n')
    .findIndex((line) => line.trim() === code)
  expect(index, `no line \`${code}\` in ${TESTS}`).toBeGreaterThan(-1)
  return index + 1
}

/** The lines of test/chat-tests.ts in the error's stack. */
function linesInTests(error: ErrorOutcome): number[] {
  return [...error.stack.matchAll(new RegExp(`${TESTS.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):\\d+`, 'g'))].map((m) => Number(m[1]))
}

describe('examples/chat-server (retainedSockets: true)', () => {
  test('both files ran, with nothing unhandled', () => {
    expect(run.modules.map((m) => m.file.split('/').at(-1)).sort(), run.output).toEqual(['chat.fixed.test.ts', 'chat.leaky.test.ts'])
    expect(run.unhandled, run.output).toEqual([])
  })

  test.each(Object.keys(LEAKY))('chat.leaky.test.ts > %s', (name) => {
    const module = moduleOf('chat.leaky.test.ts')
    const outcome = module.tests.find((t) => t.name === name)
    expect(outcome, run.output).toBeDefined()
    const expected = LEAKY[name]!
    expect(outcome!.state, run.output).toBe(expected.errors.length > 0 ? 'failed' : 'passed')
    expect(outcome!.errors.map((e) => e.message).join('\n---\n'), run.output).toMatch(
      expected.errors.length > 0 ? /LeakError|outlived/ : /^$/,
    )
    expect(outcome!.errors.length, outcome!.errors.map((e) => e.message).join('\n---\n')).toBe(expected.errors.length)
    for (const [index, { text, at }] of expected.errors.entries()) {
      const error = outcome!.errors[index]!
      expect(error.message).toMatch(text)
      expect(linesInTests(error), error.stack).toContain(lineOf(at))
    }
  })

  test('the leaky file has no suite or file errors, and runs no other test', () => {
    const module = moduleOf('chat.leaky.test.ts')
    expect(module.tests.map((t) => t.name).sort()).toEqual(Object.keys(LEAKY).sort())
    expect(module.errors, run.output).toEqual([])
    for (const suite of module.suites) expect(suite.errors, `${suite.name}\n${run.output}`).toEqual([])
  })

  test('chat.fixed.test.ts: the same tests with the fixed ConnectionManager all pass', () => {
    const module = moduleOf('chat.fixed.test.ts')
    expect(module.tests.map((t) => t.name).sort()).toEqual(Object.keys(LEAKY).sort())
    for (const outcome of module.tests) expect(outcome.state, `${outcome.name}\n${run.output}`).toBe('passed')
    expect(module.state, run.output).toBe('passed')
  })
})
