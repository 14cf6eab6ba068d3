import type net from 'node:net'
import { ConnectionManager, type Client } from './connections'

// Three connection managers as they often get written, each with one bug of ConnectionManager's three duties. The
// tests in test/chat.leaky.test.ts use them; vitest-leaks fails one test for each.

/** BUG: a closed connection is never removed from the Map. The server slowly fills up with dead sockets. */
export class ForgetfulConnectionManager extends ConnectionManager {
  override add(socket: net.Socket): Client {
    const client: Client = { id: this.nextId++, socket }
    this.clients.set(client.id, client)
    // missing: socket.once('close', () => this.clients.delete(client.id))
    this.disconnectWhenIdle(socket)
    return client
  }
}

/** BUG: no idle timeout. A client that connects and says nothing (a dead peer, a port scanner) stays forever. */
export class NoIdleTimeoutConnectionManager extends ConnectionManager {
  protected override disconnectWhenIdle(): void {
    // missing: socket.setTimeout(idleTimeout, () => socket.end(...))
  }
}

/** BUG: shutdown forgets the open connections: it empties the Map and closes none of them. */
export class ForgetfulShutdownConnectionManager extends ConnectionManager {
  override async closeAll(): Promise<void> {
    this.clients.clear()
  }
}
