/**
 * Everything that runs inside a test file's worker, in one module: built twice, as an ES module and as a script
 * (start-worker.ts says which is loaded where). It imports Node's built-in modules only; Vitest is handed in.
 */
export { setUpWorker } from '../setup-worker.js'
export { setUpMatchers } from '../matchers/setup.js'
export { toHaveNoOpenSockets } from '../matchers/matchers.js'
