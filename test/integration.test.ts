import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
// @ts-expect-error: a plain .mjs script, no declarations
import { ownCopy } from '../scripts/prepare-versions.mjs'
import { checkMarkers, frameLine, readMarkers } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'
import { startPostgres, startRedis, type Service } from './support/services.js'
import { fixtureVersions } from './support/versions.js'

// Real clients against real servers: pg against PostgreSQL and ioredis against Redis (both started here, on loopback),
// undici, ws, express with supertest, and fastify. Each fixture file has leaky tests (with @leak markers) next to the
// clean way of doing the same thing, which must pass. On this Vitest, and on the other versions the package supports
// (.versions/, prepared by scripts/prepare-versions.mjs: Vitest 3.2 on this Node, 5.x on Node 22), against the same
// servers. A version that is not prepared fails here: never a silent skip.
const files = readdirSync(join(FIXTURES, 'integration'))
  .filter((file) => file.endsWith('.test.ts'))
  .map((file) => file.slice(0, -'.test.ts'.length))
  .sort()

const versions = fixtureVersions('integration')

const services: Service[] = []
const runs = new Map<string, RunOutcome>()
let env: Record<string, string> = {}
beforeAll(async () => {
  try {
    services.push(...(await Promise.all([startPostgres(), startRedis()])))
  } catch (error) {
    await Promise.all(services.map((service) => service.stop()))
    throw error
  }
  env = Object.assign({}, ...services.map((service) => service.env))
  // one version at a time: the fixture has timing-sensitive tests, and all of them share the two servers
  for (const version of versions) {
    if (version.missing) continue
    // its own copy (fixture and built package): versions.test.ts replaces the shared copies while it runs
    if (version.target) ownCopy(version.target, 'integration')
    runs.set(version.name, await runVitest('integration', { env, cwd: version.fixture, node: version.node, vitestCli: version.vitestCli }))
  }
  // two servers started, then one Vitest run per target: well past the default hook timeout on a loaded machine
}, 900_000)
afterAll(async () => {
  await Promise.all(services.map((service) => service.stop()))
})

function runOf(version: Version): RunOutcome {
  if (version.missing) throw new Error(version.missing)
  return runs.get(version.name)!
}

describe.each(versions.map((version) => [version.name, version] as const))(
  '%s: real libraries against real servers, leaky and clean',
  (_name, version) => {
    test('the run used that Vitest and reported every fixture file', () => {
      const run = runOf(version)
      if (version.vitest) expect(run.output, run.output).toContain(`v${version.vitest}`)
      const reported = run.modules.map((m) => m.file.split('/').at(-1))
      expect(reported.sort(), run.output).toEqual(files.map((f) => `${f}.test.ts`))
      expect(run.unhandled, run.output).toEqual([])
    })

    test.each(files)('%s.test.ts: leaks fail their owner at the marked line; clean tests pass', (name) => {
      const run = runOf(version)
      const module = run.modules.find((m) => m.file === join(version.fixture, `${name}.test.ts`))
      expect(module, run.output).toBeDefined()
      expect(checkMarkers(module!)).toEqual([])
    })
  },
)

// postgres.js opens its connection a microtask after the query is awaited, and `postgres()` constructs nothing Node
// sees: without trace mode the error names postgres and says how to reach the query's line; trace mode reaches it.
test('postgres.js: trace mode draws the code frame of the connection its query opened at the query line', async () => {
  const plain = runOf(versions[0]!)
  const file = join(FIXTURES, 'integration', 'postgres.test.ts')
  const leaky = 'leaks: a client whose first query opened its connection, never ended'
  const queryLine = readMarkers(file).find((marker) => marker.owner === undefined && marker.text.startsWith('TCP socket'))!.line
  const socketError = (run: RunOutcome) =>
    run.modules
      .find((m) => m.file === file)
      ?.tests.find((t) => t.name === leaky)
      ?.errors.find((e) => e.message.includes('TCP socket'))
  expect(socketError(plain)?.message, plain.output).toContain('(through postgres)')
  expect(socketError(plain)?.message).toContain('run with VITEST_LEAKS_TRACE=1 to follow the async chain back to your call')
  const traced = await runVitest('integration', { files: ['postgres.test.ts'], env: { ...env, VITEST_LEAKS_TRACE: '1' } })
  expect(socketError(traced) && frameLine(socketError(traced)!, file), traced.output).toBe(queryLine)
})

// The markers place these leaks on the file and on the suite; the texts say which variable holds the pool.
test.each(versions.map((version) => [version.name, version] as const))(
  '%s: postgres.js: a pool held by a variable of the module or of a describe body owns the connection a test opened',
  (_name, version) => {
    const run = runOf(version)
    const module = run.modules.find((m) => m.file === join(version.fixture, 'postgres.test.ts'))
    expect(module, run.output).toBeDefined()
    const fileSocket = module!.errors.find((e) => e.message.includes('TCP socket'))
    expect(fileSocket?.message, run.output).toContain('for its object that `fileSql` holds, a variable of the module')
    expect(fileSocket?.message).toContain('while test "a client made at module scope, first queried in this test, is the file’s" ran')
    const suite = module!.suites.find((s) => s.name === 'leaks: a client made in a beforeAll and never ended')
    expect(suite?.errors.map((e) => e.message).join('\n'), run.output).toContain('for its object that `sql` holds')
  },
)
