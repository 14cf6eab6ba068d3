// What the plugin costs each workload in instructions: every workload file of bench/suite is run by Vitest under
// Valgrind's cachegrind (`--cache-sim=no`: it only counts the instructions each process executes), without the plugin
// and with it, and the instructions of the test file's process (Vitest's worker) are compared. The worker runs with
// V8's `--predictable` (no background compiler or collector threads, nothing scheduled by the clock), so the count of
// one file moves by 1 to 2.5% between runs of this script (under 0.1% back to back), where wall time on a shared 2-CPU
// machine moves one file's ratio by up to 0.1. It is a proxy: it counts neither cache misses (a cold cache between HTTP round trips makes them cost more
// than their instructions) nor the kernel's work, and V8 works on one thread there, so it complements
// `npm run bench`, it does not replace it. Plain Node, no dependencies; needs `valgrind` (Debian:
// `apt-get install valgrind`) and a build (`npx tsup`). Each run takes 30 to 90 s.
//
//   INSTR_ROUNDS   runs of each file per variant (default 1: the count hardly moves; the median when more)
//   INSTR_JOBS     runs at a time (default: the number of CPUs, at most 4; the count does not depend on it)
//   BENCH_ONLY     comma-separated workload names (default: all)
//   BENCH_CUSTOM_OPTIONS  the plugin's options as JSON: adds a column `custom` with them (what one setting costs)
//
// Results go to stdout and to .tmp/bench-instructions.json. Exit code 1 if a run fails or Valgrind is missing.

import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { distCopyIn, intFromEnv, median, ROOT, snapshotDist, VITEST, workloads } from './common.mjs'

const TMP = join(ROOT, '.tmp', 'bench-instructions')
// the build every run uses (see snapshotDist in common.mjs), copied when main() starts
const DIST_COPY = distCopyIn(TMP)
const RESULTS_FILE = join(ROOT, '.tmp', 'bench-instructions.json')

const VARIANTS = [
  { name: 'plain', config: 'bench/vitest.plain.config.mjs', env: {} },
  { name: 'leaks', config: 'bench/vitest.leaks.config.mjs', env: {} },
]
if (process.env.BENCH_CUSTOM_OPTIONS) {
  JSON.parse(process.env.BENCH_CUSTOM_OPTIONS)
  VARIANTS.push({ name: 'custom', config: 'bench/vitest.leaks.config.mjs', env: { BENCH_LEAKS_OPTIONS: process.env.BENCH_CUSTOM_OPTIONS } })
}

const ROUNDS = intFromEnv('INSTR_ROUNDS', 1, 1)
const JOBS = intFromEnv('INSTR_JOBS', Math.min(4, os.availableParallelism?.() ?? os.cpus().length), 1)

/**
 * Instructions per process of one Vitest run under cachegrind, from Valgrind's log: `==PID== Command: ...` names each
 * traced process, `==PID== I   refs: N` counts it. The main process is the one that ran vitest.mjs; the test file's
 * process is a Node process of Vitest's pool (its `workers/` entry); anything else Vitest started is `other`.
 */
function parseLog(log) {
  const commands = new Map()
  const counts = new Map()
  for (const line of log.split('\n')) {
    const command = /^==(\d+)== Command: (.*)$/.exec(line)
    if (command) commands.set(command[1], command[2])
    const refs = /^==(\d+)== I\s+refs:\s+([\d,]+)/.exec(line)
    if (refs) counts.set(refs[1], Number(refs[2].replaceAll(',', '')))
  }
  const out = { main: 0, worker: 0, other: 0 }
  for (const [pid, count] of counts) {
    const command = commands.get(pid) ?? ''
    if (command.includes('vitest.mjs')) out.main += count
    else if (/[\\/]vitest[\\/]dist[\\/]workers[\\/]/.test(command)) out.worker += count
    else out.other += count
  }
  return out
}

/** One run of a workload (`{ name, file }`, see workloads() in common.mjs) under cachegrind: its counts. */
function runOnce(variant, workload) {
  const dir = mkdtempSync(join(TMP, 'run-'))
  const argv = [
    '--tool=cachegrind',
    '--cache-sim=no',
    '--trace-children=yes',
    `--cachegrind-out-file=${join(dir, 'cg.%p')}`,
    process.execPath,
    VITEST,
    'run',
    '--config',
    variant.config,
    // V8 compiles, marks and sweeps on the thread that runs the code, and schedules nothing by the clock: without
    // it, when a background thread finishes optimizing a hot loop decides how long the loop runs unoptimized, and
    // one file's count moved by up to 25% between runs; with it, by 1 to 2.5%
    '--execArgv=--predictable',
    workload.file,
  ]
  return new Promise((resolve, reject) => {
    const child = spawn('valgrind', argv, {
      cwd: ROOT,
      env: { ...process.env, ...variant.env, VITEST_LEAKS_BENCH_DIST: DIST_COPY, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const output = []
    child.stdout.on('data', (chunk) => output.push(chunk))
    child.stderr.on('data', (chunk) => output.push(chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      const log = Buffer.concat(output).toString('utf8')
      rmSync(dir, { recursive: true, force: true })
      const counts = parseLog(log)
      if (code !== 0 || counts.worker === 0) {
        reject(new Error(`${workload.name}, ${variant.name}: the run under valgrind failed (exit code ${code})\n${log.slice(-4000)}`))
        return
      }
      resolve(counts)
    })
  })
}

async function main() {
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    console.error('bench/instructions.mjs needs valgrind (Debian: apt-get install valgrind)')
    process.exit(1)
  }
  const suite = workloads()
  if (suite.length === 0) {
    console.error(`BENCH_ONLY names no workload of bench/suite: ${JSON.stringify(process.env.BENCH_ONLY)}`)
    process.exit(2)
  }
  const files = suite.map((w) => w.name)
  rmSync(TMP, { recursive: true, force: true })
  snapshotDist(TMP)

  // One discarded run with the plugin first: the worker's code cache (see load-worker.ts) is written by the first test
  // file that runs the plugin, for these flags, and read by every later one. Without it the first file measured
  // would pay for compiling the plugin's code (some 40 million instructions more than the others).
  try {
    await runOnce(VARIANTS[1], suite[0])
  } catch (error) {
    console.error(error.message)
    process.exit(1)
  }

  // every run of every file and variant, JOBS at a time
  const jobs = []
  for (let round = 0; round < ROUNDS; round++)
    for (const workload of suite) for (const variant of VARIANTS) jobs.push({ workload, variant })
  const samples = {}
  let next = 0
  let failed = false
  const worker = async () => {
    while (next < jobs.length && !failed) {
      const { workload, variant } = jobs[next++]
      try {
        const counts = await runOnce(variant, workload)
        ;((samples[workload.name] ??= {})[variant.name] ??= []).push(counts)
        process.stderr.write(
          `  ${workload.name}, ${variant.name}: ${(counts.worker / 1e6).toFixed(0)} M instructions in the test file's process\n`,
        )
      } catch (error) {
        failed = true
        console.error(error.message)
      }
    }
  }
  await Promise.all(Array.from({ length: JOBS }, worker))
  if (failed) process.exit(1)

  const M = (n) => (n / 1e6).toFixed(0)
  const names = VARIANTS.map((v) => v.name)
  const results = {}
  console.log(`\nInstructions of the test file's process (millions; median of ${ROUNDS}), and the ratio to plain:\n`)
  console.log(
    `| workload | ${names.join(' | ')} | ${names
      .slice(1)
      .map((n) => `${n} ratio`)
      .join(' | ')} | main process ratio |`,
  )
  console.log(
    `|---|${names.map(() => '---|').join('')}${names
      .slice(1)
      .map(() => '---|')
      .join('')}---|`,
  )
  const totals = Object.fromEntries(names.map((n) => [n, 0]))
  for (const file of files) {
    const worker = Object.fromEntries(names.map((n) => [n, median(samples[file][n].map((s) => s.worker))]))
    const mainCount = Object.fromEntries(names.map((n) => [n, median(samples[file][n].map((s) => s.main))]))
    for (const n of names) totals[n] += worker[n]
    results[file] = { worker, main: mainCount, samples: samples[file] }
    const ratios = names.slice(1).map((n) => (worker[n] / worker.plain).toFixed(3))
    console.log(
      `| ${file} | ${names.map((n) => M(worker[n])).join(' | ')} | ${ratios.join(' | ')} | ${(mainCount[names[1]] / mainCount.plain).toFixed(3)} |`,
    )
  }
  const totalRatios = names.slice(1).map((n) => (totals[n] / totals.plain).toFixed(3))
  console.log(`| **all files** | ${names.map((n) => M(totals[n])).join(' | ')} | ${totalRatios.join(' | ')} | |`)
  writeFileSync(
    RESULTS_FILE,
    `${JSON.stringify({ date: new Date().toISOString(), node: process.version, rounds: ROUNDS, variants: VARIANTS, results, totals }, null, 2)}\n`,
  )
  console.log(`\nEvery count, with the main process's and the raw samples: ${RESULTS_FILE}`)
}

await main()
