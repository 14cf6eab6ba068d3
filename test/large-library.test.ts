import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, expect, test } from 'vitest'
import { checkMarkers } from './support/markers.js'
import { FIXTURES, runVitest, type RunOutcome } from './support/run-vitest.js'

// A leak made deep inside a very large bundled library (a CLI bundle of 20 MB): the error handed to Vitest carries
// the user's frames and, of the library, only the frame the user's code called. Vitest's main process reads the file
// of every frame it is handed; each inner frame of such a bundle costs a read and a scan of 20 MB.
const FIXTURE = join(FIXTURES, 'large-library')
const LIBRARY = join(FIXTURE, 'node_modules', 'big-cli')
const BUNDLE = join(LIBRARY, 'cli.js')
const PADDING_BYTES = 20 * 1024 * 1024

/** Writes the library (once: it is kept between runs, and ignored by git): 20 MB of code, then its entry points. */
function writeLibrary(): void {
  if (existsSync(BUNDLE) && statSync(BUNDLE).size > PADDING_BYTES) return
  mkdirSync(LIBRARY, { recursive: true })
  writeFileSync(join(LIBRARY, 'package.json'), `${JSON.stringify({ name: 'big-cli', version: '1.0.0', main: 'cli.js' }, null, 2)}\n`)
  const line = (i: number) => `function bundled${i}(value) { return value === ${i} ? 'module ${i} of a bundled CLI' : undefined }\n`
  const chunks: string[] = ["'use strict'\n"]
  let size = 0
  for (let i = 0; size < PADDING_BYTES; i++) {
    const text = line(i)
    chunks.push(text)
    size += text.length
  }
  chunks.push(`
class Cli {
  constructor(options) {
    this.options = options
  }
  start() {
    return this.schedule()
  }
  schedule() {
    return scheduleTick(() => {}, 60_000)
  }
}
function scheduleTick(callback, ms) {
  return setTimeout(callback, ms)
}
exports.run = function run(options) {
  return new Cli(options).start()
}
exports.stop = function stop(timer) {
  clearTimeout(timer)
}
`)
  writeFileSync(BUNDLE, chunks.join(''))
}

let run: RunOutcome
beforeAll(async () => {
  writeLibrary()
  run = await runVitest('large-library')
}, 120_000)

test('the leak fails its test at the user\'s line; the clean test passes', () => {
  const module = run.modules.find((m) => m.file === join(FIXTURE, 'cli.test.ts'))
  expect(module, run.output).toBeDefined()
  expect(checkMarkers(module!)).toEqual([])
})

test("the error's stack holds the user's frames and only the library's entry frame", () => {
  const module = run.modules.find((m) => m.file === join(FIXTURE, 'cli.test.ts'))!
  const [error] = module.tests.find((t) => t.name.startsWith('leaks:'))!.errors
  const frames = error!.stack.split('\n').filter((line) => /^\s+at /.test(line))
  const library = frames.filter((line) => line.includes(BUNDLE))
  expect(library, error!.stack).toHaveLength(1)
  expect(library[0], error!.stack).toMatch(/\bat (?:Object\.)?run \(/)
  const user = frames.filter((line) => line.includes(join(FIXTURE, 'cli.test.ts')))
  // startCli, and the test that called it
  expect(user.map((line) => /:(\d+):\d+\)?$/.exec(line)?.[1]), error!.stack).toEqual(['5', '9'])
  // nothing else: no Vitest runner frames below the test
  expect(frames, error!.stack).toEqual([...library, ...user].sort((a, b) => frames.indexOf(a) - frames.indexOf(b)))
})
