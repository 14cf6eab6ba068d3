import { syncBuiltinESMExports } from 'node:module'
import { timers } from './node/builtins.js'
import { closeLeaks, findLeaks, type Leak, type RealTimers } from './check.js'
import { showInternalError } from '../shared/internal-error.js'
import { Ledger, createScope, type Scope } from './ledger/ledger.js'
import type { IgnoreRule, ResolvedOptions } from '../shared/options.js'
import { PROBES } from './probes/index.js'
import { judgeLeak, type LeakEntry } from '../shared/policy.js'
import { pinGlobals } from './node/realm.js'
import { META_KEY } from '../shared/config-channel.js'
import { describeLeaks, type LeakError } from './report/leak-error.js'
import { isVitestFile, parseFrame } from './stacks/stack.js'
import { enableTrace } from './stacks/trace.js'
import { followLibraryCalls } from './stacks/library-calls.js'
import { RUNTIME } from '../shared/runtime-key.js'

/** Node's own timers, captured before the timers probe wraps them and out of reach of fake timers. */
/** Everything the plugin keeps in a worker. One per worker (process or thread), however often the setup file runs. */
export interface Runtime {
  ledger: Ledger
  options: ResolvedOptions
  timers: RealTimers
  internalErrorShown: boolean
  /** Known leaks from the baseline file: key → how many; and how many of them this worker has met. */
  baseline: Map<string, number>
  baselineUsed: Map<string, number>
  /** Option `cleanup`: leaks a later test of the file may still use (servers), closed when the file's check ends. */
  closeAtFileEnd: Leak[]
  uninstall: () => void
}

/** The task a scope belongs to, as much as the check needs: its meta carries the leaks to the reporter. */
export interface ScopeTask {
  meta: Record<string, unknown>
}

/** Where the leaks of a scope are filed: the test file and the project root, for relative paths. */
export interface ScopeFile {
  path: string
  root: string
}

export function getRuntime(options: ResolvedOptions): Runtime {
  const host = process as unknown as Record<symbol, Runtime | undefined>
  const existing = host[RUNTIME]
  if (existing) return existing
  pinGlobals()
  const realTimers: RealTimers = { setImmediate: timers.setImmediate, setTimeout: timers.setTimeout }
  const ledger = new Ledger(createScope('file', '(worker)', undefined, 'collect'))
  const undo: Array<() => void> = []
  const runtime: Runtime = {
    ledger,
    options,
    timers: realTimers,
    internalErrorShown: false,
    baseline: new Map(),
    baselineUsed: new Map(),
    closeAtFileEnd: [],
    uninstall: () => {
      for (const fn of undo.reverse()) fn()
      syncBuiltinESMExports()
      host[RUNTIME] = undefined
    },
  }
  ledger.onInternalError = (error) => reportInternalError(runtime, error)
  // trace mode is for hunting a leak down: every stack is kept
  ledger.stacksPerTest = options.trace ? Infinity : options.stacksPerTest
  if (options.trace) enableTrace(ledger)
  undo.push(followLibraryCalls(ledger))
  for (const probe of PROBES) {
    if (!options.kinds.includes(probe.kind)) continue
    try {
      undo.push(probe.install(ledger))
      if (probe.settling) ledger.settlers.add(probe)
    } catch (error) {
      // one probe that cannot install (an unexpected Node internals shape) must not take the others down
      reportInternalError(runtime, error)
    }
  }
  // The probes replace exports of built-in modules (`fs.open`, `timers.setTimeout`); `import { open } from 'node:fs'`
  // reads the ESM namespace, which follows them only when asked. Once for all probes: each call costs about 1 ms.
  syncBuiltinESMExports()
  host[RUNTIME] = runtime
  return runtime
}

/**
 * Ends a scope: waits for what is closing, decides what each leftover does (fail, warn, ignored, baselined), files
 * them all in the task's meta for the reporter, closes them (option `cleanup`), and hands ownership back to the
 * parent scope. Returns the errors that fail the scope: at once when nothing was left open (the path of nearly every
 * test), or as a promise when something had to be waited for. An internal error is shown once and never fails a test.
 */
export function checkScope(runtime: Runtime, scope: Scope, task: ScopeTask, file: ScopeFile): LeakError[] | Promise<LeakError[]> {
  const { ledger, options } = runtime
  try {
    if (ledger.running === scope && scope.parent) ledger.current = scope.parent
    const found = findLeaks(scope, ledger, options, runtime.timers)
    if (Array.isArray(found)) return fileLeaks(runtime, scope, task, file, found)
    return found.then(
      (leaks) => fileLeaks(runtime, scope, task, file, leaks),
      (error: unknown) => {
        reportInternalError(runtime, error)
        return []
      },
    )
  } catch (error) {
    reportInternalError(runtime, error)
    return []
  }
}

function fileLeaks(runtime: Runtime, scope: Scope, task: ScopeTask, file: ScopeFile, leaks: Leak[]): LeakError[] {
  const { ledger, options } = runtime
  try {
    if (options.cleanup && scope.kind === 'file') {
      closeLeaks(runtime.closeAtFileEnd.splice(0), true)
    }
    if (leaks.length === 0) return []
    const rules = [...options.ignore, ...inheritedRules(scope)]
    const failing: LeakError[] = []
    const entries: LeakEntry[] = []
    for (const leak of describeLeaks(leaks, scope, { scope, ledger })) {
      // where the code frame is drawn: Vitest's own frames (a `vi.spyOn` wrapper around the call) are not the user's line
      const location = leak.frames.map(parseFrame).find((frame) => frame !== undefined && !isVitestFile(frame.file))
      const entry: Omit<LeakEntry, 'status'> = {
        kind: leak.kind,
        what: leak.what,
        state: leak.state,
        owner: scope.kind,
        name: scope.kind === 'file' ? '' : scope.name,
        file: relativePath(file.root, file.path),
        ...(location ? { location: { ...location, file: relativePath(file.root, location.file) } } : {}),
      }
      const verdict = judgeLeak(entry, leak.frames.join('\n'), rules, options, runtime.baseline, runtime.baselineUsed)
      entries.push({ ...entry, ...verdict })
      if (verdict.status === 'failed') failing.push(leak.error)
    }
    const filed = (task.meta[META_KEY] as LeakEntry[] | undefined) ?? []
    task.meta[META_KEY] = [...filed, ...entries]
    if (options.cleanup) runtime.closeAtFileEnd.push(...closeLeaks(leaks, scope.kind === 'file'))
    return failing
  } catch (error) {
    reportInternalError(runtime, error)
    return []
  }
}

function inheritedRules(scope: Scope): IgnoreRule[] {
  const rules: IgnoreRule[] = []
  for (let s: Scope | undefined = scope; s; s = s.parent) rules.push(...s.ignore)
  return rules
}

function relativePath(root: string, path: string): string {
  const relative = path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path
  return relative.split('\\').join('/')
}

export function reportInternalError(runtime: Runtime, error: unknown): void {
  runtime.internalErrorShown = true
  showInternalError(error)
}
