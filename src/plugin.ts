import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { resolveOptions, type LeaksOptions, type ResolvedOptions } from './options.js'
import { PROVIDE_KEY } from './provide.js'

const SETUP_FILE = fileURLToPath(new URL('./setup.js', import.meta.url))
const SUPPORTED = 'Vitest 3.2, 4.x or 5.x'

// Structural types: the plugin must load under Vite/Vitest 3, 4 and 5, whose own types differ.
interface TestConfigLike {
  setupFiles?: string | string[]
  provide?: Record<string, unknown>
  browser?: { enabled?: boolean }
}

interface ProjectLike {
  name?: string
  config: TestConfigLike & { setupFiles: string[]; name?: string }
  provide: (key: string, value: unknown) => void
}

export interface LeaksPlugin {
  name: 'vitest-leaks'
  config: (config: { test?: TestConfigLike; root?: string }) => void
  configureVitest: (context: { project: ProjectLike; vitest: { version?: string } }) => void
}

/**
 * The one line: `plugins: [leaks()]`. Adds the setup file first in every project (so its hooks wrap the user's) and
 * hands the validated options to the workers. Bad options throw here, before any test runs.
 */
export function leaks(options?: LeaksOptions): LeaksPlugin {
  const resolved = resolveOptions(options)
  return {
    name: 'vitest-leaks',
    config(config) {
      assertSupportedVitest(config.root)
      config.test ??= {}
      addSetupFile(config.test, resolved)
    },
    // Vitest 5 inline `test.projects` capture their config before user plugins run: reach them here too.
    configureVitest({ project, vitest }) {
      if (vitest.version) assertVersion(vitest.version)
      if (project.config.browser?.enabled) {
        warnOnce(`vitest-leaks: project "${project.name ?? project.config.name ?? ''}" runs in browser mode, where there are no Node resources to check; the plugin does nothing there.`)
        project.config.setupFiles = project.config.setupFiles.filter((file) => file !== SETUP_FILE)
        return
      }
      if (!project.config.setupFiles.includes(SETUP_FILE)) project.config.setupFiles.unshift(SETUP_FILE)
      project.provide(PROVIDE_KEY, resolved)
    },
  }
}

function addSetupFile(test: TestConfigLike, options: ResolvedOptions): void {
  const files = test.setupFiles === undefined ? [] : Array.isArray(test.setupFiles) ? test.setupFiles : [test.setupFiles]
  test.setupFiles = [SETUP_FILE, ...files.filter((file) => file !== SETUP_FILE && file !== 'vitest-leaks/setup')]
  test.provide = { ...test.provide, [PROVIDE_KEY]: options }
}

const warned = new Set<string>()
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
