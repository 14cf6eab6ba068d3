// The benchmark suite with the plugin, default options. Uses the built plugin: run `npx tsup` (or `npm run bench`).
// bench/run.mjs points VITEST_LEAKS_BENCH_DIST at a copy of dist/ it takes when it starts, so a rebuild of dist/ while
// the benchmark runs can neither break a run nor mix two builds in one table. Run by hand, this is ../dist.
import { pathToFileURL } from 'node:url'
import { defineConfig } from 'vitest/config'
import { shared } from './vitest.shared.mjs'

const snapshot = process.env.VITEST_LEAKS_BENCH_DIST
const { default: leaks } = snapshot
  ? await import(pathToFileURL(`${snapshot}/index.js`).href)
  : await import('../dist/index.js')

export default defineConfig({
  ...shared,
  plugins: [leaks()],
  test: { ...shared.test },
})
