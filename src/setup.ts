/**
 * The per-worker entry: `setupFiles: ['vitest-leaks/setup']`, or added first by the `leaks()` plugin. Installs the
 * probes once per worker and wires the per-test, per-suite and per-file checks into this test file.
 */
import { expect, inject } from 'vitest'
import { loadRunnerApi, registerHooks } from './hooks.js'
import { registerMatchers } from './matchers.js'
import { resolveOptions } from './options.js'
import { baselineCounts } from './policy.js'
import { PROVIDE_KEY, type ProvidedConfig } from './provide.js'
import { getRuntime, reportInternalError } from './runtime.js'

function readConfig(): ProvidedConfig {
  let provided: ProvidedConfig | undefined
  try {
    provided = (inject as (key: string) => ProvidedConfig | undefined)(PROVIDE_KEY)
  } catch {
    provided = undefined
  }
  // without the plugin (`setupFiles: ['vitest-leaks/setup']`): default options, and the environment variables
  return provided ?? { options: resolveOptions(undefined), baseline: undefined }
}

// `expect(server).toHaveNoOpenSockets()`, whatever the options (also with `mode: 'off'`)
registerMatchers(expect)

/** Browser mode, or any environment without Node's process APIs: nothing to check, said once per run. */
function hasNodeResources(): boolean {
  const host = globalThis as { process?: { getActiveResourcesInfo?: unknown; versions?: { node?: string } } }
  if (typeof host.process?.getActiveResourcesInfo === 'function' && host.process.versions?.node) return true
  const said = Symbol.for('vitest-leaks.no-node-said')
  const flags = globalThis as unknown as Record<symbol, boolean>
  if (!flags[said]) {
    flags[said] = true
    console.warn('vitest-leaks: this environment has no Node process APIs (browser mode?), so there is nothing to check; the plugin does nothing here.')
  }
  return false
}

const config = readConfig()
if (config.options.mode !== 'off' && hasNodeResources()) {
  const runtime = getRuntime(config.options)
  if (runtime.baseline.size === 0) runtime.baseline = baselineCounts(config.baseline)
  try {
    registerHooks(runtime, await loadRunnerApi())
  } catch (error) {
    reportInternalError(runtime, error)
  }
}
