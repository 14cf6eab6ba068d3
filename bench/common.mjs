// What the two benchmarks share (run.mjs: wall and CPU time; instructions.mjs: instruction counts): where things are,
// the copy of the build every run uses, the workload files, and reading numbers from the environment.

import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const SUITE_DIR = join(ROOT, 'bench', 'suite')
export const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs')

/** A whole number >= `min` from the environment, `fallback` when unset; exits with a clear message otherwise. */
export function intFromEnv(name, fallback, min = 0) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number.parseInt(raw, 10)
  if (!Number.isInteger(value) || value < min) {
    console.error(`${name} must be a whole number >= ${min}; got ${JSON.stringify(raw)}`)
    process.exit(2)
  }
  return value
}

export function median(values) {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** A workload's name: its file in bench/suite without `.test.ts`. */
export function workloadName(file) {
  return relative(SUITE_DIR, file).replace(/\.test\.[cm]?[jt]s$/, '')
}

/** The workload files of bench/suite, sorted, as `{ name, file }` (file relative to the root); BENCH_ONLY picks some. */
export function workloads() {
  const only = (process.env.BENCH_ONLY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  return readdirSync(SUITE_DIR)
    .filter((f) => /\.test\.[cm]?[jt]s$/.test(f))
    .sort()
    .map((f) => ({ name: workloadName(join(SUITE_DIR, f)), file: relative(ROOT, join(SUITE_DIR, f)) }))
    .filter((w) => only.length === 0 || only.includes(w.name))
}

/** A hash of a built plugin, to notice a rebuild of dist/ during a run (its numbers would mix two builds). */
export function distFingerprint(dir = join(ROOT, 'dist')) {
  const hash = createHash('sha256')
  try {
    for (const file of readdirSync(dir)
      .filter((f) => f.endsWith('.js'))
      .sort())
      hash.update(file).update(readFileSync(join(dir, file)))
  } catch {
    return 'missing'
  }
  return hash.digest('hex').slice(0, 12)
}

/**
 * The build every run uses: a copy of dist/ taken at the start, in `tmp` (passed to the configs as
 * VITEST_LEAKS_BENCH_DIST, see vitest.leaks.config.mjs), so that a rebuild during the benchmark can neither break a
 * run nor mix two builds. It is laid out as an installed package, because that is where users have it and Vite treats
 * files inside node_modules apart from the project's own. (Vitest 4.1 and 5.x inline every setup file, wherever it
 * is: its few lines are transformed by Vite once per run.) Exits when dist/ is missing or changes while copied.
 * Returns the copy's fingerprint.
 */
export function snapshotDist(tmp) {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
    console.error('dist/index.js is missing: build the plugin first (`npx tsup`), or run `npm run bench`.')
    process.exit(1)
  }
  const copy = distCopyIn(tmp)
  mkdirSync(tmp, { recursive: true })
  rmSync(copy, { recursive: true, force: true })
  cpSync(join(ROOT, 'dist'), copy, { recursive: true })
  cpSync(join(ROOT, 'package.json'), join(copy, '..', 'package.json'))
  const fingerprint = distFingerprint(copy)
  if (distFingerprint() !== fingerprint) {
    console.error('dist/ changed while it was being copied (a build running?); run the benchmark again.')
    process.exit(1)
  }
  return fingerprint
}

/** Where snapshotDist(tmp) puts the copy. */
export function distCopyIn(tmp) {
  return join(tmp, 'node_modules', 'vitest-leaks', 'dist')
}
