import { errorCode, errorMessage } from '../errors.js'
import type { SharedDrainStatus, ZkDrainMarks } from '../discovery/zk-drain-marks.js'

/** A route's drain marks as given to it: its own (kept across reloads by the proxy) and, for ZooKeeper routes, the shared ones. */
export interface DrainMarks {
  local: Set<string>
  shared: ZkDrainMarks | undefined
}

/** Result of an operator's drain or undrain. */
export interface DrainResult {
  /** the route knows this backend (listed, live, or marked) */
  known: boolean
  /** the effect, not the request: a mark that could not be cleared keeps a backend draining */
  draining: boolean
  /** the mark was written to ZooKeeper for every proxy (false: this proxy only, or a static route) */
  shared: boolean
  /** why writing the shared mark failed (`HHP_ERR_...: message`); this proxy's own mark is applied anyway */
  error: string | undefined
}

export interface DrainSnapshot {
  local: string[]
  shared: SharedDrainStatus | undefined
}

/**
 * Which backends of one route are draining: marks of this proxy, and on a ZooKeeper route the
 * marks every proxy on the registry shares. A ZooKeeper route writes its marks there and keeps one
 * of its own only when that write failed; a static route has only its own.
 */
export class RouteDrain {
  readonly #local: Set<string>
  #shared: ZkDrainMarks | undefined

  constructor(marks: DrainMarks) {
    this.#local = marks.local
    this.#shared = marks.shared
  }

  get shared(): ZkDrainMarks | undefined {
    return this.#shared
  }

  /** Runs on every new connection: answered from memory. */
  has(key: string): boolean {
    return this.#local.has(key) || this.#shared?.has(key) === true
  }

  start(): void {
    this.#shared?.start()
  }

  stop(): void {
    this.#shared?.stop()
  }

  /** A retargeted route gets the shared marks of its new registry (local marks stay). */
  replaceShared(next: ZkDrainMarks | undefined, running: boolean): void {
    this.#shared?.stop()
    this.#shared = next
    if (running) next?.start()
  }

  /** Mark (`on`) or unmark; resolves once ZooKeeper took the shared mark or refused it. */
  async set(key: string, on: boolean): Promise<{ shared: boolean; error: string | undefined }> {
    const shared = this.#shared
    let error: string | undefined
    if (shared !== undefined) {
      try {
        await shared.set(key, on)
      } catch (err) {
        error = `${errorCode(err)}: ${errorMessage(err)}`
      }
    }
    if (on && (shared === undefined || error !== undefined)) this.#local.add(key)
    else this.#local.delete(key)
    return { shared: shared !== undefined && error === undefined, error }
  }

  /** Why a new route is not ready yet; a read that failed does not hold it back (the marks are an operator's tool). */
  notReady(): string | undefined {
    const m = this.#shared?.status()
    return m !== undefined && !m.ready && m.lastError === undefined
      ? 'shared drain marks not read yet'
      : undefined
  }

  snapshot(): DrainSnapshot {
    return { local: [...this.#local].sort(), shared: this.#shared?.status() }
  }
}
