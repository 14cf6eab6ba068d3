import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeEach, describe, expect, test } from 'vitest'
import { ROOT, runVitest, type RunOutcome } from './support/run-vitest.js'

// The worker's code is compiled with V8's code cache kept in Vite's cache folder (src/worker/load/load-worker.ts). Whatever state
// that cache is in (none, V8's own, garbage, a folder that cannot be written), every run finds the same leaks.

const EXPECTED = {
  'leaves a server': 'failed',
  'leaves a timer': 'failed',
  clean: 'passed',
  'parallel requests through the global keep-alive agent, bodies read': 'passed',
  'fetch, body read': 'passed',
  'the pooled connections are reused': 'passed',
}

function states(run: RunOutcome): Record<string, string> {
  return Object.fromEntries(run.modules.flatMap((m) => m.tests.map((t) => [t.name, t.state])))
}

function firstError(run: RunOutcome, name: string): string | undefined {
  return run.modules.flatMap((m) => m.tests.filter((t) => t.name === name).flatMap((t) => t.errors.map((e) => e.message)))[0]
}

const base = join(ROOT, '.tmp/code-cache')
let cacheDir: string
let runs = 0

function run(env: Record<string, string> = {}): Promise<RunOutcome> {
  return runVitest('options', { args: ['--config', 'code-cache.config.ts'], env: { LEAKS_CACHE_DIR: cacheDir, ...env } })
}

function cacheFiles(): string[] {
  const dir = join(cacheDir, 'vitest-leaks')
  return existsSync(dir) ? readdirSync(dir).map((name) => join(dir, name)) : []
}

function expectSameLeaks(outcome: RunOutcome): void {
  expect(states(outcome), outcome.output).toEqual(EXPECTED)
  expect(firstError(outcome, 'leaves a server')).toMatch(/^TCP server listening on 127\.0\.0\.1:\d+ outlived the test that created it/)
  expect(firstError(outcome, 'leaves a timer')).toMatch(/^setTimeout timer \(60000 ms\b.*\) outlived the test that created it/)
  expect(outcome.unhandled, outcome.output).toEqual([])
  expect(outcome.output).not.toContain('internal error')
}

beforeEach(() => {
  cacheDir = join(base, `${process.pid}-${++runs}`)
  rmSync(cacheDir, { recursive: true, force: true })
})

describe("the worker's script", () => {
  test('is plain ASCII: V8 keeps it one byte per character, and every test file reads and compiles it faster', () => {
    // esbuild keeps the comments of class members: a `µ` in one makes the whole 150 KB script two bytes per character
    const lines = readFileSync(join(ROOT, 'dist/worker.cjs'), 'latin1').split('\n')
    const outside = lines
      .map((line, index) => ({ line: index + 1, text: line }))
      .filter(({ text }) => [...text].some((char) => char.charCodeAt(0) > 0x7f))
    expect(outside).toEqual([])
  })
})

describe("the worker's code cache", () => {
  test('is written by the first run and used as it is by the next: the same leaks both times', async () => {
    expectSameLeaks(await run())
    const files = cacheFiles()
    expect(files).toHaveLength(1)
    expect(files[0]).toMatch(/[\\/]worker-\d+-\d+-v\d+\.\d+\.\d+-\w+-[0-9a-f]{8}\.bin$/)
    const written = statSync(files[0]!).mtimeMs
    const bytes = readFileSync(files[0]!)

    expectSameLeaks(await run())
    // V8 took it: a refused cache would have been written again
    expect(cacheFiles()).toEqual(files)
    expect(statSync(files[0]!).mtimeMs).toBe(written)
    expect(readFileSync(files[0]!).equals(bytes)).toBe(true)
  })

  test("a cache that is not V8's is refused, the code compiles as usual, and a good one replaces it", async () => {
    expectSameLeaks(await run())
    const [file] = cacheFiles()
    const size = statSync(file!).size
    writeFileSync(file!, Buffer.alloc(size, 0xab))

    expectSameLeaks(await run())
    expect(cacheFiles()).toEqual([file])
    expect(readFileSync(file!).equals(Buffer.alloc(size, 0xab))).toBe(false)
  })

  test('a cache folder that cannot be made changes nothing but the speed', async () => {
    // a file where the folder should be: mkdir fails
    mkdirSync(cacheDir, { recursive: true })
    writeFileSync(join(cacheDir, 'vitest-leaks'), 'not a folder')
    expectSameLeaks(await run())
    expect(readFileSync(join(cacheDir, 'vitest-leaks'), 'utf8')).toBe('not a folder')
  })

  test("Vitest's `cache: false` turns it off", async () => {
    expectSameLeaks(await run({ LEAKS_NO_CACHE: '1' }))
    expect(cacheFiles()).toEqual([])
  })

  test("the vm pools import the worker as a module, into each test file's context: no cache", async () => {
    expectSameLeaks(await run({ LEAKS_POOL: 'vmForks' }))
    expect(cacheFiles()).toEqual([])
  })

  test('a cache of another build of the worker is removed when this one is written', async () => {
    const stale = join(cacheDir, 'vitest-leaks', 'worker-1-2-v20.0.0-x64-00000000.bin')
    mkdirSync(join(cacheDir, 'vitest-leaks'), { recursive: true })
    writeFileSync(stale, 'old')
    expectSameLeaks(await run())
    const files = cacheFiles()
    expect(files).toHaveLength(1)
    expect(files).not.toContain(stale)
  })
})
