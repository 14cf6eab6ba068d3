import type { Runtime } from '../worker/runtime.js'

// Setup files run again for every test file in a worker (and may be evaluated as a fresh module each time): the
// runtime lives on `process`, which is shared by every module instance and every vm context of the worker. Kept apart
// from worker/runtime.ts so that code loaded in the main process (the plugin's entry, `ignoreLeaks`) does not load every
// probe with it.
export const RUNTIME = Symbol.for('vitest-leaks.runtime')

/** The worker's runtime if the plugin is active in this worker. */
export function peekRuntime(): Runtime | undefined {
  return (process as unknown as Record<symbol, Runtime | undefined>)[RUNTIME]
}
