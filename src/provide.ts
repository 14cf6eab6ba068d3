/** The key under which the plugin passes its options from the config to the workers (`test.provide` / `inject`). */
export const PROVIDE_KEY = 'vitest-leaks:options'
