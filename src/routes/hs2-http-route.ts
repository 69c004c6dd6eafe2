/**
 * HS2 over HTTP (design decision 12): every POST body is one TCLIService call. The route reads its
 * method and handle (thrift/hs2-handles.ts) and sends it to the server that holds the handle,
 * whatever TCP connection or cookie it came on:
 *
 * - a known session/operation handle -> its backend (affinity hit by handle);
 * - else the proxy's affinity cookie naming a listed backend -> that backend (hit by cookie; the
 *   answer teaches this process the handles, so a second proxy behind one address keeps up);
 * - else (OpenSession, calls without a handle, handles never seen) -> the policy, with failover on
 *   connect errors (nothing reached a server yet) and, for an OpenSession, on a stall (below);
 * - a handle whose backend is gone (ejected, or failing to connect) gets a Thrift error status
 *   naming the lost session, never a silent move: sessions live in one server's memory.
 *
 * Request bodies are read whole, up to `http.maxBodyBytes` (413 above): an OpenSession may have to
 * be sent again to another server, and the proxy answers for lost sessions before any byte left.
 * Responses stream through; the first bytes of those that hand out a handle are read on the way
 * (a gzip copy is decoded for that; the client gets the bytes as the server sent them).
 *
 * Stalls (docs/hung-backends.md): a request without response headers within the route's
 * `firstResponseTimeoutMs` counts a stall against its backend (toward ejection, like a binary
 * route's silent handshake). An OpenSession that stalled moves to the policy's next backend if no
 * byte of its answer arrived; any other stalled request gets the lost-session answer (its session
 * stays where it is). A synchronous ExecuteStatement has no such timer: it answers when its query
 * is done.
 */
import type { HostPort, Hs2RouteConfig } from '../config/types.js'
import type { BackendInfo } from '../backends/backend.js'
import { HttpProber } from '../probes/http-probe.js'
import type { Prober } from '../probes/runner.js'
import { isEjected } from '../backends/ejection.js'
import { POLICIES, type Policy } from '../balancing/policy.js'
import type { Discovery } from '../discovery/discovery.js'
import { ErrorCodes, ProxyError, errorCode, errorMessage } from '../errors.js'
import { slowStartPool } from '../balancing/slow-start.js'
import { AffinityTable } from '../http/affinity.js'
import { affinitySetCookie, affinityValue, readCookie } from '../http/cookie.js'
import { answerPlain, isConnectError } from '../http/exchange.js'
import { BackendPools } from '../http/wire/client.js'
import { type HttpExchange, MAX_HEADER_BYTES, type ThriftPostRules } from '../http/wire/front.js'
import { sameBackendTls } from '../net/tls.js'
import { backendRequestLines, clientResponseLines } from '../http/headers.js'
import { HandleLearner, isGzip, requestPrefix } from '../http/thrift-body.js'
import { StallClock } from '../http/stall-clock.js'
import { type StallTimer, Upstream, relay } from '../http/upstream.js'
import type { WireRequest } from '../http/wire/client.js'
import {
  executeRunsAsync,
  hs2ErrorReply,
  isTcliMethod,
  readHs2Request,
  responseHasHandle,
  type Envelope,
  type RequestRead,
} from '../thrift/hs2-handles.js'
import { type HttpAcceptor, httpAcceptor } from './http-acceptor.js'
import {
  RouteCore,
  type DrainMarks,
  type RouteBase,
  type RouteDeps,
  type RouteSnapshot,
  type RouteSource,
} from './route-core.js'
import { hiveSiteOrigin } from './snapshot.js'

/** What /routes and the metrics show of an HTTP route's traffic. */
export interface HttpRouteStats {
  path: string
  /** `${method} ${outcome}` -> requests (method `unparsed` when the body was not a TCLIService call) */
  requests: Record<string, number>
  affinity: {
    byHandle: number
    byCookie: number
    /** requests with a handle this process did not know and no usable cookie: sent by the policy */
    unknownHandle: number
    lostSessions: number
    evictions: number
    expired: number
    tracked: number
  }
  /** tracked sessions and operations per backend key */
  tracked: Record<string, { sessions: number; operations: number }>
}

export interface Hs2HttpRouteSnapshot extends RouteSnapshot {
  transportMode: 'http'
  http: HttpRouteStats
}

export type RequestOutcome =
  | 'ok'
  | 'lost_session'
  | 'no_backend'
  | 'backend_failed'
  | 'client_gone'
  | 'bad_request'

const THRIFT = { 'content-type': 'application/x-thrift' }

/** Sweep expired affinity entries this often. */
const SWEEP_MS = 60_000
/** SQLSTATE of a lost session: "communication link failure", as the driver reports a dead server. */
const SQLSTATE_LOST = '08S01'

interface Route {
  backend: BackendInfo
  /** how it was chosen */
  by: 'handle' | 'cookie' | 'policy'
}

/** The stall timer of one request (see #stallRule). */
interface StallRule {
  conn: number
  method: string
  /** no response headers within this many ms is a stall; 0 = no timer */
  ms: number
  /** an OpenSession: may move to another backend if no byte of its answer arrived */
  resendable: boolean
}

export class Hs2HttpRoute extends RouteCore<HttpExchange> {
  #cfg: Hs2RouteConfig
  #policy: Policy
  #picks = 0
  readonly #front: HttpAcceptor['front']
  readonly #rules: HttpAcceptor['rules']
  readonly #pools: BackendPools<BackendInfo>
  readonly #affinity: AffinityTable
  /** method -> outcome -> requests (snapshot: `${method} ${outcome}`) */
  readonly #requests = new Map<string, Map<RequestOutcome, number>>()
  /** the last Cookie header read and its affinity cookie: a client sends the same one each time */
  #lastCookie: { header: string | undefined; value: string | undefined } = {
    header: undefined,
    value: undefined,
  }
  readonly #stats = { byHandle: 0, byCookie: 0, unknownHandle: 0, lostSessions: 0 }
  /** backend key -> affinity cookie value */
  readonly #cookieValues = new Map<string, string>()
  #sweeper: NodeJS.Timeout | undefined
  /** the stall timers of this route's requests */
  readonly #clock = new StallClock()

  constructor(cfg: Hs2RouteConfig, discovery: Discovery, deps: RouteDeps, drain?: DrainMarks) {
    const { acceptor, front, rules } = httpAcceptor(
      cfg.http,
      thriftRules(cfg),
      deps.logger.child({ component: 'hs2-http-front', route: cfg.name }),
    )
    super(cfg, discovery, deps, 'hs2-http-route', drain, acceptor)
    this.#front = front
    this.#rules = rules
    const dial = this.dialSocket()
    this.#pools = new BackendPools((b) => dial(b, this.#cfg.connectTimeoutMs), MAX_HEADER_BYTES)
    this.#cfg = cfg
    this.#policy = POLICIES[cfg.policy]
    this.#affinity = new AffinityTable({
      ttlMs: cfg.http.affinityTtlMs,
      maxEntries: cfg.http.affinityMaxEntries,
      now: deps.now,
    })
  }

  get config(): Hs2RouteConfig {
    return this.#cfg
  }

  override async start(): Promise<HostPort> {
    const addr = await super.start()
    this.#sweeper = setInterval(() => this.#affinity.sweep(), SWEEP_MS)
    this.#sweeper.unref()
    return addr
  }

  override async stop(graceMs: number): Promise<void> {
    clearInterval(this.#sweeper)
    await super.stop(graceMs)
    this.#clock.stop()
    this.#front.current?.closeAll()
    this.#pools.destroyAll()
  }

  /** Reload in place: policy, timeouts, ejection, a new discovery when the target changed. */
  update(cfg: Hs2RouteConfig, source: RouteSource | undefined): void {
    const tlsChanged = !sameBackendTls(cfg.backendTls, this.#cfg.backendTls)
    this.#cfg = cfg
    // the cookie's name may have changed
    this.#lastCookie = { header: undefined, value: undefined }
    this.#rules.current = thriftRules(cfg)
    this.#policy = POLICIES[cfg.policy]
    this.updateBase(cfg, source)
    // pools hold the old TLS settings: new requests get new ones, requests in flight finish
    if (tlsChanged) this.#pools.closeAll()
  }

  snapshot(): Hs2HttpRouteSnapshot {
    const tracked: HttpRouteStats['tracked'] = {}
    for (const [k, c] of this.#affinity.counts()) tracked[k] = c
    return {
      ...this.baseSnapshot('hs2'),
      transportMode: 'http',
      http: {
        path: this.#cfg.http.path,
        requests: Object.fromEntries(
          [...this.#requests].flatMap(([m, by]) => [...by].map(([o, n]) => [`${m} ${o}`, n])),
        ),
        affinity: {
          ...this.#stats,
          evictions: this.#affinity.evictions,
          expired: this.#affinity.expired,
          tracked: this.#affinity.size,
        },
        tracked,
      },
    }
  }

  protected describe(): { target: string; policy: string; targetFrom?: string } {
    return { target: this.#cfg.url, policy: this.#cfg.policy, ...hiveSiteOrigin(this.#cfg) }
  }

  protected closeClient(ex: HttpExchange): void {
    answerPlain(ex, 503, 'the proxy is shutting down', true)
  }

  protected peer(ex: HttpExchange): string {
    return `${ex.remoteAddress ?? '?'}:${ex.remotePort ?? '?'}`
  }

  /** OPTIONS on the servlet path over a kept-alive connection (probes/http-probe.ts), or tcp. */
  protected override proberFor(b: BackendInfo, base: RouteBase): Prober | undefined {
    if (base.healthCheck.probe === 'tcp') return super.proberFor(b, base)
    const dial = this.dialSocket()
    return new HttpProber({
      key: b.key,
      path: b.path ?? this.#cfg.http.path,
      dial: () => dial(b, Math.min(base.connectTimeoutMs, base.healthCheck.timeoutMs)),
      timeoutMs: () => this.#cfg.healthCheck.timeoutMs,
    })
  }

  protected override backendsRemoved(keys: readonly string[]): void {
    // new requests of their sessions get a fresh pool if the server still answers (HS2 leaves
    // ZooKeeper before it stops serving its sessions); idle keep-alive sockets go now
    for (const k of keys) {
      this.#pools.drop(k)
      this.#cookieValues.delete(k)
    }
  }

  protected onClient(ex: HttpExchange, id: number): void {
    ex.onClose(this.track(ex))
    this.#route(ex, id, ex.body, ex.suffix)
  }

  #route(ex: HttpExchange, id: number, body: Buffer, suffix: string): void {
    const gzip = isGzip(ex.header('content-encoding'))
    const plain = gzip ? requestPrefix(body) : body
    const read = readHs2Request(plain)
    if (read.state !== 'done') {
      const why = read.state === 'bad' ? read.reason : 'the body ends inside the message'
      this.log.warn(
        { conn: id, client: this.peer(ex), err: why },
        'request body is not a TCLIService call; answering 400',
      )
      this.#count('unparsed', 'bad_request')
      answerPlain(ex, 400, `not a Thrift binary TCLIService call: ${why}`)
      return
    }
    const stall = this.#stallRule(id, read.envelope.method, plain)
    const chosen = this.#affine(ex, read)
    if (chosen === undefined) {
      this.#viaPolicy(ex, id, body, suffix, read, stall)
      return
    }
    const b = chosen.backend
    const state = this.backends.get(b.key)
    if (state !== undefined && isEjected(state, this.deps.now())) {
      const after =
        state.lastError === 'stalled' ? 'requests it left unanswered (hung?)' : 'failed connects'
      this.#lost(ex, read, chosen, `ejected after ${after}`)
      return
    }
    if (ex.destroyed) {
      this.#count(read.envelope.method, 'client_gone')
      return
    }
    if (this.lifecycle.state !== 'running') {
      this.closeClient(ex)
      return
    }
    // the one backend that holds the handle: tried once, never another. Most calls take this
    // path, so it runs without connectBackend's failover loop and promises: the answer is
    // relayed from inside the backend socket's read
    new Upstream().send(
      this.#pools.get(b),
      this.#request(b, ex, body, suffix),
      this.#stallTimer(b, stall),
      {
        headers: (up) => {
          this.connected(b.key)
          this.#respond(ex, read, b, up)
        },
        failed: (err) => this.#affineFailed(id, ex, read, chosen, stall, err),
      },
    )
  }

  /** A request sent to its handle's backend failed before its answer: a lost session, or 502. */
  #affineFailed(
    id: number,
    ex: HttpExchange,
    read: Extract<RequestRead, { state: 'done' }>,
    chosen: Route,
    stall: StallRule,
    err: unknown,
  ): void {
    const b = chosen.backend
    if (errorCode(err) === ErrorCodes.BACKEND_STALLED) {
      this.#lost(ex, read, chosen, stalledWhy(stall.ms))
      return
    }
    if (!isConnectError(err)) {
      this.#failed(ex, read, b.key, err)
      return
    }
    this.connectFailed(id, b, err)
    const listed = this.backends.get(b.key)?.listed === true
    if (!listed) this.#affinity.forgetBackend(b.key)
    this.#lost(ex, read, chosen, listed ? 'not answering' : 'gone from discovery and not answering')
  }

  /** The backend a request's handle (or, failing that, the affinity cookie) names. */
  #affine(ex: HttpExchange, read: Extract<RequestRead, { state: 'done' }>): Route | undefined {
    if (read.handle !== undefined) {
      const b = this.#affinity.lookup(read.handle.guid)
      if (b !== undefined) {
        this.#stats.byHandle++
        return { backend: b, by: 'handle' }
      }
    }
    if (read.envelope.method === 'OpenSession') return undefined
    const cookie = this.#affinityCookie(ex)
    if (cookie !== undefined) {
      const b = this.backends.listed().find((x) => this.#cookieValue(x.key) === cookie)
      if (b !== undefined) {
        this.#stats.byCookie++
        return { backend: b, by: 'cookie' }
      }
    }
    if (read.handle !== undefined) this.#stats.unknownHandle++
    return undefined
  }

  #viaPolicy(
    ex: HttpExchange,
    id: number,
    body: Buffer,
    suffix: string,
    read: Extract<RequestRead, { state: 'done' }>,
    stall: StallRule,
  ): void {
    const go = (): void => {
      this.connectBackend(
        id,
        this.#pickUntried,
        () => ex.destroyed,
        (x) => this.#send(x, ex, body, suffix, stall),
        // a stalled OpenSession that heard nothing moves on like a failed connect
        { retriable: (err) => isConnectError(err) || isResendableStall(err) },
      ).then(
        ({ socket, backend }) => this.#respond(ex, read, backend, socket),
        (err: unknown) => {
          if (errorCode(err) === ErrorCodes.BACKEND_STALLED)
            this.#stalledViaPolicy(ex, read, err, stall)
          else if (
            isConnectError(err) ||
            errorCode(err) === ErrorCodes.NO_BACKEND ||
            errorCode(err) === ErrorCodes.ALL_BACKENDS_FAILED
          ) {
            this.rejected(id, ex, err)
            this.#count(read.envelope.method, 'no_backend')
            answerPlain(ex, 503, `no HiveServer2 could be reached (${errorCode(err)})`)
          } else this.#failed(ex, read, undefined, err)
        },
      )
    }
    if (this.hasBackends()) go()
    else void this.waitForBackends(this.#cfg.connectTimeoutMs).then(go)
  }

  /**
   * One request to one backend, resolved when its answer's headers arrived. Under the stall timer
   * (`stall.ms` > 0), no response headers in time counts a stall against `b`, drops the request
   * (its socket closes) and rejects with HHP_ERR_BACKEND_STALLED, retriable when the request may
   * move on (an OpenSession of which no byte of an answer arrived on its socket).
   */
  #send(
    b: BackendInfo,
    ex: HttpExchange,
    body: Buffer,
    suffix: string,
    stall: StallRule,
  ): Promise<Upstream> {
    return new Upstream().start(
      this.#pools.get(b),
      this.#request(b, ex, body, suffix),
      this.#stallTimer(b, stall),
    )
  }

  #request(b: BackendInfo, ex: HttpExchange, body: Buffer, suffix: string): WireRequest {
    return {
      method: 'POST',
      path: `/${b.path ?? this.#cfg.http.path}${suffix}`,
      headers: backendRequestLines(ex.rawHeaders, ex.remoteAddress, body.length),
      body,
      // a synchronous ExecuteStatement answers when the query is done: no limit unless configured
      idleMs: this.#cfg.idleTimeoutMs,
    }
  }

  /** The stall timer of a request to `b`, or undefined when `stall` sets none. */
  #stallTimer(b: BackendInfo, stall: StallRule): StallTimer | undefined {
    if (stall.ms <= 0) return undefined
    return {
      ms: stall.ms,
      clock: this.#clock,
      onStall: (heard) => {
        const resend = stall.resendable && !heard
        this.countStall(
          { conn: stall.conn, backend: b.key, timeoutMs: stall.ms, method: stall.method, heard },
          resend
            ? 'backend sent no response headers in time (hung?); sending the request to another'
            : 'backend sent no response headers in time (hung?); the request is not re-sent',
        )
        return new ProxyError(
          ErrorCodes.BACKEND_STALLED,
          `HiveServer2 ${b.key} sent no response headers within ${stall.ms} ms`,
          { retriable: resend, backend: b.key },
        )
      },
    }
  }

  /**
   * The stall timer of a request: the route's firstResponseTimeoutMs, except none for an
   * ExecuteStatement that is not known to run asynchronously (HiveServer2 answers a synchronous
   * one only when its query is done, so its silence proves nothing). `plain`: the body, or the
   * decoded prefix of a gzip one.
   */
  #stallRule(conn: number, method: string, plain: Uint8Array): StallRule {
    let ms = this.#cfg.firstResponseTimeoutMs
    if (ms > 0 && method === 'ExecuteStatement' && executeRunsAsync(plain) !== true) ms = 0
    return { conn, method, ms, resendable: method === 'OpenSession' }
  }

  /** A request sent by the policy stalled and may not move on: lost session, or 502. */
  #stalledViaPolicy(
    ex: HttpExchange,
    read: Extract<RequestRead, { state: 'done' }>,
    err: unknown,
    stall: StallRule,
  ): void {
    const key = err instanceof ProxyError ? err.backend : undefined
    const backend = key === undefined ? undefined : this.backends.get(key)
    if (read.handle !== undefined && backend !== undefined) {
      this.#lost(ex, read, { backend, by: 'policy' }, stalledWhy(stall.ms))
      return
    }
    this.#count(read.envelope.method, 'backend_failed')
    answerPlain(
      ex,
      502,
      `${ErrorCodes.BACKEND_STALLED}: ${errorMessage(err)}; the request was not re-sent (an answer had begun, or it is not an OpenSession)`,
    )
  }

  /** Stream the backend's answer to the client, learning the handle it hands out on the way. */
  #respond(
    ex: HttpExchange,
    read: Extract<RequestRead, { state: 'done' }>,
    backend: BackendInfo,
    up: Upstream,
  ): void {
    const method = read.envelope.method
    // headers came: not hung; the backend's stall streak ends
    this.answered(backend.key)
    const done = (outcome: RequestOutcome, bytes: number): void => {
      this.release(backend.key, 0, bytes)
      this.#count(method, outcome)
    }
    const status = up.statusCode
    let headers = clientResponseLines(up.rawHeaders)
    const cookieName = this.#cfg.http.affinityCookie
    const value = this.#cookieValue(backend.key)
    // after the server's own cookies
    if (status < 500 && this.#affinityCookie(ex) !== value)
      headers += `set-cookie: ${affinitySetCookie(cookieName, value)}\r\n`
    const learner =
      status === 200 && responseHasHandle(method)
        ? new HandleLearner(isGzip(up.header('content-encoding')))
        : undefined
    relay(ex, up, headers, {
      peek:
        learner === undefined
          ? undefined
          : (chunk) => {
              if (learner.done) return
              const h = learner.feed(chunk)
              if (h?.kind === 'session') this.#affinity.learnSession(h.guid, backend)
              else if (h?.kind === 'operation')
                this.#affinity.learnOperation(
                  h.guid,
                  backend,
                  read.handle?.kind === 'session' ? read.handle.guid : undefined,
                )
            },
      end: (bytes) => {
        if (status === 200 && read.handle !== undefined) {
          if (method === 'CloseSession' || method === 'CloseOperation')
            this.#affinity.forget(read.handle.guid)
        }
        done('ok', bytes)
      },
      broken: (err, bytes) => {
        this.log.warn(
          { backend: backend.key, method, code: errorCode(err), err: errorMessage(err) },
          'backend answer broke off; closing the client connection',
        )
        done('backend_failed', bytes)
      },
      gone: (bytes) => done('client_gone', bytes),
    })
  }

  /** The value of the affinity cookie a request carries (undefined: none). */
  #affinityCookie(ex: HttpExchange): string | undefined {
    const header = ex.header('cookie')
    const last = this.#lastCookie
    if (header === last.header) return last.value
    const value = readCookie(header, this.#cfg.http.affinityCookie)
    this.#lastCookie = { header, value }
    return value
  }

  /** The affinity cookie's value for a backend (a hash: kept, not computed per answer). */
  #cookieValue(key: string): string {
    let v = this.#cookieValues.get(key)
    if (v === undefined) {
      v = affinityValue(key)
      this.#cookieValues.set(key, v)
    }
    return v
  }

  #lost(
    ex: HttpExchange,
    read: Extract<RequestRead, { state: 'done' }>,
    chosen: Route,
    why: string,
  ): void {
    this.#stats.lostSessions++
    this.#count(read.envelope.method, 'lost_session')
    const what = read.handle?.kind ?? 'session'
    const guid = read.handle?.guid ?? '(by affinity cookie)'
    const message =
      `${ErrorCodes.SESSION_LOST}: the ${what} ${guid} lives on HiveServer2 ${chosen.backend.key}, which is ${why}. ` +
      'HiveServer2 keeps sessions in its own memory, so the proxy does not move it to another server: open a new session.'
    this.log.warn(
      {
        backend: chosen.backend.key,
        method: read.envelope.method,
        handle: guid,
        by: chosen.by,
        why,
      },
      'request for a lost session answered with an error',
    )
    this.#thrift(ex, read.envelope, message)
  }

  /** The request reached a backend and then failed: never re-sent; 502. */
  #failed(
    ex: HttpExchange,
    read: Extract<RequestRead, { state: 'done' }>,
    backend: string | undefined,
    err: unknown,
  ): void {
    this.log.warn(
      { backend, method: read.envelope.method, code: errorCode(err), err: errorMessage(err) },
      'backend failed after the request was sent; not re-sent',
    )
    this.#count(read.envelope.method, 'backend_failed')
    const e = new ProxyError(ErrorCodes.BACKEND_FAILED, 'HiveServer2 failed while answering', {
      cause: err,
    })
    answerPlain(ex, 502, `${e.code}: ${e.message} (${errorCode(err)}); the request was not re-sent`)
  }

  #thrift(ex: HttpExchange, env: Envelope, message: string): void {
    if (ex.headersSent || ex.destroyed) return
    ex.respond(200, THRIFT, hs2ErrorReply(env, message, SQLSTATE_LOST, 0))
  }

  #count(method: string, outcome: RequestOutcome): void {
    const m = isTcliMethod(method) || method === 'unparsed' ? method : 'other'
    let by = this.#requests.get(m)
    if (by === undefined) {
      by = new Map()
      this.#requests.set(m, by)
    }
    by.set(outcome, (by.get(outcome) ?? 0) + 1)
  }

  /** The policy's choice among listed, untried backends; ejected ones only if nothing else is left. */
  readonly #pickUntried = (tried: ReadonlySet<string>): BackendInfo | undefined => {
    const listed = this.backends.listed()
    const usable = this.usable(tried.size === 0 ? listed : listed.filter((b) => !tried.has(b.key)))
    if (usable.length === 0) return undefined
    // what no session ties to a server (OpenSession above all) ramps onto a recovered one
    const pool = slowStartPool(usable, this.deps.now(), this.#cfg.slowStartMs, this.deps.random)
    return pool[this.#policy(pool, { counter: this.#picks++, random: this.deps.random })]
  }
}

function isResendableStall(err: unknown): boolean {
  return err instanceof ProxyError && err.code === ErrorCodes.BACKEND_STALLED && err.retriable
}

function stalledWhy(ms: number): string {
  return `not answering (no response headers within ${ms} ms: hung?)`
}

function thriftRules(cfg: Hs2RouteConfig): ThriftPostRules {
  return { path: cfg.http.path, maxBodyBytes: cfg.http.maxBodyBytes, service: 'HiveServer2' }
}
