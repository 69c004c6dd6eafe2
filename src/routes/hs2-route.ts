import net from 'node:net'
import type { HostPort, Hs2RouteConfig } from '../config/types.js'
import type { BackendInfo } from '../backends/backend.js'
import { POLICIES, type Policy } from '../balancing/policy.js'
import { slowStartPool } from '../balancing/slow-start.js'
import type { Discovery } from '../discovery/discovery.js'
import { Pipe, type PipeResult } from '../net/pipe.js'
import type { FirstAnswerOptions } from '../net/first-answer.js'
import type { ConnectAttempt } from '../errors.js'
import { HandlePipe } from '../net/handle-pipe.js'
import { HandleListener } from '../net/handle-listener.js'
import { dialHandle } from '../net/handle-dial.js'
import { handlePeer } from '../net/tcp-conn.js'
import {
  handleBindings,
  handlesFix,
  handlesUnavailable,
  type HandleBindings,
  type TcpHandle,
} from '../net/handles.js'
import type { Mr3AppIdStatus, Mr3AppIdWatcher } from '../discovery/mr3-appid.js'
import {
  RouteCore,
  peerOf,
  socketAcceptor,
  type AcceptorFactory,
  type DrainMarks,
  type RouteDeps,
  type RouteSnapshot,
  type RouteSource,
} from './route-core.js'
import { hiveSiteOrigin } from './snapshot.js'

export type { RouteDeps, RouteSnapshot }

export interface Hs2RouteSnapshot extends RouteSnapshot {
  /** Hive on MR3: the shared DAGAppMaster's application id, when configured */
  mr3: Mr3AppIdStatus | undefined
  /** Hive's transport mode of the route */
  transportMode: 'binary' | 'http'
  /** what moves the bytes, as decided at start (`auto` resolved) */
  tcpIo: 'handles' | 'sockets'
}

/**
 * TLS on either side needs node:tls, which works on net.Socket only: such a route never runs on
 * bare handles, whatever `tcpIo` says (the route logs it once at start). Fixed for the route's
 * life: a reload that changes it replaces the route (proxy.ts).
 */
export function needsSockets(cfg: Hs2RouteConfig): boolean {
  return cfg.tls !== undefined || cfg.backendTls !== undefined
}

/** Whether a route built from `cfg` runs on bare handles (as the constructor decides). */
export function runsOnHandles(cfg: Hs2RouteConfig): boolean {
  return cfg.tcpIo !== 'sockets' && !needsSockets(cfg) && handleBindings() !== undefined
}

/** What an HS2 route accepts: a net.Socket, or a bare TCP handle (tcpIo `handles`). */
type Hs2Client = net.Socket | TcpHandle

function acceptorFor(handles: HandleBindings | undefined): AcceptorFactory<Hs2Client> {
  if (handles === undefined) return socketAcceptor
  // never with TLS (needsSockets): a handle route has no `secure`
  return (listen, accept, acceptError) => new HandleListener(handles, listen, accept, acceptError)
}

/**
 * One HS2 front: every client connection is piped to one backend, chosen by the policy among
 * discovered, non-ejected instances, with connect-time failover (each backend at most once per
 * client connection). Once connected nothing is ever re-sent elsewhere: HS2 sessions live in one
 * server's memory.
 */
export class Hs2Route extends RouteCore<Hs2Client> {
  #cfg: Hs2RouteConfig
  #policy: Policy
  #picks = 0
  #mr3: Mr3AppIdWatcher | undefined
  /** set when the route runs on bare handles; fixed for the route's life (a reload does not change it) */
  readonly #handles: HandleBindings | undefined

  constructor(
    cfg: Hs2RouteConfig,
    discovery: Discovery,
    deps: RouteDeps,
    drain?: DrainMarks,
    mr3?: Mr3AppIdWatcher,
  ) {
    const handles = runsOnHandles(cfg) ? handleBindings() : undefined
    super(cfg, discovery, deps, 'hs2-route', drain, acceptorFor(handles))
    this.#handles = handles
    this.#cfg = cfg
    this.#policy = POLICIES[cfg.policy]
    this.#mr3 = mr3
  }

  get config(): Hs2RouteConfig {
    return this.#cfg
  }

  /** fixed at construction: a reload that would change it replaces the route (proxy.ts) */
  get onHandles(): boolean {
    return this.#handles !== undefined
  }

  get mr3Watcher(): Mr3AppIdWatcher | undefined {
    return this.#mr3
  }

  override async start(): Promise<HostPort> {
    const addr = await super.start()
    if (this.#cfg.tcpIo !== 'sockets' && needsSockets(this.#cfg))
      this.log.info(
        { tcpIo: this.#cfg.tcpIo },
        'TLS on this route: bytes move through net.Socket (bare TCP handles carry no TLS)',
      )
    const noHandles =
      this.#cfg.tcpIo === 'auto' && !needsSockets(this.#cfg) ? handlesUnavailable() : undefined
    if (noHandles !== undefined)
      this.log.warn(
        { reason: noHandles, fix: handlesFix(noHandles) },
        'HS2 route on net.Socket: bare TCP handles are not available in this Node (each connection costs more CPU)',
      )
    this.#mr3?.start()
    return addr
  }

  override async stop(graceMs: number): Promise<void> {
    this.#mr3?.stop()
    await super.stop(graceMs)
  }

  /** Reload in place: policy, timeouts, ejection; a new discovery (and MR3 watcher) when the target changed. */
  update(
    cfg: Hs2RouteConfig,
    source: RouteSource | undefined,
    mr3: Mr3AppIdWatcher | undefined,
  ): void {
    this.#cfg = cfg
    this.#policy = POLICIES[cfg.policy]
    this.updateBase(cfg, source)
    if (mr3 !== this.#mr3) {
      this.#mr3?.stop()
      this.#mr3 = mr3
      if (this.lifecycle.is('running')) mr3?.start()
    }
  }

  snapshot(): Hs2RouteSnapshot {
    return {
      ...this.baseSnapshot('hs2'),
      mr3: this.#mr3?.status(),
      transportMode: 'binary',
      tcpIo: this.#handles === undefined ? 'sockets' : 'handles',
    }
  }

  protected describe(): { target: string; policy: string; targetFrom?: string } {
    return { target: this.#cfg.url, policy: this.#cfg.policy, ...hiveSiteOrigin(this.#cfg) }
  }

  protected closeClient(client: Hs2Client): void {
    if (client instanceof net.Socket) client.destroy()
    else client.close()
  }

  protected peer(client: Hs2Client): string {
    return client instanceof net.Socket ? peerOf(client) : handlePeer(client)
  }

  protected onClient(client: Hs2Client, id: number): void {
    if (client instanceof net.Socket) this.#socketClient(client, id)
    else if (this.#handles !== undefined) this.#handleClient(this.#handles, client, id)
    else client.close()
  }

  #handleClient(b: HandleBindings, client: TcpHandle, id: number): void {
    let chosen: BackendInfo | undefined
    // backends used so far, made only when first-answer failover needs it (see #tried)
    let tried: Set<string> | undefined
    const pipe: HandlePipe = new HandlePipe(b, client, {
      idleTimeoutMs: this.#cfg.idleTimeoutMs,
      onDone: (r) => this.#pipeDone(id, chosen, r, untrack),
      ...this.#firstAnswer(
        id,
        () => chosen,
        () => connect(),
      ),
    })
    const untrack = this.track(pipe)
    // never with TLS (needsSockets): handles are plain TCP
    const dial = (x: BackendInfo, timeoutMs: number): Promise<TcpHandle> =>
      dialHandle(b, { host: x.host, port: x.port, key: x.key, timeoutMs })
    const connect = (): void => {
      tried = this.#tried(tried, chosen, undefined)
      chosen = undefined
      this.connectBackend(id, this.#pickUntried, () => pipe.destroyed, dial, { tried }).then(
        ({ socket, backend, attempts }) => {
          tried = this.#tried(tried, undefined, attempts)
          if (pipe.destroyed) {
            // cut while connecting (shutdown): this backend connection was never used
            socket.close()
            this.release(backend.key, 0, 0)
            return
          }
          chosen = backend
          if (this.log.isLevelEnabled('debug'))
            this.log.debug(
              { conn: id, client: this.peer(client), backend: backend.key },
              'connection open',
            )
          pipe.attach(socket)
        },
        (err: unknown) => {
          this.rejected(id, client, err)
          pipe.destroy('no-backend')
        },
      )
    }
    this.#whenListed(connect)
  }

  #socketClient(client: net.Socket, id: number): void {
    let chosen: BackendInfo | undefined
    // backends used so far, made only when first-answer failover needs it (see #tried)
    let tried: Set<string> | undefined
    const pipe: Pipe = new Pipe(client, {
      idleTimeoutMs: this.#cfg.idleTimeoutMs,
      onDone: (r) => this.#pipeDone(id, chosen, r, untrack),
      ...this.#firstAnswer(
        id,
        () => chosen,
        () => connect(),
      ),
    })
    const untrack = this.track(pipe)
    const dial = this.dialSocket(pipe.onread)
    const connect = (): void => {
      tried = this.#tried(tried, chosen, undefined)
      chosen = undefined
      this.connectBackend(id, this.#pickUntried, () => client.destroyed, dial, { tried }).then(
        ({ socket, backend, attempts }) => {
          tried = this.#tried(tried, undefined, attempts)
          chosen = backend
          if (this.log.isLevelEnabled('debug'))
            this.log.debug(
              { conn: id, client: peerOf(client), backend: backend.key },
              'connection open',
            )
          pipe.attach(socket)
        },
        (err: unknown) => {
          this.rejected(id, client, err)
          pipe.destroy('no-backend')
        },
      )
    }
    this.#whenListed(connect)
  }

  /**
   * The backends a client connection has used, for a replay after a stall: the one that stalled
   * and those whose connect failed. Trap: a Set made up front for every connection and kept by its
   * closures cost 2-3 KiB of resident memory per idle connection (benchmark scenario 4, 4.5 ->
   * 7-9 KiB), so it exists only once there is something in it, and only with the feature on.
   */
  #tried(
    tried: Set<string> | undefined,
    stalled: BackendInfo | undefined,
    failed: readonly ConnectAttempt[] | undefined,
  ): Set<string> | undefined {
    if (this.#cfg.firstResponseTimeoutMs <= 0) return tried
    // the common case (connected at the first try, no stall) allocates nothing
    if (stalled === undefined && (failed === undefined || failed.length === 0)) return tried
    const keys = failed?.map((a) => a.backend) ?? []
    if (stalled !== undefined) keys.push(stalled.key)
    if (keys.length === 0) return tried
    const out = tried ?? new Set<string>()
    for (const k of keys) out.add(k)
    return out
  }

  /**
   * First-answer failover for one client connection (net/first-answer.ts), or nothing when
   * `firstResponseTimeoutMs` is 0. On a stall the backend is blamed and `retry` connects the
   * client to the policy's next untried backend, within maxConnectAttempts.
   */
  #firstAnswer(
    id: number,
    current: () => BackendInfo | undefined,
    retry: () => void,
  ): { firstAnswer?: FirstAnswerOptions } {
    const timeoutMs = this.#cfg.firstResponseTimeoutMs
    if (timeoutMs <= 0) return {}
    return {
      firstAnswer: {
        timeoutMs,
        answered: () => {
          const b = current()
          if (b !== undefined) this.answered(b.key)
        },
        stalled: (keptBytes) => {
          const b = current()
          if (b !== undefined) this.stalled(id, b.key, keptBytes, timeoutMs)
          retry()
        },
      },
    }
  }

  /** A client's pipe ended: release its backend (if it got one) and say why at debug level. */
  #pipeDone(id: number, chosen: BackendInfo | undefined, r: PipeResult, untrack: () => void): void {
    untrack()
    if (chosen === undefined) return
    this.release(chosen.key, r.bytesFromClient, r.bytesToClient)
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug(
        {
          conn: id,
          backend: chosen.key,
          reason: r.reason,
          err: r.error?.message,
          bytesFromClient: r.bytesFromClient,
          bytesToClient: r.bytesToClient,
        },
        'connection closed',
      )
    }
  }

  /** The common case (backends listed) connects in this tick; only an empty route waits. */
  #whenListed(connect: () => void): void {
    if (this.hasBackends()) connect()
    else void this.waitForBackends(this.#cfg.connectTimeoutMs).then(connect)
  }

  /** The policy's choice among listed, untried backends; ejected ones only if nothing else is left. */
  readonly #pickUntried = (tried: ReadonlySet<string>): BackendInfo | undefined => {
    const listed = this.backends.listed()
    const usable = this.usable(tried.size === 0 ? listed : listed.filter((b) => !tried.has(b.key)))
    if (usable.length === 0) return undefined
    const pool = slowStartPool(usable, this.deps.now(), this.#cfg.slowStartMs, this.deps.random)
    return pool[this.#policy(pool, { counter: this.#picks++, random: this.deps.random })]
  }
}
