import type http from 'node:http'
import type net from 'node:net'
import { relative } from 'node:path'
import { https, isHttp, loadedHttp } from '../node/builtins.js'
import type { JudgeContext, Ledger, Probe, ResourceState, Use } from '../ledger/ledger.js'
import { Tag } from '../ledger/tag.js'
import { explainTcpState, osSocketState } from '../os/socket-state.js'
import { mainRealm } from '../node/realm.js'
import { formatCallSites, hasUserFrame, isUserSite, parseFrame, type CallSites, type LazyCallSites } from '../stacks/stack.js'
import { subscribe } from './channel.js'
import { agentOwner, clientSitesOf, installHolders, noteUndiciSocket, pgPoolOf, undiciPoolOf, type ParkedIn } from './holders.js'
import { followAgentPrototype, type AgentPrototype } from './http-agents.js'
import { formatHostPort, isEnding, plural } from './net-describe.js'
import { replaceMethod } from './follow.js'
import { followAcceptedSockets, followClientSockets } from './net-follow.js'
import {
  followUndiciWebSockets,
  forgetUpgrade,
  isWebSocketClosing,
  isWebSocketUpgrade,
  noteUndiciRequestSent,
} from './undici-websockets.js'

type Socket = net.Socket & {
  server?: net.Server
  _httpMessage?: (http.ClientRequest & { res?: http.IncomingMessage }) | http.ServerResponse | null
  _handle?: { hasRef?: () => boolean } | null
}

const PATCHED = Symbol.for('vitest-leaks.sockets.original')

/**
 * Agents seen carrying requests, with the scope that first used them: the owner of an agent made before the plugin
 * was installed and not Node's global one (see poolOf). WeakRefs: a closed agent is not kept alive by the plugin.
 */
const agents = new Map<WeakRef<http.Agent>, JudgeContext['scope'] | undefined>()
const agentsSeen = new WeakSet<http.Agent>()
/** Sockets that undici (Node's fetch) opened: idle ones are unref'd and parked in its pool. */
const undiciSockets = new WeakSet<object>()
/** Where each HTTP request (node:http or fetch) was made, and by whom: a busy pooled socket is the request's. */
const requests = new Tag<RequestUse>('request origin')
/** The fetch request a socket last sent (undici links them only in its `sendHeaders` message). */
const undiciRequestOf = new WeakMap<object, object>()
/** Where a client socket was asked to connect: the only place a Unix socket's path is known on the client side. */
const targets = new WeakMap<object, { path?: string; host?: string; port?: number }>()
/**
 * TCP and Unix-socket connections: client sockets (net, tls, http/https agents, fetch, ws, database drivers) noticed
 * at `Socket.prototype.connect` where the caller is on the stack, and sockets a server accepted (through the
 * `net.server.socket` channel), which belong to the server's owner. Both are followed through net-follow.ts, which
 * the `retained` probe shares.
 *
 * Ownership of pooled sockets follows the design: an idle socket parked in a shared keep-alive pool (Node's global
 * agents, fetch's global dispatcher) is the pool's; a busy one (an unread response body) is the test's.
 */
export const socketsProbe: Probe<Socket> = {
  kind: 'sockets',

  install(ledger: Ledger) {
    const onClient = (socket: Socket, args: unknown[], skip: Function) => {
      noteClient(socket)
      try {
        if (ledger.track(socket, socketsProbe, skip)) targets.set(socket, connectTarget(args))
      } catch (error) {
        // never into the user's connect()
        ledger.onInternalError(error)
      }
    }
    const onAccepted = (socket: Socket, skip: Function) => {
      const serverRecord = socket.server && ledger.recordOf(socket.server)
      // a server nobody tracked (Vitest's own, or started before the plugin) is not ours to judge
      if (serverRecord) ledger.track(socket, socketsProbe, skip, serverRecord.owner)
    }
    const known = connections()
    known.clientsNoticed = true
    const undo: Array<() => void> = [
      followClientSockets(onClient),
      followAcceptedSockets(onAccepted),
      () => {
        known.clientsNoticed = false
      },
    ]
    // Node publishes `http.client.request.start` a tick later, with no user frame. Every request of http and https
    // (and of libraries that build a ClientRequest themselves) is handed to its agent from inside the ClientRequest
    // constructor, where the user's `http.get(...)` is still on the stack: the agents' addRequest is wrapped, once
    // node:http is loaded (see followAgentPrototype).
    undo.push(
      followAgentPrototype((agentProto: AgentPrototype) => {
        const originalAddRequest = agentProto.addRequest
        if ((originalAddRequest as any)[PATCHED]) return () => {}
        const addRequest = function addRequest(this: http.Agent, request: object) {
          try {
            const owner = ledger.current
            if (!agentsSeen.has(this)) {
              agentsSeen.add(this)
              agents.set(new WeakRef(this), isGlobalAgent(this) ? undefined : owner)
            }
            requests.set(request, new RequestUse(ledger.budgetedStack('requests', addRequest, REQUEST_FRAMES, owner), owner))
          } catch (error) {
            // never into the user's request
            ledger.onInternalError(error)
          }
          // eslint-disable-next-line prefer-rest-params -- every argument passed on as it came, without an array copy
          return Reflect.apply(originalAddRequest, this, arguments)
        }
        const restore = replaceMethod(agentProto, 'addRequest', addRequest, PATCHED)
        return () => void restore()
      }),
    )
    // fetch() makes its undici request synchronously, some 25 frames down inside undici: the stack is taken at the
    // call to fetch itself, a few frames, and the request made during that call takes it (one made later, such as a
    // redirect's, takes its own). Both count against the test's budget of request stacks.
    let fetchSites: LazyCallSites | typeof NO_STACK | undefined
    for (const realm of new Set([globalThis, mainRealm()])) {
      const descriptor = Object.getOwnPropertyDescriptor(realm, 'fetch')
      const original = descriptor?.value as Function | undefined
      if (typeof original !== 'function' || (original as any)[PATCHED]) continue
      const fetch = function fetch(this: unknown) {
        const outer = fetchSites
        fetchSites = ledger.budgetedStack('requests', fetch, FETCH_FRAMES) ?? NO_STACK
        try {
          // eslint-disable-next-line prefer-rest-params -- every argument passed on as it came, without an array copy
          return Reflect.apply(original, this, arguments)
        } finally {
          fetchSites = outer
        }
      }
      Object.defineProperty(fetch, PATCHED, { value: original })
      Object.defineProperty(fetch, 'length', { value: original.length })
      Object.defineProperty(realm, 'fetch', { ...descriptor, value: fetch })
      undo.push(() => {
        if (realm.fetch === (fetch as unknown)) Object.defineProperty(realm, 'fetch', descriptor!)
      })
    }
    const onUndiciRequest = ({ request }: { request: object }) => {
      const sites = fetchSites ?? ledger.budgetedStack('requests', onUndiciRequest, UNDICI_REQUEST_FRAMES)
      fetchSites = undefined
      requests.set(request, new RequestUse(sites === NO_STACK ? undefined : sites, ledger.current))
    }
    const onUndiciSent = ({ request, socket }: { request: object; socket: Socket }) => {
      undiciRequestOf.set(socket, request)
      noteUndiciRequestSent(request, socket)
    }
    const onUndiciHeaders = ({ request }: { request: object }) => {
      const use = requests.get(request)
      if (use) use.answered = true
    }
    const onUndiciConnected = ({ socket, connector }: { socket: object; connector?: unknown }) => {
      undiciSockets.add(socket)
      noteUndiciSocket(socket, connector)
    }
    undo.push(
      installHolders(() => ledger.current),
      subscribe('undici:client:connected', onUndiciConnected),
      subscribe('undici:request:create', onUndiciRequest),
      subscribe('undici:client:sendHeaders', onUndiciSent),
      subscribe('undici:request:headers', onUndiciHeaders),
      followUndiciWebSockets(),
    )
    return () => {
      for (const fn of undo) fn()
    }
  },

  state(socket, ctx) {
    if (socket.destroyed) return { status: 'closed' }
    if (!ctx) return { status: 'open' }
    // a WebSocket of undici's, out of its pool for good: open until `close()`, then on its way out
    if (isUndiciWebSocket(socket)) return { status: isWebSocketClosing(socket) ? 'closing' : 'open' }
    const pool = poolOf(socket)
    if (pool) {
      return { status: pool.owner === ctx.scope ? 'open' : 'pooled' }
    }
    // a pooled connection made busy by another (concurrent) test's request is that test's to report
    const use = socketsProbe.lastUse!(socket)
    if (use && use.owner !== ctx.scope && ctx.ledger.recordOf(socket)?.owner !== ctx.scope && isBusyRequest(socket)) {
      return { status: 'pooled' }
    }
    if (socket.server) {
      const peer = peerOf(socket, ctx)
      if (peer) {
        const peerState: ResourceState = peer.destroyed ? { status: 'closed' } : socketsProbe.state(peer, ctx)
        // the other end is parked in a shared pool: the pair is the pool's
        if (peerState.status === 'pooled') return { status: 'pooled' }
        if (peerState.status === 'closed') return { status: 'closing' }
        // its client was already reported, by the test that left it: one connection, one error
        if (wasReported(peer, ctx)) return { status: 'excused' }
      }
    }
    // ended by this side, but closed only once the peer ends its side too: not worth waiting for when the peer is in
    // this process and nothing will end it (see keptOpenByPeer)
    if (isEnding(socket)) return { status: keptOpenByPeer(socket, ctx) ? 'open' : 'closing' }
    // A peer in another process may be closing it: a server that answers a goodbye (a QUIT, a `Connection: close`)
    // and then closes sends its FIN a scheduling slice after its answer, which the client awaited. On a loaded machine
    // that comes after the check's loop turns: one short wait, shared by all such sockets of the check.
    if (!socket.connecting && !peerOf(socket, ctx)) return { status: 'open', grace: PEER_CLOSE_GRACE_MS }
    // Still resolving its host or connecting: within a round trip it is connected, or failed, or destroyed by the
    // program as it connects (a WebSocket closed while CONNECTING, a request aborted before its socket was up). The
    // check's loop turns do not wait for the lookup in Node's thread pool: the settle window does; one that is then
    // connected and open, or still connecting, is reported.
    if (socket.connecting) return { status: 'open', grace: ctx.settleWindow ?? 0 }
    return { status: 'open' }
  },

  settling(ctx) {
    const now = Date.now()
    for (const records of [...[...scopesOf(ctx.scope)].map((s) => s.records), ctx.ledger.pooled]) {
      for (const record of records) {
        const socket = record.resource as Socket | undefined
        if (record.probe !== socketsProbe || !socket || socket.destroyed || !isEnding(socket)) continue
        if (keepsItsSideOpen(socket) || keptOpenByPeer(socket, ctx)) continue
        // one stuck half-way (its peer in another process never ends its side) delays the checks of one settle
        // window, not every check after it
        let since = closingSince.get(socket)
        if (since === undefined) closingSince.set(socket, (since = now))
        if (now - since < (ctx.settleWindow ?? 0)) return true
      }
    }
    return false
  },

  describe(socket, ctx) {
    // ioredis connects on a later tick, so the socket's own stack has none of the user's frames: show where the
    // client was created instead
    const record = ctx.ledger.recordOf(socket)
    const clientSites = record && !hasUserFrame(record.sites) ? clientSitesOf(socket) : undefined
    if (record && clientSites) record.sites = clientSites
    const local = formatHostPort(socket.localAddress, socket.localPort)
    // a socket whose peer has gone no longer knows its remote address (getpeername fails): where it was asked to go
    const remote = formatHostPort(socket.remoteAddress, socket.remotePort) ?? pendingTarget(socket)
    const tcp = (socket as { encrypted?: boolean }).encrypted === true ? 'TLS socket' : 'TCP socket'
    const path = unixPath(socket)
    const pool = poolOf(socket)
    // idle in a pool of the test's own: the fix is closing the pool, so its code frame is where the pool was made
    // (when that is the user's code), and the request that opened the connection is named in its state
    const poolSites = pool?.stack?.sites
    if (record && poolSites && hasUserFrame(poolSites) && record.sites !== poolSites) {
      const request = userLine(record.sites)
      if (request) openedBy.set(socket, request)
      record.sites = poolSites
    }
    let what: string
    if (socket.server) {
      what = path
        ? `connection accepted by the server on Unix socket ${path}`
        : `connection accepted on ${local ?? '?'} from ${remote ?? '?'}`
    } else if (path) {
      what = `Unix socket connection to ${path}`
    } else if (socket.connecting) {
      what = `${tcp} connecting to ${remote ?? 'an unknown address'}`
    } else {
      what = `${tcp} ${local ?? '?'} → ${remote ?? 'an unknown address'}`
    }
    const request = socket._httpMessage
    const inFlight = isHttp(request, 'ClientRequest')
    let state = socketState(socket)
    let fix = 'close it with `socket.end()` (or `socket.destroy()`)'
    if (pool) {
      what = `idle keep-alive ${what}`
      const request = openedBy.get(socket)
      state = `parked in ${pool.name} created ${pool.owner === ctx.scope ? `in this ${ctx.scope.kind}` : 'earlier'}${request ? ` (the connection was opened by the request at ${request})` : ''}, ${state}`
      fix = pool.name.startsWith('an undici')
        ? 'close it with `await pool.close()` (or `agent.close()`)'
        : pool.name === 'a pg Pool'
          ? 'end the pool with `await pool.end()`'
          : 'destroy the agent with `agent.destroy()`'
    } else if (inFlight) {
      what = `HTTP client ${what}`
      const response = (request as any).res as http.IncomingMessage | undefined
      const label = clientRequestLabel(request as http.ClientRequest, socket)
      if (response && !response.complete) {
        state = `busy: the response body${label ? ` of ${label}` : ''} was never read (${state})`
        fix = 'read the response body (`res.resume()` or consume it) or abort with `req.destroy()`'
      } else if (!response) {
        state = `busy: ${label ?? 'a request'} is still waiting for its response (${state})`
        fix = 'abort the request (`req.destroy()`, or a `signal`) or let it finish'
      } else {
        state = `busy with a request${label ? `, ${label}` : ''} (${state})`
        fix = 'let the request finish, or abort it with `req.destroy()`'
      }
    } else if (isUndiciWebSocket(socket)) {
      what = `WebSocket client (undici) ${what}`
      const url = webSocketUrl(undiciRequestOf.get(socket))
      if (isWebSocketClosing(socket)) {
        state = `closing${url ? ` (to ${url})` : ''}: \`close()\` was called and the server never completed the closing handshake (${state})`
        fix = "wait for its 'close' event (`await new Promise((r) => ws.addEventListener('close', r))`)"
      } else {
        state = `open${url ? ` to ${url}` : ''} (${state})`
        fix = 'close it with `ws.close()`'
      }
    } else if (undiciSockets.has(socket)) {
      what = `fetch (undici) ${what}`
      const sent = undiciRequestOf.get(socket)
      const label = undiciRequestLabel(sent)
      if (sent && requests.get(sent)?.answered === false) {
        state = `busy: ${label ?? 'a request'} is still waiting for its response (${state})`
        fix = 'abort the request (an `AbortController` passed as `signal`) or let it finish'
      } else {
        state = `busy: ${label ? `the response body of ${label}` : 'a response body'} was never read or cancelled (${state})`
        fix = 'read the body (`await res.text()`) or cancel it (`await res.body?.cancel()`)'
      }
    } else if (record?.sites?.some(isHttp2Connect)) {
      what = `HTTP/2 client session on ${what}`
      fix = 'close the session with `session.close()` (a gRPC client: `client.close()`)'
    } else if (socket.server) {
      const peer = peerOf(socket, ctx)
      fix = peer
        ? 'close the client side in the test (`socket.end()`), or destroy the connections the server accepted'
        : 'end the client that opened it, or destroy the connection on the server side (`socket.destroy()`)'
    }
    return { what, state, fix }
  },

  close(socket) {
    try {
      // A database or cache client reacts to its socket closing under it: pg emits "Connection terminated
      // unexpectedly" from an emitter nobody listens to, ioredis reconnects, and a hook that awaits the client's
      // `end()` waits for a 'close' that was taken from it. Such a socket is only unref'd: it no longer holds the
      // worker open, and its client stays as it was. Node's HTTP clients (http.Agent, fetch) handle a closed socket
      // and keep their pools consistent, and a server's side is the server's: those are destroyed, each with an
      // 'error' listener added first where it has none, so that nothing goes unhandled ("socket hang up" on a
      // request nobody listens to).
      const request = socket._httpMessage
      const http = isHttp(request, 'ClientRequest')
      if (!http && !undiciSockets.has(socket) && !socket.server) {
        socket.unref()
        return
      }
      if (http && request.listenerCount('error') === 0) request.on('error', () => {})
      if (socket.listenerCount('error') === 0) socket.on('error', () => {})
      // an HTTP/2 connection of undici's: its session goes first, as when undici closes it itself (a socket destroyed
      // under a live session makes undici throw from the session's 'close' handler, uncaught)
      const session = undiciSockets.has(socket) ? http2SessionOf(socket) : undefined
      if (session) session.destroy()
      else socket.destroy()
    } catch {
      // already gone
    }
  },

  lastUse(socket) {
    // idle in a pool whose creation is known: the request that used it last is done, the pool is what holds it
    if (poolOf(socket)?.stack) return undefined
    const request = isHttp(socket._httpMessage, 'ClientRequest') ? socket._httpMessage : undiciRequestOf.get(socket)
    return request ? requests.get(request) : undefined
  },

  // An HTTP interceptor (@mswjs/interceptors) hands the client's socket the handle of the real connection it opened
  // for a request it lets through: two sockets, one descriptor. The one carrying the request says what it is for.
  sameAs(socket) {
    const handle = socket._handle
    if (!handle || typeof handle !== 'object') return undefined
    return { identity: handle, rank: isBusyRequest(socket) || poolOf(socket) ? 1 : 0 }
  },

  partOf(socket, ctx) {
    const parts: object[] = []
    if (socket.server) {
      parts.push(socket.server)
      const peer = peerOf(socket, ctx)
      if (peer) parts.push(peer)
    }
    return parts
  },
}

/**
 * Drops the plugin's own references to a closed socket (the loopback peer index, the matcher's lists of connections),
 * so that the retained-sockets check never finds the plugin holding it.
 */
export function forgetClosedSocket(socket: net.Socket): void {
  byAddresses.clear()
  forgetUpgrade(socket)
  const state = connections()
  prune(state.clients)
  const server = (socket as Socket).server
  const accepted = server && state.accepted.get(server)
  if (accepted) prune(accepted)
}

// Frames kept of a request's stack (each costs ~0.3 µs, and every request pays): enough to reach the caller of
// http.request through Node's own three (the ClientRequest constructor, request, get) and a client library
// (supertest, axios), and of fetch through undici's own ~25 frames.
const REQUEST_FRAMES = 20
const UNDICI_REQUEST_FRAMES = 32
const FETCH_FRAMES = 8

/**
 * A request's origin, its stack read only if the request is ever blamed for a busy connection. A class: an object
 * literal with a getter is built by a slow runtime call, once per request.
 */
class RequestUse implements Use {
  /** Its response headers arrived (fetch): one without is still waiting for its response. */
  answered = false

  constructor(
    readonly stack: LazyCallSites | undefined,
    readonly owner: Use['owner'],
  ) {}

  get sites(): CallSites | undefined {
    return this.stack?.sites
  }

  get overBudget(): boolean {
    return this.stack === undefined
  }
}

/** Inside a call to fetch whose test had already kept `stacksPerTest` request stacks. */
const NO_STACK = Symbol('no stack')

/**
 * `GET http://127.0.0.1:3000/users`, from Node's ClientRequest: where it went (the socket's peer), and the Host
 * header when it names another (a proxy forwarding a request keeps the client's Host).
 */
function clientRequestLabel(request: http.ClientRequest, socket: Socket): string | undefined {
  try {
    const header = request.getHeader('host')
    const peer = formatHostPort(socket.remoteAddress, socket.remotePort) ?? pendingTarget(socket)
    const host = peer ?? (typeof header === 'string' ? header : request.host)
    const named = typeof header === 'string' && header !== host ? ` (Host: ${header})` : ''
    return `${request.method} ${request.protocol ?? 'http:'}//${host}${request.path}${named}`
  } catch {
    return undefined
  }
}

/** `GET http://127.0.0.1:3000/users`, from undici's request (the last one sent on the socket). */
function undiciRequestLabel(request: object | undefined): string | undefined {
  const { method, origin, path } = (request ?? {}) as { method?: unknown; origin?: unknown; path?: unknown }
  if (typeof method !== 'string' || typeof path !== 'string' || origin === undefined) return undefined
  return `${method} ${String(origin).replace(/\/$/, '')}${path}`
}

/** `ws://127.0.0.1:3000/chat`, from the upgrade request of an undici WebSocket. */
function webSocketUrl(request: object | undefined): string | undefined {
  const { origin, path } = (request ?? {}) as { origin?: unknown; path?: unknown }
  if (origin === undefined || typeof path !== 'string') return undefined
  return `${String(origin).replace(/\/$/, '').replace(/^http/, 'ws')}${path}`
}

function isUndiciWebSocket(socket: Socket): boolean {
  return undiciSockets.has(socket) && isWebSocketUpgrade(undiciRequestOf.get(socket))
}

/** The HTTP/2 session undici runs over a socket (a property keyed by its private `Symbol('http2Session')`). */
function http2SessionOf(socket: Socket): { destroy(): void } | undefined {
  for (const key of Object.getOwnPropertySymbols(socket)) {
    if (key.description !== 'http2Session') continue
    const session = (socket as unknown as Record<symbol, { destroy?: unknown } | undefined>)[key]
    return typeof session?.destroy === 'function' ? (session as { destroy(): void }) : undefined
  }
  return undefined
}

/** The frame of `http2.connect()` (gRPC clients use it too), which connects the session's socket. */
function isHttp2Connect(site: NodeJS.CallSite): boolean {
  return site.getFileName() === 'node:internal/http2/core' && site.getFunctionName() === 'connect'
}

function isBusyRequest(socket: Socket): boolean {
  return isHttp(socket._httpMessage, 'ClientRequest') || undiciSockets.has(socket)
}

/** The request line that opened a connection now reported at its pool's creation (see describe). */
const openedBy = new WeakMap<object, string>()

/**
 * `file:line` of the first frame of the user's code, source-mapped, the file relative to the working directory; and
 * of its caller in another file when there is one (a helper that makes the request, called from the test).
 */
function userLine(sites: CallSites | undefined): string | undefined {
  const frames: Array<{ file: string; line: number }> = []
  for (const line of formatCallSites(sites?.filter(isUserSite))) {
    const frame = parseFrame(line)
    if (frame && frame.file !== frames[0]?.file) frames.push(frame)
    if (frames.length === 2) break
  }
  const [first, caller] = frames.map((frame) => `${relative(process.cwd(), frame.file)}:${frame.line}`)
  return first && caller ? `${first}, called from ${caller}` : first
}

/** Node's global agent of node:http or node:https. */
export function isGlobalAgent(agent: http.Agent & { protocol?: string }): boolean {
  // an https agent exists only once node:https is loaded
  return agent === loadedHttp()?.globalAgent || (agent.protocol === 'https:' && agent === https().globalAgent)
}

/**
 * The keep-alive pool holding this socket idle, if any: a shared one (owner undefined) excuses it; one owned by the
 * scope being judged does not. A pool is owned by the scope that created it (see holders.ts), whenever its
 * connections were opened: an http.Agent, an undici dispatcher, a pg Pool. (An agent made before the plugin was
 * installed, other than Node's global ones, is owned by the scope that first used it.) undici unrefs a socket while
 * it is idle.
 */
function poolOf(socket: Socket): ParkedIn | undefined {
  if (socket._httpMessage == null) {
    for (const [ref, firstUser] of agents) {
      const agent = ref.deref()
      if (!agent) {
        agents.delete(ref)
        continue
      }
      const free = (agent as any).freeSockets as Record<string, Socket[]> | undefined
      if (!free) continue
      for (const list of Object.values(free)) {
        if (!list.includes(socket)) continue
        if (isGlobalAgent(agent)) return { name: 'the global http.Agent', owner: undefined }
        const { known, owner, stack } = agentOwner(agent)
        if (!known) return { name: 'an http.Agent', owner: firstUser }
        return owner ? { name: 'an http.Agent', owner, stack } : { name: "a library's shared http.Agent", owner }
      }
    }
  }
  if (undiciSockets.has(socket) && isUnrefd(socket)) {
    return undiciPoolOf(socket) ?? { name: "fetch's pool", owner: undefined }
  }
  if (socket._httpMessage == null && !socket.server) return pgPoolOf(socket)
  return undefined
}

/**
 * Whether the socket no longer keeps the process alive (`socket.unref()`). A TLS socket's handle (TLSWrap) forwards
 * `ref`/`unref` to the TCP handle under it but has no `hasRef` of its own: that handle answers.
 */
function isUnrefd(socket: Socket): boolean {
  const handle = socket._handle as { hasRef?: () => boolean; _parent?: { hasRef?: () => boolean } } | null | undefined
  if (!handle) return false
  if (typeof handle.hasRef === 'function') return handle.hasRef() === false
  return handle._parent?.hasRef?.() === false
}

/** The other end of a loopback connection, when this process holds it (see connectedPeer). */
function peerOf(socket: Socket, ctx: JudgeContext | undefined): Socket | undefined {
  return ctx ? connectedPeer(socket, ctx) : undefined
}

/**
 * How long an open connection whose peer is another process is waited for (see `state`): a server that closes the
 * connection right after its answer to a QUIT, but loses the CPU between the two, sends its FIN milliseconds later.
 */
const PEER_CLOSE_GRACE_MS = 25

/** When a socket of another scope was first seen closing by a check (see `settling`). */
const closingSince = new WeakMap<Socket, number>()

/** A leak already reported (and left as it was): what is part of it is not reported again. */
function wasReported(socket: Socket, ctx: JudgeContext): boolean {
  for (const record of ctx.ledger.reported) if (record.resource === socket) return true
  return false
}

/**
 * Whether this socket's end has reached its peer in this process, which keeps its own side open with nothing of the
 * program's that would close it: the socket cannot close by itself, and waiting for it would only cost the check its
 * whole settle window. That is a peer that got this side's FIN (`end()` flushed) and has not ended its own side,
 * where no listener of the program's reads it ('data', 'readable') or hears its end ('end'), and either it read the
 * end already with `allowHalfOpen` (otherwise Node would have ended it), or nothing reads it at all (paused, so Node
 * never reads the end). A peer in another process is not seen: it is waited for, as are a socket whose FIN is still
 * queued and a peer whose program listens (an HTTP server ends its side once the response is out).
 */
function keptOpenByPeer(socket: Socket, ctx: JudgeContext): boolean {
  if (!socket.writableFinished || socket.readableEnded) return false
  const peer = connectedPeer(socket, ctx)
  return peer !== undefined && !peer.destroyed && keepsItsSideOpen(peer)
}

/**
 * Whether a socket that got its peer's end keeps its own side open with nothing of the program's that would end it:
 * no listener reads it or hears its end, and either it read the end with `allowHalfOpen` (otherwise Node would have
 * ended it), or nothing reads it at all (paused, so Node never reads the end).
 */
function keepsItsSideOpen(socket: Socket): boolean {
  if (socket.writableEnded) return false
  const readable = (socket as { _readableState?: { ended?: boolean } })._readableState
  if (readable?.ended !== true || programReads(socket)) return false
  return socket.readableEnded ? socket.allowHalfOpen === true : socket.readableFlowing !== true
}

/** Node's own listener on every socket: ends the writable side at the end of the readable one unless allowHalfOpen. */
const NODE_END_LISTENER = 'onReadableStreamEnd'

function programReads(socket: Socket): boolean {
  if (socket.listenerCount('data') > 0 || socket.listenerCount('readable') > 0) return true
  return socket.listeners('end').some((listener) => listener.name !== NODE_END_LISTENER)
}

/**
 * Tracked sockets by both addresses (`local|remote`), to find the other end of a loopback connection in this process;
 * held weakly, as it is rebuilt only when a peer is looked for, and a socket closed since must not be kept alive by it.
 */
const byAddresses = new Map<string, WeakRef<Socket>>()

/** The other end of a loopback TCP connection, when this process holds it and it is tracked (client or accepted). */
function connectedPeer(socket: Socket, ctx: JudgeContext): Socket | undefined {
  if (socket.remotePort === undefined || socket.localPort === undefined) return undefined
  // a dual-stack server's side names an IPv4 client `::ffff:127.0.0.1`
  const key = `${plainAddress(socket.remoteAddress)}|${socket.remotePort}|${plainAddress(socket.localAddress)}|${socket.localPort}`
  const found = byAddresses.get(key)?.deref()
  if (found && !found.destroyed && found.localPort === socket.remotePort) return found
  // rebuilt lazily, and held weakly: only for ended sockets, at a check
  byAddresses.clear()
  // a reported leak's socket too: its other end is part of that leak (see wasReported)
  for (const records of [...[...scopesOf(ctx.scope)].map((s) => s.records), ctx.ledger.pooled, ctx.ledger.reported]) {
    for (const record of records) {
      const other = record.resource as Socket | undefined
      if (record.probe !== socketsProbe || !other || other.destroyed || other.localPort === undefined || other.remotePort === undefined)
        continue
      byAddresses.set(
        `${plainAddress(other.localAddress)}|${other.localPort}|${plainAddress(other.remoteAddress)}|${other.remotePort}`,
        new WeakRef(other),
      )
    }
  }
  return byAddresses.get(key)?.deref()
}

function* scopesOf(scope: JudgeContext['scope']): Generator<JudgeContext['scope']> {
  for (let s: JudgeContext['scope'] | undefined = scope; s; s = s.parent) yield s
}

function socketState(socket: Socket): string {
  if (socket.connecting) return 'still connecting'
  // asked of the OS only here, for a socket being reported: the kernel's TCP state says more than Node's flags (a FIN
  // from the peer that Node has not read yet already makes it CLOSE_WAIT)
  const os = osSocketState(socket)
  const connection = os.tcpState ? explainTcpState(os.tcpState) : connectionState(socket)
  return `${os.fd === undefined ? '' : `fd ${os.fd}, `}${connection}, ${traffic(socket)}`
}

/** `open`, or which side of the connection is half-closed. */
export function connectionState(socket: net.Socket): string {
  if (socket.connecting) return 'still connecting'
  if (socket.readableEnded && !socket.writableEnded) return 'half-closed: the peer closed its side and this side never did (CLOSE_WAIT)'
  if (socket.writableEnded && !socket.readableEnded) return 'half-closed: this side ended, the peer has not'
  if (socket.readableEnded && socket.writableEnded) return 'closing: both sides ended'
  return 'open'
}

function traffic(socket: net.Socket): string {
  return `${plural(socket.bytesRead, 'byte')} read, ${plural(socket.bytesWritten ?? 0, 'byte')} written`
}

export function connectTarget(args: unknown[]): { path?: string; host?: string; port?: number } {
  // net.connect() passes its normalized [options, callback] array as the only argument
  const first = Array.isArray(args[0]) ? args[0][0] : args[0]
  if (typeof first === 'string' && !/^\d+$/.test(first)) return { path: first }
  if (typeof first === 'number' || typeof first === 'string')
    return { host: typeof args[1] === 'string' ? args[1] : 'localhost', port: Number(first) }
  if (first && typeof first === 'object') {
    const options = first as { path?: string; host?: string; port?: number | string }
    if (typeof options.path === 'string') return { path: options.path }
    return { host: options.host ?? 'localhost', port: options.port === undefined ? undefined : Number(options.port) }
  }
  return {}
}

function unixPath(socket: Socket): string | undefined {
  if (socket.remotePort !== undefined || socket.localPort !== undefined) return undefined
  const address = socket.server?.address()
  if (typeof address === 'string') return address
  return targets.get(socket)?.path
}

function pendingTarget(socket: Socket): string | undefined {
  const target = targets.get(socket)
  return target?.path ?? formatHostPort(target?.host, target?.port)
}

// ---------------------------------------------------------------------------------------------------------------
// The connections of one object, for `expect(server).toHaveNoOpenSockets()`. The per-test records above are dropped
// when their scope is checked; these are kept for as long as the socket is open, whoever owns it.

interface Tracked {
  /**
   * Each socket, held weakly: a socket the program closed and let go must not be kept alive by the plugin (a test that
   * checks with a FinalizationRegistry that a request's objects are collected would fail).
   */
  sockets: Set<WeakRef<Socket>>
  /** When each was accepted or asked to connect. */
  since: WeakMap<Socket, number>
  /** Size at which destroyed and collected sockets are dropped, so a server with many short connections stays small. */
  pruneAt: number
}

interface Connections {
  /** Every socket each server accepted, tracked or not (a server started before the test, or by a library). */
  accepted: WeakMap<object, Tracked>
  /** Client sockets connected in this process (noticed by the sockets probe): the other end of a loopback connection. */
  clients: Tracked
  /** Whether client sockets are noticed at all: the sockets probe is installed. */
  clientsNoticed: boolean
  subscribed: boolean
}

const PRUNE_START = 64

// On `process`, like the runtime: the setup file and `vitest-leaks/matchers` may be evaluated as fresh modules for
// every test file (vm pools), and the connections a server accepted earlier must still be found.
const CONNECTIONS = Symbol.for('vitest-leaks.sockets.connections')

function connections(): Connections {
  const host = process as unknown as Record<symbol, Connections | undefined>
  return (host[CONNECTIONS] ??= { accepted: new WeakMap(), clients: newTracked(), clientsNoticed: false, subscribed: false })
}

function newTracked(): Tracked {
  return { sockets: new Set(), since: new WeakMap(), pruneAt: PRUNE_START }
}

function note(tracked: Tracked, socket: Socket): void {
  tracked.sockets.add(new WeakRef(socket))
  tracked.since.set(socket, Date.now())
  if (tracked.sockets.size < tracked.pruneAt) return
  prune(tracked)
  tracked.pruneAt = Math.max(PRUNE_START, tracked.sockets.size * 2)
}

function prune(tracked: Tracked): void {
  for (const ref of tracked.sockets) {
    const socket = ref.deref()
    if (!socket || socket.destroyed) tracked.sockets.delete(ref)
  }
}

/** The sockets of `tracked` not destroyed yet, oldest first. */
function openSockets(tracked: Tracked): Socket[] {
  prune(tracked)
  return [...tracked.sockets].map((ref) => ref.deref()!).filter((socket) => socket !== undefined)
}

function noteClient(socket: Socket): void {
  try {
    note(connections().clients, socket)
  } catch {
    // never into the user's connect()
  }
}

/**
 * Starts keeping every connection a server accepts (once per worker; the sockets probe needs not be installed).
 * Sockets accepted before this are not known.
 */
export function trackConnections(): void {
  const state = connections()
  if (state.subscribed) return
  state.subscribed = true
  followAcceptedSockets((socket: Socket) => {
    try {
      const server = socket.server
      if (!server) return
      let tracked = state.accepted.get(server)
      if (!tracked) state.accepted.set(server, (tracked = newTracked()))
      note(tracked, socket)
    } catch {
      // never into Node's accept
    }
  })
}

/** The connections `server` accepted that are still open (not destroyed), oldest first. */
export function openConnectionsOf(server: net.Server): net.Socket[] {
  const tracked = connections().accepted.get(server)
  if (!tracked) return []
  return openSockets(tracked)
}

/** One open connection, in the words of the assertion's failure. */
export interface ConnectionInfo {
  /** `from 127.0.0.1:51234` (a connection a server accepted) or `to 127.0.0.1:8080` (a client socket). */
  peer: string
  /** `open`, `half-closed: …`, `still connecting`. */
  state: string
  /** When it was accepted or asked to connect, if that was seen. */
  since: number | undefined
  bytesRead: number
  bytesWritten: number
  /** Where its client side was created, when that was in this process and the sockets probe saw it. */
  clientSites: CallSites | undefined
  /** Whether its client side is a socket of this process (a loopback connection made here). */
  clientInProcess: boolean
  /** False when client sockets are not noticed at all (the sockets probe is not installed): the client is unknown. */
  clientsNoticed: boolean
}

export function connectionInfo(socket: net.Socket, ledger: Ledger | undefined): ConnectionInfo {
  const s = socket as Socket
  const state = connectionState(s)
  const bytes = { bytesRead: s.bytesRead ?? 0, bytesWritten: s.bytesWritten ?? 0 }
  if (s.server) {
    const path = unixPath(s)
    const client = path ? undefined : clientEnd(s)
    return {
      peer: path ? `over Unix socket ${path}` : `from ${formatHostPort(s.remoteAddress, s.remotePort) ?? 'an unknown address'}`,
      state,
      since: connections().accepted.get(s.server)?.since.get(s),
      ...bytes,
      clientSites: client && ledger?.recordOf(client)?.sites,
      clientInProcess: client !== undefined,
      clientsNoticed: clientsNoticed(),
    }
  }
  const remote = unixPath(s) ?? formatHostPort(s.remoteAddress, s.remotePort) ?? pendingTarget(s) ?? 'an unknown address'
  const local = formatHostPort(s.localAddress, s.localPort)
  const record = ledger?.recordOf(s)
  return {
    peer: `to ${remote}${local ? ` (from ${local})` : ''}`,
    state,
    since: connections().clients.since.get(s) ?? record?.createdAt,
    ...bytes,
    clientSites: record?.sites,
    clientInProcess: true,
    clientsNoticed: clientsNoticed(),
  }
}

/** Client sockets are noticed while the sockets probe is installed (the `retained` probe alone does not note them). */
function clientsNoticed(): boolean {
  return connections().clientsNoticed
}

/** The client socket of this process at the other end of an accepted loopback connection. */
function clientEnd(accepted: Socket): Socket | undefined {
  const port = accepted.remotePort
  if (port === undefined) return undefined
  const address = plainAddress(accepted.remoteAddress)
  for (const ref of connections().clients.sockets) {
    const client = ref.deref()
    if (client && !client.destroyed && client.localPort === port && plainAddress(client.localAddress) === address) return client
  }
  return undefined
}

/** `::ffff:127.0.0.1` (an IPv4 peer of a dual-stack server) is `127.0.0.1` on the client's side. */
function plainAddress(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address
}
