import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
// @ts-expect-error: a plain .mjs script, no declarations
import { installProblem, ownCopy, targetPaths, TARGETS } from '../scripts/prepare-versions.mjs'
import { checkMarkers } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// Keep-alive pools and the connections they hold: idle TLS and HTTP/2 connections parked in an undici or http.Agent
// pool are the pool's (tls.test.ts); a pool belongs to the scope it was created in, whenever it opens its
// connections, and a library's own module-level pool to nobody (owners.test.ts); a busy connection stays the leak of
// the test that made the request. On this Vitest and on every prepared target (.versions/, see
// scripts/prepare-versions.mjs), each in its own copy of the fixture. A target that is not prepared fails here.
const files = readdirSync(join(FIXTURES, 'keep-alive'))
  .filter((file) => file.endsWith('.test.ts'))
  .sort()

interface Target {
  name: string
  vitest: string
}

interface Version {
  name: string
  missing?: string
  fixture: string
  node?: string
  vitestCli?: string
  target?: Target
}

const versions: Version[] = [{ name: 'this Vitest', fixture: join(FIXTURES, 'keep-alive') }]
for (const target of TARGETS as Target[]) {
  const problem: string | undefined = installProblem(target)
  const paths = targetPaths(target)
  versions.push({
    name: `${target.name} (Vitest ${target.vitest})`,
    missing: problem && `${target.name} is not prepared: ${problem}. Run \`node scripts/prepare-versions.mjs\`.`,
    fixture: join(paths.dir, 'own', 'keep-alive'),
    node: paths.node,
    vitestCli: paths.vitestCli,
    target,
  })
}

/** A library must live in node_modules to be one; node_modules is not committed, so it is installed here. */
function installLibraries(fixture: string): void {
  const lib = join(fixture, 'node_modules/agent-lib')
  rmSync(lib, { recursive: true, force: true })
  mkdirSync(join(fixture, 'node_modules'), { recursive: true })
  cpSync(join(FIXTURES, 'keep-alive/lib/agent-lib'), lib, { recursive: true })
}

const runs = new Map<string, RunOutcome>()
beforeAll(async () => {
  // one Vitest at a time: each runs HTTPS servers and 4 MB bodies
  for (const version of versions) {
    if (version.missing) continue
    if (version.target) ownCopy(version.target, 'keep-alive')
    installLibraries(version.fixture)
    runs.set(version.name, await runVitest('keep-alive', { cwd: version.fixture, node: version.node, vitestCli: version.vitestCli }))
  }
})

describe.each(versions.map((version) => [version.name, version] as const))('%s', (_name, version) => {
  test.each(files)('%s: leaks fail their owner at the marked line with the marked text; the rest pass', (file) => {
    if (version.missing) throw new Error(version.missing)
    const run = runs.get(version.name)!
    expect(run.unhandled, run.output).toEqual([])
    const module = run.modules.find((m) => m.file === join(version.fixture, file))
    expect(module, run.output).toBeDefined()
    expect(checkMarkers(module!), run.output).toEqual([])
  })
})
