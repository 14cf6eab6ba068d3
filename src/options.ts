/** Every family of resource the plugin can check, in the words users see in messages. */
export const LEAK_KINDS = ['servers', 'sockets', 'udp', 'timers', 'processes', 'workers', 'watchers'] as const
export type LeakKind = (typeof LEAK_KINDS)[number]

export interface LeaksOptions {
  /** Which families of resource to check. Default: all of them. */
  kinds?: LeakKind[]
  /**
   * How long (ms) to wait for resources that are already closing (a socket after `end()`, a child process after
   * `kill()`) before calling them leaks. Nothing waits when nothing is left open. Default 300.
   */
  settleTimeout?: number
  /** After reporting, close what leaked so the next test starts clean. Default true. */
  cleanup?: boolean
}

export interface ResolvedOptions {
  kinds: LeakKind[]
  settleTimeout: number
  cleanup: boolean
}

export const DEFAULT_OPTIONS: ResolvedOptions = {
  kinds: [...LEAK_KINDS],
  settleTimeout: 300,
  cleanup: true,
}

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

/** Validates user options once, at config time, so a typo fails the run before any test starts. */
export function resolveOptions(input: unknown): ResolvedOptions {
  if (input === undefined) return { ...DEFAULT_OPTIONS, kinds: [...DEFAULT_OPTIONS.kinds] }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new LeaksOptionsError(`vitest-leaks: options must be an object like { kinds, settleTimeout, cleanup }; got ${describeValue(input)}.`)
  }
  const known = Object.keys(DEFAULT_OPTIONS)
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      throw new LeaksOptionsError(`vitest-leaks: unknown option \`${key}\`. Accepted options: ${known.join(', ')}.`)
    }
  }
  const options = input as LeaksOptions
  const resolved: ResolvedOptions = { ...DEFAULT_OPTIONS, kinds: [...DEFAULT_OPTIONS.kinds] }

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
  return resolved
}
