/**
 * The Node side of the per-worker entry (setup.ts loads it once Node's process APIs are known to be there): installs
 * the probes once per worker and wires the per-test, per-suite and per-file checks into this test file.
 */
import { loadRunnerApi, registerHooks } from './vitest/hooks.js'
import { registerMatchers } from './matchers/matchers.js'
import { resolveOptions } from '../shared/options.js'
import { baselineCounts } from '../shared/policy.js'
import { PROVIDE_KEY, type ProvidedConfig } from '../shared/config-channel.js'
import { getRuntime, reportInternalError } from './runtime.js'
import { useVitest, type VitestApi } from './vitest/vitest-api.js'

export async function setUpWorker(api: VitestApi): Promise<void> {
  useVitest(api)
  const { expect, inject } = api.module
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
