import timers from 'node:timers'
import { setTimeout as sleep } from 'node:timers/promises'
import { expect, test } from 'vitest'

// Timer churn: tens of thousands of timers created and cleared, plus short real waits. All of them end in the test.
const N = 20_000

test('setTimeout then clearTimeout', () => {
  let fired = 0
  for (let i = 0; i < N; i++) {
    const timer = setTimeout(() => fired++, 10_000)
    clearTimeout(timer)
  }
  expect(fired).toBe(0)
})

test('setInterval then clearInterval', () => {
  let fired = 0
  for (let i = 0; i < N; i++) {
    const timer = setInterval(() => fired++, 10_000)
    clearInterval(timer)
  }
  expect(fired).toBe(0)
})

test('node:timers exports, batch created then cleared', () => {
  const pending: NodeJS.Timeout[] = []
  for (let i = 0; i < N; i++) pending.push(timers.setTimeout(() => {}, 60_000 + i))
  for (const timer of pending) timers.clearTimeout(timer)
  expect(pending).toHaveLength(N)
})

test('debounce pattern: reset a timer many times', async () => {
  let calls = 0
  let timer: NodeJS.Timeout | undefined
  const debounced = () => {
    clearTimeout(timer)
    timer = setTimeout(() => calls++, 5)
  }
  for (let i = 0; i < N; i++) debounced()
  await sleep(20)
  expect(calls).toBe(1)
})

test('await short real timers', async () => {
  for (let i = 0; i < 40; i++) {
    await new Promise<void>((resolve) => setTimeout(resolve, 1))
  }
  for (let i = 0; i < 40; i++) await sleep(1)
})

test('timers that fire: zero-delay timeouts', async () => {
  let fired = 0
  for (let round = 0; round < 20; round++) {
    await new Promise<void>((resolve) => {
      let left = 100
      for (let i = 0; i < 100; i++) {
        setTimeout(() => {
          fired++
          if (--left === 0) resolve()
        }, 0)
      }
    })
  }
  expect(fired).toBe(2000)
})
