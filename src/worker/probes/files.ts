import type { FileHandle } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { fs } from '../node/builtins.js'
import type { Ledger, Probe, ResourceState } from '../ledger/ledger.js'
import { wrapOnce } from './follow.js'

type How = 'fs.open' | 'fs.openSync' | 'fs.promises.open' | 'fs.createReadStream' | 'fs.createWriteStream'
/** A file stream as the probe reads it (`fd` is set once the stream has opened its file). */
type FileStream = NodeJS.EventEmitter & {
  fd?: number | null
  closed?: boolean
  destroyed: boolean
  writableEnded?: boolean
  readableEnded?: boolean
  destroy(): void
}

/** One file this process opened: a raw descriptor, a FileHandle or a stream, with where it was opened from. */
interface OpenFile {
  path: string
  how: How
  flags: string
  /** Known once the open completed. */
  fd: number | undefined
  /** `dev:ino` at open: a later descriptor that reuses the number is not this file. */
  identity: string | undefined
  phase: 'opening' | 'open' | 'closing' | 'closed'
  handle?: FileHandle
  stream?: FileStream
}

const PATCHED = Symbol.for('vitest-leaks.files.original')

/** Raw descriptors from fs.open/openSync by number, for fs.close/closeSync. */
const byFd = new Map<number, OpenFile>()

/**
 * Files: descriptors from `fs.open`/`fs.openSync`, `fs.promises.open` FileHandles, and the descriptors behind
 * `fs.createReadStream`/`createWriteStream`. Neither descriptors nor FileHandles are libuv handles, so no Node API
 * lists them: the functions are wrapped (once per worker, undoably) on the `node:fs` and `node:fs/promises` module
 * objects, which is what named imports, libraries and Node's own streams call. `fs.readFile` and friends open and
 * close their own descriptor inside Node and are not seen (they cannot leak one).
 */
export const filesProbe: Probe<OpenFile> = {
  kind: 'files',

  install(ledger: Ledger) {
    const undo: Array<() => void> = []
    const patch = (host: object, name: string, make: (original: Function) => Function) => wrapOnce(undo, host, name, make, PATCHED)
    const fsHost = fs as unknown as Record<string, unknown>
    const promisesHost = fs.promises as unknown as Record<string, unknown>

    patch(fsHost, 'openSync', (original) => {
      const openSync = function openSync(this: unknown, ...args: unknown[]) {
        const fd = Reflect.apply(original, this, args) as number
        const file = newFile(args, 'fs.openSync', 'r')
        if (ledger.track(file, filesProbe, openSync)) opened(file, fd)
        return fd
      }
      return openSync
    })

    patch(fsHost, 'open', (original) => {
      const open = function open(this: unknown, ...args: unknown[]) {
        const last = args.length - 1
        const callback = args[last]
        // no callback: Node throws its own error, nothing is opened
        if (typeof callback !== 'function') return Reflect.apply(original, this, args)
        const file = newFile(args.slice(0, last), 'fs.open', 'r')
        const record = ledger.track(file, filesProbe, open)
        if (!record) return Reflect.apply(original, this, args)
        args[last] = function (this: unknown, error: unknown, fd: number) {
          if (error) file.phase = 'closed'
          else opened(file, fd)
          return Reflect.apply(callback, this, [error, fd])
        }
        try {
          return Reflect.apply(original, this, args)
        } catch (error) {
          file.phase = 'closed'
          throw error
        }
      }
      return open
    })

    patch(fsHost, 'closeSync', (original) => {
      return function closeSync(this: unknown, ...args: unknown[]) {
        const result = Reflect.apply(original, this, args)
        const file = byFd.get(args[0] as number)
        if (file) closed(file)
        return result
      }
    })

    patch(fsHost, 'close', (original) => {
      return function close(this: unknown, ...args: unknown[]) {
        const file = byFd.get(args[0] as number)
        if (file && file.phase === 'open') {
          file.phase = 'closing'
          const callback = args[1]
          args[1] = function (this: unknown, ...result: unknown[]) {
            if (!result[0]) closed(file)
            else file.phase = 'open'
            if (typeof callback === 'function') return Reflect.apply(callback, this, result)
          }
        }
        return Reflect.apply(original, this, args)
      }
    })

    patch(promisesHost, 'open', (original) => {
      const open = function open(this: unknown, ...args: unknown[]) {
        const promise = Reflect.apply(original, this, args) as Promise<FileHandle>
        const file = newFile(args, 'fs.promises.open', 'r')
        if (ledger.track(file, filesProbe, open)) {
          promise.then(
            (handle) => {
              file.handle = handle
              file.fd = handle.fd
              file.phase = 'open'
            },
            () => {
              file.phase = 'closed'
            },
          )
        }
        return promise
      }
      return open
    })

    for (const [name, how, flags] of [
      ['createReadStream', 'fs.createReadStream', 'r'],
      ['createWriteStream', 'fs.createWriteStream', 'w'],
    ] as const) {
      patch(fsHost, name, (original) => {
        const create = {
          [name](this: unknown, ...args: unknown[]) {
            const stream = Reflect.apply(original, this, args) as FileStream
            const options = args[1]
            // a stream over a descriptor or FileHandle the caller already has: that one is what is tracked
            if (options && typeof options === 'object' && (options as { fd?: unknown }).fd != null) return stream
            const file = newFile(
              [args[0], typeof options === 'object' && options ? (options as { flags?: unknown }).flags : undefined],
              how,
              flags,
            )
            file.stream = stream
            if (ledger.track(file, filesProbe, create)) {
              // the stream opens its file on a later tick through fs.open, whose own record has only Node's frames:
              // this record, with the caller's line, takes its place
              stream.once('open', (fd: number) => {
                file.fd = fd
                const inner = byFd.get(fd)
                const innerRecord = inner && ledger.recordOf(inner)
                if (innerRecord) ledger.forget(innerRecord)
                if (inner) byFd.delete(fd)
              })
            }
            return stream
          },
        }[name]!
        return create
      })
    }

    return () => {
      for (const fn of undo) fn()
    }
  },

  state(file): ResourceState {
    if (file.stream) return streamState(file.stream)
    if (file.handle) return { status: file.handle.fd === -1 ? 'closed' : 'open' }
    switch (file.phase) {
      case 'opening':
        return { status: 'pending' }
      case 'closed':
        return { status: 'closed' }
      default:
        // closed some other way (a library holding Node's binding, a stream given the descriptor): the number is
        // free, or now someone else's
        if (!stillOurs(file)) {
          closed(file)
          return { status: 'closed' }
        }
        return { status: file.phase === 'closing' ? 'closing' : 'open' }
    }
  },

  describe(file) {
    const fd = file.fd ?? file.handle?.fd
    const flags = file.flags === 'r' ? '' : `, flags '${file.flags}'`
    if (file.stream) {
      const reading = file.how === 'fs.createReadStream'
      let state = reading ? 'still open: never read to the end nor destroyed' : 'still open: never ended'
      if (file.stream.writableEnded || file.stream.readableEnded) state = 'ended, its file still not closed'
      if (file.stream.destroyed) state = 'destroyed, its descriptor still closing'
      return {
        what: `${reading ? 'ReadStream' : 'WriteStream'} on ${file.path}${fd == null ? '' : ` (fd ${fd})`}`,
        state,
        fix: reading ? 'read it to the end or call `stream.destroy()`' : 'end it with `stream.end()` (or `stream.destroy()`)',
      }
    }
    if (file.how === 'fs.promises.open') {
      return {
        what: `FileHandle${fd == null || fd === -1 ? '' : ` (fd ${fd})`} on ${file.path}, from fs.promises.open${flags}`,
        state: file.phase === 'opening' ? 'still opening' : 'still open',
        fix: 'close it with `await handle.close()`',
      }
    }
    return {
      what: `file descriptor ${fd ?? '(not yet known)'} on ${file.path}, from ${file.how}${flags}`,
      state:
        file.phase === 'opening' ? 'still opening' : file.phase === 'closing' ? 'fs.close() was called but has not finished' : 'still open',
      fix: 'close it with `fs.closeSync(fd)` (or `fs.close(fd, callback)`)',
    }
  },

  close(file) {
    try {
      if (file.stream) {
        // A write stream is ended, not destroyed: destroying it with a write in flight makes that write fail later,
        // as an uncaught error in whichever test runs then. Ending it lets the write finish, then closes the file.
        if (file.how === 'fs.createWriteStream' && !file.stream.destroyed) (file.stream as unknown as NodeJS.WritableStream).end()
        else file.stream.destroy()
      } else if (file.handle) file.handle.close().catch(() => {})
      else if (file.fd !== undefined && stillOurs(file)) {
        const original = ((fs.closeSync as any)[PATCHED] ?? fs.closeSync) as typeof fs.closeSync
        original(file.fd)
        closed(file)
      }
    } catch {
      // already closed
    }
  },
}

function newFile(args: unknown[], how: How, defaultFlags: string): OpenFile {
  const flags = args[1]
  return {
    path: pathText(args[0]),
    how,
    flags: typeof flags === 'string' || typeof flags === 'number' ? String(flags) : defaultFlags,
    fd: undefined,
    identity: undefined,
    phase: 'opening',
  }
}

function opened(file: OpenFile, fd: number): void {
  file.fd = fd
  file.phase = 'open'
  file.identity = identityOf(fd)
  byFd.set(fd, file)
}

function closed(file: OpenFile): void {
  file.phase = 'closed'
  if (file.fd !== undefined && byFd.get(file.fd) === file) byFd.delete(file.fd)
}

function identityOf(fd: number): string | undefined {
  try {
    const stat = fs.fstatSync(fd)
    return `${stat.dev}:${stat.ino}`
  } catch {
    return undefined
  }
}

function stillOurs(file: OpenFile): boolean {
  return file.fd !== undefined && identityOf(file.fd) === file.identity && file.identity !== undefined
}

function streamState(stream: FileStream): ResourceState {
  if (stream.closed) return { status: 'closed' }
  // destroyed, ended (a write stream flushing before it closes) or read to the end: it closes its file by itself
  if (stream.destroyed || stream.writableEnded || stream.readableEnded) return { status: 'closing' }
  // not opened yet: it opens on a later tick
  if (typeof stream.fd !== 'number') return { status: 'pending' }
  return { status: 'open' }
}

function pathText(path: unknown): string {
  if (path instanceof URL) return fileURLToPath(path)
  if (Buffer.isBuffer(path)) return path.toString()
  return String(path)
}
