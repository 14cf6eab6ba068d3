import { join } from 'node:path'
import { expect, test } from 'vitest'
import { largeLibraryProblems, writeLibrary } from './support/large-library.js'
import { FIXTURES, runVitest } from './support/run-vitest.js'

// A leak made deep inside a very large bundled library (a CLI bundle of 20 MB): the error handed to Vitest carries
// the user's frames and, of the library, only its first frame (where it set the timer). Vitest's main process reads the file
// of every frame it is handed; each inner frame of such a bundle costs a read and a scan of 20 MB. The code frame
// is still the user's line, and the test that clears its timer passes.
test("the leak's error holds the user's frames and only the library's first frame", async () => {
  const fixture = join(FIXTURES, 'large-library')
  writeLibrary(fixture)
  const run = await runVitest('large-library')
  expect(largeLibraryProblems(run, fixture), run.output).toEqual([])
}, 120_000)
