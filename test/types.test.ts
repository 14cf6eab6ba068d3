import { spawn } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
// @ts-expect-error: a plain .mjs script, no declarations
import { installProblem, targetPaths, TARGETS } from '../scripts/prepare-versions.mjs'
import { FIXTURES, ROOT, linkPackage } from './support/run-vitest.js'

// The matcher's types, checked by tsc against the types of every supported Vitest: the root's 4.1, and 3.2 and 5.1
// as installed under .versions/ by scripts/prepare-versions.mjs. test/fixtures/types holds one small project with a
// tsconfig per way of getting the types, and a control that gets none, which must fail: a test of the augmentation
// that would pass without it proves nothing.
const SOURCE = join(FIXTURES, 'types')
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc')

interface Target {
  name: string
  vitest: string
}

/** Each way a project gets the types; `missing` is the control. */
const CONFIGS = ['tsconfig.json', 'tsconfig.reference.json', 'tsconfig.setup.json', 'tsconfig.missing.json']

interface Checked {
  code: number | null
  output: string
  /** The Vitest whose types tsc loaded: its folder, and version. */
  vitest: { dir: string; version: string } | undefined
}

const rootTarget = {
  name: 'root',
  vitest: (JSON.parse(readFileSync(join(ROOT, 'node_modules/vitest/package.json'), 'utf8')) as { version: string }).version,
}
const targets: Target[] = [rootTarget, ...(TARGETS as Target[])]
const results = new Map<string, Checked | string>()

/**
 * The project folder for a target: for the root, the fixture itself (the package resolves through the fixtures'
 * node_modules link); for the others, a copy of it and of the built package in .versions/<name>/types, next to that
 * version's node_modules, and apart from the copies test/versions.test.ts refreshes while it runs.
 */
function projectFor(target: Target): string {
  if (target === rootTarget) {
    linkPackage(FIXTURES)
    return SOURCE
  }
  const problem: string | undefined = installProblem(target)
  if (problem)
    throw new Error(`${target.name} (vitest ${target.vitest}) is not prepared: ${problem}. Run \`node scripts/prepare-versions.mjs\`.`)
  const dir = join((targetPaths(target) as { dir: string }).dir, 'types')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(join(dir, 'node_modules/vitest-leaks'), { recursive: true })
  for (const file of readdirSync(SOURCE)) cpSync(join(SOURCE, file), join(dir, file), { recursive: true })
  cpSync(join(ROOT, 'package.json'), join(dir, 'node_modules/vitest-leaks/package.json'))
  cpSync(join(ROOT, 'dist'), join(dir, 'node_modules/vitest-leaks/dist'), { recursive: true })
  return dir
}

function tsc(dir: string, config: string): Promise<Checked> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TSC, '-p', join(dir, config), '--listFiles'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    child.on('close', (code) => {
      const index = output.split('\n').find((line) => /[\\/]node_modules[\\/]vitest[\\/]dist[\\/]index\.d\.ts$/.test(line.trim()))
      const vitestDir = index?.trim().replace(/[\\/]dist[\\/]index\.d\.ts$/, '')
      const version = vitestDir
        ? (JSON.parse(readFileSync(join(vitestDir, 'package.json'), 'utf8')) as { version: string }).version
        : undefined
      const errors = output
        .split('\n')
        .filter((line) => /error TS\d+/.test(line))
        .join('\n')
      resolve({ code, output: errors, vitest: vitestDir && version ? { dir: vitestDir, version } : undefined })
    })
  })
}

/** Runs the jobs two at a time (the machines have two cores; each tsc takes seconds). */
async function inPairs(jobs: Array<() => Promise<void>>): Promise<void> {
  const queue = [...jobs]
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await job()
  }
  await Promise.all([worker(), worker()])
}

beforeAll(async () => {
  const jobs: Array<() => Promise<void>> = []
  for (const target of targets) {
    let dir: string
    try {
      dir = projectFor(target)
    } catch (error) {
      for (const config of CONFIGS) results.set(`${target.name}/${config}`, (error as Error).message)
      continue
    }
    for (const config of CONFIGS) {
      jobs.push(async () => void results.set(`${target.name}/${config}`, await tsc(dir, config)))
    }
  }
  await inPairs(jobs)
}, 300_000)

function resultOf(target: Target, config: string): Checked {
  const result = results.get(`${target.name}/${config}`)
  if (result === undefined) throw new Error(`no tsc run for ${target.name}/${config}`)
  if (typeof result === 'string') throw new Error(result)
  return result
}

describe.each(targets.map((target) => [target.name, target.vitest, target] as const))(
  '%s: the types of Vitest %s',
  (_name, version, target) => {
    test.each([
      ['tsconfig.json', '"types": ["vitest-leaks"]'],
      ['tsconfig.reference.json', '/// <reference types="vitest-leaks" />'],
      ['tsconfig.setup.json', "import 'vitest-leaks/matchers'"],
    ])('%s (%s): tsc passes on expect, .not, expect.soft and expect.poll', (config) => {
      const result = resultOf(target, config)
      expect(result.vitest?.version, result.output).toBe(version)
      expect(result.output).toBe('')
      expect(result.code).toBe(0)
    })

    test('tsconfig.missing.json (no types entry, no reference): tsc fails on every use of the matcher', () => {
      const result = resultOf(target, 'tsconfig.missing.json')
      expect(result.vitest?.version, result.output).toBe(version)
      expect(result.code).not.toBe(0)
      const errors = result.output.split('\n').filter(Boolean)
      expect(errors.length).toBeGreaterThanOrEqual(5)
      for (const error of errors) expect(error).toMatch(/error TS2339: Property 'toHaveNoOpenSockets' does not exist on type/)
    })
  },
)
