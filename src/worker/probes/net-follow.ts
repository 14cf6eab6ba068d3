import type net from 'node:net'
import { Socket } from 'node:net'
import { showInternalError } from '../../shared/internal-error.js'
import { subscribe } from './channel.js'
import { follow, followers, replaceMethod, type Followers } from './follow.js'

/**
 * A client socket is about to connect. `args` are those given to `connect()`; `skip` is the patched `connect` itself,
 * the outermost function of the plugin on the stack: given to `ledger.track`, the creation stack starts at the caller
 * (the user's `net.connect(...)`, `http.get(...)`, or the library that called it).
 */
export type ClientSocketListener = (socket: net.Socket, args: unknown[], skip: Function) => void

/** A server accepted a connection (`socket.server` is the server). `skip` is the channel's handler, for `ledger.track`. */
export type AcceptedSocketListener = (socket: net.Socket, skip: Function) => void

interface FollowState {
  /** Behind the one patch of `Socket.prototype.connect`. */
  clients: Followers<ClientSocketListener>
  /** Behind the one subscription to the `net.server.socket` channel. */
  accepted: Followers<AcceptedSocketListener>
}

// On `process`, like the runtime: one patch per worker, however often the module is evaluated and whichever probes
// follow sockets (`sockets`, `retained`, and the matchers' record of accepted connections).
const STATE = Symbol.for('vitest-leaks.net-follow')
const PATCHED = Symbol.for('vitest-leaks.net-follow.original')

function state(): FollowState {
  const host = process as unknown as Record<symbol, FollowState | undefined>
  return (host[STATE] ??= { clients: followers(), accepted: followers() })
}

/**
 * Calls `listener` for every client socket that connects from now on (net, tls, http agents, fetch, drivers).
 * `Socket.prototype.connect` is patched once, for every listener; the patch comes off when the last one leaves.
 * Returns the undo.
 */
export function followClientSockets(listener: ClientSocketListener): () => void {
  const { clients } = state()
  return follow(clients, listener, () => patchConnect(clients))
}

/**
 * Calls `listener` for every connection a server accepts from now on (the `net.server.socket` channel, subscribed to
 * once for every listener, until the last one leaves). Returns the undo.
 */
export function followAcceptedSockets(listener: AcceptedSocketListener): () => void {
  const { accepted } = state()
  return follow(accepted, listener, () => {
    const onAccepted = ({ socket }: { socket: net.Socket }) => {
      for (const each of accepted.listeners) {
        try {
          each(socket, onAccepted)
        } catch (error) {
          // never into Node's accept; the other listeners still hear of it
          showInternalError(error)
        }
      }
    }
    const unsubscribe = subscribe('net.server.socket', onAccepted)
    return () => {
      unsubscribe()
      return true
    }
  })
}

function patchConnect(clients: Followers<ClientSocketListener>): () => boolean {
  const proto = Socket.prototype as { connect: Function }
  const original = proto.connect
  const connect = function connect(this: net.Socket, ...args: unknown[]) {
    for (const listener of clients.listeners) {
      try {
        listener(this, args, connect)
      } catch (error) {
        // never into the user's connect()
        showInternalError(error)
      }
    }
    return Reflect.apply(original, this, args)
  }
  return replaceMethod(proto, 'connect', connect, PATCHED)
}
