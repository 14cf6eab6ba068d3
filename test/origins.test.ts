import { cpSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, expect, test } from 'vitest'
import { checkMarkers } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// Where a resource comes from when its own stack has no frame of the test's code: a library that creates it on a later
// tick (a stand-in, and chokidar's watchers after an fs round trip), deep inside a call, or while a module loads; and
// MessagePorts and BroadcastChannels, seen when they start keeping the loop alive. They fail the test that was
// running, at the user's line where it can be found, and say what happened where it cannot. (Libraries whose later
// connections the plugin traces back to the user's call, such as ioredis, undici pools and fetch, and postgres.js,
// are in the integration fixtures.)
const fixture = join(FIXTURES, 'origins')
const files = ['later', 'watch', 'ports', 'deep']
let run: RunOutcome
beforeAll(async () => {
  // a library must live in node_modules to be one; node_modules is not committed, so it is installed here
  for (const name of ['later-lib', 'deep-lib']) {
    const lib = join(fixture, 'node_modules', name)
    rmSync(lib, { recursive: true, force: true })
    mkdirSync(join(fixture, 'node_modules'), { recursive: true })
    cpSync(join(fixture, 'lib', name), lib, { recursive: true })
  }
  run = await runVitest('origins')
})

function errorsOf(file: string, name: string) {
  const module = run.modules.find((m) => m.file === join(fixture, `${file}.test.ts`))
  return [...(module?.tests ?? []), ...(module?.suites ?? [])].find((t) => t.name === name)?.errors ?? []
}

test.each(files)('%s.test.ts: leaks fail the test that was running, at the marked line or with no frame of its file', (name) => {
  expect(run.unhandled, run.output).toEqual([])
  const module = run.modules.find((m) => m.file === join(fixture, `${name}.test.ts`))
  expect(module, run.output).toBeDefined()
  expect(checkMarkers(module!)).toEqual([])
})

test("chokidar's watchers, opened after an fs round trip: the user's `watch()` is the code frame, and says why", () => {
  const [error] = errorsOf('watch', 'leaks: a chokidar watcher never closed')
  expect(error?.message).toContain(
    'chokidar made it on a later tick, out of your stack: the first frames are your last call that constructed a chokidar object',
  )
  // chokidar's own frames follow
  expect(error?.stack).toMatch(/chokidar\/handler\.js:\d+:\d+/)
  // made in a beforeAll, opened while a test ran: the suite's, as its pool's connections are a pool's
  const [suite] = errorsOf('watch', 'a watcher made in a beforeAll')
  expect(suite?.message).toContain('created: in a beforeAll hook of suite "a watcher made in a beforeAll" (through chokidar)')
})

test('a MessagePort and a BroadcastChannel are named, with their fix, and no word of trace mode', () => {
  const [port] = errorsOf('ports', 'leaks: a MessagePort listening, never closed')
  expect(port?.message).toContain('fix:     close it with `port.close()`')
  const [channel] = errorsOf('ports', 'leaks: a BroadcastChannel never closed')
  expect(channel?.message).toContain('BroadcastChannel outlived the test that created it')
  expect(channel?.message).toContain('fix:     close it with `channel.close()`')
  for (const error of [port, channel]) expect(error?.message).not.toContain('TRACE')
})

test('no frame of the user: a stack cut short, and a module loading, are told as what they are, not as a later tick', () => {
  const [timer] = errorsOf('deep', 'leaks: a timer set deep inside a library call')
  expect(timer?.message).toContain('no frame of your code in its stack, which was cut at 8 frames, all in deep-lib or Node')
  const [nested] = errorsOf('deep', 'leaks: a library whose own module sets a timer while it loads')
  expect(nested?.message).toContain('no frame of your code: deep-lib made it while its module loaded')
  const [esm] = errorsOf('deep', 'leaks: a library whose ES module sets a timer while it loads')
  expect(esm?.message).toContain(
    'deep-lib made it while its module loaded (its top-level code ran when it was first imported): the first frame of your code below is that import',
  )
  for (const error of [timer, nested, esm]) expect(error?.message).not.toContain('later tick')
})

test('with no frame of the user, the error names the library and shows its frames', () => {
  const errors = errorsOf('later', 'leaks: a client that connects on a later tick, never closed')
  expect(errors).toHaveLength(2)
  for (const error of errors) {
    expect(error.message).toContain('outlived the test that created it')
    expect(error.message).toContain('created: in this test (through later-lib)')
    expect(error.stack).toMatch(/node_modules\/later-lib\/index\.js:\d+:\d+/)
  }
})
