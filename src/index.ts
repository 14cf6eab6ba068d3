export { leaks, leaks as default, type LeaksPlugin } from './plugin/plugin.js'
export { ignoreLeaks } from './shared/ignore-leaks.js'
export {
  LEAK_KINDS,
  LEAK_MODES,
  LeaksOptionsError,
  type IgnoreRule,
  type LeakKind,
  type LeakMode,
  type LeaksOptions,
} from './shared/options.js'
export type { Baseline, BaselineEntry, LeakEntry, LeakStatus } from './shared/policy.js'
export type { RunReport } from './plugin/reporter.js'
export { LeakError } from './worker/report/leak-error.js'
// the matcher's types (`toHaveNoOpenSockets` on Chai.Assertion) for `"types": ["vitest-leaks"]`
export type { NoOpenSocketsSubject } from './worker/matchers/matchers.js'
