import { once } from 'node:events'
import net from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { followAcceptedSockets, followClientSockets } from '../src/worker/probes/net-follow.js'
import { checkMarkers } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// The `sockets` and `retained` probes follow net sockets through one shared patch of `Socket.prototype.connect` and one
// subscription to `net.server.socket`. Through real Vitest: each works with the other on or off, and the code frame
// stays on the user's line. In this process: one wrapper serves every follower, and it comes off with the last.
let both: RunOutcome
let withoutSockets: RunOutcome
beforeAll(async () => {
  ;[both, withoutSockets] = await Promise.all([
    runVitest('net-follow', { args: ['--config', 'both.config.ts'] }),
    runVitest('retained', { args: ['--config', 'without-sockets.config.ts'] }),
  ])
})

describe('through real Vitest', () => {
  test('sockets and retainedSockets both on: a leaked client socket fails its test at the user line', () => {
    expect(
      both.modules.map((m) => m.file),
      both.output,
    ).toEqual([join(FIXTURES, 'net-follow', 'both.test.ts')])
    expect(both.unhandled, both.output).toEqual([])
    expect(checkMarkers(both.modules[0]!), both.output).toEqual([])
  })

  test('retainedSockets on, the sockets kind off: the retained sockets are still reported', () => {
    expect(
      withoutSockets.modules.map((m) => m.file),
      withoutSockets.output,
    ).toEqual([join(FIXTURES, 'retained', 'retained.test.ts')])
    expect(withoutSockets.unhandled, withoutSockets.output).toEqual([])
    expect(checkMarkers(withoutSockets.modules[0]!), withoutSockets.output).toEqual([])
    expect(withoutSockets.output).toContain('7 leaks failed 6 tests, 1 suite: 7 retained sockets')
  })
})

describe('in this process', () => {
  let server: net.Server
  let port: number
  beforeAll(async () => {
    server = net.createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as net.AddressInfo).port
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
  })

  async function connectAndClose(): Promise<void> {
    const socket = net.connect(port, '127.0.0.1')
    await once(socket, 'connect')
    socket.destroy()
  }

  test('one wrapper serves every client follower; the original connect is back when the last one leaves', async () => {
    const original = net.Socket.prototype.connect
    const seen: Array<[string, net.Socket, Function]> = []
    const undoFirst = followClientSockets((socket, _args, skip) => seen.push(['first', socket, skip]))
    const patched = net.Socket.prototype.connect
    const undoSecond = followClientSockets((socket, _args, skip) => seen.push(['second', socket, skip]))
    expect(patched).not.toBe(original)
    expect(net.Socket.prototype.connect).toBe(patched)

    await connectAndClose()
    expect(seen.map(([name]) => name)).toEqual(['first', 'second'])
    expect(seen[0]![1]).toBe(seen[1]![1])
    // the function to skip in the stack is the one the caller called
    expect(seen.map(([, , skip]) => skip)).toEqual([patched, patched])

    undoFirst()
    undoFirst()
    expect(net.Socket.prototype.connect).toBe(patched)
    await connectAndClose()
    expect(seen.map(([name]) => name)).toEqual(['first', 'second', 'second'])

    undoSecond()
    expect(net.Socket.prototype.connect).toBe(original)
    await connectAndClose()
    expect(seen).toHaveLength(3)
  })

  test('accepted connections reach every follower until it leaves', async () => {
    const seen: string[] = []
    const undoFirst = followAcceptedSockets((socket) => socket.server === server && seen.push('first'))
    const undoSecond = followAcceptedSockets((socket) => socket.server === server && seen.push('second'))
    const accepted = once(server, 'connection')
    await connectAndClose()
    await accepted
    expect(seen).toEqual(['first', 'second'])

    undoFirst()
    const again = once(server, 'connection')
    await connectAndClose()
    await again
    expect(seen).toEqual(['first', 'second', 'second'])

    undoSecond()
    const last = once(server, 'connection')
    await connectAndClose()
    await last
    expect(seen).toHaveLength(3)
  })
})
