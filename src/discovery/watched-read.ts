import type { ZkSession } from './zk-session.js'

export interface WatchedReadOptions {
  session: ZkSession
  /** one read, re-arming its watches; resolves true when it succeeded, false when it failed (the reader logs why) */
  read: () => Promise<boolean>
  /** a failed read is tried again after this long while the session is connected */
  retryMs: number
}

/**
 * The life of a read driven by ZooKeeper watches, shared by every reader (discovery, drain marks,
 * the MR3 application id):
 * - `start()` reads at once when connected, and again on every 'ready' of the session (a new
 *   session, or the same one back: watches must be re-armed);
 * - `trigger` is the watcher to pass to ZooKeeper (a stable function: the client dedupes it);
 * - runs never overlap: a trigger during a read asks for exactly one more read after it, so a
 *   watch that fires mid-read is never lost and a burst costs two reads;
 * - a failed read is retried after `retryMs` while the session is connected; otherwise the next
 *   'ready' brings the next read;
 * - nothing runs after `stop()`.
 */
export class WatchedRead {
  readonly #o: WatchedReadOptions
  #stopped = true
  #running = false
  #again = false
  #retry: NodeJS.Timeout | undefined
  readonly trigger = (): void => void this.run()

  constructor(o: WatchedReadOptions) {
    this.#o = o
  }

  get stopped(): boolean {
    return this.#stopped
  }

  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#o.session.on('ready', this.trigger)
    if (this.#o.session.state === 'connected') this.trigger()
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#retry)
    this.#o.session.off('ready', this.trigger)
  }

  /** Read now, or once more after the running read. */
  async run(): Promise<void> {
    if (this.#stopped) return
    if (this.#running) {
      this.#again = true
      return
    }
    this.#running = true
    try {
      do {
        this.#again = false
        const ok = await this.#o.read()
        if (this.#stopped) break
        clearTimeout(this.#retry)
        if (!ok && this.#o.session.state === 'connected') {
          this.#retry = setTimeout(this.trigger, this.#o.retryMs)
          this.#retry.unref()
        }
      } while (this.#again && !this.#stopped)
    } finally {
      this.#running = false
    }
  }
}
