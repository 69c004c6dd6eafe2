import { randomInt } from 'node:crypto'
import type { ProxyConfig, Hs2RouteConfig, HostPort, MetastoreRouteConfig } from './config/types.js'
import type { Logger } from './logger.js'
import { Lifecycle } from './lifecycle.js'
import { dialTcp, type Dial } from './net/dial.js'
import { defaultZkClientFactory, ZkSession, ZkSessionRegistry, type ZkClientFactory } from './discovery/zk-session.js'
import { hs2HaDiscovery, hs2ZkDiscovery, metastoreZkDiscovery, staticDiscovery } from './discovery/sources.js'
import type { Discovery } from './discovery/discovery.js'
import { Hs2Route, type RouteSnapshot } from './routes/hs2-route.js'
import { MetastoreRoute } from './routes/metastore-route.js'

export type Route = Hs2Route | MetastoreRoute

/** Every side effect the proxy has, injectable; `createProxy` fills in the production ones. */
export interface ProxyDeps {
  logger: Logger
  dial: Dial
  zkClientFactory: ZkClientFactory
  random: () => number
  now: () => number
}

export interface ProxySnapshot {
  state: string
  ready: boolean
  zookeeper: { quorum: string; state: string; generation: number }[]
  routes: RouteSnapshot[]
}

const ZK_OP_TIMEOUT_MS = 10_000
const DISCOVERY_RETRY_MS = 1_000

/**
 * The whole proxy: one ZooKeeper session per quorum, one route per configured front. `start()`
 * binds every listener or none (a failed bind closes the ones already bound); `stop()` drains.
 */
export class Proxy {
  readonly lifecycle = new Lifecycle()
  readonly routes: Route[]
  readonly #cfg: ProxyConfig
  readonly #deps: ProxyDeps
  readonly #zk: ZkSessionRegistry
  readonly #log: Logger

  constructor(cfg: ProxyConfig, deps: Partial<ProxyDeps> & { logger: Logger }) {
    this.#cfg = cfg
    this.#deps = {
      dial: dialTcp,
      zkClientFactory: defaultZkClientFactory,
      random: () => randomInt(0, 2 ** 32) / 2 ** 32,
      now: Date.now,
      ...deps,
    }
    this.#log = this.#deps.logger
    this.#zk = new ZkSessionRegistry(
      (connectString) =>
        new ZkSession({
          connectString,
          sessionTimeoutMs: cfg.zookeeper.sessionTimeoutMs,
          watchdogMs: cfg.zookeeper.reconnectWatchdogMs,
          opTimeoutMs: ZK_OP_TIMEOUT_MS,
          factory: this.#deps.zkClientFactory,
          logger: this.#log,
        }),
    )
    this.routes = [
      ...cfg.hs2.map((r) => new Hs2Route(r, this.#hs2Discovery(r), this.#deps)),
      ...cfg.metastore.map((r) => new MetastoreRoute(r, this.#metastoreDiscovery(r), this.#deps)),
    ]
  }

  get ready(): boolean {
    return this.lifecycle.is('running') && this.routes.every((r) => r.ready)
  }

  async start(): Promise<HostPort[]> {
    this.lifecycle.to('starting')
    const addrs: HostPort[] = []
    this.#zk.startAll()
    try {
      for (const r of this.routes) addrs.push(await r.start())
    } catch (err) {
      await Promise.all(this.routes.map((r) => r.stop(0)))
      this.#closeSessions()
      this.lifecycle.to('stopped')
      throw err
    }
    this.lifecycle.to('running')
    return addrs
  }

  /** Stop accepting everywhere, give live connections `graceMs` to end, then cut. Idempotent. */
  async stop(graceMs = this.#cfg.shutdownGraceMs): Promise<void> {
    if (this.lifecycle.is('stopping', 'stopped')) return
    if (this.lifecycle.is('new')) {
      this.lifecycle.to('stopped')
      return
    }
    this.lifecycle.to('stopping')
    await Promise.all(this.routes.map((r) => r.stop(graceMs)))
    this.#closeSessions()
    this.lifecycle.to('stopped')
  }

  snapshot(): ProxySnapshot {
    return {
      state: this.lifecycle.state,
      ready: this.ready,
      zookeeper: this.#zk.sessions().map((s) => ({ quorum: s.connectString, state: s.state, generation: s.generation })),
      routes: this.routes.map((r) => r.snapshot()),
    }
  }

  #metastoreDiscovery(r: MetastoreRouteConfig): Discovery {
    const t = r.target
    if (t.kind === 'static') return staticDiscovery(t.backends)
    return metastoreZkDiscovery({ session: this.#zk.acquire(t.quorum), namespace: t.namespace, logger: this.#log.child({ route: r.name }), retryMs: DISCOVERY_RETRY_MS })
  }

  #hs2Discovery(r: Hs2RouteConfig): Discovery {
    const t = r.target
    if (t.kind === 'static') return staticDiscovery(t.backends)
    const o = { session: this.#zk.acquire(t.quorum), namespace: t.namespace, logger: this.#log.child({ route: r.name }), retryMs: DISCOVERY_RETRY_MS }
    return t.kind === 'zookeeper-ha' ? hs2HaDiscovery(o) : hs2ZkDiscovery(o)
  }

  #closeSessions(): void {
    this.#zk.closeAll()
  }
}
