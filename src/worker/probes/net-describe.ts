import type { AddressInfo, Socket } from 'node:net'

/** `127.0.0.1:8080`, `[::1]:8080`, or a Unix socket path. */
export function formatAddress(address: string | AddressInfo | null | undefined): string | undefined {
  if (!address) return undefined
  if (typeof address === 'string') return address
  const host = address.family === 'IPv6' || address.family === (6 as unknown) ? `[${address.address}]` : address.address
  return `${host}:${address.port}`
}

export function formatHostPort(host: string | undefined, port: number | undefined): string | undefined {
  if (!host || port === undefined) return undefined
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

/** Closing from either side (`end()` called, or the peer's end read): on its way out, worth waiting for. */
export function isEnding(socket: Socket): boolean {
  return socket.readableEnded || socket.writableEnded || (socket as any)._writableState?.ending === true
}
