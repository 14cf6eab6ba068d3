import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

// HTTP round trips on loopback: one server for the file, many sequential requests per test, every body read.
const ROUNDS = 250

let server: http.Server
let base: string

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/json') {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ ok: true, url: req.url, n: 42 }))
      return
    }
    let size = 0
    req.on('data', (chunk: Buffer) => (size += chunk.length))
    req.on('end', () => res.end(`hello ${req.method} ${req.url} ${size}`))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())))
})

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve(body))
        res.on('error', reject)
      })
      .on('error', reject)
  })
}

describe('fetch', () => {
  test('sequential GET, text body', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const res = await fetch(`${base}/text/${i}`)
      expect(await res.text()).toBe(`hello GET /text/${i} 0`)
    }
  })

  test('sequential GET, JSON body', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const res = await fetch(`${base}/json`)
      expect((await res.json()).n).toBe(42)
    }
  })

  test('sequential POST with a body', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const res = await fetch(`${base}/post`, { method: 'POST', body: 'x'.repeat(i % 64) })
      expect(await res.text()).toBe(`hello POST /post ${i % 64}`)
    }
  })
})

describe('http.get', () => {
  test('sequential GET, global agent', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      expect(await get(`${base}/get/${i}`)).toBe(`hello GET /get/${i} 0`)
    }
  })

  test('sequential GET, JSON', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      expect(JSON.parse(await get(`${base}/json`)).ok).toBe(true)
    }
  })

  test('a few in parallel', async () => {
    for (let i = 0; i < ROUNDS / 10; i++) {
      const bodies = await Promise.all(Array.from({ length: 8 }, (_, j) => get(`${base}/p/${j}`)))
      expect(bodies).toHaveLength(8)
    }
  })
})
