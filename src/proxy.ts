import { randomInt } from 'node:crypto'
import type {
  FrontTlsConfig,
  ProxyConfig,
  Hs2RouteConfig,
  HostPort,
  MetastoreRouteConfig,
} from './config/types.js'
import type { Logger } from './logger.js'
import { Lifecycle } from './lifecycle.js'
import { ErrorCodes, ProxyError, errorMessage } from './errors.js'
import { dialTcp, type Dial } from './net/dial.js'
import {
  defaultZkClientFactory,
  ZkSession,
  ZkSessionRegistry,
  type ZkClientFactory,
} from './discovery/zk-session.js'
import { defaultZkProbe, type ZkProbe } from './discovery/zk-probe.js'
import {
  hs2HaDiscovery,
  hs2ZkDiscovery,
  metastoreZkDiscovery,
  staticDiscovery,
} from './discovery/sources.js'
import { ZkDrainMarks } from './discovery/zk-drain-marks.js'
import { Mr3AppIdWatcher } from './discovery/mr3-appid.js'
import { Hs2Route, needsSockets, runsOnHandles, type Hs2RouteSnapshot } from './routes/hs2-route.js'
import { Hs2HttpRoute, type Hs2HttpRouteSnapshot } from './routes/hs2-http-route.js'
import { MetastoreRoute, type MetastoreRouteSnapshot } from './routes/metastore-route.js'
import {
  MetastoreHttpRoute,
  type MetastoreHttpRouteSnapshot,
} from './routes/metastore-http-route.js'
import type { RouteSource } from './routes/route-core.js'

export type Route = Hs2Route | Hs2HttpRoute | MetastoreRoute | MetastoreHttpRoute

/** Every side effect the proxy has, injectable; the constructor fills in the production ones. */
export interface ProxyDeps {
  logger: Logger
  dial: Dial
  zkClientFactory: ZkClientFactory
  /** how a ZooKeeper server is looked at while the session is disconnected */
  zkProbe: ZkProbe
  random: () => number
  now: () => number
}

export interface ProxySnapshot {
  state: string
  ready: boolean
  zookeeper: { quorum: string; state: string; generation: number; lastConnectedAt: number }[]
  routes: (
    | Hs2RouteSnapshot
    | Hs2HttpRouteSnapshot
    | MetastoreRouteSnapshot
    | MetastoreHttpRouteSnapshot
  )[]
}

export interface Readiness {
  ready: boolean
  routes: { name: string; ready: boolean; reasons: string[] }[]
}

export interface ReloadResult {
  updated: string[]
  added: string[]
  removed: string[]
  /** new routes that could not start (e.g. their address is taken); the rest of the reload applies */
  failed: { name: string; error: string }[]
  /** settings a reload cannot change; they need a restart */
  ignored: string[]
}

export type DrainOutcome = 'ok' | 'unknown-route' | 'unknown-backend'

export interface DrainReply {
  outcome: DrainOutcome
  /** whether the backend is draining now (see DrainResult) */
  draining: boolean
  /** written to ZooKeeper for every proxy on the same registry */
  shared: boolean
  /** why the shared mark could not be written (this proxy's mark applies anyway) */
  error: string | undefined
}

const ZK_OP_TIMEOUT_MS = 10_000
const DISCOVERY_RETRY_MS = 1_000

/**
 * The whole proxy: one ZooKeeper session per quorum, one route per configured front. `start()`
 * binds every listener or none; `stop()` drains; `reload()` applies a new configuration without
 * dropping live connections. Drain marks live here, keyed by route name, so they survive reloads.
 */
export class HiveHaProxy {
  readonly lifecycle = new Lifecycle()
  #routes: Route[]
  #cfg: ProxyConfig
  readonly #deps: ProxyDeps
  readonly #zk: ZkSessionRegistry
  readonly #log: Logger
  readonly #drainMarks = new Map<string, Set<string>>()
  /** which ZooKeeper session each discovery or watcher holds, to release it when replaced */
  readonly #sessions = new Map<object, ZkSession>()

  constructor(cfg: ProxyConfig, deps: Partial<ProxyDeps> & { logger: Logger }) {
    this.#cfg = cfg
    this.#deps = {
      dial: dialTcp,
      zkClientFactory: defaultZkClientFactory,
      zkProbe: defaultZkProbe,
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
          probeIntervalMs: cfg.zookeeper.probeIntervalMs,
          probe: this.#deps.zkProbe,
          opTimeoutMs: ZK_OP_TIMEOUT_MS,
          factory: this.#deps.zkClientFactory,
          logger: this.#log,
          digestAuth: cfg.zookeeper.digestAuth,
        }),
    )
    this.#routes = [
      ...cfg.hs2.map((r) => this.#newHs2(r)),
      ...cfg.metastore.map((r) => this.#newMetastore(r)),
    ]
  }

  get routes(): readonly Route[] {
    return this.#routes
  }

  get config(): ProxyConfig {
    return this.#cfg
  }

  get ready(): boolean {
    return this.readiness().ready
  }

  /** Ready = running, and every route has had a successful discovery and has a usable backend. */
  readiness(): Readiness {
    const routes = this.#routes.map((r) => {
      const reasons = r.notReady()
      return { name: r.name, ready: reasons.length === 0, reasons }
    })
    return { ready: this.lifecycle.is('running') && routes.every((r) => r.ready), routes }
  }

  async start(): Promise<HostPort[]> {
    this.lifecycle.to('starting')
    const addrs: HostPort[] = []
    this.#zk.startAll()
    try {
      for (const r of this.#routes) addrs.push(await r.start())
    } catch (err) {
      await Promise.all(this.#routes.map((r) => r.stop(0)))
      this.#zk.closeAll()
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
    await Promise.all(this.#routes.map((r) => r.stop(graceMs)))
    this.#zk.closeAll()
    this.lifecycle.to('stopped')
  }

  snapshot(): ProxySnapshot {
    return {
      state: this.lifecycle.state,
      ready: this.ready,
      zookeeper: this.#zk.sessions().map((s) => ({
        quorum: s.connectString,
        state: s.state,
        generation: s.generation,
        lastConnectedAt: s.lastConnectedAt,
      })),
      routes: this.#routes.map((r) => r.snapshot()),
    }
  }

  /** Drain or undrain a backend of a route; on a ZooKeeper route the mark is shared (see RouteCore.drain). */
  async drain(route: string, backend: string, on: boolean): Promise<DrainReply> {
    const r = this.#routes.find((x) => x.name === route)
    if (r === undefined)
      return { outcome: 'unknown-route', draining: false, shared: false, error: undefined }
    const res = await r.drain(backend, on)
    return {
      outcome: res.known ? 'ok' : 'unknown-backend',
      draining: res.draining,
      shared: res.shared,
      error: res.error,
    }
  }

  /**
   * Apply a new configuration. A route whose name, kind and listen address are unchanged is
   * updated in place (its live connections keep going); others are started or stopped (a stopped
   * route's live connections get the grace period). Drain marks are kept by route name.
   */
  async reload(next: ProxyConfig): Promise<ReloadResult> {
    if (!this.lifecycle.is('running'))
      throw new ProxyError(ErrorCodes.LIFECYCLE, `cannot reload while ${this.lifecycle.state}`)
    const result: ReloadResult = {
      updated: [],
      added: [],
      removed: [],
      failed: [],
      ignored: ignoredChanges(this.#cfg, next),
    }
    if (next.logLevel !== this.#cfg.logLevel) {
      // child loggers follow their parent's level unless they set their own (none here does)
      this.#log.info({ from: this.#cfg.logLevel, to: next.logLevel }, 'log level changed')
      this.#log.level = next.logLevel
    }
    const old = new Map(this.#routes.map((r) => [r.name, r]))
    const kept: Route[] = []
    const fresh: Route[] = []
    for (const cfg of next.hs2) {
      const r = old.get(cfg.name)
      if (
        r instanceof Hs2HttpRoute &&
        cfg.transportMode === 'http' &&
        sameListen(r.configuredListen, cfg.listen) &&
        sameFront(r.config, cfg)
      ) {
        const retarget =
          !sameJson(r.config.target, cfg.target) ||
          r.config.http.path !== cfg.http.path ||
          (r.config.backendTls === undefined) !== (cfg.backendTls === undefined)
        const [oldDiscovery, oldShared] = [r.discovery, r.sharedDrainMarks]
        r.update(cfg, retarget ? this.#hs2Source(cfg) : undefined)
        if (retarget) {
          this.#releaseSession(oldDiscovery)
          if (oldShared !== undefined) this.#releaseSession(oldShared)
        }
        kept.push(r)
        old.delete(cfg.name)
        result.updated.push(cfg.name)
        continue
      }
      if (
        r instanceof Hs2Route &&
        cfg.transportMode === 'binary' &&
        sameListen(r.configuredListen, cfg.listen) &&
        sameFront(r.config, cfg) &&
        // TLS on or off moves a route between handles and sockets: replaced. A tcpIo change
        // alone keeps the route as it runs (it needs a restart: ignoredChanges)
        (r.onHandles === runsOnHandles(cfg) || (!needsSockets(cfg) && r.config.tcpIo !== cfg.tcpIo))
      ) {
        const retarget =
          !sameJson(r.config.target, cfg.target) ||
          r.config.mr3AppIdNamespace !== cfg.mr3AppIdNamespace
        const [oldDiscovery, oldShared, oldMr3] = [r.discovery, r.sharedDrainMarks, r.mr3Watcher]
        r.update(
          cfg,
          retarget ? this.#hs2Source(cfg) : undefined,
          retarget ? this.#mr3For(cfg) : oldMr3,
        )
        if (retarget) {
          this.#releaseSession(oldDiscovery)
          if (oldShared !== undefined) this.#releaseSession(oldShared)
          if (oldMr3 !== undefined) this.#releaseSession(oldMr3)
        }
        kept.push(r)
        old.delete(cfg.name)
        result.updated.push(cfg.name)
      } else fresh.push(this.#newHs2(cfg))
    }
    for (const cfg of next.metastore) {
      const r = old.get(cfg.name)
      // a route changing transport mode is replaced (its front is of another kind)
      const sameKind =
        cfg.transportMode === 'http' ? r instanceof MetastoreHttpRoute : r instanceof MetastoreRoute
      if (
        (r instanceof MetastoreRoute || r instanceof MetastoreHttpRoute) &&
        sameKind &&
        sameListen(r.configuredListen, cfg.listen) &&
        sameFront(r.config, cfg)
      ) {
        const retarget = !sameJson(r.config.target, cfg.target)
        const [oldDiscovery, oldShared] = [r.discovery, r.sharedDrainMarks]
        r.update(cfg, retarget ? this.#metastoreSource(cfg) : undefined)
        if (retarget) {
          this.#releaseSession(oldDiscovery)
          if (oldShared !== undefined) this.#releaseSession(oldShared)
        }
        kept.push(r)
        old.delete(cfg.name)
        result.updated.push(cfg.name)
      } else fresh.push(this.#newMetastore(cfg))
    }
    // Free the old listeners first: a renamed route may reuse an address.
    const stopping = [...old.values()].map((r) => {
      result.removed.push(r.name)
      return r.stop(next.shutdownGraceMs).then(() => this.#releaseRoute(r))
    })
    await new Promise((resolve) => setImmediate(resolve))
    this.#zk.startAll()
    const started: Route[] = []
    for (const r of fresh) {
      try {
        await r.start()
        started.push(r)
        result.added.push(r.name)
      } catch (err) {
        result.failed.push({ name: r.name, error: errorMessage(err) })
        this.#releaseRoute(r)
      }
    }
    this.#routes = [...kept, ...started]
    this.#cfg = next
    if (result.failed.length > 0)
      this.#log.error(result, 'configuration reloaded, but some new routes could not start')
    else this.#log.info(result, 'configuration reloaded')
    void Promise.all(stopping)
    return result
  }

  #newHs2(r: Hs2RouteConfig): Hs2Route | Hs2HttpRoute {
    const { discovery, shared } = this.#hs2Source(r)
    if (r.transportMode === 'http')
      return new Hs2HttpRoute(r, discovery, this.#deps, { local: this.#marks(r.name), shared })
    return new Hs2Route(
      r,
      discovery,
      this.#deps,
      { local: this.#marks(r.name), shared },
      this.#mr3For(r),
    )
  }

  #newMetastore(r: MetastoreRouteConfig): MetastoreRoute | MetastoreHttpRoute {
    const { discovery, shared } = this.#metastoreSource(r)
    const drain = { local: this.#marks(r.name), shared }
    if (r.transportMode === 'http') return new MetastoreHttpRoute(r, discovery, this.#deps, drain)
    return new MetastoreRoute(r, discovery, this.#deps, drain)
  }

  /** Every ZooKeeper session a route holds goes back to the registry. */
  #releaseRoute(r: Route): void {
    this.#releaseSession(r.discovery)
    if (r.sharedDrainMarks !== undefined) this.#releaseSession(r.sharedDrainMarks)
    if (r instanceof Hs2Route && r.mr3Watcher !== undefined) this.#releaseSession(r.mr3Watcher)
  }

  /** Drain marks shared through the registry's quorum (design.md decision 11), with their own session reference. */
  #sharedMarks(quorum: string, namespace: string, route: string): ZkDrainMarks {
    const session = this.#zk.acquire(quorum)
    const m = new ZkDrainMarks(session, namespace, this.#log.child({ route }), DISCOVERY_RETRY_MS)
    this.#sessions.set(m, session)
    return m
  }

  #marks(route: string): Set<string> {
    let m = this.#drainMarks.get(route)
    if (m === undefined) {
      m = new Set()
      this.#drainMarks.set(route, m)
    }
    return m
  }

  #mr3For(r: Hs2RouteConfig): Mr3AppIdWatcher | undefined {
    if (r.mr3AppIdNamespace === undefined || r.target.kind === 'static') return undefined
    const session = this.#zk.acquire(r.target.quorum)
    const w = new Mr3AppIdWatcher(
      session,
      r.mr3AppIdNamespace,
      this.#log.child({ route: r.name }),
      DISCOVERY_RETRY_MS,
    )
    this.#sessions.set(w, session)
    return w
  }

  #metastoreSource(r: MetastoreRouteConfig): RouteSource {
    const t = r.target
    if (t.kind === 'static') return { discovery: staticDiscovery(t.backends), shared: undefined }
    const session = this.#zk.acquire(t.quorum)
    const d = metastoreZkDiscovery({
      session,
      namespace: t.namespace,
      logger: this.#log.child({ route: r.name }),
      retryMs: DISCOVERY_RETRY_MS,
    })
    this.#sessions.set(d, session)
    return { discovery: d, shared: this.#sharedMarks(t.quorum, t.namespace, r.name) }
  }

  #hs2Source(r: Hs2RouteConfig): RouteSource {
    const t = r.target
    const http = r.transportMode === 'http'
    if (t.kind === 'static')
      return {
        discovery: staticDiscovery(t.backends, http ? r.http.path : undefined),
        shared: undefined,
      }
    const session = this.#zk.acquire(t.quorum)
    const o = {
      session,
      namespace: t.namespace,
      logger: this.#log.child({ route: r.name }),
      retryMs: DISCOVERY_RETRY_MS,
      mode: r.transportMode,
      backendTls: r.backendTls !== undefined,
    }
    const d = t.kind === 'zookeeper-ha' ? hs2HaDiscovery(o) : hs2ZkDiscovery(o)
    this.#sessions.set(d, session)
    return { discovery: d, shared: this.#sharedMarks(t.quorum, t.namespace, r.name) }
  }

  #releaseSession(holder: object): void {
    const s = this.#sessions.get(holder)
    if (s === undefined) return
    this.#sessions.delete(holder)
    this.#zk.release(s)
  }
}

function sameListen(a: HostPort, b: HostPort): boolean {
  return a.host === b.host && a.port === b.port
}

/**
 * A route is updated in place only while its listener stays the same kind: TLS on or off (a
 * plain listener cannot start speaking TLS), client certificates asked for or not, the same
 * lowest TLS version. Trap: tls.Server.setSecureContext replaces certificates and CAs only; whether
 * clients must present a certificate, and the version floor, are fixed when the server is made. A
 * new certificate (or client CA bundle) alone is applied in place; any other change replaces the
 * route (its live connections get the grace period).
 */
function sameFront(
  a: { tls: FrontTlsConfig | undefined },
  b: { tls: FrontTlsConfig | undefined },
): boolean {
  if (a.tls === undefined || b.tls === undefined) return a.tls === b.tls
  return (
    (a.tls.clientCa === undefined) === (b.tls.clientCa === undefined) &&
    a.tls.minVersion === b.tls.minVersion
  )
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/** Settings that only take effect at start (reported, not applied). */
function ignoredChanges(a: ProxyConfig, b: ProxyConfig): string[] {
  const out: string[] = []
  if (!sameJson(a.zookeeper, b.zookeeper)) out.push('zookeeper')
  if (a.logFormat !== b.logFormat) out.push('logFormat')
  if (!sameJson(a.admin.listen, b.admin.listen)) out.push('admin.listen')
  if (a.admin.token !== b.admin.token) out.push('admin.token')
  // a route kept across the reload keeps the transport it started with
  for (const r of b.hs2) {
    const before = a.hs2.find((x) => x.name === r.name && sameListen(x.listen, r.listen))
    if (before !== undefined && before.tcpIo !== r.tcpIo) out.push(`hs2[${r.name}].tcpIo`)
  }
  return out
}
