import { once } from 'node:events'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { ChatServer } from '../src/chat'
import type { ConnectionManager, ConnectionOptions } from '../src/connections'

/** The connection manager each group of tests runs the chat server with. */
export interface Managers {
  quitting: new (options: ConnectionOptions) => ConnectionManager
  idle: new (options: ConnectionOptions) => ConnectionManager
  shutdown: new (options: ConnectionOptions) => ConnectionManager
}

const OPTIONS: ConnectionOptions = { idleTimeout: 10_000, shutdownTimeout: 200 }
const IDLE_TIMEOUT = 100

/** A test client: sends lines, and reads the server's lines one at a time. */
interface ChatClient {
  socket: net.Socket
  send(line: string): void
  next(): Promise<string>
}

async function connect(chat: ChatServer): Promise<ChatClient> {
  const socket = net.connect(chat.port, '127.0.0.1')
  socket.setEncoding('utf8')
  const lines: string[] = []
  const waiting: Array<(line: string) => void> = []
  let buffer = ''
  socket.on('data', (chunk: string) => {
    buffer += chunk
    for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
      const line = buffer.slice(0, end)
      buffer = buffer.slice(end + 1)
      const reader = waiting.shift()
      if (reader) reader(line)
      else lines.push(line)
    }
  })
  await once(socket, 'connect')
  return {
    socket,
    send: (line) => socket.write(`${line}\n`),
    next: () => (lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise((resolve) => waiting.push(resolve))),
  }
}

async function join(chat: ChatServer, nick: string): Promise<ChatClient> {
  const client = await connect(chat)
  client.send(`NICK ${nick}`)
  expect(await client.next()).toBe(`welcome ${nick}`)
  return client
}

async function start(manager: ConnectionManager): Promise<ChatServer> {
  const chat = new ChatServer(manager)
  await chat.listen()
  return chat
}

/** The chat server's tests, run with the given connection managers. */
export function chatTests(managers: Managers): void {
  test('relays what one client says to the others', async () => {
    const chat = await start(new managers.quitting(OPTIONS))
    try {
      const alice = await join(chat, 'alice')
      const bob = await join(chat, 'bob')
      expect(await alice.next()).toBe('* bob joined')
      alice.send('hello bob')
      expect(await bob.next()).toBe('alice: hello bob')
      bob.send('QUIT')
      expect(await bob.next()).toBe('bye bob')
      expect(await alice.next()).toBe('* bob left')
    } finally {
      await chat.close()
    }
  })

  describe('quitting', () => {
    let chat: ChatServer
    beforeEach(async () => {
      chat = await start(new managers.quitting(OPTIONS))
    })
    afterEach(async () => {
      await chat.close()
    })

    test('says goodbye to a client that quits', async () => {
      const alice = await join(chat, 'alice')
      alice.send('QUIT')
      expect(await alice.next()).toBe('bye alice')
      await once(alice.socket, 'close')
    })
  })

  describe('idle clients', () => {
    let chat: ChatServer
    beforeAll(async () => {
      chat = await start(new managers.idle({ ...OPTIONS, idleTimeout: IDLE_TIMEOUT }))
    })
    afterAll(async () => {
      await chat.close()
    })

    test('disconnects a client that says nothing', async () => {
      // connects and never says a word; nothing in this test closes it: the server's idle timeout has to
      await connect(chat)
      await sleep(IDLE_TIMEOUT * 3)
      const alice = await join(chat, 'alice')
      alice.send('WHO')
      expect(await alice.next()).toBe('here: alice')
      alice.send('QUIT')
      await once(alice.socket, 'close')
    })
  })

  describe('shutdown', () => {
    test('says goodbye to every client still connected', async () => {
      const chat = await start(new managers.shutdown(OPTIONS))
      await join(chat, 'alice')
      await join(chat, 'bob')
      // nothing in this test closes the clients: the shutdown has to
      await chat.close()
      expect(chat.server.listening).toBe(false)
    })
  })
}
