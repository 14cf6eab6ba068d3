/**
 * `object[key]`, read the way the plugin reads the Node objects it looks at, except that one of Node's deprecated
 * accessors reads as undefined: its getter prints a DeprecationWarning into the user's run (reading `_handle` of a
 * dgram socket prints DEP0112), and the plugin prints nothing but its errors and summary. Node makes those accessors
 * with `util.deprecate`, whose wrapper function is named `deprecated`.
 */
export function readQuietly(object: unknown, key: string | symbol): unknown {
  if (object === null || (typeof object !== 'object' && typeof object !== 'function')) return undefined
  const own = Object.getOwnPropertyDescriptor(object, key)
  if (own ? isDeprecated(own) : deprecatedAbove(Object.getPrototypeOf(object) as object | null, key)) return undefined
  return (object as Record<string | symbol, unknown>)[key]
}

/**
 * What each prototype's chain says of a key, looked up once: the descriptor walk allocates an object per level, and
 * the descriptor snapshot asks it of every socket's handle at every look.
 */
const aboveOf = new WeakMap<object, Map<string | symbol, boolean>>()

function deprecatedAbove(prototype: object | null, key: string | symbol): boolean {
  if (prototype === null) return false
  let byKey = aboveOf.get(prototype)
  let deprecated = byKey?.get(key)
  if (deprecated !== undefined) return deprecated
  deprecated = false
  for (let holder: object | null = prototype; holder !== null; holder = Object.getPrototypeOf(holder) as object | null) {
    const descriptor = Object.getOwnPropertyDescriptor(holder, key)
    if (!descriptor) continue
    deprecated = isDeprecated(descriptor)
    break
  }
  if (!byKey) aboveOf.set(prototype, (byKey = new Map()))
  byKey.set(key, deprecated)
  return deprecated
}

function isDeprecated(descriptor: PropertyDescriptor): boolean {
  return descriptor.get?.name === 'deprecated'
}
