import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, isAbsolute, relative, resolve } from 'node:path'
import { showInternalError } from '../shared/internal-error.js'
import type { ResolvedOptions } from '../shared/options.js'
import { baselineKey, type Baseline, type BaselineEntry, type LeakEntry, type LeakStatus } from '../shared/policy.js'
import { META_KEY } from '../shared/config-channel.js'

// The parts of Vitest's reporter API (3.2, 4.x, 5.x) this reporter reads.
interface EntityLike {
  meta(): Record<string, unknown>
}
interface TestLike extends EntityLike {
  result?(): { state?: string } | undefined
  diagnostic?(): { retryCount?: number } | undefined
}
interface ModuleLike extends EntityLike {
  moduleId: string
  children: { allTests(): Iterable<TestLike>; allSuites(): Iterable<EntityLike> }
}
interface VitestLike {
  logger?: { log(...args: unknown[]): void }
}

const NOUNS: Record<string, [string, string]> = {
  servers: ['server', 'servers'],
  sockets: ['socket', 'sockets'],
  udp: ['UDP socket', 'UDP sockets'],
  timers: ['timer', 'timers'],
  processes: ['child process', 'child processes'],
  workers: ['worker thread', 'worker threads'],
  watchers: ['watcher', 'watchers'],
  listeners: ['listener', 'listeners'],
  retained: ['retained socket', 'retained sockets'],
  files: ['open file', 'open files'],
  descriptors: ['file descriptor', 'file descriptors'],
  handles: ['other active resource', 'other active resources'],
}

function count(n: number, kind: string): string {
  const [one, many] = NOUNS[kind] ?? [kind, kind]
  return `${n} ${n === 1 ? one : many}`
}

function byKind(entries: LeakEntry[]): string {
  const counts = new Map<string, number>()
  for (const entry of entries) counts.set(entry.kind, (counts.get(entry.kind) ?? 0) + 1)
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => count(n, kind))
    .join(', ')
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

export interface RunReport {
  version: 1
  mode: ResolvedOptions['mode']
  counts: Record<LeakStatus, number>
  leaks: LeakEntry[]
  /** Baseline entries whose leaks no longer happen (only for files that ran). */
  gone: BaselineEntry[]
}

/**
 * Runs in the main process: collects the leaks the workers filed in task meta, prints a summary at the end of the
 * run, writes the report file, records or compares the baseline. Added by the plugin; survives `--reporter`.
 */
export class LeaksReporter {
  #log: (text: string) => void = (text) => console.log(text)

  constructor(
    readonly options: ResolvedOptions,
    readonly root: string,
    readonly baseline: Baseline | undefined,
  ) {}

  onInit(vitest: VitestLike): void {
    const logger = vitest.logger
    if (logger) this.#log = (text) => logger.log(text)
  }

  onTestRunEnd(modules: ReadonlyArray<ModuleLike>): void {
    try {
      this.#runEnd(modules)
    } catch (error) {
      // the plugin's own bug: shown once, never a failure of the run
      showInternalError(error)
    }
  }

  #runEnd(modules: ReadonlyArray<ModuleLike>): void {
    const leaks: LeakEntry[] = []
    const retried = new Set<LeakEntry>()
    const ranFiles = new Set<string>()
    for (const module of modules) {
      ranFiles.add(this.#relative(module.moduleId))
      for (const entity of [module, ...module.children.allSuites(), ...module.children.allTests()]) {
        const filed = safeMeta(entity)[META_KEY]
        if (!Array.isArray(filed)) continue
        leaks.push(...(filed as LeakEntry[]))
        // a test that passed on retry: its failing leaks are those of earlier attempts, which Vitest does not print
        if (passedOnRetry(entity)) for (const leak of filed as LeakEntry[]) if (leak.status === 'failed') retried.add(leak)
      }
    }
    const gone = this.options.updateBaseline ? [] : goneEntries(this.baseline, leaks, ranFiles)
    const report: RunReport = { version: 1, mode: this.options.mode, counts: countStatuses(leaks), leaks, gone }
    const lines: string[] = []
    if (this.options.report) writeJson(this.#absolute(this.options.report), report)
    if (this.options.updateBaseline && this.options.baseline) {
      const recorded = recordBaseline(this.baseline, leaks, ranFiles)
      writeJson(this.#absolute(this.options.baseline), recorded)
      lines.push(
        `recorded ${plural(
          recorded.leaks.reduce((n, e) => n + e.count, 0),
          'known leak',
        )} in ${this.options.baseline}`,
      )
    }
    this.#log(this.#summary(report, lines, retried))
  }

  #summary({ leaks, gone }: RunReport, lines: string[], retried: Set<LeakEntry>): string {
    const pad = '               '
    const failed = leaks.filter((l) => l.status === 'failed' && !retried.has(l))
    const warned = leaks.filter((l) => l.status === 'warned')
    const ignored = leaks.filter((l) => l.status === 'ignored')
    const baselined = leaks.filter((l) => l.status === 'baselined')
    if (failed.length > 0) lines.push(`${plural(failed.length, 'leak')} failed ${owners(failed)}: ${byKind(failed)}`)
    if (retried.size > 0) {
      lines.push(
        `${plural(retried.size, 'leak')} failed an attempt of ${owners([...retried])} that then passed on retry: ${byKind([...retried])}`,
      )
      for (const leak of retried) lines.push(`  ${describeOwner(leak)}: ${leak.what}${where(leak)}`)
    }
    if (warned.length > 0) {
      const why = this.options.updateBaseline ? 'recorded into the baseline, not failing' : 'mode warn: reported, not failing'
      lines.push(`${plural(warned.length, 'leak')} (${why}) in ${owners(warned)}: ${byKind(warned)}`)
      for (const leak of warned) lines.push(`  ${describeOwner(leak)}: ${leak.what}${where(leak)}`)
    }
    if (ignored.length > 0) {
      const reasons = new Map<string, LeakEntry[]>()
      for (const leak of ignored) reasons.set(leak.reason ?? '', [...(reasons.get(leak.reason ?? '') ?? []), leak])
      const parts = [...reasons]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([reason, group]) => `${byKind(group)} (${JSON.stringify(reason)})`)
      lines.push(`${plural(ignored.length, 'leak')} ignored by rule: ${parts.join('; ')}`)
    }
    if (baselined.length > 0)
      lines.push(`${plural(baselined.length, 'known leak')} from ${this.options.baseline} not failing: ${byKind(baselined)}`)
    if (gone.length > 0) {
      const total = gone.reduce((n, e) => n + e.count, 0)
      lines.push(
        `${plural(total, 'recorded leak')} no longer happen${total === 1 ? 's' : ''}: run VITEST_LEAKS_BASELINE=update npx vitest run to shrink ${this.options.baseline}`,
      )
      for (const entry of gone) lines.push(`  ${entry.file}${entry.name ? ` > ${entry.name}` : ''}: ${count(entry.count, entry.kind)}`)
    }
    if (lines.length === 0) lines.push('no leaks')
    return `\n vitest-leaks  ${lines.join(`\n${pad}`)}\n`
  }

  #relative(path: string): string {
    return relative(this.root, path).split('\\').join('/')
  }

  #absolute(path: string): string {
    return isAbsolute(path) ? path : resolve(this.root, path)
  }
}

function passedOnRetry(entity: TestLike): boolean {
  try {
    return entity.result?.()?.state === 'passed' && (entity.diagnostic?.()?.retryCount ?? 0) > 0
  } catch {
    return false
  }
}

function safeMeta(entity: EntityLike): Record<string, unknown> {
  try {
    return entity.meta() ?? {}
  } catch {
    return {}
  }
}

function owners(leaks: LeakEntry[]): string {
  const keys = new Set(leaks.map((l) => `${l.owner}\u0000${l.file}\u0000${l.name}`))
  const tests = [...keys].filter((k) => k.startsWith('test')).length
  const suites = [...keys].filter((k) => k.startsWith('suite')).length
  const files = [...keys].filter((k) => k.startsWith('file')).length
  return [tests && plural(tests, 'test'), suites && plural(suites, 'suite'), files && plural(files, 'file')].filter(Boolean).join(', ')
}

function describeOwner(leak: LeakEntry): string {
  return leak.owner === 'file' ? `${leak.file} (file level)` : `${leak.file} > ${leak.name}`
}

function where(leak: LeakEntry): string {
  return leak.location ? ` (${leak.location.file}:${leak.location.line}:${leak.location.column})` : ''
}

function countStatuses(leaks: LeakEntry[]): Record<LeakStatus, number> {
  const counts: Record<LeakStatus, number> = { failed: 0, warned: 0, ignored: 0, baselined: 0 }
  for (const leak of leaks) counts[leak.status]++
  return counts
}

function goneEntries(baseline: Baseline | undefined, leaks: LeakEntry[], ranFiles: Set<string>): BaselineEntry[] {
  const seen = new Map<string, number>()
  for (const leak of leaks) if (leak.status === 'baselined') seen.set(baselineKey(leak), (seen.get(baselineKey(leak)) ?? 0) + 1)
  const gone: BaselineEntry[] = []
  for (const entry of baseline?.leaks ?? []) {
    if (!ranFiles.has(entry.file)) continue
    const missing = entry.count - (seen.get(baselineKey(entry)) ?? 0)
    if (missing > 0) gone.push({ ...entry, count: missing })
  }
  return gone
}

/** Today's leaks of the files that ran, plus the recorded ones of files that did not run (a partial run). */
function recordBaseline(previous: Baseline | undefined, leaks: LeakEntry[], ranFiles: Set<string>): Baseline {
  const entries = new Map<string, BaselineEntry>()
  for (const entry of previous?.leaks ?? []) if (!ranFiles.has(entry.file)) entries.set(baselineKey(entry), entry)
  for (const leak of leaks) {
    if (leak.status === 'ignored') continue
    const key = baselineKey(leak)
    const existing = entries.get(key)
    if (existing) existing.count++
    else entries.set(key, { file: leak.file, owner: leak.owner, name: leak.name, kind: leak.kind, count: 1, example: leak.what })
  }
  const sorted = [...entries.values()].sort((a, b) => baselineKey(a).localeCompare(baselineKey(b)))
  return { version: 1, leaks: sorted }
}

function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)
}
