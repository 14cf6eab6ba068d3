/**
 * Whether this code runs inside a vm context (the vm pools, vmThreads and vmForks), from a check that needs no
 * module: Node made `process.versions` at startup, in the worker's own context, so its prototype is this context's
 * `Object.prototype` everywhere but in a vm context. No imports, so the setup entry can ask before it loads anything.
 */
export function inVmContextFast(): boolean {
  return Object.getPrototypeOf(process.versions) !== Object.prototype
}
