import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
// @ts-expect-error: a plain .mjs script, no declarations
import { installProblem, ownCopy, targetPaths, TARGETS } from '../scripts/prepare-versions.mjs'
import { checkMarkers } from './support/markers.js'
import { FIXTURES, ROOT, runVitest, type RunOutcome } from './support/run-vitest.js'

// A CommonJS package (test/fixtures/commonjs has no "type": "module"): Vite bundles its vitest.config.ts and .js as
// CommonJS, so `import leaks from 'vitest-leaks'` there is a require() (Vite refused an ES-module-only package:
// "This package is ESM only but it was tried to load by `require`"). The config in each form, on every supported
// Vitest: the leaky tests fail at their lines, the clean ones pass, and the main entry loads in a test file too.
// both-copies.config.mts loads the package's two copies in one run (an ES module project config and one bundled as
// CommonJS): still one summary.

interface Target {
  name: string
  vitest: string
  node: unknown
}

const CONFIGS = ['vitest.config.ts', 'vitest.config.js', 'vitest.config.cjs', 'vitest.config.mts', 'vitest.config.mjs']
const rootVitest = (JSON.parse(readFileSync(join(ROOT, 'node_modules/vitest/package.json'), 'utf8')) as { version: string }).version
const rootTarget: Target = { name: 'root', vitest: rootVitest, node: 'system' }
const targets: Target[] = [rootTarget, ...(TARGETS as Target[])]

/** What ran on each target, by config (and `<config> without require(esm)`), or why the target could not run. */
const runs = new Map<string, Map<string, RunOutcome> | string>()

/**
 * On this Node (20), the hand-written CommonJS config (it needs no `vitest/config`) also runs with require() of ES
 * modules turned off, as on Node 20.0 to 20.18: the package must not depend on it. (A config that imports
 * `vitest/config` and is bundled as CommonJS needs it whatever the plugin: Vitest's own config.cjs requires ES
 * modules, Vite 7 or std-env.)
 */
const WITHOUT_REQUIRE_ESM = 'vitest.config.cjs without require(esm)'

async function runTarget(target: Target): Promise<void> {
  let cwd = join(FIXTURES, 'commonjs')
  let node: string | undefined
  let vitestCli: string | undefined
  if (target !== rootTarget) {
    const problem: string | undefined = installProblem(target)
    if (problem) {
      runs.set(
        target.name,
        `${target.name} (vitest ${target.vitest}) is not prepared: ${problem}. Run \`node scripts/prepare-versions.mjs\`.`,
      )
      return
    }
    cwd = ownCopy(target, 'commonjs')
    ;({ node, vitestCli } = targetPaths(target) as { node: string; vitestCli: string })
  }
  const outcomes = new Map<string, RunOutcome>()
  for (const config of [...CONFIGS, 'both-copies.config.mts']) {
    outcomes.set(config, await runVitest('commonjs', { cwd, node, vitestCli, args: ['--config', config] }))
  }
  if (target.node === 'system') {
    outcomes.set(
      WITHOUT_REQUIRE_ESM,
      await runVitest('commonjs', {
        cwd,
        node,
        vitestCli,
        nodeArgs: ['--no-experimental-require-module'],
        args: ['--config', 'vitest.config.cjs'],
      }),
    )
  }
  runs.set(target.name, outcomes)
}

beforeAll(async () => {
  // two targets at a time, each one Vitest at a time (see versions.test.ts)
  const queue = [...targets]
  const lane = async () => {
    for (let target = queue.shift(); target; target = queue.shift()) await runTarget(target)
  }
  await Promise.all([lane(), lane()])
})

function runOf(target: Target, config: string): RunOutcome {
  const outcomes = runs.get(target.name)
  if (typeof outcomes === 'string') throw new Error(outcomes)
  const run = outcomes?.get(config)
  if (!run) throw new Error(`no run of ${config} on ${target.name}`)
  return run
}

/** The problems of one run: each module against its markers, every test's state, the summary said once. */
function problemsOf(run: RunOutcome, projects: number): string[] {
  const problems: string[] = []
  const files = run.modules.map((m) => m.file.split('/').at(-1)).sort()
  const expected = Array.from({ length: projects }, () => ['clean.test.ts', 'leaky.test.ts'])
    .flat()
    .sort()
  if (JSON.stringify(files) !== JSON.stringify(expected)) problems.push(`ran ${JSON.stringify(files)}, not ${JSON.stringify(expected)}`)
  for (const module of run.modules) {
    problems.push(...checkMarkers(module))
    for (const test of module.tests) {
      const wanted = test.name.startsWith('leaks:') ? 'failed' : 'passed'
      if (test.state !== wanted) problems.push(`${test.name}: ${test.state}, not ${wanted}`)
    }
  }
  if (run.unhandled.length > 0) problems.push(`unhandled errors: ${run.unhandled.map((e) => e.message).join('; ')}`)
  const summaries = run.output.match(/vitest-leaks {2}\d+ leaks? failed/g) ?? []
  if (summaries.length !== 1) problems.push(`${summaries.length} summaries, not one`)
  return problems
}

describe.each(targets.map((target) => [target.name, target.vitest, target] as const))(
  '%s: a CommonJS package, through real Vitest %s',
  (_name, version, target) => {
    test.each(CONFIGS)('%s: the leaky tests fail at their lines, the clean ones pass', (config) => {
      const run = runOf(target, config)
      expect(run.output).toContain(`v${version}`)
      expect(run.output).not.toContain('ESM only')
      expect(problemsOf(run, 1), run.output).toEqual([])
      expect(run.exitCode).toBe(1)
    })

    test('both copies of the package in one run (an ES module project config, one bundled as CommonJS): one summary', () => {
      const run = runOf(target, 'both-copies.config.mts')
      expect(problemsOf(run, 2), run.output).toEqual([])
      expect(run.output).toContain('4 leaks failed')
    })

    test.runIf(target.node === 'system')('vitest.config.cjs with require() of ES modules turned off (Node 20.0 to 20.18)', () => {
      const run = runOf(target, WITHOUT_REQUIRE_ESM)
      expect(problemsOf(run, 1), run.output).toEqual([])
    })
  },
)
