import type * as VitestModule from 'vitest'

/**
 * Vitest as the worker's code sees it. The worker's code never imports `vitest` itself: the entry that loads it
 * (start-worker.ts) hands it in, so that one build of it can be loaded as a plain script, with a code cache.
 */
export interface VitestApi {
  /** The `vitest` module of this test file (its `expect`, `inject`, `TestRunner`...). */
  module: typeof VitestModule
  /** `import('vitest/suite')`: the runner's functions on Vitest 3.2 and 4.0 (5 has no such export). */
  importSuite: () => Promise<unknown>
}

let current: VitestApi | undefined

export function useVitest(api: VitestApi): void {
  current = api
}

export function vitestApi(): VitestApi {
  if (!current) throw new Error('vitest-leaks: the worker was set up without Vitest')
  return current
}
