/**
 * `import 'vitest-leaks/matchers'` (or `setupFiles: ['vitest-leaks/matchers']`): `toHaveNoOpenSockets()` alone,
 * without the per-test leak check (see worker/matchers/setup.ts). The matcher is the worker's own, loaded once per worker
 * with the plugin's setup file when both run.
 */
import { startWorker } from './worker/load/start-worker.js'
import type { toHaveNoOpenSockets as Matcher } from './worker/matchers/matchers.js'

const { worker, api } = await startWorker()
worker.setUpMatchers(api)

export const toHaveNoOpenSockets: typeof Matcher = worker.toHaveNoOpenSockets
