import net from 'node:net'
import { afterAll, beforeAll, expect, test } from 'vitest'

// A suite that leaks on purpose, as one does while a team adopts the plugin in warn mode: each test leaves a timer,
// a server, and client connections it ended without waiting, to a peer that keeps its side open (still closing when
// the test is checked). The file's afterAll closes everything, so the plain run ends cleanly too.
const peers = new Set<net.Socket>()
const leftovers: Array<() => void> = []
let peer: net.Server
let port: number

beforeAll(async () => {
  peer = net.createServer({ allowHalfOpen: true }, (socket) => {
    peers.add(socket)
    socket.resume()
  })
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve))
  port = (peer.address() as net.AddressInfo).port
})

afterAll(async () => {
  for (const close of leftovers) close()
  for (const socket of peers) socket.destroy()
  await new Promise<void>((resolve) => peer.close(() => resolve()))
})

for (let n = 0; n < 30; n++) {
  test(`leaves things behind ${n}`, async () => {
    const timer = setInterval(() => {}, 60_000)
    const server = net.createServer().listen(0, '127.0.0.1')
    leftovers.push(
      () => clearInterval(timer),
      () => server.close(),
    )
    for (let i = 0; i < 3; i++) {
      const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
      socket.end()
      leftovers.push(() => socket.destroy())
    }
    expect(leftovers.length).toBeGreaterThan(0)
  })
}
