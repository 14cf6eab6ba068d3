/**
 * The per-worker entry: `setupFiles: ['vitest-leaks/setup']`, or added first by the `leaks()` plugin. Installs the
 * probes once per worker and wires the per-test, per-suite and per-file checks into this test file.
 *
 * Nothing is imported statically but worker/load/start-worker.ts, bundled in: in browser mode the plugin (which imports Node's
 * built-in modules) must not even load, so it is loaded once Node's process APIs are known to be there, one dynamic
 * import at a time (several at once race in Vitest 3.2's vm pools: "request for './chunk-….js' is not in cache").
 */
import { showInternalError } from './shared/internal-error.js'
import { startWorker } from './worker/load/start-worker.js'

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
    console.warn(
      'vitest-leaks: this environment has no Node process APIs (browser mode?), so there is nothing to check; the plugin does nothing here.',
    )
  }
  return false
}

if (hasNodeResources()) {
  // Whatever goes wrong while the plugin loads or installs is its own bug: shown once, and the file runs unchecked,
  // its tests keeping their own verdicts. A setup file that throws would fail every test file before its first test.
  try {
    const { worker, api, saveCodeCache } = await startWorker()
    await worker.setUpWorker(api)
    // at the end of the test file, so that the cache also holds what each test and each check compiled (see load-worker)
    api.module.afterAll(() => saveCodeCache())
  } catch (error) {
    showInternalError(error)
  }
}
