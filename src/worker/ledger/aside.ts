import type { Ledger, Probe, Scope, ScopePhase } from './ledger.js'

/** One scope's resources of one phase (a suite's beforeAll, its afterAll), kept aside. */
interface AsideList<R> {
  scope: Scope
  phase: ScopePhase
  resources: R[]
  pruneAt: number
}

const PRUNE_START = 1024

/**
 * Resources of a `fresh` probe made by the ten thousand past a scope's budget of stacks, nearly all closed long
 * before the check (timers, immediates): kept aside in a list of their own, one slot each (`Ledger.note` takes
 * five), dropped when closed without asking the probe (`isClosed`, a field read), and noted by the probe's
 * `collect` only if still open at the check. A test that sets 20 000 timers pays a tenth of a microsecond for each.
 */
export class Aside<R extends object> {
  readonly #byScope = new WeakMap<Scope, AsideList<R>[]>()
  #last: AsideList<R> | undefined

  constructor(readonly isClosed: (resource: R) => boolean) {}

  keep(resource: R, scope: Scope): void {
    let list = this.#last
    if (list === undefined || list.scope !== scope || list.phase !== scope.phase) {
      list = { scope, phase: scope.phase, resources: [], pruneAt: PRUNE_START }
      let lists = this.#byScope.get(scope)
      if (!lists) this.#byScope.set(scope, (lists = []))
      lists.push(list)
      this.#last = list
    }
    const kept = list.resources
    // most are closed before the next one is made (a request's timer, a one-off immediate): let go of from the end
    // now, they are not kept alive until the next prune, through young-generation collections that copy them and
    // what their callbacks hold, and into the old generation. The new one takes the first free slot: shortening the
    // array would have V8 shrink its store, and grow it again at the push (a new store per timer)
    let end = kept.length
    while (end > 0 && this.isClosed(kept[end - 1]!)) end--
    if (end === kept.length) kept.push(resource)
    else {
      kept[end] = resource
      if (end + 1 < kept.length) kept.length = end + 1
    }
    if (kept.length >= list.pruneAt) {
      let at = 0
      for (let i = 0; i < kept.length; i++) if (!this.isClosed(kept[i]!)) kept[at++] = kept[i]!
      kept.length = at
      list.pruneAt = Math.max(PRUNE_START, at * 2)
    }
  }

  /** For the probe's `collect`: notes what `scope` kept aside and is still open, and forgets the rest. */
  collect(scope: Scope, ledger: Ledger, probe: Probe<R>): void {
    const lists = this.#byScope.get(scope)
    if (!lists) return
    this.#byScope.delete(scope)
    if (this.#last?.scope === scope) this.#last = undefined
    for (const list of lists) {
      for (const resource of list.resources) if (!this.isClosed(resource)) ledger.noteOverBudget(resource, probe, scope, list.phase)
    }
  }
}
