// A Vitest reporter used by scripts/demo.mjs next to the JSON reporter. The JSON report lists the errors of each test
// but not those of a suite or a file (a leak found after a suite's afterAll fails the suite, not a test), nor
// unhandled errors: this writes them to the file named by VITEST_LEAKS_DEMO_HOOK_ERRORS.
import { writeFileSync } from 'node:fs'

const brief = (error) => ({ name: error.name, message: error.message ?? String(error), stack: error.stack })

export default class HookErrorsReporter {
  onTestRunEnd(testModules, unhandledErrors) {
    const output = process.env.VITEST_LEAKS_DEMO_HOOK_ERRORS
    if (!output) return
    const entries = []
    for (const module of testModules) {
      const file = module.moduleId
      if (module.errors().length > 0) entries.push({ file, suite: null, errors: module.errors().map(brief) })
      for (const suite of module.children.allSuites()) {
        if (suite.errors().length > 0) entries.push({ file, suite: suite.fullName, errors: suite.errors().map(brief) })
      }
    }
    writeFileSync(output, JSON.stringify({ entries, unhandled: unhandledErrors.map(brief) }, null, 2))
  }
}
