import type { IgnoreRule, LeakKind, ResolvedOptions } from './options.js'

/** One leak as the reporter, the report file and the baseline see it: plain JSON, sent from the worker in task meta. */
export interface LeakEntry {
  kind: LeakKind
  /** `HTTP server listening on 127.0.0.1:41235` */
  what: string
  state: string
  owner: 'test' | 'suite' | 'file'
  /** The test or suite name (`suite > test`); empty for the file. */
  name: string
  /** The test file, relative to the project root. */
  file: string
  /** Where it was created: the first frame outside node internals and the plugin, relative to the root. */
  location?: { file: string; line: number; column: number }
  status: LeakStatus
  /** Why it is accepted, for `ignored`. */
  reason?: string
}

export type LeakStatus = 'failed' | 'warned' | 'ignored' | 'baselined'

/** Known leaks, as recorded by `VITEST_LEAKS_BASELINE=update`: how many of a kind each test, suite or file leaves. */
export interface Baseline {
  version: 1
  leaks: BaselineEntry[]
}

export interface BaselineEntry {
  file: string
  owner: LeakEntry['owner']
  name: string
  kind: LeakKind
  count: number
  /** One of the recorded leaks, for the human reading the file. */
  example: string
}

/**
 * The identity of a leak across runs. Ports, pids and line numbers change from run to run or with unrelated edits;
 * the file, the owner and the kind do not. Several leaks of a kind in one test are told apart by count.
 */
export function baselineKey(entry: Pick<LeakEntry, 'file' | 'owner' | 'name' | 'kind'>): string {
  return `${entry.file}\u0000${entry.owner}\u0000${entry.name}\u0000${entry.kind}`
}

export interface Verdict {
  status: LeakStatus
  reason?: string
}

/**
 * Decides what a leak does: fail its owner, only be reported (mode `warn`, or while recording a baseline), or be
 * accepted (an ignore rule, the baseline). `used` counts the baseline slots already taken in this worker.
 */
export function judgeLeak(
  entry: Omit<LeakEntry, 'status' | 'reason'>,
  stack: string,
  rules: IgnoreRule[],
  options: ResolvedOptions,
  baseline: Map<string, number>,
  used: Map<string, number>,
): Verdict {
  const rule = rules.find((r) => matches(r, entry, stack))
  if (rule) return { status: 'ignored', reason: rule.reason }
  if (options.updateBaseline) return { status: 'warned' }
  const key = baselineKey(entry)
  const known = baseline.get(key) ?? 0
  const taken = used.get(key) ?? 0
  if (taken < known) {
    used.set(key, taken + 1)
    return { status: 'baselined' }
  }
  return { status: options.mode === 'warn' ? 'warned' : 'failed' }
}

function matches(rule: IgnoreRule, entry: Omit<LeakEntry, 'status' | 'reason'>, stack: string): boolean {
  if (rule.kind !== undefined && rule.kind !== entry.kind) return false
  if (rule.stack !== undefined && !test(rule.stack, stack)) return false
  if (rule.test !== undefined && !test(rule.test, entry.name)) return false
  return true
}

function test(pattern: string | RegExp, text: string): boolean {
  return typeof pattern === 'string' ? text.includes(pattern) : new RegExp(pattern.source, pattern.flags).test(text)
}

export function baselineCounts(baseline: Baseline | undefined): Map<string, number> {
  const counts = new Map<string, number>()
  for (const entry of baseline?.leaks ?? []) counts.set(baselineKey(entry), (counts.get(baselineKey(entry)) ?? 0) + entry.count)
  return counts
}
