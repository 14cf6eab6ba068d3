import type net from 'node:net'
import { subscribe } from './channel.js'

/**
 * WebSockets of undici: Node's global `WebSocket` (Node 22 and later) and the `undici` package's. Each is a TCP socket
 * that undici connected and upgraded with a fetch-like request, then took out of its pool: the sockets probe sees the
 * socket and the upgrade request, and asks here whether the socket is a WebSocket and whether it is closing. undici
 * 6 sets `socket.ws` to the WebSocket; undici 7 names it only in its `undici:websocket:open` message, which gives the
 * socket's local address: the socket is found among those whose upgrade request was sent, until it opens.
 */
interface WebSocketLike {
  readyState?: unknown
}

/** `WebSocket.CLOSING`: from then on the socket is on its way out (the closing handshake, then the TCP close). */
const CLOSING = 2

const websocketOf = new WeakMap<object, WebSocketLike>()
/** Sockets that sent an upgrade to a WebSocket and have not opened yet (a handful at a time, pruned when closed). */
const upgrading = new Set<net.Socket>()

/** Whether undici's request (the last one sent on a socket) asked for a WebSocket. */
export function isWebSocketUpgrade(request: object | undefined): boolean {
  return (request as { upgrade?: unknown } | undefined)?.upgrade === 'websocket'
}

/** Called when undici sends a request's headers on a socket. */
export function noteUndiciRequestSent(request: object, socket: net.Socket): void {
  if (isWebSocketUpgrade(request)) upgrading.add(socket)
}

/** Follows undici's WebSockets as they open; returns the undo. */
export function followUndiciWebSockets(): () => void {
  return subscribe(
    'undici:websocket:open',
    ({ address, websocket }: { address?: { address?: string; port?: number } | null; websocket?: WebSocketLike }) => {
      for (const socket of upgrading) {
        if (socket.destroyed) upgrading.delete(socket)
        else if (address && socket.localPort === address.port && socket.localAddress === address.address) {
          upgrading.delete(socket)
          if (websocket) websocketOf.set(socket, websocket)
        }
      }
    },
  )
}

/** Whether the WebSocket on this upgraded socket was asked to close (or has closed), when it is known. */
export function isWebSocketClosing(socket: net.Socket): boolean {
  const websocket = websocketOf.get(socket) ?? (socket as net.Socket & { ws?: WebSocketLike }).ws
  return typeof websocket?.readyState === 'number' && websocket.readyState >= CLOSING
}

/** Drops a closed socket from the list of upgrades not yet open. */
export function forgetUpgrade(socket: net.Socket): void {
  upgrading.delete(socket)
}
