import { createHash, randomBytes } from 'node:crypto'
import { expect, test } from 'vitest'

// Pure computation: the plugin has nothing to do here but its per-test hooks.

test('sha256 of many small buffers', () => {
  const data = randomBytes(256)
  let last = ''
  for (let i = 0; i < 40_000; i++) last = createHash('sha256').update(data).update(String(i)).digest('hex')
  expect(last).toHaveLength(64)
})

test('sha1 of a large buffer, repeatedly', () => {
  const data = randomBytes(1 << 20)
  let last = ''
  for (let i = 0; i < 60; i++) last = createHash('sha1').update(data).digest('base64')
  expect(last.length).toBeGreaterThan(0)
})

test('JSON round trips', () => {
  const doc = {
    users: Array.from({ length: 200 }, (_, i) => ({
      id: i,
      name: `user ${i}`,
      tags: ['a', 'b', String(i)],
      nested: { x: i, y: [i, i * 2] },
    })),
  }
  let size = 0
  for (let i = 0; i < 250; i++) size += JSON.parse(JSON.stringify(doc)).users.length
  expect(size).toBe(250 * 200)
})

test('sort numbers and strings', () => {
  let checksum = 0
  for (let round = 0; round < 10; round++) {
    const numbers = Array.from({ length: 50_000 }, (_, i) => (i * 7919 + round * 104729) % 100_003)
    numbers.sort((a, b) => a - b)
    const strings = numbers.slice(0, 20_000).map((n) => `k${n.toString(36)}`)
    strings.sort()
    checksum += numbers[0]! + strings.length
  }
  expect(checksum).toBeGreaterThan(0)
})

test('prime sieve', () => {
  const limit = 3_000_000
  const sieve = new Uint8Array(limit + 1)
  let count = 0
  for (let i = 2; i <= limit; i++) {
    if (sieve[i]) continue
    count++
    for (let j = i * i; j <= limit; j += i) sieve[j] = 1
  }
  expect(count).toBe(216_816)
})

test('string building and regex', () => {
  let text = ''
  for (let i = 0; i < 100_000; i++) text += `line ${i} value=${i * 3}\n`
  const matches = text.match(/value=\d*7\n/g) ?? []
  expect(matches.length).toBeGreaterThan(0)
})
