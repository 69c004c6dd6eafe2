import { EventEmitter } from 'node:events'
import { backendKey, type BackendInfo } from '../backends/backend.js'
import type { HostPort } from '../config/types.js'
import type { Discovery, DiscoveryStatus } from './discovery.js'

/** A fixed backend list (a direct JDBC URL); ready as soon as it starts. */
export class StaticDiscovery extends EventEmitter implements Discovery {
  readonly #backends: BackendInfo[]
  #startedAt: number | undefined

  constructor(list: readonly HostPort[], path?: string) {
    super()
    this.#backends = list.map((h) => {
      const b: BackendInfo = {
        key: backendKey(h.host, h.port),
        host: h.host,
        port: h.port,
        source: 'static',
      }
      if (path !== undefined) b.path = path
      return b
    })
  }

  start(): void {
    this.#startedAt = Date.now()
    // after the caller has attached its listeners
    queueMicrotask(() => this.emit('update', { backends: [...this.#backends], skipped: [] }))
  }

  stop(): void {}

  status(): DiscoveryStatus {
    return {
      kind: 'static',
      source: this.#backends.map((b) => b.key).join(','),
      ready: this.#startedAt !== undefined,
      lastSuccessAt: this.#startedAt,
      lastError: undefined,
      updates: this.#startedAt === undefined ? 0 : 1,
      errors: 0,
      session: undefined,
    }
  }
}
