// Micro-benchmark of listener additions that the test removes again (issue 22): inside real Vitest tests, with and
// without the plugin, alternately, the time per addition+removal on long-lived emitters. Plain Node, not a timed test.
//
//   node bench/listeners-micro.mjs [rounds]     (after `npm run build`; default 5 rounds of each)
//
// Each round is one Vitest run of a file of 20 tests; each test times one batch of every pattern below (so the cost
// a test pays once, its first stacks, is in the figures). Prints the median over rounds of the per-run medians.

import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DIR = join(ROOT, '.tmp', 'listeners-micro')
const ROUNDS = Number(process.argv[2] ?? 5)

rmSync(DIR, { recursive: true, force: true })
mkdirSync(join(DIR, 'node_modules'), { recursive: true })
if (!existsSync(join(DIR, 'node_modules', 'vitest-leaks'))) symlinkSync(ROOT, join(DIR, 'node_modules', 'vitest-leaks'), 'dir')
writeFileSync(join(DIR, 'plain.config.mjs'), `export default { test: { include: ['micro.test.mjs'] } }\n`)
writeFileSync(
  join(DIR, 'leaks.config.mjs'),
  `import leaks from 'vitest-leaks'\nexport default { plugins: [leaks()], test: { include: ['micro.test.mjs'] } }\n`,
)
writeFileSync(
  join(DIR, 'micro.test.mjs'),
  `import { EventEmitter } from 'node:events'
import { writeFileSync } from 'node:fs'
import { afterAll, test } from 'vitest'

const N = 1000
const bus = new EventEmitter()
bus.setMaxListeners(0)
const target = new EventTarget()
const results = {}
const note = (name, start) => (results[name] ??= []).push(Number(process.hrtime.bigint() - start) / N)

const patterns = {
  'on/off pairs, new closure each (module-level EventEmitter)': () => {
    for (let i = 0; i < N; i++) {
      const listener = () => i
      bus.on('pair', listener)
      bus.off('pair', listener)
    }
  },
  'on/off pairs, one function (module-level EventEmitter)': () => {
    const listener = () => {}
    for (let i = 0; i < N; i++) {
      bus.on('same', listener)
      bus.off('same', listener)
    }
  },
  '1000 on, then 1000 off (module-level EventEmitter)': () => {
    const added = []
    for (let i = 0; i < N; i++) {
      const listener = () => i
      bus.on('many', listener)
      added.push(listener)
    }
    for (let i = N - 1; i >= 0; i--) bus.off('many', added[i])
  },
  'on/off pairs on process': () => {
    for (let i = 0; i < N; i++) {
      const listener = () => i
      process.on('vitest-leaks-bench', listener)
      process.off('vitest-leaks-bench', listener)
    }
  },
  'addEventListener/removeEventListener pairs (module-level EventTarget)': () => {
    for (let i = 0; i < N; i++) {
      const listener = () => i
      target.addEventListener('pair', listener)
      target.removeEventListener('pair', listener)
    }
  },
  'once on a local EventEmitter, emitted': () => {
    const local = new EventEmitter()
    for (let i = 0; i < N; i++) {
      local.once('x', () => i)
      local.emit('x')
    }
  },
}

for (let t = 0; t < 20; t++) {
  test('batch ' + t, () => {
    for (const [name, run] of Object.entries(patterns)) {
      const start = process.hrtime.bigint()
      run()
      note(name, start)
    }
  })
}

afterAll(() => writeFileSync(process.env.MICRO_OUT, JSON.stringify(results)))
`,
)

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

const runs = { plain: [], leaks: [] }
for (let round = 0; round < ROUNDS; round++) {
  for (const variant of round % 2 ? ['leaks', 'plain'] : ['plain', 'leaks']) {
    const out = join(DIR, `${variant}-${round}.json`)
    const result = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', `${variant}.config.mjs`],
      {
        cwd: DIR,
        env: { ...process.env, MICRO_OUT: out, NO_COLOR: '1' },
        encoding: 'utf8',
      },
    )
    if (result.status !== 0) {
      console.error(result.stdout, result.stderr)
      process.exit(1)
    }
    const perTest = JSON.parse(readFileSync(out, 'utf8'))
    // the first test pays for cold code in both variants: left out
    runs[variant].push(Object.fromEntries(Object.entries(perTest).map(([name, values]) => [name, median(values.slice(1))])))
  }
}

console.log(`median over ${ROUNDS} alternated rounds (each: median of 19 tests x 1000 pairs), ns per addition+removal`)
console.log('pattern'.padEnd(72), 'plain'.padStart(8), 'plugin'.padStart(8), 'extra'.padStart(8))
for (const name of Object.keys(runs.plain[0])) {
  const plain = median(runs.plain.map((r) => r[name]))
  const leaks = median(runs.leaks.map((r) => r[name]))
  console.log(name.padEnd(72), plain.toFixed(0).padStart(8), leaks.toFixed(0).padStart(8), (leaks - plain).toFixed(0).padStart(8))
}
