/**
 * Loads the worker's code into a test file's process, for the two entries a test file runs (src/setup.ts,
 * src/matchers.ts), each of which has its own copy of this file: a chunk they shared would be one more ES module
 * to load for every test file, ~1 ms each in a test file's process.
 *
 * Nothing outside the entry's own file is imported statically (in browser mode these entries must not load Node's
 * built-in modules). Outside the vm pools the worker's code is compiled by load-worker.cjs, a CommonJS module, with a
 * code cache; in the vm pools a test file runs in a context of its own, where a script compiled by the worker's
 * CommonJS loader would see the wrong globals: there the ES module build is imported, as any module is.
 */
import type * as VitestModule from 'vitest'
import type { LoadedWorker } from './load-worker.js'
import type * as WorkerModule from './worker.js'
import type { VitestApi } from '../vitest/vitest-api.js'
import { inVmContextFast } from './vm-context.js'

// Not a literal: Vitest 5 transforms the setup file with Vite, whose import analysis resolves every literal
// `import('…')`, even one never reached, and fails the test file because Vitest 5 has no `vitest/suite` export.
const SUITE = 'vitest/suite'

type Worker = typeof WorkerModule

export async function startWorker(): Promise<LoadedWorker<Worker>> {
  const api: VitestApi = {
    module: (await import('vitest')) as typeof VitestModule,
    importSuite,
  }
  if (inVmContextFast()) {
    const worker = (await import('./worker.js')) as Worker
    return { worker, api, saveCodeCache: () => {} }
  }
  const load = (await nodeRequire())('./load-worker.cjs') as typeof import('./load-worker.js')
  return load.loadWorker<Worker>(api)
}

/**
 * `vitest/suite` (Vitest 3.2 and 4.0). In Vitest 4.0's vm pools a bare specifier imported at run time is not resolved
 * ("Cannot find package 'vitest/suite'"): there the file it names is imported instead, found from this file.
 */
async function importSuite(): Promise<unknown> {
  try {
    return await import(/* @vite-ignore */ SUITE)
  } catch (error) {
    let url: string
    try {
      const require = await nodeRequire()
      url = (require('node:url') as typeof import('node:url')).pathToFileURL(require.resolve(SUITE)).href
    } catch {
      throw error
    }
    return import(/* @vite-ignore */ url)
  }
}

/** `require` from this file, through `process.getBuiltinModule` (Node 20.16, 22.3) when there is one. */
async function nodeRequire(): Promise<NodeJS.Require> {
  const getBuiltinModule = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule
  const module = (getBuiltinModule?.('node:module') ?? (await import('node:module'))) as typeof import('node:module')
  return module.createRequire(import.meta.url)
}
