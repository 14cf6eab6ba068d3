/**
 * `import 'vitest-leaks/matchers'` (or `setupFiles: ['vitest-leaks/matchers']`): `toHaveNoOpenSockets()` alone,
 * without the per-test leak check (see matchers-setup.ts). The matcher is the worker's own, loaded once per worker
 * with the plugin's setup file when both run.
 */
import { startWorker } from './start-worker.js'
import type { toHaveNoOpenSockets as Matcher } from './matchers.js'

const { worker, api } = await startWorker()
worker.setUpMatchers(api)

export const toHaveNoOpenSockets: typeof Matcher = worker.toHaveNoOpenSockets
