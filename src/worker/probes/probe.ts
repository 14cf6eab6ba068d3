import type { Ledger, Scope } from '../ledger/ledger.js'
import type { LeakKind } from '../../shared/options.js'
import type { CallSites } from '../stacks/stack.js'

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
}

/** What a probe may look at when judging: the scope being checked, and the other live resources. */
export interface JudgeContext {
  scope: Scope
  ledger: Ledger
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
   * Whether a resource still open at a check is not the test's, judged from its creation stack (read only then, for
   * the few still open). Default: created by Vitest's own code (its task-update timer, its RPC timeouts).
   */
  foreign?(sites: CallSites | undefined): boolean
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
  /** Best-effort close after reporting; must not throw. */
  close(resource: R): void
  /**
   * Resources this one is part of (an accepted connection: its server, its client socket in this process). When one
   * of them leaks in the same check, this one is reported inside that error, not as an error of its own.
   */
  partOf?(resource: R, ctx: JudgeContext): object[]
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
}

export interface Use {
  sites: CallSites | undefined
  owner: Scope
  /** No stack was taken: its owner had already made `stacksPerTest` of them (see Ledger.budgetedStack). */
  overBudget?: boolean
}
