/**
 * Session affinity of an HS2 HTTP route: which backend holds each session and operation handle
 * (by GUID, hex) this process has seen handed out. Pure bookkeeping: the clock is injected, nothing
 * here does I/O.
 *
 * Contract:
 * - bounded: at most `maxEntries` handles; inserting past it evicts the longest idle first
 *   (`evictions` counts them);
 * - idle TTL: an entry unused for `ttlMs` is gone (`sweep()` removes them; lookups never return one);
 * - a lookup of an operation also keeps its session alive, and closing a session forgets its
 *   operations.
 * Trap: the Map's insertion order IS the idle order (a touch re-inserts), so eviction and sweeps
 * only ever look at the front; never iterate it to "find the oldest". A touch within `grain` ms of
 * the last one is skipped (a Map delete and set per call cost more than the rest of a lookup): an
 * entry's idle time is measured from a use at most `grain` ms before its last one.
 */
import type { BackendInfo } from '../backends/backend.js'

export type HandleKind = 'session' | 'operation'

interface Entry {
  kind: HandleKind
  /** shared by every entry of that backend (the route's BackendInfo object) */
  backend: BackendInfo
  /** operations: the session they belong to, when known */
  session: string | undefined
  /** sessions: their known operations (created on the first one) */
  ops: Set<string> | undefined
  /** last use, epoch ms */
  at: number
}

export interface AffinityOptions {
  ttlMs: number
  maxEntries: number
  now: () => number
}

export interface AffinityCounts {
  sessions: number
  operations: number
}

export class AffinityTable {
  readonly #map = new Map<string, Entry>()
  readonly #o: AffinityOptions
  /** touches closer together than this are not recorded: min(1 s, ttlMs / 10) */
  readonly #grain: number
  /** entries pushed out by the size bound */
  evictions = 0
  /** entries dropped after the idle TTL */
  expired = 0

  constructor(o: AffinityOptions) {
    this.#o = o
    this.#grain = Math.min(1_000, o.ttlMs / 10)
  }

  get size(): number {
    return this.#map.size
  }

  learnSession(guid: string, backend: BackendInfo): void {
    this.#put(guid, { kind: 'session', backend, session: undefined, ops: undefined, at: 0 })
  }

  /** `session`: the session GUID the creating request carried, if any. */
  learnOperation(guid: string, backend: BackendInfo, session: string | undefined): void {
    this.#put(guid, { kind: 'operation', backend, session, ops: undefined, at: 0 })
    if (session === undefined) return
    const s = this.#map.get(session)
    if (s?.kind !== 'session') return
    if (s.ops === undefined) s.ops = new Set()
    s.ops.add(guid)
  }

  /** The backend of a live handle (and marks it, and its session, as used now). */
  lookup(guid: string): BackendInfo | undefined {
    const e = this.#map.get(guid)
    if (e === undefined) return undefined
    const now = this.#o.now()
    if (now - e.at >= this.#o.ttlMs) {
      this.#remove(guid, e)
      this.expired++
      return undefined
    }
    this.#touch(guid, e, now)
    if (e.session !== undefined) {
      const s = this.#map.get(e.session)
      if (s !== undefined && now - s.at < this.#o.ttlMs) this.#touch(e.session, s, now)
    }
    return e.backend
  }

  /** CloseSession / CloseOperation answered: forget the handle (a session with its operations). */
  forget(guid: string): void {
    const e = this.#map.get(guid)
    if (e !== undefined) this.#remove(guid, e)
  }

  /** The backend left for good: forget every handle on it. Returns how many were forgotten. */
  forgetBackend(key: string): number {
    let n = 0
    for (const [guid, e] of this.#map) {
      if (e.backend.key === key) {
        this.#map.delete(guid)
        n++
      }
    }
    return n
  }

  /** Drop entries idle for the TTL; cheap when nothing expired (looks at the front only). */
  sweep(): number {
    const limit = this.#o.now() - this.#o.ttlMs
    let n = 0
    for (const [guid, e] of this.#map) {
      if (e.at > limit) break
      this.#remove(guid, e)
      n++
    }
    this.expired += n
    return n
  }

  /** Tracked sessions and operations per backend key (for /routes and metrics; walks the table). */
  counts(): Map<string, AffinityCounts> {
    const out = new Map<string, AffinityCounts>()
    for (const e of this.#map.values()) {
      let c = out.get(e.backend.key)
      if (c === undefined) {
        c = { sessions: 0, operations: 0 }
        out.set(e.backend.key, c)
      }
      if (e.kind === 'session') c.sessions++
      else c.operations++
    }
    return out
  }

  #put(guid: string, e: Entry): void {
    const old = this.#map.get(guid)
    if (old !== undefined) {
      this.#map.delete(guid)
      if (old.kind === 'session' && e.kind === 'session') e.ops = old.ops
    }
    e.at = this.#o.now()
    this.#map.set(guid, e)
    // expired entries wait for the owner's periodic sweep (lookups never return them); past the
    // bound the longest idle go first, and those are the expired ones
    while (this.#map.size > this.#o.maxEntries) {
      const first = this.#map.entries().next().value
      if (first === undefined) break
      this.#remove(first[0], first[1])
      this.evictions++
    }
  }

  #touch(guid: string, e: Entry, now: number): void {
    if (now - e.at < this.#grain) return
    e.at = now
    this.#map.delete(guid)
    this.#map.set(guid, e)
  }

  #remove(guid: string, e: Entry): void {
    this.#map.delete(guid)
    if (e.kind === 'session') {
      if (e.ops !== undefined) for (const op of e.ops) this.#map.delete(op)
    } else if (e.session !== undefined) {
      this.#map.get(e.session)?.ops?.delete(guid)
    }
  }
}
