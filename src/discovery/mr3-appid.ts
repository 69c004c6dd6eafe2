import type { Logger } from '../logger.js'
import { errorMessage } from '../errors.js'
import type { ZkSession } from './zk-session.js'

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
 * Watched (data watch, or an existence watch while absent) and re-read on every new session.
 */
export class Mr3AppIdWatcher {
  readonly #session: ZkSession
  readonly #path: string
  readonly #log: Logger
  readonly #status: Mr3AppIdStatus
  #stopped = true
  readonly #onWatch = (): void => void this.#read()

  constructor(session: ZkSession, namespace: string, logger: Logger) {
    this.#session = session
    this.#path = `/${namespace}/appId`
    this.#log = logger.child({ component: 'mr3-appid', path: this.#path })
    this.#status = { namespace, appId: undefined, changedAt: undefined, lastError: undefined }
  }

  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#session.on('ready', this.#onWatch)
    if (this.#session.state === 'connected') void this.#read()
  }

  stop(): void {
    this.#stopped = true
    this.#session.off('ready', this.#onWatch)
  }

  status(): Mr3AppIdStatus {
    return { ...this.#status }
  }

  async #read(): Promise<void> {
    if (this.#stopped) return
    try {
      let data = await this.#session.getData(this.#path, this.#onWatch)
      if (data === undefined && (await this.#session.exists(this.#path, this.#onWatch))) data = await this.#session.getData(this.#path, this.#onWatch)
      const appId = data === undefined ? undefined : data.toString('utf8').trim()
      this.#status.lastError = undefined
      if (appId !== this.#status.appId || this.#status.changedAt === undefined) {
        if (this.#status.changedAt !== undefined) this.#log.info({ from: this.#status.appId, to: appId }, 'MR3 application id changed')
        this.#status.appId = appId
        this.#status.changedAt = Date.now()
      }
    } catch (err) {
      this.#status.lastError = errorMessage(err)
    }
  }
}
