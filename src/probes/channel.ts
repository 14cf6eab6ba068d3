import dc from 'node:diagnostics_channel'

/** Subscribes to a diagnostics channel Node publishes synchronously at creation; returns the unsubscribe. */
export function subscribe<M>(name: string, onMessage: (message: M) => void): () => void {
  const listener = onMessage as (message: unknown) => void
  dc.subscribe(name, listener)
  return () => dc.unsubscribe(name, listener)
}
