/**
 * Compiles the worker's code (worker.ts) into a test file's process, once per process: a CommonJS module of its own
 * (dist/load-worker.cjs), which the setup entry requires (see start-worker.ts).
 *
 * In the forks and threads pools every test file gets a fresh process or thread, which compiles the plugin's ~150 KB
 * again: ~7 ms as ES modules, most of the plugin's start-up cost per test file. So the worker's code is also built as
 * a script (dist/worker.cjs), compiled here with V8's code cache kept in Vite's cache folder
 * (`node_modules/.vite/vitest-leaks/`, the plugin passes the folder in): a test file then starts ~5 ms sooner, and the
 * functions it needs are compiled already. The cache is V8's own bytecode of this exact file: V8 refuses one made by
 * another V8, with other flags or for other source, and a refused, missing, unreadable or unwritable cache only means
 * compiling as usual (and writing a new one). This loader is a CommonJS module because Node loads one in a fraction
 * of the time an ES module takes in a test file's process (~0.3 ms against ~1.1 ms).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Script } from 'node:vm'
import { PROVIDE_KEY, type ProvidedConfig } from '../../shared/config-channel.js'
import type { VitestApi } from '../vitest/vitest-api.js'
/**
 * The worker's code (the exports of worker.ts, typed by the entry that loads it) and how to hand Vitest to it;
 * `saveCodeCache` once the test file has run (see below).
 */
export interface LoadedWorker<W> {
  worker: W
  api: VitestApi
  saveCodeCache: () => void
}

// One load per process (each worker thread has its own `process`).
const LOADED = Symbol.for('vitest-leaks.worker')

interface Compiled {
  worker: unknown
  /** Set while a code cache should be written: the script, and where. */
  pending?: { script: Script; cache: CacheFile }
}

export function loadWorker<W>(api: VitestApi): LoadedWorker<W> {
  const host = process as unknown as Record<symbol, Compiled | undefined>
  const compiled = (host[LOADED] ??= compile(codeCacheDir(api)))
  return {
    worker: compiled.worker as W,
    api,
    saveCodeCache: () => {
      const pending = compiled.pending
      compiled.pending = undefined
      if (pending) writeCodeCache(pending.script, pending.cache)
    },
  }
}

/** Where the plugin said to keep the code cache; none without the plugin (`setupFiles: ['vitest-leaks/setup']`). */
function codeCacheDir(api: VitestApi): string | undefined {
  try {
    const provided = (api.module.inject as (key: string) => ProvidedConfig | undefined)(PROVIDE_KEY)
    return provided?.codeCacheDir
  } catch {
    return undefined
  }
}

function compile(cacheDir: string | undefined): Compiled {
  // built as CommonJS (dist/load-worker.cjs), beside worker.cjs
  const file = join(__dirname, 'worker.cjs')
  const source = readFileSync(file, 'utf8')
  const cache = cacheDir === undefined ? undefined : cacheFileOf(file, cacheDir)
  const cachedData = cache === undefined ? undefined : readCache(cache.path)
  // the module wrapper of Node's CommonJS loader, on one line so that line numbers stay those of the file
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
  })
  const module = { exports: {} as unknown }
  const run = script.runInThisContext() as (...args: unknown[]) => void
  run.call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
  const fresh = cache !== undefined && (cachedData === undefined || script.cachedDataRejected === true)
  return { worker: module.exports, pending: fresh ? { script, cache } : undefined }
}

/** Where the code cache of the worker's file is kept, and the start of the names of that build's caches. */
interface CacheFile {
  path: string
  build: string
}

/**
 * One cache file per build of the worker (its size and time), and per Node and flags, so that runs which differ in
 * them do not keep replacing each other's cache (V8 would refuse the other's). None when the file cannot be read.
 */
function cacheFileOf(file: string, cacheDir: string): CacheFile | undefined {
  try {
    const { size, mtimeMs } = statSync(file)
    const build = `worker-${size}-${Math.trunc(mtimeMs)}-`
    const flags = hash(`${process.execArgv.join(' ')}\0${process.env.NODE_OPTIONS ?? ''}`)
    return { path: join(cacheDir, `${build}${process.version}-${process.arch}-${flags}.bin`), build }
  } catch {
    return undefined
  }
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file)
  } catch {
    return undefined
  }
}

/**
 * Written once the first test file has run, so the cache has the functions compiled by then too: setting up, and
 * each test's hooks and check (~1 ms less per test file than a cache written once set up, and ~2 ms less than one
 * written right after compiling, which holds only the top level). Through a file of its own and a rename, so that a
 * worker never reads a half-written cache; the caches of other builds of the worker go.
 */
function writeCodeCache(script: Script, { path, build }: CacheFile): void {
  try {
    const data = script.createCachedData()
    const dir = dirname(path)
    mkdirSync(dir, { recursive: true })
    const partial = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
    writeFileSync(partial, data)
    renameSync(partial, path)
    for (const name of readdirSync(dir)) {
      if (name.startsWith('worker-') && !name.startsWith(build)) rmSync(join(dir, name), { force: true })
    }
  } catch {
    // a read-only or full disk: the next test file compiles as this one did
  }
}

/** FNV-1a, as 8 hex digits: a short name for a string. */
function hash(text: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0).toString(16).padStart(8, '0')
}
