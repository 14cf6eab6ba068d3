import type { FSWatcher, StatWatcher } from 'node:fs'
import { fs } from '../node/builtins.js'
import type { Ledger, Probe } from '../ledger/ledger.js'

// fs.FSWatcher and the StatWatcher of fs.watchFile both drop their native handle when closed
type Watcher = (FSWatcher | StatWatcher) & { _handle?: unknown }

interface WatchInfo {
  path: string
  how: 'watch' | 'watchFile'
}

const PATCHED = Symbol.for('vitest-leaks.watchers.original')
const info = new WeakMap<object, WatchInfo>()

/**
 * fs.watch and fs.watchFile (and what is built on them, e.g. chokidar), wrapped once per worker on the `node:fs`
 * module object, so `fs.watch(...)`, `import { watch } from 'node:fs'` and libraries calling it all go through it.
 */
export const watchersProbe: Probe<Watcher> = {
  kind: 'watchers',

  install(ledger: Ledger) {
    const undo: Array<() => void> = []
    for (const how of ['watch', 'watchFile'] as const) {
      const original = fs[how] as Function
      if ((original as any)[PATCHED]) continue
      const wrapped = {
        [how](this: unknown, ...args: unknown[]) {
          const watcher = Reflect.apply(original, this, args) as Watcher
          if (ledger.track(watcher, watchersProbe, wrapped)) info.set(watcher, { path: String(args[0]), how })
          return watcher
        },
      }[how]!
      Object.defineProperty(wrapped, PATCHED, { value: original })
      ;(fs as any)[how] = wrapped
      undo.push(() => {
        if ((fs as any)[how] === wrapped) (fs as any)[how] = original
      })
    }
    return () => {
      for (const fn of undo) fn()
    }
  },

  state(watcher) {
    return { status: watcher._handle ? 'open' : 'closed' }
  },

  describe(watcher) {
    const { path, how } = info.get(watcher) ?? { path: '?', how: 'watch' as const }
    return how === 'watch'
      ? { what: `fs.watch watcher on ${path}`, state: 'still watching', fix: 'close it with `watcher.close()`' }
      : {
          what: `fs.watchFile poller on ${path}`,
          state: 'still polling',
          fix: `stop it with \`fs.unwatchFile(${JSON.stringify(path)})\``,
        }
  },

  close(watcher) {
    const watched = info.get(watcher)
    try {
      if (watched?.how === 'watchFile') fs.unwatchFile(watched.path)
      else (watcher as FSWatcher).close()
    } catch {
      // already closed
    }
  },
}
