import type net from 'node:net'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { timers } from '../node/builtins.js'
import { findCollectionRetainers, garbageCollector, HeapTooLargeError, type CollectionRetainer } from '../node/heap.js'
import type { Ledger, Probe, ResourceState } from '../ledger/ledger.js'
import { captureCallSites, isCreatedByVitest, type CallSites } from '../stacks/stack.js'
import { formatHostPort, isEnding } from './net-describe.js'
import { followAcceptedSockets, followClientSockets } from './net-follow.js'
import { connectTarget, forgetClosedSocket } from './sockets.js'

type Socket = net.Socket & { server?: net.Server; _peername?: { address?: string; port?: number } }

/**
 * One socket whose memory is watched: held weakly, so that the plugin is never what keeps it alive. Its class name and
 * `id` are how the heap snapshot finds it (see heap.ts).
 */
class RetainedSocketCheck {
  /** A flat string (a concatenated one shows in a heap snapshot without its text). */
  readonly id = String(++lastId)
  readonly ref: WeakRef<Socket>
  /** What it is, in words; taken while it is still open where possible (a closed socket forgets its addresses). */
  label: string | undefined
  /**
   * watching: open, or not yet looked at. closing: destroyed, waiting for Node to release its handle (two turns of the
   * event loop) and for the garbage collection after that. Then: collected (nothing to report), kept (referenced,
   * not by a collection: not reported), or retained (by `retainer`: reported).
   */
  stage: 'watching' | 'closing' | 'collected' | 'kept' | 'retained' = 'watching'
  retainer: CollectionRetainer | undefined
  /** Where it came from, for the shortcut in collectAndJudge: its creation frames, or an id of the server that accepted it. */
  place: string | undefined

  constructor(socket: Socket, label: string | undefined) {
    this.ref = new WeakRef(socket)
    this.label = label
  }
}

let lastId = 0
const ownDir = dirname(fileURLToPath(import.meta.url))
const ownUrl = `file://${ownDir}`
// Node's own, out of reach of fake timers (a test that leaves them installed must not stall the check)
const realSetImmediate = timers.setImmediate

let collect: (() => void) | undefined
let onInternalError: (error: unknown) => void = () => {}
/**
 * Where each client socket was created, keyed by the socket: a WeakMap, because call sites hold the async functions
 * they passed through (their locals included), and in the record they would keep alive the very socket whose
 * collection it waits for. The record gets them when the socket turns out retained (see `describe`).
 */
const sitesOf = new WeakMap<object, CallSites | undefined>()
/** Checks whose socket's handle has been released, waiting for the next garbage collection. */
let waiting: RetainedSocketCheck[] = []
let collectionScheduled = false

/**
 * The memory side of socket leaks (option `retainedSockets`, off by default): a socket that was closed, yet is still
 * kept in a Set, a Map or an array once its owner is over (a connection manager that never forgets), is never garbage
 * collected. After the owner's check finds a socket it created closed, garbage is collected (a full collection, which is
 * why this is opt-in) and a socket still alive is looked up in a heap snapshot: reported when a collection keeps it,
 * not when only a variable or a property does (`let client` in a describe block holds the last one, it does not pile
 * them up).
 */
export const retainedProbe: Probe<RetainedSocketCheck> = {
  kind: 'retained',
  // the check is the probe's own: the record holds it (it holds the socket weakly)
  describes: true,
  // no stack in the record: it would hold the very socket (see sitesOf); onClient captures its own
  stackFrames: 0,

  install(ledger: Ledger) {
    collect = garbageCollector()
    onInternalError = (error) => ledger.onInternalError(error)
    const onClient = (socket: Socket, args: unknown[], skip: Function) => {
      try {
        const sites = captureCallSites(skip)
        if (isCreatedByVitest(sites)) return
        const target = connectTarget(args)
        const to = target.path ?? formatHostPort(target.host, target.port)
        const label = target.path ? `Unix socket connection to ${target.path}` : to ? `TCP socket to ${to}` : undefined
        if (ledger.track(new RetainedSocketCheck(socket, label), retainedProbe, skip)) sitesOf.set(socket, sites)
      } catch {
        // never into the user's connect()
      }
    }
    const onAccepted = (socket: Socket, skip: Function) => {
      // an accepted connection is its server's owner's, like in the sockets probe; a server nobody tracked is not ours
      const serverRecord = socket.server && ledger.recordOf(socket.server)
      if (!serverRecord) return
      ledger.track(new RetainedSocketCheck(socket, labelOf(socket)), retainedProbe, skip, serverRecord.owner)
    }
    const undo = [followClientSockets(onClient), followAcceptedSockets(onAccepted)]
    return () => {
      for (const fn of undo) fn()
    }
  },

  state(check, ctx): ResourceState {
    if (check.stage === 'retained') return { status: 'open' }
    if (check.stage === 'collected' || check.stage === 'kept') return { status: 'closed' }
    const socket = check.ref.deref()
    if (!socket) return { status: 'closed' }
    if (!ctx) return { status: 'open' }
    // the end of the test file: what its modules hold goes with them (the file's own Set of accepted connections
    // does not pile up past it); one still ending is not waited for either
    if (ctx.scope.kind === 'file') return { status: 'closed' }
    if (!socket.destroyed) {
      check.label = labelOf(socket) ?? check.label
      // still open: the sockets probe's to judge; one that is ending may yet close, and then be retained
      return { status: isEnding(socket) ? 'pending' : 'excused' }
    }
    if (check.stage === 'watching') {
      check.stage = 'closing'
      check.label = labelOf(socket) ?? check.label
      check.place = socket.server ? serverPlace(socket.server) : placeOf(sitesOf.get(socket))
      forgetClosedSocket(socket)
      // Node releases the handle (which holds the socket) in the close phase of the loop iteration in which it was
      // destroyed: the second check phase from now is after it
      realSetImmediate(() => realSetImmediate(() => release(check)))
    }
    return { status: 'pending' }
  },

  describe(check, ctx) {
    const socket = check.ref.deref()
    const record = ctx.ledger.recordOf(check)
    // the record held no call sites while the socket might be collected (see sitesOf); it is retained now
    if (record && socket && !record.sites?.length) record.sites = sitesOf.get(socket)
    const retainer = check.retainer
    const where = retainer ? retainerPhrase(retainer) : 'a collection'
    const name = retainer?.path ? `\`${retainer.path}\`` : 'the collection'
    return {
      what: `closed ${check.label ?? 'TCP socket'}`,
      state: `closed, but still referenced from ${where}: it is never garbage collected`,
      fix: `drop it from ${name} when it closes (${removal(retainer)} where it is added), or empty ${name}`,
    }
  },

  close() {
    // nothing to close: it is closed already, only referenced
  },

  partOf(check) {
    // an accepted connection has no stack of its own: the report falls back to where its server was started
    const server = check.ref.deref()?.server
    return server ? [server] : []
  },
}

function release(check: RetainedSocketCheck): void {
  waiting.push(check)
  if (collectionScheduled) return
  collectionScheduled = true
  // every check released in this check phase shares one collection, in a job of its own: a `deref()` keeps its target
  // alive until the end of the job it ran in
  realSetImmediate(collectAndJudge)
}

function collectAndJudge(): void {
  collectionScheduled = false
  const checks = waiting
  waiting = []
  try {
    collect?.()
  } catch (error) {
    onInternalError(error)
  }
  const survivors: RetainedSocketCheck[] = []
  for (const check of checks) {
    if (check.ref.deref()) survivors.push(check)
    else check.stage = 'collected'
  }
  if (survivors.length === 0) return
  // A heap snapshot costs a few hundred ms. A socket alive only because a variable holds it (`let client` in a
  // describe block, Vitest's context of the test that just ran holding a fixture's value) comes back after every test
  // from the same place in the code: once one from there was found kept that way, the next one is assumed to be
  // too, as long as the previous one has been let go (a variable holds one socket at a time; a collection keeps them).
  const perPlace = new Map<string | undefined, number>()
  for (const check of survivors) perPlace.set(check.place, (perPlace.get(check.place) ?? 0) + 1)
  const unknown: RetainedSocketCheck[] = []
  for (const check of survivors) {
    const previous = keptFrom(check.place)
    if (previous && !previous.deref() && perPlace.get(check.place) === 1) keep(check)
    else unknown.push(check)
  }
  if (unknown.length === 0) return
  let retainers: Map<string, CollectionRetainer | null>
  try {
    retainers = findCollectionRetainers({ markerClass: RetainedSocketCheck.name, ids: new Set(unknown.map((c) => c.id)) })
  } catch (error) {
    if (error instanceof HeapTooLargeError)
      noteOnce(`vitest-leaks: retainedSockets: closed sockets outlived their tests, but ${error.message}: they are not reported.`)
    else onInternalError(error)
    retainers = new Map()
  }
  for (const check of unknown) {
    const retainer = retainers.get(check.id)
    if (retainer) {
      check.stage = 'retained'
      check.retainer = retainer
      forgetPlace(check.place)
    } else keep(check)
  }
}

/** The last socket found kept by something other than a collection, per place it came from. */
const keptAt = new Map<string, WeakRef<Socket>>()
/** A name for each server, so that nothing here holds one (through its listeners, it holds what the user's code does). */
const serverIds = new WeakMap<object, string>()

function serverPlace(server: object): string {
  let id = serverIds.get(server)
  if (!id) serverIds.set(server, (id = `server ${++lastId}`))
  return id
}

function keptFrom(place: string | undefined): WeakRef<Socket> | undefined {
  return place === undefined ? undefined : keptAt.get(place)
}

function keep(check: RetainedSocketCheck): void {
  check.stage = 'kept'
  const socket = check.ref.deref()
  if (socket && check.place !== undefined) keptAt.set(check.place, new WeakRef(socket))
}

function forgetPlace(place: string | undefined): void {
  if (place !== undefined) keptAt.delete(place)
}

/** Where a client socket was created, as the raw positions of its first frames outside Node and the plugin. */
function placeOf(sites: CallSites | undefined): string | undefined {
  const frames: string[] = []
  for (const site of sites ?? []) {
    const file = site.getFileName() ?? ''
    if (!file.includes('/') || file.startsWith('node:') || file.startsWith(ownDir) || file.startsWith(ownUrl)) continue
    frames.push(`${file}:${site.getLineNumber()}:${site.getColumnNumber()}`)
    if (frames.length === 3) break
  }
  return frames.length > 0 ? frames.join(' ') : undefined
}

let noted = false
function noteOnce(message: string): void {
  if (noted) return
  noted = true
  process.stderr.write(`\n${message}\n\n`)
}

function retainerPhrase(retainer: CollectionRetainer): string {
  const kind =
    retainer.collection === 'object'
      ? 'an object used as a collection'
      : retainer.collection === 'array'
        ? 'an array'
        : `a ${retainer.collection}`
  const name = retainer.path ? ` \`${retainer.path}\`` : ''
  const holder = retainer.holder ? ` (of a ${retainer.holder})` : ''
  const entry = retainer.entryProperty ? `, as \`.${retainer.entryProperty}\` of an entry` : ''
  return `${kind}${name}${holder}${entry}`
}

function removal(retainer: CollectionRetainer | undefined): string {
  // inside the class that holds it, the code says `this.clients`
  const name = retainer?.holder && retainer.path ? `this.${retainer.path.split('.').at(-1)}` : (retainer?.path ?? 'sockets')
  const entry = retainer?.entryProperty
  switch (retainer?.collection) {
    case 'Set':
      return `\`socket.once('close', () => ${name}.delete(${entry ? 'entry' : 'socket'}))\``
    case 'Map':
      return `\`socket.once('close', () => ${name}.delete(key))\``
    case 'array': {
      const index = entry ? `${name}.findIndex((entry) => entry.${entry} === socket)` : `${name}.indexOf(socket)`
      return `\`socket.once('close', () => ${name}.splice(${index}, 1))\``
    }
    default:
      return "in a `'close'` listener"
  }
}

function labelOf(socket: Socket): string | undefined {
  const local = formatHostPort(socket.localAddress, socket.localPort)
  const remote = formatHostPort(socket.remoteAddress ?? socket._peername?.address, socket.remotePort ?? socket._peername?.port)
  // a closed socket no longer knows its local address: keep what was taken while it was open
  if (!local || !remote) return undefined
  return socket.server ? `connection accepted on ${local} from ${remote}` : `TCP socket ${local} → ${remote}`
}
