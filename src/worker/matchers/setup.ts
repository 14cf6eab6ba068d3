import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { registerMatchers } from './matchers.js'
import { DEFAULT_OPTIONS } from '../../shared/options.js'
import { getRuntime } from '../runtime.js'
import { useVitest, type VitestApi } from '../vitest/vitest-api.js'
import { workerState } from '../vitest/worker-state.js'

/**
 * `import 'vitest-leaks/matchers'` (or `setupFiles: ['vitest-leaks/matchers']`): `toHaveNoOpenSockets()` alone,
 * without the per-test leak check. It still needs to see connections being made: it installs the sockets probe
 * (which records where each client socket was created) but registers no per-test hooks, so nothing else is checked.
 */
export function setUpMatchers(api: VitestApi): void {
  useVitest(api)
  registerMatchers(api.module.expect)
  // When the plugin's setup file runs in this project too, it creates the runtime with the user's options (and may
  // run after this file when listed after it): leave that to it.
  if (!pluginSetupConfigured()) getRuntime({ ...DEFAULT_OPTIONS, kinds: ['sockets'] })
}

function pluginSetupConfigured(): boolean {
  const state = workerState()
  const setupFile = realpath(fileURLToPath(new URL('./setup.js', import.meta.url)))
  return (state?.config?.setupFiles ?? []).some((file) => realpath(file) === setupFile)
}

function realpath(file: string): string {
  try {
    return realpathSync(file)
  } catch {
    return file
  }
}
