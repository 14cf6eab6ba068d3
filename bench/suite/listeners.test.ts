import { EventEmitter } from 'node:events'
import { expect, test } from 'vitest'

// Listener churn: EventEmitter and AbortSignal listeners added and removed in loops.
const N = 100_000

test('EventEmitter on/off', () => {
  const emitter = new EventEmitter()
  let calls = 0
  for (let i = 0; i < N; i++) {
    const listener = () => calls++
    emitter.on('tick', listener)
    emitter.emit('tick')
    emitter.off('tick', listener)
  }
  expect(calls).toBe(N)
  expect(emitter.listenerCount('tick')).toBe(0)
})

test('EventEmitter once', () => {
  const emitter = new EventEmitter()
  let calls = 0
  for (let i = 0; i < N; i++) {
    emitter.once('tick', () => calls++)
    emitter.emit('tick')
  }
  expect(calls).toBe(N)
})

test('many listeners on one emitter, then removeAllListeners', () => {
  const emitter = new EventEmitter()
  emitter.setMaxListeners(0)
  let calls = 0
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 2_000; i++) emitter.on('tick', () => calls++)
    emitter.emit('tick')
    emitter.removeAllListeners('tick')
  }
  expect(calls).toBe(40_000)
})

test('AbortSignal addEventListener/removeEventListener', () => {
  const controller = new AbortController()
  let calls = 0
  for (let i = 0; i < N / 2; i++) {
    const listener = () => calls++
    controller.signal.addEventListener('abort', listener)
    controller.signal.removeEventListener('abort', listener)
  }
  controller.abort()
  expect(calls).toBe(0)
})

test('new AbortController per operation, aborted', () => {
  let aborted = 0
  for (let i = 0; i < N / 5; i++) {
    const controller = new AbortController()
    controller.signal.addEventListener('abort', () => aborted++, { once: true })
    controller.abort()
  }
  expect(aborted).toBe(N / 5)
})

test('EventTarget dispatch', () => {
  const target = new EventTarget()
  let calls = 0
  const listener = () => calls++
  for (let i = 0; i < N / 5; i++) {
    target.addEventListener('ping', listener)
    target.dispatchEvent(new Event('ping'))
    target.removeEventListener('ping', listener)
  }
  expect(calls).toBe(N / 5)
})
