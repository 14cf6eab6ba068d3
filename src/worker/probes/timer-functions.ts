import { promisify } from 'node:util'
import { timers } from '../node/builtins.js'
import { mainRealm } from '../node/realm.js'

/**
 * What the timers and immediates probes share: Node's timer functions (`setTimeout`, `setInterval`, `setImmediate`)
 * replaced on the global objects and on `node:timers`. In the vm pools this module runs in the first test file's vm
 * context, and later contexts copy their globals from the worker's own global object when first read: the wrapper
 * goes there too, or only the first file is checked. The globals and the module export are the same function in
 * Node: one wrapper per original function. Each wrapper carries its original under `marker` (a function already
 * marked is not wrapped again) and keeps the original's `util.promisify` form. The undos go on `undo`.
 */
export function wrapTimerFunction(
  undo: Array<() => void>,
  name: 'setTimeout' | 'setInterval' | 'setImmediate',
  make: (original: Function) => Function,
  marker: symbol,
): void {
  const wrappers = new Map<Function, Function>()
  const wrap = (original: Function): Function => {
    if ((original as any)[marker]) return original
    let wrapped = wrappers.get(original)
    if (wrapped) return wrapped
    wrapped = make(original)
    Object.defineProperty(wrapped, marker, { value: original })
    const custom = (original as any)[promisify.custom]
    if (custom) Object.defineProperty(wrapped, promisify.custom, { value: custom, configurable: true })
    wrappers.set(original, wrapped)
    return wrapped
  }
  for (const target of new Set([globalThis, mainRealm(), timers]) as Set<unknown> as Set<Record<string, unknown>>) {
    const original = target[name]
    if (typeof original !== 'function') continue
    const wrapped = wrap(original)
    target[name] = wrapped
    undo.push(() => {
      if (target[name] === wrapped) target[name] = original
    })
  }
}

/** Node's own timer function under a probe's wrapper (`marker`), or the function itself when it is not wrapped. */
export function unwrapped<F extends Function>(fn: F, marker: symbol): F {
  return ((fn as any)[marker] as F | undefined) ?? fn
}
