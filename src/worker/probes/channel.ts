import { subscribe as dcSubscribe, unsubscribe as dcUnsubscribe } from 'node:diagnostics_channel'
import { showInternalError } from '../../shared/internal-error.js'

/**
 * Subscribes to a diagnostics channel Node publishes synchronously at creation; returns the unsubscribe. An error
 * thrown by a subscriber would reach the process as an uncaught exception (Node rethrows it on the next tick) and
 * fail the run: it is shown once as the plugin's own instead.
 */
export function subscribe<M>(name: string, onMessage: (message: M) => void): () => void {
  const listener = (message: unknown) => {
    try {
      onMessage(message as M)
    } catch (error) {
      showInternalError(error)
    }
  }
  dcSubscribe(name, listener)
  return () => dcUnsubscribe(name, listener)
}
