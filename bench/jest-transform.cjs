// Jest transformer for the benchmark: TypeScript test files to CommonJS with esbuild's transformSync, nothing else
// (no type checking, no Babel), so Jest's numbers are not a TypeScript compiler's. esbuild is already installed for
// tsup and Vite; it is taken from wherever npm put it.
const { createHash } = require('node:crypto')
const { readFileSync } = require('node:fs')

function loadEsbuild() {
  try {
    return require('esbuild')
  } catch {
    for (const owner of ['tsup', 'vite']) {
      try {
        return require(require.resolve('esbuild', { paths: [require.resolve(`${owner}/package.json`)] }))
      } catch {}
    }
    throw new Error('bench/jest-transform.cjs: esbuild is not installed (it comes with tsup and vite); run `npm install`')
  }
}

const esbuild = loadEsbuild()
const self = readFileSync(__filename)

module.exports = {
  // Jest caches what a transformer returns; the key changes with the file, this transformer and esbuild's version.
  getCacheKey(sourceText, sourcePath) {
    return createHash('sha256').update(self).update(esbuild.version).update(sourcePath).update('\0').update(sourceText).digest('hex')
  },
  process(sourceText, sourcePath) {
    const { code, map } = esbuild.transformSync(sourceText, {
      loader: sourcePath.endsWith('.ts') || sourcePath.endsWith('.mts') || sourcePath.endsWith('.cts') ? 'ts' : 'js',
      format: 'cjs',
      target: `node${process.versions.node.split('.')[0]}`,
      sourcemap: 'external',
      sourcefile: sourcePath,
    })
    return { code, map }
  },
}
