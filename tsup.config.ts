import { defineConfig, type Options } from 'tsup'

const shared: Options = {
  target: 'node20',
  sourcemap: false,
  // vitest and its runner are the user's copy, never bundled; nor are the loader and the worker's code in the entries
  // that load them
  external: ['vitest', 'vitest/suite', 'vitest/node', 'vite', './worker.js', './load-worker.cjs'],
  // several builds write into dist/: `npm run build` empties it first
  clean: false,
}

export default defineConfig([
  // the plugin, in the main process (and `ignoreLeaks`, `LeakError` in test files)
  { ...shared, entry: { index: 'src/index.ts' }, format: ['esm'], dts: true },
  // the entries a test file loads: small, each whole in one file (a chunk they shared would be one more ES module to
  // load for every test file); they load the worker's code with load-worker.cjs, a CommonJS module (see there)
  { ...shared, entry: { setup: 'src/setup.ts', matchers: 'src/matchers.ts' }, format: ['esm'], splitting: false, dts: true },
  { ...shared, entry: { 'load-worker': 'src/worker/load/load-worker.ts' }, format: ['cjs'], dts: false },
  // the worker's code, whole in one file, as an ES module and as a script with a code cache; `import.meta.url` of the
  // script is its own file's, from a shim of ours: tsup's (`shims: true`) gives a page's URL when a global `document`
  // exists, as it does in jsdom and happy-dom test files
  { ...shared, entry: { worker: 'src/worker/load/worker.ts' }, format: ['esm'], splitting: false, dts: false },
  {
    ...shared,
    entry: { worker: 'src/worker/load/worker.ts' },
    format: ['cjs'],
    splitting: false,
    dts: false,
    esbuildOptions(options) {
      options.define = { ...options.define, 'import.meta.url': 'importMetaUrl' }
      options.inject = [...(options.inject ?? []), 'src/worker/load/import-meta-url.ts']
    },
  },
])
