/**
 * What a pool cannot give the plugin, said once at startup (by the plugin's configureVitest, per project) rather
 * than left for users to find out from a leak that was not reported. The fd snapshot's note
 * (kind `descriptors`, worker/probes/descriptors.ts) is the other.
 */
export function poolNote(pool: string | undefined): string | undefined {
  if (pool === 'vmThreads' || pool === 'vmForks') {
    // Vitest's vm pools hand each test file a copy of a built-in module's exports, taken (for node:timers and
    // node:fs, by Vitest itself) before any setup file runs: a function imported by name is the original, unwrapped one
    return `vitest-leaks: pool '${pool}' gives test files a copy of Node's built-in modules made before the plugin's setup file runs, so functions imported from them by name are not followed there: \`import { setTimeout } from 'node:timers'\`, \`import { watch, openSync } from 'node:fs'\`, \`import { request } from 'node:http'\`. Call them through the module's default import (\`import fs from 'node:fs'\`, then \`fs.watch(...)\`) or the globals (\`setTimeout\`), or use pool 'forks' or 'threads'; everything else is checked.`
  }
  return undefined
}

/**
 * What the fd snapshot does in this project, said once at startup; undefined where it works. Where the descriptor
 * table is shared (worker-thread pools) or /proc is missing, it is not taken; everything else still is checked.
 */
export function descriptorsNote(pool: string | undefined, platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform !== 'linux') {
    return `vitest-leaks: the fd snapshot (kind \`descriptors\`) needs Linux's /proc and is not available on ${platform}; descriptors opened by code no probe follows are not checked there (files, sockets and the other kinds still are).`
  }
  if (pool === 'threads' || pool === 'vmThreads') {
    return `vitest-leaks: pool '${pool}' runs test files in worker threads that share one descriptor table with Vitest and with each other, so the fd snapshot (kind \`descriptors\`) is not taken there: no test is blamed for another worker's descriptors. Use pool 'forks' (the default) or 'vmForks' to have it; files, sockets and the other kinds are checked in every pool.`
  }
  return undefined
}
