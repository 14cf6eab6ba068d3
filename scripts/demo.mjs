// `npm run demo`: runs the example project in examples/http-api with vitest-leaks, shows Vitest's own output, then
// says what happened. Exits 0 only when the outcome is the expected one: every leaky test (and the leaky suite) in
// api.leaky.test.ts fails with exactly one LeakError of the expected kind, the clean tests in that file pass, and
// every test in api.fixed.test.ts passes.
import { spawn } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync } from 'node:fs'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const exampleDir = join(root, 'examples', 'http-api')
const vitestBin = join(root, 'node_modules', 'vitest', 'vitest.mjs')
const hookErrorsReporter = join(root, 'scripts', 'demo-hook-errors-reporter.mjs')

const LEAKY_FILE = 'api.leaky.test.ts'
const FIXED_FILE = 'api.fixed.test.ts'

// What api.leaky.test.ts must report: one LeakError per entry, whose first line starts with `kind`.
const EXPECTED_TEST_LEAKS = [
  { test: 'todo API > creates a todo', kind: 'HTTP server' },
  { test: 'todo API on a shared server > exports todos as CSV', kind: 'fetch (undici) TCP socket' },
  { test: 'todo API on a shared server > answers /health quickly', kind: 'setTimeout timer' },
  { test: 'cleanup job > purges completed todos', kind: 'setInterval timer' },
  { test: 'slug worker > turns titles into slugs', kind: 'child process' },
]
const EXPECTED_SUITE_LEAKS = [{ suite: 'admin API', kind: 'HTTP server' }]

// ---------------------------------------------------------------------------------------------------------------------

const useColor = process.env.NO_COLOR ? false : process.env.FORCE_COLOR ? process.env.FORCE_COLOR !== '0' : Boolean(process.stdout.isTTY)
const paint = (open, close) => (text) => (useColor ? `\x1b[${open}m${text}\x1b[${close}m` : String(text))
const bold = paint(1, 22)
const dim = paint(2, 22)
const red = paint(31, 39)
const green = paint(32, 39)
const yellow = paint(33, 39)
const cyan = paint(36, 39)

function fail(message) {
  console.error(`\n${red(bold('demo failed:'))} ${message}`)
  process.exit(1)
}

if (!existsSync(join(root, 'dist', 'index.js'))) fail('dist/ is missing: run `npm run demo` (it builds first) or `npm run build`.')
if (!existsSync(vitestBin)) fail(`${relative(root, vitestBin)} is missing: run \`npm ci\` first.`)

ensurePackageLink()

// kept after the run (node_modules is ignored by git), and cleared first so a stale report is never read
const reportDir = join(exampleDir, 'node_modules', '.vitest-leaks-demo')
const jsonReport = join(reportDir, 'report.json')
const hookErrorsFile = join(reportDir, 'hook-errors.json')
rmSync(reportDir, { recursive: true, force: true })
mkdirSync(reportDir, { recursive: true })

console.log(bold(`vitest-leaks demo: running the example project in ${relative(process.cwd(), exampleDir) || '.'}`))
console.log(dim(`  ${LEAKY_FILE} holds tests that leave things open (and a few clean ones); ${FIXED_FILE} holds the same tests, fixed.`))

const code = await runVitest()
const report = readJson(jsonReport)
if (!report) fail(`Vitest exited with code ${code} and wrote no JSON report: it did not run the tests (see its output above).`)
const hookErrors = readJson(hookErrorsFile) ?? { entries: [], unhandled: [] }

process.exit(summarize(report, hookErrors))

// ---------------------------------------------------------------------------------------------------------------------

/** `examples/node_modules/vitest-leaks` -> the repo root, so the example imports the package by its name. */
function ensurePackageLink() {
  const dir = join(root, 'examples', 'node_modules')
  const link = join(dir, 'vitest-leaks')
  const target = join('..', '..')
  let stat
  try {
    stat = lstatSync(link)
  } catch {
    stat = undefined
  }
  if (stat?.isSymbolicLink() && resolve(dir, readlinkSync(link)) === root) return
  if (stat && !stat.isSymbolicLink()) fail(`${relative(root, link)} exists and is not a symlink; remove it and run again.`)
  if (stat) unlinkSync(link)
  mkdirSync(dir, { recursive: true })
  // a junction (Windows) needs an absolute target
  if (process.platform === 'win32') symlinkSync(root, link, 'junction')
  else symlinkSync(target, link, 'dir')
}

function runVitest() {
  const args = [
    vitestBin,
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${jsonReport}`,
    `--reporter=${hookErrorsReporter}`,
  ]
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: exampleDir,
      stdio: 'inherit',
      env: { ...process.env, VITEST_LEAKS_DEMO_HOOK_ERRORS: hookErrorsFile },
    })
    child.once('error', reject)
    child.once('exit', (exitCode, signal) => resolvePromise(exitCode ?? signal))
  })
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    return undefined
  }
}

function isLeakError(message) {
  return typeof message === 'string' && message.startsWith('LeakError:')
}

/** `HTTP server listening on 127.0.0.1:41235` from `LeakError: HTTP server listening on … outlived the test …`. */
function headline(message) {
  const text = message.replace(/^LeakError:\s*/, '')
  const end = text.search(/ outlived |\n\s+now:|\n\s+at /)
  const what = (end === -1 ? text.split('\n')[0] : text.slice(0, end)).replace(/\s+/g, ' ').trim()
  return what.length > 110 ? `${what.slice(0, 109)}…` : what
}

/** `test/api.leaky.test.ts:13`, or `src/app.ts:167 ← test/api.leaky.test.ts:85` when created in a helper. */
function createdAt(stack) {
  const places = []
  for (const line of String(stack).split('\n')) {
    const match = /^\s+at (?:.*\()?(?:file:\/\/)?(.+?):(\d+):\d+\)?$/.exec(line)
    if (!match) continue
    const file = match[1]
    if (!file.startsWith(exampleDir + sep) || file.includes(`${sep}node_modules${sep}`)) continue
    places.push(`${relative(exampleDir, file).split(sep).join('/')}:${match[2]}`)
    if (places.length === 2 || !places[0].startsWith('src/')) break
  }
  return places.join(' ← ')
}

function summarize(report, hookErrors) {
  const problems = []
  const files = new Map(report.testResults.map((file) => [basename(file.name), file]))
  const leaky = files.get(LEAKY_FILE)
  const fixed = files.get(FIXED_FILE)
  if (!leaky) problems.push(`${LEAKY_FILE} did not run`)
  if (!fixed) problems.push(`${FIXED_FILE} did not run`)

  const testsOf = (file) =>
    (file?.assertionResults ?? []).map((t) => ({
      name: [...t.ancestorTitles, t.title].join(' > '),
      status: t.status,
      messages: t.failureMessages ?? [],
    }))
  const hookEntriesOf = (fileName) => hookErrors.entries.filter((entry) => basename(entry.file) === fileName)

  // --- the leaky file: each expected leak caught, once, with the right kind; every other test passes
  const leakyTests = testsOf(leaky)
  const caught = []
  for (const expected of EXPECTED_TEST_LEAKS) {
    const test = leakyTests.find((t) => t.name === expected.test)
    if (!test) {
      problems.push(`test "${expected.test}" is missing from ${LEAKY_FILE}`)
      continue
    }
    const leaks = test.messages.filter(isLeakError)
    const others = test.messages.filter((m) => !isLeakError(m))
    caught.push({ where: `test "${test.name}"`, leaks })
    if (test.status !== 'failed' || leaks.length === 0)
      problems.push(`missed leak: "${test.name}" ${test.status}; expected a LeakError for a ${expected.kind}`)
    else if (leaks.length !== 1)
      problems.push(`"${test.name}": expected 1 LeakError (${expected.kind}), got ${leaks.length}: ${leaks.map(headline).join(' | ')}`)
    else if (!headline(leaks[0]).startsWith(expected.kind))
      problems.push(`"${test.name}": expected a LeakError for a ${expected.kind}, got: ${headline(leaks[0])}`)
    for (const other of others) problems.push(`"${test.name}" also failed with a non-leak error: ${other.split('\n')[0]}`)
  }
  const cleanTests = leakyTests.filter((t) => !EXPECTED_TEST_LEAKS.some((e) => e.test === t.name))
  for (const test of cleanTests) {
    if (test.status === 'passed') continue
    const first = test.messages[0]?.split('\n')[0] ?? 'no error message'
    problems.push(`false alarm: clean test "${test.name}" in ${LEAKY_FILE} ${test.status}: ${first}`)
  }
  const leakyHooks = hookEntriesOf(LEAKY_FILE)
  for (const expected of EXPECTED_SUITE_LEAKS) {
    const entry = leakyHooks.find((e) => e.suite === expected.suite)
    const leaks = (entry?.errors ?? []).map((e) => e.stack ?? `${e.name}: ${e.message}`).filter(isLeakError)
    caught.push({ where: `suite "${expected.suite}" (after its last test)`, leaks })
    if (leaks.length === 0)
      problems.push(
        `missed leak: suite "${expected.suite}" did not fail; expected a LeakError for a ${expected.kind} started in its beforeAll`,
      )
    else if (leaks.length !== 1)
      problems.push(`suite "${expected.suite}": expected 1 LeakError, got ${leaks.length}: ${leaks.map(headline).join(' | ')}`)
    else if (!headline(leaks[0]).startsWith(expected.kind))
      problems.push(`suite "${expected.suite}": expected a LeakError for a ${expected.kind}, got: ${headline(leaks[0])}`)
  }
  for (const entry of leakyHooks) {
    if (entry.suite !== null && EXPECTED_SUITE_LEAKS.some((e) => e.suite === entry.suite)) continue
    for (const error of entry.errors)
      problems.push(
        `unexpected error in ${entry.suite === null ? LEAKY_FILE : `suite "${entry.suite}"`}: ${error.name}: ${error.message.split('\n')[0]}`,
      )
  }

  // --- the fixed file: everything passes, no suite or file errors
  const fixedTests = testsOf(fixed)
  for (const test of fixedTests) {
    if (test.status === 'passed') continue
    const first = test.messages[0]?.split('\n')[0] ?? 'no error message'
    problems.push(`false alarm: "${test.name}" in ${FIXED_FILE} ${test.status}: ${first}`)
  }
  for (const entry of hookEntriesOf(FIXED_FILE)) {
    for (const error of entry.errors)
      problems.push(
        `false alarm in ${FIXED_FILE}${entry.suite === null ? '' : `, suite "${entry.suite}"`}: ${error.name}: ${error.message.split('\n')[0]}`,
      )
  }
  for (const error of hookErrors.unhandled) problems.push(`unhandled error during the run: ${error.name}: ${error.message.split('\n')[0]}`)

  // --- the closing summary
  const line = '─'.repeat(Math.min(process.stdout.columns || 100, 100))
  const out = []
  out.push('', cyan(line), bold(' vitest-leaks demo: what happened'), cyan(line))
  const totalLeaks = caught.reduce((sum, c) => sum + c.leaks.length, 0)
  const failedLeaky = leakyTests.filter((t) => t.status === 'failed').length
  out.push(
    ` ${leaky?.status === 'failed' ? red('✗') : yellow('?')} ${bold(`test/${LEAKY_FILE}`)} ${leaky?.status === 'failed' ? 'failed' : (leaky?.status ?? 'did not run')}` +
      ` with ${bold(`${totalLeaks} leak error${totalLeaks === 1 ? '' : 's'}`)}: ${failedLeaky} test${failedLeaky === 1 ? '' : 's'} and ${EXPECTED_SUITE_LEAKS.length} suite left something open`,
  )
  for (const { where, leaks } of caught) {
    if (leaks.length === 0) {
      out.push(`     ${yellow('!')} ${where}: ${yellow('no leak reported')}`)
      continue
    }
    for (const message of leaks) {
      const at = createdAt(message)
      out.push(`     ${red('×')} ${where}`)
      out.push(`         ${headline(message)}${at ? dim(`  (created at ${at})`) : ''}`)
    }
  }
  const cleanPassed = cleanTests.filter((t) => t.status === 'passed')
  out.push(
    `     ${cleanPassed.length === cleanTests.length ? green('✓') : red('×')} ${cleanPassed.length} of ${cleanTests.length} clean tests in the same file passed` +
      dim(` (${cleanTests.map((t) => t.name.split(' > ').at(-1)).join(', ')})`),
  )
  const fixedPassed = fixedTests.filter((t) => t.status === 'passed').length
  out.push(
    ` ${fixed?.status === 'passed' ? green('✓') : red('×')} ${bold(`test/${FIXED_FILE}`)} ${fixed?.status ?? 'did not run'}: ${fixedPassed} of ${fixedTests.length} tests, the same ones with their cleanup, pass with the plugin on`,
  )
  out.push('')
  if (problems.length === 0) {
    out.push(green(bold(' As expected: every leak was caught in the test that caused it, and no clean test was blamed.')))
    out.push(dim(' (Vitest exits non-zero above because the leaky tests fail; this demo exits 0 because that is the expected outcome.)'))
    out.push(dim(` Each fix is next to its leak in examples/http-api/README.md.`))
  } else {
    out.push(red(bold(` Unexpected outcome (${problems.length} problem${problems.length === 1 ? '' : 's'}):`)))
    for (const problem of problems) out.push(`   ${red('-')} ${problem}`)
  }
  out.push('')
  console.log(out.join('\n'))
  return problems.length === 0 ? 0 : 1
}
