import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { checkMarkers } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'
import { startPostgres, startRedis, type Service } from './support/services.js'

// Real clients against real servers: pg against PostgreSQL and ioredis against Redis (both started here, on loopback),
// undici, ws, express with supertest, and fastify. Each fixture file has leaky tests (with @leak markers) next to the
// clean way of doing the same thing, which must pass.
const files = readdirSync(join(FIXTURES, 'integration'))
  .filter((file) => file.endsWith('.test.ts'))
  .map((file) => file.slice(0, -'.test.ts'.length))
  .sort()

const services: Service[] = []
let run: RunOutcome
beforeAll(async () => {
  try {
    services.push(...(await Promise.all([startPostgres(), startRedis()])))
  } catch (error) {
    await Promise.all(services.map((service) => service.stop()))
    throw error
  }
  run = await runVitest('integration', { env: Object.assign({}, ...services.map((service) => service.env)) })
})
afterAll(async () => {
  await Promise.all(services.map((service) => service.stop()))
})

describe('real libraries against real servers, leaky and clean, through real Vitest', () => {
  test('the run reported every fixture file', () => {
    const reported = run.modules.map((m) => m.file.split('/').at(-1))
    expect(reported.sort(), run.output).toEqual(files.map((f) => `${f}.test.ts`))
    expect(run.unhandled, run.output).toEqual([])
  })

  test.each(files)('%s.test.ts: leaks fail their owner at the marked line; clean tests pass', (name) => {
    const module = run.modules.find((m) => m.file === join(FIXTURES, 'integration', `${name}.test.ts`))
    expect(module, run.output).toBeDefined()
    expect(checkMarkers(module!)).toEqual([])
  })
})
