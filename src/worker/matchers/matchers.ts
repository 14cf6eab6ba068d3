/**
 * `expect(server).toHaveNoOpenSockets()`: every connection the object holds is closed. It counts the sockets the
 * plugin saw the object accept (or the ones its pool holds), not `hasRef()`: a socket parked unref'd in a keep-alive
 * pool is still open. Synchronous, so it works with `.not` and under `await expect.poll(() => server)`.
 */
import type http from 'node:http'
import type net from 'node:net'
import { Server as NetServer, Socket as NetSocket } from 'node:net'
import { https, isHttp } from '../node/builtins.js'
import { drawCodeFrame, positionOf } from '../report/code-frame.js'
import type { Ledger } from '../ledger/ledger.js'
import { plural } from '../probes/net-describe.js'
import { serverNoun } from '../probes/servers.js'
import { workerState } from '../vitest/worker-state.js'
import { connectionInfo, isGlobalAgent, openConnectionsOf, trackConnections, type ConnectionInfo } from '../probes/sockets.js'
import { formatCallSites } from '../stacks/stack.js'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Chai {
    interface Assertion {
      /**
       * Passes when every connection of the object is closed: a net, http, https, http2 or tls server (each
       * connection it accepted), a ws `WebSocketServer`, a `net.Socket` (once destroyed), an `http.Agent` (no free or
       * busy sockets), an undici `Pool`, `Client` or `Agent`. Wait for closing ones with
       * `await expect.poll(() => server).toHaveNoOpenSockets()`. From `vitest-leaks`.
       */
      toHaveNoOpenSockets(): void
    }
  }
}

/** What `toHaveNoOpenSockets()` accepts (checked at run time; anything else fails naming these). */
export type NoOpenSocketsSubject = net.Server | net.Socket | http.Agent | { handleUpgrade: Function } | { dispatch: Function }

export const ACCEPTED =
  'a net, http, https, http2 or tls server, a ws WebSocketServer, a net.Socket, an http.Agent, or an undici Pool, Client or Agent'

/** What the assertion looks at: the subject in words, its open sockets, and how to close them. */
interface Subject {
  what: string
  sockets: net.Socket[]
  fix: string
  /** The name the `expect.poll` hint uses for it: `server`, `agent`. */
  name: string
}

interface MatcherContext {
  isNot?: boolean
}

interface MatcherResult {
  pass: boolean
  message: () => string
}

export function toHaveNoOpenSockets(this: MatcherContext | undefined, received: unknown): MatcherResult {
  const subject = subjectOf(received)
  if (!subject) {
    const error = new TypeError(`toHaveNoOpenSockets() needs ${ACCEPTED}; got ${describeValue(received)}.`)
    // the code frame belongs on the user's `expect(…)` line, not in this file
    Error.captureStackTrace(error, toHaveNoOpenSockets)
    throw error
  }
  const open = subject.sockets
  const pass = open.length === 0
  return {
    pass,
    message: () =>
      this?.isNot ? `expected ${subject.what} to have open sockets, but all of its connections are closed` : failureMessage(subject),
  }
}

/** Registers the matcher on Vitest's `expect` and starts keeping the connections servers accept. */
export function registerMatchers(expect: { extend: (matchers: never) => void }): void {
  trackConnections()
  expect.extend({ toHaveNoOpenSockets } as never)
}

function failureMessage(subject: Subject): string {
  const now = Date.now()
  const ledger = currentLedger()
  const root = projectRoot()
  const count = subject.sockets.length
  const lines = [`expected ${subject.what} to have no open sockets, but ${count === 1 ? '1 is' : `${count} are`} open:`]
  subject.sockets.forEach((socket, index) => {
    const info = connectionInfo(socket, ledger)
    lines.push('', ...describeConnection(info, index + 1, now, root))
  })
  lines.push(
    '',
    `fix: ${subject.fix}`,
    `     connections already closing need a moment: \`await expect.poll(() => ${subject.name}).toHaveNoOpenSockets()\``,
  )
  return lines.join('\n')
}

function describeConnection(info: ConnectionInfo, number: number, now: number, root: string): string[] {
  const head = `  ${number}. `
  const pad = ' '.repeat(head.length)
  const age = info.since === undefined ? 'age unknown' : `age ${formatDuration(now - info.since)}`
  const lines = [
    `${head}${info.peer}: ${info.state}`,
    `${pad}${age}, ${plural(info.bytesRead, 'byte')} read, ${plural(info.bytesWritten, 'byte')} written`,
  ]
  const frames = formatCallSites(info.clientSites)
  if (frames.length > 0) {
    const position = frames.map(positionOf).find((p) => p !== undefined && !/[\\/]node_modules[\\/]/.test(p.file))
    const frame = position && drawCodeFrame(position, root, pad)
    if (frame) lines.push(`${pad}client side created here:`, ...frame)
    else lines.push(`${pad}client side created ${frames[0]!.trim()}`)
  } else if (info.clientInProcess) {
    lines.push(`${pad}client side: in this process (where it was created was not recorded)`)
  } else if (!info.clientsNoticed) {
    lines.push(`${pad}client side: unknown (client sockets are noticed by the \`sockets\` kind, which is off)`)
  } else {
    lines.push(`${pad}client side: not created in this process`)
  }
  return lines
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
}

// ---------------------------------------------------------------------------------------------------------------
// Subjects

function subjectOf(received: unknown): Subject | undefined {
  if (received === null || typeof received !== 'object') return undefined
  if (received instanceof NetSocket) return socketSubject(received)
  if (received instanceof NetServer) return serverSubject(received)
  if (isHttp(received, 'Agent')) return agentSubject(received)
  return webSocketServerSubject(received) ?? undiciSubject(received)
}

function socketSubject(socket: net.Socket): Subject {
  const kind = (socket as { encrypted?: boolean }).encrypted === true ? 'TLS socket' : 'socket'
  const local = hostPort(socket.localAddress, socket.localPort)
  const remote = hostPort(socket.remoteAddress, socket.remotePort)
  const what = local && remote ? `${kind} ${local} → ${remote}` : kind
  return { what, sockets: socket.destroyed ? [] : [socket], fix: 'destroy it with `socket.destroy()`', name: 'socket' }
}

function serverSubject(server: net.Server): Subject {
  const sockets = openConnectionsOf(server)
  const noun = serverNoun(server)
  const fix =
    typeof (server as Partial<http.Server>).closeAllConnections === 'function'
      ? 'destroy them with `server.closeAllConnections()` (after `server.close()`), or end each client'
      : /Http2/.test(server.constructor?.name ?? '')
        ? 'close the HTTP/2 sessions (`session.close()` on the client, or `session.destroy()` on each session the server got)'
        : "destroy the sockets it accepted (keep them from its 'connection' event), or end each client"
  return { what: `${noun}${where(server.address(), sockets)}`, sockets, fix, name: 'server' }
}

function agentSubject(agent: http.Agent): Subject {
  const lists = agent as unknown as { sockets?: Record<string, net.Socket[]>; freeSockets?: Record<string, net.Socket[]> }
  const sockets = new Set<net.Socket>()
  for (const group of [lists.sockets, lists.freeSockets]) {
    for (const list of Object.values(group ?? {})) for (const socket of list ?? []) if (!socket.destroyed) sockets.add(socket)
  }
  const secure = (agent as { protocol?: string }).protocol === 'https:'
  const name = secure && agent instanceof https().Agent ? 'https.Agent' : 'http.Agent'
  const what = isGlobalAgent(agent) ? `the global ${name}` : `an ${name}`
  return { what, sockets: [...sockets], fix: 'destroy the agent with `agent.destroy()`', name: 'agent' }
}

interface WebSocketServerLike {
  handleUpgrade: Function
  clients?: Set<{ _socket?: net.Socket | null }>
  options?: { port?: number | null; noServer?: boolean }
  _server?: net.Server | null
  address?: () => unknown
}

function webSocketServerSubject(received: object): Subject | undefined {
  const wss = received as WebSocketServerLike
  if (typeof wss.handleUpgrade !== 'function' || typeof wss.options !== 'object') return undefined
  // its own HTTP server (`port` option): every connection it accepted, upgraded or not
  const own = wss.options?.port != null && wss._server instanceof NetServer ? wss._server : undefined
  if (!wss.clients && !own) {
    throw new TypeError(
      'toHaveNoOpenSockets() cannot read the connections of this WebSocketServer: it was created with `clientTracking: false` and no port of its own. Keep client tracking on (the default), or assert on the server you passed to it.',
    )
  }
  const sockets = new Set<net.Socket>()
  for (const ws of wss.clients ?? []) if (ws._socket && !ws._socket.destroyed) sockets.add(ws._socket)
  if (own) for (const socket of openConnectionsOf(own)) sockets.add(socket)
  let address: unknown
  try {
    address = wss.address?.()
  } catch {
    address = undefined // noServer mode
  }
  return {
    what: `WebSocketServer${where(address, wss.options?.noServer ? [] : [...sockets])}`,
    sockets: [...sockets],
    name: 'wss',
    fix: 'close each client (`ws.close()`, or `ws.terminate()` for one that does not answer; `wss.close()` alone leaves them open)',
  }
}

/**
 * undici's dispatchers keep their sockets in symbol-keyed fields: a Client its socket (`Symbol(socket)`), a Pool its
 * Clients and an Agent its Pools (`Symbol(clients)`: an array, or a Map of origin to a pool or `{ dispatcher }`).
 * Found by the symbols' descriptions, which undici 5 to 7 (and the copy inside Node, behind `fetch`) share.
 */
function undiciSubject(received: object): Subject | undefined {
  const dispatcher = received as { dispatch?: unknown; constructor?: { name?: string } }
  if (typeof dispatcher.dispatch !== 'function') return undefined
  const sockets = new Set<net.Socket>()
  if (!collectUndiciSockets(received, sockets, 0)) return undefined
  const name = dispatcher.constructor?.name || 'dispatcher'
  const global = received === (globalThis as Record<symbol, unknown>)[Symbol.for('undici.globalDispatcher.1')]
  const origin = undiciOrigin(received)
  const what = global ? `fetch's global dispatcher (undici ${name})` : `undici ${name}${origin ? ` for ${origin}` : ''}`
  const variable = global ? 'dispatcher' : name.toLowerCase()
  return { what, sockets: [...sockets], fix: `close it with \`await ${variable}.close()\` (or \`${variable}.destroy()\`)`, name: variable }
}

function collectUndiciSockets(dispatcher: object, into: Set<net.Socket>, depth: number): boolean {
  if (depth > 3) return false
  const symbols = symbolsOf(dispatcher)
  if (symbols.has('clients')) {
    const clients = symbols.get('clients')
    const children: unknown[] = clients instanceof Map ? [...clients.values()] : Array.isArray(clients) ? clients : []
    if (!(clients instanceof Map) && !Array.isArray(clients)) return false
    for (const child of children) {
      const value = child as { dispatcher?: object; deref?: () => object | undefined }
      const inner = typeof value?.deref === 'function' ? value.deref() : (value?.dispatcher ?? value)
      if (inner && typeof inner === 'object' && !collectUndiciSockets(inner, into, depth + 1)) return false
    }
    return true
  }
  if (symbols.has('connector') || symbols.has('socket')) {
    const socket = symbols.get('socket')
    if (socket instanceof NetSocket && !socket.destroyed) into.add(socket)
    return true
  }
  return false
}

function undiciOrigin(dispatcher: object): string | undefined {
  const url = symbolsOf(dispatcher).get('url') as { origin?: string } | undefined
  return typeof url?.origin === 'string' ? url.origin : undefined
}

function symbolsOf(object: object): Map<string, unknown> {
  const out = new Map<string, unknown>()
  for (const symbol of Object.getOwnPropertySymbols(object)) {
    if (symbol.description && !out.has(symbol.description)) out.set(symbol.description, (object as Record<symbol, unknown>)[symbol])
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------------

function hostPort(host: string | undefined, port: number | undefined): string | undefined {
  if (!host || port === undefined) return undefined
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** ` listening on 127.0.0.1:8080`; once closed, where its connections say it listened. */
function where(address: unknown, sockets: net.Socket[]): string {
  const listening = formatServerAddress(address)
  if (listening) return typeof address === 'string' ? ` on Unix socket ${listening}` : ` listening on ${listening}`
  const local = sockets[0] && hostPort(sockets[0].localAddress, sockets[0].localPort)
  return local ? ` on ${local} (no longer listening)` : ''
}

function formatServerAddress(address: unknown): string | undefined {
  if (!address) return undefined
  if (typeof address === 'string') return address
  const info = address as net.AddressInfo
  return hostPort(info.address, info.port)
}

function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: string } }).constructor?.name
    if (!name || name === 'Object') return 'a plain object'
    return `${/^[AEIOU]/i.test(name) ? 'an' : 'a'} ${name}`
  }
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`
  return `${typeof value} ${JSON.stringify(value)}`
}

/** The runtime's ledger (where client sockets' creation sites are), when the plugin or the matchers installed one. */
function currentLedger(): Ledger | undefined {
  const runtime = (process as unknown as Record<symbol, { ledger?: Ledger } | undefined>)[Symbol.for('vitest-leaks.runtime')]
  return runtime?.ledger
}

function projectRoot(): string {
  return workerState()?.config?.root ?? process.cwd()
}
