import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts', 'src/setup.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  target: 'node20',
  sourcemap: false,
  // vitest and its runner are the user's copy, never bundled
  external: ['vitest', 'vitest/suite', 'vitest/node', 'vite'],
})
