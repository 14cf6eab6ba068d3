import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, expect, test } from 'vitest'

// Many short tests, each a few round trips over keep-alive connections to one server of the file: `fetch` (undici's
// pool) and `http.get` (Node's global agent). Pooled connections are judged at every test's check.
let server: http.Server
let base: string

beforeAll(async () => {
  server = http.createServer((req, res) => res.end(`ok ${req.url}`))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve(body))
      })
      .on('error', reject)
  })
}

for (let n = 0; n < 50; n++) {
  test(`round trips ${n}`, async () => {
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${base}/fetch/${i}`)
      expect(await res.text()).toBe(`ok /fetch/${i}`)
    }
    expect(await get(`${base}/get`)).toBe('ok /get')
  })
}
