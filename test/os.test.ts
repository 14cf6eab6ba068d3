import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { parseLsofFields } from '../src/worker/os/lsof.js'
import { findNetEntry, parseNetTable, parseUnixTable, socketInode } from '../src/worker/os/proc.js'
import { explainTcpState } from '../src/worker/os/socket-state.js'
import { FIXTURES } from './support/run-vitest.js'

// Samples recorded on Linux by test/fixtures/os/record.mjs: a listener, an established pair, a pair whose server
// ended its side (the client in CLOSE_WAIT, the server in FIN_WAIT2), an IPv6 pair and a Unix socket. info.json is
// what the recording process knew about each (ports, descriptors, /proc/self/fd links).
const dir = join(FIXTURES, 'os')
const read = (name: string) => readFileSync(join(dir, name), 'utf8')
const info = JSON.parse(read('info.json')) as {
  server: { port: number; fd: number }
  established: { localPort: number; fd: number }
  halfClosed: { localPort: number; fd: number }
  server6: { port: number; fd: number }
  established6: { localPort: number; fd: number }
  unixServer: { path: string; fd: number }
  fds: Record<string, string>
}
const inodeOf = (fd: number) => socketInode(info.fds[String(fd)])!

describe('/proc/net/tcp', () => {
  const entries = parseNetTable(read('proc-net-tcp.txt'), 'LE')

  test("every line is parsed (other processes' connections too)", () => {
    expect(entries).toHaveLength(read('proc-net-tcp.txt').trim().split('\n').length - 1)
  })

  test('a listener: local address, port, LISTEN, inode of its descriptor', () => {
    const entry = entries.find((e) => e.inode === inodeOf(info.server.fd))
    expect(entry).toEqual({
      local: { address: '127.0.0.1', port: info.server.port },
      remote: { address: '0.0.0.0', port: 0 },
      state: 'LISTEN',
      inode: inodeOf(info.server.fd),
    })
  })

  test('an established client: both addresses', () => {
    const entry = entries.find((e) => e.inode === inodeOf(info.established.fd))!
    expect(entry.state).toBe('ESTABLISHED')
    expect(entry.local).toEqual({ address: '127.0.0.1', port: info.established.localPort })
    expect(entry.remote).toEqual({ address: '127.0.0.1', port: info.server.port })
  })

  test('the side whose peer closed is CLOSE_WAIT, the side that closed first is FIN_WAIT2', () => {
    expect(entries.find((e) => e.inode === inodeOf(info.halfClosed.fd))?.state).toBe('CLOSE_WAIT')
    const serverSide = entries.find((e) => e.local.port === info.server.port && e.remote.port === info.halfClosed.localPort)
    expect(serverSide?.state).toBe('FIN_WAIT2')
  })

  test('TIME_WAIT entries belong to no descriptor (inode 0)', () => {
    const timeWait = entries.filter((e) => e.state === 'TIME_WAIT')
    expect(timeWait.length).toBeGreaterThan(0)
    expect(timeWait.every((e) => e.inode === 0)).toBe(true)
  })

  test('one socket is found by its inode without parsing the table: the same entry, and none for inode 0 or an absent one', () => {
    const text = read('proc-net-tcp.txt')
    const owned = entries.filter((e) => e.inode !== 0)
    expect(owned.length).toBeGreaterThan(2)
    for (const entry of owned) expect(findNetEntry(text, entry.inode, 'LE')).toEqual(entry)
    expect(findNetEntry(text, 0, 'LE')).toBeUndefined()
    const absent = Math.max(...owned.map((e) => e.inode)) + 1
    expect(findNetEntry(text, absent, 'LE')).toBeUndefined()
    // digits of the inode in another column of a line (its uid, its timeout) are not taken for it
    const decoy = `  sl  local_address rem_address   st\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 ${absent} 0 7 1\n`
    expect(findNetEntry(decoy, absent, 'LE')).toBeUndefined()
    expect(findNetEntry(decoy, 7, 'LE')?.local).toEqual({ address: '127.0.0.1', port: 8080 })
  })

  test('the words are those of the host byte order: a big-endian reading differs', () => {
    const [first] = parseNetTable(
      '  sl  local_address rem_address   st\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 42 1',
      'BE',
    )
    expect(first?.local).toEqual({ address: '1.0.0.127', port: 8080 })
  })
})

describe('/proc/net/tcp6', () => {
  const entries = parseNetTable(read('proc-net-tcp6.txt'), 'LE')

  test('IPv6 addresses are written as Node writes them', () => {
    expect(entries.find((e) => e.inode === inodeOf(info.server6.fd))).toMatchObject({
      local: { address: '::1', port: info.server6.port },
      remote: { address: '::', port: 0 },
      state: 'LISTEN',
    })
    expect(entries.find((e) => e.inode === inodeOf(info.established6.fd))).toMatchObject({
      local: { address: '::1', port: info.established6.localPort },
      remote: { address: '::1', port: info.server6.port },
      state: 'ESTABLISHED',
    })
  })

  test('IPv4-mapped and other addresses', () => {
    const line = (address: string) => `  sl  local\n   0: ${address}:0050 00000000000000000000000000000000:0000 01 0 0 0 0 0 7 1`
    expect(parseNetTable(line('0000000000000000FFFF00000100007F'), 'LE')[0]?.local.address).toBe('::ffff:127.0.0.1')
    expect(parseNetTable(line('000080FE000000000000000001000000'), 'LE')[0]?.local.address).toBe('fe80::1')
    expect(parseNetTable(line('B80D0120020001000400030006000500'), 'LE')[0]?.local.address).toBe('2001:db8:1:2:3:4:5:6')
  })
})

describe('/proc/net/unix', () => {
  test('inode to path; unnamed sockets have none', () => {
    const byInode = parseUnixTable(read('proc-net-unix.txt'))
    expect(byInode.get(inodeOf(info.unixServer.fd))).toBe(info.unixServer.path)
    expect([...byInode.values()].filter((path) => path === undefined).length).toBeGreaterThan(0)
  })
})

describe('lsof -F output (the field format is the same on macOS)', () => {
  const files = parseLsofFields(read('lsof-fields.txt'))
  const byFd = (fd: number) => files.find((f) => f.fd === String(fd))

  test('TCP descriptors: type, name and state', () => {
    expect(byFd(info.server.fd)).toEqual({
      fd: String(info.server.fd),
      type: 'IPv4',
      protocol: 'TCP',
      name: `127.0.0.1:${info.server.port}`,
      tcpState: 'LISTEN',
    })
    expect(byFd(info.established.fd)?.name).toBe(`127.0.0.1:${info.established.localPort}->127.0.0.1:${info.server.port}`)
    expect(byFd(info.halfClosed.fd)?.tcpState).toBe('CLOSE_WAIT')
    expect(byFd(info.established6.fd)).toMatchObject({ type: 'IPv6', tcpState: 'ESTABLISHED' })
  })

  test('other descriptors: files, pipes, event loop', () => {
    expect(byFd(0)).toEqual({ fd: '0', type: 'CHR', name: '/dev/null' })
    expect(files.find((f) => f.type === 'FIFO')?.name).toBe('pipe')
    expect(files.some((f) => f.type === 'a_inode' && f.name?.startsWith('[eventpoll'))).toBe(true)
    expect(files.find((f) => f.fd === 'cwd')?.type).toBe('DIR')
  })
})

describe('in words', () => {
  test('CLOSE_WAIT says what the user did not do', () => {
    expect(explainTcpState('CLOSE_WAIT')).toBe('CLOSE_WAIT: the peer closed its side and this side never called end() or destroy()')
    expect(explainTcpState('ESTABLISHED')).toBe('ESTABLISHED')
  })
})
