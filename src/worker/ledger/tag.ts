/**
 * A value attached to objects the plugin does not own (an emitter's scope of birth, a request's origin), kept on the
 * object itself under a symbol that is not enumerable, so equality, snapshots and `inspect` never see it. A WeakMap
 * entry would do the same, but the garbage collector pays ~1 µs for each entry of a short-lived key (an HTTP round
 * trip makes four or five emitters and a request), and a property costs nothing once set. Objects that refuse a
 * property (frozen ones), and those given with `setAside`, are kept in a WeakMap.
 */
export class Tag<T> {
  readonly #key: symbol
  #aside: WeakMap<object, T> | undefined

  constructor(description: string) {
    this.#key = Symbol(`vitest-leaks: ${description}`)
  }

  set(target: object, value: T): void {
    try {
      Object.defineProperty(target, this.#key, { value, writable: true, configurable: true, enumerable: false })
    } catch {
      this.setAside(target, value)
    }
  }

  /**
   * In the WeakMap: for objects whose properties are slow to add (an AbortSignal, ~0.8 us against ~0.4 us for a
   * WeakMap entry). An object is tagged one way or the other, never both: the property is read first.
   */
  setAside(target: object, value: T): void {
    ;(this.#aside ??= new WeakMap()).set(target, value)
  }

  get(target: object): T | undefined {
    return this.#own(target) ?? this.#aside?.get(target)
  }

  /**
   * `get`, looking in the WeakMap first: for objects that are tagged there when they are tagged at all (event
   * targets), whose property lookup misses through a long prototype chain.
   */
  getAsideFirst(target: object): T | undefined {
    return this.#aside?.get(target) ?? this.#own(target)
  }

  #own(target: object): T | undefined {
    try {
      return (target as Record<symbol, T | undefined>)[this.#key]
    } catch {
      // a Proxy whose get trap throws for keys it does not know
      return undefined
    }
  }

  /** Whether `setAside` tagged it: a WeakMap lookup, without the property read (which is slow on an AbortSignal). */
  hasAside(target: object): boolean {
    return this.#aside?.has(target) === true
  }
}
