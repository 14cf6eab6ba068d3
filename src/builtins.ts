import { createRequire } from 'node:module'
import type httpsModule from 'node:https'

const require = createRequire(import.meta.url)

/**
 * `node:https` loads TLS and crypto with it (~4 ms, some 25 internal modules). A test file that never uses HTTPS
 * should not pay for that when the plugin starts, once per test file in the forks pool: loaded on first use, which
 * is only when a leak is described or an HTTPS agent is met (and then it is loaded already).
 */
export function https(): typeof httpsModule {
  return require('node:https') as typeof httpsModule
}
