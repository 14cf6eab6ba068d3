import { executionAsyncId } from 'node:async_hooks'

// Kept apart from trace.ts, which needs the ledger's types: the ledger records the async context a resource was
// created in, and only trace mode turns that on.
let tracing = false

/** Trace mode is on: from now on the ledger records the async context of each creation. */
export function recordAsyncContexts(): void {
  tracing = true
}

/** The async context a resource is being created in; recorded by the ledger only while tracing. */
export function currentAsyncId(): number | undefined {
  return tracing ? executionAsyncId() : undefined
}

/** Trace mode keeps whole creation stacks, also of the kinds that keep short ones to stay cheap (timers, listeners). */
export function keepsWholeStacks(): boolean {
  return tracing
}
