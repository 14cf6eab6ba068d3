import type { Ledger, Probe, Scope } from '../ledger/ledger.js'
import { isTracing, liveTracedOfType } from '../stacks/trace.js'

/** One resource of a type no probe follows, found because Node's count of that type grew during its owner. */
interface UnknownResource {
  type: string
  /** The count of that type this one brought it to: while the count stays at or above it, it is still there. */
  level: number
  /** The handle object, when Node exposes it (`process._getActiveHandles()`): to name it and to close it. */
  handle?: object
}

/**
 * Types the other probes follow by identity: they are judged there, with stacks and owners, never here.
 * (Node's names from `process.getActiveResourcesInfo()`.) A signal handle (SignalWrap) is open while `process` has a
 * listener for its signal: the listeners probe judges that listener. (Judged here, the handle a test's
 * `process.off()` just closed, which Node lists until the next loop turn, cost every such test a read of every
 * handle object and a turn of waiting.)
 */
const FOLLOWED = new Set([
  'TCPSocketWrap',
  'TCPServerWrap',
  'TCPWRAP',
  'TCPSERVERWRAP',
  'TLSWrap',
  'TLSWRAP',
  'PipeWrap',
  'PipeServerWrap',
  'PIPEWRAP',
  'PIPESERVERWRAP',
  'Timeout',
  'ProcessWrap',
  'PROCESSWRAP',
  'FSEventWrap',
  'FSEVENTWRAP',
  'StatWatcher',
  'STATWATCHER',
  'UDPWrap',
  'UDPWRAP',
  'FileHandle',
  'FILEHANDLE',
  'SignalWrap',
  'SIGNALWRAP',
])

/** Types that are never a leak, each with the reason why (the rules a demanding user would ask for). */
export const BENIGN_TYPES: ReadonlyArray<{ match: RegExp; reason: string }> = [
  { match: /^TTYWrap$/, reason: 'stdin/stdout/stderr: Node opens them on first use and keeps them for the process' },
  { match: /^Immediate$/, reason: 'a setImmediate callback: it runs on the next loop turn' },
  {
    match: /(?:Req|Write|Shutdown|Connect|Send|Query)Wrap$|ReqCallback$|^FSReqPromise$|^CloseReq$|Job$|^Zlib$|^ZLIB$/,
    reason: 'a request or job in flight (fs, a FileHandle closing, dns, crypto, zlib, a socket write): it completes by itself',
  },
]

const KNOWN_FIXES: Record<string, { what: string; fix: string }> = {
  MessagePort: {
    what: 'MessagePort (one end of a MessageChannel or BroadcastChannel)',
    fix: 'close it with `port.close()` (both ends of a MessageChannel; `channel.close()` for a BroadcastChannel)',
  },
}

interface Snapshot {
  /** Last seen count of every type this probe judges. */
  counts: Map<string, number>
  /** Handle objects seen at any look: a new one of a grown type is the one to name. */
  seen: WeakSet<object>
}

let snapshot: Snapshot | undefined

function foundByLooking(): void {}

/**
 * Node's own list of what keeps the event loop alive, under the probes: anything a test leaves that no probe knows
 * (a MessagePort, an inspector session, a native addon's handle) still fails it, in plain words. Looked at when a
 * scope starts and before it is judged, like the descriptor snapshot: `process.getActiveResourcesInfo()` costs about
 * 10 µs; the handle objects (`process._getActiveHandles()`, ~60 µs) are read only when a count grew.
 */
export const handlesProbe: Probe<UnknownResource> = {
  kind: 'handles',
  // what a look found, described by the probe
  describes: true,

  install(ledger: Ledger) {
    if (typeof process.getActiveResourcesInfo !== 'function') return () => {}
    const seen = new WeakSet<object>()
    for (const handle of activeHandles()) seen.add(handle)
    snapshot = { counts: countJudged(), seen }
    ledger.lookers.add(handlesProbe)
    return () => {
      ledger.lookers.delete(handlesProbe)
      snapshot = undefined
    }
  },

  look(owner: Scope, ledger: Ledger) {
    if (!snapshot) return
    const counts = countJudged()
    let handles: object[] | undefined
    for (const [type, count] of counts) {
      const before = snapshot.counts.get(type) ?? 0
      for (let level = before + 1; level <= count; level++) {
        handles ??= activeHandles()
        const handle = handles.find((h) => h.constructor?.name === type && !snapshot!.seen.has(h))
        if (handle) snapshot.seen.add(handle)
        // a port the ports probe follows (seen when it was ref'd, with its stack) is judged there
        if (handle && ledger.recordOf(handle)) continue
        const record = ledger.track({ type, level, handle }, handlesProbe, foundByLooking, owner)
        // trace mode keeps a stack for every async resource: the newest of this type made in this scope
        const traced = liveTracedOfType(type, owner)
        if (record && traced) record.sites = traced
      }
    }
    if (handles) for (const handle of handles) snapshot.seen.add(handle)
    snapshot.counts = counts
  },

  state(resource) {
    const count = countJudged().get(resource.type) ?? 0
    return { status: count >= resource.level ? 'open' : 'closed' }
  },

  describe(resource) {
    const known = KNOWN_FIXES[resource.type]
    const traced = isTracing()
    return {
      what: known ? `${known.what} that no probe follows` : `active resource of type ${resource.type} that no probe follows`,
      state: 'still keeping the event loop alive (seen in process.getActiveResourcesInfo())',
      fix: known?.fix ?? 'find the code that creates it and close it',
      ...(traced ? {} : { alternative: 'run with VITEST_LEAKS_TRACE=1 (or the option `trace: true`) to see where it was created' }),
      noStack: traced
        ? undefined
        : "found in Node's list of active resources, not seen being created; trace mode (VITEST_LEAKS_TRACE=1) records a stack for every resource",
    }
  },

  close(resource) {
    const handle = resource.handle as { close?: () => void } | undefined
    try {
      if (resource.type === 'MessagePort') handle?.close?.()
    } catch {
      // not ours to force
    }
  },
}

function countJudged(): Map<string, number> {
  const counts = new Map<string, number>()
  for (const type of process.getActiveResourcesInfo()) {
    if (!isJudged(type)) continue
    counts.set(type, (counts.get(type) ?? 0) + 1)
  }
  return counts
}

// Per type name, once: the list has an entry per resource (a test's thousands of timers among them), of a few types.
const judgedTypes = new Map<string, boolean>()

/** Whether resources of this type are this probe's to judge: followed by no other probe, and not benign. */
function isJudged(type: string): boolean {
  let judged = judgedTypes.get(type)
  if (judged === undefined) {
    judged = !FOLLOWED.has(type) && !BENIGN_TYPES.some((rule) => rule.match.test(type))
    judgedTypes.set(type, judged)
  }
  return judged
}

function activeHandles(): object[] {
  const get = (process as unknown as { _getActiveHandles?: () => object[] })._getActiveHandles
  try {
    return typeof get === 'function' ? get.call(process) : []
  } catch {
    return []
  }
}
