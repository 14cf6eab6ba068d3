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

const files = [
  'servers',
  'sockets',
  'http-late',
  'around-each',
  'around-each-nested',
  'timers',
  'processes',
  'watchers',
  'libraries',
  'clean',
  'scopes',
  'cleanup-order',
  'concurrent',
  'listeners',
  'listeners-finished',
  'listeners-libraries',
  'files',
  'descriptors',
  'tcp-state',
  'timing',
]

describe('every kind, leaky and clean, through real Vitest', () => {
  test('the run reported every fixture file', () => {
    const reported = run.modules.map((m) => m.file.split('/').at(-1))
    expect(reported.sort(), run.output).toEqual(files.map((f) => `${f}.test.ts`).sort())
    expect(run.unhandled, run.output).toEqual([])
  })

  // the plugin prints nothing but its errors and summary: the fixture checks a leaked and a closed UDP socket (whose
  // `_handle` getter warns, DEP0112), child processes, workers, files and the rest, all of which it reads
  test('the run prints no warning of Node (DeprecationWarning, ExperimentalWarning) and no internal error', () => {
    expect(run.output).not.toMatch(/DeprecationWarning|ExperimentalWarning|\(node:\d+\) \[|vitest-leaks: internal error/)
  })

  test.each(files)('%s.test.ts: leaks fail their owner at the marked line; clean tests pass', (name) => {
    const module = run.modules.find((m) => m.file === join(FIXTURES, 'kinds', `${name}.test.ts`))
    expect(module, run.output).toBeDefined()
    expect(checkMarkers(module!)).toEqual([])
  })
})

describe('listener texts', () => {
  const errorsOf = (file: string, title: string) => {
    const module = run.modules.find((m) => m.file === join(FIXTURES, 'kinds', file))
    const test = module?.tests.find((t) => t.name.endsWith(title))
    expect(test, run.output).toBeDefined()
    return test!.errors.map((e) => e.message)
  }

  test('a listener added with once is not told to add it with once', () => {
    const [message] = errorsOf('listeners.test.ts', 'leaks: a once listener that never fired is still attached')
    expect(message).toContain('added with `once`')
    expect(message).not.toContain('or add it with `once`')
    const [plain] = errorsOf('listeners.test.ts', 'leaks: a listener left on a module-level emitter')
    expect(plain).toContain('or add it with `once`')
  })

  // past the first few additions of the same code, additions are only counted, and found at the check
  test('listeners left of additions past the budget: one error with their count, at the line that added them', () => {
    const messages = errorsOf('listeners.test.ts', 'leaks: listeners added by the thousand to a module-level emitter, three left')
    expect(messages).toHaveLength(1)
    expect(messages[0]).toContain("3 'tick' listeners on a long-lived EventEmitter, added by one line")
    expect(messages[0]).toContain("(9 'tick' on it now)")
    const [once] = errorsOf('listeners.test.ts', 'leaks: once listeners added by the hundred to a module-level signal, the last left')
    expect(once).toContain('added with `{ once: true }`')
    expect(once).not.toContain('or add it with `once`')
  })

  test("a library's listeners are one error that names the library and the ignore rule, not process.off", () => {
    const messages = errorsOf(
      'listeners-libraries.test.ts',
      "leaks: the same library call again, while the first call's listeners are attached",
    )
    expect(messages).toHaveLength(1)
    expect(messages[0]).toContain("4 listeners on process ('exit', 'SIGINT', 'SIGTERM', 'SIGHUP'), added by one call")
    expect(messages[0]).toContain('(through every-call-hook)')
    expect(messages[0]).toContain("ignoreLeaks({ kind: 'listeners', stack: /node_modules\\/every-call-hook\\//, reason: '…' })")
    expect(messages[0]).not.toContain('process.off')
    expect(messages[0]).not.toContain('afterAll')
  })
})
