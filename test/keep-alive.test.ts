import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
// @ts-expect-error: a plain .mjs script, no declarations
import { ownCopy } from '../scripts/prepare-versions.mjs'
import { checkMarkers } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'
import { fixtureVersions, type Version as FixtureVersion } from './support/versions.js'

// Keep-alive pools and the connections they hold: idle TLS and HTTP/2 connections parked in an undici or http.Agent
// pool are the pool's (tls.test.ts); a pool belongs to the scope it was created in, whenever it opens its
// connections, and a library's own module-level pool to nobody (owners.test.ts); a busy connection stays the leak of
// the test that made the request, in words that say what keeps it busy (texts.test.ts); one connection seen through
// an interceptor's socket and the real one is one error (interceptor.test.ts). On this Vitest and on every prepared
// target (.versions/, see scripts/prepare-versions.mjs), each in its own copy of the fixture. A target that is not
// prepared fails here.
const files = readdirSync(join(FIXTURES, 'keep-alive'))
  .filter((file) => file.endsWith('.test.ts'))
  .sort()

interface Version extends FixtureVersion {
  /** Its Node's major version. */
  major: number
}

function runnable(version: Version, file: string): boolean {
  return version.missing !== undefined || version.major >= (NEEDS_NODE[file] ?? 0)
}

/** Files that need a newer Node than some targets have: @mswjs/interceptors 0.45 needs Node 22 (its own engines). */
const NEEDS_NODE: Record<string, number> = { 'interceptor.test.ts': 22 }

function nodeMajor(node: string | undefined): number {
  const version = node ? spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout : process.version
  return Number(/^v(\d+)/.exec(version ?? '')?.[1] ?? 0)
}

const versions: Version[] = fixtureVersions('keep-alive').map((version) => ({
  ...version,
  major: version.missing ? 0 : nodeMajor(version.node),
}))

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
    const these = files.filter((file) => runnable(version, file))
    runs.set(
      version.name,
      await runVitest('keep-alive', { cwd: version.fixture, node: version.node, vitestCli: version.vitestCli, files: these }),
    )
  }
})

describe.each(versions.map((version) => [version.name, version] as const))('%s', (_name, version) => {
  // a file this Node cannot run at all is shown as skipped
  test.each(files.filter((file) => runnable(version, file)))(
    '%s: leaks fail their owner at the marked line with the marked text; the rest pass',
    (file) => {
      if (version.missing) throw new Error(version.missing)
      const run = runs.get(version.name)!
      expect(run.unhandled, run.output).toEqual([])
      const module = run.modules.find((m) => m.file === join(version.fixture, file))
      expect(module, run.output).toBeDefined()
      expect(checkMarkers(module!), run.output).toEqual([])
    },
  )
  test.skip.each(files.filter((file) => !runnable(version, file)).map((file) => [file, NEEDS_NODE[file]]))('%s: needs Node %i', () => {})
})
