import net from 'node:net'
import type { HostPort, Hs2RouteConfig } from '../config/types.js'
import type { BackendInfo } from '../backends/backend.js'
import { POLICIES, type Policy } from '../balancing/policy.js'
import type { Discovery } from '../discovery/discovery.js'
import { Pipe, type PipeResult } from '../net/pipe.js'
import { HandlePipe } from '../net/handle-pipe.js'
import { HandleListener } from '../net/handle-listener.js'
import { dialHandle } from '../net/handle-dial.js'
import { handlePeer } from '../net/tcp-conn.js'
import { handleBindings, type HandleBindings, type TcpHandle } from '../net/handles.js'
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

export type { RouteDeps, RouteSnapshot }

export interface Hs2RouteSnapshot extends RouteSnapshot {
  /** Hive on MR3: the shared DAGAppMaster's application id, when configured */
  mr3: Mr3AppIdStatus | undefined
  /** Hive's transport mode of the route */
  transportMode: 'binary' | 'http'
  /** what moves the bytes, as decided at start (`auto` resolved) */
  tcpIo: 'handles' | 'sockets'
}

/** What an HS2 route accepts: a net.Socket, or a bare TCP handle (tcpIo `handles`). */
type Hs2Client = net.Socket | TcpHandle

function acceptorFor(handles: HandleBindings | undefined): AcceptorFactory<Hs2Client> {
  if (handles === undefined) return socketAcceptor
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
    const handles = cfg.tcpIo === 'sockets' ? undefined : handleBindings()
    super(cfg, discovery, deps, 'hs2-route', drain, acceptorFor(handles))
    this.#handles = handles
    this.#cfg = cfg
    this.#policy = POLICIES[cfg.policy]
    this.#mr3 = mr3
  }

  get config(): Hs2RouteConfig {
    return this.#cfg
  }

  get mr3Watcher(): Mr3AppIdWatcher | undefined {
    return this.#mr3
  }

  override async start(): Promise<HostPort> {
    const addr = await super.start()
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

  protected describe(): { target: string; policy: string } {
    return { target: this.#cfg.url, policy: this.#cfg.policy }
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
    const pipe = new HandlePipe(b, client, {
      idleTimeoutMs: this.#cfg.idleTimeoutMs,
      onDone: (r) => this.#pipeDone(id, chosen, r, untrack),
    })
    const untrack = this.track(pipe)
    const dial = (x: BackendInfo, timeoutMs: number): Promise<TcpHandle> =>
      dialHandle(b, { host: x.host, port: x.port, key: x.key, timeoutMs })
    this.#whenListed(() => {
      this.connectBackend(id, this.#pickUntried, () => pipe.destroyed, dial).then(
        ({ socket, backend }) => {
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
    })
  }

  #socketClient(client: net.Socket, id: number): void {
    let chosen: BackendInfo | undefined
    const pipe = new Pipe(client, {
      idleTimeoutMs: this.#cfg.idleTimeoutMs,
      onDone: (r) => this.#pipeDone(id, chosen, r, untrack),
    })
    const untrack = this.track(pipe)
    this.#whenListed(() => {
      this.connectBackend(
        id,
        this.#pickUntried,
        () => client.destroyed,
        this.dialSocket(pipe.onread),
      ).then(
        ({ socket, backend }) => {
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
    })
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
    const pool = this.usable(tried.size === 0 ? listed : listed.filter((b) => !tried.has(b.key)))
    if (pool.length === 0) return undefined
    return pool[this.#policy(pool, { counter: this.#picks++, random: this.deps.random })]
  }
}
