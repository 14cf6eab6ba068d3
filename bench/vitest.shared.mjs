// What every benchmark config has in common, so variants differ only in what they measure.
import { fileURLToPath } from 'node:url'

export const shared = {
  // the repository root, so paths in output and CLI filters read the same for every config
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    // bench/run.mjs points BENCH_INCLUDE at bench/leaky for the suite that leaks on purpose
    include: [process.env.BENCH_INCLUDE ?? 'bench/suite/**/*.test.ts'],
    pool: 'forks',
    watch: false,
    // trace mode and --detectAsyncLeaks record a stack per promise: the await workload takes minutes there, and the
    // default 5 s test timeout would cut it short (a longer one changes nothing for the other variants)
    testTimeout: 600_000,
  },
}
