import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, symlinkSync, existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const FIXTURES = join(ROOT, 'test/fixtures')
const REPORTER = join(ROOT, 'test/support/outcome-reporter.mjs')

export interface ErrorOutcome {
  name?: string
  message: string
  stack: string
  /** The message of its `cause`, when it has one (Vitest 3.2's `expect.poll` wraps the matcher's error in one). */
  cause?: string
}

export interface TaskOutcome {
  name: string
  state: string
  line?: number
  /** How long the test took, its check included (tests only). */
  duration?: number
  errors: ErrorOutcome[]
}

export interface ModuleOutcome {
  file: string
  state: string
  errors: ErrorOutcome[]
  tests: TaskOutcome[]
  suites: TaskOutcome[]
}

export interface RunOutcome {
  exitCode: number | null
  output: string
  durationMs: number
  modules: ModuleOutcome[]
  unhandled: ErrorOutcome[]
}

export interface RunOptions {
  /** Test files (relative to the fixture) to run; all by default. */
  files?: string[]
  /** Extra CLI arguments, e.g. ['--pool=threads']. */
  args?: string[]
  env?: Record<string, string>
  /** Node binary and vitest CLI, for other versions; default: this Node and the root's Vitest. */
  node?: string
  /** Flags for that Node, before the CLI, e.g. ['--no-experimental-require-module']. */
  nodeArgs?: string[]
  vitestCli?: string
  cwd?: string
}

/** Makes `vitest-leaks` resolvable from the fixtures by name, as it is in a user's project. */
export function linkPackage(into: string): void {
  const link = join(into, 'node_modules/vitest-leaks')
  if (existsSync(link)) return
  mkdirSync(dirname(link), { recursive: true })
  symlinkSync(ROOT, link, 'dir')
}

let runs = 0

/** Runs real Vitest on a fixture project and returns which tests and suites failed, with their errors. */
export async function runVitest(fixture: string, options: RunOptions = {}): Promise<RunOutcome> {
  const cwd = options.cwd ?? join(FIXTURES, fixture)
  linkPackage(FIXTURES)
  const outDir = join(ROOT, '.tmp/outcomes')
  mkdirSync(outDir, { recursive: true })
  // a counter too: runs started in the same millisecond (concurrent runs of one fixture) must not share a file
  const outcomeFile = join(outDir, `${fixture.replace(/[^\w-]/g, '_')}-${process.pid}-${Date.now()}-${++runs}.json`)
  const cli = options.vitestCli ?? join(ROOT, 'node_modules/vitest/vitest.mjs')
  const args = [
    ...(options.nodeArgs ?? []),
    cli,
    'run',
    '--reporter=default',
    `--reporter=${REPORTER}`,
    ...(options.args ?? []),
    ...(options.files ?? []),
  ]
  const started = performance.now()
  const child = spawn(options.node ?? process.execPath, args, {
    cwd,
    env: {
      ...process.env,
      ...options.env,
      OUTCOME_FILE: outcomeFile,
      FORCE_COLOR: '0',
      NO_COLOR: '1',
      CI: 'true',
      VITEST: undefined,
      VITEST_WORKER_ID: undefined,
      VITEST_POOL_ID: undefined,
      NODE_OPTIONS: undefined,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  // a spawn that fails (no such Node binary or cwd) emits 'error' and never 'close': the run's output says why
  const exitCode = await new Promise<number | null>((resolveExit) => {
    child.on('close', resolveExit)
    child.on('error', (error) => {
      output += `runVitest: could not start ${options.node ?? process.execPath} in ${cwd}: ${error.message}\n`
      resolveExit(null)
    })
  })
  const durationMs = performance.now() - started
  let parsed: { modules: ModuleOutcome[]; unhandled: ErrorOutcome[] } = { modules: [], unhandled: [] }
  try {
    parsed = JSON.parse(readFileSync(outcomeFile, 'utf8'))
    rmSync(outcomeFile)
  } catch {
    // no outcome: the run failed before reporting; `output` says why
  }
  return { exitCode, output, durationMs, ...parsed }
}
