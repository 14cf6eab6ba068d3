import net from 'node:net'
import type { Client, ConnectionManager } from './connections'

/**
 * A line-based TCP chat: `NICK <name>` to join, then every line is relayed to the others; `WHO` lists who is here,
 * `QUIT` says goodbye. The connections are the ConnectionManager's.
 */
export class ChatServer {
  readonly server: net.Server

  constructor(readonly connections: ConnectionManager) {
    this.server = net.createServer((socket) => this.#accept(socket))
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    this.server.listen(port, host)
    await new Promise<void>((resolve, reject) => {
      this.server.once('listening', resolve)
      this.server.once('error', reject)
    })
    return this.port
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port
  }

  /** Stops accepting connections, then closes the ones still open (see ConnectionManager.closeAll). */
  async close(): Promise<void> {
    if (this.server.listening) this.server.close()
    await this.connections.closeAll()
  }

  #accept(socket: net.Socket): void {
    const client = this.connections.add(socket)
    socket.setEncoding('utf8')
    // a client that goes away abruptly (ECONNRESET) is not an error of the server
    socket.on('error', () => socket.destroy())
    let buffer = ''
    socket.on('data', (chunk: string) => {
      buffer += chunk
      for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end).trim()
        buffer = buffer.slice(end + 1)
        if (line) this.#handle(client, line)
      }
    })
    socket.on('end', () => {
      if (client.nick) this.connections.broadcast(client, `* ${client.nick} left`)
    })
  }

  #handle(client: Client, line: string): void {
    const { socket } = client
    if (line.startsWith('NICK ')) {
      const nick = line.slice('NICK '.length).trim()
      if (this.connections.nicknames().includes(nick)) {
        socket.write(`error: ${nick} is taken\n`)
        return
      }
      client.nick = nick
      socket.write(`welcome ${nick}\n`)
      this.connections.broadcast(client, `* ${nick} joined`)
    } else if (line === 'WHO') {
      socket.write(`here: ${this.connections.nicknames().join(' ')}\n`)
    } else if (line === 'QUIT') {
      socket.end(`bye ${client.nick ?? ''}\n`.replace(' \n', '\n'))
    } else if (!client.nick) {
      socket.write('error: say NICK <name> first\n')
    } else {
      this.connections.broadcast(client, `${client.nick}: ${line}`)
    }
  }
}
