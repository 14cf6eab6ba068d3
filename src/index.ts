export { leaks, leaks as default, type LeaksPlugin } from './plugin.js'
export { ignoreLeaks } from './ignore.js'
export {
  LEAK_KINDS,
  LEAK_MODES,
  LeaksOptionsError,
  type IgnoreRule,
  type LeakKind,
  type LeakMode,
  type LeaksOptions,
} from './options.js'
export type { Baseline, BaselineEntry, LeakEntry, LeakStatus } from './policy.js'
export type { RunReport } from './reporter.js'
export { LeakError } from './report/leak-error.js'
// the matcher's types (`toHaveNoOpenSockets` on Chai.Assertion) for `"types": ["vitest-leaks"]`
export type { NoOpenSocketsSubject } from './matchers.js'
