import type { MessagePort } from 'node:worker_threads'
import { mainRealm } from '../node/realm.js'
import type { Ledger, Probe } from '../ledger/ledger.js'
import { isOwn, isVitestFile, type CallSites } from '../stacks/stack.js'
import { runningWorkers } from './workers.js'

const PATCHED = Symbol.for('vitest-leaks.ports.original')

/**
 * MessagePorts and BroadcastChannels that keep the event loop alive. A port is unref'd when it is made and refs
 * itself when it gets its first 'message' listener (`port.on('message')`, `port.onmessage =`, a BroadcastChannel's
 * constructor on its own internal port): `MessagePort.prototype.ref` is where the user's line is on the stack, so
 * that one method is wrapped. Ports are rare; a ref costs one lazy stack.
 *
 * The ports a Worker makes for itself (and refs when the test listens to the worker) are the worker's: the workers
 * probe reports the worker.
 */
export const portsProbe: Probe<MessagePort> = {
  kind: 'handles',

  foreign(sites) {
    return isWorkerOwn(sites) || isVitestCall(sites)
  },

  install(ledger: Ledger) {
    const proto = messagePortPrototype()
    const original = proto?.ref
    if (!proto || typeof original !== 'function' || (original as any)[PATCHED]) return () => {}
    const ref = function ref(this: MessagePort) {
      try {
        ledger.track(this, portsProbe, ref)
      } catch (error) {
        // never into the user's on('message')
        ledger.onInternalError(error)
      }
      return Reflect.apply(original, this, arguments)
    }
    Object.defineProperty(ref, PATCHED, { value: original })
    Object.defineProperty(ref, 'name', { value: original.name })
    proto.ref = ref
    return () => {
      if (proto.ref === ref) proto.ref = original
    }
  },

  state(port) {
    // close() (of either end) unrefs it within two loop turns, which the check's settle gives it
    return { status: hasRef(port) ? 'open' : 'excused' }
  },

  describe(port, ctx) {
    const broadcast = ctx.ledger.recordOf(port)?.sites?.some(isBroadcastChannel) === true
    if (broadcast) {
      return {
        what: 'BroadcastChannel',
        state: 'open, keeping the event loop alive',
        fix: 'close it with `channel.close()`',
        alternative: 'or `channel.unref()` if it must outlive the test',
      }
    }
    return {
      what: 'MessagePort with a message listener (one end of a MessageChannel)',
      state: 'open, keeping the event loop alive',
      fix: 'close it with `port.close()` (closing one end closes both)',
      alternative: 'or `port.unref()` if it must outlive the test',
    }
  },

  // A pool of workers talks to each over a MessageChannel whose other end it gave the worker: the port closes with its
  // worker. Left at the same check as a worker, it is reported inside the worker's error: one cause, one error.
  partOf() {
    return runningWorkers()
  },

  close(port) {
    try {
      port.close()
    } catch {
      // already closed
    }
  },
}

function messagePortPrototype(): { ref: Function } | undefined {
  // Node's global, which is node:worker_threads' class (the worker's own global, in a vm pool too). Reading it loads
  // Node's internal module of ports (~1.2 ms per test file in the forks pool, which does not load it otherwise), a
  // little less than requiring node:worker_threads: the wrap must be on before the test makes its first port
  const Port = (mainRealm() as { MessagePort?: { prototype: unknown } }).MessagePort
  return Port?.prototype as { ref: Function } | undefined
}

function hasRef(port: MessagePort): boolean {
  // Node 18.1 and later; @types/node 20 does not declare it
  const { hasRef } = port as MessagePort & { hasRef?: () => boolean }
  try {
    return typeof hasRef === 'function' ? hasRef.call(port) : true
  } catch {
    return false
  }
}

/** Node's file of the BroadcastChannel class, whose constructor refs its internal port. */
function isBroadcastChannel(site: NodeJS.CallSite): boolean {
  return site.getFileName() === 'node:internal/worker/io' && site.getFunctionName() === 'BroadcastChannel'
}

/** A port of a Worker's own: made in its constructor, or ref'd because the test listens to the worker. */
function isWorkerOwn(sites: CallSites | undefined): boolean {
  return (sites ?? []).some((site) => {
    const file = site.getFileName() ?? ''
    return file === 'node:internal/worker' || file === 'node:internal/worker/messaging' || site.getTypeName() === 'Worker'
  })
}

/** The first frame outside Node and the plugin is Vitest's (its RPC port in the threads pool). */
function isVitestCall(sites: CallSites | undefined): boolean {
  for (const site of sites ?? []) {
    const file = site.getFileName() ?? ''
    if (file === '' || file.startsWith('node:') || isOwn(file)) continue
    return isVitestFile(file)
  }
  return false
}
