// The benchmark suite with the plugin, default options. Uses the built plugin: run `npx tsup` (or `npm run bench`).
import { defineConfig } from 'vitest/config'
import leaks from '../dist/index.js'
import { shared } from './vitest.shared.mjs'

export default defineConfig({
  ...shared,
  plugins: [leaks()],
  test: { ...shared.test },
})
