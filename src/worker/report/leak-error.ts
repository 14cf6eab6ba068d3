import type { Leak } from '../check.js'
import type { Description, JudgeContext, LeakRecord, Scope } from '../ledger/ledger.js'
import type { LeakKind } from '../../shared/options.js'
import { heldOutsideOf, lastCallInto } from '../stacks/library-calls.js'
import {
  formatCallSites,
  CAPTURE_LIMIT,
  framesForReport,
  hasUserFrame,
  isVitestFile,
  libraryOf,
  stackCutAt,
  type CallSites,
} from '../stacks/stack.js'
import { isTracing, traceToUserCode } from '../stacks/trace.js'

/** One leftover resource. Its stack is where the resource was created, so Vitest draws the code frame there. */
// No fields of its own: Vitest prints any as "Serialized Error: {...}" under every leak. The kind and owner travel
// to the reporter in task meta instead.
export class LeakError extends Error {
  override name = 'LeakError'

  // The plugin's entry (`import { LeakError } from 'vitest-leaks'`) and the worker's code are two builds, each with
  // this class: `instanceof` answers for both, by a mark on their prototypes.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[LEAK_ERROR] === true
  }
}

const LEAK_ERROR = Symbol.for('vitest-leaks.leak-error')
Object.defineProperty(LeakError.prototype, LEAK_ERROR, { value: true })

/** A leak put into words: the error to throw, and what the summary and the report file need. */
export interface DescribedLeak {
  error: LeakError
  kind: LeakKind
  what: string
  state: string
  /** The creation frames as printed (`    at fn (/abs/file.ts:12:3)`), for ignore rules and the location. */
  frames: string[]
}

/** Parts told alike once, with their number (a worker pool's 41 ports: `41 × MessagePort …`), in first-seen order. */
function countedParts(parts: string[]): string[] {
  const counts = new Map<string, number>()
  for (const part of parts) counts.set(part, (counts.get(part) ?? 0) + 1)
  return [...counts].map(([part, count]) => (count > 1 ? `${count} × ${part}` : part))
}

export function describeLeaks(leaks: Leak[], scope: Scope, ctx: JudgeContext): DescribedLeak[] {
  return leaks.map((leak, index) => describeLeak(leak, index, leaks.length, scope, ctx))
}

function describeLeak(leak: Leak, index: number, total: number, scope: Scope, ctx: JudgeContext): DescribedLeak {
  const { record, folded } = leak
  const description = record.probe.describe(record.resource, ctx)
  let state = description.state
  if (folded.length > 0 && !description.includesParts) {
    state += `; with it: ${countedParts(folded.map((part) => part.probe.describe(part.resource, ctx).what)).join('; ')}`
  }
  const use = record.probe.lastUse?.(record.resource)
  // a request past the test's budget of stacks: its own line is unknown, and the connection's would mislead
  const sites = use?.overBudget ? undefined : (use?.sites ?? record.sites ?? record.probe.origin?.(record.resource))
  const library = libraryOf(sites)
  const held = use ? undefined : heldOutsideOf(record)
  const created = `${use ? usedIn(record, use.owner, scope) : held ? `while test ${JSON.stringify(held.test)} ran` : createdIn(record, scope)}${library ? ` (through ${library})` : ''}`
  const count = total > 1 ? ` (${index + 1} of ${total} leaks)` : ''
  let frames = formatCallSites(sites)
  // what the error hands to Vitest: each stack cut down on its own (see framesForReport)
  let reported = framesForReport(frames)
  // No frame of the user's own. Trace mode follows the async trigger chain back to the user's call. Without it: a
  // stack cut short says so; one made while a module loaded says so; one a library made on a later tick of the
  // user's call into it (chokidar's watchers after an fs round trip) shows that call, when the library constructed an
  // object in it; else say how to follow the chain.
  let later: string | undefined
  const loading = !use && sites ? moduleLoading(sites) : undefined
  if (loading && hasUserFrame(sites)) {
    later = `${loading} made it while its module loaded (its top-level code ran when it was first imported): the first frame of your code below is that import`
  } else if (!use && sites && !hasUserFrame(sites)) {
    const origin = traceToUserCode(record.asyncId)
    const cut = origin || loading ? undefined : cutAt(sites)
    const call = origin || cut || loading ? undefined : lastCallInto(library, record.owner)
    if (held) {
      later = `${held.library} made it on a later tick, out of your stack, for its object that \`${held.variable}\` holds, a variable of ${scope.kind === 'file' ? 'the module' : 'this suite or the module'} that outlives the test: end or close what \`${held.variable}\` holds`
    } else if (origin) {
      const traced = formatCallSites(origin.sites)
      frames = [...frames, ...traced]
      reported = [...reported, ...framesForReport(traced)]
      later = `created on a later tick, ${origin.hops} async step${origin.hops === 1 ? '' : 's'} after your call (the last frames below)`
    } else if (loading) {
      later = `no frame of your code: ${loading} made it while its module loaded (its top-level code ran when it was first imported), not a call of yours (the import that loaded it is not on its stack)`
    } else if (cut) {
      later = `no frame of your code in its stack, which was cut at ${cut} frames${library ? `, all in ${library} or Node` : ''} (kept short to stay cheap): it was made deeper inside your call; run with VITEST_LEAKS_TRACE=1 to keep whole stacks`
    } else if (call) {
      const called = formatCallSites(call.sites)
      frames = [...called, ...frames]
      reported = [...framesForReport(called), ...reported]
      const where = call.scope === record.owner ? '' : ` (in ${describeScope(call.scope)})`
      later = `${library} made it on a later tick, out of your stack: the first frames are your last call that constructed a ${library} object${where}, the last ones ${library}'s own`
    } else if (!isTracing() && frames.length > 0) {
      later =
        'no frame of your code: it was created on a later tick; run with VITEST_LEAKS_TRACE=1 to follow the async chain back to your call'
    }
  }
  const fallback = frames.length === 0 ? framesOfParts(record, ctx) : []
  const message = [
    `${description.what} outlived ${ownerPhrase(scope)}${count}`,
    `  now:     ${state}`,
    `  created: ${created}${frames.length === 0 && fallback.length === 0 ? ` (no JavaScript stack: ${noStackReason(record, description, ctx, use?.overBudget === true)})` : ''}`,
    ...(fallback.length > 0 ? ['           (no stack of its own; the frames below are where its server was started)'] : []),
    ...(later ? [`           (${later})`] : []),
    `  fix:     ${description.fix}${description.fixWhere === false ? '' : ` ${whereToClose(record, scope)}`}`,
    ...(description.alternative ? [`           ${description.alternative}`] : []),
    ...(description.shared && scope.kind === 'test'
      ? ['           or, if later tests use it, start it in a beforeAll and close it in an afterAll of their suite']
      : []),
  ].join('\n')
  const error = new LeakError(message)
  const shown = frames.length > 0 ? frames : fallback
  error.stack = [`LeakError: ${message}`, ...(frames.length > 0 ? reported : framesForReport(fallback))].join('\n')
  return { error, kind: record.probe.kind, what: description.what, state, frames: shown }
}

function noStackReason(record: LeakRecord, description: Description, ctx: JudgeContext, useOverBudget: boolean): string {
  const limit = ctx.ledger.stacksPerTest
  const owner = record.owner.kind === 'file' ? 'the file' : `its ${record.owner.kind}`
  if (useOverBudget) {
    return `${owner} had already made ${limit} HTTP requests, and only that many keep their stack; run with VITEST_LEAKS_STACKS=all to see where this one was made`
  }
  if (description.noStack) return description.noStack
  if (record.madeByNode) {
    return "Node's own code created it (fetch and other built-in clients set timers for their requests), and such timers keep no stack; run with VITEST_LEAKS_STACKS=all to see where this one was created"
  }
  if (!record.overBudget) return 'Node created it natively'
  return `${owner} had already made ${limit} timers, and only that many keep their creation stack; run with VITEST_LEAKS_STACKS=all to see where this one was created`
}

function framesOfParts(record: LeakRecord, ctx: JudgeContext): string[] {
  for (const part of record.probe.partOf?.(record.resource, ctx) ?? []) {
    const frames = formatCallSites(ctx.ledger.recordOf(part)?.sites)
    if (frames.length > 0) return frames
  }
  return []
}

function ownerPhrase(scope: Scope): string {
  if (scope.kind === 'test') return 'the test that created it'
  if (scope.kind === 'suite') return `suite "${scope.name}"`
  return 'the test file'
}

/** A pooled connection made busy by a request: the request is what the user has to finish. */
function usedIn(record: LeakRecord, requestOwner: Scope, scope: Scope): string {
  const by = requestOwner === scope ? (scope.kind === 'test' ? 'this test' : `this ${scope.kind}`) : describeScope(requestOwner)
  const connection = record.owner === requestOwner ? 'on a connection it opened' : 'on a keep-alive connection reused from the pool'
  return `by a request made in ${by}, ${connection}`
}

function describeScope(scope: Scope): string {
  return scope.kind === 'file' ? 'the file' : `${scope.kind} "${scope.name}"`
}

function createdIn(record: LeakRecord, scope: Scope): string {
  if (record.owner !== scope) return `earlier, in ${describeScope(record.owner)}`
  if (scope.kind === 'test') return 'in this test'
  const where = scope.kind === 'suite' ? `of suite "${scope.name}"` : 'at the top of the file'
  switch (record.phase) {
    case 'collect':
      return 'at file level, while the file was collected (module scope or a describe body)'
    case 'beforeAll':
      return `in a beforeAll hook ${where}`
    case 'afterAll':
      return `in an afterAll hook ${where}`
    default:
      return `in ${scope.kind === 'suite' ? `suite "${scope.name}"` : 'the file'} outside any test (a suite hook, or a callback that ran after its test ended)`
  }
}

function whereToClose(record: LeakRecord, scope: Scope): string {
  if (scope.kind === 'test') return 'before the test ends (in the test, an afterEach or onTestFinished)'
  if (scope.kind === 'suite') return `in an afterAll of suite "${scope.name}"`
  return record.phase === 'collect' ? 'in a top-level afterAll, or create it in a beforeAll' : 'in a top-level afterAll'
}

/** The frame count a stack was cut at, when it kept fewer than usual to stay cheap and used them all (a timer's). */
function cutAt(sites: CallSites): number | undefined {
  const limit = stackCutAt(sites)
  return limit !== undefined && limit < CAPTURE_LIMIT ? limit : undefined
}

/**
 * The library whose module was loading when the resource was made (a library adding a `process` listener at its top
 * level): a frame of Node's module loaders or of Vitest's module runner right below that module's top-level frame.
 * Undefined when none is on the stack, or when the module is not a library's (the user's own top level is a frame of
 * the user's code, shown as it is).
 */
function moduleLoading(sites: CallSites): string | undefined {
  const loader = sites.findIndex((site) => {
    const file = site.getFileName() ?? ''
    return file.startsWith('node:internal/modules/') || (isVitestFile(file) && /Module|Request|import/i.test(site.getFunctionName() ?? ''))
  })
  if (loader < 0) return undefined
  const loaded = sites
    .slice(0, loader)
    .reverse()
    .find((site) => {
      const file = site.getFileName() ?? ''
      return file !== '' && !file.startsWith('node:')
    })
  return loaded && libraryOf([loaded])
}
