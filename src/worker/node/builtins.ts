import type * as FsModule from 'node:fs'
import { createRequire } from 'node:module'
import type httpModule from 'node:http'
import type httpsModule from 'node:https'
import type v8Module from 'node:v8'
import type osModule from 'node:os'
import type * as TimersModule from 'node:timers'
import { workerState } from '../vitest/worker-state.js'

const require = createRequire(import.meta.url)

/**
 * The module objects of `node:fs` and `node:timers`, whose functions the probes replace. Required, not imported: in
 * the worker's CommonJS build (load-worker.ts) a default or namespace import of a built-in module is a copy of all
 * its exports, made again in every test file's process (~0.3 ms for the plugin's modules); elsewhere the plugin
 * imports Node's functions by name, which reads them from the module object at each call.
 */
export const fs = require('node:fs') as typeof FsModule
export const timers = require('node:timers') as typeof TimersModule

/**
 * `node:https` loads TLS and crypto with it (~4 ms, some 25 internal modules). A test file that never uses HTTPS
 * should not pay for that when the plugin starts, once per test file in the forks pool: loaded on first use, which
 * is only when a leak is described or an HTTPS agent is met (and then it is loaded already).
 */
export function https(): typeof httpsModule {
  return require('node:https') as typeof httpsModule
}

/**
 * `node:http`, once something has loaded it; undefined before. Loading it costs ~1.5 ms (its client, server, agent and
 * parser modules), again in every test file of the forks pool, and a test file that never uses HTTP should not pay
 * that for the plugin. Nothing it makes can exist before it is loaded: no server, request or agent to look for.
 * (The agents' `addRequest` is patched as the module loads: see http-agents.ts.)
 */
export function loadedHttp(): typeof httpModule | undefined {
  if (http === undefined && isHttpLoaded()) http = require('node:http') as typeof httpModule
  return http
}

let http: typeof httpModule | undefined
let loadListLength = -1

/** From Node's list of the built-in modules loaded so far, read again only when it has grown. */
function isHttpLoaded(): boolean {
  const list = (process as { moduleLoadList?: unknown }).moduleLoadList
  // a Node without the list: load it, as if it were
  if (!Array.isArray(list)) return true
  if (list.length === loadListLength) return false
  loadListLength = list.length
  // pushed once the module has run (a module still loading is not in the list)
  return list.includes('NativeModule http')
}

/**
 * Whether `value` is an instance of one of node:http's classes (node:https's extend them): only once node:http is
 * loaded can one exist, so this never loads it.
 */
export function isHttp<K extends 'Agent' | 'ClientRequest' | 'Server'>(
  value: unknown,
  name: K,
): value is InstanceType<(typeof httpModule)[K]> {
  const module = loadedHttp()
  return module !== undefined && value instanceof module[name]
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
