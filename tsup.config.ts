import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', setup: 'src/setup.ts', matchers: 'src/matchers-entry.ts' },
  format: ['esm'],
  dts: true,
  clean: true,
  target: 'node20',
  sourcemap: false,
  // vitest and its runner are the user's copy, never bundled
  external: ['vitest', 'vitest/suite', 'vitest/node', 'vite'],
})
