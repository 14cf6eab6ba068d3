import { join } from 'node:path'
// @ts-expect-error: a plain .mjs script, no declarations
import { installProblem, targetPaths, TARGETS } from '../../scripts/prepare-versions.mjs'
import { FIXTURES } from './run-vitest.js'

export interface Target {
  name: string
  vitest: string
}

/** One Vitest (and Node) a fixture project runs on. */
export interface Version {
  name: string
  /** Why it cannot run, when its target is not prepared. */
  missing?: string
  fixture: string
  node?: string
  vitestCli?: string
  vitest?: string
  /** The prepared target it runs on (none for the root's Vitest). */
  target?: Target
}

/**
 * The root's Vitest and every target of scripts/prepare-versions.mjs, for the fixture project `name`: on a target it
 * runs in that target's own copy (`ownCopy`), which the caller makes before the run. A target that is not prepared is
 * listed with why: a test of it fails, never a silent skip.
 */
export function fixtureVersions(name: string): Version[] {
  const versions: Version[] = [{ name: 'this Vitest', fixture: join(FIXTURES, name) }]
  for (const target of TARGETS as Target[]) {
    const problem: string | undefined = installProblem(target)
    const paths = targetPaths(target)
    versions.push({
      name: `${target.name} (Vitest ${target.vitest})`,
      missing: problem && `${target.name} is not prepared: ${problem}. Run \`node scripts/prepare-versions.mjs\`.`,
      fixture: join(paths.dir, 'own', name),
      node: paths.node,
      vitestCli: paths.vitestCli,
      vitest: target.vitest,
      target,
    })
  }
  return versions
}
