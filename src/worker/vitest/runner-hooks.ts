import { inVmContext } from '../node/realm.js'
import { workerState } from './worker-state.js'

/**
 * Vitest's own per-attempt runner methods as the place of a test's check, instead of an `aroundEach` hook.
 *
 * On Vitest 4.1 and later the check must run after every cleanup of the test (afterEach hooks, the cleanups that
 * beforeEach hooks return, fixture teardown, onTestFinished callbacks): an `aroundEach` registered first gives that
 * point, but Vitest runs any `aroundEach` hook through some twenty promises, two concurrency-limiter slots and two
 * timers: ~45 µs a test while the code is cold, about half of what the plugin costs a test in a file of short tests.
 * The runner calls `onBeforeTryTask` before the beforeEach hooks and `onAfterRetryTask` after all those cleanups,
 * inside the aroundEach hooks, for each attempt; what `onAfterRetryTask` throws fails the test. So when a test file
 * has no `aroundEach` hook of its own (whose teardown would run after the check) and no concurrent test (which runs
 * in an async context of its own, entered from an aroundEach hook), its tests are checked from these two methods.
 *
 * They are patched on Vitest's `TestRunner` class, once per worker, and used only where the runner is an instance of
 * it: no custom `runner` in the config (one might override them), not in benchmark mode, and not in the vm pools
 * (whose test files see Vitest through a context of their own).
 */
export interface AttemptHandlers {
  open(test: object): void
  close(test: object): void | Promise<void>
}

interface RunnerClass {
  prototype: {
    onBeforeTryTask?: (test: object, options: unknown) => unknown
    onAfterRetryTask?: (test: object, options: unknown) => unknown
  }
}

const PATCHED = Symbol.for('vitest-leaks.runner-hooks')

/** The handlers of each test file checked through the runner, by its file task. */
const byFile = new WeakMap<object, AttemptHandlers>()

/**
 * Whether this worker's tests can be checked from the runner's methods (see above); patches them, once, if so. Asked
 * when a test file starts: the two methods must still be the plugin's then (a user's setup file may have replaced
 * them since). `TestRunner`: the class `vitest` exports (4.1 and later).
 */
export function runnerHooksAvailable(TestRunner: unknown): boolean {
  const config = workerState()?.config as { runner?: unknown; mode?: unknown } | undefined
  if (!config || config.runner || (config.mode !== undefined && config.mode !== 'test') || inVmContext()) return false
  const prototype = (TestRunner as RunnerClass | undefined)?.prototype
  if (!prototype || typeof prototype.onBeforeTryTask !== 'function') return false
  const patched = (prototype as Record<symbol, Patched | undefined>)[PATCHED] ?? patch(prototype)
  return prototype.onBeforeTryTask === patched.before && prototype.onAfterRetryTask === patched.after
}

/** From now on the attempts of the tests of `file` (a file task) are opened and closed by `handlers`. */
export function checkThroughRunner(file: object, handlers: AttemptHandlers): void {
  byFile.set(file, handlers)
}

interface Patched {
  before: Function
  after: Function
}

function patch(prototype: RunnerClass['prototype']): Patched {
  const originalBefore = prototype.onBeforeTryTask!
  const originalAfter = prototype.onAfterRetryTask
  const before = function onBeforeTryTask(this: unknown, test: object, options: unknown) {
    const result = originalBefore.call(this, test, options)
    const handlers = byFile.get(fileOf(test))
    if (!handlers) return result
    if (result instanceof Promise) return result.then(() => handlers.open(test))
    handlers.open(test)
    return result
  }
  // not an async function: the runner awaits what it returns, and a test whose check found nothing waits for no
  // promise of the plugin's
  const after = function onAfterRetryTask(this: unknown, test: object, options: unknown) {
    const result = originalAfter?.call(this, test, options)
    if (result instanceof Promise) return result.then(() => byFile.get(fileOf(test))?.close(test))
    return byFile.get(fileOf(test))?.close(test)
  }
  prototype.onBeforeTryTask = before
  prototype.onAfterRetryTask = after
  const patched = { before, after }
  Object.defineProperty(prototype, PATCHED, { value: patched })
  return patched
}

function fileOf(test: object): object {
  return (test as { file?: object }).file ?? test
}
