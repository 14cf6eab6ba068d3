/**
 * The per-worker entry: `setupFiles: ['vitest-leaks/setup']`, or added first by the `leaks()` plugin. Installs the
 * probes once per worker and wires the per-test, per-suite and per-file checks into this test file.
 *
 * Only `vitest` and types are imported statically: in browser mode the rest of the plugin (which imports Node's
 * built-in modules) must not even load, so it is imported once Node's process APIs are known to be there.
 */
import { expect, inject } from 'vitest'
import type { ProvidedConfig } from './provide.js'

/** Browser mode, or any environment without Node's process APIs: nothing to check, said once (per browser page). */
function hasNodeResources(): boolean {
  const host = globalThis as { process?: { getActiveResourcesInfo?: unknown; versions?: { node?: string } } }
  if (typeof host.process?.getActiveResourcesInfo === 'function' && host.process.versions?.node) return true
  // in browser mode each test file runs in its own iframe of one page: the flag is kept on the topmost window this
  // frame may read, so the notice is shown once per page and not once per file
  const said = Symbol.for('vitest-leaks.no-node-said')
  let flags = globalThis as unknown as Record<symbol, boolean>
  try {
    const top = (globalThis as { top?: unknown }).top as Record<symbol, boolean> | null | undefined
    if (top) {
      void top[said]
      flags = top
    }
  } catch {
    // another origin: this frame's own flag
  }
  if (!flags[said]) {
    flags[said] = true
    console.warn('vitest-leaks: this environment has no Node process APIs (browser mode?), so there is nothing to check; the plugin does nothing here.')
  }
  return false
}

if (hasNodeResources()) {
  const [{ loadRunnerApi, registerHooks }, { registerMatchers }, { resolveOptions }, { baselineCounts }, { PROVIDE_KEY }, { getRuntime, reportInternalError }] =
    await Promise.all([import('./hooks.js'), import('./matchers.js'), import('./options.js'), import('./policy.js'), import('./provide.js'), import('./runtime.js')])

  const readConfig = (): ProvidedConfig => {
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

  const config = readConfig()
  if (config.options.mode !== 'off') {
    const runtime = getRuntime(config.options)
    if (runtime.baseline.size === 0) runtime.baseline = baselineCounts(config.baseline)
    try {
      registerHooks(runtime, await loadRunnerApi())
    } catch (error) {
      reportInternalError(runtime, error)
    }
  }
}
