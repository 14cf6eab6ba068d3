import type { ChildProcess } from 'node:child_process'
import type { Ledger, Probe } from '../ledger/ledger.js'
import { subscribe } from './channel.js'

/**
 * Child processes from spawn, exec, execFile and fork, noticed through Node's `child_process` channel, published in
 * the ChildProcess constructor while the user's call is on the stack. One still running after its owner ended is a
 * leak; a process may be exiting by itself, so it is waited for up to `settleTimeout`.
 */
export const processesProbe: Probe<ChildProcess> = {
  kind: 'processes',

  install(ledger: Ledger) {
    const onProcess = ({ process }: { process: ChildProcess }) => {
      ledger.track(process, processesProbe, onProcess)
    }
    return subscribe('child_process', onProcess)
  },

  state(child) {
    if (child.exitCode !== null || child.signalCode !== null) return { status: 'closed' }
    // never started (spawn failed): there is nothing to leak
    if (child.pid === undefined) return { status: 'closed' }
    return { status: 'closing' }
  },

  describe(child) {
    const command = child.spawnargs.length > 0 ? child.spawnargs.join(' ') : child.spawnfile
    return {
      what: `child process ${child.pid} (\`${truncate(command, 120)}\`)`,
      state: child.killed ? 'still running after it was sent a signal' : 'still running',
      fix: 'stop it with `child.kill()` and await its `exit` event',
      alternative: 'or await its `exit` event if it is meant to finish by itself',
    }
  },

  close(child) {
    try {
      child.kill('SIGKILL')
    } catch {
      // already exited
    }
  },
}

/** One line: a `node -e` script spans many. */
function truncate(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}
