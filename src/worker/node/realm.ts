import { runInThisContext } from 'node:vm'
import { inVmContextFast } from '../load/vm-context.js'

let main: typeof globalThis | undefined

/**
 * The worker's own global object. In the vm pools (vmThreads, vmForks) test files, setup files and the plugin's
 * modules run in a vm context whose globals are copied lazily from this one when first read (Vitest's node
 * environment); on Vitest 3.2 and 5.x each test file gets a new context. What has to reach every test file must be
 * put here too: a wrapped `setTimeout`, read again by the next context. Vite's source-map interceptor
 * (`Error.prepareStackTrace`) and Node's fetch dispatcher live here as well. Outside the vm pools it is `globalThis`.
 */
export function mainRealm(): typeof globalThis {
  if (main) return main
  // the usual case, no vm context. Asked only otherwise, `vm.runInThisContext` compiles a script (~0.5 ms in a test
  // file's process)
  if (!inVmContextFast()) return (main = globalThis)
  try {
    // runInThisContext runs in the worker's main context even when called from code inside a vm context
    main = runInThisContext('globalThis') as typeof globalThis
  } catch {
    main = globalThis
  }
  return main
}

/** True when this module runs inside a vm context (the vm pools). */
export function inVmContext(): boolean {
  return mainRealm() !== globalThis
}

// The Node globals the plugin's own code reads (now or when a leak is described), as named in a vm context.
const PINNED_GLOBALS = [
  'process',
  'Buffer',
  'URL',
  'URLSearchParams',
  'AbortController',
  'AbortSignal',
  'EventTarget',
  'Event',
  'TextDecoder',
  'TextEncoder',
  'queueMicrotask',
  'structuredClone',
  'setImmediate',
  'clearImmediate',
  'clearTimeout',
  'clearInterval',
  'performance',
]

/**
 * In the vm pools the runtime is made once per worker, by the modules of the first test file's vm context, and its
 * probes keep running in later files. Vitest copies a Node global into a context when it is first read and throws
 * ("Object.defineProperty called on non-object") when that first read comes after the context was torn down (Vitest
 * 3.2 and 5.x tear it down after each file): read them all now, while the context is alive.
 */
export function pinGlobals(): void {
  if (!inVmContext()) return
  const globals = globalThis as unknown as Record<string, unknown>
  for (const name of PINNED_GLOBALS) {
    try {
      void globals[name]
    } catch {
      // a global this Node does not have
    }
  }
}
