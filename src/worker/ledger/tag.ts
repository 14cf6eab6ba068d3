/**
 * A value attached to objects the plugin does not own (an emitter's scope of birth, a request's origin), kept in a
 * private field that the plugin adds to the object: no property, so equality, snapshots, `Object.keys`, reflection,
 * `inspect` and a Proxy's traps never see it, and the object's own code cannot reach it. It costs about what one
 * assignment costs (a WeakMap entry costs twice as much when set, and the garbage collector pays ~1 µs more for each
 * entry of a short-lived key: an HTTP round trip makes four or five emitters; a non-enumerable symbol property set
 * with `defineProperty` costs four times as much). An object that refuses a private field, and one given with
 * `setAside`, is kept in a WeakMap.
 */
export class Tag<T> {
  readonly #field: FieldAccess<T>
  #aside: WeakMap<object, T> | undefined

  constructor(_description: string) {
    this.#field = privateField<T>()
  }

  set(target: object, value: T): void {
    try {
      this.#field.set(target, value)
    } catch {
      ;(this.#aside ??= new WeakMap()).set(target, value)
    }
  }

  /**
   * `set` for an object being constructed, which has no field yet: the field is added without looking for it first
   * (an object of any class comes here, and looking costs as much as adding). One that has it already (constructed
   * twice over) or refuses it is given to `set`.
   */
  setOnNew(target: object, value: T): void {
    try {
      this.#field.add(target, value)
    } catch {
      this.set(target, value)
    }
  }

  /**
   * In the WeakMap: for event targets (an AbortController, an AbortSignal), which a new field slows down, once set
   * and at each of Node's later uses of them (~0.7 microseconds per signal, where a WeakMap entry costs ~0.3).
   */
  setAside(target: object, value: T): void {
    ;(this.#aside ??= new WeakMap()).set(target, value)
  }

  get(target: object): T | undefined {
    const value = this.#field.get(target)
    return value !== undefined || this.#aside === undefined ? value : this.#aside.get(target)
  }

  has(target: object): boolean {
    return this.#field.has(target) || this.#aside?.has(target) === true
  }
}

interface FieldAccess<T> {
  get(target: object): T | undefined
  has(target: object): boolean
  set(target: object, value: T): void
  /** Adds the field to an object that has none; throws if it has one, or refuses it. */
  add(target: object, value: T): void
}

/** A constructor that returns the object it is given: a subclass's field initialisers then add its fields to that. */
class Adopt {
  constructor(target: object) {
    // biome-ignore lint/correctness/noConstructorReturn: the return override is what adds the field to `target`
    return target
  }
}

/** A private field of its own (one class per Tag: each class has its own private name). */
function privateField<T>(): FieldAccess<T> {
  class Field extends Adopt {
    #value: T | undefined
    constructor(target: object, value: T) {
      super(target)
      this.#value = value
    }
    static get(target: object): T | undefined {
      return #value in target ? (target as Field).#value : undefined
    }
    static has(target: object): boolean {
      return #value in target
    }
    static set(target: object, value: T): void {
      if (#value in target) (target as Field).#value = value
      else new Field(target, value)
    }
    static add(target: object, value: T): void {
      new Field(target, value)
    }
  }
  return Field
}
