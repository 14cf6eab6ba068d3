import { EventEmitter } from 'node:events'
import { expect, test } from 'vitest'

// Listeners on long-lived emitters, added and removed inside each test: a module-level bus and `process`. The
// plugin follows listeners added to emitters from before the test, so this is its per-listener path.
const bus = new EventEmitter()
bus.setMaxListeners(0)

for (let n = 0; n < 50; n++) {
  test(`bus and process listeners ${n}`, () => {
    const listeners: Array<() => void> = []
    let calls = 0
    for (let i = 0; i < 1_000; i++) {
      const listener = () => calls++
      listeners.push(listener)
      bus.on('event', listener)
    }
    bus.emit('event')
    for (const listener of listeners) bus.off('event', listener)
    const local = new EventEmitter()
    for (let i = 0; i < 200; i++) local.once('done', () => calls++)
    local.emit('done')
    for (let i = 0; i < 50; i++) {
      const onSignal = () => calls++
      process.on('SIGUSR2', onSignal)
      process.off('SIGUSR2', onSignal)
    }
    expect(calls).toBe(1_200)
    expect(bus.listenerCount('event')).toBe(0)
  })
}
