import leaks from 'vitest-leaks'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  // retainedSockets: also fail a test after which a closed socket is still kept in a Set, a Map or an array
  plugins: [leaks({ retainedSockets: true })],
  test: {
    include: ['test/**/*.test.ts'],
  },
})
