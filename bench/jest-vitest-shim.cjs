// What `import { ... } from 'vitest'` gets when the benchmark suite runs under Jest (bench/jest.config.cjs maps
// 'vitest' here): Jest's own globals under the same names. The suite uses nothing else (test, describe, beforeAll,
// afterAll, expect with toBe, toBeGreaterThan and toHaveLength); a workload that needs a Vitest-only API (vi,
// test.concurrent, expect.soft, ...) has to be added here, or it will fail under the Jest variants.
module.exports = {
  test: globalThis.test,
  it: globalThis.it,
  describe: globalThis.describe,
  beforeAll: globalThis.beforeAll,
  afterAll: globalThis.afterAll,
  beforeEach: globalThis.beforeEach,
  afterEach: globalThis.afterEach,
  expect: globalThis.expect,
}
