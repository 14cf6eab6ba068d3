import { describe, expect, test } from 'vitest'

// Many trivial tests: what is measured is the per-test cost (hooks, scopes, checks), not the test bodies.

for (let i = 0; i < 200; i++) {
  test(`trivial ${i}`, () => {
    expect(i + 1).toBe(i + 1)
  })
}

describe('async', () => {
  for (let i = 0; i < 100; i++) {
    test(`async trivial ${i}`, async () => {
      expect(await Promise.resolve(i)).toBe(i)
    })
  }
})
