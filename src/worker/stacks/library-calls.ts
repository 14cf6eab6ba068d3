import type { Ledger, LeakRecord, Scope, ScopePhase } from '../ledger/ledger.js'
import { findHeldBy } from '../node/closures.js'
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
  return followNewEmitters((_emitter, skip, prototype) => {
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

/** What made a record its new owner's (see moveToHoldingScope): the variable that holds it, and the test it left. */
export interface HeldOutside {
  variable: string
  library: string
  test: string
}

const heldOutside = new WeakMap<LeakRecord, HeldOutside>()

/** Why a record left the test it was made in, when a variable of an enclosing scope holds it (for the report). */
export function heldOutsideOf(record: LeakRecord): HeldOutside | undefined {
  return heldOutside.get(record)
}

/**
 * Resources still open at a test's check that a library made on a later tick, out of the user's stack, where no
 * call of the user's code into the library is known (see moveToCallingScope): postgres.js opens its pool's
 * connection, and sets its lifetime timer, from a microtask of the query's `then`, and `postgres()` itself makes
 * nothing the probes see. Whose they are shows in who holds the library's object: when a variable of a scope that
 * encloses the test's function (a describe body, the module) reaches the resource through the library's objects and
 * closures, the pool outlives the test, and so does what it opened: the records move to the test's enclosing scope
 * (suite or file) and are judged when it ends. Else they stay the test's (a pool made in the test and left open).
 * Looked for with the inspector (see node/closures.ts), only for such records: returns those that stay.
 */
export function moveToHoldingScope(records: LeakRecord[], ledger: Ledger, scope: Scope): LeakRecord[] {
  const parent = scope.parent
  if (scope.kind !== 'test' || !parent || !scope.code) return records
  const byLibrary = new Map<string, LeakRecord[]>()
  for (const record of records) {
    const library = laterTickLibrary(record)
    if (!library) continue
    let list = byLibrary.get(library)
    if (!list) byLibrary.set(library, (list = []))
    list.push(record)
  }
  if (byLibrary.size === 0) return records
  const code = scope.code()
  const held = new Map<LeakRecord, string>()
  for (const [library, candidates] of byLibrary) {
    const found = findHeldBy(
      [code],
      candidates.map((record) => record.resource),
      library,
    )
    for (const record of candidates) {
      const variable = found.get(record.resource)
      if (variable !== undefined) held.set(record, variable)
    }
  }
  // one resource seen through several objects (an interceptor's connection behind the test's client socket) moves
  // only as a whole: a part the test's own request holds keeps it the test's
  const identityOf = (record: LeakRecord) => record.probe.sameAs?.(record.resource)?.identity
  const staying = new Set(records.filter((record) => !held.has(record)).map(identityOf))
  for (const record of held.keys()) if (staying.has(identityOf(record)) && identityOf(record) !== undefined) held.delete(record)
  if (held.size === 0) return records
  for (const [record, variable] of held) {
    heldOutside.set(record, { variable, library: libraryOf(record.sites)!, test: scope.name })
    ledger.reown(record, parent, parent.phase)
    // its callbacks (a timer's) run for the scope that now owns it
    if (record.probe.runsCallbacks) ledger.callbackOwners.set(record.resource, parent)
  }
  return records.filter((record) => !held.has(record))
}

/**
 * The library that made a connection or timer with no frame of the user's code in its stack, when that is all that
 * says whose it is (no request put it to use, no call of the test's into the library is known): such a resource may be
 * of a pool made outside the test.
 */
function laterTickLibrary(record: LeakRecord): string | undefined {
  // what a pool opens for its users: its connections and their timers (a worker pool's workers, a library's process
  // listeners have rules of their own)
  if ((record.probe.kind !== 'sockets' && record.probe.kind !== 'timers') || record.resource === undefined) return undefined
  const sites = record.sites
  if (!sites || hasUserFrame(sites) || record.probe.lastUse?.(record.resource)) return undefined
  const library = libraryOf(sites)
  // the test's own code constructed one of the library's objects: what the library made later is the test's, even
  // when the test then kept that object in a variable of the module (a list of what to close at the end)
  if (!library || lastCallInto(library, record.owner)?.scope === record.owner) return undefined
  return library
}
