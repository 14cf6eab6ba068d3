/**
 * A value attached to objects the plugin does not own (an emitter's scope of birth, a request's origin), kept on the
 * object itself under a symbol that is not enumerable, so equality, snapshots and `inspect` never see it. A WeakMap
 * entry would do the same, but the garbage collector pays ~1 µs for each entry of a short-lived key (an HTTP round
 * trip makes four or five emitters and a request), and a property costs nothing once set. Objects that refuse a
 * property (frozen ones) are kept in a WeakMap.
 */
export class Tag<T> {
  readonly #key: symbol
  #refused: WeakMap<object, T> | undefined

  constructor(description: string) {
    this.#key = Symbol(`vitest-leaks: ${description}`)
  }

  set(target: object, value: T): void {
    try {
      Object.defineProperty(target, this.#key, { value, writable: true, configurable: true, enumerable: false })
    } catch {
      ;(this.#refused ??= new WeakMap()).set(target, value)
    }
  }

  get(target: object): T | undefined {
    let value: T | undefined
    try {
      value = (target as Record<symbol, T | undefined>)[this.#key]
    } catch {
      // a Proxy whose get trap throws for keys it does not know
      value = undefined
    }
    return value ?? this.#refused?.get(target)
  }

  has(target: object): boolean {
    return this.get(target) !== undefined
  }
}
