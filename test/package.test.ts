import { spawn } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { checkMarkers } from './support/markers.js'
import { ROOT, runVitest, type RunOutcome } from './support/run-vitest.js'

// The package as a registry user meets it. `npm pack` in a copy of the repository without dist/ (a fresh clone) must
// build first (`prepack`); the tarball holds dist/ and the documents, nothing else; publint and arethetypeswrong pass
// on it; and installed from it into fresh projects outside this repository (nothing resolves from its node_modules),
// an ES module project, a CommonJS one and a TypeScript one (CommonJS, `"types": ["vitest-leaks"]`, checked by tsc)
// each run a leaky and a clean test through real Vitest: the leaky one fails with its leak, the clean one passes.

const BIN = join(ROOT, 'node_modules/.bin')
const VITEST_VERSION = (JSON.parse(readFileSync(join(ROOT, 'node_modules/vitest/package.json'), 'utf8')) as { version: string }).version
const TYPES_NODE_VERSION = (JSON.parse(readFileSync(join(ROOT, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string })
  .version
/** Everything at the top of the repository but these is copied into the "fresh clone" that is packed. */
const NOT_COPIED = new Set(['.git', 'node_modules', 'dist', '.tmp', '.versions', 'test', 'bench', 'examples'])

interface Ran {
  code: number | null
  output: string
}

function run(command: string, args: string[], cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        FORCE_COLOR: '0',
        NO_COLOR: '1',
        npm_config_update_notifier: 'false',
        VITEST: undefined,
        VITEST_WORKER_ID: undefined,
        VITEST_POOL_ID: undefined,
        NODE_OPTIONS: undefined,
      },
    })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    child.on('error', (error) => resolve({ code: null, output: `${output}\ncould not start ${command}: ${error.message}` }))
    child.on('close', (code) => resolve({ code, output }))
  })
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
let work: string
let tarball: string
let packed: Ran
let files: string[] = []

/** The fresh projects, each a package.json, its files (with @leak markers in the leaky test) and what it installs. */
const LEAKY_JS = `import { createServer } from 'node:net'
import { test } from 'vitest'

test('leaks: a timer', () => {
  setTimeout(function retryLater() {}, 60_000) // @leak: setTimeout timer (60000 ms, callback \`retryLater\`)
})

test('leaks: a server', async () => {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)) // @leak: TCP server listening on 127.0.0.1
})
`
const CLEAN_JS = `import { createServer } from 'node:http'
import { expect, test } from 'vitest'
import { ignoreLeaks } from 'vitest-leaks'

test('a timer cleared, a server closed', async () => {
  clearTimeout(setTimeout(() => {}, 60_000))
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  await new Promise((resolve) => server.close(resolve))
  expect(server).toHaveNoOpenSockets()
})

test('a leak accepted with ignoreLeaks', () => {
  ignoreLeaks({ kind: 'timers', reason: 'accepted here' })
  setTimeout(() => {}, 60_000)
})
`
const PROJECTS: Record<string, { manifest: object; files: Record<string, string>; install: string[] }> = {
  esm: {
    manifest: { name: 'esm-project', private: true, type: 'module' },
    files: {
      'vitest.config.js':
        "import leaks from 'vitest-leaks'\nimport { defineConfig } from 'vitest/config'\n\nexport default defineConfig({ plugins: [leaks()], test: { includeTaskLocation: true } })\n",
      'leaky.test.js': LEAKY_JS,
      'clean.test.js': CLEAN_JS,
    },
    install: [],
  },
  commonjs: {
    manifest: { name: 'commonjs-project', private: true },
    files: {
      'vitest.config.cjs':
        "const { leaks } = require('vitest-leaks')\n\nmodule.exports = { plugins: [leaks()], test: { includeTaskLocation: true } }\n",
      'leaky.test.js': LEAKY_JS,
      'clean.test.js': CLEAN_JS,
    },
    install: [],
  },
  typescript: {
    manifest: { name: 'typescript-project', private: true },
    files: {
      // as Vite's templates set it (module Preserve: `import` resolved as ES modules do, `import … = require()` as
      // CommonJS does)
      'tsconfig.json': `${JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'Preserve', moduleResolution: 'Bundler', strict: true, noEmit: true, skipLibCheck: true, types: ['node', 'vitest-leaks'] }, include: ['*.ts', '*.cts'] }, null, 2)}\n`,
      // matcher.ts alone, which imports nothing of the package: typed by `types` only, and the control without it
      'tsconfig.types.json': `${JSON.stringify({ extends: './tsconfig.json', include: [], files: ['matcher.ts'] }, null, 2)}\n`,
      'tsconfig.control.json': `${JSON.stringify({ extends: './tsconfig.json', include: [], files: ['matcher.ts'], compilerOptions: { types: ['node'] } }, null, 2)}\n`,
      'matcher.ts':
        "import http from 'node:http'\nimport { expect } from 'vitest'\n\nexport function drained(server: http.Server): void {\n  expect(server).toHaveNoOpenSockets()\n}\n",
      // the CommonJS types (dist/index.d.cts), as a require() of the package sees them
      'require.cts': `import vitestLeaks = require('vitest-leaks')

export const plugin: vitestLeaks.LeaksPlugin = vitestLeaks.leaks({ mode: 'warn' })
export const byDefault: vitestLeaks.LeaksPlugin = vitestLeaks.default({ kinds: ['timers'] })
// @ts-expect-error: \`mode\` is 'fail', 'warn' or 'off'
vitestLeaks.leaks({ mode: 'loud' })
`,
      // in this CommonJS package Vite bundles it as CommonJS: at run time the import is a require() (dist/index.cjs)
      'vitest.config.ts':
        "import leaks from 'vitest-leaks'\nimport { defineConfig } from 'vitest/config'\n\nexport default defineConfig({ plugins: [leaks()], test: { includeTaskLocation: true } })\n",
      'leaky.test.ts': LEAKY_JS.replace('new Promise(', 'new Promise<void>('),
      'clean.test.ts': CLEAN_JS.replace('new Promise(', 'new Promise<void>(').replace(
        'server.close(resolve)',
        'server.close(() => resolve(undefined))',
      ),
    },
    install: [`@types/node@${TYPES_NODE_VERSION}`],
  },
}
const installs = new Map<string, Ran>()
const vitestRuns = new Map<string, RunOutcome>()

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vitest-leaks-package-'))
  // a fresh clone: the repository without dist/ (and without what the build does not read), with its node_modules
  const clone = join(work, 'clone')
  mkdirSync(clone)
  for (const entry of readdirSync(ROOT)) {
    if (!NOT_COPIED.has(entry)) cpSync(join(ROOT, entry), join(clone, entry), { recursive: true })
  }
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir')
  packed = await run(npm, ['pack', '--json', '--pack-destination', work], clone)
  const report = JSON.parse(packed.output.slice(packed.output.indexOf('[\n'))) as Array<{
    filename: string
    files: Array<{ path: string }>
  }>
  tarball = join(work, report[0]!.filename)
  files = report[0]!.files.map((file) => file.path).sort()

  // the three projects side by side: an install mostly waits on the disk (or the registry)
  await Promise.all(
    Object.entries(PROJECTS).map(async ([name, project]) => {
      const dir = join(work, name)
      mkdirSync(dir)
      writeFileSync(join(dir, 'package.json'), `${JSON.stringify(project.manifest, null, 2)}\n`)
      for (const [file, text] of Object.entries(project.files)) writeFileSync(join(dir, file), text)
      // from npm's cache when it has them (it does after this repository's own install), else from the registry
      const installed = await run(
        npm,
        [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
          tarball,
          `vitest@${VITEST_VERSION}`,
          ...project.install,
        ],
        dir,
      )
      installs.set(name, installed)
      if (installed.code !== 0) return
      vitestRuns.set(name, await runVitest(name, { cwd: dir, vitestCli: join(dir, 'node_modules/vitest/vitest.mjs') }))
    }),
  )
}, 600_000)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('npm pack, on a clone without dist/', () => {
  test('builds first, and the tarball holds dist/ and the documents, nothing else', () => {
    expect(packed.code, packed.output).toBe(0)
    expect(packed.output).toContain('> npm run build')
    expect(files).toEqual([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'dist/index.cjs',
      'dist/index.d.cts',
      'dist/index.d.ts',
      'dist/index.js',
      'dist/load-worker.cjs',
      'dist/matchers.d.ts',
      'dist/matchers.js',
      'dist/setup.d.ts',
      'dist/setup.js',
      'dist/worker.cjs',
      'dist/worker.js',
      'package.json',
    ])
  })

  test('publint finds nothing, warnings included', async () => {
    const linted = await run(join(BIN, 'publint'), ['run', tarball, '--strict'], work)
    expect(linted.output).toContain('All good!')
    expect(linted.code, linted.output).toBe(0)
  })

  // The main entry for every resolution TypeScript has (node10, node16 from CommonJS and from ES modules, bundler):
  // the strict profile. The setup files are ES modules only (they await at the top, and Vitest imports them): the
  // esm-only profile, which leaves out the two CommonJS resolutions (node10 does not read `exports` at all). No
  // @types lookup: it would ask the registry.
  test('arethetypeswrong: the main entry resolves with the right types everywhere; the setup files as ES modules', async () => {
    const main = await run(
      join(BIN, 'attw'),
      [tarball, '--no-definitely-typed', '--no-color', '--entrypoints', '.', './package.json'],
      work,
    )
    expect(main.code, main.output).toBe(0)
    expect(main.output).toContain('No problems found')
    const setup = await run(
      join(BIN, 'attw'),
      [tarball, '--no-definitely-typed', '--no-color', '--profile', 'esm-only', '--entrypoints', './setup', './matchers'],
      work,
    )
    expect(setup.code, setup.output).toBe(0)
    expect(setup.output).toContain('node16 (from ESM) │ 🟢 (ESM)')
  })
})

describe.each(Object.keys(PROJECTS))('installed from the tarball into a fresh %s project', (name) => {
  test('through real Vitest: the leaky test fails with its leak at its line; the clean ones pass', () => {
    const installed = installs.get(name)!
    expect(installed.code, installed.output).toBe(0)
    const outcome = vitestRuns.get(name)!
    expect(outcome.output).toContain(`v${VITEST_VERSION}`)
    expect(outcome.modules.map((m) => m.file.split('/').at(-1)).sort(), outcome.output).toEqual([
      `clean.test.${name === 'typescript' ? 'ts' : 'js'}`,
      `leaky.test.${name === 'typescript' ? 'ts' : 'js'}`,
    ])
    const states = outcome.modules.flatMap((m) => m.tests.map((t) => `${t.name}: ${t.state}`)).sort()
    expect(states, outcome.output).toEqual([
      'a leak accepted with ignoreLeaks: passed',
      'a timer cleared, a server closed: passed',
      'leaks: a server: failed',
      'leaks: a timer: failed',
    ])
    for (const module of outcome.modules) expect(checkMarkers(module), outcome.output).toEqual([])
    expect(outcome.output).toContain('vitest-leaks  2 leaks failed 2 tests: 1 timer, 1 server')
    expect(outcome.exitCode).toBe(1)
  })
})

describe('the TypeScript project', () => {
  const tsc = (dir: string, config: string, ...args: string[]) =>
    run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', config, ...args], dir)

  test('tsc: the config, the tests, and a CommonJS module that requires the package (its types: index.d.cts) check', async () => {
    const dir = join(work, 'typescript')
    const checked = await tsc(dir, 'tsconfig.json', '--listFiles')
    expect(checked.code, checked.output).toBe(0)
    expect(checked.output).toContain(join(dir, 'node_modules/vitest-leaks/dist/index.d.ts'))
    expect(checked.output).toContain(join(dir, 'node_modules/vitest-leaks/dist/index.d.cts'))
  })

  test('"types": ["vitest-leaks"] alone types the matcher; without it tsc does not know it', async () => {
    const dir = join(work, 'typescript')
    const typed = await tsc(dir, 'tsconfig.types.json')
    expect(typed.code, typed.output).toBe(0)
    const control = await tsc(dir, 'tsconfig.control.json')
    expect(control.code).not.toBe(0)
    expect(control.output).toContain("Property 'toHaveNoOpenSockets' does not exist")
  })
})
