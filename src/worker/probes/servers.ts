import type http from 'node:http'
import type net from 'node:net'
import { Server as NetServer } from 'node:net'
import { https, isHttp } from '../node/builtins.js'
import type { Ledger, Probe } from '../ledger/ledger.js'
import { osSocketState } from '../os/socket-state.js'
import { formatAddress, plural } from './net-describe.js'

type Server = net.Server & { _connections?: number; _handle?: unknown }

const PATCHED = Symbol.for('vitest-leaks.servers.original')

/**
 * Servers whose `listen()` ran but whose handle is not set up yet: with a host name, Node resolves it first and only
 * then listens. `_listen2` is the internal step that creates the handle.
 */
const listenPending = new WeakSet<object>()

/**
 * Every server that listens: net, http, https, tls, http2, and what is built on them (express `app.listen`, ws's
 * WebSocketServer, fastify), on a TCP port or a Unix socket. Noticed at `listen()` (patched once per worker), where
 * the user's line is still on the stack; a server listening again later belongs to whoever ran that `listen()`.
 */
export const serversProbe: Probe<Server> = {
  kind: 'servers',

  install(ledger: Ledger) {
    const proto = NetServer.prototype as any
    const original = proto.listen as Function
    const originalSetup = proto._listen2 as Function
    if ((original as any)[PATCHED]) return () => {}
    const listen = function listen(this: Server, ...args: unknown[]) {
      if (ledger.retrack(this, serversProbe, listen)) listenPending.add(this)
      return Reflect.apply(original, this, args)
    }
    const setupListenHandle = function _listen2(this: Server, ...args: unknown[]) {
      listenPending.delete(this)
      return Reflect.apply(originalSetup, this, args)
    }
    Object.defineProperty(listen, PATCHED, { value: original })
    proto.listen = listen
    proto._listen2 = setupListenHandle
    return () => {
      if (proto.listen === listen) proto.listen = original
      if (proto._listen2 === setupListenHandle) proto._listen2 = originalSetup
    }
  },

  state(server) {
    if (server.listening) return { status: 'open' }
    return { status: listenPending.has(server) ? 'pending' : 'closed' }
  },

  describe(server) {
    const address = formatAddress(server.address())
    const where =
      address === undefined ? '' : typeof server.address() === 'string' ? ` on Unix socket ${address}` : ` listening on ${address}`
    const connections = server._connections ?? 0
    return {
      what: `${serverNoun(server)}${where}`,
      state: `still listening${fdOf(server)}${connections > 0 ? `, ${plural(connections, 'open connection')}` : ''}`,
      fix: 'close it with `server.close()`',
      alternative: isHttp(server, 'Server')
        ? 'and call `server.closeAllConnections()` if clients still hold connections open'
        : 'and destroy the sockets it accepted if clients still hold them open',
      shared: true,
    }
  },

  closeAtFileEnd: true,

  close(server) {
    try {
      ;(server as http.Server).closeAllConnections?.()
      server.close()
    } catch {
      // already closed
    }
  },
}

/** ` on fd 19`: read only for a server being reported. */
function fdOf(server: Server): string {
  const handleFd = (server as { _handle?: { fd?: unknown } | null })._handle?.fd
  // Node knows it on Unix: no need to ask the OS
  const fd = typeof handleFd === 'number' && handleFd >= 0 ? handleFd : osSocketState(server).fd
  return fd === undefined ? '' : ` on fd ${fd}`
}

export function serverNoun(server: Server): string {
  // without loading node:https (and TLS) for a plain server: an https.Server is a tls.Server, which has setSecureContext
  const secure = typeof (server as { setSecureContext?: unknown }).setSecureContext === 'function'
  if (secure && server instanceof https().Server) return 'HTTPS server'
  if (isHttp(server, 'Server')) return 'HTTP server'
  const name = server.constructor?.name ?? ''
  if (/Http2Secure/i.test(name)) return 'HTTP/2 (TLS) server'
  if (/Http2/i.test(name)) return 'HTTP/2 server'
  if (secure) return 'TLS server'
  return typeof server.address() === 'string' ? 'server' : 'TCP server'
}
