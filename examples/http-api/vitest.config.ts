import leaks from 'vitest-leaks'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  plugins: [leaks()],
  test: {
    include: ['test/**/*.test.ts'],
  },
})
