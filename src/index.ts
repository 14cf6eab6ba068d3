export { leaks, leaks as default, type LeaksPlugin } from './plugin.js'
export { LEAK_KINDS, LeaksOptionsError, type LeakKind, type LeaksOptions } from './options.js'
export { LeakError } from './report/leak-error.js'
