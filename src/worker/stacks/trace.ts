import { createHook } from 'node:async_hooks'
import type { Ledger, Scope } from '../ledger/ledger.js'
import { recordAsyncContexts } from './async-context.js'
import { captureCallSites, hasUserFrame, type CallSites } from './stack.js'

/**
 * Trace mode (option `trace`, or `VITEST_LEAKS_TRACE=1`): a creation stack for every async resource Node makes,
 * promises included, with the resource that triggered it and the scope it was made in. A socket a library opens on
 * a later tick has no user frame of its own: following the trigger chain back finds the user's call that set it in
 * motion. A resource of a type no probe follows gets a stack at all.
 *
 * Off by default and never on the default path: on Node 20 and 22 any enabled async hook turns on V8's promise
 * hooks, and a stack per promise makes await-heavy code many times slower (`npm run bench` shows it).
 */
interface Origin {
  type: string
  trigger: number
  sites: CallSites | undefined
  owner: Scope
  /** Destroyed resources stay in the table (bounded): a live socket's chain may run through a finished Immediate. */
  destroyed: boolean
}

const MAX_CHAIN = 64
// Keep the table bounded, oldest out first: chains run through destroyed resources, so they are kept too.
const MAX_ORIGINS = 50_000

let origins: Map<number, Origin> | undefined

export function enableTrace(ledger: Ledger): void {
  if (origins) return
  const table = new Map<number, Origin>()
  origins = table
  const init = (asyncId: number, type: string, triggerAsyncId: number) => {
    if (table.size >= MAX_ORIGINS) table.delete(table.keys().next().value!)
    // the frames below the hook are the creation's: Node's emitInit, then whoever created the resource
    table.set(asyncId, { type, trigger: triggerAsyncId, sites: captureCallSites(init, 20), owner: ledger.current, destroyed: false })
  }
  const destroy = (asyncId: number) => {
    const origin = table.get(asyncId)
    if (origin) origin.destroyed = true
  }
  createHook({ init, destroy }).enable()
  recordAsyncContexts()
}

export function isTracing(): boolean {
  return origins !== undefined
}

/**
 * Follows the trigger chain from the async context a resource was created in, back to the first creation whose
 * stack reaches user code. Returns its call sites and how many hops it took.
 */
export function traceToUserCode(asyncId: number | undefined): { sites: CallSites; hops: number } | undefined {
  if (!origins || asyncId === undefined) return undefined
  let id = asyncId
  for (let hops = 0; hops < MAX_CHAIN && id > 1; hops++) {
    const origin = origins.get(id)
    if (!origin) return undefined
    if (origin.sites && hasUserFrame(origin.sites)) return { sites: origin.sites, hops }
    id = origin.trigger
  }
  return undefined
}

/**
 * The creation stack of the newest live async resource of a type (`MessagePort` as Node lists it; async_hooks
 * says `MESSAGEPORT`) made in a scope: what the active-resource snapshot found, seen being created.
 */
export function liveTracedOfType(type: string, owner: Scope): CallSites | undefined {
  if (!origins) return undefined
  const wanted = type.replace(/[^a-z]/gi, '').toUpperCase()
  let found: Origin | undefined
  for (const origin of origins.values()) {
    if (!origin.destroyed && origin.owner === owner && origin.type.replace(/[^a-z]/gi, '').toUpperCase() === wanted) found = origin
  }
  return found?.sites
}
