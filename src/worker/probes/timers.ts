import { timers } from '../node/builtins.js'
import { Aside } from '../ledger/aside.js'
import type { Ledger, Probe } from '../ledger/ledger.js'
import { FREQUENT_LIMIT, isCreatedByVitest, isOwn, isVitestFile, type CallSites } from '../stacks/stack.js'
import { pgPoolOf } from './holders.js'
import { unwrapped, wrapTimerFunction } from './timer-functions.js'

// Node's Timeout object: `_destroyed` is set when a one-shot timer fired or any timer was cleared.
type Timeout = NodeJS.Timeout & {
  _destroyed?: boolean
  _idleTimeout?: number
  /** When it was (re)armed, in Node's timer clock (ms): with `_idleTimeout`, when it is due. */
  _idleStart?: number | null
  _repeat?: number | null
}

const PATCHED = Symbol.for('vitest-leaks.timers.original')

type TimerFn = typeof setTimeout | typeof setInterval

/**
 * setTimeout / setInterval, both the globals and the `node:timers` exports. Timers are not handles since Node 11, so
 * no Node API lists them with an identity: the two functions are wrapped (once per worker, undoably). Fake timers
 * replace the globals with their own and so are never seen; Vitest captured its own timers before this runs.
 */
export const timersProbe: Probe<Timeout> = {
  kind: 'timers',
  stackFrames: FREQUENT_LIMIT,
  budgeted: true,
  fresh: true,
  runsCallbacks: true,

  install(ledger: Ledger) {
    const undo: Array<() => void> = []
    /**
     * Callback functions seen more than once (module-level ones: Node's `onParserTimeout`, a test's `tick`), with
     * who passes them: fetch sets a timer with the same function for every request, from Node's own code, and its
     * stack (~10 µs, out of a cold cache) would show nothing of the test's. The caller is read from the stack taken at
     * the second sighting; from then on Node's get no stack (they are still tracked and judged). Only timers that
     * would take a stack are looked at (the first `stacksPerTest` of each test): most callbacks are closures made
     * for one timer, and a WeakMap entry for each of the test's 20 000 would cost more than the timers themselves.
     */
    const callbacks = new WeakMap<Function, Sighting>()
    // While an environment's timer function runs (below): the Node timer noted inside it, not to be noted twice
    let inEnvironmentCall = 0
    let notedInside: Timeout | undefined
    const wrap = (original: TimerFn, name: 'setTimeout' | 'setInterval'): TimerFn => {
      // In the vm pools a jsdom, happy-dom or edge-runtime test file's global is that environment's own function, which
      // sets a Node timer and may return something else: jsdom's and the edge runtime's ids are numbers, happy-dom has
      // objects of its own for 0 ms. Their Node timer is the one tracked: seen when the environment calls the wrapped
      // Node function, or else as what it returns, or as the timer whose id it took (the edge runtime's context keeps
      // the Node function it was made with, before this ran in a worker's first test file).
      const isNodeFunction = original === timers[name]
      const wrapped = {
        [name](this: unknown, callback: unknown) {
          if (isNodeFunction) {
            // eslint-disable-next-line prefer-rest-params -- the arguments pass through as they are, without an array
            const timer = (original as Function).apply(this, arguments) as Timeout
            if (inEnvironmentCall > 0) notedInside = timer
            noteTimer(timer, callback)
            return timer
          }
          inEnvironmentCall++
          let made: { result: unknown; idTakenOf: Timeout | undefined }
          try {
            // eslint-disable-next-line prefer-rest-params
            made = callSeeingTimerIds(original, this, arguments)
          } finally {
            inEnvironmentCall--
          }
          const inside = notedInside
          notedInside = undefined
          const result = made.result as Timeout
          const timer = typeof result?._idleTimeout === 'number' ? result : made.idTakenOf
          if (timer && timer !== inside && typeof timer._idleTimeout === 'number') noteTimer(timer, callback)
          return result
        },
      }[name] as TimerFn
      const noteTimer = (timer: Timeout, callback: unknown): void => {
        const scope = ledger.current
        // made outside any test, or by a callback of an earlier scope's timer: its callback runs for that owner
        if (scope.kind !== 'test' || scope !== ledger.running) ledger.callbackOwners.set(timer, scope)
        // past the test's budget no stack is taken anyway: nothing to tell apart
        if (!ledger.hasStackBudget('timers', scope)) {
          aside.keep(timer, scope)
          ledger.madeAside(timer, timersProbe)
          return
        }
        if (typeof callback !== 'function') {
          ledger.note(timer, timersProbe, wrapped)
          return
        }
        const sighting = callbacks.get(callback)
        if (sighting === Sighting.Node) {
          ledger.note(timer, timersProbe, wrapped, true)
          return
        }
        const stack = ledger.note(timer, timersProbe, wrapped)
        if (sighting === undefined) callbacks.set(callback, Sighting.Once)
        else if (sighting === Sighting.Once && stack)
          callbacks.set(callback, isNodeFile(stack.sites?.[0]?.getFileName()) ? Sighting.Node : Sighting.Other)
      }
      return wrapped
    }
    for (const name of ['setTimeout', 'setInterval'] as const) {
      wrapTimerFunction(undo, name, (original) => wrap(original as TimerFn, name), PATCHED)
    }
    ledger.collectors.add(timersProbe)
    undo.push(() => void ledger.collectors.delete(timersProbe))
    return () => {
      for (const fn of undo) fn()
    }
  },

  foreign(sites) {
    return isCreatedByVitest(sites) || isCreatedByVitest(pastEnvironmentTimer(sites))
  },

  // the timers kept aside past the budget: those still pending are noted, for the check to judge
  collect(scope, ledger) {
    aside.collect(scope, ledger, timersProbe)
  },

  state(timer, ctx) {
    if (timer._destroyed) return { status: 'closed' }
    // an unref'd timer holds nothing open; it only may fire later
    if (typeof timer.hasRef === 'function' && !timer.hasRef()) return { status: 'excused' }
    // a pool's idle-reaper timer (pg-pool sets one per idle client) is the pool's, like the idle connection itself
    const pool = ctx && pgPoolOf(timer)
    if (pool) return { status: pool.owner === ctx.scope ? 'open' : 'pooled' }
    // A timeout due within the settle window is about to fire, like a socket about to close: waited for, not reported
    // (a library's close path that defers its last step by a 0 ms timer, jsdom dispatching an event). Its callback
    // runs for the same owner, and what it sets in turn is judged with it.
    if (ctx && typeof timer._repeat !== 'number' && dueIn(timer) <= (ctx.settleWindow ?? 0)) return { status: 'closing' }
    return { status: 'open' }
  },

  partOf(timer) {
    const socket = pgPoolOf(timer)?.socket
    return socket ? [socket] : []
  },

  describe(timer) {
    const repeat = typeof timer._repeat === 'number'
    const delay = timer._repeat ?? timer._idleTimeout ?? 0
    const callback = callbackName((timer as { _onTimeout?: Function })._onTimeout)
    const fn = repeat ? 'setInterval' : 'setTimeout'
    return {
      what: `${fn} timer (${delay} ms, callback ${callback})`,
      state: repeat ? `still repeating every ${delay} ms` : `still pending (set for ${delay} ms)`,
      fix: repeat ? 'stop it with `clearInterval(timer)`' : 'cancel it with `clearTimeout(timer)`',
      alternative: repeat
        ? 'or call `timer.unref()` if it is meant to outlive its owner'
        : 'when it guards a race (`Promise.race` with a timeout), clear it once the race is settled; or `timer.unref()`',
    }
  },

  close(timer) {
    // A timeout is unref'd, not cleared: a pending promise may wait on it (a retry's delay, a race's timeout), and
    // cleared it would leave that flow frozen forever. It fires as planned, and no longer holds the worker open.
    // An interval, which never settles anything by ending, is stopped.
    if (typeof timer._repeat === 'number') timers.clearInterval(timer)
    else timer.unref()
  },
}

/** The timers a test made past its budget of stacks (see Aside). */
const aside = new Aside<Timeout>((timer) => timer._destroyed === true)

/** Node's own setTimeout, unwrapped: to read the timer clock, and to make a Timeout that is not noted. */
function realSetTimeout(): typeof setTimeout {
  return unwrapped(timers.setTimeout, PATCHED)
}

function noop(): void {}

/**
 * Milliseconds until `timer` fires. Node stamps a timer with its clock (`getLibuvNow()`, ms since the loop started)
 * when it is armed, and no API reads that clock: a throwaway timer, armed now and cleared at once, carries it.
 */
function dueIn(timer: Timeout): number {
  if (typeof timer._idleStart !== 'number' || typeof timer._idleTimeout !== 'number') return Infinity
  const probe = realSetTimeout()(noop, 1) as Timeout
  const now = probe._idleStart
  timers.clearTimeout(probe)
  return typeof now === 'number' ? timer._idleStart + timer._idleTimeout - now : Infinity
}

/** A callback function seen once; seen twice, passed by Node's own code (its timers take no stack), or by anyone else. */
const Sighting = { Once: 1, Node: 2, Other: 3 } as const
type Sighting = (typeof Sighting)[keyof typeof Sighting]

let timeoutPrototype: object | null | undefined

/**
 * Calls an environment's timer function, and tells which Node timer had its id taken (`timer[Symbol.toPrimitive]()`,
 * what makes a number of a Node timer) during the call: the Timeout prototype's method is replaced for the length of
 * the call only.
 */
function callSeeingTimerIds(fn: Function, self: unknown, args: IArguments): { result: unknown; idTakenOf: Timeout | undefined } {
  if (timeoutPrototype === undefined) timeoutPrototype = timeoutPrototypeOf()
  const own = timeoutPrototype ? Object.getOwnPropertyDescriptor(timeoutPrototype, Symbol.toPrimitive) : undefined
  if (!timeoutPrototype || !own || typeof own.value !== 'function') return { result: fn.apply(self, args), idTakenOf: undefined }
  let idTakenOf: Timeout | undefined
  const toPrimitive = own.value as (this: Timeout) => number
  Object.defineProperty(timeoutPrototype, Symbol.toPrimitive, {
    ...own,
    value(this: Timeout) {
      idTakenOf = this
      return toPrimitive.call(this)
    },
  })
  let result: unknown
  try {
    result = fn.apply(self, args)
  } finally {
    Object.defineProperty(timeoutPrototype, Symbol.toPrimitive, own)
  }
  return { result, idTakenOf }
}

/** The prototype of Node's timers, from one made and cleared at once with Node's own setTimeout (not the wrapper). */
function timeoutPrototypeOf(): object | null {
  try {
    const timer = realSetTimeout()(() => {}, 0)
    timers.clearTimeout(timer)
    return Object.getPrototypeOf(timer) as object
  } catch {
    return null
  }
}

/**
 * The frames after an environment's own `setTimeout`/`setInterval` (jsdom's and happy-dom's windows, the edge
 * runtime's context, whose function has no file), when the Node timer was set by one; undefined otherwise. In the vm
 * pools with such an environment, Vitest's own timers (its task-update throttle, its hook timeouts) go through that
 * function to Node's: past it, the caller tells whose timer it is.
 */
function pastEnvironmentTimer(sites: CallSites | undefined): CallSites | undefined {
  if (!sites) return undefined
  for (let i = 0; i < sites.length; i++) {
    const site = sites[i]!
    const file = site.getFileName() ?? ''
    if (file === '' || /(?:^|\.)set(?:Timeout|Interval)$/.test(site.getFunctionName() ?? '')) return sites.slice(i + 1)
    // only a package's frames (the environment's, on its way to Node's setTimeout) come before that function
    if (isOwn(file)) continue
    if (!/[\\/]node_modules[\\/]/.test(file) || isVitestFile(file)) return undefined
  }
  return undefined
}

function isNodeFile(file: string | null | undefined): boolean {
  return typeof file === 'string' && file.startsWith('node:')
}

function callbackName(fn: Function | undefined): string {
  if (typeof fn !== 'function') return 'unknown'
  return fn.name ? `\`${fn.name}\`` : 'anonymous'
}
