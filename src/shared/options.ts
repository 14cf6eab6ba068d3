/** Every family of resource the plugin can check, in the words users see in messages. */
export const LEAK_KINDS = [
  'servers',
  'sockets',
  'udp',
  'timers',
  'processes',
  'workers',
  'watchers',
  'listeners',
  'files',
  'descriptors',
  'handles',
] as const
/** Checked only when asked for: `retained` (closed sockets still referenced) by the option `retainedSockets`. */
export const OPT_IN_KINDS = ['retained'] as const
export type LeakKind = (typeof LEAK_KINDS)[number] | (typeof OPT_IN_KINDS)[number]

export interface LeaksOptions {
  /** Which families of resource to check. Default: all of them. */
  kinds?: LeakKind[]
  /**
   * How long (ms) to wait for resources that are already closing (a socket after `end()`, a child process after
   * `kill()`) before calling them leaks. Nothing waits when nothing is left open. Default 300.
   */
  settleTimeout?: number
  /**
   * After reporting, close what leaked, as harmlessly as it can (see the README). Default false: the plugin reports
   * and changes nothing in the program under test.
   */
  cleanup?: boolean
  /**
   * `fail` (default): a leak fails its test, suite or file. `warn`: leaks are reported in the summary, nothing fails.
   * `off`: nothing is installed. The environment variable `VITEST_LEAKS=fail|warn|off` overrides it for one run.
   */
  mode?: LeakMode
  /** Leaks that are known and accepted, each with the reason why. */
  ignore?: IgnoreRule[]
  /** Write a machine-readable report of every leak to this JSON file at the end of the run. */
  report?: string
  /**
   * A JSON file of known leaks for gradual adoption: leaks recorded in it do not fail. Record today's leaks with
   * `VITEST_LEAKS_BASELINE=update npx vitest run`.
   */
  baseline?: string
  /**
   * Trace mode: a creation stack for every async resource (through async_hooks, promises included), so a resource
   * a library made on a later tick points back at your line, and one no probe follows gets a stack at all. Costly
   * (on Node 20/22 it turns on promise hooks): for hunting a leak, not for every run. `VITEST_LEAKS_TRACE=1` turns
   * it on for one run. Default false.
   */
  trace?: boolean
  /**
   * Also report, after each test, the sockets it created that are closed but still referenced (kept in a Set, Map
   * or array): a memory leak. Costs a full garbage collection after each test that closed a socket. Default false.
   */
  retainedSockets?: boolean
  /**
   * How many timers, and how many HTTP requests, each test (or suite, or file) keeps a creation stack for: tests make
   * them by the thousand, and a stack costs ~2.5 µs in a loop (ten times a setTimeout) and ~10 µs between network
   * round trips. The rest are tracked and fail their test all the same; their message says they have no stack and
   * how to get one. `Infinity` keeps every stack; `VITEST_LEAKS_STACKS=all` (or a number) sets it for one run.
   * Default 100.
   */
  stacksPerTest?: number
}

export const LEAK_MODES = ['fail', 'warn', 'off'] as const
export type LeakMode = (typeof LEAK_MODES)[number]

/**
 * One accepted leak pattern. Every field given must match; `reason` is required and shown in the summary.
 * `stack` matches the creation stack (e.g. a library's path), `test` the full test name (`suite > test`).
 */
export interface IgnoreRule {
  kind?: LeakKind
  stack?: string | RegExp
  test?: string | RegExp
  reason: string
}

export interface ResolvedOptions {
  kinds: LeakKind[]
  settleTimeout: number
  cleanup: boolean
  mode: LeakMode
  ignore: IgnoreRule[]
  report: string | undefined
  baseline: string | undefined
  retainedSockets: boolean
  /** `VITEST_LEAKS_BASELINE=update`: record every leak into the baseline file, fail nothing. */
  updateBaseline: boolean
  trace: boolean
  stacksPerTest: number
}

export const DEFAULT_OPTIONS: ResolvedOptions = {
  kinds: [...LEAK_KINDS],
  settleTimeout: 300,
  cleanup: false,
  mode: 'fail',
  ignore: [],
  report: undefined,
  baseline: undefined,
  retainedSockets: false,
  updateBaseline: false,
  trace: false,
  stacksPerTest: 100,
}

/** Option names a user may pass (the resolved object has more). */
const OPTION_NAMES = [
  'kinds',
  'settleTimeout',
  'cleanup',
  'mode',
  'ignore',
  'report',
  'baseline',
  'trace',
  'retainedSockets',
  'stacksPerTest',
]

const SETTLE_TIMEOUT_MAX = 60_000

export class LeaksOptionsError extends Error {
  override name = 'LeaksOptionsError'
}

function fail(option: string, accepted: string, got: unknown): never {
  throw new LeaksOptionsError(`vitest-leaks: option \`${option}\` must be ${accepted}; got ${describeValue(got)}.`)
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (Array.isArray(value)) return `an array (${JSON.stringify(value)})`
  if (value === null) return 'null'
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${String(value)}`
}

/**
 * Validates user options once, at config time, so a typo fails the run before any test starts; then applies the
 * environment variables for one run (`VITEST_LEAKS`, `VITEST_LEAKS_BASELINE`).
 */
export function resolveOptions(input: unknown, env: Record<string, string | undefined> = process.env): ResolvedOptions {
  return applyEnvironment(resolveUserOptions(input), env)
}

function resolveUserOptions(input: unknown): ResolvedOptions {
  if (input === undefined) return { ...DEFAULT_OPTIONS, kinds: [...DEFAULT_OPTIONS.kinds], ignore: [] }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new LeaksOptionsError(`vitest-leaks: options must be an object like { kinds, settleTimeout, mode }; got ${describeValue(input)}.`)
  }
  const known = OPTION_NAMES
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      throw new LeaksOptionsError(`vitest-leaks: unknown option \`${key}\`. Accepted options: ${known.join(', ')}.`)
    }
  }
  const options = input as LeaksOptions
  const resolved: ResolvedOptions = { ...DEFAULT_OPTIONS, kinds: [...DEFAULT_OPTIONS.kinds], ignore: [] }

  if (options.kinds !== undefined) {
    const accepted = `an array of ${LEAK_KINDS.map((k) => `'${k}'`).join(', ')}`
    if (!Array.isArray(options.kinds)) fail('kinds', accepted, options.kinds)
    for (const kind of options.kinds) {
      if (!(LEAK_KINDS as readonly unknown[]).includes(kind)) fail('kinds', accepted, kind)
    }
    resolved.kinds = [...new Set(options.kinds)]
  }
  if (options.settleTimeout !== undefined) {
    const value = options.settleTimeout
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > SETTLE_TIMEOUT_MAX) {
      fail('settleTimeout', `a number of milliseconds from 0 to ${SETTLE_TIMEOUT_MAX}`, value)
    }
    resolved.settleTimeout = value
  }
  if (options.cleanup !== undefined) {
    if (typeof options.cleanup !== 'boolean') fail('cleanup', 'true or false', options.cleanup)
    resolved.cleanup = options.cleanup
  }
  if (options.trace !== undefined) {
    if (typeof options.trace !== 'boolean') fail('trace', 'true or false', options.trace)
    resolved.trace = options.trace
  }
  if (options.retainedSockets !== undefined) {
    if (typeof options.retainedSockets !== 'boolean') fail('retainedSockets', 'true or false', options.retainedSockets)
    resolved.retainedSockets = options.retainedSockets
    if (options.retainedSockets) resolved.kinds.push('retained')
  }
  if (options.stacksPerTest !== undefined) {
    const value = options.stacksPerTest
    if (!isStackCount(value)) fail('stacksPerTest', 'a whole number from 0 up, or Infinity', value)
    resolved.stacksPerTest = value
  }
  if (options.mode !== undefined) {
    if (!(LEAK_MODES as readonly unknown[]).includes(options.mode))
      fail('mode', `one of ${LEAK_MODES.map((m) => `'${m}'`).join(', ')}`, options.mode)
    resolved.mode = options.mode
  }
  if (options.ignore !== undefined) {
    if (!Array.isArray(options.ignore)) fail('ignore', 'an array of rules like { kind, stack, test, reason }', options.ignore)
    resolved.ignore = options.ignore.map((rule, index) => validateIgnoreRule(rule, `ignore[${index}]`))
  }
  for (const name of ['report', 'baseline'] as const) {
    const value = options[name]
    if (value === undefined) continue
    if (typeof value !== 'string' || value.trim() === '') fail(name, 'a file path (a non-empty string)', value)
    resolved[name] = value
  }
  return resolved
}

function isStackCount(value: unknown): value is number {
  return value === Infinity || (typeof value === 'number' && Number.isInteger(value) && value >= 0)
}

const RULE_FIELDS = ['kind', 'stack', 'test', 'reason']

/** Checks one ignore rule, from the config or from `ignoreLeaks()` in a test. */
export function validateIgnoreRule(rule: unknown, where: string): IgnoreRule {
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) {
    fail(where, 'a rule like { kind, stack, test, reason }', rule)
  }
  for (const key of Object.keys(rule)) {
    if (!RULE_FIELDS.includes(key)) {
      throw new LeaksOptionsError(`vitest-leaks: unknown field \`${key}\` in ${where}. Accepted fields: ${RULE_FIELDS.join(', ')}.`)
    }
  }
  const { kind, stack, test, reason } = rule as Partial<IgnoreRule>
  if (typeof reason !== 'string' || reason.trim() === '')
    fail(`${where}.reason`, 'a non-empty string saying why the leak is accepted', reason)
  const kinds = [...LEAK_KINDS, ...OPT_IN_KINDS]
  if (kind !== undefined && !(kinds as readonly unknown[]).includes(kind)) {
    fail(`${where}.kind`, `one of ${kinds.map((k) => `'${k}'`).join(', ')}`, kind)
  }
  for (const [field, value] of [
    ['stack', stack],
    ['test', test],
  ] as const) {
    if (value !== undefined && typeof value !== 'string' && !(value instanceof RegExp))
      fail(`${where}.${field}`, 'a string or a RegExp', value)
  }
  if (kind === undefined && stack === undefined && test === undefined) {
    fail(where, 'a rule with at least one of kind, stack or test (a rule matching everything would hide every leak)', rule)
  }
  return { kind, stack, test, reason }
}

function applyEnvironment(options: ResolvedOptions, env: Record<string, string | undefined>): ResolvedOptions {
  const mode = env.VITEST_LEAKS
  if (mode !== undefined && mode !== '') {
    if (!(LEAK_MODES as readonly string[]).includes(mode)) {
      throw new LeaksOptionsError(
        `vitest-leaks: environment variable VITEST_LEAKS must be one of ${LEAK_MODES.join(', ')}; got ${JSON.stringify(mode)}.`,
      )
    }
    options.mode = mode as LeakMode
  }
  const trace = env.VITEST_LEAKS_TRACE
  if (trace !== undefined && trace !== '') {
    if (!['1', 'true', '0', 'false'].includes(trace)) {
      throw new LeaksOptionsError(
        `vitest-leaks: environment variable VITEST_LEAKS_TRACE must be 1 or 0 (true or false); got ${JSON.stringify(trace)}.`,
      )
    }
    options.trace = trace === '1' || trace === 'true'
  }
  const stacks = env.VITEST_LEAKS_STACKS
  if (stacks !== undefined && stacks !== '') {
    const value = stacks === 'all' ? Infinity : /^\d+$/.test(stacks) ? Number(stacks) : undefined
    if (value === undefined) {
      throw new LeaksOptionsError(
        `vitest-leaks: environment variable VITEST_LEAKS_STACKS must be "all" or a whole number; got ${JSON.stringify(stacks)}.`,
      )
    }
    options.stacksPerTest = value
  }
  const baseline = env.VITEST_LEAKS_BASELINE
  if (baseline !== undefined && baseline !== '') {
    if (baseline !== 'update') {
      throw new LeaksOptionsError(
        `vitest-leaks: environment variable VITEST_LEAKS_BASELINE accepts only "update"; got ${JSON.stringify(baseline)}.`,
      )
    }
    if (!options.baseline) {
      throw new LeaksOptionsError(
        'vitest-leaks: VITEST_LEAKS_BASELINE=update needs the `baseline` option, the file to record the leaks into (e.g. leaks({ baseline: "leaks-baseline.json" })).',
      )
    }
    options.updateBaseline = true
  }
  return options
}
