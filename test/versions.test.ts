import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
// @ts-expect-error: a plain .mjs script, no declarations
import { installProblem, syncCopies, targetPaths, TARGETS } from '../scripts/prepare-versions.mjs'
import { checkMarkers } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// The same checks as kinds.test.ts, on the other Vitest versions the package supports: each target's Vitest (and
// Node) runs a copy of the fixture project against a copy of the built package, in .versions/<name>/, which
// `node scripts/prepare-versions.mjs` installs. A target that is not installed fails here: never a silent skip.
interface Target {
  name: string
  vitest: string
}

const targets = TARGETS as Target[]
const files = readdirSync(join(FIXTURES, 'kinds'))
  .filter((file) => file.endsWith('.test.ts'))
  .map((file) => file.slice(0, -'.test.ts'.length))
  .sort()

type Prepared = { run: RunOutcome; fixture: string } | { missing: string }
const outcomes = new Map<string, Prepared>()

async function runTarget(target: Target): Promise<void> {
  const problem: string | undefined = installProblem(target)
  if (problem) {
    outcomes.set(target.name, { missing: `${target.name} (vitest ${target.vitest}) is not prepared: ${problem}. Run \`node scripts/prepare-versions.mjs\`.` })
    return
  }
  syncCopies(target) // the current dist/ and fixture files, whatever was copied when the target was installed
  const paths = targetPaths(target)
  const fixture = join(paths.fixtures, 'kinds')
  const run = await runVitest('kinds', { cwd: fixture, node: paths.node, vitestCli: paths.vitestCli })
  outcomes.set(target.name, { run, fixture })
}

// Both runs at once by default (each is one Vitest process with its own pool; about 8 s together instead of 15 s).
// VERSIONS_SERIAL=1 runs them one after the other, for a loaded machine where timing-sensitive fixtures (a child
// process that exits by itself within `settleTimeout`) could be judged late.
beforeAll(async () => {
  if (process.env.VERSIONS_SERIAL) for (const target of targets) await runTarget(target)
  else await Promise.all(targets.map(runTarget))
})

function outcomeOf(target: Target): { run: RunOutcome; fixture: string } {
  const outcome = outcomes.get(target.name)
  if (!outcome) throw new Error(`no run for ${target.name}`)
  if ('missing' in outcome) throw new Error(outcome.missing)
  return outcome
}

describe.each(targets.map((target) => [target.name, target.vitest, target] as const))('%s: every kind, leaky and clean, through real Vitest %s', (_name, _version, target) => {
  test('the run used that Vitest and reported every fixture file', () => {
    const { run } = outcomeOf(target)
    expect(run.output, run.output).toContain(`v${target.vitest}`)
    const reported = run.modules.map((m) => m.file.split('/').at(-1))
    expect(reported.sort(), run.output).toEqual(files.map((f) => `${f}.test.ts`))
    expect(run.unhandled, run.output).toEqual([])
  })

  test.each(files)('%s.test.ts: leaks fail their owner at the marked line; clean tests pass', (name) => {
    const { run, fixture } = outcomeOf(target)
    const module = run.modules.find((m) => m.file === join(fixture, `${name}.test.ts`))
    expect(module, run.output).toBeDefined()
    expect(checkMarkers(module!)).toEqual([])
  })
})
