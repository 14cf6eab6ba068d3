// The benchmark suite under Jest (the `jest` and `jest-detect-open-handles` variants of bench/run.mjs): the same
// files as the Vitest configs, TypeScript compiled by esbuild (bench/jest-transform.cjs), 'vitest' mapped to Jest's
// globals (bench/jest-vitest-shim.cjs). Run by hand from the repository root:
//   node node_modules/jest/bin/jest.js --config bench/jest.config.cjs [--detectOpenHandles] [bench/suite/http.test.ts]
const { join } = require('node:path')

/** @type {import('jest').Config} */
module.exports = {
  rootDir: join(__dirname, '..'),
  // what Jest's file crawler walks: bench/ only, not the whole repository with its node_modules
  roots: ['<rootDir>/bench'],
  testMatch: ['<rootDir>/bench/suite/**/*.test.ts'],
  testEnvironment: 'node',
  transform: { '\\.[cm]?ts$': '<rootDir>/bench/jest-transform.cjs' },
  moduleFileExtensions: ['ts', 'mts', 'cts', 'js', 'mjs', 'cjs', 'json'],
  moduleNameMapper: { '^vitest$': '<rootDir>/bench/jest-vitest-shim.cjs' },
  // Jest's transform cache and test timings, kept with the benchmark's other temporary files
  cacheDirectory: '<rootDir>/.tmp/bench/jest-cache',
  watchman: false,
}
