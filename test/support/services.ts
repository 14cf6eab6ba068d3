import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Real PostgreSQL and Redis servers for the integration suite, started on loopback on free ports in a temp dir and
 * stopped at the end. `.ci/run` installs them from Debian's packages when they are missing.
 */
export interface Service {
  /** Environment variables the fixture reads (PGHOST/PGPORT/…, REDIS_PORT). */
  env: Record<string, string>
  stop: () => Promise<void>
}

const START_TIMEOUT_MS = 30_000

export async function startPostgres(): Promise<Service> {
  const bin = postgresBinDir()
  if (!bin) throw new Error('PostgreSQL is not installed (no initdb): `apt-get install -y postgresql` (.ci/run does it when missing)')
  const dir = mkdtempSync(join(tmpdir(), 'vitest-leaks-pg-'))
  const data = join(dir, 'data')
  // postgres refuses to run as root: run it as the `postgres` user the Debian package creates
  const asUser = process.getuid?.() === 0 ? userIds('postgres') : undefined
  if (process.getuid?.() === 0 && !asUser) throw new Error('running as root and there is no `postgres` user to run PostgreSQL as')
  if (asUser) chownSync(dir, asUser.uid, asUser.gid)
  chmodSync(dir, 0o700)
  const initdb = spawnSync(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'], {
    encoding: 'utf8',
    ...(asUser ? { uid: asUser.uid, gid: asUser.gid } : {}),
  })
  if (initdb.status !== 0) throw new Error(`initdb failed:\n${initdb.stdout}\n${initdb.stderr}`)
  const port = await freePort()
  const child = spawn(
    join(bin, 'postgres'),
    ['-D', data, '-p', String(port), '-k', dir, '-h', '127.0.0.1', '-F', '-c', 'max_connections=50', '-c', 'shared_buffers=16MB'],
    { stdio: ['ignore', 'pipe', 'pipe'], ...(asUser ? { uid: asUser.uid, gid: asUser.gid } : {}) },
  )
  const log = collect(child)
  await waitForPort(port, child, log, 'PostgreSQL')
  return {
    env: { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGDATABASE: 'postgres' },
    stop: async () => {
      await stopChild(child, 'SIGINT') // fast shutdown: disconnects clients, no checkpoint wait
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export async function startRedis(): Promise<Service> {
  const bin = which('redis-server')
  if (!bin) throw new Error('Redis is not installed (no redis-server): `apt-get install -y redis-server` (.ci/run does it when missing)')
  const dir = mkdtempSync(join(tmpdir(), 'vitest-leaks-redis-'))
  const port = await freePort()
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const log = collect(child)
  await waitForPort(port, child, log, 'Redis')
  return {
    env: { REDIS_PORT: String(port) },
    stop: async () => {
      await stopChild(child, 'SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql'
  if (existsSync(base)) {
    const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    versions.sort((a, b) => Number(b) - Number(a))
    if (versions[0]) return join(base, versions[0], 'bin')
  }
  const initdb = which('initdb')
  return initdb ? initdb.slice(0, -'/initdb'.length) : undefined
}

function which(command: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' })
  const path = found.stdout.trim()
  return found.status === 0 && path ? path : undefined
}

function userIds(name: string): { uid: number; gid: number } | undefined {
  const id = (flag: string) => spawnSync('id', [flag, name], { encoding: 'utf8' })
  const uid = id('-u')
  const gid = id('-g')
  if (uid.status !== 0 || gid.status !== 0) return undefined
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function collect(child: ChildProcess): { text: string } {
  const log = { text: '' }
  child.stdout?.on('data', (chunk) => (log.text += chunk))
  child.stderr?.on('data', (chunk) => (log.text += chunk))
  return log
}

async function waitForPort(port: number, child: ChildProcess, log: { text: string }, name: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}:\n${log.text}`)
    if (await accepts(port)) {
      // PostgreSQL accepts TCP a moment before it takes queries ("the database system is starting up")
      if (name !== 'PostgreSQL' || /ready to accept connections/.test(log.text)) return
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill('SIGKILL')
  throw new Error(`${name} did not start on port ${port} within ${START_TIMEOUT_MS} ms:\n${log.text}`)
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.once('exit', () => {
      clearTimeout(force)
      resolve()
    })
    child.kill(signal)
  })
}
