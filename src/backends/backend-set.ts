import { newBackendState, type BackendInfo, type BackendState } from './backend.js'

export interface ResetResult {
  added: string[]
  removed: string[]
  changed: string[]
}

/**
 * The backends of one route. `reset()` applies a successful discovery read: new keys are added,
 * vanished keys are unlisted at once (no new connections) and forgotten when their last live
 * connection ends; state of keys that stay (counters, ejection) survives.
 */
export class BackendSet {
  readonly #byKey = new Map<string, BackendState>()
  #order: string[] = []
  /** listed() computed once per change, not per connection */
  #listed: readonly BackendState[] | undefined

  reset(list: readonly BackendInfo[]): ResetResult {
    const result: ResetResult = { added: [], removed: [], changed: [] }
    this.#listed = undefined
    this.#order = list.map((b) => b.key)
    const next = new Map(list.map((b) => [b.key, b]))
    for (const [key, state] of this.#byKey) {
      const info = next.get(key)
      if (info === undefined) {
        if (state.listed) result.removed.push(key)
        state.listed = false
        if (state.active === 0) this.#byKey.delete(key)
        continue
      }
      if (!state.listed) result.added.push(key)
      else if (
        state.leader !== info.leader ||
        state.source !== info.source ||
        state.path !== info.path ||
        state.ssl !== info.ssl ||
        state.authentication !== info.authentication ||
        state.principal !== info.principal
      )
        result.changed.push(key)
      state.listed = true
      state.source = info.source
      state.leader = info.leader
      state.path = info.path
      state.ssl = info.ssl
      state.authentication = info.authentication
      state.principal = info.principal
    }
    for (const [key, info] of next) {
      if (this.#byKey.has(key)) continue
      this.#byKey.set(key, newBackendState(info))
      result.added.push(key)
    }
    return result
  }

  get(key: string): BackendState | undefined {
    return this.#byKey.get(key)
  }

  /** Listed backends, in key order (stable, so round-robin is predictable). Shared: do not mutate. */
  listed(): readonly BackendState[] {
    this.#listed ??= [...this.#byKey.values()]
      .filter((b) => b.listed)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    return this.#listed
  }

  /** Listed backends in the order discovery gave them (a metastore URI list's configured order). */
  inOrder(): BackendState[] {
    return this.#order
      .map((k) => this.#byKey.get(k))
      .filter((b): b is BackendState => b?.listed === true)
  }

  all(): BackendState[] {
    return [...this.#byKey.values()]
  }

  /** Call when a proxied connection on `key` ends; forgets an unlisted backend once idle. */
  release(key: string): void {
    const s = this.#byKey.get(key)
    if (s === undefined) return
    s.active = Math.max(0, s.active - 1)
    if (!s.listed && s.active === 0) this.#byKey.delete(key)
  }
}
