import type { Ledger, LeakRecord, Scope, ScopePhase } from '../ledger/ledger.js'
import { followNewEmitters } from '../probes/emitter-follow.js'
import { captureCallSites, hasUserFrame, isVitestFile, LazyCallSites, libraryOf, type CallSites } from './stack.js'

/**
 * The user's calls into libraries, for what a library creates on a later tick of such a call: chokidar's
 * `watch(dir)` opens its watchers after an `fs.stat` round trip, a client connects in a `process.nextTick`. Those
 * resources have no frame of the user's code in their own stacks; the object the user's call constructed does.
 *
 * Noticed where the libraries' objects are born: most client, pool and watcher classes are EventEmitters, and every
 * emitter's constructor runs `EventEmitter.init` (one patch shared with the listeners and sockets probes). Whether a
 * class is a library's is decided once per class, from the stack of its first instance: the outermost `new` of the
 * constructor chain is in node_modules. Node's own classes (sockets, streams, requests), the test's and Vitest's keep
 * no stack at all; an instance of a library's class keeps a short lazy one (~3 µs) from the caller of its `new`, and
 * each scope keeps the last few. Read only to report a leak with no frame of the user's code.
 */
interface LibraryCall {
  library: string
  stack: LazyCallSites
  /** What its scope was running then (a suite's beforeAll). */
  phase: ScopePhase
}

/** Frames kept above a library object's construction: the library's own (chokidar's `watch()`) up to the user's. */
const CALL_FRAMES = 12
/** Library objects remembered per scope, the newest: a later-tick resource is matched to the last call before it. */
const CALLS_PER_SCOPE = 16

/** A library's class: its package, and its constructor (the stack is taken from the constructor's caller). */
interface LibraryClass {
  library: string
  ctor: Function
}

/** Per prototype: the library class it is of, or null for a class that is not a library's. */
const libraryClasses = new WeakMap<object, LibraryClass | null>()
const callsOf = new WeakMap<Scope, LibraryCall[]>()

/** Starts remembering library objects as they are constructed, owned by the running scope. Returns the undo. */
export function followLibraryCalls(ledger: Ledger): () => void {
  return followNewEmitters((emitter, skip) => {
    const prototype = Object.getPrototypeOf(emitter) as object | null
    if (prototype === null) return
    let known = libraryClasses.get(prototype)
    if (known === undefined) libraryClasses.set(prototype, (known = classLibrary(prototype, skip) ?? null))
    if (known === null) return
    const scope = ledger.current
    let calls = callsOf.get(scope)
    if (!calls) callsOf.set(scope, (calls = []))
    if (calls.length >= CALLS_PER_SCOPE) calls.shift()
    // from the caller of `new X()` up: the constructors' frames would hold the new object itself (a raw stack keeps
    // each frame's receiver), and a library object the program let go must not be kept alive by its stack
    calls.push({ library: known.library, stack: new LazyCallSites(known.ctor, CALL_FRAMES), phase: scope.phase })
  })
}

/**
 * The package of a class, from the stack of its first instance's construction: the frames from `EventEmitter.init`
 * up are the constructor chain (`new EventEmitter`, then each subclass's `new`), the last of them the class itself.
 * A Node class constructed inside a library's constructor (a socket made in `new Client()`) is told apart by name.
 */
function classLibrary(prototype: object, skip: Function): LibraryClass | undefined {
  const ctor = (prototype as { constructor?: unknown }).constructor
  if (typeof ctor !== 'function') return undefined
  const name = ctor.name
  if (typeof name !== 'string' || name === '') return undefined
  const sites = captureCallSites(skip, CALL_FRAMES)
  if (!sites) return undefined
  let outermost: NodeJS.CallSite | undefined
  for (const site of sites) {
    if (!site.isConstructor()) break
    outermost = site
  }
  if (!outermost || outermost.getFunctionName() !== name) return undefined
  // Vitest's own emitters (its pools, its RPC) make nothing a test is judged on
  if (isVitestFile(outermost.getFileName() ?? '')) return undefined
  const library = libraryOf([outermost])
  return library ? { library, ctor } : undefined
}

/**
 * The last call of the user's code into `library` that constructed one of its objects, in `owner` or, failing
 * that, in a scope enclosing it (a watcher created in a beforeAll whose first fs round trip ended in a test).
 */
export function lastCallInto(library: string | undefined, owner: Scope): { sites: CallSites; scope: Scope; phase: ScopePhase } | undefined {
  if (!library) return undefined
  for (let scope: Scope | undefined = owner; scope; scope = scope.parent) {
    const calls = callsOf.get(scope)
    if (!calls) continue
    for (let i = calls.length - 1; i >= 0; i--) {
      const call = calls[i]!
      if (call.library !== library) continue
      const sites = call.stack.sites
      if (sites && hasUserFrame(sites)) return { sites, scope, phase: call.phase }
    }
  }
  return undefined
}

/**
 * A resource still open at its owner's check, made on a later tick by a library whose object the user's code
 * constructed in an enclosing scope (chokidar's watchers of a `watch()` in a beforeAll, opened while the first test
 * ran): it is that scope's, like the connections a pool opens are the pool's. Moves the record there and returns
 * true; false when it stays. Read only for what is still open at a check.
 */
export function moveToCallingScope(record: LeakRecord, ledger: Ledger): boolean {
  const sites = record.sites
  if (!sites || hasUserFrame(sites)) return false
  const call = lastCallInto(libraryOf(sites), record.owner)
  if (!call || call.scope === record.owner) return false
  ledger.reown(record, call.scope, call.phase)
  return true
}
