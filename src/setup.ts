/**
 * The per-worker entry: `setupFiles: ['vitest-leaks/setup']`, or added first by the `leaks()` plugin. Installs the
 * probes once per worker and wires the per-test, per-suite and per-file checks into this test file.
 */
import { inject } from 'vitest'
import { loadRunnerApi, registerHooks } from './hooks.js'
import { DEFAULT_OPTIONS, resolveOptions, type ResolvedOptions } from './options.js'
import { PROVIDE_KEY } from './provide.js'
import { getRuntime, reportInternalError } from './runtime.js'

function readOptions(): ResolvedOptions {
  let provided: unknown
  try {
    provided = (inject as (key: string) => unknown)(PROVIDE_KEY)
  } catch {
    provided = undefined
  }
  // validated by the plugin at config time; checked again in case the setup file is used with a hand-made provide
  return provided === undefined ? DEFAULT_OPTIONS : resolveOptions(provided)
}

const runtime = getRuntime(readOptions())
try {
  registerHooks(runtime, await loadRunnerApi())
} catch (error) {
  reportInternalError(runtime, error)
}
