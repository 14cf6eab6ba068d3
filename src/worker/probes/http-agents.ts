import { loadedHttp } from '../node/builtins.js'
import { followNewEmitters } from './emitter-follow.js'

/** `http.Agent.prototype`, as much of it as the sockets probe patches. */
export type AgentPrototype = { addRequest: Function }

/**
 * Calls `patch` with `http.Agent.prototype` (which https.Agent inherits), now if `node:http` is loaded, else as it
 * loads: before that no agent, and so no request, can exist, and the plugin does not load it itself (see
 * `loadedHttp`). Loading it makes Node's global agent, which is the first agent ever made: seen among the new
 * emitters, its prototype is patched before `node:http` has even returned. Returns the undo of the patch.
 */
export function followAgentPrototype(patch: (prototype: AgentPrototype) => () => void): () => void {
  const http = loadedHttp()
  if (http) return patch(http.Agent.prototype as unknown as AgentPrototype)
  let undo: (() => void) | undefined
  const unfollow = followNewEmitters((_emitter, _skip, emitterPrototype) => {
    if (undo) return
    const prototype = emitterPrototype as (Partial<AgentPrototype> & { createConnection?: unknown }) | null
    if (typeof prototype?.addRequest !== 'function' || typeof prototype.createConnection !== 'function') return
    undo = patch(prototype as AgentPrototype)
    unfollow()
  })
  return () => {
    unfollow()
    undo?.()
  }
}
