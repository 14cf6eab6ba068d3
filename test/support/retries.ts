import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { frameLine } from './markers.js'
import type { ErrorOutcome, ModuleOutcome, RunOutcome } from './run-vitest.js'

// What the retries fixture (test/fixtures/retries) must do, on every Vitest version: retries and repeats check each
// attempt; a test.fails test or a test skipped while it runs has its leak reported on its suite or file.

interface Expected {
  state: 'passed' | 'failed' | 'skipped'
  /** Each error, in order: a leak as the text of its `// leak: …` comment (its code frame must be on that line), or another message. */
  errors: Array<{ leak: string } | { message: string }>
}

const TESTS: Record<string, Record<string, Expected>> = {
  'retry.test.ts': {
    'leaks on the first attempt only, then passes': { state: 'passed', errors: [{ leak: 'first attempt' }] },
    'fails and leaks on the first attempt, passes clean on the second': {
      state: 'passed',
      errors: [{ message: 'expected 1 to be 2' }, { leak: 'first attempt, which also fails' }],
    },
    'leaks on every attempt': {
      state: 'failed',
      errors: [{ leak: 'every attempt' }, { leak: 'every attempt' }, { leak: 'every attempt' }],
    },
    'fails on the first attempt, leaks on the last': {
      state: 'failed',
      errors: [{ message: 'expected 1 to be 2' }, { leak: 'last attempt' }],
    },
    'clean with retries': { state: 'passed', errors: [] },
  },
  'repeats.test.ts': {
    'leaks on the second repeat only': { state: 'failed', errors: [{ leak: 'second repeat' }] },
    'clean with repeats': { state: 'passed', errors: [] },
  },
  'fails.test.ts': {
    'test.fails > throws as expected and leaks': { state: 'passed', errors: [] },
    'test.fails > does not throw but leaks': { state: 'failed', errors: [{ message: 'Expect test to fail' }] },
    'test.fails > throws as expected, clean': { state: 'passed', errors: [] },
  },
  'modes.test.ts': {
    'skipped: never runs': { state: 'skipped', errors: [] },
    todo: { state: 'skipped', errors: [] },
    'skipped at run time after a leak': { state: 'skipped', errors: [] },
    'skipped at run time, clean': { state: 'skipped', errors: [] },
    'a skipped suite > never runs': { state: 'skipped', errors: [] },
    'a suite whose tests are all skipped > skipped': { state: 'skipped', errors: [] },
    clean: { state: 'passed', errors: [] },
  },
  'only.test.ts': {
    'not run: another test has .only': { state: 'skipped', errors: [] },
    'suite > the only test, leaks': { state: 'failed', errors: [{ leak: 'the only test' }] },
  },
}

/** Errors of suites (by name) and files: the leaks moved there from tests whose own failure Vitest would hide. */
const SUITES: Record<string, Record<string, Expected['errors']>> = {
  'fails.test.ts': { 'test.fails': [{ leak: 'test.fails that throws' }, { leak: 'test.fails that does not throw' }] },
  'modes.test.ts': { '(file)': [{ leak: 'before ctx.skip()' }] },
}

const NOTES: Record<string, string> = {
  'test.fails that throws': '"test.fails > throws as expected and leaks", reported on its suite: it is a `test.fails` test',
  'test.fails that does not throw': '"test.fails > does not throw but leaks", reported on its suite: it is a `test.fails` test',
  'before ctx.skip()': '"skipped at run time after a leak", reported on its file: it was skipped while it ran (`ctx.skip()`)',
}

function lineOf(file: string, comment: string): number {
  const index = readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((line) => line.endsWith(`// leak: ${comment}`))
  if (index === -1) throw new Error(`no "// leak: ${comment}" in ${file}`)
  return index + 1
}

function errorProblems(label: string, errors: ErrorOutcome[], expected: Expected['errors'], file: string): string[] {
  const seen = errors.map((e) => `[frame line ${frameLine(e, file) ?? 'none'}] ${e.message.split('\n')[0]}`).join('\n  ')
  if (errors.length !== expected.length) return [`${label}: ${errors.length} errors, expected ${expected.length}:\n  ${seen}`]
  const problems: string[] = []
  expected.forEach((want, index) => {
    const error = errors[index]!
    if ('message' in want) {
      if (!error.message.includes(want.message)) problems.push(`${label}: error ${index + 1} should say "${want.message}":\n  ${seen}`)
      return
    }
    const line = lineOf(file, want.leak)
    if (error.name !== 'LeakError' || frameLine(error, file) !== line)
      problems.push(`${label}: error ${index + 1} should be the leak at line ${line}:\n  ${seen}`)
    const note = NOTES[want.leak]
    if (note && !error.message.includes(note))
      problems.push(`${label}: the leak at line ${line} should name its test ("${note}"):\n  ${error.message}`)
  })
  return problems
}

/** Problems with a run of the retries fixture in `fixture`; an empty list means every test and suite behaved. */
export function retriesProblems(run: RunOutcome, fixture: string): string[] {
  const problems: string[] = []
  if (run.unhandled.length > 0) problems.push(`unhandled errors: ${run.unhandled.map((e) => e.message).join('; ')}`)
  for (const [name, tests] of Object.entries(TESTS)) {
    const file = join(fixture, name)
    const module: ModuleOutcome | undefined = run.modules.find((m) => m.file === file)
    if (!module) {
      problems.push(`${name} was not reported`)
      continue
    }
    for (const [title, expected] of Object.entries(tests)) {
      const test = module.tests.find((t) => t.name === title)
      if (!test) {
        problems.push(`${name} > ${title} was not reported`)
        continue
      }
      if (test.state !== expected.state) problems.push(`${name} > ${title}: ${test.state}, expected ${expected.state}`)
      problems.push(...errorProblems(`${name} > ${title}`, test.errors, expected.errors, file))
    }
    const suites = SUITES[name] ?? {}
    problems.push(...errorProblems(`${name} (file)`, module.errors, suites['(file)'] ?? [], file))
    for (const suite of module.suites)
      problems.push(...errorProblems(`${name} > ${suite.name} (suite)`, suite.errors, suites[suite.name] ?? [], file))
  }
  if (!run.output.includes('2 leaks failed an attempt of 2 tests that then passed on retry: 2 timers')) {
    problems.push('the run summary does not list the leaks of the attempts that were retried')
  }
  return problems
}
