import type net from 'node:net'
import type {
  BackendTlsConfig,
  EjectionConfig,
  FrontTlsConfig,
  HealthCheckConfig,
  HostPort,
} from '../config/types.js'
import type { Logger } from '../logger.js'
import {
  AllBackendsFailedError,
  ErrorCodes,
  errorCode,
  errorMessage,
  isLocalFailure,
  type ConnectAttempt,
} from '../errors.js'
import { Lifecycle, type RunState } from '../lifecycle.js'
import { BackendSet } from '../backends/backend-set.js'
import type { BackendInfo, BackendState, ProbeResult } from '../backends/backend.js'
import { clearProbe, noteProbe } from '../backends/probe-health.js'
import { ProbeRunner, realTimers, type Prober, type ProbeTimers } from '../probes/runner.js'
import { tcpProber } from '../probes/tcp-probe.js'
import {
  isEjected,
  noteAnswered,
  noteConnectFailure,
  noteConnectSuccess,
  noteStall,
} from '../backends/ejection.js'
import { kerberosSummary, type KerberosSummary } from '../backends/kerberos.js'
import { connectWithFailover } from '../balancing/failover.js'
import type { Discovery, DiscoverySnapshot, SkippedInstance } from '../discovery/discovery.js'
import type { Dial, DialOptions } from '../net/dial.js'
import type { ZkDrainMarks } from '../discovery/zk-drain-marks.js'
import { RouteDrain, type DrainMarks, type DrainResult } from './drain.js'
import { backendSnapshot, type RouteSnapshot, type RouteTlsSnapshot } from './snapshot.js'
import { Listener, type ListenerTls } from '../net/listener.js'
import {
  BackendTls,
  backendUsesTls,
  certificateFailure,
  certificateFix,
  frontOptions,
  sameBackendTls,
} from '../net/tls.js'

export type { DrainMarks, DrainResult }
export type { BackendSnapshot, RouteSnapshot } from './snapshot.js'

/** Where a route's backends and shared drain marks come from (replaced together on a retarget). */
export interface RouteSource {
  discovery: Discovery
  shared: ZkDrainMarks | undefined
}

export interface RouteDeps {
  logger: Logger
  dial: Dial
  /** uniform in [0, 1) */
  random: () => number
  /** epoch ms */
  now: () => number
  /** the probe runner's timers (default: real, unref'd) */
  probeTimers?: ProbeTimers
}

/** What every route shares: where it listens and how it connects to backends. */
export interface RouteBase {
  name: string
  listen: HostPort
  connectTimeoutMs: number
  maxConnectAttempts: number
  idleTimeoutMs: number
  ejection: EjectionConfig
  /** clients connect with TLS (net/tls.ts) */
  tls: FrontTlsConfig | undefined
  /** backends are dialled with TLS (net/tls.ts) */
  backendTls: BackendTlsConfig | undefined
  healthCheck: HealthCheckConfig
}

/** A live client connection as the route sees it: it can be cut at shutdown. */
export interface Tracked {
  destroy(reason: string): void
}

/** Where a route accepts its clients (net/listener.ts, net/handle-listener.ts). */
export interface Acceptor {
  /** binds; rejects with HHP_ERR_LISTEN */
  listen(): Promise<HostPort>
  address(): HostPort
  /** stop accepting, live connections untouched; idempotent */
  stopAccepting(): Promise<void>
  /** TLS fronts: a new certificate for new connections (reload); live ones keep theirs */
  setSecureContext?(options: ListenerTls['options']): void
}

/**
 * Makes the route's acceptor: every accepted client goes to `accept`, every failed accept to
 * `acceptError`; with `secure`, clients connect with TLS and arrive decrypted.
 */
export type AcceptorFactory<C> = (
  listen: HostPort,
  accept: (client: C) => void,
  acceptError: (err: Error) => void,
  secure: ListenerTls | undefined,
) => Acceptor

/**
 * The part of a route that does not depend on the protocol: listener, discovery into a
 * BackendSet, readiness, connect-time failover with passive ejection, and draining on stop.
 * Subclasses handle each accepted client (`onClient`), which they own from then on; `C` is what
 * their acceptor hands out (a net.Socket, or a bare TCP handle).
 */
export abstract class RouteCore<C> {
  readonly name: string
  readonly lifecycle = new Lifecycle()
  protected readonly backends = new BackendSet()
  protected readonly log: Logger
  protected readonly deps: RouteDeps
  #base: RouteBase
  #discovery: Discovery
  /** operator drain marks by backend key, this proxy's and the shared ones */
  readonly #drain: RouteDrain
  readonly #listener: Acceptor
  readonly #live = new Set<Tracked>()
  readonly #waiters = new Set<() => void>()
  #skipped: SkippedInstance[] = []
  /** the route's backend TLS, rebuilt when a reload changes it */
  #backendTls: BackendTls | undefined
  /** backends whose certificate failure was logged (once each, until they connect again) */
  readonly #certLogged = new Set<string>()
  /** what Kerberos clients need, from the latest read (HS2 from ZooKeeper only) */
  #kerberos: KerberosSummary | undefined
  /** what #kerberos was last logged as, so a change is said once */
  #kerberosLogged = ''
  /** the last thing said was a warning (the next agreement says it is resolved) */
  #kerberosWarned = false
  /** active probes of the listed backends (docs/hung-backends.md) */
  readonly #probes: ProbeRunner
  #connSeq = 0
  #total = 0
  #failovers = 0
  #rejected = 0
  #ready = false

  constructor(
    base: RouteBase,
    discovery: Discovery,
    deps: RouteDeps,
    component: string,
    drain: DrainMarks = { local: new Set(), shared: undefined },
    acceptor: AcceptorFactory<C>,
  ) {
    this.name = base.name
    this.#base = base
    this.deps = deps
    this.#discovery = discovery
    this.#drain = new RouteDrain(drain)
    this.log = deps.logger.child({ component, route: base.name })
    this.#backendTls = base.backendTls === undefined ? undefined : new BackendTls(base.backendTls)
    this.#listener = acceptor(
      base.listen,
      (c) => this.#accept(c),
      (err) =>
        this.log.warn(
          { code: errorCode(err), err: errorMessage(err) },
          'accept failed; still listening',
        ),
      base.tls === undefined
        ? undefined
        : {
            options: frontOptions(base.tls),
            // scanners and clients that do not trust the proxy's certificate land here: one line
            // each, at info (the client's own error says more)
            onHandshakeError: (err) =>
              this.log.info(
                { code: errorCode(err), err: errorMessage(err) },
                'client TLS handshake failed; connection closed',
              ),
          },
    )
    this.lifecycle.on('state', (to: RunState, from: RunState) =>
      this.log.debug({ from, to }, 'route state'),
    )
    this.#probes = new ProbeRunner(base.healthCheck, {
      now: deps.now,
      timers: deps.probeTimers ?? realTimers,
      proberFor: (b) =>
        this.#base.healthCheck.probe === 'none' ? undefined : this.proberFor(b, this.#base),
      onResult: (key, r) => this.#onProbe(key, r),
    })
  }

  get ready(): boolean {
    return this.#ready
  }

  /** Binds the listener and starts discovery. */
  async start(): Promise<HostPort> {
    this.lifecycle.to('starting')
    this.#wire(this.#discovery)
    let addr: HostPort
    try {
      addr = await this.#listener.listen()
    } catch (err) {
      this.lifecycle.to('stopped')
      throw err
    }
    this.#discovery.start()
    this.#drain.start()
    this.#probes.start()
    this.lifecycle.to('running')
    this.log.info({ listen: addr, ...this.describe() }, 'route listening')
    this.#warnInsecure()
    return addr
  }

  /** The TLS settings as /routes shows them. */
  tlsSnapshot(): RouteTlsSnapshot {
    const b = this.#base
    return {
      front: b.tls !== undefined,
      clientCertificates: b.tls?.clientCa !== undefined,
      backends: b.backendTls?.mode ?? 'none',
      insecureSkipVerify: b.backendTls?.insecureSkipVerify === true,
    }
  }

  #warnInsecure(): void {
    const t = this.#base.backendTls
    if (t?.insecureSkipVerify === true && t.mode !== 'off')
      this.log.warn(
        { insecureSkipVerify: true },
        'backend certificates are NOT checked on this route (backendTls.insecureSkipVerify): anyone on the path can pose as a backend; set backendTls.ca instead',
      )
  }

  /** tls.connect options for a backend, or undefined when it is dialled in plain TCP. */
  protected backendTlsFor(x: BackendInfo): ReturnType<BackendTls['connectOptions']> | undefined {
    const t = this.#backendTls
    return t !== undefined && backendUsesTls(t.cfg, x.ssl) ? t.connectOptions(x.host) : undefined
  }

  address(): HostPort {
    return this.#listener.address()
  }

  /** The listen address as configured (port 0 stays 0), to match routes across a reload. */
  get configuredListen(): HostPort {
    return this.#base.listen
  }

  /**
   * Apply a reloaded configuration in place: timeouts, ejection and (when given) a new discovery
   * source with its shared drain marks. Live connections are untouched; the backend list and its
   * counters are kept until the new source's first read replaces it.
   */
  protected updateBase(base: RouteBase, source: RouteSource | undefined): void {
    const before = this.#base
    const probeWas = before.healthCheck.probe
    this.#base = base
    // a new certificate (or a rotated one under the same paths) serves the connections that follow
    if (base.tls !== undefined && !samePem(base.tls, before.tls)) {
      this.#listener.setSecureContext?.(frontOptions(base.tls))
      this.log.info({ cert: base.tls.cert.path }, 'TLS certificate reloaded for new connections')
    }
    const tlsChanged = !sameBackendTls(base.backendTls, before.backendTls)
    if (tlsChanged) {
      this.#backendTls = base.backendTls === undefined ? undefined : new BackendTls(base.backendTls)
      this.#certLogged.clear()
      if (this.lifecycle.is('running')) this.#warnInsecure()
    }
    this.#probes.configure(base.healthCheck)
    // probers dial as the route does: new backend TLS settings make new probers
    if (tlsChanged || base.healthCheck.probe !== probeWas) this.refreshProbes()
    if (source === undefined) return
    const old = this.#discovery
    old.stop()
    old.removeAllListeners()
    this.#discovery = source.discovery
    this.#wire(source.discovery)
    const running = this.lifecycle.is('running')
    if (running) source.discovery.start()
    this.#drain.replaceShared(source.shared, running)
  }

  /** The discovery source (the proxy releases its ZooKeeper session when it is replaced). */
  get discovery(): Discovery {
    return this.#discovery
  }

  /** The shared drain marks, if any (they hold a ZooKeeper session too). */
  get sharedDrainMarks(): ZkDrainMarks | undefined {
    return this.#drain.shared
  }

  /**
   * Mark a backend as draining (no new connections, live ones continue), or clear the mark. On a
   * ZooKeeper route the mark is written to ZooKeeper for every proxy on the same registry, and
   * undraining clears it whichever proxy set it; only when that write fails is the mark kept by
   * this proxy alone (and reported so). Static routes keep their marks here. Unknown keys change
   * nothing.
   */
  async drain(key: string, on: boolean): Promise<DrainResult> {
    if (this.backends.get(key) === undefined && !this.isDraining(key))
      return { known: false, draining: false, shared: false, error: undefined }
    const { shared, error } = await this.#drain.set(key, on)
    const draining = this.isDraining(key)
    const fields = { backend: key, draining, active: this.backends.get(key)?.active ?? 0, shared }
    if (error !== undefined)
      this.log.warn(
        { ...fields, err: error },
        on
          ? 'backend draining on this proxy only: the shared mark could not be written'
          : 'shared drain mark could not be cleared',
      )
    else this.log.info(fields, on ? 'backend draining' : 'backend undrained')
    return { known: true, draining, shared, error }
  }

  isDraining(key: string): boolean {
    return this.#drain.has(key)
  }

  /** Reasons this route cannot serve a new client now; empty = ready. */
  notReady(): string[] {
    const reasons: string[] = []
    if (!this.lifecycle.is('running')) reasons.push(`route is ${this.lifecycle.state}`)
    const d = this.#discovery.status()
    if (!d.ready)
      reasons.push(
        d.lastError
          ? `no successful discovery yet: ${d.lastError.message}`
          : 'no successful discovery yet',
      )
    const marks = this.#drain.notReady()
    if (marks !== undefined) reasons.push(marks)
    else if (this.usable(this.backends.listed()).length === 0) {
      reasons.push(
        this.backends.listed().length === 0
          ? 'no backend listed'
          : 'every listed backend is draining',
      )
    }
    return reasons
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
    this.#drain.stop()
    this.#probes.stop()
    for (const w of [...this.#waiters]) w()
    await this.#listener.stopAccepting()
    if (this.#live.size > 0) {
      this.log.info({ live: this.#live.size, graceMs }, 'waiting for live connections')
      await this.#drained(graceMs)
    }
    for (const c of [...this.#live]) c.destroy('shutdown')
    this.lifecycle.to('stopped')
  }

  baseSnapshot(kind: RouteSnapshot['kind']): RouteSnapshot {
    const now = this.deps.now()
    const d = this.describe()
    return {
      name: this.name,
      kind,
      listen: this.#listener.address(),
      target: d.target,
      policy: d.policy,
      state: this.lifecycle.state,
      ready: this.#ready,
      notReady: this.notReady(),
      discovery: this.#discovery.status(),
      backends: this.backends
        .all()
        .map((b) =>
          backendSnapshot(b, now, this.isDraining(b.key), this.backendTlsFor(b) !== undefined),
        ),
      skipped: [...this.#skipped],
      kerberos: this.#kerberos,
      connections: {
        active: this.#live.size,
        total: this.#total,
        failovers: this.#failovers,
        rejected: this.#rejected,
      },
      drainMarks: this.#drain.snapshot(),
      tls: this.tlsSnapshot(),
    }
  }

  /**
   * The prober of one backend for `base.healthCheck.probe` (never `none`), or undefined when it
   * gets none. Here: `tcp` only; routes add the probes that speak their protocol.
   */
  protected proberFor(b: BackendInfo, base: RouteBase): Prober | undefined {
    if (base.healthCheck.probe !== 'tcp') return undefined
    return tcpProber({
      host: b.host,
      port: b.port,
      key: b.key,
      connectTimeoutMs: Math.min(base.connectTimeoutMs, base.healthCheck.timeoutMs),
      dial: this.deps.dial,
    })
  }

  /**
   * Ask proberFor again for every backend (the probe kind changed, or the route just learned what
   * its clients speak). Backends held down by the old probes are released.
   */
  protected refreshProbes(): void {
    for (const b of this.backends.all())
      if (clearProbe(b.probe)) this.log.info({ backend: b.key }, 'backend up: its probes changed')
    this.#probes.refresh()
  }

  /** Backends probed now. */
  protected get probedBackends(): number {
    return this.#probes.size
  }

  /** Discovery stopped listing `keys` (they may still serve what they hold). */
  protected backendsRemoved(_keys: readonly string[]): void {}

  /** For logs and snapshots. */
  /** `targetFrom`: where the target came from when not written by the user (hive-site.xml keys) */
  protected abstract describe(): { target: string; policy: string; targetFrom?: string }
  /** Owns `client` (not read yet, half-open capable) from now on and must close it on every path. */
  protected abstract onClient(client: C, id: number): void
  /** Closes a client the route will not serve (it is stopping). */
  protected abstract closeClient(client: C): void
  /** `address:port` of a client, for logs; costs a syscall (getpeername): call it only when it is used. */
  protected abstract peer(client: C): string

  /** Counted as live until the returned function is called; cut at shutdown past the grace period. */
  protected track(c: Tracked): () => void {
    this.#live.add(c)
    return () => this.#live.delete(c)
  }

  /**
   * Connect to one backend with connect-time failover: `next(tried)` proposes candidates (never
   * one in `tried`), each failure is logged and fed to ejection. On success the backend's
   * counters are bumped; the caller must `release(key, ...)` when that backend connection ends.
   */
  protected async connectBackend<S>(
    conn: number,
    next: (tried: ReadonlySet<string>) => BackendInfo | undefined,
    isAborted: () => boolean,
    dial: (x: BackendInfo, timeoutMs: number) => Promise<S>,
    opts: {
      /** backends this client connection already used (see FailoverPlan.tried) */
      tried?: Set<string>
      /** see FailoverPlan.retriable */
      retriable?: (err: unknown) => boolean
    } = {},
  ): Promise<{ socket: S; backend: BackendInfo; attempts: readonly ConnectAttempt[] }> {
    const b = this.#base
    const r = await connectWithFailover({
      ...(opts.tried === undefined ? {} : { tried: opts.tried }),
      ...(opts.retriable === undefined ? {} : { retriable: opts.retriable }),
      maxAttempts: b.maxConnectAttempts,
      next,
      connect: (x) => dial(x, b.connectTimeoutMs),
      onFailure: (x, err) => this.#onConnectFailure(conn, x, err),
      aborted: () => isAborted() || !this.lifecycle.is('running'),
    })
    this.connected(r.backend.key)
    if (r.attempts.length > 0) this.#failovers++
    return r
  }

  /**
   * connectBackend's bookkeeping of a success, for a route that reached `key` without it (an HTTP
   * request sent straight to the one backend that holds its handle). The caller must `release`.
   */
  protected connected(key: string): void {
    const state = this.backends.get(key)
    if (this.#certLogged.size > 0) this.#certLogged.delete(key)
    if (state !== undefined) {
      noteConnectSuccess(state)
      state.active++
      state.connections++
    }
  }

  /** connectBackend's bookkeeping of a failed connect (logged, fed to ejection), likewise. */
  protected connectFailed(conn: number, b: BackendInfo, err: unknown): void {
    this.#onConnectFailure(conn, b, err)
  }

  /** `deps.dial` for connectBackend: a net.Socket whose reads land in `onread` when given. */
  protected dialSocket(
    onread?: net.OnReadOpts,
  ): (x: BackendInfo, timeoutMs: number) => Promise<net.Socket> {
    return (x, timeoutMs) =>
      this.deps.dial({
        host: x.host,
        port: x.port,
        key: x.key,
        timeoutMs,
        ...(onread ? { onread } : {}),
        ...this.#tlsDial(x),
      })
  }

  /** The TLS part of a backend dial: options (with its last session) and where new sessions go. */
  #tlsDial(x: BackendInfo): Pick<DialOptions, 'tls' | 'onTlsSession'> {
    const t = this.#backendTls
    if (t === undefined || !backendUsesTls(t.cfg, x.ssl)) return {}
    return {
      tls: t.connectOptions(x.host, x.key),
      onTlsSession: (session) => t.keepSession(x.key, session),
    }
  }

  /** Log why a client got no backend (every attempt) and count it. */
  protected rejected(conn: number, client: C, err: unknown): void {
    this.#rejected++
    const attempts = err instanceof AllBackendsFailedError ? err.attempts : []
    this.log.warn(
      { conn, client: this.peer(client), code: errorCode(err), attempts },
      'no backend for client; closing it',
    )
  }

  /** A backend connection handed out by connectBackend ended. */
  protected release(key: string, bytesFromClient: number, bytesToClient: number): void {
    const state = this.backends.get(key)
    if (state !== undefined) {
      state.bytesFromClient += bytesFromClient
      state.bytesToClient += bytesToClient
    }
    this.backends.release(key)
  }

  /**
   * A backend connection handed out by connectBackend stalled (no first byte within `timeoutMs`):
   * it is released, the stall counts toward ejection, and the client moves on (a failover).
   */
  protected stalled(conn: number, key: string, keptBytes: number, timeoutMs: number): void {
    this.release(key, 0, 0)
    this.#failovers++
    this.countStall(
      { conn, backend: key, timeoutMs, keptBytes },
      'backend sent nothing in time (hung?); moving the handshake to another',
    )
  }

  /**
   * Count a stall against `fields.backend` toward ejection (same settings as connect failures,
   * counted apart) and log `msg` with `fields`. Releases nothing: the caller owns its counters.
   */
  protected countStall(
    fields: { conn: number; backend: string; timeoutMs: number; [k: string]: unknown },
    msg: string,
  ): void {
    this.log.warn(fields, msg)
    const key = fields.backend
    const state = this.backends.get(key)
    if (state === undefined) return
    const now = this.deps.now()
    const others = this.backends.listed().filter((x) => x.key !== key && !isEjected(x, now)).length
    const ms = noteStall(state, this.#base.ejection, now, others)
    if (ms > 0)
      this.log.warn(
        { backend: key, forMs: ms, ejections: state.ejections, stalls: state.stalls },
        'backend ejected',
      )
  }

  /** The backend's first byte arrived on a connection: its stall streak ends. */
  protected answered(key: string): void {
    const state = this.backends.get(key)
    if (state !== undefined) noteAnswered(state)
  }

  protected countFailover(): void {
    this.#failovers++
  }

  /**
   * Candidates a new connection may use: never a draining one (an operator's explicit intent);
   * non-ejected ones first, all the others only if every one is ejected. Returns `candidates`
   * itself when none is excluded (the per-connection common case allocates nothing).
   */
  protected usable(candidates: readonly BackendState[]): readonly BackendState[] {
    const now = this.deps.now()
    let clean = true
    for (const b of candidates) {
      if (this.isDraining(b.key) || isEjected(b, now) || b.probe.down) {
        clean = false
        break
      }
    }
    if (clean) return candidates
    const open = candidates.filter((b) => !this.isDraining(b.key))
    const healthy = open.filter((b) => !isEjected(b, now) && !b.probe.down)
    return healthy.length > 0 ? healthy : open
  }

  /**
   * The first untried listed backend in `order` (a metastore route's SEQUENTIAL or RANDOM order),
   * usable ones first as `usable` ranks them; the order is kept within each group.
   */
  protected firstUntried(
    order: readonly BackendInfo[],
    tried: ReadonlySet<string>,
  ): BackendInfo | undefined {
    const listed = new Set(this.backends.listed().map((b) => b.key))
    const untried = order
      .filter((b) => !tried.has(b.key) && listed.has(b.key))
      .map((b) => this.backends.get(b.key))
      .filter((b) => b !== undefined)
    return this.usable(untried)[0]
  }

  /** Whether discovery lists at least one backend (draining or ejected ones count). */
  protected hasBackends(): boolean {
    return this.backends.listed().length > 0
  }

  /**
   * A client that arrives while nothing is listed (before the first read, or between an HA
   * leader stepping down and the next one stepping up) waits for a non-empty discovery update,
   * at most `ms`, instead of being refused at once.
   */
  protected waitForBackends(ms: number): Promise<void> {
    if (this.hasBackends()) return Promise.resolve()
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

  #accept(client: C): void {
    const id = ++this.#connSeq
    this.#total++
    if (this.lifecycle.state !== 'running') {
      this.closeClient(client)
      return
    }
    this.onClient(client, id)
  }

  #wire(d: Discovery): void {
    d.on('update', (s: DiscoverySnapshot) => this.#onUpdate(s))
    d.on('failure', () => {})
  }

  #onUpdate(s: DiscoverySnapshot): void {
    const diff = this.backends.reset(s.backends)
    // a changed registration (HTTP path, TLS) is probed as it is now
    if (diff.changed.length > 0) this.#probes.renew(diff.changed)
    this.#probes.sync(this.backends.listed())
    this.#skipped = s.skipped
    if (!this.#ready) {
      this.#ready = true
      this.log.info({ backends: s.backends.length }, 'route ready (first discovery read)')
    }
    this.#noteKerberos(kerberosSummary(s.backends))
    if (diff.removed.length > 0) this.backendsRemoved(diff.removed)
    if (diff.added.length + diff.removed.length + diff.changed.length > 0) {
      this.log.info(
        { added: diff.added, removed: diff.removed, changed: diff.changed },
        'backends changed',
      )
    }
    if (this.backends.listed().length > 0) {
      const waiters = [...this.#waiters]
      this.#waiters.clear()
      for (const w of waiters) w()
    }
  }

  /**
   * Keep the latest Kerberos summary and say what changed, once per change: a warning with the fix
   * while the instances disagree, an info line naming the principal once they agree. A change is
   * a different set of principals or methods; a re-read listing the same ones, or one more
   * instance with a principal already seen, says nothing. A read with nothing published (no
   * instance, or only legacy znodes) keeps what was said last.
   */
  #noteKerberos(k: KerberosSummary | undefined): void {
    this.#kerberos = k
    if (k === undefined) return
    const said = JSON.stringify([Object.keys(k.principals), k.authentications])
    if (said === this.#kerberosLogged) return
    this.#kerberosLogged = said
    const warned = this.#kerberosWarned
    this.#kerberosWarned = k.mismatch || k.mixedAuthentication
    const fields = { principals: k.principals, authentications: k.authentications, fix: k.advice }
    if (k.mismatch)
      this.log.warn(
        { ...fields, perHostPattern: k.perHostPattern },
        'HS2 instances name different Kerberos principals: no single principal= in a client URL reaches them all',
      )
    else if (k.mixedAuthentication)
      this.log.warn(fields, 'HS2 instances publish different authentication methods')
    else if (k.clientPrincipal !== undefined)
      this.log.info(
        { principal: k.clientPrincipal, fix: k.advice, ...(warned ? { resolved: true } : {}) },
        'HS2 instances share one Kerberos principal; clients name it in principal=',
      )
  }

  /** One probe result: count it, and mark the backend down or up when a streak is complete. */
  #onProbe(key: string, r: ProbeResult): void {
    const state = this.backends.get(key)
    if (state === undefined) return
    const hc = this.#base.healthCheck
    const change = noteProbe(state.probe, r, hc)
    if (change === 'down')
      this.log.warn(
        { backend: key, failures: hc.failures, err: r.detail, probe: hc.probe },
        'backend down: its probes failed; no new connections until they succeed again',
      )
    else if (change === 'up') {
      // back from down: slow start ramps its share, as after an ejection
      state.upSince = r.at
      this.log.info(
        { backend: key, successes: hc.successes, probe: hc.probe },
        'backend up: its probes succeed again',
      )
    } else if (!r.ok && this.log.isLevelEnabled('debug'))
      this.log.debug(
        { backend: key, err: r.detail, streak: state.probe.failStreak },
        'probe failed',
      )
  }

  #onConnectFailure(conn: number, b: BackendInfo, err: unknown): void {
    // a stall that may move on (an HTTP OpenSession) was counted where it was seen (countStall)
    if (errorCode(err) === ErrorCodes.BACKEND_STALLED) return
    const state = this.backends.get(b.key)
    if (isLocalFailure(err)) {
      // the proxy is out of descriptors or ports: no backend is to blame, none is ejected
      this.log.error(
        { conn, backend: b.key, code: errorCode(err), err: errorMessage(err) },
        "backend connect failed on this proxy's own limits (raise ulimit -n?); the backend is not blamed",
      )
      return
    }
    const cert = certificateFailure(err)
    if (cert === undefined)
      this.log.warn(
        { conn, backend: b.key, code: errorCode(err), err: errorMessage(err) },
        'backend connect failed; trying another',
      )
    else if (!this.#certLogged.has(b.key)) {
      // once per backend until it connects again: every client would repeat the same line
      this.#certLogged.add(b.key)
      const cause = err instanceof Error && err.cause !== undefined ? err.cause : err
      this.log.warn(
        {
          conn,
          backend: b.key,
          code: cert,
          reason: errorMessage(cause),
          name: this.#backendTls?.nameFor(b.host),
          fix: certificateFix(cert),
        },
        "backend's TLS certificate refused; trying another (logged once per backend)",
      )
    } else this.log.debug({ conn, backend: b.key, code: cert }, "backend's TLS certificate refused")
    if (state === undefined) return
    const now = this.deps.now()
    const others = this.backends
      .listed()
      .filter((x) => x.key !== b.key && !isEjected(x, now)).length
    const ms = noteConnectFailure(state, this.#base.ejection, now, others, errorCode(err))
    if (ms > 0)
      this.log.warn({ backend: b.key, forMs: ms, ejections: state.ejections }, 'backend ejected')
  }

  #drained(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, graceMs)
      const poll = setInterval(() => {
        if (this.#live.size === 0) finish()
      }, 50)
      function finish(): void {
        clearTimeout(timer)
        clearInterval(poll)
        resolve()
      }
    })
  }
}

/** The acceptor of routes whose clients are net.Sockets (TLS sockets with a TLS front). */
export const socketAcceptor: AcceptorFactory<net.Socket> = (listen, accept, acceptError, secure) =>
  new Listener(listen, accept, acceptError, secure)

/** Same certificate, key and client CA contents (a rotation keeps the paths). */
function samePem(a: FrontTlsConfig, b: FrontTlsConfig | undefined): boolean {
  return (
    b !== undefined &&
    a.cert.pem === b.cert.pem &&
    a.key.pem === b.key.pem &&
    a.clientCa?.pem === b.clientCa?.pem &&
    a.minVersion === b.minVersion
  )
}

/** `address:port` of a client for logs ('?' once the socket is gone: it is read lazily). */
export function peerOf(client: net.Socket): string {
  return `${client.remoteAddress ?? '?'}:${client.remotePort ?? '?'}`
}
