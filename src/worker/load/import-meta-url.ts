/**
 * `import.meta.url` in the worker's script build (dist/worker.cjs, see tsup.config.ts): its own file's URL, always.
 * The bundler's own shim returns a browser page's URL whenever a global `document` exists, which it does in every
 * test file of a jsdom or happy-dom environment, and the worker's code then failed to load there.
 */
import { pathToFileURL } from 'node:url'

export const importMetaUrl = pathToFileURL(__filename).href
