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
  // the same as CommonJS (index.cjs, index.d.cts), for `require`: a package without "type": "module" has its
  // vitest.config.ts bundled as CommonJS, and Vite refuses an ES-module-only package there (Node 20.0 to 20.18 have no
  // require() of ES modules either). The two copies share no state that matters: the reporter is known by a mark, not
  // by its class (plugin/plugin.ts), and what test files use lives under Symbol.for keys on `process`. `import.meta.url` is
  // this file's own URL, always: not tsup's shim, which takes a browser branch when a DOM environment defines `document`
  {
    ...shared,
    entry: { index: 'src/index.ts' },
    format: ['cjs'],
    dts: true,
    define: { 'import.meta.url': '__vitestLeaksFileUrl' },
    banner: { js: "'use strict';\nconst __vitestLeaksFileUrl = require('node:url').pathToFileURL(__filename).href;" },
  },
  // the entries a test file loads: small, each whole in one file (a chunk they shared would be one more ES module to
  // load for every test file); they load the worker's code with load-worker.cjs, a CommonJS module (see there)
  { ...shared, entry: { setup: 'src/setup.ts', matchers: 'src/matchers.ts' }, format: ['esm'], splitting: false, dts: true },
  { ...shared, entry: { 'load-worker': 'src/worker/load/load-worker.ts' }, format: ['cjs'], dts: false },
  // the worker's code, whole in one file, as an ES module and as a script with a code cache; `import.meta.url` of the
  // script is its own file's, as in index.cjs above (tsup's shim gave a page's URL in jsdom and happy-dom test files,
  // and the worker failed to load there)
  { ...shared, entry: { worker: 'src/worker/load/worker.ts' }, format: ['esm'], splitting: false, dts: false },
  {
    ...shared,
    entry: { worker: 'src/worker/load/worker.ts' },
    format: ['cjs'],
    splitting: false,
    dts: false,
    define: { 'import.meta.url': '__vitestLeaksFileUrl' },
    banner: { js: "'use strict';\nconst __vitestLeaksFileUrl = require('node:url').pathToFileURL(__filename).href;" },
  },
])
