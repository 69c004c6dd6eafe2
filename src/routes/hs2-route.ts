import type net from 'node:net'
import type { Hs2RouteConfig } from '../config/types.js'
import type { BackendInfo } from '../backends/backend.js'
import { POLICIES, type Policy } from '../balancing/policy.js'
import type { Discovery } from '../discovery/discovery.js'
import { Pipe } from '../net/pipe.js'
import { RouteCore, type RouteDeps, type RouteSnapshot } from './route-core.js'

export type { RouteDeps, RouteSnapshot }

/**
 * One HS2 front: every client connection is piped to one backend, chosen by the policy among
 * discovered, non-ejected instances, with connect-time failover (each backend at most once per
 * client connection). Once connected nothing is ever re-sent elsewhere: HS2 sessions live in one
 * server's memory.
 */
export class Hs2Route extends RouteCore {
  readonly #cfg: Hs2RouteConfig
  readonly #policy: Policy
  #picks = 0

  constructor(cfg: Hs2RouteConfig, discovery: Discovery, deps: RouteDeps) {
    super(cfg, discovery, deps, 'hs2-route')
    this.#cfg = cfg
    this.#policy = POLICIES[cfg.policy]
  }

  snapshot(): RouteSnapshot {
    return this.baseSnapshot('hs2')
  }

  protected describe(): { target: string; policy: string } {
    return { target: this.#cfg.url, policy: this.#cfg.policy }
  }

  protected onClient(client: net.Socket, id: number, peer: string): void {
    let chosen: BackendInfo | undefined
    const pipe = new Pipe(client, {
      idleTimeoutMs: this.#cfg.idleTimeoutMs,
      onDone: (r) => {
        untrack()
        if (chosen === undefined) return
        this.release(chosen.key, r.bytesFromClient, r.bytesToClient)
        this.log.debug(
          { conn: id, backend: chosen.key, reason: r.reason, err: r.error?.message, bytesFromClient: r.bytesFromClient, bytesToClient: r.bytesToClient },
          'connection closed',
        )
      },
    })
    const untrack = this.track(pipe)
    void this.waitForBackends(this.#cfg.connectTimeoutMs)
      .then(() => this.connectBackend(id, (tried) => this.#pick(tried), () => client.destroyed, pipe.onread))
      .then(
        ({ socket, backend }) => {
          chosen = backend
          this.log.debug({ conn: id, client: peer, backend: backend.key }, 'connection open')
          pipe.attach(socket)
        },
        (err: unknown) => {
          this.rejected(id, peer, err)
          pipe.destroy('no-backend')
        },
      )
  }

  /** The policy's choice among listed, untried backends; ejected ones only if nothing else is left. */
  #pick(tried: ReadonlySet<string>): BackendInfo | undefined {
    const pool = this.usable(this.backends.listed().filter((b) => !tried.has(b.key)))
    if (pool.length === 0) return undefined
    return pool[this.#policy(pool, { counter: this.#picks++, random: this.deps.random })]
  }
}
