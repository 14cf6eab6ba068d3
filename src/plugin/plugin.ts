import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { showInternalError } from '../shared/internal-error.js'
import { descriptorsNote, poolNote } from './pool-notes.js'
import { LeaksOptionsError, resolveOptions, type LeaksOptions, type ResolvedOptions } from '../shared/options.js'
import type { Baseline } from '../shared/policy.js'
import { PROVIDE_KEY, type ProvidedConfig } from '../shared/config-channel.js'
import { LeaksReporter } from './reporter.js'

const SETUP_FILE = fileURLToPath(new URL('./setup.js', import.meta.url))
const SUPPORTED = 'Vitest 3.2, 4.x or 5.x'

// Structural types: the plugin must load under Vite/Vitest 3, 4 and 5, whose own types differ.
interface TestConfigLike {
  setupFiles?: string | string[]
  provide?: Record<string, unknown>
  browser?: { enabled?: boolean }
  pool?: string
  /** `false` turns Vitest's caches off: the plugin's code cache too. */
  cache?: unknown
}

interface ProjectLike {
  name?: string
  config: TestConfigLike & { setupFiles: string[]; name?: string }
  provide: (key: string, value: unknown) => void
  /** The project's own Vite server: its plugins say whether it has a `leaks()` of its own. */
  vite?: { config?: { plugins?: ReadonlyArray<{ name?: string } | null | undefined> } }
}

export interface LeaksPlugin {
  name: 'vitest-leaks'
  config: (config: { test?: TestConfigLike; root?: string; cacheDir?: string }) => void
  configureVitest: (context: { project: ProjectLike; vitest: VitestLike }) => void
}

interface VitestLike {
  version?: string
  config: { root: string; reporters: unknown[] }
  /** Every project of the run, resolved before any configureVitest hook is called (Vitest 3.2, 4.x, 5.x). */
  projects?: ProjectLike[]
}

/**
 * The one line: `plugins: [leaks()]`. Adds the setup file first in every project (so its hooks wrap the user's),
 * hands the validated options (and the baseline) to the workers, and adds the reporter that prints the summary.
 * Bad options throw here, before any test runs.
 */
export function leaks(options?: LeaksOptions): LeaksPlugin {
  const resolved = resolveOptions(options)
  let provided: ProvidedConfig | undefined
  /** Vite's cache folder, as the config says (relative to the root); undefined when Vitest's cache is off. */
  let cacheDir: string | undefined = 'node_modules/.vite'
  const provide = (root: string): ProvidedConfig =>
    (provided ??= {
      options: resolved,
      baseline: loadBaseline(resolved, root),
      codeCacheDir: cacheDir === undefined ? undefined : resolve(root, cacheDir, 'vitest-leaks'),
    })
  const configured = new WeakSet<object>()
  const configureProject = (project: ProjectLike, vitest: VitestLike) => {
    if (configured.has(project)) return
    configured.add(project)
    if (project.config.browser?.enabled) {
      warnOnce(browserNote(project, vitest))
      project.config.setupFiles = project.config.setupFiles.filter((file) => file !== SETUP_FILE)
      return
    }
    if (!project.config.setupFiles.includes(SETUP_FILE)) project.config.setupFiles.unshift(SETUP_FILE)
    const note = resolved.kinds.includes('descriptors') ? descriptorsNote(project.config.pool) : undefined
    if (note) warnOnce(note)
    const limit = poolNote(project.config.pool)
    if (limit) warnOnce(limit)
    project.provide(PROVIDE_KEY, provide(vitest.config.root))
  }
  return {
    name: 'vitest-leaks',
    config(config) {
      if (resolved.mode === 'off') return
      assertSupportedVitest(config.root)
      cacheDir = config.test?.cache === false ? undefined : (config.cacheDir ?? cacheDir)
      config.test ??= {}
      addSetupFile(config.test, provide(resolve(config.root ?? process.cwd())))
    },
    // Vitest 5 inline `test.projects` capture their config before user plugins run: reach them here too. And every
    // other project of the run that has no leaks() of its own: on Vitest 3.2 and 4.x an inline project that does not
    // extend the root config does not get the root's plugins (Vitest 5 gives them), but the one line in the root
    // config is meant to check every test.
    configureVitest({ project, vitest }) {
      if (resolved.mode === 'off') return
      if (vitest.version) assertVersion(vitest.version)
      for (const target of [project, ...(vitest.projects ?? []).filter((other) => other !== project && !hasOwnPlugin(other))]) {
        try {
          configureProject(target, vitest)
        } catch (error) {
          // a bad option (the baseline file) fails the run; the plugin's own bug is shown once and the run goes on
          if (error instanceof LeaksOptionsError) throw error
          showInternalError(error)
        }
      }
      const config = provide(vitest.config.root)
      // nothing is checked in a run of browser projects only: no summary saying "no leaks"
      const checked = (vitest.projects ?? [project]).some((target) => !target.config.browser?.enabled)
      // one summary per run, also when a project loads the config again and so has its own leaks() (a browser project)
      if (checked && !vitest.config.reporters.some(isLeaksReporter)) {
        // pushed here, it survives a `--reporter` on the command line
        vitest.config.reporters.push(
          Object.assign(new LeaksReporter(resolved, vitest.config.root, config.baseline), { [REPORTER_MARK]: true }),
        )
      }
    },
  }
}

/**
 * The same text for every browser project of the run (one project per browser instance, each maybe with its own
 * leaks()), so that warnOnce says it once.
 */
function browserNote(project: ProjectLike, vitest: VitestLike): string {
  const nameOf = (p: ProjectLike) => `"${p.name ?? p.config.name ?? ''}"`
  const names = [...new Set([project, ...(vitest.projects ?? [])].filter((p) => p.config.browser?.enabled).map(nameOf))].sort()
  const subject = names.length === 1 ? `project ${names[0]} runs` : `projects ${names.join(', ')} run`
  return `vitest-leaks: ${subject} in browser mode, where there are no Node resources to check; the plugin does nothing there.`
}

function hasOwnPlugin(project: ProjectLike): boolean {
  const plugins = project.vite?.config?.plugins
  // unknown: leave the project to its own plugins
  if (!Array.isArray(plugins)) return true
  return plugins.some((plugin) => plugin?.name === 'vitest-leaks')
}

function addSetupFile(test: TestConfigLike, config: ProvidedConfig): void {
  const files = test.setupFiles === undefined ? [] : Array.isArray(test.setupFiles) ? test.setupFiles : [test.setupFiles]
  test.setupFiles = [SETUP_FILE, ...files.filter((file) => file !== SETUP_FILE && file !== 'vitest-leaks/setup')]
  test.provide = { ...test.provide, [PROVIDE_KEY]: config }
}

/** The known leaks; a missing file is an error unless this run records it (`VITEST_LEAKS_BASELINE=update`). */
function loadBaseline(options: ResolvedOptions, root: string): Baseline | undefined {
  if (!options.baseline) return undefined
  const path = resolve(root, options.baseline)
  if (!existsSync(path)) {
    if (options.updateBaseline) return undefined
    throw new LeaksOptionsError(
      `vitest-leaks: the baseline file ${options.baseline} (option \`baseline\`) does not exist. Record today's leaks into it with: VITEST_LEAKS_BASELINE=update npx vitest run`,
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new LeaksOptionsError(`vitest-leaks: the baseline file ${options.baseline} is not valid JSON (${(error as Error).message}).`)
  }
  const baseline = parsed as Baseline
  if (baseline?.version !== 1 || !Array.isArray(baseline.leaks)) {
    throw new LeaksOptionsError(
      `vitest-leaks: the baseline file ${options.baseline} is not a vitest-leaks baseline ({ "version": 1, "leaks": [...] }); record it again with VITEST_LEAKS_BASELINE=update npx vitest run.`,
    )
  }
  return baseline
}

// The package has two copies of this module, an ES module and CommonJS (index.cjs, for configs Vite bundles as
// CommonJS): one run can load both (a .mts root config, a .ts project config in a CommonJS package). What must be once
// per run is known by a Symbol.for key: the reporter by a mark on it, the warnings said in a set kept on `process`.
const REPORTER_MARK = Symbol.for('vitest-leaks.reporter')
function isLeaksReporter(reporter: unknown): boolean {
  return typeof reporter === 'object' && reporter !== null && REPORTER_MARK in reporter
}

const warned: Set<string> = ((process as unknown as Record<symbol, Set<string>>)[Symbol.for('vitest-leaks.warned')] ??= new Set())
function warnOnce(message: string): void {
  if (warned.has(message)) return
  warned.add(message)
  console.warn(message)
}

function assertSupportedVitest(root: string | undefined): void {
  let version: string | undefined
  try {
    const require = createRequire(`${root ?? process.cwd()}/`)
    version = (require('vitest/package.json') as { version: string }).version
  } catch {
    return
  }
  assertVersion(version)
}

function assertVersion(version: string): void {
  const [major = 0, minor = 0] = version.split('.').map((part) => Number.parseInt(part, 10))
  if (major < 3 || (major === 3 && minor < 2) || major > 5) {
    throw new Error(`vitest-leaks supports ${SUPPORTED}; this project runs Vitest ${version}.`)
  }
}
