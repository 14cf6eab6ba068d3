import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** A tiny in-memory todo API on plain node:http. */

export interface Todo {
  id: number
  title: string
  done: boolean
  createdAt: number
}

export class TodoStore {
  #todos = new Map<number, Todo>()
  #nextId = 1

  list(): Todo[] {
    return [...this.#todos.values()]
  }

  get(id: number): Todo | undefined {
    return this.#todos.get(id)
  }

  add(title: string): Todo {
    const todo: Todo = { id: this.#nextId++, title, done: false, createdAt: Date.now() }
    this.#todos.set(todo.id, todo)
    return todo
  }

  complete(id: number): Todo | undefined {
    const todo = this.#todos.get(id)
    if (todo) todo.done = true
    return todo
  }

  remove(id: number): boolean {
    return this.#todos.delete(id)
  }
}

export interface AppOptions {
  store?: TodoStore
  /** Size of the body of GET /export, in bytes. */
  exportSize?: number
}

const DEFAULT_EXPORT_SIZE = 4 * 1024 * 1024

/**
 * Routes:
 *   GET    /health        -> { ok: true }
 *   GET    /todos         -> Todo[]
 *   POST   /todos         -> Todo        body { title }
 *   GET    /todos/:id     -> Todo
 *   POST   /todos/:id/done -> Todo
 *   DELETE /todos/:id     -> 204
 *   GET    /export        -> a CSV dump of a few MB (every todo, padded with an audit log)
 */
export function createApp(options: AppOptions = {}): http.Server {
  const store = options.store ?? new TodoStore()
  const exportSize = options.exportSize ?? DEFAULT_EXPORT_SIZE

  return http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost')
      const parts = url.pathname.split('/').filter(Boolean)

      if (req.method === 'GET' && url.pathname === '/health') return json(res, 200, { ok: true })

      if (url.pathname === '/export' && req.method === 'GET') return sendExport(res, store, exportSize)

      if (parts[0] !== 'todos') return json(res, 404, { error: 'not found' })

      if (parts.length === 1) {
        if (req.method === 'GET') return json(res, 200, store.list())
        if (req.method === 'POST') {
          const body = (await readJson(req)) as { title?: unknown }
          if (typeof body.title !== 'string' || body.title.trim() === '') return json(res, 400, { error: 'title is required' })
          return json(res, 201, store.add(body.title.trim()))
        }
      }

      const id = Number(parts[1])
      if (!Number.isInteger(id)) return json(res, 400, { error: 'bad id' })
      if (parts.length === 2 && req.method === 'GET') {
        const todo = store.get(id)
        return todo ? json(res, 200, todo) : json(res, 404, { error: 'not found' })
      }
      if (parts.length === 2 && req.method === 'DELETE') {
        if (!store.remove(id)) return json(res, 404, { error: 'not found' })
        res.writeHead(204).end()
        return
      }
      if (parts.length === 3 && parts[2] === 'done' && req.method === 'POST') {
        const todo = store.complete(id)
        return todo ? json(res, 200, todo) : json(res, 404, { error: 'not found' })
      }
      return json(res, 405, { error: 'method not allowed' })
    } catch (error) {
      return json(res, 500, { error: error instanceof Error ? error.message : String(error) })
    }
  })
}

/** The base URL of a listening server, e.g. `http://127.0.0.1:41235`. */
export function urlOf(server: http.Server): string {
  const { address, port } = server.address() as AddressInfo
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  let text = ''
  for await (const chunk of req) text += chunk
  return text === '' ? {} : JSON.parse(text)
}

/** Streams a CSV export, respecting backpressure: a client that never reads leaves the response half sent. */
function sendExport(res: http.ServerResponse, store: TodoStore, size: number): void {
  const header = 'id,title,done,createdAt\n'
  const rows = store.list().map((t) => `${t.id},${JSON.stringify(t.title)},${t.done},${t.createdAt}\n`).join('')
  const audit = '#,audit,false,0\n'
  const chunk = Buffer.from(audit.repeat(4096))
  res.writeHead(200, { 'content-type': 'text/csv', 'content-length': size })
  let sent = 0
  const head = Buffer.from(header + rows).subarray(0, size)
  res.write(head)
  sent += head.length
  const pump = () => {
    while (sent < size) {
      const piece = chunk.subarray(0, Math.min(chunk.length, size - sent))
      sent += piece.length
      if (!res.write(piece)) {
        res.once('drain', pump)
        return
      }
    }
    res.end()
  }
  pump()
}

/**
 * Background job: every `intervalMs`, deletes todos that are done and older than `maxAgeMs`.
 * `start()` schedules it, `stop()` cancels it.
 */
export function createCleanupJob(store: TodoStore, { intervalMs = 60_000, maxAgeMs = 0 } = {}) {
  let timer: NodeJS.Timeout | undefined
  let runs = 0
  const sweep = () => {
    runs++
    const cutoff = Date.now() - maxAgeMs
    for (const todo of store.list()) {
      if (todo.done && todo.createdAt <= cutoff) store.remove(todo.id)
    }
  }
  return {
    start() {
      if (timer) return
      timer = setInterval(sweep, intervalMs)
    },
    stop() {
      clearInterval(timer)
      timer = undefined
    },
    get runs() {
      return runs
    },
    get running() {
      return timer !== undefined
    },
  }
}

export type CleanupJob = ReturnType<typeof createCleanupJob>

/**
 * Starts the slug worker: a separate Node process that turns each line it reads on stdin into a URL slug on stdout.
 * It runs until its stdin is closed or it is killed.
 */
export function startSlugWorker(): ChildProcessWithoutNullStreams {
  const script = `
    const readline = require('node:readline')
    const rl = readline.createInterface({ input: process.stdin })
    rl.on('line', (line) => {
      const slug = line.toLowerCase().trim().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
      process.stdout.write(slug + '\\n')
    })
  `
  return spawn(process.execPath, ['-e', script], { stdio: 'pipe' })
}

/** Sends one title to the slug worker and resolves with its answer. */
export function slugify(worker: ChildProcessWithoutNullStreams, title: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onData = (data: Buffer) => {
      worker.stdout.off('data', onData)
      worker.off('error', reject)
      resolve(data.toString().trim())
    }
    worker.stdout.on('data', onData)
    worker.once('error', reject)
    worker.stdin.write(`${title}\n`)
  })
}
