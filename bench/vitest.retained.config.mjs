// The benchmark suite with the plugin and the option retainedSockets (a garbage collection after each test that
// closed a socket, a heap snapshot when one is still alive): its cost, next to the default. Same dist/ snapshot as
// vitest.leaks.config.mjs.
import { pathToFileURL } from 'node:url'
import { defineConfig } from 'vitest/config'
import { shared } from './vitest.shared.mjs'

const snapshot = process.env.VITEST_LEAKS_BENCH_DIST
const { default: leaks } = snapshot
  ? await import(pathToFileURL(`${snapshot}/index.js`).href)
  : await import('../dist/index.js')

export default defineConfig({
  ...shared,
  plugins: [leaks({ retainedSockets: true })],
  test: { ...shared.test },
})
