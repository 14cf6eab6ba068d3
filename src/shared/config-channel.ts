import type { ResolvedOptions } from './options.js'
import type { Baseline } from './policy.js'

/** The key under which the plugin passes its options from the config to the workers (`test.provide` / `inject`). */
export const PROVIDE_KEY = 'vitest-leaks:config'

/** The key in `task.meta` under which a worker files the leaks of that test, suite or file for the reporter. */
export const META_KEY = 'vitestLeaks'

/** What the workers receive: structured-cloneable (RegExps are, functions are not). */
export interface ProvidedConfig {
  options: ResolvedOptions
  baseline: Baseline | undefined
  /** Where workers keep V8's code cache of the plugin's worker code (see worker/load/load-worker.ts); none: no cache. */
  codeCacheDir?: string
}
