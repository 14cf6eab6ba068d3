import { timers } from '../node/builtins.js'
import type { Ledger, Probe } from '../ledger/ledger.js'
import { FREQUENT_LIMIT } from '../stacks/stack.js'
import { finishIterator, followIterator, signalOf, type IteratorLife } from './iterators.js'
import { wrapOnce } from './follow.js'

/** A timer of `node:timers/promises`: its promise (setTimeout, scheduler.wait) or its iterator (setInterval). */
type PromiseTimer =
  | { api: 'setTimeout' | 'scheduler.wait'; delay: number; settled: boolean; signal: AbortSignal | undefined }
  | { api: 'setInterval'; delay: number; life: IteratorLife; iterator: object; signal: AbortSignal | undefined }

const PATCHED = Symbol.for('vitest-leaks.promise-timers.original')

interface TimerOptions {
  ref?: unknown
  signal?: unknown
}

/**
 * The timers of `node:timers/promises` (`setTimeout`, `setInterval`, `scheduler.wait`), part of the `timers` kind.
 * Node makes their Timeout inside, out of reach of the wrapped `setTimeout`: the module's functions are wrapped (once
 * per worker, undoably), and a timer is open while its promise is pending, or while its iterator's loop runs. A
 * timer made with `{ ref: false }` holds nothing open and is not followed.
 */
export const promiseTimersProbe: Probe<PromiseTimer> = {
  kind: 'timers',
  stackFrames: FREQUENT_LIMIT,
  budgeted: true,
  fresh: true,

  install(ledger: Ledger) {
    const module = timers.promises as unknown as Record<string, unknown> & { scheduler?: Record<string, unknown> }
    const undo: Array<() => boolean> = []
    /** `make(original)` is the wrapper: it calls the original, and notes what it made unless that holds nothing open. */
    const patch = (host: object | undefined, name: string, make: (original: Function) => Function) =>
      wrapOnce(undo, host, name, make, PATCHED)
    const timeout = (api: 'setTimeout' | 'scheduler.wait', optionsAt: number) => (original: Function) => {
      const wrapped = {
        [api](this: unknown) {
          // eslint-disable-next-line prefer-rest-params -- the arguments pass through as they are
          const promise = original.apply(this, arguments) as unknown
          const options = arguments[optionsAt] as TimerOptions | undefined
          if (!(promise instanceof Promise) || options?.ref === false) return promise
          const timer: PromiseTimer = { api, delay: Number(arguments[0] ?? 1), settled: false, signal: signalOf(options) }
          ledger.note(timer, promiseTimersProbe, wrapped)
          // a promise of its own, settled as Node's one microtask later: Node's, handled here, is never the one left
          // unhandled, and one the caller does not handle still is
          return promise.then(
            (value) => {
              timer.settled = true
              return value
            },
            (error) => {
              timer.settled = true
              throw error
            },
          )
        },
      }[api]!
      return wrapped
    }
    // setTimeout(delay, value, options), scheduler.wait(delay, options)
    patch(module, 'setTimeout', timeout('setTimeout', 2))
    patch(module.scheduler, 'wait', timeout('scheduler.wait', 1))
    patch(
      module,
      'setInterval',
      (original) =>
        function setInterval(this: unknown) {
          // eslint-disable-next-line prefer-rest-params
          const iterator = original.apply(this, arguments) as unknown
          const options = arguments[2] as TimerOptions | undefined
          if (typeof iterator !== 'object' || iterator === null || options?.ref === false) return iterator
          const delay = Number(arguments[0] ?? 1)
          const life: IteratorLife = { started: false, done: false }
          const timer: PromiseTimer = { api: 'setInterval', delay, life, iterator, signal: signalOf(options) }
          // the interval starts with the first `next()` (the `for await` line), and is owned by who started it
          followIterator(iterator, life, (skip) => ledger.note(timer, promiseTimersProbe, skip))
          return iterator
        },
    )
    return () => {
      for (const fn of undo.reverse()) fn()
    }
  },

  state(timer) {
    if (timer.signal?.aborted) return { status: 'closed' }
    if (timer.api === 'setInterval') return { status: timer.life.done ? 'closed' : 'open' }
    return { status: timer.settled ? 'closed' : 'open' }
  },

  describe(timer) {
    const from = 'from node:timers/promises'
    if (timer.api === 'setInterval') {
      return {
        what: `setInterval iterator (${timer.delay} ms) ${from}`,
        state: `still repeating every ${timer.delay} ms: its loop was started and has not ended`,
        fix: 'end its loop (`break` out of the `for await`, call `iterator.return()`, or abort the `signal` passed to it)',
        alternative: 'or pass `{ ref: false }` if it is meant to outlive its owner',
      }
    }
    return {
      what: `${timer.api} timer (${timer.delay} ms) ${from}`,
      state: `still pending (set for ${timer.delay} ms): its promise has not settled`,
      fix: `await it, or pass \`{ signal }\` to \`${timer.api}()\` and abort its controller`,
      alternative: 'when it guards a race (`Promise.race` with a timeout), abort it once the race is settled; or pass `{ ref: false }`',
    }
  },

  close(timer) {
    // a pending promise timer cannot be cancelled from outside (only through its signal): it fires later, harmlessly
    if (timer.api === 'setInterval') finishIterator(timer.iterator)
  },
}
