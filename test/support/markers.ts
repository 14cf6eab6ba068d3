import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ErrorOutcome, ModuleOutcome, RunOutcome, TaskOutcome } from './run-vitest.js'

/**
 * Fixture files say what must happen, next to the code that does it:
 *
 *   test('leaks: a server', async () => {
 *     server.listen(0)            // @leak: HTTP server listening on
 *   })
 *   beforeAll(() => { ... })      // @leak(db suite): TCP server      (owner named: a suite's own title, "file",
 *                                                                      or "test: <title>" for a test's hook)
 *
 * A marked line must be where the error's code frame points (its first frame in the fixture file), and the error's
 * message must contain the text. A test or suite whose errors no marker explains is a false alarm: the check fails.
 *
 *   // @leak-unframed: file descriptor              (a leak with no frame in the file: a descriptor found in the OS
 *                                                      table has no creation stack; the line only says whose it is)
 */
export interface Marker {
  line: number
  owner: string | undefined
  text: string
  /** False for `@leak-unframed`: the error must have no frame in the file. */
  framed: boolean
}

const MARKER = /\/\/ @leak(-unframed)?(?:\(([^)]+)\))?: (.+)$/

export function readMarkers(file: string): Marker[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((source, index) => {
      const match = MARKER.exec(source)
      return match ? [{ line: index + 1, owner: match[2]?.trim(), text: match[3]!.trim(), framed: !match[1] }] : []
    })
}

export function frameLine(error: ErrorOutcome, file: string): number | undefined {
  for (const line of error.stack.split('\n')) {
    const index = line.indexOf(`${file}:`)
    if (index === -1) continue
    const match = /^:(\d+):\d+/.exec(line.slice(index + file.length))
    if (match) return Number(match[1])
  }
  return undefined
}

function ownTitle(task: TaskOutcome): string {
  return task.name.split(' > ').at(-1)!
}

/** Every problem found in one module's outcome against its markers; an empty list means the fixture behaved. */
export function checkMarkers(module: ModuleOutcome): string[] {
  const problems: string[] = []
  const markers = readMarkers(module.file)
  const tests = [...module.tests].sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
  const starts = [...module.tests, ...module.suites].map((t) => t.line ?? 0).sort((a, b) => a - b)
  const owners = new Map<string, { errors: ErrorOutcome[]; markers: Marker[]; expectFailure: boolean; label: string }>()
  const ownerOf = (key: string, errors: ErrorOutcome[], label: string, expectFailure: boolean) => {
    if (!owners.has(key)) owners.set(key, { errors, markers: [], expectFailure, label })
    return owners.get(key)!
  }
  ownerOf('file', module.errors, 'file', false)
  for (const suite of module.suites)
    ownerOf(`suite:${ownTitle(suite)}`, suite.errors, `suite "${suite.name}"`, ownTitle(suite).startsWith('leaks:'))
  for (const test of tests) ownerOf(`test:${test.name}`, test.errors, `test "${test.name}"`, ownTitle(test).startsWith('leaks:'))

  for (const marker of markers) {
    let key: string | undefined
    if (marker.owner === 'file') key = 'file'
    else if (marker.owner?.startsWith('test: '))
      key = tests.filter((t) => ownTitle(t) === marker.owner!.slice(6)).map((t) => `test:${t.name}`)[0]
    else if (marker.owner) key = `suite:${marker.owner}`
    else {
      const test = tests.filter((t) => (t.line ?? 0) <= marker.line).at(-1)
      const next = starts.find((line) => line > (test?.line ?? 0))
      if (test && (next === undefined || marker.line < next)) key = `test:${test.name}`
    }
    const owner = key && owners.get(key)
    if (!owner) {
      problems.push(`marker on line ${marker.line} ("${marker.text}") has no owner ${marker.owner ?? '(no test contains it)'}`)
      continue
    }
    owner.markers.push(marker)
    if (key === 'file') owner.expectFailure = true
  }

  for (const { errors, markers: expected, expectFailure, label } of owners.values()) {
    const unmatched = [...errors]
    for (const marker of expected) {
      const where = (error: ErrorOutcome) => frameLine(error, module.file) === (marker.framed ? marker.line : undefined)
      const index = unmatched.findIndex((error) => error.message.includes(marker.text) && where(error))
      if (index === -1) {
        const seen = errors.map((e) => `  - [frame line ${frameLine(e, module.file) ?? 'none'}] ${e.message.split('\n')[0]}`).join('\n')
        problems.push(`${label}: expected a leak at line ${marker.line} containing "${marker.text}"; errors were:\n${seen || '  (none)'}`)
      } else unmatched.splice(index, 1)
    }
    for (const error of unmatched) {
      problems.push(
        `${label}: unexpected error (false alarm?) [frame line ${frameLine(error, module.file) ?? 'none'}]:\n${error.message}\n${error.stack.split('\n').slice(0, 6).join('\n')}`,
      )
    }
    if (expectFailure && expected.length === 0) problems.push(`${label} is named "leaks:" but has no @leak marker`)
  }
  for (const test of tests) {
    const failing = ownTitle(test).startsWith('leaks:')
    if (failing && test.state !== 'failed') problems.push(`test "${test.name}" should have failed with a leak but ${test.state}`)
    if (!failing && test.state === 'failed' && test.errors.length === 0) problems.push(`test "${test.name}" failed with no errors`)
  }
  return problems
}

/** The test files of a fixture project, sorted. */
export function fixtureFiles(fixture: string): string[] {
  return readdirSync(fixture)
    .filter((file) => file.endsWith('.test.ts'))
    .sort()
}

/**
 * Problems with one run of a fixture project whose files carry markers: the run reported exactly `files`, had no
 * unhandled error, and each file failed and passed as its markers say. An empty list means all of that held.
 */
export function markedRunProblems(run: RunOutcome, fixture: string, files: string[]): string[] {
  const problems: string[] = []
  const reported = run.modules.map((m) => m.file.split('/').at(-1)).sort()
  if (JSON.stringify(reported) !== JSON.stringify(files))
    problems.push(`reported files ${JSON.stringify(reported)}, expected ${JSON.stringify(files)}`)
  if (run.unhandled.length > 0) problems.push(`unhandled errors: ${run.unhandled.map((e) => e.message).join('; ')}`)
  for (const file of files) {
    const module = run.modules.find((m) => m.file === join(fixture, file))
    if (module) problems.push(...checkMarkers(module).map((problem) => `${file}: ${problem}`))
  }
  return problems
}
