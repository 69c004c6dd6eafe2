import { EventEmitter } from 'node:events'
import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import type { BackendInfo } from '../backends/backend.js'
import type { Discovery, DiscoverySnapshot, DiscoveryStatus, SkippedInstance } from './discovery.js'
import { WatchedRead } from './watched-read.js'
import { isNoNodeError, type ZkSession } from './zk-session.js'

/** What a registration znode means: a backend, or a reason to skip it. Parsers never throw. */
export type ChildParse =
  | { ok: true; backend: BackendInfo }
  | { ok: false; source: string; reason: string }

export interface ZkChildrenDiscoveryOptions {
  session: ZkSession
  /** the parent znode whose children are registrations */
  path: string
  /** reported in status(): 'zookeeper', 'zookeeper-ha', ... */
  kind: string
  /** which children are registrations at all (others are ignored, not even listed as skipped) */
  accept(name: string): boolean
  parse(name: string, data: Buffer): ChildParse
  /**
   * Registration data that changes after creation (HA records flip active/passive) is watched and
   * re-read on every refresh; data that never changes is cached by child name for a session.
   */
  watchData: boolean
  logger: Logger
  /** delay before re-reading after a failed read while the session is connected */
  retryMs: number
}

/**
 * Backends from the children of one znode, driven by watches (never polling). A missing parent
 * is a successful read of zero backends, with an existence watch so its creation is noticed.
 */
export class ZkChildrenDiscovery extends EventEmitter implements Discovery {
  readonly #o: ZkChildrenDiscoveryOptions
  readonly #log: Logger
  readonly #path: string
  readonly #cache = new Map<string, ChildParse>()
  #cacheGeneration = -1
  readonly #reads: WatchedRead
  #lastSuccessAt: number | undefined
  #lastError: { message: string; at: number } | undefined
  #updates = 0
  #errors = 0
  #lastSignature = ''

  constructor(o: ZkChildrenDiscoveryOptions) {
    super()
    this.#o = o
    this.#path = o.path
    this.#log = o.logger.child({
      component: 'discovery',
      path: this.#path,
      quorum: o.session.connectString,
    })
    this.#reads = new WatchedRead({
      session: o.session,
      read: () => this.#readOnce(),
      retryMs: o.retryMs,
    })
  }

  start(): void {
    this.#reads.start()
  }

  stop(): void {
    this.#reads.stop()
  }

  status(): DiscoveryStatus {
    return {
      kind: this.#o.kind,
      source: `${this.#o.session.connectString}${this.#path}`,
      ready: this.#lastSuccessAt !== undefined,
      lastSuccessAt: this.#lastSuccessAt,
      lastError: this.#lastError,
      updates: this.#updates,
      errors: this.#errors,
      session: this.#o.session.state,
    }
  }

  /** Re-read now; concurrent calls coalesce into one more read after the running one. */
  refresh(): Promise<void> {
    return this.#reads.run()
  }

  /** True when the read succeeded. */
  async #readOnce(): Promise<boolean> {
    const session = this.#o.session
    if (session.generation !== this.#cacheGeneration) {
      this.#cache.clear()
      this.#cacheGeneration = session.generation
    }
    let snapshot: DiscoverySnapshot
    try {
      snapshot = await this.#read()
    } catch (err) {
      if (this.#reads.stopped) return false
      this.#errors++
      this.#lastError = { message: errorMessage(err), at: Date.now() }
      this.#log.warn(
        { err: errorMessage(err) },
        'discovery read failed; keeping last known backends',
      )
      this.emit('failure', err)
      return false
    }
    if (this.#reads.stopped) return true
    this.#lastSuccessAt = Date.now()
    this.#updates++
    const signature = JSON.stringify(snapshot)
    if (signature !== this.#lastSignature) {
      this.#lastSignature = signature
      this.#log.info(
        { backends: snapshot.backends.map((b) => b.key), skipped: snapshot.skipped },
        'discovery update',
      )
    }
    this.emit('update', snapshot)
    return true
  }

  async #read(): Promise<DiscoverySnapshot> {
    const session = this.#o.session
    let children: string[]
    try {
      children = await session.getChildren(this.#path, this.#reads.trigger)
    } catch (err) {
      if (!isNoNodeError(err)) throw err
      // Watch for the parent's creation; if it appeared meanwhile, read again.
      if (await session.exists(this.#path, this.#reads.trigger)) return this.#read()
      this.#log.warn('namespace znode does not exist (yet); no instances')
      return { backends: [], skipped: [] }
    }
    const keep = children.filter((c) => this.#o.accept(c)).sort()
    const live = new Set(keep)
    for (const name of this.#cache.keys()) if (!live.has(name)) this.#cache.delete(name)
    const parsed = await Promise.all(keep.map((name) => this.#readChild(name)))
    const backends: BackendInfo[] = []
    const skipped: SkippedInstance[] = []
    const seen = new Set<string>()
    for (const p of parsed) {
      if (p === undefined) continue
      if (!p.ok) {
        skipped.push({ source: p.source, reason: p.reason })
        continue
      }
      if (seen.has(p.backend.key)) {
        // a server restarted within its session timeout can be registered twice for a while
        skipped.push({ source: p.backend.source, reason: `duplicate of ${p.backend.key}` })
        continue
      }
      seen.add(p.backend.key)
      backends.push(p.backend)
    }
    return { backends, skipped }
  }

  /** undefined when the child vanished between listing and reading (it is simply gone). */
  async #readChild(name: string): Promise<ChildParse | undefined> {
    const cached = this.#o.watchData ? undefined : this.#cache.get(name)
    if (cached !== undefined) return cached
    const data = await this.#o.session.getData(
      `${this.#path}/${name}`,
      this.#o.watchData ? this.#reads.trigger : undefined,
    )
    if (data === undefined) return undefined
    const p = this.#o.parse(name, data)
    if (!this.#o.watchData) this.#cache.set(name, p)
    return p
  }
}
