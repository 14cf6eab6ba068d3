import { createScope, type Scope } from '../ledger/ledger.js'
import { checkScope, reportInternalError, type Runtime, type ScopeFile } from '../runtime.js'
import type { LeakError } from '../report/leak-error.js'
import { checkThroughRunner, runnerHooksAvailable } from './runner-hooks.js'
import { vitestApi } from './vitest-api.js'
import { workerState } from './worker-state.js'

// The runner's task objects, as much of them as the plugin reads (the type names differ between Vitest 3, 4 and 5).
interface TaskLike {
  id: string
  name: string
  type: 'test' | 'suite'
  mode: string
  meta: Record<string, unknown>
  file?: TaskLike
  concurrent?: boolean
  /** `test.fails`: Vitest turns the test's failure into a pass (after every check of it has run). */
  fails?: boolean
  /** Set by `ctx.skip()` (`pending`): Vitest then reports the test as skipped and drops its errors. */
  result?: { state?: string; pending?: boolean }
  suite?: TaskLike
  tasks?: TaskLike[]
  filepath?: string
}

interface HookContext {
  task: TaskLike
  /** The test's own signal (Vitest >= 3.1): Vitest listens on it for the test's abort. */
  signal?: AbortSignal
  onTestFinished?: (fn: () => unknown, timeout?: number) => void
}

type SuiteHooks = Record<'beforeAll' | 'afterAll' | 'beforeEach' | 'afterEach', Function[]>

/** The runner functions the plugin needs, from wherever this Vitest version exports them. */
export interface RunnerApi {
  getCurrentSuite: () => unknown
  getHooks: (suite: never) => unknown
  getFn: (test: never) => unknown
  setFn: (test: never, fn: never) => void
}

/** Vitest 4.1+ has them as static methods of `TestRunner` (and deprecates `vitest/suite`); 3.2 and 4.0 only there. */
export async function loadRunnerApi(): Promise<RunnerApi> {
  const runner = (vitestApi().module as unknown as { TestRunner?: Record<string, Function | undefined> }).TestRunner
  if (runner?.getCurrentSuite && runner.getSuiteHooks && runner.getTestFn && runner.setTestFn) {
    return {
      getCurrentSuite: runner.getCurrentSuite.bind(runner) as RunnerApi['getCurrentSuite'],
      getHooks: runner.getSuiteHooks.bind(runner) as RunnerApi['getHooks'],
      getFn: runner.getTestFn.bind(runner) as RunnerApi['getFn'],
      setFn: runner.setTestFn.bind(runner) as RunnerApi['setFn'],
    }
  }
  const suite = (await vitestApi().importSuite()) as RunnerApi
  return { getCurrentSuite: suite.getCurrentSuite, getHooks: suite.getHooks, getFn: suite.getFn, setFn: suite.setFn }
}

/** Vitest >= 4.1: the "after" half of the outermost aroundEach runs after every cleanup of the test. */
function hasAroundEach(): boolean {
  return typeof (vitestApi().module as Record<string, unknown>).aroundEach === 'function'
}

/**
 * Wires the ownership scopes into Vitest for one test file. Hooks are added straight to the runner's hook lists
 * (`collector.on`, `getHooks`) rather than through `beforeAll()`/`aroundEach()`: those parse the callback's
 * parameters for fixtures, and a setup-file hook that does not destructure its context breaks `test.extend` users.
 */
export function registerHooks(runtime: Runtime, { getCurrentSuite, getHooks, getFn, setFn }: RunnerApi): void {
  const { ledger } = runtime
  const fileScope = createScope('file', currentFilePath() ?? 'file', undefined, 'collect')
  const scopeFile = scopeFiles()
  const progress = new WeakMap<Scope, { remaining: Set<string> }>()
  /** Leaks of tests whose own failure Vitest would hide (see hidesFailure), to be thrown by their suite or file. */
  const deferred = new WeakMap<Scope, Error[]>()
  ledger.current = fileScope
  const collector = getCurrentSuite() as unknown as { on: (name: string, ...fns: Function[]) => void }
  const order = hookOrder()
  /** The plugin's own part of a hook: a bug there is shown once and the test, suite or file runs on unchecked. */
  const guarded = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn()
    } catch (error) {
      reportInternalError(runtime, error)
      return fallback
    }
  }

  const startChild = (parent: Scope) => {
    if (parent.phase === 'beforeAll' || parent.phase === 'collect') parent.phase = 'tests'
  }
  const endChild = (parent: Scope | undefined, child: TaskLike) => {
    const state = parent && progress.get(parent)
    if (!state) return
    state.remaining.delete(child.id)
    if (state.remaining.size === 0) parent.phase = 'afterAll'
  }
  const openSuiteScope = (suite: TaskLike, kind: 'suite' | 'file'): Scope => {
    const scope = kind === 'file' ? fileScope : createScope('suite', suiteName(suite), ledger.running, 'beforeAll')
    if (kind === 'file') scope.phase = 'beforeAll'
    else startChild(ledger.running)
    progress.set(scope, { remaining: new Set(runnableChildren(suite)) })
    ledger.current = scope
    return scope
  }
  const closeSuiteScope = async (suite: TaskLike, scope: Scope) => {
    if (scope === fileScope) guarded(() => fileCheck?.(), undefined)
    const parent = scope.parent
    const errors = [...(deferred.get(scope) ?? []), ...(await checkScope(runtime, scope, suite, scopeFile(suite)))]
    guarded(() => {
      if (parent) ledger.current = parent
      endChild(parent, suite)
    }, undefined)
    throwLeaks(errors)
  }

  /**
   * A suite's check must run after its afterAll hooks and after the cleanups its beforeAll hooks returned. Those
   * cleanups run after afterAll, in reverse order under `sequence.hooks: 'stack'` (the default): the cleanup of the
   * first beforeAll runs last. Under 'list' they run in order, so the check is a cleanup of a beforeAll added last.
   */
  const instrument = (suite: TaskLike, kind: 'suite' | 'file', hooks: SuiteHooks) => {
    let scope: Scope | undefined
    const close = () => (scope ? closeSuiteScope(suite, scope) : undefined)
    const open = () =>
      guarded(() => {
        scope = openSuiteScope(suite, kind)
        if (kind === 'file') instrumentChildren(suite)
        if (order === 'list') hooks.beforeAll.push(untimedCleanup(() => close))
        return order === 'list' ? undefined : close
      }, undefined)
    return untimedCleanup(open)
  }
  const instrumentChildren = (suite: TaskLike) => {
    for (const child of suite.tasks ?? []) {
      if (child.type !== 'suite') continue
      const hooks = getHooks(child as never) as unknown as SuiteHooks | undefined
      if (hooks) hooks.beforeAll.unshift(instrument(child, 'suite', hooks))
      instrumentChildren(child)
    }
  }

  /** Set on 4.1 and later: where each test of this file is checked, chosen when the file starts (see runner-hooks.ts). */
  let chooseTestHooks: ((file: TaskLike) => void) | undefined
  /** Checked through the runner's methods: how many attempts they opened and closed, and what the file's end checks. */
  let opened = 0
  let closedAttempts = 0
  let fileCheck: (() => void) | undefined
  collector.on(
    'beforeAll',
    untimedCleanup((file: TaskLike) =>
      guarded(() => {
        chooseTestHooks?.(file)
        return instrument(file, 'file', getHooks(file as never) as unknown as SuiteHooks)()
      }, undefined),
    ),
  )

  const openTestScope = ({ task, signal }: HookContext): Scope => {
    const parent = ledger.running
    startChild(parent)
    const scope = createScope('test', () => testName(task), parent, 'test')
    scope.code = () => getFn(task as never)
    // made for this test before it started: listeners on it (Vitest's own, for the abort) go away with it
    scope.signal = signal
    // a concurrent test owns only what its own async context creates (see Ledger.runIn)
    if (!task.concurrent) ledger.current = scope
    return scope
  }
  /** A test's check: at once when nothing was left open (see checkScope), else a promise. */
  const closeTestScope = (task: TaskLike, scope: Scope): LeakError[] | Promise<LeakError[]> => {
    const checked = checkScope(runtime, scope, task, scopeFile(task))
    return Array.isArray(checked) ? afterTestCheck(task, scope, checked) : checked.then((errors) => afterTestCheck(task, scope, errors))
  }
  const afterTestCheck = (task: TaskLike, scope: Scope, errors: LeakError[]): LeakError[] =>
    guarded(() => {
      endChild(scope.parent, task)
      const why = hidesFailure(task)
      if (errors.length === 0 || !why || !scope.parent) return errors
      // the test's own failure would be turned into a pass or dropped: its suite (or file) fails instead, naming it
      const owner = scope.parent
      const note = `  test:    ${JSON.stringify(scope.name)}, reported on its ${owner.kind === 'file' ? 'file' : 'suite'}: ${why}`
      deferred.set(owner, [...(deferred.get(owner) ?? []), ...errors.map((error) => withNote(error, note))])
      return []
    }, errors)

  if (hasAroundEach()) {
    const aroundEach = withoutTimeout(async (runTest: () => Promise<void>, context: HookContext) => {
      const scope = guarded(() => openTestScope(context), undefined)
      if (!scope) return runTest()
      let failure: unknown
      let failed = false
      try {
        await (context.task.concurrent ? ledger.runIn(scope, runTest) : runTest())
      } catch (error) {
        failed = true
        failure = error
      }
      const closed = closeTestScope(context.task, scope)
      const errors = Array.isArray(closed) ? closed : await closed
      if (failed) throw errors.length > 0 ? throwable([failure as Error, ...errors]) : failure
      throwLeaks(errors)
    })
    // the runner's own methods where nothing needs the aroundEach hook (see runner-hooks.ts); the hook otherwise,
    // first in the file's list, so that it is the outermost
    const attempts = new WeakMap<object, Scope>()
    chooseTestHooks = (file) => {
      const TestRunner = (vitestApi().module as unknown as { TestRunner?: unknown }).TestRunner
      if (!hasOwnAroundEach(file, getHooks) && !hasConcurrentTest(file) && runnerHooksAvailable(TestRunner)) {
        fileCheck = () => {
          // tests ran, and none of their attempts was opened, or none was closed: the runner no longer calls one of
          // the plugin's methods
          if ((opened === 0 || closedAttempts === 0) && hasRunTest(file)) {
            reportInternalError(
              runtime,
              new Error("the tests of this file ran without Vitest's onBeforeTryTask or onAfterRetryTask: they were not checked"),
            )
          }
        }
        checkThroughRunner(file, {
          open: (test) => {
            opened++
            const task = test as TaskLike
            const scope = guarded(() => openTestScope({ task, signal: (task as { context?: HookContext }).context?.signal }), undefined)
            if (scope) attempts.set(test, scope)
          },
          close: (test) => {
            closedAttempts++
            const scope = attempts.get(test)
            if (!scope) return
            attempts.delete(test)
            const closed = closeTestScope(test as TaskLike, scope)
            if (!Array.isArray(closed)) return closed.then(throwLeaks)
            throwLeaks(closed)
          },
        })
      } else {
        ;(getHooks(file as never) as unknown as { aroundEach: Function[] }).aroundEach.unshift(aroundEach)
      }
    }
  } else {
    // without aroundEach, a concurrent test's own function (with its fixtures) is what runs in its async context
    const originalFns = new WeakMap<object, Function>()
    collector.on('beforeEach', (context: HookContext) => {
      const scope = guarded(() => {
        const opened = openTestScope(context)
        if (context.task.concurrent) {
          const original = originalFns.get(context.task) ?? (getFn(context.task as never) as Function)
          originalFns.set(context.task, original)
          setFn(context.task as never, ((...args: unknown[]) => ledger.runIn(opened, () => original(...args))) as never)
        }
        return opened
      }, undefined)
      if (!scope) return
      if (typeof context.onTestFinished !== 'function') {
        reportInternalError(runtime, new Error('context.onTestFinished is missing: this Vitest version is not supported'))
        return
      }
      // registered before any user callback, so it runs after all of them (onTestFinished runs in reverse order).
      // Timeout 0: Vitest does not time it (the wait for closing resources is bounded by `settleTimeout`); timed by
      // the hookTimeout, a check longer than a short hookTimeout would fail the test with "Hook timed out"
      context.onTestFinished(async () => {
        const errors = await closeTestScope(context.task, scope)
        throwLeaks(errors)
      }, 0)
    })
  }
}

/** Whether any suite of the file (the file itself included) has aroundEach hooks (the plugin's are not added yet). */
function hasOwnAroundEach(suite: TaskLike, getHooks: RunnerApi['getHooks']): boolean {
  const hooks = getHooks(suite as never) as unknown as { aroundEach?: unknown[] } | undefined
  if ((hooks?.aroundEach?.length ?? 0) > 0) return true
  return (suite.tasks ?? []).some((task) => task.type === 'suite' && hasOwnAroundEach(task, getHooks))
}

/** Whether any test of the suite, at any depth, is `test`. */
function someTest(suite: TaskLike, test: (task: TaskLike) => boolean): boolean {
  return (suite.tasks ?? []).some((task) => (task.type === 'suite' ? someTest(task, test) : test(task)))
}

/** Whether any test of the suite ran (passed or failed). */
function hasRunTest(suite: TaskLike): boolean {
  return someTest(suite, (task) => task.result?.state === 'pass' || task.result?.state === 'fail')
}

/** Whether any test of the file runs concurrently (`test.concurrent`, `describe.concurrent`, `sequence.concurrent`). */
function hasConcurrentTest(suite: TaskLike): boolean {
  return someTest(suite, (task) => task.concurrent === true)
}

/**
 * Vitest times each `aroundEach` hook's setup and teardown with two timers per test (~8 µs for every test). The
 * plugin's hook needs neither: its setup is synchronous, and its teardown ends by itself (the wait for closing
 * resources is bounded by `settleTimeout`). Vitest 4.1 and 5 read a hook's own timeout from this key, and time a
 * hook whose timeout is 0 not at all; a version that does not know the key times it as before.
 */
function withoutTimeout<T extends Function>(hook: T): T {
  return Object.assign(hook, { [Symbol.for('VITEST_AROUND_TIMEOUT')]: 0 })
}

/**
 * A suite's check is the cleanup its beforeAll hook returns, and Vitest times such a cleanup with the hook's timeout
 * (the hookTimeout for a hook added straight to the list): a check that waits for closing resources longer than a
 * short hookTimeout would fail the suite with "Hook timed out". Vitest 3.2 to 5 read the cleanup's timeout from this
 * key on the hook, and time a cleanup whose timeout is 0 not at all; the wait is bounded by `settleTimeout`.
 */
function untimedCleanup<T extends Function>(hook: T): T {
  return Object.assign(hook, { [Symbol.for('VITEST_CLEANUP_TIMEOUT')]: 0 })
}

/** Why Vitest would not show a failure of this test as one, if it would not. Read when the test's check runs. */
function hidesFailure(task: TaskLike): string | undefined {
  if (task.fails) return 'it is a `test.fails` test, whose failure Vitest turns into a pass'
  if (task.result?.pending || task.result?.state === 'skip')
    return 'it was skipped while it ran (`ctx.skip()`), and Vitest drops the errors of a skipped test'
  return undefined
}

/** The same leak error with one more line under its message (the code frame stays where it was). */
function withNote(error: Error, note: string): Error {
  const head = `${error.name}: ${error.message}`
  const stack = error.stack?.startsWith(head) ? error.stack.slice(head.length) : ''
  error.message = `${error.message}\n${note}`
  error.stack = `${error.name}: ${error.message}${stack}`
  return error
}

/** The leaks a check found fail the test, suite or file it checked. */
function throwLeaks(errors: Error[]): void {
  if (errors.length > 0) throw throwable(errors)
}

/** Several errors for one task: 4.1+ unwraps an AggregateError into separate errors; 3.2 and 4.0 take an array. */
function throwable(errors: Error[]): unknown {
  if (errors.length === 1) return errors[0]
  return hasAroundEach() ? new AggregateError(errors, `${errors.length} leaks`) : errors
}

function runnableChildren(suite: TaskLike): string[] {
  return (suite.tasks ?? []).filter((t) => t.mode === 'run' || t.mode === 'queued').map((t) => t.id)
}

function suiteName(suite: TaskLike): string {
  const names: string[] = []
  for (let s: TaskLike | undefined = suite; s && !s.filepath; s = s.suite) names.unshift(s.name)
  return names.join(' > ')
}

function testName(task: TaskLike): string {
  return task.suite && !task.suite.filepath ? `${suiteName(task.suite)} > ${task.name}` : task.name
}

/** Where the leaks of a task are filed; the worker's state is read once per test file, not once per test. */
function scopeFiles(): (task: TaskLike) => ScopeFile {
  const fallback = currentFilePath() ?? ''
  const root = workerState()?.config?.root ?? process.cwd()
  return (task) => ({ path: task.filepath ?? task.file?.filepath ?? fallback, root })
}

function hookOrder(): 'stack' | 'list' | 'parallel' {
  const order = workerState()?.config?.sequence?.hooks
  return order === 'list' || order === 'parallel' ? order : 'stack'
}

function currentFilePath(): string | undefined {
  return workerState()?.filepath
}
