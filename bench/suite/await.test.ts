import { expect, test } from 'vitest'

// Promise-heavy code: hundreds of thousands of awaits, no resources at all.
const N = 200_000

async function add(a: number, b: number): Promise<number> {
  return a + b
}

async function chain(depth: number): Promise<number> {
  return depth === 0 ? 0 : 1 + (await chain(depth - 1))
}

test('await resolved promises', async () => {
  let sum = 0
  for (let i = 0; i < N; i++) sum += await Promise.resolve(i & 1)
  expect(sum).toBe(N / 2)
})

test('await small async functions', async () => {
  let sum = 0
  for (let i = 0; i < N; i++) sum = await add(sum, 1)
  expect(sum).toBe(N)
})

test('await non-promise values', async () => {
  let sum = 0
  for (let i = 0; i < N; i++) sum += await i
  expect(sum).toBe((N * (N - 1)) / 2)
})

test('nested async calls', async () => {
  let total = 0
  for (let i = 0; i < N / 100; i++) total += await chain(100)
  expect(total).toBe(N)
})

test('Promise.all batches', async () => {
  let total = 0
  for (let i = 0; i < N / 100; i++) {
    const values = await Promise.all(Array.from({ length: 100 }, (_, j) => add(j, 1)))
    total += values.length
  }
  expect(total).toBe(N)
})

test('new Promise with resolve', async () => {
  let count = 0
  for (let i = 0; i < N / 2; i++) {
    await new Promise<void>((resolve) => resolve())
    count++
  }
  expect(count).toBe(N / 2)
})
