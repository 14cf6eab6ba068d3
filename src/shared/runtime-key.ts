import type { IgnoreRule } from './options.js'

// Setup files run again for every test file in a worker (and may be evaluated as a fresh module each time): the
// runtime lives on `process`, which is shared by every module instance and every vm context of the worker. Kept apart
// from worker/runtime.ts so that code loaded in the main process (the plugin's entry, `ignoreLeaks`) does not load every
// probe with it.
export const RUNTIME = Symbol.for('vitest-leaks.runtime')

/** What code outside the worker's bundle (`ignoreLeaks`) may reach of the worker's runtime (worker/runtime.ts). */
export interface RuntimeHandle {
  ledger: { current: { ignore: IgnoreRule[] } }
}

/** The worker's runtime if the plugin is active in this worker. */
export function peekRuntime(): RuntimeHandle | undefined {
  return (process as unknown as Record<symbol, RuntimeHandle | undefined>)[RUNTIME]
}
