import type { Socket } from 'node:dgram'
import type { Ledger, Probe } from '../ledger/ledger.js'
import { subscribe } from './channel.js'
import { formatAddress } from './net-describe.js'

/**
 * UDP sockets, noticed through Node's `udp.socket` channel (published in the dgram Socket constructor). A socket that
 * was never bound holds no descriptor; a bound one is open until `close()`.
 */
export const udpProbe: Probe<Socket> = {
  kind: 'udp',

  install(ledger: Ledger) {
    const onSocket = ({ socket }: { socket: Socket }) => {
      ledger.track(socket, udpProbe, onSocket)
    }
    return subscribe('udp.socket', onSocket)
  },

  state(socket) {
    return { status: boundAddress(socket) ? 'open' : 'closed' }
  },

  describe(socket) {
    return {
      what: `UDP socket bound to ${boundAddress(socket) ?? '?'}`,
      state: 'still bound',
      fix: 'close it with `socket.close()`',
    }
  },

  close(socket) {
    try {
      socket.close()
    } catch {
      // already closed
    }
  },
}

function boundAddress(socket: Socket): string | undefined {
  try {
    // throws ERR_SOCKET_DGRAM_NOT_RUNNING when unbound or closed
    return formatAddress(socket.address())
  } catch {
    return undefined
  }
}
