import type net from 'node:net'

export interface ConnectionOptions {
  /** A client that sends nothing for this long (ms) is disconnected. */
  idleTimeout: number
  /** On shutdown, a client that has not closed its side this long (ms) after being asked to is destroyed. */
  shutdownTimeout: number
}

/** One connected client: its socket and, once it said `NICK <name>`, its nickname. */
export interface Client {
  readonly id: number
  readonly socket: net.Socket
  nick?: string
}

/**
 * The connections of the chat server, in a Map by id. Each one is forgotten when it closes and disconnected when it
 * stays silent for `idleTimeout`; `closeAll()` is the graceful shutdown: it ends every connection, then destroys the
 * ones still open after `shutdownTimeout`.
 */
export class ConnectionManager {
  protected readonly clients = new Map<number, Client>()
  protected nextId = 1

  constructor(protected readonly options: ConnectionOptions) {}

  add(socket: net.Socket): Client {
    const client: Client = { id: this.nextId++, socket }
    this.clients.set(client.id, client)
    socket.once('close', () => this.clients.delete(client.id))
    this.disconnectWhenIdle(socket)
    return client
  }

  protected disconnectWhenIdle(socket: net.Socket): void {
    socket.setTimeout(this.options.idleTimeout, () => socket.end('bye: idle for too long\n'))
  }

  get size(): number {
    return this.clients.size
  }

  nicknames(): string[] {
    return [...this.clients.values()].flatMap((client) => (client.nick ? [client.nick] : []))
  }

  /** Sends a line to every client with a nickname, except `from`. */
  broadcast(from: Client, line: string): void {
    for (const client of this.clients.values()) {
      if (client !== from && client.nick && !client.socket.destroyed) client.socket.write(`${line}\n`)
    }
  }

  async closeAll(): Promise<void> {
    const open = [...this.clients.values()].map((client) => client.socket).filter((socket) => !socket.destroyed)
    if (open.length === 0) return
    const closed = Promise.all(open.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()))))
    for (const socket of open) socket.end('bye: server shutting down\n')
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.shutdownTimeout)))
    await Promise.race([closed, timedOut])
    clearTimeout(timer)
    for (const socket of open) socket.destroy()
    await closed
  }
}
