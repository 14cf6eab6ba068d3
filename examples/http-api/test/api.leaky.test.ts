/**
 * Tests as they often get written: each one passes its assertions, and most leave something running.
 * With vitest-leaks every leftover fails the test (or suite) that created it. See ../README.md.
 */
import { once } from 'node:events'
import type http from 'node:http'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createApp, createCleanupJob, slugify, startSlugWorker, TodoStore, urlOf } from '../src/app'

describe('todo API', () => {
  // LEAK: the server is started in the test and never closed.
  it('creates a todo', async () => {
    const server = createApp().listen(0, '127.0.0.1')
    await once(server, 'listening')

    const res = await fetch(`${urlOf(server)}/todos`, {
      method: 'POST',
      body: JSON.stringify({ title: 'Buy milk' }),
    })

    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({ id: 1, title: 'Buy milk', done: false })
  })
})

describe('todo API on a shared server', () => {
  const store = new TodoStore()
  let server: http.Server
  let base: string

  beforeAll(async () => {
    store.add('Write the report')
    server = createApp({ store }).listen(0, '127.0.0.1')
    await once(server, 'listening')
    base = urlOf(server)
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  // clean: the body is read, the keep-alive socket goes back to fetch's pool
  it('lists todos', async () => {
    const res = await fetch(`${base}/todos`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual([expect.objectContaining({ title: 'Write the report' })])
  })

  // LEAK: only the status and headers are checked; the 4 MB body is never read, so the connection stays busy.
  it('exports todos as CSV', async () => {
    const res = await fetch(`${base}/export`)

    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv')
  })

  // LEAK: the timeout loses the race, but its timer is never cleared and stays pending for 5 s.
  it('answers /health quickly', async () => {
    const res = await Promise.race([
      fetch(`${base}/health`),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('/health took more than 5 s')), 5_000)),
    ])

    expect(await res.json()).toEqual({ ok: true })
  })

  // clean: a timer that has fired by the end of the test is not a leak
  it('rejects a todo without a title', async () => {
    await new Promise((resolve) => setTimeout(resolve, 10))
    const res = await fetch(`${base}/todos`, { method: 'POST', body: JSON.stringify({ title: ' ' }) })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: 'title is required' })
  })
})

describe('cleanup job', () => {
  // LEAK: the job's setInterval is started and never stopped.
  it('purges completed todos', async () => {
    const store = new TodoStore()
    store.complete(store.add('Old and done').id)
    store.add('Still to do')

    const job = createCleanupJob(store, { intervalMs: 10 })
    job.start()

    await vi.waitFor(() => expect(store.list().map((t) => t.title)).toEqual(['Still to do']))
  })

  // clean: a job that is never started holds nothing
  it('does nothing until started', () => {
    const store = new TodoStore()
    store.complete(store.add('Done').id)
    const job = createCleanupJob(store, { intervalMs: 10 })
    expect(job.running).toBe(false)
    expect(store.list()).toHaveLength(1)
  })
})

describe('slug worker', () => {
  // LEAK: the child process is spawned and never killed; it waits on its stdin forever.
  it('turns titles into slugs', async () => {
    const worker = startSlugWorker()

    expect(await slugify(worker, 'Buy Milk & Eggs!')).toBe('buy-milk-eggs')
  })
})

// LEAK (suite): the server is started in beforeAll and there is no afterAll to close it.
describe('admin API', () => {
  let server: http.Server
  let base: string

  beforeAll(async () => {
    server = createApp().listen(0, '127.0.0.1')
    await once(server, 'listening')
    base = urlOf(server)
  })

  it('deletes a todo', async () => {
    const created = await fetch(`${base}/todos`, { method: 'POST', body: JSON.stringify({ title: 'Temp' }) })
    const { id } = (await created.json()) as { id: number }

    const res = await fetch(`${base}/todos/${id}`, { method: 'DELETE' })
    expect(res.status).toBe(204)
  })

  it('answers 404 for unknown routes', async () => {
    const res = await fetch(`${base}/nope`)
    expect(res.status).toBe(404)
    await res.body?.cancel()
  })
})
