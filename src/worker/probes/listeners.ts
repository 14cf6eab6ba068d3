import { EventEmitter, getEventListeners } from 'node:events'
import { captureCallSites, isOwn, isUserSite, isVitestFile, libraryOf, type CallSites, type LazyCallSites } from '../stacks/stack.js'
import { followNewEmitters } from './emitter-follow.js'
import { wrapOnce } from './follow.js'
import { pgListenerParkedIn } from './holders.js'
import type { Description, JudgeContext, Ledger, Probe, ResourceState, Scope } from '../ledger/ledger.js'

/** One listener added during a scope to an emitter or event target that was created before that scope began. */
interface Listener {
  target: EventEmitter | EventTarget
  type: string | symbol
  /** Exactly what was passed to `on`/`addEventListener` (for `once`, Node's wrapper, whose `.listener` is the user's). */
  listener: unknown
  /** The additions of its scope to the same emitter and event: their budget of stacks, and samples of them. */
  event: EventAdditions
  /** Added with `once` (EventEmitter) or `{ once: true }` (EventTarget). */
  once: boolean
  /** Where it was added; missing past the event's budget (see EventAdditions). */
  stack: LazyCallSites | undefined
}

/**
 * What one scope added to one event of one emitter. Only the first STACKS_PER_EVENT additions keep a stack: a test
 * that adds and removes a listener a thousand times on a long-lived bus pays for two stacks, not a thousand (a stack
 * costs several microseconds, the addition a tenth of one). Past them, a function unlike every sample's (another
 * name or arity: other code is adding) gets a stack too; one like a sample's is only counted: nothing of it is kept,
 * and the check finds those still attached among the event's listeners (see collect). A leftover borrows the
 * stack of the sample with the same function or source text (the same code added it again).
 */
interface EventAdditions {
  target: EventEmitter | EventTarget
  type: string | symbol
  noted: number
  /**
   * What is kept of the first additions (and of later ones unlike them): no listener, which the test may have removed
   * and let go, only its function's name, arity and source text, and the stack.
   */
  samples: Sample[]
  /** The listeners noted one by one (with a stack): not counted again at the check. */
  notedListeners: WeakSet<object> | undefined
  /** Additions past the budget, only counted. */
  counted: number
  /** The event's listeners when the first was counted, the counted one left out: not this scope's. */
  before: unknown[] | undefined
}

interface Sample {
  name: string
  length: number
  text: string
  once: boolean
  stack: LazyCallSites | undefined
}

const STACKS_PER_EVENT = 2
/** Past the first two, only a function unlike the samples' gets a stack, up to this many. */
const SAMPLES_PER_EVENT = 16
const PATCHED = Symbol.for('vitest-leaks.listeners.original')

/**
 * Listeners left on long-lived emitters: `process` (signals, 'exit', 'unhandledRejection'...), module-level
 * EventEmitters, long-lived AbortSignals and other EventTargets. The listener itself is passed through untouched —
 * never wrapped — so `listeners()`, `rawListeners()`, `off(fn)`, `once` wrappers and `removeAllListeners` keep
 * working; only the add methods are patched, to note who added what where. A listener that Node itself or Vitest
 * adds is not the test's; nor is one on an emitter that has finished (it can never run), nor a process-wide hook a
 * library installs once (see `judgeLibrary`).
 */
export const listenersProbe: Probe<Listener> = {
  kind: 'listeners',
  // each entry is the probe's own (the emitter holds the listener, not the entry)
  describes: true,
  // enough to reach the test's line through a library's call (the cause of a leftover, see causeOf)
  stackFrames: 16,
  fresh: true,

  // Node's own bookkeeping (agents re-using pooled sockets, stream internals) is not the user's, and neither is
  // Vitest's. Decided from the caller when the listener is added (and again at a check, from the full stack). One
  // without a stack is judged by `state`, from the sample it borrows.
  foreign(sites) {
    return sites !== undefined && isForeign(callerOf(sites))
  },

  install(ledger: Ledger) {
    const undo: Array<() => void> = []
    const patch = <T extends object>(owner: T, name: keyof T & string, make: (original: Function) => Function) =>
      wrapOnce(undo, owner, name, make, PATCHED)

    const note = (target: object, type: string | symbol, listener: unknown, skip: Function, once: boolean) => {
      try {
        noteListener(target, type, listener, skip, once)
      } catch (error) {
        // never into the user's on() or addEventListener()
        ledger.onInternalError(error)
      }
    }
    /**
     * Each scope's additions, by emitter and event: dropped with the scope (weak keys: the scope, then the emitter,
     * which a suite's additions must not keep alive). The last scope's map is at hand.
     */
    const additionsByScope = new WeakMap<Scope, WeakMap<object, Map<string | symbol, EventAdditions>>>()
    let lastScope: Scope | undefined
    let lastAdditions: WeakMap<object, Map<string | symbol, EventAdditions>> | undefined
    const noteListener = (target: object, type: string | symbol, listener: unknown, skip: Function, once: boolean) => {
      const current = ledger.current
      const origin = ledger.bornIn.get(target)
      // created in this very scope (or for it: a test's own signal): its listeners go away with it
      if (origin === current || target === current.signal) return
      // never constructed as an emitter (express mixes EventEmitter into its app function): first use is creation,
      // except for `process`, which is older than everything. A signal without a scope in a test is the signal of a
      // controller the test made (see stampAbortSignals): the test's, with nothing to keep.
      if (origin === undefined && target !== process) {
        if (current.kind !== 'test' || !controllersFollowed || !isAbortSignal(target)) ledger.bornIn.setAside(target, current)
        return
      }
      const fn = typeof listener === 'function' ? ((listener as { listener?: Function }).listener ?? listener) : undefined
      if (fn && nodeListeners.has(fn)) return
      if (lastScope !== current || !lastAdditions) {
        lastScope = current
        lastAdditions = additionsByScope.get(current)
        if (!lastAdditions) additionsByScope.set(current, (lastAdditions = new WeakMap()))
      }
      let byType = lastAdditions.get(target)
      if (!byType) lastAdditions.set(target, (byType = new Map()))
      let event = byType.get(type)
      if (!event)
        byType.set(
          type,
          (event = {
            target: target as Listener['target'],
            type,
            noted: 0,
            samples: [],
            notedListeners: undefined,
            counted: 0,
            before: undefined,
          }),
        )
      if (event.noted >= STACKS_PER_EVENT && ledger.stacksPerTest !== Infinity) {
        // past the budget: the same code again is only counted (the check finds what is left of it, and a leftover
        // borrows a sample's stack, see sitesOf): no entry, no stack, no lookup, nothing kept alive; other code gets
        // a stack, up to SAMPLES_PER_EVENT
        if (event.samples.length >= SAMPLES_PER_EVENT || isLikeASample(event, fn)) {
          if (event.counted++ === 0) startCounting(event, listener, current)
          return
        }
      }
      // Node adds and removes listeners on pooled sockets and streams a dozen times per request: who added this one
      // is read now from three frames, so Node's and Vitest's leave no record to keep and judge, and do not use up
      // the budget. Most of Node's are module-level functions (socketOnData, socketErrorListener), also inside the
      // wrapper of a `once` (its `.listener`): each is read once (not a library's: it may be a callback the test
      // passed to it).
      const source = fn && nodeSources.size > 0 ? sourceKey(target, type, fn) : undefined
      if (source && nodeSources.has(source)) return
      const caller = callerOf(captureCallSites(skip, 3))
      if (isForeign(caller)) {
        if (fn && caller.file.startsWith('node:')) {
          nodeListeners.add(fn)
          const key = source ?? sourceKey(target, type, fn)
          if (key) nodeSources.add(key)
        }
        return
      }
      event.noted++
      const isOnce = once || fn !== listener
      const entry: Listener = { target: target as Listener['target'], type, listener, event, once: isOnce, stack: undefined }
      entry.stack = ledger.note(entry, listenersProbe, skip)
      if (typeof listener === 'object' || typeof listener === 'function') (event.notedListeners ??= new WeakSet()).add(listener as object)
      event.samples.push({
        name: fn?.name ?? '',
        length: fn?.length ?? -1,
        text: fn ? Function.prototype.toString.call(fn) : '',
        once: isOnce,
        stack: entry.stack,
      })
    }

    undo.push(followNewEmitters((emitter) => ledger.bornIn.setOnNew(emitter, ledger.current)))
    // on and addListener are the same function in Node; once/prependOnceListener go through on/prependListener
    for (const name of ['on', 'addListener', 'prependListener'] as const) {
      patch(EventEmitter.prototype, name, (original) => {
        const added = {
          [name](this: EventEmitter, type: string | symbol, listener: unknown) {
            const result = original.call(this, type, listener)
            note(this, type, listener, added, false)
            return result
          },
        }[name]!
        return added
      })
    }
    patch(
      EventTarget.prototype,
      'addEventListener',
      (original) =>
        function addEventListener(this: EventTarget, type: string, listener: unknown, options?: unknown) {
          // eslint-disable-next-line prefer-rest-params -- the options argument may be absent, and stays so
          const result = original.apply(this, arguments)
          if (listener != null) note(this, type, listener, addEventListener, (options as { once?: unknown } | undefined)?.once === true)
          return result
        },
    )
    undo.push(stampAbortSignals(ledger, patch))
    ledger.collectors.add(listenersProbe)
    undo.push(() => void ledger.collectors.delete(listenersProbe))
    return () => {
      for (const fn of undo.reverse()) fn()
    }
  },

  // the additions that were only counted: those still attached, the newest first, as many as were counted
  collect(scope, ledger) {
    const pending = countedIn.get(scope)
    if (!pending) return
    countedIn.delete(scope)
    for (const event of pending) {
      let left = event.counted
      const earlier = new Map<unknown, number>()
      for (const listener of event.before ?? []) earlier.set(listener, (earlier.get(listener) ?? 0) + 1)
      event.counted = 0
      event.before = undefined
      const now = attachedListeners(event.target, event.type)
      for (let i = now.length - 1; i >= 0 && left > 0; i--) {
        const listener = now[i]
        const before = earlier.get(listener)
        if (before) {
          earlier.set(listener, before - 1)
          continue
        }
        if (event.notedListeners?.has(listener as object)) continue
        left--
        const fn = functionOf(listener)
        // an emitter's `once` shows as Node's wrapper; an event target's does not: the sample's addition says
        const once =
          fn !== listener ||
          (!isEventEmitter(event.target) && fn !== undefined && event.samples.some((s) => s.once && isSampleOf(s, fn.name, fn.length)))
        ledger.noteOverBudget({ target: event.target, type: event.type, listener, event, once, stack: undefined }, listenersProbe, scope)
      }
    }
  },

  state(entry, ctx) {
    if (!isAttached(entry)) return CLOSED
    // it can never run: its emitter is closed, destroyed, exited or aborted
    if (hasFinished(entry.target)) return CLOSED
    // pg-pool's 'error' listener on each idle client is the pool's, like the idle connection itself
    const pool = ctx && pgListenerParkedIn(entry.target, entry.listener)
    if (pool === 'ended') return CLOSED
    if (pool) return { status: pool.owner === ctx.scope ? 'open' : 'pooled' }
    if (!ctx) return OPEN
    const sites = sitesOf(entry)
    if (entry.stack === undefined && (isNodeListener(entry) || (sites && isForeign(callerOf(sites))))) return CLOSED
    if (sites && judgeLibrary(entry, sites) === 'singleton') return EXCUSED
    openIn(ctx).add(entry)
    return OPEN
  },

  // One error per cause: the listeners one call left (listhen's `listen()` adds four to `process`, signal-exit
  // seventeen) are reported in the error of the first of them.
  partOf(entry, ctx) {
    const first = causeMembers(entry, ctx)[0]
    return first && first !== entry ? [first] : []
  },

  describe(entry, ctx) {
    const members = causeMembers(entry, ctx)
    const all = members.includes(entry) ? members : [entry, ...members]
    return describeCause(entry, all)
  },

  // past the budget of stacks: the stack of a sample of the same code
  origin(entry) {
    return entry.stack ? undefined : sitesOf(entry)
  },

  close({ target, type, listener }) {
    try {
      if (isEventEmitter(target)) target.removeListener(type, listener as (...args: unknown[]) => void)
      else target.removeEventListener(type as string, listener as EventListener)
    } catch {
      // a target that refuses: nothing more to do
    }
  },
}

const CLOSED: ResourceState = { status: 'closed' }
const OPEN: ResourceState = { status: 'open' }
const EXCUSED: ResourceState = { status: 'excused' }

/** Listener functions that Node itself added: the same function added again is Node's again. */
const nodeListeners = new WeakSet<Function>()
/**
 * The source text of closures Node itself added: undici adds a new `onDrain` closure to a pooled socket for every
 * request body it writes. The text of a closure is a slice of its script's source (no copy); a function of the
 * test's own with the very same text, of some length, on the same event of the same class, is not to be feared.
 */
const nodeSources = new Set<string>()

function isNodeListener({ target, type, listener }: Listener): boolean {
  const fn = functionOf(listener)
  if (!fn) return false
  if (nodeListeners.has(fn)) return true
  const source = sourceKey(target, type, fn)
  return source !== undefined && nodeSources.has(source)
}

/**
 * Whether a function looks like one of the event's samples: the same one, or the same name and arity (a closure made
 * again by the same code). Read without `toString`, which costs as much as the addition; the check compares texts.
 */
function isLikeASample(event: EventAdditions, fn: Function | undefined): boolean {
  if (fn === undefined) return false
  const samples = event.samples
  const name = fn.name
  const length = fn.length
  for (let i = 0; i < samples.length; i++) if (isSampleOf(samples[i]!, name, length)) return true
  return false
}

function isSampleOf(sample: Sample, name: string, length: number): boolean {
  return sample.length === length && sample.name === name
}

/** The events with counted additions, by scope: collected (and dropped) at the scope's check. */
const countedIn = new WeakMap<Scope, EventAdditions[]>()

/**
 * The first addition past the budget: what is attached now, but for this one, was there before, and is not the
 * scope's to leave (see collect).
 */
function startCounting(event: EventAdditions, listener: unknown, scope: Scope): void {
  const before = [...attachedListeners(event.target, event.type)]
  const at = before.lastIndexOf(listener)
  if (at >= 0) before.splice(at, 1)
  event.before = before
  let pending = countedIn.get(scope)
  if (!pending) countedIn.set(scope, (pending = []))
  pending.push(event)
}

/**
 * The listeners attached to one event, in order (for an emitter, as `rawListeners` gives them: `once` wrappers); not
 * to be changed. Read from the emitter's own table when it has Node's (`_events`), without a copy: `rawListeners`
 * copies the array, and a test that adds a thousand listeners before removing them has each of them looked for at
 * every prune.
 */
function attachedListeners(target: Listener['target'], type: string | symbol): readonly unknown[] {
  if (isEventEmitter(target)) {
    const events = (target as unknown as { _events?: Record<string | symbol, unknown> })._events
    if (events && typeof events === 'object') {
      const attached = events[type]
      return attached === undefined ? [] : Array.isArray(attached) ? attached : [attached]
    }
    return target.rawListeners(type)
  }
  return getEventListeners(target, type as string)
}

function functionOf(listener: unknown): Function | undefined {
  return typeof listener === 'function' ? ((listener as { listener?: Function }).listener ?? listener) : undefined
}

// ---------------------------------------------------------------------------------------------------------------
// AbortSignals

type Patch = <T extends object>(owner: T, name: keyof T & string, replacement: (original: Function) => Function) => void

/**
 * A signal belongs to the scope its controller was created in. Node makes a controller's signal lazily, at the first
 * read of `.signal`, so a controller made at module scope whose signal is first read in a test has a long-lived
 * signal all the same: the global `AbortController` becomes a subclass of itself that only keeps, in a private field
 * of its own, the scope each controller was made in, and a signal handed out in another scope than its controller's
 * (or by a controller made outside any test) takes the controller's scope. The signal of a controller made in the
 * running test (fetch makes one per request, a test one per operation) is handed out as it is: a signal without a
 * scope is the running test's (see noteListener), and nothing is kept for it. So is one that `AbortSignal.timeout`,
 * `any` or `abort` makes in the running test (`fetch(url, { signal: AbortSignal.timeout(5000) })`); made elsewhere,
 * it keeps its scope.
 */
function stampAbortSignals(ledger: Ledger, patch: Patch): () => void {
  const undo: Array<() => void> = []
  let bornOf = (_controller: object): Scope | undefined => undefined
  const Original = globalThis.AbortController
  const slot = Object.getOwnPropertyDescriptor(globalThis, 'AbortController')
  // a vm pool's context may hold it read-only: there the signal takes the scope of its first read, as before
  if (
    typeof Original === 'function' &&
    !(Original as unknown as Record<symbol, unknown>)[PATCHED] &&
    slot &&
    (slot.writable || slot.configurable)
  ) {
    // a subclass that only stamps the new controller: a Proxy's construct trap would cost a microsecond more per
    // controller (fetch makes one per request)
    const Stamped = {
      AbortController: class extends Original {
        readonly #born: Scope | undefined = scopeNow(ledger)

        static bornOf(controller: object): Scope | undefined {
          return #born in controller ? (controller as Stamped).#born : undefined
        }
      },
    }.AbortController
    type Stamped = InstanceType<typeof Stamped>
    bornOf = Stamped.bornOf
    controllersFollowed = true
    undo.push(() => {
      controllersFollowed = false
    })
    Object.defineProperty(Stamped, PATCHED, { value: Original })
    // a data property, whatever the slot was: a jsdom or happy-dom test file's globals are accessors (undone below)
    Object.defineProperty(globalThis, 'AbortController', {
      configurable: slot.configurable,
      enumerable: slot.enumerable,
      writable: true,
      value: Stamped,
    })
    undo.push(() => {
      if (globalThis.AbortController === Stamped) Object.defineProperty(globalThis, 'AbortController', slot)
    })
  }
  // Node's class, under the subclass
  const prototype = (unwrappedController(globalThis.AbortController) as typeof AbortController | undefined)?.prototype
  const signalGetter = prototype && Object.getOwnPropertyDescriptor(prototype, 'signal')?.get
  if (prototype && signalGetter) {
    const signal = function signal(this: AbortController) {
      const value = signalGetter.call(this) as AbortSignal
      const born = bornOf(this)
      if (born !== undefined && (born.kind !== 'test' || born !== ledger.current) && !ledger.bornIn.has(value)) {
        ledger.bornIn.setAside(value, born)
      }
      return value
    }
    Object.defineProperty(prototype, 'signal', { get: signal, configurable: true, enumerable: true })
    undo.push(() => Object.defineProperty(prototype, 'signal', { get: signalGetter, configurable: true, enumerable: true }))
  }
  for (const name of ['timeout', 'any', 'abort'] as const) {
    if (typeof AbortSignal[name] !== 'function') continue
    patch(
      AbortSignal as unknown as Record<string, Function>,
      name,
      (original) =>
        function make(this: unknown, ...args: unknown[]) {
          const value = Reflect.apply(original, this, args) as object
          const scope = scopeNow(ledger)
          // one made in the running test is the test's, with nothing kept, like a signal of its controllers
          if (scope !== undefined && (scope.kind !== 'test' || !controllersFollowed)) ledger.bornIn.setAside(value, scope)
          return value
        },
    )
  }
  return () => {
    for (const fn of undo.reverse()) fn()
  }
}

/**
 * Whether every controller made from now on keeps its scope (the global `AbortController` is the subclass): only
 * then is a signal without a scope known to be one of a controller the running test made. Where the global cannot be
 * replaced (a vm pool's context), such a signal takes the scope of its first listener, as any other target.
 */
let controllersFollowed = false

const abortSignalPrototype = typeof AbortSignal === 'function' ? AbortSignal.prototype : undefined

function isAbortSignal(target: object): boolean {
  return abortSignalPrototype !== undefined && Object.getPrototypeOf(target) === abortSignalPrototype
}

/** The running scope, for a constructor of the program's: an internal error is reported, never thrown into it. */
function scopeNow(ledger: Ledger): Scope | undefined {
  try {
    return ledger.current
  } catch (error) {
    ledger.onInternalError(error)
    return undefined
  }
}

function unwrappedController(controller: unknown): unknown {
  return (controller as Record<symbol, unknown> | undefined)?.[PATCHED] ?? controller
}

// ---------------------------------------------------------------------------------------------------------------
// Finished emitters

/**
 * An emitter that will emit nothing more: a closed server (it listened, and no longer does), a destroyed stream,
 * socket or HTTP/2 session, a closed WebSocket, an exited child process, an aborted signal. A listener left on it
 * can never run.
 */
function hasFinished(target: object): boolean {
  if (target === process) return false
  try {
    const t = target as Record<string, unknown>
    if (t.destroyed === true) return true
    if (typeof t.readyState === 'number' && t.CLOSED === 3) return t.readyState === 3
    if (typeof t.kill === 'function' && 'exitCode' in t && 'signalCode' in t) return t.exitCode !== null || t.signalCode !== null
    if (typeof t.listen === 'function' && typeof t.close === 'function' && t.listening === false) return t._connectionKey !== undefined
    if (typeof AbortSignal !== 'undefined' && target instanceof AbortSignal) return target.aborted
  } catch {
    // a Proxy that throws for keys it does not know
  }
  return false
}

// ---------------------------------------------------------------------------------------------------------------
// Singletons and accumulation

/**
 * Listeners that a library added once and was excused for, by emitter, event and the library's line that added them.
 * A process-wide hook that a library installs once (signal-exit's signal and 'exit' handlers, a temp-file module's
 * 'exit' handler) is nobody's leak; the same line adding another while the first is still attached is.
 */
const singletons = new WeakMap<object, Map<string | symbol, Array<{ site: string; listener: unknown }>>>()

/**
 * A listener that a library's own code added (its caller is in node_modules) is excused the first time: a library
 * may install a hook once per process. It fails when the same line of the library adds another to the same event of
 * the same emitter while the first is still attached: that is accumulation, one more per call.
 */
function judgeLibrary(entry: Listener, sites: CallSites): 'singleton' | 'accumulated' | 'user' {
  const caller = callerSite(sites)
  if (!caller || !/[\\/]node_modules[\\/]/.test(caller.getFileName() ?? '')) return 'user'
  const site = `${caller.getFileName()}:${caller.getLineNumber()}:${caller.getColumnNumber()}`
  let byType = singletons.get(entry.target)
  if (!byType) singletons.set(entry.target, (byType = new Map()))
  const installed = (byType.get(entry.type) ?? []).filter((one) => isAttached({ ...entry, listener: one.listener }))
  byType.set(entry.type, installed)
  const mine = installed.find((one) => one.listener === entry.listener)
  if (mine) return 'singleton'
  if (installed.some((one) => one.site === site)) return 'accumulated'
  installed.push({ site, listener: entry.listener })
  return 'singleton'
}

// ---------------------------------------------------------------------------------------------------------------
// Causes: one error per call that left listeners

/**
 * The listeners judged open by the last check of each scope (the check judges, folds and describes with contexts of
 * its own, for the same scope).
 */
const openByScope = new WeakMap<Scope, Set<Listener>>()

function openIn(ctx: JudgeContext): Set<Listener> {
  let open = openByScope.get(ctx.scope)
  if (!open) openByScope.set(ctx.scope, (open = new Set()))
  return open
}

/**
 * The leftovers of this check with the same cause as `entry`, first the one whose error reports them all: those
 * added by the same line of the test's code, directly or through a library (the outermost frame of the user's own
 * code in their stacks), on any emitter. One without a stack of its own or borrowed goes with those of its event.
 */
function causeMembers(entry: Listener, ctx: JudgeContext): Listener[] {
  const key = causeOf(entry)
  const members: Listener[] = []
  for (const other of openByScope.get(ctx.scope) ?? []) {
    if (causeOf(other) !== key || !isAttached(other)) continue
    // Vitest's or Node's, told from the whole stack at the check (see `foreign`): never reported
    if (other.stack && listenersProbe.foreign!(other.stack.sites)) continue
    members.push(other)
  }
  return members
}

const causes = new WeakMap<Listener, string>()

function causeOf(entry: Listener): string {
  let cause = causes.get(entry)
  if (cause === undefined) {
    const sites = sitesOf(entry)
    const user = sites && outermostUserSite(sites)
    const site = user ?? (sites && callerSite(sites))
    cause = site ? `${site.getFileName()}:${site.getLineNumber()}:${site.getColumnNumber()}` : `no stack:${String(entry.type)}`
    causes.set(entry, cause)
  }
  return cause
}

function describeCause(entry: Listener, members: Listener[]): Description {
  const sites = sitesOf(entry)
  const library = sites && isLibrarySite(callerSite(sites)) ? libraryOf(sites) : undefined
  const targets = [...new Set(members.map((m) => m.target))]
  const types = [...new Set(members.map((m) => m.type))]
  const on = targets.length === 1 ? targetName(targets[0]!) : `${targets.length} long-lived emitters`
  const what =
    members.length === 1
      ? `${eventName(entry.type)} listener on ${on}`
      : types.length === 1
        ? `${members.length} ${eventName(entry.type)} listeners on ${on}`
        : `${members.length} listeners on ${on} (${types.map(eventName).join(', ')})`
  const by =
    members.length > 1 && sites
      ? isSameFrame(outermostUserSite(sites), callerSite(sites))
        ? ', added by one line'
        : ', added by one call'
      : ''
  const counts =
    targets.length === 1 ? types.map((type) => `${countListeners(targets[0]!, type)} ${eventName(type)}`).join(', ') : undefined
  const state = `still attached${counts ? ` (${counts} on it now)` : ''}; ${members.length === 1 ? 'it outlives' : 'they outlive'} the test and run${members.length === 1 ? 's' : ''} on later events`
  const noStack =
    entry.stack === undefined && sites === undefined
      ? `only the first ${STACKS_PER_EVENT} listeners a test adds to an event of an emitter keep their stack, and this was added after them; run with VITEST_LEAKS_STACKS=all to see where`
      : undefined
  if (library) {
    const them = members.length === 1 ? 'it' : 'them'
    return {
      what: `${what}${by}`,
      state,
      fix: `${library} adds ${members.length === 1 ? 'this listener' : 'these listeners'} on each such call and does not remove ${them} (the same line of ${library} added more while the first were still attached), so your code has nothing to remove: close what the call opened if ${library} removes ${them} then, or accept ${them} with an ignore rule and a reason: \`ignoreLeaks({ kind: 'listeners', stack: /node_modules\\/${escapeRegExp(library)}\\//, reason: '…' })\` in the test, or the same rule in the \`ignore\` option of leaks()`,
      fixWhere: false,
      includesParts: true,
      ...(noStack ? { noStack } : {}),
    }
  }
  const isEmitter = isEventEmitter(entry.target)
  const event = eventName(entry.type)
  const remove = isEmitter
    ? `${entry.target === process ? 'process' : 'emitter'}.off(${event}, listener)`
    : `target.removeEventListener(${event}, listener)`
  const once = members.every((m) => m.once)
  return {
    what: `${what}${by}`,
    state,
    fix: `remove ${members.length === 1 ? 'it' : 'them'} with \`${remove}\``,
    ...(once
      ? {
          alternative: `(${members.length === 1 ? 'it was' : 'they were'} added with ${isEmitter ? '`once`' : '`{ once: true }`'} and the event never came: remove ${members.length === 1 ? 'it' : 'them'} where the event may not come${isEmitter ? '' : ', or pass `{ signal }` when adding and abort that signal'})`,
        }
      : {
          alternative: isEmitter
            ? 'or add it with `once` if it is meant to run a single time'
            : 'or pass `{ once: true }` or `{ signal }` when adding it',
        }),
    includesParts: true,
    ...(noStack ? { noStack } : {}),
  }
}

function isSameFrame(a: NodeJS.CallSite | undefined, b: NodeJS.CallSite | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.getFileName() === b.getFileName() &&
    a.getLineNumber() === b.getLineNumber() &&
    a.getColumnNumber() === b.getColumnNumber()
  )
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

function eventName(type: string | symbol): string {
  return typeof type === 'symbol' ? type.toString() : `'${type}'`
}

// ---------------------------------------------------------------------------------------------------------------
// Stacks

/** The listener's own stack, or that of a sample of its event added by the same function or the same source text. */
function sitesOf(entry: Listener): CallSites | undefined {
  if (entry.stack) return entry.stack.sites
  const fn = functionOf(entry.listener)
  if (!fn) return undefined
  const text = Function.prototype.toString.call(fn)
  return entry.event.samples.find((sample) => sample.text === text)?.stack?.sites
}

// Functions shorter than SOURCE_MIN (`() => {}`) are too alike to be told apart by their text, and so are bound and
// built-in ones (`function () { [native code] }`); those longer than SOURCE_MAX are not worth comparing.
const SOURCE_MIN = 40
const SOURCE_MAX = 4000

/** A closure's identity across its instances: its class and event, and its source text (see `nodeSources`). */
function sourceKey(target: object, type: string | symbol, fn: Function): string | undefined {
  const text = Function.prototype.toString.call(fn)
  if (text.length < SOURCE_MIN || text.length > SOURCE_MAX || text.endsWith('[native code] }')) return undefined
  return `${target.constructor?.name}\0${String(type)}\0${text}`
}

/**
 * Who added a listener: the first frame that does not only pass it on (EventEmitter's own helpers, `once` and
 * `prependOnceListener`, and a stream's own `on`), and whether it went through a stream's `on`.
 */
interface Caller {
  file: string
  throughStream: boolean
}

function callerOf(sites: CallSites | undefined): Caller {
  const index = sites?.findIndex((site) => !passesThrough(site)) ?? -1
  if (!sites || index < 0) return { file: '', throughStream: false }
  return { file: sites[index]!.getFileName() ?? '', throughStream: sites.slice(0, index).some(isStreamOn) }
}

function callerSite(sites: CallSites): NodeJS.CallSite | undefined {
  return sites.find((site) => !passesThrough(site))
}

function isLibrarySite(site: NodeJS.CallSite | undefined): boolean {
  return site !== undefined && /[\\/]node_modules[\\/]/.test(site.getFileName() ?? '')
}

/** The outermost frame of the user's own code (not node, not a package, not Vitest, not the plugin): the test's line. */
function outermostUserSite(sites: CallSites): NodeJS.CallSite | undefined {
  let found: NodeJS.CallSite | undefined
  for (const site of sites) if (isUserSite(site)) found = site
  return found
}

function isForeign({ file, throughStream }: Caller): boolean {
  if (file === '' || file.startsWith('node:') || isVitestFile(file) || isOwn(file)) return true
  // streams: only the test's own code counts, not a library's (undici keeps an 'error' listener on a body it read)
  return throughStream && /[\\/]node_modules[\\/]/.test(file)
}

/** A stream's `on`/`addListener` (Readable's, which every socket, HTTP message and stream uses). */
function isStreamOn(site: NodeJS.CallSite): boolean {
  return site.getFileName() === 'node:internal/streams/readable' && /(?:^|\.)(?:on|addListener)$/.test(site.getFunctionName() ?? '')
}

/**
 * Frames that only pass a listener on, looked through to their caller: EventEmitter's own helpers and a stream's
 * `on`, so `stream.on('data', fn)` in a test is the test's, and `socket.on(...)` in Node's http client is Node's.
 */
function passesThrough(site: NodeJS.CallSite): boolean {
  return site.getFileName() === 'node:events' || isStreamOn(site)
}

// ---------------------------------------------------------------------------------------------------------------
// Emitters

/** EventEmitter instances and objects with its methods mixed in (an express app). */
function isEventEmitter(target: Listener['target']): target is EventEmitter {
  return typeof (target as Partial<EventEmitter>).rawListeners === 'function'
}

function isAttached({ target, type, listener }: Pick<Listener, 'target' | 'type' | 'listener'>): boolean {
  return attachedListeners(target, type).includes(listener)
}

function countListeners(target: Listener['target'], type: string | symbol): number {
  return isEventEmitter(target) ? target.listenerCount(type) : getEventListeners(target, type as string).length
}

function targetName(target: Listener['target']): string {
  if (target === process) return 'process'
  if (typeof AbortSignal !== 'undefined' && target instanceof AbortSignal) return 'a long-lived AbortSignal'
  const name = target.constructor?.name
  if (isEventEmitter(target))
    return name && name !== 'EventEmitter' && name !== 'Function' ? `a long-lived ${name} (EventEmitter)` : 'a long-lived EventEmitter'
  return name ? `a long-lived ${name} (EventTarget)` : 'a long-lived EventTarget'
}
