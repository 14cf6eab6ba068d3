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

/** The list without `item` (a new array, so that a loop over the old one is not disturbed). */
export function without<T>(list: T[], item: T): T[] {
  const index = list.indexOf(item)
  return index === -1 ? list : [...list.slice(0, index), ...list.slice(index + 1)]
}

/** `fn`, callable once: later calls do nothing. */
export function once(fn: () => void): () => void {
  let done = false
  return () => {
    if (done) return
    done = true
    fn()
  }
}
