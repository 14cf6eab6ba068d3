import { EventEmitter } from 'node:events'
import { showInternalError } from '../../shared/internal-error.js'
import { follow, followers, replaceMethod, type Followers } from './follow.js'

/**
 * An EventEmitter is being constructed (Node's own included: every socket, request and stream). `skip` is the
 * patched `EventEmitter.init` itself, for a stack that starts at the constructor's caller; `prototype` is the
 * emitter's, already its class's (read once for every listener: several tell classes apart by it).
 */
export type EmitterListener = (emitter: object, skip: Function, prototype: object | null) => void

// On `process`, like the runtime: one patch per worker, however often the module is evaluated and whichever probes
// follow emitters (`listeners` stamps when each was made; `sockets` notices connection pools among them).
const STATE = Symbol.for('vitest-leaks.emitter-follow')
const PATCHED = Symbol.for('vitest-leaks.emitter-follow.original')

/** Everything that follows new emitters, behind the one patch of `EventEmitter.init`. */
function state(): Followers<EmitterListener> {
  const host = process as unknown as Record<symbol, Followers<EmitterListener> | undefined>
  return (host[STATE] ??= followers())
}

/**
 * Calls `listener` for every EventEmitter constructed from now on, right after `EventEmitter.init` (which every
 * emitter's constructor calls) set it up. One patch for all listeners: an HTTP round trip makes four or five emitters,
 * and each wrapper layer costs every one of them. Returns the undo.
 */
export function followNewEmitters(listener: EmitterListener): () => void {
  const s = state()
  return follow(s, listener, () => patchInit(s))
}

function patchInit(s: Followers<EmitterListener>): () => boolean {
  const owner = EventEmitter as unknown as { init: Function }
  const original = owner.init
  // Node's `init(opts)` reads its one argument: passed on as it is, without `arguments`
  const init = function init(this: object, opts?: unknown) {
    const result = original.call(this, opts)
    const listeners = s.listeners
    let prototype: object | null
    try {
      prototype = Object.getPrototypeOf(this) as object | null
    } catch (error) {
      // a Proxy's trap that throws: never into the user's constructor
      showInternalError(error)
      return result
    }
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!(this, init, prototype)
      } catch (error) {
        // never into the user's constructor
        showInternalError(error)
      }
    }
    return result
  }
  return replaceMethod(owner, 'init', init, PATCHED)
}
