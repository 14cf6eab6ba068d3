// Shown once per worker, whichever copy of this module reports it (the vm pools evaluate the plugin once per file).
const SHOWN = Symbol.for('vitest-leaks.internal-error-shown')

/**
 * The plugin's own bug: printed once on stderr, as the plugin's, and never thrown. The user's call, Node's callback
 * or Vitest's hook it happened in goes on as if the plugin were not there.
 */
export function showInternalError(error: unknown): void {
  const host = process as unknown as Record<symbol, boolean | undefined>
  if (host[SHOWN]) return
  host[SHOWN] = true
  // not `instanceof Error`: in the vm pools the error may come from another realm's code
  const { stack, message } = (typeof error === 'object' && error !== null ? error : {}) as { stack?: unknown; message?: unknown }
  const detail = typeof stack === 'string' ? stack : typeof message === 'string' ? message : String(error)
  try {
    process.stderr.write(
      `\nvitest-leaks: internal error (a bug in vitest-leaks, not in your tests; the run goes on, and this is shown once):\n${detail}\n\n`,
    )
  } catch {
    // nowhere left to say it
  }
}
