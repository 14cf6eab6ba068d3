import { createRequire } from 'node:module'
import type { Session } from 'node:inspector'
import { isOwn } from '../stacks/stack.js'
import { mainRealm } from './realm.js'

const require = createRequire(import.meta.url)

/**
 * Which of the user's variables hold a resource through a library's objects and closures, read with the inspector
 * protocol (the `[[Scopes]]` of functions, which no JavaScript can see).
 *
 * A library that opens its connection on a later tick of a call (postgres.js connects from a microtask of the
 * query's `then`) leaves no frame of the user's code on the socket's stack, and its pool may be made where nothing
 * the plugin sees is created (`postgres()` makes no emitter, timer or socket). Whose the connection is, the pool's
 * maker, shows only in who holds the pool: a variable of a describe body or of the module, seen by the test's
 * function in its enclosing scopes, outlives the test. This walks from those variables through the library's own
 * objects and closures (never through other code: module scopes, Node's internals and other packages are where
 * everything is reachable from everything) and tells which of them reach the resource.
 *
 * Costly: each inspector call takes 0.1 to 0.25 ms, a postgres.js pool takes some 1,500 of them (150 to 350 ms on
 * Node 20), and the Debugger domain is switched on for a moment (35 to 45 ms) to learn the files of the scripts.
 * Called only for a resource still open at a test's check that nothing else explains; never on a test that left
 * nothing open.
 */

/** The variable of the user's enclosing scopes through which each found target is reached, by target. */
export type HeldBy = Map<object, string>

/** Objects walked at most per search: the walk stops there and finds nothing more (a bound on the cost). */
const MAX_OBJECTS = 3000
/** Objects with more own properties than this are not walked into. */
const MAX_PROPERTIES = 64
/** Property or closure hops from a variable at most. */
const MAX_DEPTH = 20
/** Hops through Vitest's wrappers around the test's function (timeout, fixtures) to reach the user's function. */
const MAX_WRAPPER_DEPTH = 5
/** Functions looked at at most in Vitest's wrappers and what they close over. */
const MAX_WRAPPERS = 200
const HOLDER = Symbol.for('vitest-leaks.closures')
/** The inspector's handles of one search, released together. */
const GROUP = 'vitest-leaks'

interface RemoteObject {
  type: string
  subtype?: string
  className?: string
  objectId?: string
}

interface PropertyDescriptor {
  name: string
  value?: RemoteObject
  get?: RemoteObject
  set?: RemoteObject
}

interface Properties {
  result?: PropertyDescriptor[]
  internalProperties?: Array<{ name: string; value?: RemoteObject & { value?: { scriptId?: string } } }>
}

/** The file of each script the inspector knows, by script id: kept for the worker, refreshed when one is missing. */
const scriptUrls = new Map<string, string>()

/**
 * Looks for `targets` from the enclosing scopes of the user's functions found in (or wrapped by) `functions`,
 * through the objects and closures of `library` (a package name). Returns what it found; empty when the inspector
 * is not available or answers asynchronously (a Node built without it), and never throws.
 */
export function findHeldBy(functions: unknown[], targets: object[], library: string): HeldBy {
  const found: HeldBy = new Map()
  if (functions.length === 0 || targets.length === 0) return found
  let session: Session | undefined
  const realm = mainRealm() as unknown as Record<symbol, unknown>
  try {
    const { Session } = require('node:inspector') as typeof import('node:inspector')
    session = new Session()
    session.connect()
    const post = syncPost(session)
    realm[HOLDER] = { functions, targets: new Set(targets), seen: new WeakSet() }
    const holderId = post<{ result: RemoteObject }>('Runtime.evaluate', {
      expression: `globalThis[Symbol.for(${JSON.stringify(HOLDER.description)})]`,
      objectGroup: GROUP,
    }).result.objectId
    if (!holderId) return found
    const walk = new Walk(post, holderId, library, session, targets.length)
    try {
      walk.search(found)
    } finally {
      post('Runtime.releaseObjectGroup', { objectGroup: GROUP })
    }
    return found
  } catch {
    return found
  } finally {
    delete realm[HOLDER]
    try {
      session?.disconnect()
    } catch {
      // already gone
    }
  }
}

type Post = <T>(method: string, params: object) => T

/** The session's `post` as a plain call: the in-thread session answers synchronously, else this gives up. */
function syncPost(session: Session): Post {
  return <T>(method: string, params: object): T => {
    let answered = false
    let failure: Error | null = null
    let answer: unknown
    ;(session.post as Function)(method, params, (error: Error | null, result: unknown) => {
      answered = true
      failure = error
      answer = result
    })
    if (!answered) throw new Error(`inspector: ${method} was not answered synchronously`)
    if (failure) throw failure
    return answer as T
  }
}

type Kind = 'user' | 'library' | 'other'

interface Item {
  object: RemoteObject
  /** The user's variable it was reached from. */
  variable: string
  depth: number
  /** Met as a variable of a scope: the length of that scope's chain (its own and those enclosing it). */
  scopeLength?: number
}

/** How many scopes a function's chain has (`Scopes[3]`), its module's and the global one included. */
function scopesLength(properties: Properties): number | undefined {
  const description = (properties.internalProperties?.find((p) => p.name === '[[Scopes]]')?.value as { description?: string } | undefined)
    ?.description
  const match = /^Scopes\[(\d+)\]$/.exec(description ?? '')
  return match ? Number(match[1]) : undefined
}

class Walk {
  #visited = 0
  #refreshedScripts = false
  readonly #libraryPath: string

  constructor(
    readonly post: Post,
    readonly holderId: string,
    library: string,
    readonly session: Session,
    /** How many targets there are: the walk ends when all are found. */
    readonly targets: number,
  ) {
    this.#libraryPath = `/node_modules/${library}/`
  }

  search(found: HeldBy): void {
    const starts = this.#elements(this.#property(this.holderId, 'functions'))
    const variables = this.#userScopeVariables(starts)
    const queue: Item[] = []
    this.#enqueue(
      variables.map(({ name, value }) => ({ object: value, variable: name, depth: 0 })),
      queue,
      found,
    )
    for (let head = 0; head < queue.length && this.#visited < MAX_OBJECTS && found.size < this.targets; head++) {
      const { object, variable, depth, scopeLength } = queue[head]!
      this.#visited++
      if (depth >= MAX_DEPTH) continue
      const next: Item[] = []
      const add = (values: RemoteObject[], inScopeOf?: number) => {
        for (const value of values) next.push({ object: value, variable, depth: depth + 1, scopeLength: inScopeOf })
      }
      if (object.type === 'function') {
        const properties = this.#properties(object.objectId!)
        if (this.#kindOf(properties) !== 'library') continue
        add(this.#ownValues(properties))
        // A function met as a variable of a scope was most often made in that scope (the pool's closures, by the
        // hundred): its own scope is the one just read, unless its chain of scopes is of another length (a function
        // handed in from an enclosing scope)
        const length = scopesLength(properties)
        if (length !== scopeLength) add(this.#ownScope(properties), length)
      } else {
        if (object.className === 'process' || object.className === 'global' || object.subtype === 'proxy') continue
        const properties = this.#properties(object.objectId!)
        // a table of data (a library's type parsers by the hundred), not where a pool keeps its connections
        if ((properties.result?.length ?? 0) > MAX_PROPERTIES) continue
        add(this.#ownValues(properties))
        for (const internal of properties.internalProperties ?? []) {
          if (internal.name === '[[Entries]]' && internal.value?.objectId) add([internal.value])
        }
      }
      this.#enqueue(next, queue, found)
    }
  }

  /** Adds what was not seen yet to the queue; a target is noted as found (and not walked into). */
  #enqueue(items: Item[], queue: Item[], found: HeldBy): void {
    const walkable = items.filter(({ object }) => object.objectId && (object.type === 'object' || object.type === 'function'))
    if (walkable.length === 0) return
    const marks = this.post<{ result: { value?: number[] } }>('Runtime.callFunctionOn', {
      objectId: this.holderId,
      functionDeclaration:
        'function (...values) { return values.map((v) => this.targets.has(v) ? 2 : this.seen.has(v) ? 0 : (this.seen.add(v), 1)) }',
      arguments: walkable.map(({ object }) => ({ objectId: object.objectId })),
      returnByValue: true,
    }).result.value
    if (!Array.isArray(marks)) return
    walkable.forEach((item, index) => {
      if (marks[index] === 1) queue.push(item)
      else if (marks[index] === 2) {
        const target = this.#targetOf(item.object)
        if (target && !found.has(target)) found.set(target, item.variable)
      }
    })
  }

  /** The target object itself, back from the inspector's handle (through the holder's set). */
  #targetOf(object: RemoteObject): object | undefined {
    const holder = (mainRealm() as unknown as Record<symbol, { targets: Set<object> } | undefined>)[HOLDER]
    if (!holder) return undefined
    const index = this.post<{ result: { value?: number } }>('Runtime.callFunctionOn', {
      objectId: this.holderId,
      functionDeclaration: 'function (v) { return [...this.targets].indexOf(v) }',
      arguments: [{ objectId: object.objectId }],
      returnByValue: true,
    }).result.value
    return typeof index === 'number' && index >= 0 ? [...holder.targets][index] : undefined
  }

  /**
   * The variables of the scopes enclosing the user's function: found from the runner's function through the closures
   * of Vitest's wrappers (its timeout and fixture wrappers hold the user's function in a variable). Those closures
   * also reach other functions of the user's (the describe callback the test was collected in): the test's own is the
   * one nested deepest, with the most enclosing scopes.
   */
  #userScopeVariables(starts: RemoteObject[]): Array<{ name: string; value: RemoteObject }> {
    let best: Array<Array<{ name: string; value: RemoteObject }>> = []
    let bestDepth = 0
    let level = starts
    let walked = 0
    for (let depth = 0; depth < MAX_WRAPPER_DEPTH && level.length > 0; depth++) {
      const nextLevel: RemoteObject[] = []
      for (const fn of level) {
        if (fn.type !== 'function' || !fn.objectId || ++walked > MAX_WRAPPERS) continue
        const properties = this.#properties(fn.objectId)
        const kind = this.#kindOf(properties)
        if (kind === 'user') {
          const scopes = this.#scopes(properties, true)
          if (scopes.length > bestDepth) {
            best = []
            bestDepth = scopes.length
          }
          if (scopes.length === bestDepth) best.push(scopes.flat())
        } else if (kind === 'other') {
          nextLevel.push(
            ...this.#scopes(properties)
              .flat()
              .map((v) => v.value)
              .filter((v) => v.type === 'function'),
          )
        }
      }
      level = nextLevel
    }
    return best.flat()
  }

  #properties(objectId: string): Properties {
    return this.post<Properties>('Runtime.getProperties', { objectId, ownProperties: true, generatePreview: false, objectGroup: GROUP })
  }

  #property(objectId: string, name: string): string | undefined {
    return this.#properties(objectId).result?.find((p) => p.name === name)?.value?.objectId
  }

  #elements(objectId: string | undefined): RemoteObject[] {
    if (!objectId) return []
    return (this.#properties(objectId).result ?? []).filter((p) => /^\d+$/.test(p.name) && p.value).map((p) => p.value!)
  }

  /** Values of own properties, accessors' functions included (a library's getter closes over what it returns). */
  #ownValues(properties: Properties): RemoteObject[] {
    const values: RemoteObject[] = []
    for (const p of properties.result ?? []) {
      if (p.name === 'prototype' || p.name === 'constructor' || p.name === '__proto__') continue
      if (p.value) values.push(p.value)
      if (p.get) values.push(p.get)
      if (p.set) values.push(p.set)
    }
    return values
  }

  /**
   * The variables of a function's closure scopes, innermost first (`ownOnly`: the innermost alone). Never its
   * module's, the script's or the global scope (`withModule` adds the module's, for the user's own functions: a
   * module-level variable outlives a test).
   */
  #scopes(properties: Properties, withModule = false, ownOnly = false): Array<Array<{ name: string; value: RemoteObject }>> {
    const list = properties.internalProperties?.find((p) => p.name === '[[Scopes]]')?.value as
      | (RemoteObject & { description?: string })
      | undefined
    // `Scopes[2]`: the module's (or a CommonJS wrapper's) and the global scope, nothing of its own to read
    if (!list?.objectId || (!withModule && /^Scopes\[[0-2]\]$/.test(list.description ?? ''))) return []
    const scopes = (this.#properties(list.objectId).result ?? []).filter((scope) => {
      const description = (scope.value as { description?: string } | undefined)?.description ?? ''
      return scope.value?.objectId && description !== 'Global' && description !== 'Script'
    })
    // the outermost left is the function's module scope (an ES module's, or the wrapper of a CommonJS one, Node's
    // internals too), where everything of the package meets: read only for the user's own functions
    if (!withModule) scopes.pop()
    // a library function's own scope only: its outer ones are the own scopes of the functions made in them, met
    // through it (each pool closure re-reading the pool's scope made most of the cost)
    if (ownOnly) scopes.splice(1)
    return scopes.map((scope) =>
      (this.#properties(scope.value!.objectId!).result ?? []).flatMap((variable) =>
        variable.value ? [{ name: variable.name, value: variable.value }] : [],
      ),
    )
  }

  /** The variables of a library function's own scope (the innermost one), unless that is its module's. */
  #ownScope(properties: Properties): RemoteObject[] {
    return this.#scopes(properties, false, true)
      .flat()
      .map((v) => v.value)
  }

  /** Whose code a function is: the user's (outside node_modules and Node), the library's, or any other. */
  #kindOf(properties: Properties): Kind {
    const location = properties.internalProperties?.find((p) => p.name === '[[FunctionLocation]]')?.value?.value
    const scriptId = location?.scriptId
    if (!scriptId) return 'other'
    let url = scriptUrls.get(scriptId)
    if (url === undefined && !this.#refreshedScripts) {
      this.#refreshScripts()
      url = scriptUrls.get(scriptId)
    }
    if (!url) return 'other'
    const path = url.replace(/\\/g, '/')
    if (path.includes(this.#libraryPath)) return 'library'
    if (path.includes('/node_modules/') || path.startsWith('node:') || !path.includes('/') || isOwn(url)) return 'other'
    return 'user'
  }

  /** The Debugger domain lists every script (id and file) when enabled; it is disabled again at once. */
  #refreshScripts(): void {
    this.#refreshedScripts = true
    const onScript = (message: { params: { scriptId: string; url: string } }) => scriptUrls.set(message.params.scriptId, message.params.url)
    this.session.on('Debugger.scriptParsed', onScript)
    try {
      this.post('Debugger.enable', {})
      this.post('Debugger.disable', {})
    } finally {
      this.session.off('Debugger.scriptParsed', onScript)
    }
  }
}
