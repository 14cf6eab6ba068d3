import { fstatSync } from 'node:fs'
import type { Worker } from 'node:worker_threads'
import { isMainThread } from '../node/builtins.js'
import type { LeakRecord, Ledger, Probe, Scope } from '../ledger/ledger.js'
import { fdCount, holdFdDir, listFds, readFdLink, socketInfo, socketInode } from '../os/proc.js'
import { readQuietly } from '../node/quiet.js'
import { explainTcpState } from '../os/socket-state.js'
import { subscribe } from './channel.js'
import { formatHostPort } from './net-describe.js'
import { followAcceptedSockets, followClientSockets } from './net-follow.js'

/** A descriptor found in the OS's table that no JavaScript object explains. */
interface Descriptor {
  fd: number
  /** `dev:ino` of what it refers to when found: the same number holding something else later is not this one. */
  identity: string
  /** What /proc said it was when found: `/tmp/x`, `socket:[123]`, `pipe:[456]`, `anon_inode:[eventfd]`. */
  link: string
}

/**
 * The process's descriptor table as last seen. `stable` holds the numbers open when the probe was installed
 * (Vitest's stdio and IPC channel, the event loop's own): they are trusted by number and never resolved again, so a
 * clean look costs one directory read. Every later one is in `known` with its identity: while the object found
 * holding it still does (a socket not destroyed, a file not closed) it is trusted too; any other is checked at every
 * look (one stat, about 2 µs), so a number closed and reused between two looks is seen as new.
 */
interface Snapshot {
  stable: Set<string>
  known: Map<string, Known>
  /** How many were open after the last full look (the listing's own left out), where the kernel can count them. */
  count: number | undefined
}

interface Known {
  identity: string
  /** For a descriptor a live object was found holding: whether it still does (then no stat is needed to trust it). */
  held?: () => boolean
}

/**
 * Descriptors libuv opens for the event loop on first use and keeps for the life of the process (inotify for the
 * first fs.watch), or for each new loop (io_uring on Node 22): Node's own, never a test's.
 */
const NODE_OWN = /^anon_inode:(?:inotify|\[io_uring\])$/

/** Never called, so never on the stack: V8 records no frames, as is right for what was found by looking. */
function foundByLooking(): void {}

let snapshot: Snapshot | undefined
/**
 * Every net socket made or accepted since install, weakly: one idle in a keep-alive pool is unref'd, so it is in no
 * list of active handles, and with the `sockets` kind off no record holds it either; its descriptor is still
 * explained. Dead entries go when the set is read.
 */
const netSockets = new Set<WeakRef<object>>()
const PRUNE_START = 256
let netSocketsPruneAt = PRUNE_START
const liveWorkers = new Set<Worker>()
let workerExited = false

/**
 * The OS's view: descriptors opened by anything the other probes do not follow (a native addon, a library calling
 * Node internals, `fs.opendir`), found by diffing /proc/self/fd when a test or suite starts and before it is judged.
 *
 * Cheap by design: a clean look is one directory read of the descriptor names (about 10 µs for 20 descriptors) and
 * one stat per descriptor opened since the worker started; only new ones are resolved (readlink), and only new ones
 * that no live resource explains become records. Linux only, and only where this process's descriptor table is the
 * worker's own (pools `forks` and `vmForks`): in `threads` and `vmThreads` the table is shared with Vitest and the
 * other workers, so nothing is looked at (see descriptorsNote in plugin/pool-notes.ts).
 */
export const descriptorsProbe: Probe<Descriptor> = {
  kind: 'descriptors',
  // what a look found, described by the probe
  describes: true,

  install(ledger: Ledger) {
    if (process.platform !== 'linux' || !isMainThread()) return () => {}
    const release = holdFdDir()
    // no listing where /proc is hidden (a sandbox): nothing to snapshot
    const names = listFds()
    if (!names) {
      release()
      return () => {}
    }
    // the listing's own descriptor is closed by now: it has no identity, and is not stable
    const stable = new Set(names.filter((name) => fdIdentity(name) !== undefined))
    snapshot = { stable, known: new Map(), count: stable.size }
    const unsubscribe = subscribe('worker_threads', ({ worker }: { worker: Worker }) => {
      liveWorkers.add(worker)
      worker.once('exit', () => {
        liveWorkers.delete(worker)
        workerExited = true
      })
    })
    const noteSocket = (socket: object) => {
      netSockets.add(new WeakRef(socket))
      // a test that opens and closes sockets by the hundred thousand: the dead refs go before they pile up
      if (netSockets.size < netSocketsPruneAt) return
      for (const ref of netSockets) if (ref.deref() === undefined) netSockets.delete(ref)
      netSocketsPruneAt = Math.max(PRUNE_START, netSockets.size * 2)
    }
    const unfollow = [followClientSockets(noteSocket), followAcceptedSockets(noteSocket)]
    ledger.lookers.add(descriptorsProbe)
    return () => {
      ledger.lookers.delete(descriptorsProbe)
      release()
      unsubscribe()
      for (const fn of unfollow) fn()
      netSockets.clear()
      snapshot = undefined
    }
  },

  look(owner: Scope, ledger: Ledger) {
    if (!snapshot || unchanged(snapshot)) return
    const names = listFds()
    if (!names) return
    const fresh = diff(snapshot, names)
    const workersRan = liveWorkers.size > 0 || workerExited
    workerExited = false
    // a worker thread shares this table: what appeared while one ran may be its own (it is checked as a worker)
    if (fresh.length === 0 || workersRan) return
    let explained: Map<number, () => boolean> | undefined
    for (const { name, identity } of fresh) {
      const link = readFdLink(name)
      if (link === undefined) continue
      if (NODE_OWN.test(link)) {
        // kept for the life of the process: trusted by number from now on, like those open at install
        snapshot.known.delete(name)
        snapshot.stable.add(name)
        continue
      }
      explained ??= explainedFds(owner, ledger)
      const fd = Number(name)
      const held = explained.get(fd)
      if (held) snapshot.known.set(name, { identity, held })
      else ledger.track({ fd, identity, link }, descriptorsProbe, foundByLooking, owner)
    }
  },

  state(descriptor) {
    // nobody known holds it, so it may be on its way out (an async close in flight): waited for like a closing one
    return { status: fdIdentity(descriptor.fd) === descriptor.identity ? 'closing' : 'closed' }
  },

  describe(descriptor) {
    const { name, tcpState } = osName(descriptor)
    return {
      what: `file descriptor ${descriptor.fd} (${name})`,
      state: tcpState ? explainTcpState(tcpState) : 'open',
      fix: 'find the code that opens it (the path or address above is the clue) and close it',
      noStack:
        'found in the OS descriptor table, not seen being opened: by a native addon, a library calling Node internals, or an API the plugin does not follow, such as fs.opendir',
    }
  },

  close() {
    // not ours: closing a descriptor some native code still uses would break it, or close someone else's later on
  },
}

/**
 * Nothing can have been opened since the last full look: as many descriptors are open as then, and each one found
 * then (beyond those open at install) is still held by the live object that explained it. One stat instead of a
 * directory read and a stat of the listing's own descriptor. A descriptor that took the number of one open since
 * install (Vitest's stdio and IPC channel, which stay open) is the one case this does not see.
 */
function unchanged(snap: Snapshot): boolean {
  if (snap.count === undefined || fdCount() !== snap.count) return false
  for (const known of snap.known.values()) if (!known.held?.()) return false
  return true
}

/** The descriptors that are new (or hold something new) since the last look; updates the snapshot. */
function diff(snap: Snapshot, names: string[]): Array<{ name: string; identity: string }> {
  const fresh: Array<{ name: string; identity: string }> = []
  const present = new Set<string>()
  let stableSeen = 0
  let selfFound = false
  for (const name of names) {
    if (snap.stable.has(name)) {
      stableSeen++
      continue
    }
    const known = snap.known.get(name)
    if (known?.held?.()) {
      present.add(name)
      continue
    }
    const identity = fdIdentity(name)
    // no identity: the listing's own descriptor, closed when the listing returned (or one closed just now)
    if (identity === undefined) {
      selfFound = true
      continue
    }
    present.add(name)
    if (known?.identity === identity) {
      known.held = undefined
      continue
    }
    snap.known.set(name, { identity })
    fresh.push({ name, identity })
  }
  for (const name of snap.known.keys()) if (!present.has(name)) snap.known.delete(name)
  // A stable descriptor closed (the listing's own then takes the lowest free number, which may be its number): drop
  // the closed ones from `stable`, so a later descriptor under that number is resolved. Rare: Vitest's stay open.
  if (stableSeen < snap.stable.size || !selfFound) {
    for (const name of snap.stable) if (fdIdentity(name) === undefined) snap.stable.delete(name)
  }
  // the listing's own number is not open any more; without it found, the count is not known
  snap.count = selfFound ? names.length - 1 : undefined
  return fresh
}

/**
 * What a descriptor number is open on now (its device and inode), undefined once closed. An fstat of the number:
 * ~2 µs, against ~15 µs for a stat of its /proc link when the test file starts (one per descriptor then). A closed
 * number costs an exception instead, ~15 µs: asked mostly about open ones (the listing's own, closed, is one of ~20).
 */
function fdIdentity(fd: number | string): string | undefined {
  try {
    const stat = fstatSync(Number(fd))
    return `${stat.dev}:${stat.ino}`
  } catch {
    return undefined
  }
}

/**
 * Descriptors that a live JavaScript object holds, each with a check that it still does: the resources the other
 * probes track for this scope and the scopes around it (sockets, servers, child process pipes, files, FileHandles,
 * pooled sockets), and every ref'd libuv handle (Vitest's own stdio and IPC channel, and what a switched-off kind
 * would have tracked).
 */
function explainedFds(owner: Scope, ledger: Ledger): Map<number, () => boolean> {
  const held = new Map<number, () => boolean>()
  // the check keeps the object weakly: a closed socket must not be kept alive by the snapshot's bookkeeping until its
  // number is looked at again (retainedSockets would take it for one the test's code still holds)
  // only what holds its number now explains it: a closed file's record keeps the number it had, which the kernel
  // gives to the next descriptor opened (the one to explain, perhaps)
  const note = (resource: object, alive: (resource: object) => boolean) => {
    for (const [fd, read] of fdsOf(resource)) {
      if (held.has(fd) || !safely(() => alive(resource))) continue
      const ref = new WeakRef(resource)
      held.set(fd, () => {
        const current = ref.deref()
        return current !== undefined && safely(() => read(current) === fd && alive(current))
      })
    }
  }
  const noteRecord = ({ resource, probe }: LeakRecord) =>
    resource !== undefined && note(resource, (r) => probe.state(r, undefined).status !== 'closed')
  for (let scope: Scope | undefined = owner; scope; scope = scope.parent) for (const record of scope.records) noteRecord(record)
  for (const record of ledger.pooled) noteRecord(record)
  for (const record of ledger.reported) {
    const resource = record.resource
    if (resource === undefined || record.probe.state(resource, undefined).status === 'closed') ledger.reported.delete(record)
    else noteRecord(record)
  }
  for (const ref of netSockets) {
    const socket = ref.deref()
    if (socket) note(socket, (r) => (r as { destroyed?: boolean }).destroyed !== true)
    else netSockets.delete(ref)
  }
  const active = (process as unknown as { _getActiveHandles?: () => object[] })._getActiveHandles?.() ?? []
  for (const handle of active) note(handle, () => true)
  return held
}

function safely(check: () => boolean): boolean {
  try {
    return check()
  } catch {
    return false
  }
}

/**
 * The descriptors an object holds, by the shapes Node gives them, each with how to read it again from the object
 * (the reader holds nothing itself).
 */
function fdsOf(resource: object): Array<[number, (resource: object) => unknown]> {
  if (!resource || typeof resource !== 'object') return []
  const fds: Array<[number, (resource: object) => unknown]> = []
  const r = resource as Record<string | symbol, any>
  const add = (read: (resource: Record<string | symbol, any>) => unknown) => {
    const value = read(r)
    if (typeof value === 'number' && value >= 0) fds.push([value, read as (resource: object) => unknown])
  }
  // read without Node's deprecated getters (a dgram socket's `_handle` warns, DEP0112), on the user's objects
  const get = readQuietly as (object: unknown, key: string | symbol) => any
  try {
    add((x) => get(get(x, '_handle'), 'fd')) // net sockets and servers, TLS, pipes
    add((x) => get(x, 'fd')) // raw files, FileHandles, streams
    add((x) => get(get(x, 'channel'), 'fd')) // a child's IPC channel
    const stdio = get(r, 'stdio')
    if (Array.isArray(stdio)) for (let i = 0; i < stdio.length; i++) add((x) => get(get(get(x, 'stdio')?.[i], '_handle'), 'fd'))
    // dgram keeps its handle under a symbol
    if (fds.length === 0) for (const symbol of Object.getOwnPropertySymbols(r)) add((x) => get(get(get(x, symbol), 'handle'), 'fd'))
  } catch {
    // a getter that throws: nothing to learn from this one
  }
  return fds
}

/** What the OS says a descriptor is, in words. */
function osName(descriptor: Descriptor): { name: string; tcpState?: string } {
  const { link, fd } = descriptor
  const inode = socketInode(link)
  if (inode !== undefined) {
    const info = socketInfo(inode)
    if (!info) return { name: `socket, inode ${inode}` }
    if (info.protocol === 'Unix') return { name: info.path ? `Unix socket ${info.path}` : 'unnamed Unix socket' }
    const { local, remote, state } = info.entry
    const localText = formatHostPort(local.address, local.port)
    if (info.protocol === 'UDP')
      return { name: `UDP socket ${localText}${remote.port ? ` → ${formatHostPort(remote.address, remote.port)}` : ''}` }
    if (state === 'LISTEN') return { name: `TCP socket listening on ${localText}`, tcpState: state }
    return { name: `TCP socket ${localText} → ${formatHostPort(remote.address, remote.port)}`, tcpState: state }
  }
  if (link.startsWith('pipe:')) return { name: 'pipe' }
  const anon = /^anon_inode:\[?([^\]]+)\]?$/.exec(link)
  if (anon) return { name: anon[1] === 'eventpoll' ? 'epoll instance' : anon[1]! }
  if (link.startsWith('/')) {
    let directory = false
    try {
      directory = fstatSync(fd).isDirectory()
    } catch {
      // closed meanwhile
    }
    return { name: `${directory ? 'directory' : 'file'} ${link}` }
  }
  return { name: link }
}
