/**
 * The life of an async iterator that holds something open while its loop runs: `timers/promises` `setInterval` (a
 * repeating timer) and `fs.promises.watch` (a watcher). Both are async generators whose body, and so the timer or the
 * watcher, starts with the first `next()` and ends when the generator finishes: a call that says `done`, one that
 * rejects (an aborted signal), or a `return()`/`throw()` that settles (`break` out of a `for await` loop).
 */
export interface IteratorLife {
  started: boolean
  done: boolean
}

/**
 * Follows `iterator`'s methods as own properties of it (its prototype is Node's, shared): `onStart` runs at the first
 * `next()`, with that wrapper as `skip`, so a creation stack starts at the caller (the `for await` line). Each call
 * returns a promise of its own that settles as the original does, one microtask later: a rejection the caller does
 * not handle stays unhandled. An iterator that refuses properties (frozen) is not followed: returns false.
 */
export function followIterator(iterator: object, life: IteratorLife, onStart: (skip: Function) => void): boolean {
  const host = iterator as Record<string, unknown>
  const methods = ['next', 'return', 'throw'] as const
  const originals = methods.map((name) => host[name])
  if (!originals.every((method) => typeof method === 'function') || !Object.isExtensible(iterator)) return false
  const [next, finish, fail] = originals as Function[]
  // a call that says done ends it, and so does one that rejects (the generator threw: an aborted signal)
  const onResult = (result: unknown) => {
    if ((result as IteratorResult<unknown> | undefined)?.done === true) life.done = true
    return result
  }
  const onError = (error: unknown): never => {
    life.done = true
    throw error
  }
  const settle = (promise: unknown) => (promise instanceof Promise ? promise.then(onResult, onError) : promise)
  const wrappers: Record<(typeof methods)[number], Function> = {
    next(this: unknown) {
      if (!life.started) {
        life.started = true
        onStart(wrappers.next!)
      }
      // eslint-disable-next-line prefer-rest-params -- the arguments pass through as they are
      return settle(next!.apply(this, arguments))
    },
    return(this: unknown) {
      // eslint-disable-next-line prefer-rest-params
      return settle(finish!.apply(this, arguments))
    },
    throw(this: unknown) {
      // eslint-disable-next-line prefer-rest-params
      return settle(fail!.apply(this, arguments))
    },
  }
  for (const name of methods) {
    Object.defineProperty(iterator, name, { value: wrappers[name], writable: true, configurable: true, enumerable: false })
  }
  return true
}

/** Ends a started iterator, best effort (after a leak was reported): the generator's `finally` stops what it holds. */
export function finishIterator(iterator: object): void {
  try {
    const result = (iterator as { return?: () => unknown }).return?.()
    if (result instanceof Promise) result.catch(() => {})
  } catch {
    // a generator already running: it ends by itself or by its signal
  }
}

/** The AbortSignal in the options of a Node API that takes one (`{ signal }`), if there is one. */
export function signalOf(options: unknown): AbortSignal | undefined {
  const signal = typeof options === 'object' && options !== null ? (options as { signal?: unknown }).signal : undefined
  return typeof AbortSignal !== 'undefined' && signal instanceof AbortSignal ? signal : undefined
}
