import { createRequire } from 'node:module'
import type httpsModule from 'node:https'
import type v8Module from 'node:v8'
import type osModule from 'node:os'
import { workerState } from './worker-state.js'

const require = createRequire(import.meta.url)

/**
 * `node:https` loads TLS and crypto with it (~4 ms, some 25 internal modules). A test file that never uses HTTPS
 * should not pay for that when the plugin starts, once per test file in the forks pool: loaded on first use, which
 * is only when a leak is described or an HTTPS agent is met (and then it is loaded already).
 */
export function https(): typeof httpsModule {
  return require('node:https') as typeof httpsModule
}

/**
 * `node:v8` loads the heap-snapshot machinery with it (~4 ms). Only the opt-in `retainedSockets` check uses it (a
 * forced garbage collection and a heap snapshot), so it is loaded then.
 */
export function v8(): typeof v8Module {
  return require('node:v8') as typeof v8Module
}

/**
 * Whether this is the main thread of its process. The pool says so without loading `node:worker_threads` (~1.6 ms, once
 * per test file in the forks pool): forks and vmForks run test files in child processes, threads and vmThreads in
 * worker threads. Asked of Node for any other pool.
 */
export function isMainThread(): boolean {
  const pool = workerState()?.config?.pool
  if (pool === 'forks' || pool === 'vmForks') return true
  if (pool === 'threads' || pool === 'vmThreads') return false
  return (require('node:worker_threads') as typeof import('node:worker_threads')).isMainThread
}

/** `node:os` (~0.4 ms in a test file's process): only describing a leaked socket reads from it. */
export function os(): typeof osModule {
  return require('node:os') as typeof osModule
}
