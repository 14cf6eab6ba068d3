import timers from 'node:timers'
import { closeLeaks, findLeaks } from './check.js'
import { Ledger, createScope, type Scope } from './ledger.js'
import type { ResolvedOptions } from './options.js'
import { PROBES } from './probes/index.js'
import { buildLeakErrors, type LeakError } from './report/leak-error.js'

/** Node's own timers, captured before the timers probe wraps them and out of reach of fake timers. */
export interface RealTimers {
  setImmediate: typeof setImmediate
  setTimeout: typeof setTimeout
}

/** Everything the plugin keeps in a worker. One per worker (process or thread), however often the setup file runs. */
export interface Runtime {
  ledger: Ledger
  options: ResolvedOptions
  timers: RealTimers
  internalErrorShown: boolean
  uninstall: () => void
}

// Setup files run again for every test file in a worker (and may be evaluated as a fresh module each time): the
// runtime lives on `process`, which is shared by every module instance and every vm context of the worker.
const RUNTIME = Symbol.for('vitest-leaks.runtime')

export function getRuntime(options: ResolvedOptions): Runtime {
  const host = process as unknown as Record<symbol, Runtime | undefined>
  const existing = host[RUNTIME]
  if (existing) return existing
  const realTimers: RealTimers = { setImmediate: timers.setImmediate, setTimeout: timers.setTimeout }
  const ledger = new Ledger(createScope('file', '(worker)', undefined, 'collect'))
  const undo: Array<() => void> = []
  const runtime: Runtime = {
    ledger,
    options,
    timers: realTimers,
    internalErrorShown: false,
    uninstall: () => {
      for (const fn of undo.reverse()) fn()
      host[RUNTIME] = undefined
    },
  }
  ledger.onInternalError = (error) => reportInternalError(runtime, error)
  for (const kind of options.kinds) {
    try {
      undo.push(PROBES[kind].install(ledger))
    } catch (error) {
      // one probe that cannot install (an unexpected Node internals shape) must not take the others down
      reportInternalError(runtime, error)
    }
  }
  host[RUNTIME] = runtime
  return runtime
}

/**
 * Ends a scope: waits for what is closing, reports what is left as errors, closes it (option `cleanup`), and hands
 * ownership back to the parent scope. An internal error is shown once and never fails the user's test.
 */
export async function checkScope(runtime: Runtime, scope: Scope): Promise<LeakError[]> {
  const { ledger, options } = runtime
  if (ledger.current === scope && scope.parent) ledger.current = scope.parent
  try {
    const leaks = await findLeaks(scope, ledger, options, runtime.timers)
    if (leaks.length === 0) return []
    const errors = buildLeakErrors(leaks, scope, { scope, ledger })
    if (options.cleanup) closeLeaks(leaks)
    return errors
  } catch (error) {
    reportInternalError(runtime, error)
    return []
  }
}

export function reportInternalError(runtime: Runtime, error: unknown): void {
  if (runtime.internalErrorShown) return
  runtime.internalErrorShown = true
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error)
  // stderr, not a thrown error: the plugin's own bug must not fail a clean test
  process.stderr.write(
    `\nvitest-leaks: internal error (a bug in vitest-leaks, not in your tests; the run goes on, and this is shown once):\n${detail}\n\n`,
  )
}
