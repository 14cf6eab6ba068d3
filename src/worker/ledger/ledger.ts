import { AsyncLocalStorage, executionAsyncId, executionAsyncResource } from 'node:async_hooks'
import type { IgnoreRule, LeakKind } from '../../shared/options.js'
import { isCreatedByVitest, LazyCallSites, type CallSites } from '../stacks/stack.js'
import { Tag } from './tag.js'
import { currentAsyncId } from '../stacks/async-context.js'

/** Who owns a resource: the innermost test, suite or file that was running when it was created. */
export interface Scope {
  kind: 'test' | 'suite' | 'file'
  /** The test or suite name as Vitest shows it, e.g. `api > GET /users`. */
  name: string
  parent: Scope | undefined
  /** What was running in this scope when a resource was created, for suite and file messages. */
  phase: ScopePhase
  records: Set<LeakRecord>
  /** Ignore rules added by `ignoreLeaks()` while this scope ran; they apply to it and to the scopes inside it. */
  ignore: IgnoreRule[]
  /** Number of records after which closed ones are dropped, so a test creating many short-lived timers stays small. */
  pruneAt: number
  /** Creation stacks taken so far by each budgeted family (timers, HTTP requests), up to the ledger's `stacksPerTest`. */
  stacks: Partial<Record<StackFamily, number>>
  /**
   * Resources of `fresh` probes (timers, listeners) noted in this scope and not made records yet, five slots each:
   * resource, probe, stack, phase, async id. Most are closed long before the check, which makes records of the rest.
   */
  noted: unknown[]
  /** Length of `noted` at which the closed ones are dropped. */
  notedPruneAt: number
  /**
   * A test's own function as the runner holds it (wrapped by Vitest): its enclosing scopes (a describe body, the
   * module) hold what outlives the test. Read only for a leak nothing else explains (see stacks/library-calls.ts).
   */
  code?: () => unknown
  /** A test's own AbortSignal (Vitest's `context.signal`), made before the test began: what listens to it is the test's. */
  signal?: object
}

export type ScopePhase = 'collect' | 'beforeAll' | 'tests' | 'afterAll' | 'test'

/** What was created, by any scope, while a check settled (see Ledger.watchMade); held weakly. */
export type MadeWhileSettling = Array<{ resource: WeakRef<object>; probe: Probe }>

/** What is made by the thousand, and keeps a creation stack only for the first `stacksPerTest` of each scope. */
export type StackFamily = 'timers' | 'requests'

export interface LeakRecord<R extends object = object> {
  /**
   * Held weakly (see TrackedRecord): undefined once the program let it go and it was collected, which only happens to
   * a resource that holds nothing open (an open socket, server or child is kept alive by its handle).
   */
  readonly resource: R
  probe: Probe<R>
  owner: Scope
  /** The scope's phase when the resource was created (a suite's beforeAll vs afterAll). */
  phase: ScopePhase
  /**
   * Where it was created; turned into call sites on first read (see LazyCallSites). A probe may replace it with a
   * better origin (the user's `new Redis()` for a socket the client opened on a later tick).
   */
  sites: CallSites | undefined
  /** No stack was taken: its owner had already kept `stacksPerTest` stacks of its kind (see Probe.budgeted). */
  readonly overBudget: boolean
  /** No stack was taken: Node's own code made it (see `Ledger.note`). */
  readonly madeByNode: boolean
  /** Not the test's: Vitest's own (its task-update timer), or what the probe says (Probe.foreign). Decided on first read. */
  readonly foreign: boolean
  /** Trace mode only: the async context it was created in. */
  readonly asyncId?: number
  createdAt: number
}

class TrackedRecord<R extends object> implements LeakRecord<R> {
  /** When it was tracked (for a resource of a `fresh` probe: when the check made it a record). */
  readonly createdAt = Date.now()
  #stack: LazyCallSites | typeof MADE_BY_NODE | undefined
  #foreign: boolean | undefined
  /**
   * The plugin keeps nothing alive that the program let go: a closed socket accepted by a server of the file's
   * scope would otherwise stay in that scope's records until the next prune, with the request and everything its
   * handlers held (a test that checks with a FinalizationRegistry that they are collected fails).
   */
  readonly #resource: WeakRef<R>
  /**
   * The resource of a probe that makes its own (Probe.describes): nothing of the program holds it, so the record
   * does, until it is forgotten. Held weakly only, it would be collected before its check, and its leak taken for closed.
   */
  #held: R | undefined

  constructor(
    resource: R,
    readonly probe: Probe<R>,
    public owner: Scope,
    public phase: ScopePhase,
    stack: LazyCallSites | typeof MADE_BY_NODE | undefined,
    /** The async context it was created in, only in trace mode: the start of its trigger chain. */
    readonly asyncId: number | undefined,
  ) {
    this.#stack = stack
    this.#resource = new WeakRef(resource)
    if (probe.describes) this.#held = resource
  }

  get resource(): R {
    return this.#held ?? (this.#resource.deref() as R)
  }

  /** Forgotten by the ledger: from now on, what it describes is held weakly like any other resource. */
  letGo(): void {
    this.#held = undefined
  }

  #replaced: { sites: CallSites | undefined } | undefined

  get sites(): CallSites | undefined {
    if (this.#replaced) return this.#replaced.sites
    return this.#stack === MADE_BY_NODE ? undefined : this.#stack?.sites
  }

  get overBudget(): boolean {
    return this.#stack === undefined && this.#replaced === undefined
  }

  get madeByNode(): boolean {
    return this.#stack === MADE_BY_NODE && this.#replaced === undefined
  }

  set sites(sites: CallSites | undefined) {
    this.#replaced = { sites }
    this.#foreign = undefined
  }

  get foreign(): boolean {
    return (this.#foreign ??= this.probe.foreign ? this.probe.foreign(this.sites) : isCreatedByVitest(this.sites))
  }
}

/** `Ledger.callbackOwners`: a Tag whose changes are told, since `Ledger.current` keeps its last answer. */
class CallbackOwners extends Tag<Scope> {
  readonly #changed: () => void

  constructor(changed: () => void) {
    super('owner of its callbacks')
    this.#changed = changed
  }

  override set(target: object, value: Scope): void {
    super.set(target, value)
    this.#changed()
  }
}

const PRUNE_START = 256
/** In place of a stack: not taken, because Node's own code made the resource (see `Ledger.note`). */
const MADE_BY_NODE = Symbol('made by Node')
/** Slots per entry of `Scope.noted`. */
const NOTE = 5
// Above this gap between one test's check and the next test's start, the runner may have let the event loop run
// other callbacks: the next test looks for itself.
const SIBLING_GAP_MS = 10

/** `name` may be given as a function: it is read only to report a leak, and building it costs every test. */
export function createScope(kind: Scope['kind'], name: string | (() => string), parent: Scope | undefined, phase: ScopePhase): Scope {
  return new ScopeState(kind, name, parent, phase)
}

class ScopeState implements Scope {
  records = new Set<LeakRecord>()
  ignore: IgnoreRule[] = []
  pruneAt = PRUNE_START
  stacks: Scope['stacks'] = {}
  noted: unknown[] = []
  notedPruneAt = PRUNE_START * NOTE
  code: (() => unknown) | undefined
  signal: object | undefined
  #name: string | (() => string)

  constructor(
    readonly kind: Scope['kind'],
    name: string | (() => string),
    readonly parent: Scope | undefined,
    public phase: ScopePhase,
  ) {
    this.#name = name
  }

  get name(): string {
    if (typeof this.#name === 'function') this.#name = this.#name()
    return this.#name
  }
}

/**
 * The live resources the probes noticed, each with its owner. Lookups by resource are by identity (a WeakMap), so
 * nothing is counted twice and a neighbour is never blamed for another scope's resource.
 */
export class Ledger {
  #current: Scope
  /**
   * Concurrent tests run interleaved, so "the test running now" is only known per async context. AsyncLocalStorage
   * gives that, but on Node 20 and 22 it enables promise hooks for the whole worker (await-heavy code gets several
   * times slower), so it is created only when a file has concurrent tests.
   */
  #async: AsyncLocalStorage<Scope> | undefined
  /** Called (by the runtime: once, on stderr) when tracking itself fails; the user's call goes on regardless. */
  onInternalError: (error: unknown) => void = () => {}
  /** Resources alive but not their owner's to close (idle sockets in a shared keep-alive pool), re-judged by every check. */
  readonly pooled = new Set<LeakRecord>()
  /**
   * Leaks already reported and left as they were (option `cleanup` off): no longer judged, but still known, so that
   * the descriptor snapshot does not report the same server again as an unexplained descriptor of the file. Their
   * records hold them weakly; the closed ones are dropped when the snapshot next reads the set.
   */
  readonly reported = new Set<LeakRecord>()
  /**
   * The scope each emitter or event target was created in (the listeners probe stamps them: EventEmitter.init runs in
   * every emitter's constructor, an AbortSignal is stamped when its controller hands it out; the hooks stamp a test's
   * own `context.signal`). One never seen is older than the plugin: `process`, emitters of modules loaded earlier.
   */
  readonly bornIn = new Tag<Scope>('born in scope')
  /** Option `stacksPerTest`: how many of each StackFamily (timers, requests) of each scope get a creation stack. */
  stacksPerTest = Infinity
  /** Probes that find resources by looking rather than by being told (the fd snapshot); added by their install. */
  readonly lookers = new Set<Probe>()
  /** Probes that count some of a scope's resources rather than note them (see Probe.collect); added by their install. */
  readonly collectors = new Set<Probe>()
  /** Installed probes that can tell whether something of theirs outside the checked scope is still closing (Probe.settling). */
  readonly settlers = new Set<Probe>()
  readonly #byResource = new WeakMap<object, LeakRecord>()
  /** Scopes that became current: a concurrent test never does (its siblings run at the same time). */
  readonly #entered = new WeakSet<Scope>()
  /** The lists of the checks settling now (see `watchMade`): usually none, one while a check waits. */
  readonly #watchers = new Set<MadeWhileSettling>()

  constructor(root: Scope) {
    this.#current = root
  }

  /**
   * The owner of a resource created now: the concurrent test whose async context this is; else, inside the callback
   * of a timer whose owner is known (see `callbackOwners`), that owner; else the running scope. A retry timer that an
   * earlier test left, firing during a later test, makes its next attempt for the earlier test, never for the test
   * that happens to run.
   */
  get current(): Scope {
    // asked a dozen times per HTTP round trip, and at every listener and timer: the answer for the async context
    // asked last is kept until the scope or a callback's owner changes. This path is kept small, so that V8 inlines
    // it into its callers; the rest is `#lookUp`.
    const last = this.#lastAsked
    if (this.#async === undefined && last.id === executionAsyncId() && last.running === this.#current) return last.owner
    return this.#lookUp()
  }

  #lookUp(): Scope {
    const store = this.#async?.getStore()
    if (store) return store
    const last = this.#lastAsked
    const id = executionAsyncId()
    if (last.id === id && last.running === this.#current) return last.owner
    const owner = this.callbackOwners.get(executionAsyncResource()) ?? this.#current
    last.id = id
    last.running = this.#current
    last.owner = owner
    return owner
  }

  /** The async context `current` was asked in last, while which scope ran, and its answer. */
  readonly #lastAsked: { id: number; running: Scope | undefined; owner: Scope } = { id: -1, running: undefined, owner: undefined! }

  /** The scope running now (the one the hooks entered), whatever callback this is: for the hooks themselves. */
  get running(): Scope {
    return this.#async?.getStore() ?? this.#current
  }

  /**
   * The owner of the callbacks each timer (or immediate) runs, when they run outside the test that made it: tagged
   * for those made outside any test (a suite's, the file's) when they are made, and for a test's when its check finds
   * them still pending (see Probe.runsCallbacks). Node runs a timer's callback with the Timeout as the current async
   * resource, with or without async hooks enabled; what its callback awaits runs later, outside it.
   */
  readonly callbackOwners = new CallbackOwners(() => {
    this.#lastAsked.id = -1
  })

  /**
   * A scope that becomes current (not a return to an enclosing one) starts: the lookers look first (see Probe.look),
   * so what appeared since their last look is the enclosing scope's. Right after a sibling test's check looked (and
   * nothing was awaited since), only Vitest's runner has run in between: that look stands for this one, which halves
   * the cost of the looks for a file of many tests.
   */
  set current(scope: Scope) {
    if (this.lookers.size > 0 && scope !== this.#current && !encloses(scope, this.#current)) {
      this.#entered.add(scope)
      if (!this.#followsCheckedSibling(scope)) this.#look(this.#current)
    }
    this.#checked = undefined
    this.#current = scope
  }

  /** The test whose check was the last look, and when: set by `checked`, cleared by any change of scope. */
  #checked: { scope: Scope; at: number } | undefined

  /** Called when a test's check ended without awaiting anything after its look (see `set current`). */
  checked(scope: Scope): void {
    if (scope.kind === 'test' && this.#entered.has(scope)) this.#checked = { scope, at: performance.now() }
  }

  #followsCheckedSibling(scope: Scope): boolean {
    const last = this.#checked
    return (
      last !== undefined &&
      scope.kind === 'test' &&
      last.scope.parent === scope.parent &&
      scope.parent === this.#current &&
      performance.now() - last.at < SIBLING_GAP_MS
    )
  }

  /**
   * Before `scope` is judged: what the lookers find new is its own, or, for a scope that never became current (a
   * concurrent test), that of the innermost enclosing scope that did, since no single test can be blamed for it.
   */
  lookBeforeCheck(scope: Scope): void {
    if (this.lookers.size === 0) return
    let owner = scope
    while (!this.#entered.has(owner) && owner.parent) owner = owner.parent
    this.#look(owner)
  }

  #look(owner: Scope): void {
    for (const probe of this.lookers) {
      try {
        probe.look?.(owner, this)
      } catch (error) {
        this.onInternalError(error)
      }
    }
  }

  /**
   * From now until the returned function is called: every resource any scope creates (tracked or noted) is also added
   * to `made`, held weakly. A check that settles watches what runs meanwhile: the close callbacks of other scopes'
   * resources (a proxy's handler that closes its upstream a few ms after its client's connection closed) may set off
   * the last steps of a close that the checked scope's resources wait on.
   */
  watchMade(made: MadeWhileSettling): () => void {
    this.#watchers.add(made)
    return () => void this.#watchers.delete(made)
  }

  #noteMade(resource: object, probe: Probe): void {
    for (const made of this.#watchers) made.push({ resource: new WeakRef(resource), probe })
  }

  /** For a probe that keeps a new resource aside instead of noting it (see Aside): tells the checks settling now. */
  madeAside(resource: object, probe: Probe): void {
    if (this.#watchers.size > 0) this.#noteMade(resource, probe)
  }

  /** Runs a concurrent test's body, hooks and fixtures with `scope` as the owner of what they create. */
  runIn<T>(scope: Scope, fn: () => T): T {
    this.#async ??= new AsyncLocalStorage<Scope>()
    return this.#async.run(scope, fn)
  }

  /**
   * Called by a probe when it notices a resource being created. `skip` is the probe's own function that was called
   * by the user's code (or Node's), so the recorded stack starts at the caller. What Vitest itself creates is told
   * apart later, only if it is still open at a check. Never throws: it runs inside the user's `setTimeout`,
   * `listen`, `connect`.
   */
  track<R extends object>(resource: R, probe: Probe<R>, skip: Function, owner?: Scope): LeakRecord<R> | undefined {
    try {
      const existing = this.#byResource.get(resource) as LeakRecord<R> | undefined
      if (existing && (existing.owner.records.has(existing) || this.pooled.has(existing))) return existing
      const scope = owner ?? this.current
      const record = new TrackedRecord(resource, probe, scope, scope.phase, this.#stackOf(probe, skip, scope), currentAsyncId())
      this.#byResource.set(resource, record)
      scope.records.add(record as LeakRecord)
      if (this.#watchers.size > 0) this.#noteMade(resource, probe)
      if (scope.records.size >= scope.pruneAt) prune(scope)
      return record
    } catch (error) {
      this.onInternalError(error)
      return undefined
    }
  }

  /**
   * `track` for a `fresh` probe (a Timeout, a listener entry: new objects by the ten thousand, nearly all closed
   * within their test): five values pushed onto the scope's `noted` list instead of a record and a set entry (a
   * tenth of a microsecond against half of one); the check makes records of those still open. `madeByNode`: the
   * probe knows Node's own code made it (a timer of fetch's), and no stack is taken, as none would show the test's
   * code; unless every stack is wanted (`stacksPerTest` all, trace mode). Returns the stack taken, if any.
   */
  note<R extends object>(resource: R, probe: Probe<R>, skip: Function, madeByNode = false): LazyCallSites | undefined {
    try {
      const scope = this.current
      const stack = madeByNode && this.stacksPerTest !== Infinity ? MADE_BY_NODE : this.#stackOf(probe, skip, scope)
      pushNoted(scope, resource, probe, stack)
      if (this.#watchers.size > 0) this.#noteMade(resource, probe)
      return stack === MADE_BY_NODE ? undefined : stack
    } catch (error) {
      this.onInternalError(error)
      return undefined
    }
  }

  /**
   * `note` for a resource past its scope's stack budget: the same five slots, without asking for a stack there is no
   * budget for. Called by a probe's `collect` for what it kept aside or counted past the budget and is still open at
   * the check (timers and immediates, see Aside; listeners), with the phase the scope was in then.
   */
  noteOverBudget<R extends object>(resource: R, probe: Probe<R>, scope: Scope, phase: ScopePhase = scope.phase): void {
    try {
      pushNoted(scope, resource, probe, undefined, phase)
    } catch (error) {
      this.onInternalError(error)
    }
  }

  /**
   * The records of a scope, with records made of what its `fresh` probes noted and is still open. Those whose
   * callbacks may still run (a pending timer, an unref'd one too) are tagged with the scope, which owns what they
   * make from now on (see `callbackOwners`).
   */
  recordsOf(scope: Scope): Set<LeakRecord> {
    for (const probe of this.collectors) {
      try {
        probe.collect!(scope, this)
      } catch (error) {
        this.onInternalError(error)
      }
    }
    const noted = scope.noted
    if (noted.length > 0) {
      for (let i = 0; i < noted.length; i += NOTE) {
        const probe = noted[i + 1] as Probe
        if (probe.runsCallbacks && probe.state(noted[i] as object, undefined).status !== 'closed')
          this.callbackOwners.set(noted[i] as object, scope)
      }
      pruneNoted(scope)
      for (let i = 0; i < noted.length; i += NOTE) {
        const record = new TrackedRecord(
          noted[i] as object,
          noted[i + 1] as Probe,
          scope,
          noted[i + 3] as ScopePhase,
          noted[i + 2] as LazyCallSites | typeof MADE_BY_NODE | undefined,
          noted[i + 4] as number | undefined,
        )
        scope.records.add(record as LeakRecord)
      }
      noted.length = 0
    }
    return scope.records
  }

  #stackOf(probe: Probe, skip: Function, scope: Scope): LazyCallSites | undefined {
    return probe.budgeted
      ? this.budgetedStack(probe.kind as StackFamily, skip, probe.stackFrames, scope)
      : new LazyCallSites(skip, probe.stackFrames)
  }

  /** Whether the running scope would still keep a creation stack for one more of `family`. */
  hasStackBudget(family: StackFamily, scope: Scope = this.current): boolean {
    return (scope.stacks[family] ?? 0) < this.stacksPerTest
  }

  /**
   * A creation stack for one of a family made by the thousand (timers; the HTTP requests that may leave a connection
   * busy), unless `scope` has already kept `stacksPerTest` of that family: a stack costs ~2.5 us in a loop and ~10 us
   * between network round trips, more than the call itself.
   */
  budgetedStack(family: StackFamily, skip: Function, frames: number | undefined, scope: Scope = this.current): LazyCallSites | undefined {
    if (!this.hasStackBudget(family, scope)) return undefined
    scope.stacks[family] = (scope.stacks[family] ?? 0) + 1
    return new LazyCallSites(skip, frames)
  }

  /** Hands a resource to a new owner (a server that listens again in a later test). */
  retrack<R extends object>(resource: R, probe: Probe<R>, skip: Function): LeakRecord<R> | undefined {
    const existing = this.#byResource.get(resource)
    if (existing) this.forget(existing)
    this.#byResource.delete(resource)
    return this.track(resource, probe, skip)
  }

  /** The record of a resource tracked with `track` (not one of a `fresh` probe, which has none until its check). */
  recordOf<R extends object>(resource: R): LeakRecord<R> | undefined {
    return this.#byResource.get(resource) as LeakRecord<R> | undefined
  }

  forget(record: LeakRecord): void {
    this.#unfile(record)
    ;(record as TrackedRecord<object>).letGo()
  }

  /** Gives a record to another scope, as what it was made for there (see stacks/library-calls.ts). */
  reown(record: LeakRecord, owner: Scope, phase: ScopePhase): void {
    this.#unfile(record)
    record.owner = owner
    record.phase = phase
    owner.records.add(record)
  }

  pool(record: LeakRecord): void {
    record.owner.records.delete(record)
    this.pooled.add(record)
  }

  /** Takes a record out of its scope's records and the pool, wherever it is. */
  #unfile(record: LeakRecord): void {
    record.owner.records.delete(record)
    this.pooled.delete(record)
  }
}

function encloses(outer: Scope, inner: Scope): boolean {
  for (let s: Scope | undefined = inner.parent; s; s = s.parent) if (s === outer) return true
  return false
}

/** Closed, or holding nothing open any more (an unref'd timer): never to be reported, so not worth keeping. */
function isGone(probe: Probe, resource: object | undefined): boolean {
  if (resource === undefined) return true
  const { status } = probe.state(resource, undefined)
  return status === 'closed' || status === 'excused'
}

/** Appends one entry to `scope.noted` (see Scope.noted), dropping the closed ones when the list has doubled. */
function pushNoted(
  scope: Scope,
  resource: object,
  probe: Probe,
  stack: LazyCallSites | typeof MADE_BY_NODE | undefined,
  phase: ScopePhase = scope.phase,
): void {
  const noted = scope.noted
  noted.push(resource, probe, stack, phase, currentAsyncId())
  if (noted.length >= scope.notedPruneAt) {
    pruneNoted(scope)
    scope.notedPruneAt = Math.max(PRUNE_START * NOTE, noted.length * 2)
  }
}

/** Drops the closed entries of `scope.noted`, in place. */
function pruneNoted(scope: Scope): void {
  const noted = scope.noted
  let kept = 0
  for (let i = 0; i < noted.length; i += NOTE) {
    if (isGone(noted[i + 1] as Probe, noted[i] as object)) continue
    if (kept !== i) for (let j = 0; j < NOTE; j++) noted[kept + j] = noted[i + j]
    kept += NOTE
  }
  noted.length = kept
}

function prune(scope: Scope): void {
  for (const record of scope.records) {
    if (isGone(record.probe, record.resource)) scope.records.delete(record)
  }
  scope.pruneAt = Math.max(PRUNE_START, scope.records.size * 2)
}

// ---------------------------------------------------------------------------------------------------------------------
// The contract between the ledger and the probes: what a probe tells the ledger, and what the ledger asks of it.

/**
 * - closed: gone, nothing to report.
 * - excused: alive, but holds nothing open (an unref'd timer): never reported, no longer tracked.
 * - pooled: alive, but not the owner's to close (an idle socket parked in a shared keep-alive pool); it stays
 *   tracked, and a later scope that makes it busy and leaves it so is blamed.
 * - closing: on its way out (a socket after `end()`, a killed child): worth waiting for, up to `settleTimeout`.
 * - open: alive and the owner's; a leak unless it closes while others settle.
 * - pending: not alive yet but may become so (a server whose `listen()` is still resolving its host): waited for
 *   like a closing one, and a leak only if it turns open.
 */
export type Status = 'closed' | 'excused' | 'pooled' | 'closing' | 'open' | 'pending'

export interface ResourceState {
  status: Status
  /**
   * Open, but maybe closing where the plugin cannot see it (a connection whose peer is another process, which may be
   * about to send its FIN): the check waits up to this many ms after it began settling before reporting it, together
   * with everything else it waits for (never once per leak). What closes meanwhile is not reported.
   */
  grace?: number
}

/** What a probe may look at when judging: the scope being checked, and the other live resources. */
export interface JudgeContext {
  scope: Scope
  ledger: Ledger
  /** How long (ms) the check waits for what is about to close (option `settleTimeout`): a timer due sooner is waited for. */
  settleWindow?: number
}

export interface Description {
  /** What it is and who it is, in plain words: `HTTP server listening on 127.0.0.1:41235`. */
  what: string
  /** Its state now: `listening, 2 open connections`. */
  state: string
  /** How to close it, as an imperative: `close it with \`server.close()\``. The report adds where. */
  fix: string
  /** Another way out, said after where: `or \`timer.unref()\` if it must outlive the test`. */
  alternative?: string
  /** Why there is no creation stack, when the probe knows (a descriptor found in the OS table, not seen opened). */
  noStack?: string
  /** False when the fix is not to close it somewhere (accept a library's listener with an ignore rule): no "where" is added. */
  fixWhere?: boolean
  /** The description already names the parts folded into it (see `partOf`): they are not listed again. */
  includesParts?: boolean
  /**
   * Often shared by the tests of a suite (a server): left by a test, the fix also says where a shared one belongs, since
   * closing it at the test's end would break the next test that uses it.
   */
  shared?: boolean
}

/**
 * One family of resource: how it is noticed (install), judged (state), described and closed. A new kind of leak is
 * one file implementing this and one line in probes/index.ts.
 */
export interface Probe<R extends object = any> {
  kind: LeakKind
  /** How many frames to keep of each creation stack (default 40); fewer for kinds created by the thousand. */
  stackFrames?: number
  /**
   * Created by the thousand, and judged without a stack (timers): each scope keeps a creation stack only for its
   * first `stacksPerTest` (see Ledger.budgetedStack); the rest are tracked and fail their owner all the same, without
   * a code frame. (Listeners are not: whether Node or the user added one is read from its stack.)
   */
  budgeted?: boolean
  /**
   * Every resource is a new object noticed once, at its creation (a Timeout, a listener entry), and nearly all are
   * closed within their test: the probe hands them to `ledger.note`, which keeps them in a flat list of its scope,
   * with no record and no index from resource to record until the check makes records of those still open. (The
   * index is a WeakMap whose value points back at its key: for a timer, ~2.5 µs of garbage collection, ten times what
   * setTimeout itself costs; a record and a set entry are another ~0.3 µs.)
   */
  fresh?: boolean
  /**
   * Its resources are objects the probe makes to describe what it found (a listener's entry, a descriptor or a
   * handle found by looking, a closed socket's watch): nothing of the program holds them, so each record holds its
   * own until the ledger forgets it, which it does at the first check that finds it closed. What it refers to of
   * the program's (a listener entry's emitter) is kept no longer than that; a socket's watch refers to it weakly.
   */
  describes?: boolean
  /**
   * Whether a resource still open at a check is not the test's, judged from its creation stack (read only then, for
   * the few still open). Default: created by Vitest's own code (its task-update timer, its RPC timeouts).
   */
  foreign?(sites: CallSites | undefined): boolean
  /**
   * The resource is what Node runs its callbacks in (a Timeout, an Immediate: `executionAsyncResource()` inside its
   * callback): what the callback creates belongs to the resource's owner (see Ledger.callbackOwners).
   */
  runsCallbacks?: boolean
  /** Starts noticing new resources; returns a function that undoes every patch and subscription. */
  install(ledger: Ledger): () => void
  /** Must be cheap: it runs for every record of a finished test. `ctx` is missing when only pruning closed ones. */
  state(resource: R, ctx: JudgeContext | undefined): ResourceState
  describe(resource: R, ctx: JudgeContext): Description
  /**
   * Where a resource noted without a stack of its own was created, when the probe can tell from another (a listener
   * past its event's budget of stacks, added by the same code as one that kept its stack).
   */
  origin?(resource: R): CallSites | undefined
  /**
   * Whether something of this family that the checked scope does not hold is still on its way out in this process (a
   * connection of another scope with one side ended and the other not closed yet). Its close callbacks may close what
   * the scope holds (a proxy closes its upstream once its client's connection has closed): while one is, a check that
   * has something left open goes on settling, within `settleTimeout`. Asked only then, never on a check with nothing
   * left open.
   */
  settling?(ctx: JudgeContext): boolean
  /**
   * Option `cleanup` only: a best-effort close after reporting, as harmless as the probe can make it (nothing the
   * program still waits on is cut off, nothing goes unhandled); must not throw.
   */
  close(resource: R): void
  /**
   * Option `cleanup` only: a later test of the file may still use it (a server the next test sends requests to), so
   * it is closed when the file ends, not right after its owner's check.
   */
  closeAtFileEnd?: boolean
  /**
   * Resources this one is part of (an accepted connection: its server, its client socket in this process). When one
   * of them leaks in the same check, this one is reported inside that error, not as an error of its own.
   */
  partOf?(resource: R, ctx: JudgeContext): object[]
  /**
   * What the resource really is, when several objects may stand for one (two sockets sharing one handle, as an
   * interceptor's socket and the connection it passes through to): leaks of the same `identity` are one error, told
   * through the object of the highest `rank` (the one that says most), the others closed with it.
   */
  sameAs?(resource: R): { identity: object; rank: number } | undefined
  /**
   * The call that last put the resource to use, when that is what keeps it open (a request that made a pooled
   * socket busy): the report shows its code frame and owner instead of the resource's creation.
   */
  lastUse?(resource: R): Use | undefined
  /**
   * For a probe that finds resources by looking rather than by being told at creation (the fd snapshot; its install
   * adds it to `ledger.lookers`): track what appeared since it last looked, as owned by `owner`. Called when a test
   * or suite starts (owner: the scope that ran until then) and before a scope is judged (owner: that scope).
   */
  look?(owner: Scope, ledger: Ledger): void
  /**
   * For a `fresh` probe that keeps aside or only counts what a scope makes past its budget, by the ten thousand and
   * nearly all closed again (timers; listeners added to a long-lived emitter and removed; its install adds it to
   * `ledger.collectors`): `noteOverBudget` those of `scope`'s that are still open. Called before the scope's records
   * are read, at its check and at each look while it settles.
   */
  collect?(scope: Scope, ledger: Ledger): void
}

export interface Use {
  sites: CallSites | undefined
  owner: Scope
  /** No stack was taken: its owner had already made `stacksPerTest` of them (see Ledger.budgetedStack). */
  overBudget?: boolean
}
