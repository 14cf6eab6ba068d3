import type { Ledger, LeakRecord, Scope } from './ledger/ledger.js'
import type { ResolvedOptions } from '../shared/options.js'
import type { JudgeContext, Status } from './probes/probe.js'
import type { RealTimers } from './runtime.js'

export interface Leak {
  record: LeakRecord
  /** Parts reported inside this leak (the connections of a leaked server), closed with it. */
  folded: LeakRecord[]
}

// Loop turns given to resources that are already closing before any timed wait: a destroyed socket's peer sees
// its EOF in one or two turns on loopback.
const SETTLE_TURNS = 3
const SETTLE_POLL_MS = 5

interface Judged {
  record: LeakRecord
  status: Status
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

/** Waits for what is closing (up to `settleTimeout`), then returns what is still open. */
async function settle(alive: Judged[], ctx: JudgeContext, pooled: LeakRecord[], options: ResolvedOptions, timers: RealTimers): Promise<Leak[]> {
  // Whether the last look found something closed that was alive before: a socket is destroyed (and judged closed) a
  // turn before its 'close' event, whose handlers may still clear what guarded it (ioredis' disconnect timer).
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
  for (let turn = 0; turn < SETTLE_TURNS && alive.length > 0; turn++) {
    await new Promise<void>((resolve) => timers.setImmediate(resolve))
    look()
  }
  const deadline = Date.now() + options.settleTimeout
  while (alive.some((j) => j.status === 'closing' || j.status === 'pending') && Date.now() < deadline) {
    const wait = Math.min(SETTLE_POLL_MS, deadline - Date.now())
    await new Promise<void>((resolve) => timers.setTimeout(resolve, wait))
    look()
  }
  for (let turn = 0; turn < SETTLE_TURNS && closedSome && alive.length > 0; turn++) {
    await new Promise<void>((resolve) => timers.setImmediate(resolve))
    look()
  }
  repool(pooled, ctx.ledger)
  const leaked = alive.filter((j) => j.status !== 'pending').map((j) => j.record)
  for (const record of leaked) {
    ctx.ledger.forget(record)
    ctx.ledger.reported.add(record)
  }
  return fold(leaked, ctx)
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
    const { status } = resource === undefined ? { status: 'closed' as const } : record.probe.state(resource, ctx)
    if (status === 'closed' || status === 'excused') ctx.ledger.forget(record)
    else if (status === 'pooled') pooled.push(record)
    // only what is still open is worth reading the stack of: Vitest's own is dropped here
    else if (record.foreign) ctx.ledger.forget(record)
    else alive.push({ record, status })
  }
  return alive
}

/** One error per leftover: a connection whose server (or in-process client) also leaked is reported inside it. */
function fold(leaked: LeakRecord[], ctx: JudgeContext): Leak[] {
  const byResource = new Map<object, Leak>()
  for (const record of leaked) byResource.set(record.resource, { record, folded: [] })
  for (const record of leaked) {
    const parts = record.probe.partOf?.(record.resource, ctx) ?? []
    const host = parts.map((part) => byResource.get(part)).find((leak) => leak && leak.record !== record)
    if (host && !byResource.get(record.resource)!.folded.length) {
      host.folded.push(record)
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
    for (const record of [leak.record, ...leak.folded]) {
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
