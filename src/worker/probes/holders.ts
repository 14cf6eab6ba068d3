import type { Scope } from '../ledger/ledger.js'
import { mainRealm } from '../node/realm.js'
import { captureCallSites, hasUserFrame, LazyCallSites, type CallSites } from '../stacks/stack.js'
import { followNewEmitters } from './emitter-follow.js'

/**
 * The objects that hold connections: Node's `http.Agent`s (and https'), undici dispatchers (Agent, Pool, Client),
 * pg-pool pools and ioredis clients, each with the scope it was created in. They answer the two questions a socket
 * or timer cannot answer about itself:
 * - whose is an idle connection (or a pool's idle-reaper timer)? The pool's, so the scope that created the pool,
 *   whenever the connection was opened: a pool from a module, a describe body or a beforeAll belongs to that file
 *   or suite even when a test made its first connection; a pool the test created is the test's. A pool that a
 *   library made for itself outside any test (a module-level default agent, with no frame of the user's code on the
 *   stack) is shared, like Node's global agents: nobody's to close.
 * - where was a connection asked for, when the library opened it on a later tick (ioredis connects in a
 *   `process.nextTick`) and the socket's own stack has no frame of the user's code?
 *
 * Noticed in `EventEmitter.init` (every emitter's constructor calls it, and these classes are emitters): the object's
 * prototype is already its class's, so one cheap shape test per emitter tells them apart, and nothing is imported
 * from the libraries.
 */
export type HolderKind = 'http-agent' | 'undici' | 'pg-pool' | 'ioredis'

interface Holder {
  kind: HolderKind
  ref: WeakRef<object>
  /** The scope it was created in; undefined for a library's own pool made outside any test (shared). */
  owner: Scope | undefined
  /** Where it was created: kept only for ioredis clients, whose sockets have no user frame of their own. */
  sites: CallSites | undefined
  /** Where an undici dispatcher or http.Agent was created, read only if a connection it holds idle is reported (lazily: cheap). */
  stack?: LazyCallSites
}

/** The pool an idle resource is parked in: `owner` undefined for a shared one (undici's global dispatcher). */
export interface ParkedIn {
  name: string
  owner: Scope | undefined
  /** The connection the resource belongs to (an idle timer's client socket), when it is not the resource itself. */
  socket?: object
  /** Where the pool was created: where the fix goes for a connection it holds idle (undici dispatchers, http.Agents). */
  stack?: LazyCallSites
}

interface HolderState {
  installed: boolean
  holders: Holder[]
  byObject: WeakMap<object, Holder>
  /** undici: the pool behind each socket (from `undici:client:connected`, which names the pool's connector). */
  undiciPools: WeakMap<object, ParkedIn>
}

// On `process`, like the runtime: one registry per worker, however often the module is evaluated.
const STATE = Symbol.for('vitest-leaks.holders')
const PRUNE_START = 64
let pruneAt = PRUNE_START

function state(): HolderState {
  const host = process as unknown as Record<symbol, HolderState | undefined>
  return (host[STATE] ??= { installed: false, holders: [], byObject: new WeakMap(), undiciPools: new WeakMap() })
}

/** Starts noticing holders as they are created, owned by `current()`. Once per worker; returns the undo. */
export function installHolders(current: () => Scope): () => void {
  const s = state()
  if (s.installed) return () => {}
  s.installed = true
  const unfollow = followNewEmitters((emitter, skip, prototype) => {
    const kind = kindOf(emitter, prototype)
    if (!kind) return
    const scope = current()
    // outside a test, whether the user's code or a library's own made it decides whose it is (rare: one stack each)
    const sites = kind === 'ioredis' || scope.kind !== 'test' ? captureCallSites(skip) : undefined
    register(
      s,
      emitter,
      kind,
      scope.kind !== 'test' && !hasUserFrame(sites) ? undefined : scope,
      kind === 'ioredis' ? sites : undefined,
      // where a fix (`agent.destroy()`, `pool.close()`) goes for a connection the pool holds idle, read only then
      kind === 'undici' || kind === 'http-agent' ? creationStack(emitter) : undefined,
    )
  })
  return () => {
    unfollow()
    s.installed = false
  }
}

/**
 * Where a dispatcher was created, from the caller of its `new` up: the constructors' frames would hold the dispatcher
 * itself (a raw stack keeps each frame's receiver), and the registry holds dispatchers only weakly.
 */
function creationStack(object: object): LazyCallSites | undefined {
  const ctor = (Object.getPrototypeOf(object) as { constructor?: unknown } | null)?.constructor
  return typeof ctor === 'function' ? new LazyCallSites(ctor) : undefined
}

/**
 * The kind of holder an emitter is, by the methods its class has, decided once per prototype: an HTTP round trip
 * constructs several emitters, and three lookups of missing properties on each of their shapes cost more than one
 * WeakMap lookup. (At construction only the prototype's methods are there, so the answer is the class's.)
 */
const kindsByPrototype = new WeakMap<object, HolderKind | null>()

function kindOf(object: object, prototype: object | null): HolderKind | undefined {
  if (prototype === null) return shapeKind(object)
  let kind = kindsByPrototype.get(prototype)
  if (kind === undefined) kindsByPrototype.set(prototype, (kind = shapeKind(object) ?? null))
  return kind ?? undefined
}

function shapeKind(object: any): HolderKind | undefined {
  if (typeof object.addRequest === 'function' && typeof object.createConnection === 'function') return 'http-agent'
  if (typeof object.dispatch === 'function' && typeof object.compose === 'function') return 'undici'
  if (typeof object._pulseQueue === 'function' && typeof object._release === 'function') return 'pg-pool'
  if (typeof object.sendCommand === 'function' && typeof object.duplicate === 'function') return 'ioredis'
  return undefined
}

function register(
  s: HolderState,
  object: object,
  kind: HolderKind,
  owner: Scope | undefined,
  sites: CallSites | undefined,
  stack: LazyCallSites | undefined,
): void {
  const holder: Holder = { kind, ref: new WeakRef(object), owner, sites, stack }
  s.holders.push(holder)
  s.byObject.set(object, holder)
  if (s.holders.length >= pruneAt) {
    s.holders = s.holders.filter((h) => h.ref.deref() !== undefined)
    pruneAt = Math.max(PRUNE_START, s.holders.length * 2)
  }
}

function* live(kind: HolderKind): Generator<[object, Holder]> {
  for (const holder of state().holders) {
    const object = holder.ref.deref()
    if (holder.kind === kind && object) yield [object, holder]
  }
}

/** A property keyed by one of the library's private symbols (`Symbol('connector')`), found by its description. */
function symbolProperty(object: object, description: string): unknown {
  for (const key of Object.getOwnPropertySymbols(object)) {
    if (key.description === description) return (object as Record<symbol, unknown>)[key]
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------
// http.Agent

/**
 * Who owns an http.Agent's idle connections: `{ known: false }` for an agent made before the plugin was installed
 * (Node's global agents are, when node:http was loaded first); else the scope it was created in, undefined for a
 * library's own.
 */
export function agentOwner(agent: object): { known: boolean; owner: Scope | undefined; stack?: LazyCallSites } {
  const holder = state().byObject.get(agent)
  return holder ? { known: true, owner: holder.owner, stack: holder.stack } : { known: false, owner: undefined }
}

// ---------------------------------------------------------------------------------------------------------------
// undici

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1')

/**
 * Called for `undici:client:connected`: notes which pool the socket belongs to. The message names the connector
 * function, which a Pool (or a lone Client) builds once and shares with all of its clients; an Agent's pools are
 * found in the Agent's map of origins. Owned by nobody when it is the global dispatcher (fetch's) or unknown.
 */
export function noteUndiciSocket(socket: object, connector: unknown): void {
  const s = state()
  let direct: object | undefined
  for (const [object] of live('undici')) {
    if (
      symbolProperty(object, 'connector') === connector ||
      (symbolProperty(object, 'options') as { connect?: unknown } | undefined)?.connect === connector
    ) {
      direct = object
      break
    }
  }
  // the global dispatcher may be older than the plugin (Vitest 5 on Node 22 makes it before the setup file runs)
  // Node's fetch keeps it on the worker's own global object, not on a vm pool's context
  const globalDispatcher =
    (mainRealm() as unknown as Record<symbol, unknown>)[GLOBAL_DISPATCHER] ?? (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER]
  let top = direct
  for (let depth = 0; top && depth < 4; depth++) {
    const parent = parentOf(top, globalDispatcher)
    if (!parent) break
    top = parent
  }
  const holder = top && top !== globalDispatcher ? s.byObject.get(top) : undefined
  s.undiciPools.set(
    socket,
    holder
      ? { name: `an undici ${top!.constructor?.name ?? 'dispatcher'}`, owner: holder.owner, stack: holder.stack }
      : { name: "fetch's pool", owner: undefined },
  )
}

function parentOf(dispatcher: object, globalDispatcher: unknown): object | undefined {
  const candidates = [...live('undici')].map(([object]) => object)
  if (typeof globalDispatcher === 'object' && globalDispatcher) candidates.push(globalDispatcher)
  for (const object of candidates) {
    if (object === dispatcher) continue
    const clients = symbolProperty(object, 'clients')
    // no instanceof: in the vm pools Node's own undici (fetch's) makes its Maps and WeakRefs in another realm
    const entries = isMap(clients) || Array.isArray(clients) ? clients.values() : undefined
    if (!entries) continue
    for (const entry of entries) {
      const value = deref(entry) ?? (entry as { dispatcher?: unknown })?.dispatcher ?? entry
      if ((deref(value) ?? value) === dispatcher) return object
    }
  }
  return undefined
}

function isMap(value: unknown): value is Map<unknown, unknown> {
  return Object.prototype.toString.call(value) === '[object Map]'
}

function deref(value: unknown): unknown {
  return Object.prototype.toString.call(value) === '[object WeakRef]' ? (value as WeakRef<object>).deref() : undefined
}

/** The undici pool an idle socket is parked in (undici unrefs a socket while it is idle). */
export function undiciPoolOf(socket: object): ParkedIn | undefined {
  return state().undiciPools.get(socket)
}

// ---------------------------------------------------------------------------------------------------------------
// pg-pool

interface PgIdleItem {
  client?: { connection?: { stream?: object } }
  idleListener?: unknown
  timeoutId?: object
}

/**
 * The pg-pool pool whose idle list holds this client socket, or this idle-reaper timer or idle 'error' listener
 * (with its client's socket).
 */
export function pgPoolOf(resource: object): ParkedIn | undefined {
  for (const [pool, holder] of live('pg-pool')) {
    const idle = (pool as { _idle?: PgIdleItem[] })._idle
    if (!Array.isArray(idle)) continue
    for (const item of idle) {
      const socket = item.client?.connection?.stream
      if (socket === resource) return { name: 'a pg Pool', owner: holder.owner }
      if (item.timeoutId === resource || item.idleListener === resource) return { name: 'a pg Pool', owner: holder.owner, socket }
    }
  }
  return undefined
}

/**
 * For a listener on a pg client: the pool holding the client idle (pg-pool's idle 'error' listener), `'ended'` when
 * the client has been ended (pg-pool leaves that listener on a client it removes; it goes away with the client).
 */
export function pgListenerParkedIn(target: object, listener: unknown): ParkedIn | 'ended' | undefined {
  const client = target as { _ending?: boolean; connection?: { stream?: object } }
  if (client._ending === true && typeof client.connection === 'object') return 'ended'
  return typeof listener === 'object' || typeof listener === 'function' ? pgPoolOf(listener as object) : undefined
}

// ---------------------------------------------------------------------------------------------------------------
// ioredis

/** Where the ioredis client holding this socket was created (it connects on a later tick, out of the user's stack). */
export function clientSitesOf(socket: object): CallSites | undefined {
  for (const [client, holder] of live('ioredis')) {
    if ((client as { stream?: object }).stream === socket) return holder.sites
  }
  return undefined
}
