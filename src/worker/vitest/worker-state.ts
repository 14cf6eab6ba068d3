/** What the plugin reads of the Vitest worker's state (`globalThis.__vitest_worker__`, in Vitest 3.2, 4.x and 5.x). */
export interface WorkerState {
  filepath?: string
  config?: {
    root?: string
    pool?: unknown
    setupFiles?: string[]
    sequence?: { hooks?: string }
  }
}

/** The worker's state; undefined outside a Vitest worker. */
export function workerState(): WorkerState | undefined {
  return (globalThis as { __vitest_worker__?: WorkerState }).__vitest_worker__
}
