// The benchmark suite with the plugin. Uses the built plugin: run `npx tsup` (or `npm run bench`).
// bench/run.mjs points VITEST_LEAKS_BENCH_DIST at a copy of dist/ it takes when it starts, so a rebuild of dist/ while
// the benchmark runs can neither break a run nor mix two builds in one table. Run by hand, this is ../dist.
// BENCH_LEAKS_OPTIONS (JSON) gives the plugin's options, so a variant such as trace mode or retainedSockets is one
// entry in run.mjs, not one more config file.
import { pathToFileURL } from 'node:url'
import { defineConfig } from 'vitest/config'
import { shared } from './vitest.shared.mjs'

// Never a literal import: Vite bundles the config file, and would bundle a literal `import('../dist/index.js')` (and
// its chunks) into it on every run, a cost users (whose `vitest-leaks` is in node_modules, left external) never pay.
const snapshot = process.env.VITEST_LEAKS_BENCH_DIST
const entry = snapshot ? pathToFileURL(`${snapshot}/index.js`).href : new URL('../dist/index.js', import.meta.url).href
const { default: leaks } = await import(entry)
const options = process.env.BENCH_LEAKS_OPTIONS ? JSON.parse(process.env.BENCH_LEAKS_OPTIONS) : undefined

export default defineConfig({
  ...shared,
  plugins: [leaks(options)],
  test: { ...shared.test },
})
