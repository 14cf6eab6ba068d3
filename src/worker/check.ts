import type { JudgeContext, Ledger, LeakRecord, MadeWhileSettling, Scope, Status } from './ledger/ledger.js'
import type { ResolvedOptions } from '../shared/options.js'
import { moveToCallingScope, moveToHoldingScope } from './stacks/library-calls.js'

/** Node's own timers, taken before any probe wrapped them: the check's waits must not be tracked or faked. */
export interface RealTimers {
  setImmediate: typeof setImmediate
  setTimeout: typeof setTimeout
}

export interface Leak {
  record: LeakRecord
  /** Parts reported inside this leak (the connections of a leaked server), closed with it. */
  folded: LeakRecord[]
  /** The same resource seen through other objects (two sockets sharing one handle): not reported, closed with it. */
  aliases: LeakRecord[]
}

// Loop turns given to resources that are already closing before any timed wait: a destroyed socket's peer sees
// its EOF in one or two turns on loopback.
const SETTLE_TURNS = 3
const SETTLE_POLL_MS = 5

interface Judged {
  record: LeakRecord
  status: Status
  /** See ResourceState.grace. */
  grace?: number
}

/**
 * What the scope still holds open once everything closing has had its chance. Costs a loop over the scope's
 * records and nothing else when all of them are closed: no turn is awaited, no timer is set, and the answer is
 * given at once, not as a promise (a test's check is on the path of every test).
 */
export function findLeaks(scope: Scope, ledger: Ledger, options: ResolvedOptions, timers: RealTimers): Leak[] | Promise<Leak[]> {
  ledger.lookBeforeCheck(scope)
  const ctx: JudgeContext = { scope, ledger, settleWindow: options.settleTimeout }
  const pooled: LeakRecord[] = []
  const alive = judge([...ledger.recordsOf(scope), ...ledger.pooled], ctx, pooled)
  scope.records.clear()
  if (alive.length > 0) return settle(alive, ctx, pooled, options, timers)
  ledger.checked(scope)
  repool(pooled, ledger)
  return []
}

/**
 * Waits for what is closing (up to `settleTimeout`), then returns what is still open. All of it is waited for
 * together: the scope's own resources that are closing (or pending, or open within their grace), and a close chain
 * still running in the process, which may yet close what the scope holds: a resource of another scope on its way out
 * (Probe.settling), or one that anything created while the check settled and that is itself about to close or fire
 * (a proxy's 'close' handler that closes its upstream 5 ms after its client's connection closed: the handler runs
 * for the proxy's owner, and the timer it sets is the link). After each close, a few loop turns more, for the close
 * callbacks to run and set off the next step.
 */
async function settle(
  alive: Judged[],
  ctx: JudgeContext,
  pooled: LeakRecord[],
  options: ResolvedOptions,
  timers: RealTimers,
): Promise<Leak[]> {
  const started = Date.now()
  const deadline = started + options.settleTimeout
  const madeMeanwhile: MadeWhileSettling = []
  const stopWatching = ctx.ledger.watchMade(madeMeanwhile)
  // Whether the last look found something closed that was alive before: a socket is destroyed (and judged closed) a
  // turn before its 'close' event, whose handlers may still clear what guarded it (ioredis' disconnect timer) or
  // close the next resource of a chain.
  let closedSome = false
  const look = () => {
    const before = alive.length
    // what the scope's own callbacks made while it settled (a timer that fired and set the next of its chain) is the
    // scope's too, judged with the rest
    const made = [...ctx.ledger.recordsOf(ctx.scope)]
    ctx.scope.records.clear()
    alive = judge([...alive.map((j) => j.record), ...made], ctx, pooled)
    closedSome = alive.length < before
  }
  const ownWaiting = () =>
    alive.some((j) => j.status === 'closing' || j.status === 'pending' || (j.grace !== undefined && Date.now() < started + j.grace))
  try {
    let turnsLeft = SETTLE_TURNS
    let chainRunning = false
    while (alive.length > 0) {
      if (turnsLeft > 0) {
        turnsLeft--
        await new Promise<void>((resolve) => timers.setImmediate(resolve))
      } else {
        const inTime = Date.now() < deadline
        const chain = inTime && closeChainRunning(ctx, madeMeanwhile)
        if (chainRunning && !chain) {
          // the chain's last step closed: its callbacks get their turns
          chainRunning = false
          turnsLeft = SETTLE_TURNS
          continue
        }
        chainRunning = chain
        if (!chain && !(inTime && ownWaiting())) break
        const wait = Math.min(SETTLE_POLL_MS, deadline - Date.now())
        await new Promise<void>((resolve) => timers.setTimeout(resolve, wait))
      }
      look()
      if (closedSome) turnsLeft = SETTLE_TURNS
    }
  } finally {
    stopWatching()
  }
  repool(pooled, ctx.ledger)
  // made by a library out of the user's stack, for an object a variable outside the test holds: judged with that scope
  const leaked = moveToHoldingScope(
    alive.filter((j) => j.status !== 'pending').map((j) => j.record),
    ctx.ledger,
    ctx.scope,
  )
  for (const record of leaked) {
    ctx.ledger.forget(record)
    ctx.ledger.reported.add(record)
  }
  return fold(leaked, ctx)
}

/**
 * Whether a close is still running elsewhere in the process: a probe's resource of another scope on its way out, or
 * something created while the check settled that is about to close or fire (a timer due within the settle window).
 */
function closeChainRunning(ctx: JudgeContext, madeMeanwhile: MadeWhileSettling): boolean {
  for (const probe of ctx.ledger.settlers) if (probe.settling!(ctx)) return true
  for (let i = 0; i < madeMeanwhile.length; i++) {
    const resource = madeMeanwhile[i]!.resource.deref()
    const status = resource === undefined ? 'closed' : madeMeanwhile[i]!.probe.state(resource, ctx).status
    if (status === 'closing' || status === 'pending') return true
    // closed, or open for good: no longer a link of a chain
    madeMeanwhile.splice(i--, 1)
  }
  return false
}

/** Idle sockets parked in a shared pool go back to it; a later test that makes one busy and leaves it so is blamed. */
function repool(pooled: LeakRecord[], ledger: Ledger): void {
  for (const record of pooled) ledger.pool(record)
}

function judge(records: LeakRecord[], ctx: JudgeContext, pooled: LeakRecord[]): Judged[] {
  const alive: Judged[] = []
  for (const record of records) {
    const resource = record.resource
    // collected: the program let it go, and it held nothing open
    const { status, grace } = resource === undefined ? { status: 'closed' as const, grace: undefined } : record.probe.state(resource, ctx)
    if (status === 'closed' || status === 'excused') ctx.ledger.forget(record)
    else if (status === 'pooled') pooled.push(record)
    // only what is still open is worth reading the stack of: Vitest's own is dropped here
    else if (record.foreign) ctx.ledger.forget(record)
    // made on a later tick of a library call of an enclosing scope: judged with that scope
    else if (record.owner === ctx.scope && moveToCallingScope(record, ctx.ledger)) continue
    else alive.push(grace === undefined ? { record, status } : { record, status, grace })
  }
  return alive
}

/**
 * One error per leftover: one resource seen through several objects (see Probe.sameAs) is one error, told through
 * the object that says most; a connection whose server (or in-process client) also leaked is reported inside it.
 */
function fold(leaked: LeakRecord[], ctx: JudgeContext): Leak[] {
  const byResource = new Map<object, Leak>()
  const byIdentity = new Map<object, { leak: Leak; rank: number }>()
  for (const record of leaked) {
    const same = record.probe.sameAs?.(record.resource)
    const first = same && byIdentity.get(same.identity)
    if (!same) {
      byResource.set(record.resource, { record, folded: [], aliases: [] })
    } else if (!first) {
      const leak: Leak = { record, folded: [], aliases: [] }
      byIdentity.set(same.identity, { leak, rank: same.rank })
      byResource.set(record.resource, leak)
    } else if (same.rank > first.rank) {
      // this object says more: it tells the leak, the one seen first is closed with it
      byResource.delete(first.leak.record.resource)
      first.leak.aliases.push(first.leak.record)
      first.leak.record = record
      first.rank = same.rank
      byResource.set(record.resource, first.leak)
    } else {
      first.leak.aliases.push(record)
    }
  }
  for (const leak of [...byResource.values()]) {
    const { record } = leak
    const parts = record.probe.partOf?.(record.resource, ctx) ?? []
    const host = parts.map((part) => byResource.get(part)).find((other) => other && other !== leak)
    if (host && !leak.folded.length) {
      host.folded.push(record)
      host.aliases.push(...leak.aliases)
      byResource.delete(record.resource)
    }
  }
  return [...byResource.values()]
}

/**
 * Option `cleanup`: closes what leaked so one leaky test does not slow the next. What a later test of the file may
 * still use (a server) is returned instead, to be closed when the file ends (see Probe.closeAtFileEnd).
 */
export function closeLeaks(leaks: Leak[], atFileEnd: boolean): Leak[] {
  const later: Leak[] = []
  for (const leak of leaks) {
    if (!atFileEnd && leak.record.probe.closeAtFileEnd) {
      later.push(leak)
      continue
    }
    for (const record of [leak.record, ...leak.folded, ...leak.aliases]) {
      const resource = record.resource
      if (resource === undefined) continue
      try {
        record.probe.close(resource)
      } catch {
        // a probe's close must not throw; if it does, the next check reports what is left
      }
    }
  }
  return later
}
