import { readFileSync, rmSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { runInNewContext } from 'node:vm'
import { os, v8 } from './builtins.js'

/**
 * A full, synchronous garbage collection. `--expose-gc` set at run time applies to contexts created afterwards, so the
 * `gc` function is taken from a new one (and the flag is set back); this works in Vitest's forks, threads and vm pools.
 */
export function garbageCollector(): () => void {
  const existing = (globalThis as { gc?: unknown }).gc
  if (typeof existing === 'function') return existing as () => void
  v8().setFlagsFromString('--expose-gc')
  try {
    return runInNewContext('gc') as () => void
  } finally {
    // contexts made later (the vm pools make one per test file) get no `gc` global of their own
    v8().setFlagsFromString('--no-expose-gc')
  }
}

const ownDir = dirname(fileURLToPath(import.meta.url))

/** A collection that keeps an object alive: what it is and how the user's code reaches it. */
export interface CollectionRetainer {
  collection: 'Set' | 'Map' | 'array' | 'object'
  /** The way to it, as code would spell it: `openSockets`, `chat.connections.clients`. */
  path: string | undefined
  /** The class of the object it is a property of, when it is not a plain object or a scope: `ConnectionManager`. */
  holder: string | undefined
  /** When the collection holds objects that hold the target: the property it is in (`socket` of `{ id, socket }`). */
  entryProperty?: string
}

export interface RetainerQuery {
  /** Class name of the objects that mark what to look for; each has a string `id` and a WeakRef `ref` to its target. */
  markerClass: string
  /** The ids of the markers whose targets to explain. */
  ids: ReadonlySet<string>
  /** Code whose closures are not walked through (the plugin's own): a directory, as a path. Default: this file's. */
  ownDir?: string
}

const MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024

/** The heap is too large for a snapshot to be read and walked in the worker. */
export class HeapTooLargeError extends Error {
  constructor(readonly bytes: number) {
    super(
      `the heap snapshot is ${Math.round(bytes / 1024 / 1024)} MB, more than the ${MAX_SNAPSHOT_BYTES / 1024 / 1024} MB this check reads`,
    )
  }
}

/**
 * Takes a heap snapshot and tells, for each marked target, whether a Set, a Map, an array or an object's indexed
 * elements keeps it alive, directly or as a property of its entries. Only collections count: a target held by a variable or a property (`let client` in a
 * describe block, `this.socket`) is the last one assigned, not a growing pile. Paths through what the plugin itself
 * holds (captured call sites, its ledger, its state on `process`) and through the targets themselves (a socket piped
 * into itself) do not count.
 *
 * Returns, per id, the collection (`null`: alive, but not kept by a collection). Ids whose target is gone are absent.
 */
export function findCollectionRetainers(query: RetainerQuery): Map<string, CollectionRetainer | null> {
  const file = join(os().tmpdir(), `vitest-leaks-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.heapsnapshot`)
  let text: string
  try {
    v8().writeHeapSnapshot(file)
    const size = statSync(file).size
    // V8's longest string is about 512 MB; a snapshot near that is too big to read here (and would take minutes)
    if (size > MAX_SNAPSHOT_BYTES) throw new HeapTooLargeError(size)
    text = readFileSync(file, 'utf8')
  } finally {
    rmSync(file, { force: true })
  }
  return analyze(JSON.parse(text) as HeapSnapshot, query)
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; edge_fields: string[]; node_types: [string[]]; edge_types: [string[]] } }
  nodes: number[]
  edges: number[]
  strings: string[]
}

/** Exported for tests: the analysis of a parsed snapshot. */
export function analyze(snapshot: HeapSnapshot, query: RetainerQuery): Map<string, CollectionRetainer | null> {
  const { meta } = snapshot.snapshot
  const { nodes, edges, strings } = snapshot
  const NF = meta.node_fields.length
  const EF = meta.edge_fields.length
  const N_TYPE = meta.node_fields.indexOf('type')
  const N_NAME = meta.node_fields.indexOf('name')
  const N_EDGES = meta.node_fields.indexOf('edge_count')
  const E_TYPE = meta.edge_fields.indexOf('type')
  const E_NAME = meta.edge_fields.indexOf('name_or_index')
  const E_TO = meta.edge_fields.indexOf('to_node')
  const nodeTypes = meta.node_types[0]
  const edgeTypes = meta.edge_types[0]
  const count = nodes.length / NF

  const T_OBJECT = nodeTypes.indexOf('object')
  const T_ARRAY = nodeTypes.indexOf('array')
  const stringTypes = new Set(['string', 'concatenated string', 'sliced string'].map((name) => nodeTypes.indexOf(name)))
  const T_HIDDEN = nodeTypes.indexOf('hidden')
  const E_ELEMENT = edgeTypes.indexOf('element')
  const E_HIDDEN = edgeTypes.indexOf('hidden')
  const E_WEAK = edgeTypes.indexOf('weak')
  const E_SHORTCUT = edgeTypes.indexOf('shortcut')
  const E_PROPERTY = edgeTypes.indexOf('property')
  const E_CONTEXT = edgeTypes.indexOf('context')
  const E_INTERNAL = edgeTypes.indexOf('internal')

  const firstEdge = new Uint32Array(count + 1)
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e
    e += nodes[i * NF + N_EDGES]! * EF
  }
  firstEdge[count] = edges.length
  const typeOf = (node: number) => nodes[node * NF + N_TYPE]!
  const nameOf = (node: number) => strings[nodes[node * NF + N_NAME]!] ?? ''
  const edgeName = (e: number) => {
    const type = edges[e + E_TYPE]
    const name = edges[e + E_NAME]!
    return type === E_ELEMENT || type === E_HIDDEN ? name : (strings[name] ?? '')
  }
  const outEdge = (node: number, type: number, name: string | number): number | undefined => {
    for (let e = firstEdge[node]!; e < firstEdge[node + 1]!; e += EF) {
      if (edges[e + E_TYPE] === type && edgeName(e) === name) return edges[e + E_TO]! / NF
    }
    return undefined
  }

  // the markers, and the target each one's WeakRef points at
  const targets = new Map<number, string>()
  for (let node = 0; node < count; node++) {
    if (typeOf(node) !== T_OBJECT || nameOf(node) !== query.markerClass) continue
    const idNode = outEdge(node, E_PROPERTY, 'id')
    const id = idNode !== undefined && stringTypes.has(typeOf(idNode)) ? nameOf(idNode) : undefined
    if (id === undefined || !query.ids.has(id)) continue
    const ref = outEdge(node, E_PROPERTY, 'ref')
    const target = ref === undefined ? undefined : outEdge(ref, E_WEAK, 'target')
    if (target !== undefined) targets.set(target, id)
  }
  if (targets.size === 0) return new Map()

  // Nodes never walked through: the plugin's own bookkeeping (its markers, and the closures of its code, whose scopes
  // hold its ledger), and captured call sites (a stack captured in an async function holds that function's suspended
  // state, locals included).
  const skippedNames = new Set([query.markerClass, 'CallSite', 'system / CallSiteInfo'])
  const skippedString = new Uint8Array(strings.length)
  for (let s = 0; s < strings.length; s++) {
    const text = strings[s]!
    if (skippedNames.has(text)) skippedString[s] = 1
    // a WeakMap entry: its value is alive only while its key is, however the snapshot draws the edge
    else if (text.includes(' part of key ')) skippedString[s] = 2
    // the plugin's per-worker state on `process`
    else if (text.startsWith('<symbol vitest-leaks.')) skippedString[s] = 2
  }

  const own = ownCode(query.ownDir ?? ownDir)

  const parent = new Int32Array(count).fill(-1)
  const parentEdge = new Int32Array(count).fill(-1)
  const queue = new Int32Array(count)
  const retainers = new Map<number, Array<[from: number, edge: number]>>()
  let head = 0
  let tail = 0
  queue[tail++] = 0
  parent[0] = 0
  while (head < tail) {
    const node = queue[head++]!
    for (let e = firstEdge[node]!; e < firstEdge[node + 1]!; e += EF) {
      const type = edges[e + E_TYPE]!
      if (type === E_WEAK || type === E_SHORTCUT) continue
      if ((type === E_INTERNAL || type === E_PROPERTY) && skippedString[edges[e + E_NAME]!] === 2) continue
      const to = edges[e + E_TO]! / NF
      if (targets.has(to)) {
        let list = retainers.get(to)
        if (!list) retainers.set(to, (list = []))
        list.push([node, e])
        continue
      }
      if (parent[to] !== -1) continue
      if (skippedString[nodes[to * NF + N_NAME]!] === 1 && (typeOf(to) === T_OBJECT || typeOf(to) === T_HIDDEN)) continue
      if (own[to] === 1) continue
      parent[to] = node
      parentEdge[to] = e
      queue[tail++] = to
    }
  }

  /**
   * Closures of the plugin's own code, and the scopes they were made in: found from the scripts whose name is under
   * `dir`, through the function infos that point at those scripts.
   */
  function ownCode(dir: string): Uint8Array {
    const marks = new Uint8Array(count)
    const prefixes = [dir, pathToFileURL(dir).href]
    const scripts = new Uint8Array(count)
    let any = false
    for (let node = 0; node < count; node++) {
      const name = nameOf(node)
      if (prefixes.some((prefix) => name.startsWith(prefix))) {
        scripts[node] = 1
        any = true
      }
    }
    if (!any) return marks
    const infos = new Uint8Array(count)
    for (let node = 0; node < count; node++) {
      for (let e = firstEdge[node]!; e < firstEdge[node + 1]!; e += EF) {
        if (edges[e + E_TYPE] !== E_INTERNAL || scripts[edges[e + E_TO]! / NF] !== 1) continue
        const name = edgeName(e)
        if (name === 'script_or_debug_info' || name === 'script') infos[node] = 1
      }
    }
    for (let node = 0; node < count; node++) {
      for (let e = firstEdge[node]!; e < firstEdge[node + 1]!; e += EF) {
        if (edges[e + E_TYPE] === E_INTERNAL && infos[edges[e + E_TO]! / NF] === 1 && edgeName(e) === 'shared') marks[node] = 1
      }
    }
    // the scopes those closures were made in: the plugin's module scope (one per bundle, holding every probe's state,
    // and on the stack while the check runs) and its functions' scopes
    const closures = [...marks.keys()].filter((node) => marks[node] === 1)
    for (const node of closures) {
      const context = outEdge(node, E_INTERNAL, 'context')
      if (context !== undefined) marks[context] = 1
    }
    return marks
  }

  function contextSlotName(context: number, slot: number): string | undefined {
    const info = outEdge(context, E_INTERNAL, 'scope_info')
    if (info === undefined) return undefined
    const name = outEdge(info, E_HIDDEN, slot)
    return name !== undefined && stringTypes.has(typeOf(name)) ? nameOf(name) : undefined
  }

  /** The Set, Map or array object a backing store belongs to (reached through its `table` or `elements`). */
  const ownerOfStore = (store: number): { owner: number; collection: CollectionRetainer['collection'] } | undefined => {
    const e = parentEdge[store]!
    if (e < 0 || edges[e + E_TYPE] !== E_INTERNAL) return undefined
    const owner = parent[store]!
    const name = edgeName(e)
    const ownerName = nameOf(owner)
    if (name === 'table' && (ownerName === 'Set' || ownerName === 'Map')) return { owner, collection: ownerName }
    if (name === 'elements' && typeOf(owner) === T_OBJECT) return { owner, collection: ownerName === 'Array' ? 'array' : 'object' }
    return undefined
  }

  const classify = (from: number, e: number): { owner: number; collection: CollectionRetainer['collection'] } | undefined => {
    const type = edges[e + E_TYPE]
    if (typeOf(from) === T_OBJECT && type === E_ELEMENT) return { owner: from, collection: nameOf(from) === 'Array' ? 'array' : 'object' }
    if (typeOf(from) === T_ARRAY) return ownerOfStore(from)
    return undefined
  }

  const describe = (owner: number, collection: CollectionRetainer['collection']): CollectionRetainer => {
    const names: string[] = []
    let holder: string | undefined
    for (let node = owner; node !== 0 && names.length < 4; node = parent[node]!) {
      const e = parentEdge[node]!
      if (e < 0) break
      const type = edges[e + E_TYPE]
      if (type === E_PROPERTY) {
        names.unshift(String(edgeName(e)))
        if (names.length === 1) {
          const from = nameOf(parent[node]!)
          if (typeOf(parent[node]!) === T_OBJECT && from !== 'Object' && !from.startsWith('system /')) holder = from
        }
      } else if (type === E_CONTEXT) {
        names.unshift(String(edgeName(e)))
        break
      } else if (nameOf(parent[node]!) === 'system / Context' && (type === E_HIDDEN || type === E_ELEMENT)) {
        // a variable of a block scope (how Vitest runs a test file's module scope): the snapshot leaves its name out,
        // but the scope's info lists the names in slot order
        const variable = contextSlotName(parent[node]!, Number(edgeName(e)))
        if (variable) names.unshift(variable)
        break
      } else if (type === E_ELEMENT) names.unshift(`[${edgeName(e)}]`)
    }
    const path = names.join('.').replace(/\.\[/g, '[')
    return { collection, path: path === '' ? undefined : path, holder }
  }

  // Not in a collection itself, but a property of an object that is: the `{ id, socket }` entries of a Map. One level
  // only: Vitest keeps the context of the test that just ran (a fixture's value in it) two levels below its tasks.
  const direct = new Map<number, CollectionRetainer>()
  const entryOf = new Map<number, Array<{ target: number; property: string }>>()
  for (const [target] of targets) {
    for (const [from, e] of retainers.get(target) ?? []) {
      const hit = classify(from, e)
      if (hit) {
        direct.set(target, describe(hit.owner, hit.collection))
        break
      }
      const name = nameOf(from)
      if (typeOf(from) !== T_OBJECT || edges[e + E_TYPE] !== E_PROPERTY || name === 'Array' || name.startsWith('system /')) continue
      let list = entryOf.get(from)
      if (!list) entryOf.set(from, (list = []))
      list.push({ target, property: String(edgeName(e)) })
    }
  }
  const viaEntry = new Map<number, CollectionRetainer>()
  if (entryOf.size > 0) {
    for (let node = 0; node < count; node++) {
      if (parent[node] === -1) continue
      for (let e = firstEdge[node]!; e < firstEdge[node + 1]!; e += EF) {
        const entries = entryOf.get(edges[e + E_TO]! / NF)
        if (!entries) continue
        const type = edges[e + E_TYPE]!
        if (type === E_WEAK || type === E_SHORTCUT) continue
        if ((type === E_INTERNAL || type === E_PROPERTY) && skippedString[edges[e + E_NAME]!] === 2) continue
        const hit = classify(node, e)
        if (!hit) continue
        for (const { target, property } of entries) {
          if (!direct.has(target) && !viaEntry.has(target))
            viaEntry.set(target, { ...describe(hit.owner, hit.collection), entryProperty: property })
        }
      }
    }
  }

  const result = new Map<string, CollectionRetainer | null>()
  for (const [target, id] of targets) result.set(id, direct.get(target) ?? viaEntry.get(target) ?? null)
  return result
}
