/**
 * What a pool cannot give the plugin, said once at startup (by the plugin's configureVitest, per project) rather
 * than left for users to find out from a leak that was not reported. The fd snapshot's own note is in
 * probes/descriptors.ts.
 */
export function poolNote(pool: string | undefined): string | undefined {
  if (pool === 'vmThreads' || pool === 'vmForks') {
    // Vitest's vm pools hand each test file a copy of a built-in module's exports, taken (for node:timers and
    // node:fs, by Vitest itself) before any setup file runs: a function imported by name is the original, unwrapped one
    return `vitest-leaks: pool '${pool}' gives test files a copy of Node's built-in modules made before the plugin's setup file runs, so functions imported from them by name are not followed there: \`import { setTimeout } from 'node:timers'\`, \`import { watch, openSync } from 'node:fs'\`, \`import { request } from 'node:http'\`. Call them through the module's default import (\`import fs from 'node:fs'\`, then \`fs.watch(...)\`) or the globals (\`setTimeout\`), or use pool 'forks' or 'threads'; everything else is checked.`
  }
  return undefined
}
