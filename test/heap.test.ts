import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { analyze, type CollectionRetainer } from '../src/worker/node/heap.js'
import { FIXTURES } from './support/run-vitest.js'

// The heap snapshot analysis behind `retainedSockets`, on a snapshot of plain Node where each target is kept alive
// in a different way: only collections (and entries of collections) count, named by the way to them.
let result: Map<string, CollectionRetainer | null>
const dir = mkdtempSync(join(tmpdir(), 'vitest-leaks-heap-'))
beforeAll(() => {
  const file = join(dir, 'shapes.heapsnapshot')
  execFileSync(process.execPath, [join(FIXTURES, 'heap/shapes.mjs'), file])
  const ids = new Set(Array.from({ length: 10 }, (_, i) => String(i + 1)))
  result = analyze(JSON.parse(readFileSync(file, 'utf8')), { markerClass: 'RetainedSocketCheck', ids, ownDir: join(dir, 'none') })
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test.each([
  ['1', 'a Set', { collection: 'Set', path: 'inSet', holder: undefined }],
  ['2', 'a value of a Map', { collection: 'Map', path: 'mapValue', holder: undefined }],
  ['3', 'a key of a Map', { collection: 'Map', path: 'mapKey', holder: undefined }],
  ['4', 'an array', { collection: 'array', path: 'list', holder: undefined }],
  ['5', "an object's indexed element", { collection: 'object', path: 'byIndex', holder: undefined }],
  ['6', 'a property of the entries of an array', { collection: 'array', path: 'entries', holder: undefined, entryProperty: 'socket' }],
  ['10', 'a private Map of a class instance', { collection: 'Map', path: 'registry.#items', holder: 'Registry' }],
] as const)('target %s, kept in %s, is retained by that collection', (id, _how, expected) => {
  expect(result.get(id)).toEqual(expected)
})

test.each([
  ['7', 'a variable'],
  ['8', 'a property of an object'],
  ['9', 'a variable, and an array that only it holds'],
])('target %s, kept by %s, is alive but not retained by a collection', (id) => {
  expect(result.has(id)).toBe(true)
  expect(result.get(id)).toBeNull()
})
