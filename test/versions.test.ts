import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
// @ts-expect-error: a plain .mjs script, no declarations
import { installProblem, syncCopies, targetPaths, TARGETS } from '../scripts/prepare-versions.mjs'
import { ENVIRONMENT_RUNS, environmentRunProblems } from './support/environments.js'
import { largeLibraryProblems, writeLibrary } from './support/large-library.js'
import { breakPackage, LOAD_FAILURE_RUNS, loadFailureProblems, removeBrokenPackage } from './support/load-failure.js'
import { checkMatcherMarkers } from './support/matcher-markers.js'
import { checkMarkers } from './support/markers.js'
import { POOL_RUNS, poolRunProblems } from './support/pools.js'
import { projectsProblems } from './support/projects.js'
import { retriesProblems } from './support/retries.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// The same checks as kinds.test.ts and matchers.test.ts, on the other Vitest versions the package supports: each
// target's Vitest (and Node) runs copies of the fixture projects against a copy of the built package, in
// .versions/<name>/, which `node scripts/prepare-versions.mjs` installs. A target that is not installed fails here:
// never a silent skip.
interface Target {
  name: string
  vitest: string
}

// VERSIONS_ONLY=vitest-3,vitest-5 runs those targets only (one at a time on a busy machine)
const only = process.env.VERSIONS_ONLY?.split(',').filter(Boolean)
const targets = (TARGETS as Target[]).filter((target) => !only || only.includes(target.name))
const files = readdirSync(join(FIXTURES, 'kinds'))
  .filter((file) => file.endsWith('.test.ts'))
  .map((file) => file.slice(0, -'.test.ts'.length))
  .sort()

type Prepared =
  | {
      run: RunOutcome
      fixture: string
      origins: RunOutcome
      originsFixture: string
      matchers: RunOutcome
      standalone: RunOutcome
      matchersFixture: string
      pools: Map<string, RunOutcome>
      poolsFixture: string
      retries: RunOutcome
      retriesFixture: string
      projects: RunOutcome
      projectsFixture: string
      environments: Map<string, RunOutcome>
      environmentsFixture: string
      loadFailures: Map<string, RunOutcome>
      largeLibrary: RunOutcome
      largeLibraryFixture: string
    }
  | { missing: string }
const outcomes = new Map<string, Prepared>()
const matcherFiles = ['clients', 'graceful', 'servers']
// On 3.2 and 5.x the vm pools give each test file a new vm context (4.1 keeps one per worker): one worker, so later
// files run in a later context; and no isolation, where files share the worker's modules
const versionPoolRuns = POOL_RUNS.filter((run) =>
  ['vmThreads, one worker', 'vmForks, one worker', 'forks, no isolation, one worker'].includes(run.name),
)

async function runTarget(target: Target): Promise<void> {
  const problem: string | undefined = installProblem(target)
  if (problem) {
    outcomes.set(target.name, {
      missing: `${target.name} (vitest ${target.vitest}) is not prepared: ${problem}. Run \`node scripts/prepare-versions.mjs\`.`,
    })
    return
  }
  syncCopies(target) // the current dist/ and fixture files, whatever was copied when the target was installed
  const paths = targetPaths(target)
  const fixture = join(paths.fixtures, 'kinds')
  const run = await runVitest('kinds', { cwd: fixture, node: paths.node, vitestCli: paths.vitestCli })
  // one Vitest at a time per target: the kinds fixture has timing-sensitive tests
  const matchersFixture = join(paths.fixtures, 'matchers')
  const matchers = await runVitest('matchers', { cwd: matchersFixture, node: paths.node, vitestCli: paths.vitestCli })
  const standalone = await runVitest('matchers', {
    cwd: matchersFixture,
    node: paths.node,
    vitestCli: paths.vitestCli,
    args: ['--config', 'standalone.config.ts'],
  })
  const poolsFixture = join(paths.fixtures, 'pools')
  const pools = new Map<string, RunOutcome>()
  for (const poolRun of versionPoolRuns) {
    pools.set(
      poolRun.name,
      await runVitest('pools', { cwd: poolsFixture, node: paths.node, vitestCli: paths.vitestCli, args: poolRun.args }),
    )
  }
  const retriesFixture = join(paths.fixtures, 'retries')
  const retries = await runVitest('retries', { cwd: retriesFixture, node: paths.node, vitestCli: paths.vitestCli, args: ['--allowOnly'] })
  const projectsFixture = join(paths.fixtures, 'projects')
  const projects = await runVitest('projects', { cwd: projectsFixture, node: paths.node, vitestCli: paths.vitestCli })
  const originsFixture = join(paths.fixtures, 'origins')
  // the stand-in libraries live in node_modules, which is not copied (see origins.test.ts)
  for (const name of readdirSync(join(originsFixture, 'lib'))) {
    rmSync(join(originsFixture, 'node_modules', name), { recursive: true, force: true })
    mkdirSync(join(originsFixture, 'node_modules'), { recursive: true })
    cpSync(join(originsFixture, 'lib', name), join(originsFixture, 'node_modules', name), { recursive: true })
  }
  const origins = await runVitest('origins', { cwd: originsFixture, node: paths.node, vitestCli: paths.vitestCli })
  const environmentsFixture = join(paths.fixtures, 'environments')
  const environments = new Map<string, RunOutcome>()
  for (const envRun of ENVIRONMENT_RUNS) {
    environments.set(
      envRun.name,
      await runVitest('environments', {
        cwd: environmentsFixture,
        node: paths.node,
        vitestCli: paths.vitestCli,
        args: envRun.args,
        files: envRun.files,
      }),
    )
  }
  const loadFailureFixture = join(paths.fixtures, 'load-failure')
  const loadFailures = new Map<string, RunOutcome>()
  for (const failure of LOAD_FAILURE_RUNS) {
    breakPackage(
      loadFailureFixture,
      join(paths.dir, 'node_modules', 'vitest-leaks', 'package.json'),
      join(paths.dir, 'node_modules', 'vitest-leaks', 'dist'),
      failure.broken,
    )
    loadFailures.set(
      failure.name,
      await runVitest('load-failure', { cwd: loadFailureFixture, node: paths.node, vitestCli: paths.vitestCli, args: failure.args }),
    )
  }
  removeBrokenPackage(loadFailureFixture)
  const largeLibraryFixture = join(paths.fixtures, 'large-library')
  writeLibrary(largeLibraryFixture)
  const largeLibrary = await runVitest('large-library', { cwd: largeLibraryFixture, node: paths.node, vitestCli: paths.vitestCli })
  outcomes.set(target.name, {
    run,
    fixture,
    origins,
    originsFixture,
    matchers,
    standalone,
    matchersFixture,
    pools,
    poolsFixture,
    retries,
    retriesFixture,
    projects,
    projectsFixture,
    environments,
    environmentsFixture,
    loadFailures,
    largeLibrary,
    largeLibraryFixture,
  })
}

// Two targets at a time by default (each is one Vitest process at a time with its own pool): with four targets on 2
// CPUs, and integration.test.ts running beside them, more at once only adds load under the timing-sensitive fixtures
// (a child process that exits by itself within `settleTimeout`). VERSIONS_SERIAL=1 runs them one after the other,
// for a machine loaded more than that.
const AT_ONCE = process.env.VERSIONS_SERIAL ? 1 : 2

beforeAll(async () => {
  const queue = [...targets]
  const lane = async () => {
    for (let target = queue.shift(); target; target = queue.shift()) await runTarget(target)
  }
  await Promise.all(Array.from({ length: AT_ONCE }, lane))
  // each target runs several fixture projects one after another: on a loaded machine that is well past the default
  // hook timeout, with nothing wrong
}, 900_000)

function outcomeOf(target: Target): Exclude<Prepared, { missing: string }> {
  const outcome = outcomes.get(target.name)
  if (!outcome) throw new Error(`no run for ${target.name}`)
  if ('missing' in outcome) throw new Error(outcome.missing)
  return outcome
}

describe.each(targets.map((target) => [target.name, target.vitest, target] as const))(
  '%s: every kind, leaky and clean, through real Vitest %s',
  (_name, _version, target) => {
    test('the run used that Vitest and reported every fixture file', () => {
      const { run } = outcomeOf(target)
      expect(run.output, run.output).toContain(`v${target.vitest}`)
      const reported = run.modules.map((m) => m.file.split('/').at(-1))
      expect(reported.sort(), run.output).toEqual(files.map((f) => `${f}.test.ts`).sort())
      expect(run.unhandled, run.output).toEqual([])
    })

    test('the run prints no warning of Node (DeprecationWarning, ExperimentalWarning) and no internal error', () => {
      const { run } = outcomeOf(target)
      expect(run.output).not.toMatch(/DeprecationWarning|ExperimentalWarning|\(node:\d+\) \[|vitest-leaks: internal error/)
    })

    test.each(files)('%s.test.ts: leaks fail their owner at the marked line; clean tests pass', (name) => {
      const { run, fixture } = outcomeOf(target)
      const module = run.modules.find((m) => m.file === join(fixture, `${name}.test.ts`))
      expect(module, run.output).toBeDefined()
      expect(checkMarkers(module!)).toEqual([])
    })
  },
)

const originFiles = readdirSync(join(FIXTURES, 'origins'))
  .filter((file) => file.endsWith('.test.ts'))
  .map((file) => file.slice(0, -'.test.ts'.length))
  .sort()

describe.each(targets.map((target) => [target.name, target.vitest, target] as const))(
  '%s: where a resource comes from, through real Vitest %s',
  (_name, _version, target) => {
    test.each(originFiles)('%s.test.ts: leaks fail their owner at the marked line; clean tests pass', (name) => {
      const { origins, originsFixture } = outcomeOf(target)
      expect(origins.output).toContain(`v${target.vitest}`)
      expect(origins.unhandled, origins.output).toEqual([])
      const module = origins.modules.find((m) => m.file === join(originsFixture, `${name}.test.ts`))
      expect(module, origins.output).toBeDefined()
      expect(checkMarkers(module!)).toEqual([])
    })
  },
)

describe.each(targets.map((target) => [target.name, target.vitest, target] as const))(
  '%s: expect(…).toHaveNoOpenSockets() through real Vitest %s',
  (_name, _version, target) => {
    test.each(matcherFiles)('%s.test.ts: failures at the marked lines with the marked texts; the rest pass', (name) => {
      const { matchers, matchersFixture } = outcomeOf(target)
      expect(matchers.output).toContain(`v${target.vitest}`)
      expect(matchers.unhandled, matchers.output).toEqual([])
      const module = matchers.modules.find((m) => m.file === join(matchersFixture, `${name}.test.ts`))
      expect(module, matchers.output).toBeDefined()
      expect(checkMatcherMarkers(module!, matchersFixture)).toEqual([])
    })

    test("alone (setupFiles: ['vitest-leaks/matchers']): the matcher works and no per-test check runs", () => {
      const { standalone, matchersFixture } = outcomeOf(target)
      const module = standalone.modules.find((m) => m.file === join(matchersFixture, 'standalone/matchers.test.ts'))
      expect(module, standalone.output).toBeDefined()
      expect(checkMatcherMarkers(module!, matchersFixture)).toEqual([])
    })
  },
)

describe.each(targets.map((target) => [target.name, target.vitest, target] as const))(
  '%s: pools through real Vitest %s',
  (_name, _version, target) => {
    test.each(versionPoolRuns.map((run) => [run.name, run] as const))(
      '%s: leaks fail their owner at the marked line; clean tests pass',
      (_runName, expected) => {
        const { pools, poolsFixture } = outcomeOf(target)
        const run = pools.get(expected.name)!
        expect(run.output).toContain(`v${target.vitest}`)
        expect(poolRunProblems(run, poolsFixture, expected), run.output).toEqual([])
      },
    )
  },
)

describe.each(targets.map((target) => [target.name, target.vitest, target] as const))(
  '%s: retries, test modes and projects through real Vitest %s',
  (_name, _version, target) => {
    test('retries, repeats, test.fails, skip, todo and only', () => {
      const { retries, retriesFixture } = outcomeOf(target)
      expect(retries.output).toContain(`v${target.vitest}`)
      expect(retriesProblems(retries, retriesFixture), retries.output).toEqual([])
    })

    test('inline test.projects, extending the root config or not, are all checked', () => {
      const { projects, projectsFixture } = outcomeOf(target)
      expect(projects.output).toContain(`v${target.vitest}`)
      expect(projectsProblems(projects, projectsFixture), projects.output).toEqual([])
    })
  },
)

describe.each(targets.map((target) => [target.name, target.vitest, target] as const))(
  '%s: environments, a plugin that cannot load, a large library, through real Vitest %s',
  (_name, _version, target) => {
    test.each(ENVIRONMENT_RUNS.map((run) => [run.name, run] as const))(
      'jsdom, happy-dom and edge-runtime files are checked: %s',
      (_runName, expected) => {
        const { environments, environmentsFixture } = outcomeOf(target)
        const run = environments.get(expected.name)!
        expect(run.output).toContain(`v${target.vitest}`)
        expect(environmentRunProblems(run, environmentsFixture, expected), run.output).toEqual([])
      },
    )

    test.each(LOAD_FAILURE_RUNS.map((run) => [run.name, run] as const))(
      'a worker that cannot load or install the plugin runs its tests unchecked: %s',
      (_runName, expected) => {
        const { loadFailures } = outcomeOf(target)
        const run = loadFailures.get(expected.name)!
        expect(run.output).toContain(`v${target.vitest}`)
        expect(loadFailureProblems(run, expected), run.output).toEqual([])
      },
    )

    test("a leak made deep in a 20 MB library carries the user's frames and the library's first frame only", () => {
      const { largeLibrary, largeLibraryFixture } = outcomeOf(target)
      expect(largeLibrary.output).toContain(`v${target.vitest}`)
      expect(largeLibraryProblems(largeLibrary, largeLibraryFixture), largeLibrary.output).toEqual([])
    })
  },
)
