/**
 * `object[key]`, read the way the plugin reads the Node objects it looks at, except that one of Node's deprecated
 * accessors reads as undefined: its getter prints a DeprecationWarning into the user's run (reading `_handle` of a
 * dgram socket prints DEP0112), and the plugin prints nothing but its errors and summary. Node makes those accessors
 * with `util.deprecate`, whose wrapper function is named `deprecated`.
 */
export function readQuietly(object: unknown, key: string | symbol): unknown {
  if (object === null || (typeof object !== 'object' && typeof object !== 'function')) return undefined
  for (let holder: object | null = object; holder !== null; holder = Object.getPrototypeOf(holder) as object | null) {
    const descriptor = Object.getOwnPropertyDescriptor(holder, key)
    if (!descriptor) continue
    if (descriptor.get?.name === 'deprecated') return undefined
    break
  }
  return (object as Record<string | symbol, unknown>)[key]
}
