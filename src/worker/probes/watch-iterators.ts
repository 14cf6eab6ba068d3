import { fs } from '../node/builtins.js'
import type { Ledger, Probe } from '../ledger/ledger.js'
import { replaceMethod } from './follow.js'
import { finishIterator, followIterator, signalOf, type IteratorLife } from './iterators.js'

/** The async iterator of one `fs.promises.watch` call. */
interface WatchIterator {
  path: string
  life: IteratorLife
  iterator: object
  signal: AbortSignal | undefined
}

const PATCHED = Symbol.for('vitest-leaks.watch-iterators.original')

/**
 * `fs.promises.watch` (also `node:fs/promises`), part of the `watchers` kind: Node starts the watcher inside the
 * iterator it returns, at the first `next()`, out of reach of the wrapped `fs.watch`. Wrapped on the module object
 * (once per worker, undoably); the watcher is open from the first `next()` until its loop ends. One made with
 * `{ persistent: false }` holds nothing open and is not followed.
 */
export const watchIteratorsProbe: Probe<WatchIterator> = {
  kind: 'watchers',

  install(ledger: Ledger) {
    const host = fs.promises as unknown as Record<string, unknown>
    const original = host.watch as Function | undefined
    if (typeof original !== 'function' || (original as any)[PATCHED]) return () => {}
    const watch = function watch(this: unknown) {
      // eslint-disable-next-line prefer-rest-params -- the arguments pass through as they are
      const iterator = original.apply(this, arguments) as unknown
      const options = arguments[1] as { persistent?: unknown } | string | undefined
      if (typeof iterator !== 'object' || iterator === null || (typeof options === 'object' && options?.persistent === false))
        return iterator
      const watched: WatchIterator = {
        path: String(arguments[0]),
        life: { started: false, done: false },
        iterator,
        signal: signalOf(options),
      }
      // the watcher starts with the first `next()` (the `for await` line), and is owned by who started it
      followIterator(iterator, watched.life, (skip) => ledger.track(watched, watchIteratorsProbe, skip))
      return iterator
    }
    const undo = replaceMethod(host, 'watch', watch, PATCHED)
    return () => {
      undo()
    }
  },

  state({ life, signal }) {
    return { status: life.done || signal?.aborted ? 'closed' : 'open' }
  },

  describe({ path }) {
    return {
      what: `fs.promises.watch iterator on ${path}`,
      state: 'still watching: its loop was started and has not ended',
      fix: 'pass `{ signal }` to `watch()` and abort its controller',
      alternative: 'a `for await` loop waiting on it ends only by its signal (`return()` waits for the next change)',
    }
  },

  close({ iterator }) {
    finishIterator(iterator)
  },
}
