import { EventEmitter } from 'node:events'
import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import type { BackendInfo } from '../backends/backend.js'
import type { Discovery, DiscoverySnapshot, DiscoveryStatus, SkippedInstance } from './discovery.js'
import { isServerUriChild, parseHs2Znode, type ZnodeParse } from './hs2-znode.js'
import { haRegistryRoot, isHaInstanceChild, parseHaRecord } from './ha-record.js'
import { isNoNodeError, type ZkSession } from './zk-session.js'

export interface Hs2ZkDiscoveryOptions {
  session: ZkSession
  namespace: string
  /** active/passive registry: only the leader becomes a backend */
  ha: boolean
  logger: Logger
  /** delay before re-reading after a failed read while the session is connected */
  retryMs: number
}

/**
 * HS2 instances from ZooKeeper, driven by watches (never polling):
 * - `zooKeeper` mode: children of `/<ns>`; only `serverUri=` children are instances (others, like
 *   the privilege synchronizer's `leader`, are ignored). Instance data never changes after
 *   registration, so parsed data is cached by child name for the life of a session.
 * - `zooKeeperHA` mode: children `instance-*` of `/<ns>-unsecure/instances`, whose JSON data
 *   changes on leadership moves, so every child's data is watched and re-read.
 * A missing parent znode is a successful read of zero instances, with an existence watch.
 */
export class Hs2ZkDiscovery extends EventEmitter implements Discovery {
  readonly #o: Hs2ZkDiscoveryOptions
  readonly #log: Logger
  readonly #path: string
  readonly #cache = new Map<string, ZnodeParse>()
  #cacheGeneration = -1
  #running = false
  #again = false
  #stopped = true
  #retry: NodeJS.Timeout | undefined
  #lastSuccessAt: number | undefined
  #lastError: { message: string; at: number } | undefined
  #updates = 0
  #errors = 0
  #lastSignature = ''
  readonly #onWatch = (): void => void this.refresh()
  readonly #onReady = (): void => void this.refresh()

  constructor(o: Hs2ZkDiscoveryOptions) {
    super()
    this.#o = o
    this.#path = o.ha ? `${haRegistryRoot(o.namespace)}/instances` : `/${o.namespace}`
    this.#log = o.logger.child({ component: 'discovery', path: this.#path, quorum: o.session.connectString })
  }

  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#o.session.on('ready', this.#onReady)
    if (this.#o.session.state === 'connected') void this.refresh()
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#retry)
    this.#o.session.off('ready', this.#onReady)
  }

  status(): DiscoveryStatus {
    return {
      kind: this.#o.ha ? 'zookeeper-ha' : 'zookeeper',
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
  async refresh(): Promise<void> {
    if (this.#stopped) return
    if (this.#running) {
      this.#again = true
      return
    }
    this.#running = true
    try {
      do {
        this.#again = false
        await this.#readOnce()
      } while (this.#again && !this.#stopped)
    } finally {
      this.#running = false
    }
  }

  async #readOnce(): Promise<void> {
    const session = this.#o.session
    if (session.generation !== this.#cacheGeneration) {
      this.#cache.clear()
      this.#cacheGeneration = session.generation
    }
    let snapshot: DiscoverySnapshot
    try {
      snapshot = await this.#read()
    } catch (err) {
      if (this.#stopped) return
      this.#errors++
      this.#lastError = { message: errorMessage(err), at: Date.now() }
      this.#log.warn({ err: errorMessage(err) }, 'discovery read failed; keeping last known backends')
      this.emit('failure', err)
      this.#scheduleRetry()
      return
    }
    if (this.#stopped) return
    clearTimeout(this.#retry)
    this.#lastSuccessAt = Date.now()
    this.#updates++
    const signature = JSON.stringify(snapshot)
    if (signature !== this.#lastSignature) {
      this.#lastSignature = signature
      this.#log.info({ backends: snapshot.backends.map((b) => b.key), skipped: snapshot.skipped }, 'discovery update')
    }
    this.emit('update', snapshot)
  }

  async #read(): Promise<DiscoverySnapshot> {
    const session = this.#o.session
    let children: string[]
    try {
      children = await session.getChildren(this.#path, this.#onWatch)
    } catch (err) {
      if (!isNoNodeError(err)) throw err
      // Watch for the parent's creation; if it appeared meanwhile, read again.
      if (await session.exists(this.#path, this.#onWatch)) return this.#read()
      this.#log.warn('namespace znode does not exist (yet); no instances')
      return { backends: [], skipped: [] }
    }
    const keep = children.filter((c) => (this.#o.ha ? isHaInstanceChild(c) : isServerUriChild(c)))
    const live = new Set(keep)
    for (const name of this.#cache.keys()) if (!live.has(name)) this.#cache.delete(name)
    const parsed = await Promise.all(keep.map((name) => this.#readChild(name)))
    const backends: BackendInfo[] = []
    const skipped: SkippedInstance[] = []
    const seen = new Set<string>()
    for (const p of parsed) {
      if (p === undefined) continue
      if (!p.ok) {
        skipped.push({ source: p.znode, reason: p.reason })
        continue
      }
      const i = p.instance
      if (this.#o.ha && i.leader !== true) {
        skipped.push({ source: i.znode, reason: 'passive (not the leader)' })
        continue
      }
      if (seen.has(i.key)) {
        // an HS2 restarted within its session timeout can be registered twice for a while
        skipped.push({ source: i.znode, reason: `duplicate of ${i.key}` })
        continue
      }
      seen.add(i.key)
      const b: BackendInfo = { key: i.key, host: i.host, port: i.port, source: i.znode }
      if (this.#o.ha) b.leader = true
      backends.push(b)
    }
    return { backends, skipped }
  }

  /** undefined when the child vanished between listing and reading (it is simply gone). */
  async #readChild(name: string): Promise<ZnodeParse | undefined> {
    const cached = this.#o.ha ? undefined : this.#cache.get(name)
    if (cached !== undefined) return cached
    const data = await this.#o.session.getData(`${this.#path}/${name}`, this.#o.ha ? this.#onWatch : undefined)
    if (data === undefined) return undefined
    const p = this.#o.ha ? parseHaRecord(name, data) : parseHs2Znode(name, data)
    if (!this.#o.ha) this.#cache.set(name, p)
    return p
  }

  #scheduleRetry(): void {
    clearTimeout(this.#retry)
    if (this.#o.session.state !== 'connected') return // the session's 'ready' triggers the next read
    this.#retry = setTimeout(() => void this.refresh(), this.#o.retryMs)
    this.#retry.unref()
  }
}
