import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

function states(run: RunOutcome): Record<string, string> {
  return Object.fromEntries(run.modules.flatMap((m) => m.tests.map((t) => [t.name, t.state])))
}

/** The plugin's closing summary, without Vitest's output around it. */
function summary(run: RunOutcome): string {
  const start = run.output.indexOf(' vitest-leaks  ')
  expect(start, run.output).toBeGreaterThan(-1)
  return run.output.slice(start).split('\n\n')[0]!.trim()
}

// A private copy of the fixture, for runs that write files (report, baseline) or edit the tests.
const copies: string[] = []
function copyFixture(): string {
  const dir = mkdtempSync(join(FIXTURES, '.tmp-adoption-'))
  cpSync(join(FIXTURES, 'adoption'), dir, { recursive: true, filter: (src) => !src.includes('/.out') })
  copies.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true })
})

describe('summary', () => {
  test('counts the leaks by kind and owner, and the ignored ones with their reasons', async () => {
    const run = await runVitest('adoption')
    expect(states(run), run.output).toEqual({
      'leaves a server': 'failed',
      'leaves a timer': 'failed',
      'leaves a timer it accepts': 'passed',
      'legacy > leaves an interval': 'failed',
      clean: 'passed',
      'leaves a timer, ignored for the file': 'passed',
    })
    expect(summary(run)).toBe(
      [
        'vitest-leaks  3 leaks failed 3 tests: 2 timers, 1 server',
        '               2 leaks ignored by rule: 1 timer ("the retry timer is stopped by the next test"); 1 timer ("this whole file is known to leave timers")',
      ].join('\n'),
    )
  })
})

describe('modes', () => {
  test('warn: every test passes and the summary lists each leak with where it was created', async () => {
    const run = await runVitest('adoption', { args: ['--config', 'warn.config.ts'] })
    expect(run.exitCode, run.output).toBe(0)
    expect(Object.values(states(run)).every((s) => s === 'passed')).toBe(true)
    const text = summary(run)
    expect(text).toContain('3 leaks (mode warn: reported, not failing) in 3 tests: 2 timers, 1 server')
    expect(text).toMatch(/leaky\.test\.ts > leaves a server: TCP server listening on 127\.0\.0\.1:\d+ \(leaky\.test\.ts:7:42\)/)
    expect(text).toContain(
      'leaky.test.ts > legacy > leaves an interval: setInterval timer (1000 ms, callback anonymous) (leaky.test.ts:25:5)',
    )
  })

  test('VITEST_LEAKS=warn turns a failing run into a reporting one', async () => {
    const run = await runVitest('adoption', { env: { VITEST_LEAKS: 'warn' } })
    expect(run.exitCode, run.output).toBe(0)
    expect(summary(run)).toContain('3 leaks (mode warn: reported, not failing)')
  })

  test('VITEST_LEAKS=off installs nothing: leaks pass, no summary', async () => {
    const run = await runVitest('adoption', { env: { VITEST_LEAKS: 'off' } })
    expect(run.exitCode, run.output).toBe(0)
    expect(run.output).not.toContain('vitest-leaks')
  })

  test('a bad VITEST_LEAKS value stops the run with the accepted values', async () => {
    const run = await runVitest('adoption', { env: { VITEST_LEAKS: 'strict' } })
    expect(run.exitCode).not.toBe(0)
    expect(run.output).toContain('vitest-leaks: environment variable VITEST_LEAKS must be one of fail, warn, off; got "strict".')
  })
})

describe('ignore rules in the config', () => {
  test('by kind and stack pattern, and by test name; each counted with its reason', async () => {
    const run = await runVitest('adoption', { args: ['--config', 'ignore.config.ts'] })
    expect(states(run), run.output).toMatchObject({
      'leaves a server': 'passed',
      'leaves a timer': 'failed',
      'legacy > leaves an interval': 'passed',
    })
    expect(summary(run)).toBe(
      [
        'vitest-leaks  1 leak failed 1 test: 1 timer',
        '               3 leaks ignored by rule: 1 timer ("legacy tests, tracked in #123"); 1 timer ("the retry timer is stopped by the next test"); 1 server ("the test server is shared on purpose")',
      ].join('\n'),
    )
  })
})

describe('report file', () => {
  test('lists every leak with its test, file, kind, identity, creation location and status', async () => {
    const dir = copyFixture()
    const run = await runVitest('adoption', { cwd: dir, args: ['--config', 'report.config.ts'] })
    const report = JSON.parse(readFileSync(join(dir, '.out/leaks-report.json'), 'utf8'))
    expect(report.version, run.output).toBe(1)
    expect(report.counts).toEqual({ failed: 3, warned: 0, ignored: 1, baselined: 0 })
    const server = report.leaks.find((l: { kind: string }) => l.kind === 'servers')
    expect(server).toMatchObject({
      kind: 'servers',
      owner: 'test',
      name: 'leaves a server',
      file: 'leaky.test.ts',
      status: 'failed',
      location: { file: 'leaky.test.ts', line: 7, column: 42 },
    })
    expect(server.what).toMatch(/^TCP server listening on 127\.0\.0\.1:\d+$/)
    expect(report.leaks.find((l: { status: string }) => l.status === 'ignored')).toMatchObject({
      kind: 'timers',
      reason: 'the retry timer is stopped by the next test',
    })
  })

  test("a leak made through a spy is located at the user's line, not in Vitest's spy", async () => {
    const dir = copyFixture()
    const run = await runVitest('adoption', { cwd: dir, args: ['--config', 'report-spied.config.ts'] })
    const report = JSON.parse(readFileSync(join(dir, '.out/leaks-report.json'), 'utf8'))
    expect(report.leaks, run.output).toHaveLength(1)
    expect(report.leaks[0]).toMatchObject({ kind: 'timers', location: { file: 'spied.test.ts', line: 6 } })
  })

  test("leaks appear in Vitest's JUnit and JSON reports as ordinary failures", async () => {
    const dir = copyFixture()
    await runVitest('adoption', {
      cwd: dir,
      args: ['--reporter=junit', '--outputFile.junit=.out/junit.xml', '--reporter=json', '--outputFile.json=.out/results.json'],
    })
    const junit = readFileSync(join(dir, '.out/junit.xml'), 'utf8')
    expect(junit).toMatch(
      /<testcase [^>]*name="leaves a server"[^>]*>\s*<failure message="TCP server listening on 127\.0\.0\.1:\d+ outlived the test that created it/,
    )
    const json = JSON.parse(readFileSync(join(dir, '.out/results.json'), 'utf8'))
    const assertions = json.testResults.flatMap((r: { assertionResults: unknown[] }) => r.assertionResults)
    const timer = assertions.find((a: { title: string }) => a.title === 'leaves a timer')
    expect(timer.status).toBe('failed')
    expect(timer.failureMessages[0]).toContain('setTimeout timer (60000 ms, callback anonymous) outlived the test that created it')
  })
})

test('leaks become GitHub annotations at the line that created them', async () => {
  const run = await runVitest('adoption', { args: ['--reporter=github-actions'], env: { GITHUB_ACTIONS: 'true' } })
  expect(run.output).toMatch(
    /::error file=.*leaky\.test\.ts,title=leaky\.test\.ts > leaves a timer,line=15,column=3::LeakError: setTimeout timer \(60000 ms, callback anonymous\) outlived the test that created it/,
  )
})

describe('baseline', () => {
  test("update records today's leaks; later runs fail only on new ones and say when a recorded one is gone", async () => {
    const dir = copyFixture()
    const recorded = await runVitest('adoption', {
      cwd: dir,
      args: ['--config', 'baseline.config.ts'],
      env: { VITEST_LEAKS_BASELINE: 'update' },
    })
    expect(recorded.exitCode, recorded.output).toBe(0)
    expect(summary(recorded)).toContain('recorded 3 known leaks in .out/baseline.json')
    const baseline = JSON.parse(readFileSync(join(dir, '.out/baseline.json'), 'utf8'))
    expect(baseline.leaks.map((e: { name: string; kind: string; count: number }) => `${e.name}: ${e.count} ${e.kind}`)).toEqual([
      'leaves a server: 1 servers',
      'leaves a timer: 1 timers',
      'legacy > leaves an interval: 1 timers',
    ])

    const known = await runVitest('adoption', { cwd: dir, args: ['--config', 'baseline.config.ts'] })
    expect(known.exitCode, known.output).toBe(0)
    expect(summary(known)).toContain('3 known leaks from .out/baseline.json not failing: 2 timers, 1 server')

    // a new leak fails; a fixed one is reported as gone
    const source = join(dir, 'leaky.test.ts')
    writeFileSync(
      source,
      readFileSync(source, 'utf8')
        .replace(
          "test('leaves a timer', () => {\n  setTimeout(() => {}, 60_000)",
          "test('leaves a timer', () => {\n  clearTimeout(setTimeout(() => {}, 60_000))",
        )
        .replace("test('clean', () => {})", "test('clean', async () => {\n  await listen()\n})"),
    )
    const later = await runVitest('adoption', { cwd: dir, args: ['--config', 'baseline.config.ts'] })
    expect(states(later), later.output).toMatchObject({ 'leaves a server': 'passed', 'leaves a timer': 'passed', clean: 'failed' })
    expect(summary(later)).toBe(
      [
        'vitest-leaks  1 leak failed 1 test: 1 server',
        '               1 leak ignored by rule: 1 timer ("the retry timer is stopped by the next test")',
        '               2 known leaks from .out/baseline.json not failing: 1 server, 1 timer',
        '               1 recorded leak no longer happens: run VITEST_LEAKS_BASELINE=update npx vitest run to shrink .out/baseline.json',
        '                 leaky.test.ts > leaves a timer: 1 timer',
      ].join('\n'),
    )
  })

  test('a missing baseline file stops the run and says how to record it', async () => {
    const dir = copyFixture()
    const run = await runVitest('adoption', { cwd: dir, args: ['--config', 'baseline.config.ts'] })
    expect(run.exitCode).not.toBe(0)
    expect(run.output).toContain(
      "vitest-leaks: the baseline file .out/baseline.json (option `baseline`) does not exist. Record today's leaks into it with: VITEST_LEAKS_BASELINE=update npx vitest run",
    )
  })
})

describe('cleanup', () => {
  function pidAlive(pid: number): boolean {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }

  test('on: what leaked is closed, so the next test is not broken and the child is gone', async () => {
    const dir = copyFixture()
    const pidFile = join(dir, 'child.pid')
    const run = await runVitest('adoption', {
      cwd: dir,
      args: ['--config', 'cleanup.config.ts'],
      env: { CLEANUP: 'true', PID_FILE: pidFile },
    })
    expect(states(run), run.output).toEqual({
      'leaves an interval that would throw in the next test': 'failed',
      'leaves a child process running': 'failed',
      'runs after the leaks': 'passed',
    })
    expect(run.unhandled).toEqual([])
    expect(pidAlive(Number(readFileSync(pidFile, 'utf8')))).toBe(false)
  })

  test('on, it breaks nothing the program still does: no unhandled "socket hang up", a server the next test uses stays up, a timeout a promise waits on still fires, a client that its afterAll ends is not taken from it', async () => {
    const run = await runVitest('adoption', { cwd: copyFixture(), args: ['--config', 'harmless-cleanup.config.ts'] })
    expect(states(run), run.output).toEqual({
      'leaves a request in flight with no error listener': 'failed',
      'leaves its server running': 'failed',
      'uses the server the previous test left': 'passed',
      'leaves a timeout that a promise waits on': 'failed',
      'awaits the promise of that timeout': 'passed',
      'leaves a client connection open': 'failed',
    })
    expect(
      run.modules.flatMap((m) => [...m.errors, ...m.suites.flatMap((s) => s.errors)]).map((e) => e.message),
      run.output,
    ).toEqual([])
    expect(run.unhandled, run.output).toEqual([])
  })

  test('off (default): nothing is closed, and the leaked interval fires during the next test', async () => {
    const dir = copyFixture()
    const pidFile = join(dir, 'child.pid')
    const run = await runVitest('adoption', { cwd: dir, args: ['--config', 'cleanup.config.ts'], env: { PID_FILE: pidFile } })
    expect(
      run.unhandled.map((e) => e.message),
      run.output,
    ).toContain('a leaked interval fired in the next test')
    const pid = Number(readFileSync(pidFile, 'utf8'))
    if (existsSync(pidFile) && pidAlive(pid)) process.kill(pid)
  })
})
