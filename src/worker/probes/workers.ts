import type { Worker } from 'node:worker_threads'
import type { Ledger, Probe } from '../ledger/ledger.js'
import { subscribe } from './channel.js'

/**
 * Worker threads, noticed through Node's `worker_threads` channel (published in the Worker constructor). Node sets
 * `threadId` to -1 once the thread has exited; a worker still running may be finishing its script, so it is waited
 * for up to `settleTimeout`.
 */
export const workersProbe: Probe<Worker> = {
  kind: 'workers',

  install(ledger: Ledger) {
    const onWorker = ({ worker }: { worker: Worker }) => {
      ledger.track(worker, workersProbe, onWorker)
      running.add(new WeakRef(worker))
    }
    return subscribe('worker_threads', onWorker)
  },

  state(worker) {
    return { status: worker.threadId === -1 ? 'closed' : 'closing' }
  },

  describe(worker) {
    return {
      what: `worker thread ${worker.threadId}`,
      state: 'still running',
      fix: 'stop it with `await worker.terminate()`',
      alternative: 'or await its `exit` event if its script is meant to finish by itself',
    }
  },

  close(worker) {
    worker.terminate().catch(() => {})
  },
}

/** Workers seen and maybe still running, held weakly (for the ports probe: a port is reported with its worker). */
const running = new Set<WeakRef<Worker>>()

/** The worker threads still running. */
export function runningWorkers(): Worker[] {
  const workers: Worker[] = []
  for (const ref of running) {
    const worker = ref.deref()
    if (worker && worker.threadId !== -1) workers.push(worker)
    else running.delete(ref)
  }
  return workers
}
