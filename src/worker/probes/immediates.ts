import { executionAsyncResource } from 'node:async_hooks'
import { timers } from '../node/builtins.js'
import { Aside } from '../ledger/aside.js'
import type { Ledger, Probe, Scope } from '../ledger/ledger.js'
import { Tag } from '../ledger/tag.js'
import { wrapTimerFunction } from './timer-functions.js'

type Immediate = NodeJS.Immediate & { _destroyed?: boolean; _onImmediate?: Function | null }

/** A callback that keeps setting itself again from inside its own run: one object for the whole chain. */
interface PollingLoop {
  /** The immediate pending now (the last one set). */
  latest: Immediate
  /** How many times the loop set itself again. */
  rearmed: number
  owner: Scope
  callback: Function | undefined
}

const PATCHED = Symbol.for('vitest-leaks.immediates.original')
/** The loop an immediate belongs to (set only on those made from inside an immediate's callback). */
const loops = new Tag<PollingLoop>('polling loop')
/** First immediates (not re-arms), kept aside until the check (see Aside). */
const aside = new Aside<Immediate>((immediate) => immediate._destroyed === true)

/**
 * setImmediate polling loops. A one-off immediate runs on the next loop turn and is never a leak; but a callback
 * that sets itself again from inside its own run (`function poll() { …; setImmediate(poll) }`) runs forever, a new
 * Immediate each turn, so no single object outlives its test. The chain is the resource: noticed at its first
 * re-arm (Node runs an immediate's callback with the Immediate as the current async resource), owned by the scope
 * that started it, and a leak if it still runs once the check has given closing things their turns and the settle
 * window. An immediate set by a promise continuation (`await new Promise(setImmediate)`) is not a re-arm: the
 * continuation runs after the callback.
 */
export const immediatesProbe: Probe<PollingLoop | Immediate> = {
  kind: 'timers',
  fresh: true,
  // a pending immediate's callback runs for the scope that set it (its first re-arm starts that scope's loop)
  runsCallbacks: true,

  install(ledger: Ledger) {
    const undo: Array<() => void> = []
    const sample = timers.setImmediate(() => {}) as Immediate
    timers.clearImmediate(sample)
    const ImmediateClass = sample.constructor
    const wrap = (original: Function): Function => {
      const setImmediate = function setImmediate(this: unknown) {
        // eslint-disable-next-line prefer-rest-params -- the arguments pass through as they are
        const immediate = (original as Function).apply(this, arguments) as Immediate
        try {
          const parent = executionAsyncResource() as Immediate
          if (!(parent instanceof ImmediateClass)) {
            // a first immediate: kept aside without a stack (they are made by the thousand, and nearly all run on the
            // next turn); a check that finds it still pending gives it its turn, under its owner
            aside.keep(immediate, ledger.current)
          } else {
            let loop = loops.get(parent)
            if (loop) {
              loop.rearmed++
              loop.latest = immediate
            } else {
              loop = { latest: immediate, rearmed: 1, owner: ledger.current, callback: immediate._onImmediate ?? undefined }
              ledger.note(loop, immediatesProbe, setImmediate)
            }
            loops.set(immediate, loop)
            // what the loop's callback makes is the loop owner's, whichever test runs when it does
            ledger.callbackOwners.set(immediate, loop.owner)
          }
        } catch (error) {
          ledger.onInternalError(error)
        }
        return immediate
      }
      return setImmediate
    }
    wrapTimerFunction(undo, 'setImmediate', wrap, PATCHED)
    ledger.collectors.add(immediatesProbe)
    undo.push(() => void ledger.collectors.delete(immediatesProbe))
    return () => {
      for (const fn of undo) fn()
    }
  },

  collect(scope, ledger) {
    aside.collect(scope, ledger, immediatesProbe)
  },

  state(resource) {
    if (!isLoop(resource)) {
      if (resource._destroyed) return { status: 'closed' }
      if (typeof resource.hasRef === 'function' && !resource.hasRef()) return { status: 'excused' }
      return { status: 'closing' }
    }
    const loop = resource
    const latest = loop.latest
    // the last run did not set it again, or it was cleared
    if (latest._destroyed) return { status: 'closed' }
    if (typeof latest.hasRef === 'function' && !latest.hasRef()) return { status: 'excused' }
    // still going: given the settle window to stop by itself, then reported
    return { status: 'closing' }
  },

  describe(resource) {
    if (!isLoop(resource)) {
      return { what: 'setImmediate callback', state: 'still pending', fix: 'let the event loop run it, or `clearImmediate(immediate)`' }
    }
    const loop = resource
    const name = typeof loop.callback === 'function' && loop.callback.name ? `\`${loop.callback.name}\`` : 'anonymous'
    return {
      what: `setImmediate polling loop (callback ${name})`,
      state: `still running: it set itself again ${loop.rearmed} times, once every event-loop turn`,
      fix: 'stop it: a flag its callback checks before it calls `setImmediate` again, or `clearImmediate(immediate)` on the last one',
      alternative: 'or poll with a timer (`setInterval`) that you clear',
    }
  },

  close(resource) {
    timers.clearImmediate(isLoop(resource) ? resource.latest : resource)
  },
}

function isLoop(resource: PollingLoop | Immediate): resource is PollingLoop {
  return 'rearmed' in resource
}
