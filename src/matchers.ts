/**
 * `import 'vitest-leaks/matchers'` (or `setupFiles: ['vitest-leaks/matchers']`): `toHaveNoOpenSockets()` alone,
 * without the per-test leak check (see worker/matchers/setup.ts). The matcher is the worker's own, loaded once per worker
 * with the plugin's setup file when both run.
 */
import { showInternalError } from './shared/internal-error.js'
import { startWorker } from './worker/load/start-worker.js'
import type { toHaveNoOpenSockets as Matcher } from './worker/matchers/matchers.js'

/** The worker's matcher, or, when the plugin could not load (its own bug, shown once), one that says so. */
async function loadMatcher(): Promise<typeof Matcher> {
  try {
    const { worker, api } = await startWorker()
    worker.setUpMatchers(api)
    return worker.toHaveNoOpenSockets
  } catch (error) {
    showInternalError(error)
    return () => {
      throw new Error(
        'vitest-leaks could not load in this worker (its internal error is shown above): toHaveNoOpenSockets() cannot check anything',
      )
    }
  }
}

export const toHaveNoOpenSockets: typeof Matcher = await loadMatcher()
