import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { os } from '../node/builtins.js'

/**
 * Linux's view of this process's descriptors and sockets, from /proc. Parsing is kept apart from reading so it can
 * be tested on recorded input (test/fixtures/os). Every reader returns undefined or [] instead of throwing: /proc may
 * be missing (another OS, a sandbox) and the plugin's own trouble must never fail a test.
 */

export interface Endpoint {
  address: string
  port: number
}

/** One line of /proc/net/{tcp,tcp6,udp,udp6}. */
export interface NetEntry {
  local: Endpoint
  remote: Endpoint
  /** The kernel's state name: ESTABLISHED, LISTEN, CLOSE_WAIT... (for UDP: CLOSE when unconnected, ESTABLISHED when connected) */
  state: string
  inode: number
}

/** include/net/tcp_states.h */
const STATES: Record<number, string> = {
  1: 'ESTABLISHED',
  2: 'SYN_SENT',
  3: 'SYN_RECV',
  4: 'FIN_WAIT1',
  5: 'FIN_WAIT2',
  6: 'TIME_WAIT',
  7: 'CLOSE',
  8: 'CLOSE_WAIT',
  9: 'LAST_ACK',
  10: 'LISTEN',
  11: 'CLOSING',
  12: 'NEW_SYN_RECV',
}

const FD_DIR = '/proc/self/fd'

let procChecked: boolean | undefined

/** Whether /proc/self/fd can be read here (Linux, not a sandbox that hides it); asked once, when first needed. */
export function procAvailable(): boolean {
  if (procChecked === undefined) {
    try {
      procChecked = process.platform === 'linux' && Array.isArray(readdirSync(FD_DIR))
    } catch {
      procChecked = false
    }
  }
  return procChecked
}

/**
 * The open descriptor numbers, as names. Cheap (one directory read, no readlink: about 10 µs for 20 descriptors).
 * The listing includes the descriptor the read itself used, already closed when this returns.
 */
export function listFds(): string[] | undefined {
  try {
    return readdirSync(FD_DIR)
  } catch {
    return undefined
  }
}

/**
 * How many descriptors are open, from one stat of the directory: Linux 6.2 and later report the count as its size
 * (about 1.5 µs, against 8 µs or more for reading it). Undefined on older kernels, which report 0. Between
 * `holdFdDir` and its undo the directory is kept open and stat'ed through its descriptor: each test's check reads
 * the count, and a stat by path walks /proc/self each time (~5 µs in a test file's process, against ~2.5).
 */
export function fdCount(): number | undefined {
  try {
    const size = held !== undefined ? heldSize(held) : statSync(FD_DIR, { throwIfNoEntry: false })?.size
    return size ? size : undefined
  } catch {
    return undefined
  }
}

let held: { fd: number; dev: number; ino: number } | undefined

// Node's own `openSync`, taken when this module loads, before the files probe replaces it: the plugin's descriptor
// is not a file for that probe to follow (a creation stack, a record) and tell apart as the plugin's
const openOwn = openSync

/**
 * Opens /proc/self/fd for `fdCount`; returns the undo. Its descriptor is one of the process's from then on: open it
 * before listing them.
 */
export function holdFdDir(): () => void {
  try {
    const fd = openOwn(FD_DIR, 'r')
    const { dev, ino } = fstatSync(fd)
    const mine = { fd, dev, ino }
    held = mine
    return () => {
      if (held !== mine) return
      held = undefined
      try {
        closeSync(fd)
      } catch {
        // closed by someone else already
      }
    }
  } catch {
    return () => {}
  }
}

/** The directory's size through the held descriptor, unless that number is no longer it (a test closed it). */
function heldSize(dir: { fd: number; dev: number; ino: number }): number | undefined {
  try {
    const stat = fstatSync(dir.fd)
    if (stat.dev === dir.dev && stat.ino === dir.ino) return stat.size
  } catch {
    // closed: by path from now on
  }
  held = undefined
  return statSync(FD_DIR, { throwIfNoEntry: false })?.size
}

/** What the kernel says a descriptor is: a path, `socket:[123]`, `pipe:[456]`, `anon_inode:[eventfd]`. */
export function readFdLink(fd: number | string): string | undefined {
  try {
    return readlinkSync(`${FD_DIR}/${fd}`)
  } catch {
    return undefined
  }
}

/** The inode of a `socket:[123]` link. */
export function socketInode(link: string | undefined): number | undefined {
  const match = link && /^socket:\[(\d+)\]$/.exec(link)
  return match ? Number(match[1]) : undefined
}

/** The descriptor whose link is `socket:[inode]`: reads every link, so only for describing a leak. */
export function fdOfSocketInode(inode: number): number | undefined {
  const wanted = `socket:[${inode}]`
  for (const name of listFds() ?? []) {
    if (readFdLink(name) === wanted) return Number(name)
  }
  return undefined
}

/** Parses /proc/net/tcp, tcp6, udp or udp6 (the address width tells IPv4 from IPv6). */
export function parseNetTable(text: string, endianness: 'LE' | 'BE' = os().endianness()): NetEntry[] {
  const entries: NetEntry[] = []
  for (const line of text.split('\n').slice(1)) {
    const entry = parseNetLine(line, endianness)
    if (entry) entries.push(entry)
  }
  return entries
}

/** One line of a table (not the header). */
function parseNetLine(line: string, endianness: 'LE' | 'BE'): NetEntry | undefined {
  const fields = line.trim().split(/\s+/)
  if (fields.length < 10) return undefined
  const local = parseEndpoint(fields[1]!, endianness)
  const remote = parseEndpoint(fields[2]!, endianness)
  const inode = Number(fields[9])
  if (!local || !remote || !Number.isInteger(inode)) return undefined
  const code = Number.parseInt(fields[3]!, 16)
  return { local, remote, state: STATES[code] ?? `state ${fields[3]}`, inode }
}

/**
 * The entry of the socket with this inode, found in the table's text without parsing the other lines: after a busy
 * test run a table holds thousands of TIME_WAIT lines (inode 0), and parsing them all for each leaked socket cost
 * milliseconds per leak.
 */
export function findNetEntry(text: string, inode: number, endianness: 'LE' | 'BE' = os().endianness()): NetEntry | undefined {
  if (!Number.isInteger(inode) || inode <= 0) return undefined
  // the inode is a field of its own, between spaces; the line is parsed only where it is found, and checked there
  // (another column may hold the same digits)
  const needle = ` ${inode} `
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
    const start = text.lastIndexOf('\n', at) + 1
    if (start === 0) continue
    const end = text.indexOf('\n', at)
    const entry = parseNetLine(text.slice(start, end === -1 ? text.length : end), endianness)
    if (entry?.inode === inode) return entry
  }
  return undefined
}

function parseEndpoint(field: string, endianness: 'LE' | 'BE'): Endpoint | undefined {
  const [hex, portHex] = field.split(':')
  if (!hex || !portHex || (hex.length !== 8 && hex.length !== 32)) return undefined
  // the kernel prints each 32-bit word of the address as a number in host byte order
  const bytes: number[] = []
  for (let i = 0; i < hex.length; i += 8) {
    const word = [0, 2, 4, 6].map((j) => Number.parseInt(hex.slice(i + j, i + j + 2), 16))
    bytes.push(...(endianness === 'LE' ? word.reverse() : word))
  }
  const port = Number.parseInt(portHex, 16)
  return { address: bytes.length === 4 ? bytes.join('.') : formatIPv6(bytes), port }
}

/** RFC 5952 text (`::1`, `fe80::1`), and `::ffff:127.0.0.1` for IPv4-mapped addresses, as Node writes them. */
function formatIPv6(bytes: number[]): string {
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!)
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${bytes.slice(12).join('.')}`
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart === -1) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}

/** Parses /proc/net/unix into inode → path (an unnamed socket has no path). */
export function parseUnixTable(text: string): Map<number, string | undefined> {
  const byInode = new Map<number, string | undefined>()
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 7) continue
    const inode = Number(fields[6])
    if (Number.isInteger(inode)) byInode.set(inode, fields[7])
  }
  return byInode
}

export type NetTable = 'tcp' | 'tcp6' | 'udp' | 'udp6'

/**
 * The table as the kernel has it now. It lists every socket of the network namespace (other processes' too: tens of
 * thousands of lines on a busy machine), so it is read once for all the leaks described together: kept until the
 * current task's microtasks have run.
 */
export function readNetTable(table: NetTable): NetEntry[] {
  const cached = tables.get(table)
  if (cached) return cached
  const entries = parseNetTable(netTableText(table))
  tables.set(table, entries)
  return entries
}

/** The entry of the socket with this inode in one table, as the kernel has it now (see findNetEntry). */
export function netEntryOf(table: NetTable, inode: number): NetEntry | undefined {
  return findNetEntry(netTableText(table), inode)
}

/** A table's text, read once for all the leaks described together (cleared with the parsed tables). */
function netTableText(table: NetTable): string {
  let text = texts.get(table)
  if (text !== undefined) return text
  try {
    text = readFileSync(`/proc/self/net/${table}`, 'utf8')
  } catch {
    text = ''
  }
  if (texts.size === 0) {
    queueMicrotask(() => {
      texts.clear()
      tables.clear()
    })
  }
  texts.set(table, text)
  return text
}

const texts = new Map<NetTable, string>()
const tables = new Map<NetTable, NetEntry[]>()

/** What a socket descriptor is, by its inode: a TCP or UDP endpoint with its state, or a Unix socket. */
export type SocketInfo = { protocol: 'TCP' | 'UDP'; entry: NetEntry } | { protocol: 'Unix'; path: string | undefined }

export function socketInfo(inode: number): SocketInfo | undefined {
  for (const [protocol, tables] of [
    ['TCP', ['tcp', 'tcp6']],
    ['UDP', ['udp', 'udp6']],
  ] as const) {
    for (const table of tables) {
      const entry = netEntryOf(table, inode)
      if (entry) return { protocol, entry }
    }
  }
  try {
    const unix = parseUnixTable(readFileSync('/proc/self/net/unix', 'utf8'))
    if (unix.has(inode)) return { protocol: 'Unix', path: unix.get(inode) }
  } catch {
    // no /proc/net/unix
  }
  return undefined
}
