/**
 * What the modules that follow a kind of object for several probes share (net-follow.ts, emitter-follow.ts): one
 * patch per worker, a list of listeners, and an undo that takes the patch off when the last listener leaves.
 */

/**
 * Puts `replacement` in place of `owner[name]`, marked with the original under `marker`. The undo puts the original
 * back and returns true; a wrapper someone put over the patch since keeps it in the chain: then it changes nothing
 * and returns false (the patch stays, inert, and is reused).
 */
export function replaceMethod(owner: object, name: string, replacement: Function, marker: symbol): () => boolean {
  const target = owner as Record<string, unknown>
  const original = target[name]
  Object.defineProperty(replacement, marker, { value: original })
  target[name] = replacement
  return () => {
    if (target[name] !== replacement) return false
    target[name] = original
    return true
  }
}

/**
 * Wraps `host[name]` with `make(original)`, once per worker: a function already wrapped (it carries `marker`, as when
 * the setup file runs again for the next test file) or missing is left as it is. The undo goes on `undo`.
 */
export function wrapOnce(
  undo: Array<() => unknown>,
  host: object | undefined,
  name: string,
  make: (original: Function) => Function,
  marker: symbol,
): void {
  const original = (host as Record<string, unknown> | undefined)?.[name]
  if (typeof original !== 'function' || (original as any)[marker]) return
  undo.push(replaceMethod(host!, name, make(original), marker))
}

/** The listeners of one kind of event, behind one patch (or subscription) for all of them. */
export interface Followers<L> {
  /** Copied on every change, so that a listener leaving during a call changes nothing under the loop. */
  listeners: L[]
  /** Set while the patch is on; returns false when it could not come off. */
  unpatch: (() => boolean) | undefined
}

export function followers<L>(): Followers<L> {
  return { listeners: [], unpatch: undefined }
}

/**
 * Adds `listener`, putting the patch on (`patch()`, which returns its undo) if it is not. Returns the undo: the patch
 * comes off when the last listener leaves, unless a wrapper someone put over it since keeps it in the chain; then it
 * stays, inert, and is reused.
 */
export function follow<L>(f: Followers<L>, listener: L, patch: () => () => boolean): () => void {
  f.listeners = [...f.listeners, listener]
  f.unpatch ??= patch()
  return once(() => {
    f.listeners = without(f.listeners, listener)
    if (f.listeners.length === 0 && f.unpatch?.()) f.unpatch = undefined
  })
}

/** The list without `item` (a new array, so that a loop over the old one is not disturbed). */
function without<T>(list: T[], item: T): T[] {
  const index = list.indexOf(item)
  return index === -1 ? list : [...list.slice(0, index), ...list.slice(index + 1)]
}

/** `fn`, callable once: later calls do nothing. */
function once(fn: () => void): () => void {
  let done = false
  return () => {
    if (done) return
    done = true
    fn()
  }
}
