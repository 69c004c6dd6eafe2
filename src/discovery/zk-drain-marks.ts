import { ErrorCodes, ProxyError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { WatchedRead } from './watched-read.js'
import { isNoNodeError, type ZkSession } from './zk-session.js'

/** Where every proxy keeps the drain marks of one registry namespace (below the quorum's chroot). */
export const DRAIN_ROOT = '/hive-ha-proxy/drain'

export function drainPath(namespace: string): string {
  return `${DRAIN_ROOT}/${namespace}`
}

export interface SharedDrainStatus {
  /** quorum and path */
  source: string
  /** the marks have been read at least once */
  ready: boolean
  /** backend keys marked draining */
  keys: string[]
  lastError: { message: string; at: number } | undefined
}

/**
 * Drain marks shared by every proxy that routes to the same ZooKeeper registry (design.md decision
 * 11): one persistent child per draining backend key (`host:port`) under `drainPath(namespace)`,
 * on the same quorum and session as the route's discovery. Read with a children watch, never
 * polled; a missing parent means no marks, with an existence watch for its creation.
 *
 * Contract: `has()` is answered from memory (it runs on every new connection). `set()` writes and
 * resolves once ZooKeeper accepted the change; the watch then brings it to every proxy, this one
 * included. A failed read keeps the last known marks and is retried like a discovery read.
 */
export class ZkDrainMarks {
  readonly #session: ZkSession
  readonly #path: string
  readonly #log: Logger
  #keys: ReadonlySet<string> = new Set()
  #ready = false
  readonly #reads: WatchedRead
  #lastError: { message: string; at: number } | undefined
  /** local writes so far: a read that started before the latest one is stale and dropped */
  #writes = 0

  constructor(session: ZkSession, namespace: string, logger: Logger, retryMs: number) {
    this.#session = session
    this.#path = drainPath(namespace)
    this.#log = logger.child({
      component: 'drain-marks',
      path: this.#path,
      quorum: session.connectString,
    })
    this.#reads = new WatchedRead({ session, read: () => this.#readOnce(), retryMs })
  }

  start(): void {
    this.#reads.start()
  }

  stop(): void {
    this.#reads.stop()
  }

  has(key: string): boolean {
    return this.#keys.has(key)
  }

  status(): SharedDrainStatus {
    return {
      source: `${this.#session.connectString}${this.#path}`,
      ready: this.#ready,
      keys: [...this.#keys].sort(),
      lastError: this.#lastError,
    }
  }

  /** Mark (`on`) or unmark `key` for every proxy; rejects with HHP_ERR_ZK_WRITE. */
  async set(key: string, on: boolean): Promise<void> {
    // keys are host:port or [v6]:port, valid znode names as they are
    if (key === '' || key.includes('/') || key === '.' || key === '..')
      throw new ProxyError(ErrorCodes.ZK_WRITE, `"${key}" cannot be a znode name`)
    const node = `${this.#path}/${key}`
    if (on) await this.#session.createPersistent(node)
    else await this.#session.remove(node)
    // ZooKeeper accepted it: apply it here now; the watch's re-read confirms it
    const keys = new Set(this.#keys)
    if (on) keys.add(key)
    else keys.delete(key)
    this.#keys = keys
    this.#writes++
    void this.refresh()
  }

  /** Re-read now; concurrent calls coalesce into one more read after the running one. */
  refresh(): Promise<void> {
    return this.#reads.run()
  }

  /** True when the read succeeded. */
  async #readOnce(): Promise<boolean> {
    const writes = this.#writes
    let names: string[]
    try {
      names = await this.#read()
    } catch (err) {
      if (this.#reads.stopped) return false
      this.#lastError = { message: errorMessage(err), at: Date.now() }
      this.#log.warn(
        { err: errorMessage(err) },
        'reading shared drain marks failed; keeping the last known ones',
      )
      return false
    }
    // Trap: creating the first mark creates its parent, whose existence watch starts a read that
    // can list the parent before the mark and finish after set() applied it; such a read would
    // undo the mark here until the next one. set() already asked for that next read.
    if (this.#reads.stopped || writes !== this.#writes) return true
    const keys = new Set(names)
    const before = [...this.#keys].sort().join(',')
    this.#keys = keys
    this.#ready = true
    this.#lastError = undefined
    if ([...keys].sort().join(',') !== before)
      this.#log.info({ draining: [...keys].sort() }, 'shared drain marks changed')
    return true
  }

  async #read(): Promise<string[]> {
    try {
      return await this.#session.getChildren(this.#path, this.#reads.trigger)
    } catch (err) {
      if (!isNoNodeError(err)) throw err
      if (await this.#session.exists(this.#path, this.#reads.trigger)) return this.#read()
      return []
    }
  }
}
