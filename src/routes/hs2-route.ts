import type net from 'node:net'
import type { Hs2RouteConfig, HostPort } from '../config/types.js'
import type { Logger } from '../logger.js'
import { errorCode, errorMessage, AllBackendsFailedError } from '../errors.js'
import { Lifecycle, type RunState } from '../lifecycle.js'
import { BackendSet } from '../backends/backend-set.js'
import type { BackendInfo, BackendState } from '../backends/backend.js'
import { isEjected, noteConnectFailure, noteConnectSuccess } from '../backends/ejection.js'
import { POLICIES, type Policy } from '../balancing/policy.js'
import { connectWithFailover } from '../balancing/failover.js'
import type { Discovery, DiscoverySnapshot, DiscoveryStatus, SkippedInstance } from '../discovery/discovery.js'
import type { Dial } from '../net/dial.js'
import { Listener } from '../net/listener.js'
import { Pipe, type PipeResult } from '../net/pipe.js'

export interface RouteDeps {
  logger: Logger
  dial: Dial
  /** uniform in [0, 1) */
  random: () => number
  /** epoch ms */
  now: () => number
}

export interface BackendSnapshot {
  key: string
  source: string
  state: 'up' | 'ejected' | 'unlisted'
  leader: boolean | undefined
  ejectedUntil: number | undefined
  active: number
  connections: number
  connectFailures: number
  lastError: string | undefined
  bytesFromClient: number
  bytesToClient: number
}

export interface RouteSnapshot {
  name: string
  kind: 'hs2'
  listen: HostPort
  url: string
  policy: string
  state: RunState
  ready: boolean
  discovery: DiscoveryStatus
  backends: BackendSnapshot[]
  skipped: SkippedInstance[]
  connections: { active: number; total: number; failovers: number; rejected: number }
}

/**
 * One HS2 front: a listener whose every client connection is piped to one backend, chosen by the
 * policy among discovered, non-ejected instances, with connect-time failover (each backend at most
 * once per client connection). Once the backend is connected nothing is ever re-sent elsewhere: HS2
 * sessions live in one server's memory.
 */
export class Hs2Route {
  readonly name: string
  readonly lifecycle = new Lifecycle()
  readonly #cfg: Hs2RouteConfig
  readonly #deps: RouteDeps
  readonly #log: Logger
  readonly #discovery: Discovery
  readonly #backends = new BackendSet()
  readonly #policy: Policy
  readonly #listener: Listener
  readonly #pipes = new Set<Pipe>()
  #skipped: SkippedInstance[] = []
  #picks = 0
  #connSeq = 0
  #total = 0
  #failovers = 0
  #rejected = 0
  #ready = false
  #waiters = new Set<() => void>()

  constructor(cfg: Hs2RouteConfig, discovery: Discovery, deps: RouteDeps) {
    this.name = cfg.name
    this.#cfg = cfg
    this.#deps = deps
    this.#discovery = discovery
    this.#policy = POLICIES[cfg.policy]
    this.#log = deps.logger.child({ component: 'hs2-route', route: cfg.name })
    this.#listener = new Listener(cfg.listen, (s) => this.#onConnection(s))
    this.lifecycle.on('state', (to: RunState, from: RunState) => this.#log.debug({ from, to }, 'route state'))
  }

  get ready(): boolean {
    return this.#ready
  }

  /** Binds the listener and starts discovery. Clients connecting before the first read wait for it (bounded by connect attempts). */
  async start(): Promise<HostPort> {
    this.lifecycle.to('starting')
    this.#discovery.on('update', (s: DiscoverySnapshot) => this.#onUpdate(s))
    this.#discovery.on('failure', () => {})
    let addr: HostPort
    try {
      addr = await this.#listener.listen()
    } catch (err) {
      this.lifecycle.to('stopped')
      throw err
    }
    this.#discovery.start()
    this.lifecycle.to('running')
    this.#log.info({ listen: addr, url: this.#cfg.url, policy: this.#cfg.policy }, 'route listening')
    return addr
  }

  address(): HostPort {
    return this.#listener.address()
  }

  /** Stop accepting, let live connections finish for up to `graceMs`, then cut them. Idempotent. */
  async stop(graceMs: number): Promise<void> {
    if (this.lifecycle.is('stopping', 'stopped')) return
    if (this.lifecycle.is('new')) {
      this.lifecycle.to('stopped')
      return
    }
    this.lifecycle.to('stopping')
    this.#discovery.stop()
    for (const w of [...this.#waiters]) w()
    await this.#listener.stopAccepting()
    if (this.#pipes.size > 0) {
      this.#log.info({ live: this.#pipes.size, graceMs }, 'waiting for live connections')
      await this.#drained(graceMs)
    }
    for (const p of this.#pipes) p.destroy('shutdown')
    this.lifecycle.to('stopped')
  }

  snapshot(): RouteSnapshot {
    const now = this.#deps.now()
    return {
      name: this.name,
      kind: 'hs2',
      listen: this.#listener.address(),
      url: this.#cfg.url,
      policy: this.#cfg.policy,
      state: this.lifecycle.state,
      ready: this.#ready,
      discovery: this.#discovery.status(),
      backends: this.#backends.all().map((b) => backendSnapshot(b, now)),
      skipped: [...this.#skipped],
      connections: { active: this.#pipes.size, total: this.#total, failovers: this.#failovers, rejected: this.#rejected },
    }
  }

  #onUpdate(s: DiscoverySnapshot): void {
    const diff = this.#backends.reset(s.backends)
    this.#skipped = s.skipped
    if (!this.#ready) {
      this.#ready = true
      this.#log.info({ backends: s.backends.length }, 'route ready (first discovery read)')
    }
    if (diff.added.length + diff.removed.length + diff.changed.length > 0) {
      this.#log.info({ added: diff.added, removed: diff.removed, changed: diff.changed }, 'backends changed')
    }
    if (this.#backends.listed().length > 0) {
      const waiters = [...this.#waiters]
      this.#waiters.clear()
      for (const w of waiters) w()
    }
  }

  /**
   * A client that arrives while nothing is listed (before the first read, or between an HA
   * leader stepping down and the next one stepping up) waits for the next discovery update,
   * at most `ms`, instead of being refused at once.
   */
  #waitForBackends(ms: number): Promise<void> {
    if (this.#backends.listed().length > 0) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#waiters.add(done)
    })
  }

  #drained(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, graceMs)
      const poll = setInterval(() => {
        if (this.#pipes.size === 0) finish()
      }, 50)
      function finish(): void {
        clearTimeout(timer)
        clearInterval(poll)
        resolve()
      }
    })
  }

  #onConnection(client: net.Socket): void {
    const id = ++this.#connSeq
    this.#total++
    // Until the pipe takes over, a client reset must not become an uncaught 'error'.
    client.on('error', () => {})
    if (!this.lifecycle.is('running')) {
      client.destroy()
      return
    }
    const peer = `${client.remoteAddress ?? '?'}:${client.remotePort ?? '?'}`
    let chosen: BackendInfo | undefined
    const pipe = new Pipe(client, { idleTimeoutMs: this.#cfg.idleTimeoutMs, onDone: (r) => this.#onPipeDone(pipe, id, chosen, r) })
    this.#pipes.add(pipe)
    void this.#waitForBackends(this.#cfg.connectTimeoutMs).then(() => this.#connect(client, pipe, id, peer, (b) => (chosen = b)))
  }

  #connect(client: net.Socket, pipe: Pipe, id: number, peer: string, onChosen: (b: BackendInfo) => void): void {
    connectWithFailover({
      maxAttempts: this.#cfg.maxConnectAttempts,
      next: (tried) => this.#pick(tried),
      connect: (b) => this.#deps.dial({ host: b.host, port: b.port, key: b.key, timeoutMs: this.#cfg.connectTimeoutMs, onread: pipe.onread }),
      onFailure: (b, err) => this.#onConnectFailure(id, b, err),
      aborted: () => client.destroyed || !this.lifecycle.is('running'),
    }).then(
      ({ socket, backend, attempts }) => {
        onChosen(backend)
        const state = this.#backends.get(backend.key)
        if (state !== undefined) {
          noteConnectSuccess(state)
          state.active++
          state.connections++
        }
        if (attempts.length > 0) this.#failovers++
        this.#log.debug({ conn: id, client: peer, backend: backend.key, failedAttempts: attempts.length }, 'connection open')
        pipe.attach(socket)
      },
      (err: unknown) => {
        this.#rejected++
        const attempts = err instanceof AllBackendsFailedError ? err.attempts : []
        this.#log.warn({ conn: id, client: peer, code: errorCode(err), attempts }, 'no backend for client; closing it')
        pipe.destroy('no-backend')
      },
    )
  }

  /** The policy's choice among listed, untried backends; ejected ones only if nothing else is left. */
  #pick(tried: ReadonlySet<string>): BackendInfo | undefined {
    const now = this.#deps.now()
    const untried = this.#backends.listed().filter((b) => !tried.has(b.key))
    if (untried.length === 0) return undefined
    const healthy = untried.filter((b) => !isEjected(b, now))
    const pool = healthy.length > 0 ? healthy : untried
    const i = this.#policy(pool, { counter: this.#picks++, random: this.#deps.random })
    return pool[i]
  }

  #onConnectFailure(id: number, b: BackendInfo, err: unknown): void {
    const state = this.#backends.get(b.key)
    this.#log.warn({ conn: id, backend: b.key, code: errorCode(err), err: errorMessage(err) }, 'backend connect failed; trying another')
    if (state === undefined) return
    const now = this.#deps.now()
    const others = this.#backends.listed().filter((x) => x.key !== b.key && !isEjected(x, now)).length
    const ms = noteConnectFailure(state, this.#cfg.ejection, now, others, errorCode(err))
    if (ms > 0) this.#log.warn({ backend: b.key, forMs: ms, ejections: state.ejections }, 'backend ejected')
  }

  #onPipeDone(pipe: Pipe, id: number, backend: BackendInfo | undefined, r: PipeResult): void {
    this.#pipes.delete(pipe)
    if (backend === undefined) return
    const state = this.#backends.get(backend.key)
    if (state !== undefined) {
      state.bytesFromClient += r.bytesFromClient
      state.bytesToClient += r.bytesToClient
    }
    this.#backends.release(backend.key)
    this.#log.debug(
      { conn: id, backend: backend.key, reason: r.reason, err: r.error?.message, bytesFromClient: r.bytesFromClient, bytesToClient: r.bytesToClient },
      'connection closed',
    )
  }
}

function backendSnapshot(b: BackendState, now: number): BackendSnapshot {
  const ejected = isEjected(b, now)
  return {
    key: b.key,
    source: b.source,
    state: !b.listed ? 'unlisted' : ejected ? 'ejected' : 'up',
    leader: b.leader,
    ejectedUntil: ejected ? b.ejectedUntil : undefined,
    active: b.active,
    connections: b.connections,
    connectFailures: b.connectFailures,
    lastError: b.lastError,
    bytesFromClient: b.bytesFromClient,
    bytesToClient: b.bytesToClient,
  }
}
