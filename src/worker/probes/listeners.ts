import { EventEmitter, getEventListeners } from 'node:events'
import type { Ledger, Probe } from '../ledger/ledger.js'
import { captureCallSites, FREQUENT_LIMIT, isOwn, isVitestFile, type CallSites } from '../stacks/stack.js'
import { followNewEmitters } from './emitter-follow.js'
import { pgListenerParkedIn } from './holders.js'

/** One listener added during a scope to an emitter or event target that was created before that scope began. */
interface Listener {
  target: EventEmitter | EventTarget
  type: string | symbol
  /** Exactly what was passed to `on`/`addEventListener` (for `once`, Node's wrapper, whose `.listener` is the user's). */
  listener: unknown
}

const PATCHED = Symbol.for('vitest-leaks.listeners.original')


/**
 * Listeners left on long-lived emitters: `process` (signals, 'exit', 'unhandledRejection'...), module-level
 * EventEmitters, long-lived AbortSignals and other EventTargets. The listener itself is passed through untouched —
 * never wrapped — so `listeners()`, `rawListeners()`, `off(fn)`, `once` wrappers and `removeAllListeners` keep
 * working; only the add methods are patched, to note who added what where. A listener that Node itself or Vitest
 * adds is not the test's.
 */
export const listenersProbe: Probe<Listener> = {
  kind: 'listeners',
  stackFrames: FREQUENT_LIMIT,
  fresh: true,

  // Node's own bookkeeping (agents re-using pooled sockets, stream internals) is not the user's, and neither is
  // Vitest's. Decided from the caller when the listener is added (and again at a check, from the full stack).
  foreign(sites) {
    return isForeign(callerOf(sites))
  },

  install(ledger: Ledger) {
    const undo: Array<() => void> = []
    const patch = <T extends object>(owner: T, name: keyof T & string, replacement: (original: Function) => Function) => {
      const original = owner[name] as unknown as Function
      if ((original as any)?.[PATCHED]) return
      const patched = replacement(original)
      Object.defineProperty(patched, PATCHED, { value: original })
      ;(owner as Record<string, unknown>)[name] = patched
      undo.push(() => {
        if ((owner as Record<string, unknown>)[name] === patched) (owner as Record<string, unknown>)[name] = original
      })
    }

    const note = (target: object, type: string | symbol, listener: unknown, skip: Function, eventTarget: boolean) => {
      try {
        noteListener(target, type, listener, skip, eventTarget)
      } catch (error) {
        // never into the user's on() or addEventListener()
        ledger.onInternalError(error)
      }
    }
    /** Listener functions that Node itself added: the same function added again is Node's again. */
    const nodeListeners = new WeakSet<Function>()
    /**
     * The source text of closures Node itself added: undici adds a new `onDrain` closure to a pooled socket for every
     * request body it writes. The text of a closure is a slice of its script's source (no copy); a function of the
     * test's own with the very same text, of some length, on the same event of the same class, is not to be feared.
     */
    const nodeSources = new Set<string>()
    const noteListener = (target: object, type: string | symbol, listener: unknown, skip: Function, eventTarget: boolean) => {
      const current = ledger.current
      // an event target (an AbortSignal) is stamped in the WeakMap, an emitter with a property (see Tag)
      const origin = eventTarget ? ledger.bornIn.getAsideFirst(target) : ledger.bornIn.get(target)
      // created in this very scope: its listeners go away with it
      if (origin === current) return
      // never constructed as an emitter (express mixes EventEmitter into its app function): first use is creation,
      // except for `process`, which is older than everything
      if (origin === undefined && target !== process) {
        ledger.bornIn.setAside(target, current)
        return
      }
      // Node adds and removes listeners on pooled sockets and streams a dozen times per request: who added this one
      // is read now from three frames (~2 µs, garbage at once), so Node's and Vitest's leave no record to keep and judge.
      // Most of Node's are module-level functions (socketOnData, socketErrorListener), also inside the wrapper of a
      // `once` (its `.listener`): each is read once (not a library's: it may be a callback the test passed to it).
      const fn = typeof listener === 'function' ? ((listener as { listener?: Function }).listener ?? listener) : undefined
      if (fn && nodeListeners.has(fn)) return
      const source = fn && sourceKey(target, type, fn)
      if (source && nodeSources.has(source)) return
      const caller = callerOf(captureCallSites(skip, 3))
      if (isForeign(caller)) {
        if (fn && caller.file.startsWith('node:')) {
          nodeListeners.add(fn)
          if (source) nodeSources.add(source)
        }
        return
      }
      ledger.note({ target: target as Listener['target'], type, listener }, listenersProbe, skip)
    }

    undo.push(followNewEmitters((emitter) => ledger.bornIn.set(emitter, ledger.current)))
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
    patch(EventTarget.prototype, 'addEventListener', (original) =>
      function addEventListener(this: EventTarget, type: string, listener: unknown, options?: unknown) {
        // eslint-disable-next-line prefer-rest-params -- the options argument may be absent, and stays so
        const result = original.apply(this, arguments)
        if (listener != null) note(this, type, listener, addEventListener, true)
        return result
      },
    )
    // AbortSignals: stamped when first handed out, so a signal made in the test is the test's own
    const signalGetter = Object.getOwnPropertyDescriptor(AbortController.prototype, 'signal')?.get
    if (signalGetter) {
      const signal = function signal(this: AbortController) {
        const value = signalGetter.call(this) as AbortSignal
        if (!ledger.bornIn.hasAside(value)) ledger.bornIn.setAside(value, ledger.current)
        return value
      }
      Object.defineProperty(AbortController.prototype, 'signal', { get: signal, configurable: true, enumerable: true })
      undo.push(() => Object.defineProperty(AbortController.prototype, 'signal', { get: signalGetter, configurable: true, enumerable: true }))
    }
    for (const name of ['timeout', 'any', 'abort'] as const) {
      if (typeof AbortSignal[name] !== 'function') continue
      patch(AbortSignal as unknown as Record<string, Function>, name, (original) =>
        function make(this: unknown, ...args: unknown[]) {
          const value = Reflect.apply(original, this, args) as object
          ledger.bornIn.setAside(value, ledger.current)
          return value
        },
      )
    }
    return () => {
      for (const fn of undo.reverse()) fn()
    }
  },

  state(entry, ctx) {
    if (!isAttached(entry)) return { status: 'closed' }
    // pg-pool's 'error' listener on each idle client is the pool's, like the idle connection itself
    const pool = ctx && pgListenerParkedIn(entry.target, entry.listener)
    if (pool === 'ended') return { status: 'closed' }
    if (pool) return { status: pool.owner === ctx.scope ? 'open' : 'pooled' }
    return { status: 'open' }
  },

  describe({ target, type }) {
    const event = typeof type === 'symbol' ? type.toString() : `'${type}'`
    const on = targetName(target)
    const count = countListeners(target, type)
    const isEmitter = isEventEmitter(target)
    const remove = isEmitter ? `${on === 'process' ? 'process' : 'emitter'}.off(${event}, listener)` : `target.removeEventListener(${event}, listener)`
    return {
      what: `${event} listener on ${on}`,
      state: `still attached (${count} ${event} listener${count === 1 ? '' : 's'} on it now); it outlives the test and runs on later events`,
      fix: `remove it with \`${remove}\``,
      alternative: isEmitter
        ? 'or add it with `once` if it is meant to run a single time'
        : 'or pass `{ once: true }` or `{ signal }` when adding it',
    }
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

/** EventEmitter instances and objects with its methods mixed in (an express app). */
function isEventEmitter(target: Listener['target']): target is EventEmitter {
  return typeof (target as Partial<EventEmitter>).rawListeners === 'function'
}

function isAttached({ target, type, listener }: Listener): boolean {
  if (isEventEmitter(target)) return target.rawListeners(type).includes(listener as Function)
  return getEventListeners(target, type as string).includes(listener as EventListener)
}

function countListeners(target: Listener['target'], type: string | symbol): number {
  return isEventEmitter(target) ? target.listenerCount(type) : getEventListeners(target, type as string).length
}

function targetName(target: Listener['target']): string {
  if (target === process) return 'process'
  if (typeof AbortSignal !== 'undefined' && target instanceof AbortSignal) return 'a long-lived AbortSignal'
  const name = target.constructor?.name
  if (isEventEmitter(target)) return name && name !== 'EventEmitter' && name !== 'Function' ? `a long-lived ${name} (EventEmitter)` : 'a long-lived EventEmitter'
  return name ? `a long-lived ${name} (EventTarget)` : 'a long-lived EventTarget'
}
