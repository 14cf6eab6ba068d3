// A Vitest reporter for the project's own tests: writes every test's and suite's state and errors as JSON to the
// file named by OUTCOME_FILE, so assertions can read exactly which tests failed with which messages and frames.
import { writeFileSync } from 'node:fs'

function serialize(errors) {
  const out = []
  for (const error of errors ?? []) {
    const cause = error?.cause?.message
    out.push({ name: error?.name, message: error?.message ?? String(error), stack: error?.stack ?? '', ...(cause ? { cause } : {}) })
  }
  return out
}

function fullName(entity) {
  const names = []
  for (let e = entity; e && e.type !== 'module'; e = e.parent) names.unshift(e.name)
  return names.join(' > ')
}

export default class OutcomeReporter {
  onTestRunEnd(testModules, unhandledErrors) {
    const modules = []
    for (const module of testModules) {
      const tests = []
      for (const test of module.children.allTests()) {
        const result = test.result()
        tests.push({
          name: fullName(test),
          state: result.state,
          line: test.location?.line,
          duration: test.diagnostic()?.duration,
          errors: serialize(result.errors),
        })
      }
      const suites = []
      for (const suite of module.children.allSuites()) {
        suites.push({ name: fullName(suite), state: suite.state(), line: suite.location?.line, errors: serialize(suite.errors()) })
      }
      modules.push({ file: module.moduleId, state: module.state(), errors: serialize(module.errors()), tests, suites })
    }
    writeFileSync(process.env.OUTCOME_FILE, JSON.stringify({ modules, unhandled: serialize(unhandledErrors) }, null, 2))
  }
}
