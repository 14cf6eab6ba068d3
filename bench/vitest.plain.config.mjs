// The benchmark suite without the plugin: the baseline every variant is compared to.
import { defineConfig } from 'vitest/config'
import { shared } from './vitest.shared.mjs'

export default defineConfig({
  ...shared,
  test: { ...shared.test },
})
