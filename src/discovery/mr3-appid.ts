import type { Logger } from '../logger.js'
import { errorMessage } from '../errors.js'
import type { ZkSession } from './zk-session.js'
import { WatchedRead } from './watched-read.js'

export interface Mr3AppIdStatus {
  namespace: string
  /** current DAGAppMaster application id; undefined while the znode is absent */
  appId: string | undefined
  /** epoch ms of the last change seen (first read included) */
  changedAt: number | undefined
  lastError: string | undefined
}

/**
 * Hive on MR3: HS2 instances share one DAGAppMaster and the leader publishes its application id as
 * text in `/<hive.mr3.zookeeper.appid.namespace>/appId`, rewriting it when it launches a new one.
 * Watched (data watch, or an existence watch while absent), re-read on every new session, and
 * retried after a failed read.
 */
export class Mr3AppIdWatcher {
  readonly #session: ZkSession
  readonly #path: string
  readonly #log: Logger
  readonly #status: Mr3AppIdStatus
  readonly #reads: WatchedRead

  constructor(session: ZkSession, namespace: string, logger: Logger, retryMs: number) {
    this.#session = session
    this.#path = `/${namespace}/appId`
    this.#log = logger.child({ component: 'mr3-appid', path: this.#path })
    this.#status = { namespace, appId: undefined, changedAt: undefined, lastError: undefined }
    this.#reads = new WatchedRead({ session, read: () => this.#read(), retryMs })
  }

  start(): void {
    this.#reads.start()
  }

  stop(): void {
    this.#reads.stop()
  }

  status(): Mr3AppIdStatus {
    return { ...this.#status }
  }

  /** True when the read succeeded. */
  async #read(): Promise<boolean> {
    try {
      let data = await this.#session.getData(this.#path, this.#reads.trigger)
      if (data === undefined && (await this.#session.exists(this.#path, this.#reads.trigger)))
        data = await this.#session.getData(this.#path, this.#reads.trigger)
      const appId = data === undefined ? undefined : data.toString('utf8').trim()
      this.#status.lastError = undefined
      if (appId !== this.#status.appId || this.#status.changedAt === undefined) {
        if (this.#status.changedAt !== undefined)
          this.#log.info({ from: this.#status.appId, to: appId }, 'MR3 application id changed')
        this.#status.appId = appId
        this.#status.changedAt = Date.now()
      }
      return true
    } catch (err) {
      this.#status.lastError = errorMessage(err)
      return false
    }
  }
}
