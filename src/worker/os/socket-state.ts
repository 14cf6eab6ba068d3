import { lsofFile } from './lsof.js'
import { fdOfSocketInode, netEntryOf, procAvailable, readFdLink, readNetTable, socketInode, type NetEntry, type NetTable } from './proc.js'

/** What the OS says about a socket: its descriptor and, for TCP, the connection state. */
export interface OsSocketState {
  fd?: number
  tcpState?: string
}

interface SocketLike {
  _handle?: { fd?: number } | null
  localAddress?: string
  localPort?: number
  remoteAddress?: string
  remotePort?: number
}

/**
 * Asks the OS about a live socket or server: /proc on Linux (the descriptor's inode, looked up in /proc/net/tcp and
 * tcp6), lsof elsewhere (servers too: a listener is LISTEN). Reads files or spawns lsof: only for describing a leak.
 * Never throws.
 */
export function osSocketState(resource: object): OsSocketState {
  const socket = resource as SocketLike
  try {
    const handleFd = socket._handle?.fd
    const fd = typeof handleFd === 'number' && handleFd >= 0 ? handleFd : undefined
    if (procAvailable()) return procState(socket, fd)
    if (fd === undefined || process.platform === 'win32') return {}
    const file = lsofFile(fd)
    return { fd, ...(file?.tcpState ? { tcpState: file.tcpState } : {}) }
  } catch {
    return {}
  }
}

function procState(socket: SocketLike, fd: number | undefined): OsSocketState {
  // each table lists the whole machine's sockets and takes the kernel milliseconds to write: only the one of the
  // socket's family (an IPv4-mapped address, `::ffff:127.0.0.1`, is in tcp6), both when the address is unknown
  const family = socket.localAddress === undefined ? undefined : socket.localAddress.includes(':') ? 'tcp6' : 'tcp'
  const families: readonly NetTable[] = family ? [family] : ['tcp', 'tcp6']
  const inode = fd === undefined ? undefined : socketInode(readFdLink(fd))
  let entry: NetEntry | undefined
  if (inode !== undefined) for (const table of families) entry ??= netEntryOf(table, inode)
  // no descriptor from Node (a wrapped handle): find the connection by its two addresses instead, in the parsed tables
  entry ??= families
    .flatMap((table) => readNetTable(table))
    .find(
      (e) =>
        sameEndpoint(e.local, socket.localAddress, socket.localPort) && sameEndpoint(e.remote, socket.remoteAddress, socket.remotePort),
    )
  const foundFd = fd ?? (entry && entry.inode !== 0 ? fdOfSocketInode(entry.inode) : undefined)
  return { ...(foundFd !== undefined ? { fd: foundFd } : {}), ...(entry ? { tcpState: entry.state } : {}) }
}

function sameEndpoint(endpoint: NetEntry['local'], address: string | undefined, port: number | undefined): boolean {
  return address !== undefined && port !== undefined && endpoint.port === port && endpoint.address === address.toLowerCase()
}

/** A TCP state in words when the name alone does not say what the user did wrong. */
export function explainTcpState(state: string): string {
  switch (state) {
    case 'CLOSE_WAIT':
      return 'CLOSE_WAIT: the peer closed its side and this side never called end() or destroy()'
    case 'FIN_WAIT1':
    case 'FIN_WAIT2':
      return `${state}: this side ended, the peer has not closed its side yet`
    case 'LAST_ACK':
      return 'LAST_ACK: both sides ended, waiting for the peer to acknowledge'
    case 'SYN_SENT':
      return 'SYN_SENT: still connecting'
    default:
      return state
  }
}
