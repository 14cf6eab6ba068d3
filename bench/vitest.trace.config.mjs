// The benchmark suite with the plugin in trace mode (a creation stack for every async resource): its cost, next to
// the default. Same dist/ snapshot as vitest.leaks.config.mjs.
import { pathToFileURL } from 'node:url'
import { defineConfig } from 'vitest/config'
import { shared } from './vitest.shared.mjs'

const snapshot = process.env.VITEST_LEAKS_BENCH_DIST
const { default: leaks } = snapshot
  ? await import(pathToFileURL(`${snapshot}/index.js`).href)
  : await import('../dist/index.js')

export default defineConfig({
  ...shared,
  plugins: [leaks({ trace: true })],
  // a stack per promise makes the await workload take minutes: the default 5 s test timeout would cut it short
  test: { ...shared.test, testTimeout: 600_000 },
})
