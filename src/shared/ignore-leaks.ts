import { validateIgnoreRule, type IgnoreRule } from './options.js'
import { peekRuntime } from './runtime-key.js'

/**
 * Accepts a known leak where it happens: inside a test, for that test; in a beforeAll, for that suite; at the top of
 * a file, for the whole file. Every field given must match (`kind`, `stack`, `test`) and `reason` is required; the
 * summary counts ignored leaks with their reasons. Does nothing when the plugin is not active.
 *
 *   ignoreLeaks({ kind: 'timers', stack: /node_modules\/pg-pool/, reason: 'pg-pool keeps an idle reaper timer' })
 */
export function ignoreLeaks(rule: IgnoreRule): void {
  const validated = validateIgnoreRule(rule, 'ignoreLeaks()')
  const runtime = peekRuntime()
  if (runtime) runtime.ledger.current.ignore.push(validated)
}
