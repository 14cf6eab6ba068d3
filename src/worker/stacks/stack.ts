import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mainRealm } from '../node/realm.js'
import { keepsWholeStacks } from './async-context.js'

export type CallSites = NodeJS.CallSite[]

// Node's default limit (10) is often used up by node internals before the first user frame.
export const CAPTURE_LIMIT = 40

const ownDir = dirname(fileURLToPath(import.meta.url))

/**
 * Records where a resource is being created, as V8 call sites. Formatting is left for later (and for the few that
 * leak): it is the expensive part, and done later it goes through Vitest's source-map interceptor.
 */
export function captureCallSites(skip: Function, frames = CAPTURE_LIMIT): CallSites | undefined {
  const limit = Error.stackTraceLimit
  const prepare = Error.prepareStackTrace
  Error.stackTraceLimit = frames
  Error.prepareStackTrace = returnCallSites
  const holder: { stack?: unknown } = {}
  try {
    Error.captureStackTrace(holder, skip)
    const sites = holder.stack
    return Array.isArray(sites) ? (sites as CallSites) : undefined
  } finally {
    Error.prepareStackTrace = prepare
    Error.stackTraceLimit = limit
  }
}

function returnCallSites(_error: Error, sites: CallSites): CallSites {
  return sites
}

// Timers and listeners are created by the ten thousand: their stacks are shorter. Each raw frame costs ~0.25 µs on
// Node 20 (40 frames turned into call sites at once ~9 µs; 16 raw ~4 µs; 8 raw ~2.3 µs; setTimeout itself 0.3 µs).
// Eight frames reach the caller of setTimeout and a few callers above it, through a library or two; a stack cut
// there with no frame of the user's code is said to be cut (see report/leak-error.ts), not made on a later tick.
export const FREQUENT_LIMIT = 8

const CUT = Symbol('stack cut at')

/** The frame limit a stack was taken with, when it used every frame: the frames below it are not known. */
export function stackCutAt(sites: CallSites | undefined): number | undefined {
  return (sites as { [CUT]?: number } | undefined)?.[CUT]
}

/**
 * A stack captured now and turned into call sites only when read. V8 keeps the raw frames and calls
 * `Error.prepareStackTrace` at the first read of `.stack`, so the capture is cheap and the costly part is paid only
 * for the few resources that leak.
 */
export class LazyCallSites {
  #holder: { stack?: unknown } | undefined
  #sites: CallSites | undefined
  #frames: number

  constructor(skip: Function, frames = CAPTURE_LIMIT) {
    const limit = Error.stackTraceLimit
    this.#frames = frames > 0 && frames < CAPTURE_LIMIT && keepsWholeStacks() ? CAPTURE_LIMIT : frames
    Error.stackTraceLimit = this.#frames
    const holder: { stack?: unknown } = {}
    try {
      Error.captureStackTrace(holder, skip)
      this.#holder = holder
    } finally {
      Error.stackTraceLimit = limit
    }
  }

  get sites(): CallSites | undefined {
    const holder = this.#holder
    if (holder) {
      this.#holder = undefined
      const prepare = Error.prepareStackTrace
      Error.prepareStackTrace = returnCallSites
      try {
        const sites = holder.stack
        this.#sites = Array.isArray(sites) ? (sites as CallSites) : undefined
        if (this.#sites && this.#sites.length >= this.#frames) Object.defineProperty(this.#sites, CUT, { value: this.#frames })
      } finally {
        Error.prepareStackTrace = prepare
      }
    }
    return this.#sites
  }
}

const VITEST_PATH = /[\\/]node_modules[\\/](?:vitest|@vitest[\\/][^\\/]+|tinypool|tinyspy|vite|vite-node)[\\/]/

const SPY_PATH = /[\\/]node_modules[\\/](?:@vitest[\\/]spy|tinyspy)[\\/]/

export function isVitestFile(file: string): boolean {
  return VITEST_PATH.test(file)
}

function fileOf(site: NodeJS.CallSite): string {
  return site.getFileName() ?? site.getScriptNameOrSourceURL?.() ?? ''
}

function isInternal(file: string): boolean {
  return file === '' || file.startsWith('node:') || (!file.includes('/') && !file.includes('\\'))
}

/** A file of the plugin itself: closing a leaked socket, it adds an 'error' listener that swallows a late error. */
export function isOwn(file: string): boolean {
  const path = file.startsWith('file://') ? safeFileURLToPath(file) : file
  return path.startsWith(ownDir)
}

/**
 * Every frame of an ES module's stack is a file URL, and stacks are read frame by frame (whose frame is it, which
 * package), some hundred times per reported leak: the few files of a run are converted once each (~0.7 µs a parse).
 */
function safeFileURLToPath(url: string): string {
  let path = paths.get(url)
  if (path !== undefined) return path
  try {
    path = fileURLToPath(url)
  } catch {
    path = url
  }
  if (paths.size >= PATHS_KEPT) paths.clear()
  paths.set(url, path)
  return path
}

const paths = new Map<string, string>()
const PATHS_KEPT = 1024

/**
 * True when the code that called the creating function is Vitest's own (its task-update throttle timer, its RPC
 * timeouts): those are never reported. Only the immediate caller counts: a socket that Node's fetch opens on a later
 * tick has node internals first and Vitest's runner further down, and is the test's.
 */
export function isCreatedByVitest(sites: CallSites | undefined): boolean {
  if (!sites) return false
  for (const site of sites) {
    const file = fileOf(site)
    // a spy (`vi.spyOn(globalThis, 'setTimeout')`) calls what it wraps for the user's code: look past it
    if (isOwn(file) || SPY_PATH.test(file)) continue
    return VITEST_PATH.test(file)
  }
  return false
}

/**
 * Formats call sites as `    at …` lines, source-mapped by whatever `Error.prepareStackTrace` is installed now
 * (inside a Vitest worker: its interceptor, which maps to the original TypeScript). The plugin's own frames and
 * node internals are dropped so the code frame lands on the user's line.
 */
export function formatCallSites(sites: CallSites | undefined): string[] {
  if (!sites || sites.length === 0) return []
  const kept = sites.filter((site) => {
    const file = fileOf(site)
    return !isInternal(file) && !isOwn(file)
  })
  if (kept.length === 0) return []
  // in the vm pools, Vite's interceptor is installed on the worker's own Error, not on the vm context's
  const prepare = typeof Error.prepareStackTrace === 'function' ? Error.prepareStackTrace : mainRealm().Error.prepareStackTrace
  let text: string | undefined
  if (typeof prepare === 'function' && prepare !== returnCallSites) {
    try {
      const header = new Error('x')
      const out = prepare(header, kept)
      if (typeof out === 'string') text = out
    } catch {
      text = undefined
    }
  }
  const lines = text === undefined ? kept.map((site) => `    at ${String(site)}`) : text.split('\n').slice(1)
  return lines.filter((line) => /^\s+at /.test(line))
}

const PACKAGE_IN_PATH = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/g

/**
 * The frames a leak's error carries to Vitest, from one printed stack: the user's own, and of each call into a library
 * only its first frame (where, inside that package, the resource was made or the next package was called); none of
 * Vitest's own (its runner calling the test) unless nothing else is left. Vitest's main process reads the file of
 * every frame it is handed, to map it and to look for a code frame: a library's inner frames in a bundled CLI of
 * 20 MB cost seconds per test file, and say nothing its first frame does not. The full frames still serve ignore
 * rules (`stack`) and the leak's location.
 */
export function framesForReport(frames: string[]): string[] {
  const packages = frames.map((line) => {
    const file = parseFrame(line)?.file
    return file === undefined ? undefined : packageOf(file)
  })
  const kept = frames.filter((line, index) => {
    const name = packages[index]
    if (name === undefined) return true
    if (isVitestFile(parseFrame(line)!.file)) return false
    // the frame above it (what it called) is in another package, or is the user's: the first frame of this call
    return index === 0 || packages[index - 1] !== name
  })
  return kept.length > 0 ? kept : frames.slice(0, 1)
}

function packageOf(file: string): string | undefined {
  const matches = [...file.matchAll(PACKAGE_IN_PATH)]
  return matches.at(-1)?.[1]?.replace(/\\/g, '/')
}

/**
 * The package whose code created the resource, when the nearest frame outside node is in node_modules (express's
 * `app.listen`, ws's `new WebSocketServer`): messages say "created through express" so the user knows whose call
 * to look for.
 */
export function libraryOf(sites: CallSites | undefined): string | undefined {
  if (!sites) return undefined
  for (const site of sites) {
    const file = fileOf(site)
    if (isInternal(file) || isOwn(file)) continue
    return packageOf(file)
  }
  return undefined
}

/** The file, line and column of a printed frame (`    at fn (/abs/file.ts:12:3)` or `    at /abs/file.ts:12:3`). */
export function parseFrame(line: string): { file: string; line: number; column: number } | undefined {
  const match = /\(?((?:file:\/\/)?[^()\s][^()]*?):(\d+):(\d+)\)?\s*$/.exec(line.replace(/^\s*at\s+/, ''))
  if (!match) return undefined
  const file = match[1]!.startsWith('file://') ? safeFileURLToPath(match[1]!) : match[1]!
  return { file, line: Number(match[2]), column: Number(match[3]) }
}

/** A frame of the user's own code: not node, not a package in node_modules (Vitest included), not the plugin. */
export function isUserSite(site: NodeJS.CallSite): boolean {
  const file = fileOf(site)
  return !isInternal(file) && !isOwn(file) && !/[\\/]node_modules[\\/]/.test(file)
}

/** True when some frame is the user's own code. */
export function hasUserFrame(sites: CallSites | undefined): boolean {
  return (sites ?? []).some(isUserSite)
}
