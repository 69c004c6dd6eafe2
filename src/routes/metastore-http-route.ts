/**
 * The Hive 4 metastore over HTTP (design decision 12; hive-http-mode.md §5): every POST body is
 * one Thrift call (binary or compact) to ThriftHiveMetastore. HTTP-mode calls carry no connection
 * state (the servlet clears its context after each request; the client sends no set_ugi), so each
 * request goes to any live metastore, in the route's SEQUENTIAL/RANDOM order:
 *
 * - a request whose connect failed moves on to the next metastore (connect failures feed ejection
 *   as on every route);
 * - a request whose metastore failed after it was sent (closed, reset, timed out before the answer's
 *   headers) is re-sent to the next one only when its method, read from the envelope, is
 *   idempotent (thrift/hms-methods.ts, the table the binary route uses); a write gets 502 naming
 *   the method and is never re-sent: the client's own retry logic decides, as a closed connection
 *   lets it decide on the binary route;
 * - once an answer's headers arrived, it streams to the client; a break after that closes the
 *   client connection (bytes may have reached it: nothing is re-sent).
 *
 * Request bodies are read whole, up to `http.maxBodyBytes` (413 above): a read may have to be sent
 * again. `tls` makes the front HTTPS, `backendTls` dials every metastore with HTTPS (checked as on
 * binary routes). Headers pass through untouched (http/headers.ts): `Authorization` (JWT) and
 * `x-actor-username` reach the metastore as the client sent them and are never logged.
 */
import type { MetastoreRouteConfig } from '../config/types.js'
import type { BackendInfo } from '../backends/backend.js'
import { metastoreOrder } from '../balancing/metastore-order.js'
import type { Discovery } from '../discovery/discovery.js'
import { ErrorCodes, ProxyError, errorCode, errorMessage } from '../errors.js'
import { certificateFailure, sameBackendTls } from '../net/tls.js'
import { answerPlain, isConnectError } from '../http/exchange.js'
import { BackendPools } from '../http/wire/client.js'
import { type HttpExchange, MAX_HEADER_BYTES, type ThriftPostRules } from '../http/wire/front.js'
import { backendRequestLines, clientResponseLines } from '../http/headers.js'
import { Upstream, relay } from '../http/upstream.js'
import { HttpProber } from '../probes/http-probe.js'
import type { Prober } from '../probes/runner.js'
import { readEnvelope } from '../thrift/envelope.js'
import { MESSAGE } from '../thrift/hs2-handles.js'
import { MethodLabels, isIdempotent } from '../thrift/hms-methods.js'
import {
  type MethodStats,
  type MetastoreRouteSnapshot,
  newMethodStats,
  noteDuration,
} from './metastore-route.js'
import { type HttpAcceptor, httpAcceptor } from './http-acceptor.js'
import {
  RouteCore,
  type DrainMarks,
  type RouteBase,
  type RouteDeps,
  type RouteSource,
} from './route-core.js'

export interface MetastoreHttpRouteSnapshot extends MetastoreRouteSnapshot {
  transportMode: 'http'
  http: {
    path: string
    /** `${method} ${outcome}` -> requests (method `unparsed` when the body was not a Thrift call) */
    requests: Record<string, number>
  }
}

/**
 * ok: answered (2xx) | refused: the metastore answered an HTTP error (e.g. 401), passed through |
 * no_backend: no metastore could be reached | backend_failed: the metastore failed after the
 * request was sent and it was not re-sent (a write, or no metastore left) | client_gone |
 * bad_request: the body is not a Thrift call.
 */
export type MetastoreRequestOutcome =
  | 'ok'
  | 'refused'
  | 'no_backend'
  | 'backend_failed'
  | 'client_gone'
  | 'bad_request'

/** Bytes of an answer read for its envelope at most (reply or exception, for the call counters). */
const ANSWER_PREFIX = 1024

interface Call {
  method: string
  /** metric label of the method (bounded cardinality) */
  label: string
  body: Buffer
  /** path suffix and query string after the route's path, passed on */
  suffix: string
  startedAt: number
  /** backends this request was sent to or tried */
  tried: Set<string>
  /** metastores in this request's order */
  order: readonly BackendInfo[]
}

export class MetastoreHttpRoute extends RouteCore<HttpExchange> {
  #cfg: MetastoreRouteConfig
  readonly #front: HttpAcceptor['front']
  readonly #rules: HttpAcceptor['rules']
  readonly #pools: BackendPools<BackendInfo>
  readonly #labels = new MethodLabels()
  readonly #calls = new Map<string, MethodStats>()
  readonly #requests = new Map<string, number>()

  constructor(
    cfg: MetastoreRouteConfig,
    discovery: Discovery,
    deps: RouteDeps,
    drain?: DrainMarks,
  ) {
    const { acceptor, front, rules } = httpAcceptor(
      cfg.http,
      thriftRules(cfg),
      deps.logger.child({ component: 'metastore-http-front', route: cfg.name }),
    )
    super(cfg, discovery, deps, 'metastore-http-route', drain, acceptor)
    this.#front = front
    this.#rules = rules
    // backendTls (on for every metastore, or off): TLS, checked as the binary route checks
    const dial = this.dialSocket()
    this.#pools = new BackendPools((b) => dial(b, this.#cfg.connectTimeoutMs), MAX_HEADER_BYTES)
    this.#cfg = cfg
  }

  get config(): MetastoreRouteConfig {
    return this.#cfg
  }

  override async stop(graceMs: number): Promise<void> {
    await super.stop(graceMs)
    this.#front.current?.closeAll()
    this.#pools.destroyAll()
  }

  /** Reload in place: selection, limits, timeouts; a new discovery when the target changed. */
  update(cfg: MetastoreRouteConfig, source: RouteSource | undefined): void {
    const tlsChanged = !sameBackendTls(cfg.backendTls, this.#cfg.backendTls)
    const pathChanged = cfg.http.path !== this.#cfg.http.path
    this.#cfg = cfg
    this.#rules.current = thriftRules(cfg)
    this.updateBase(cfg, source)
    // pools hold the old TLS settings: new requests get new ones, requests in flight finish
    if (tlsChanged) this.#pools.closeAll()
    // probers hold the path they were made with (a TLS change refreshes them in updateBase)
    if (pathChanged) this.refreshProbes()
  }

  snapshot(): MetastoreHttpRouteSnapshot {
    return {
      ...this.baseSnapshot('metastore'),
      streams: {},
      calls: Object.fromEntries(
        [...this.#calls].map(([k, v]) => [k, { ...v, durations: [...v.durations] }]),
      ),
      transportMode: 'http',
      http: { path: this.#cfg.http.path, requests: Object.fromEntries(this.#requests) },
    }
  }

  protected describe(): { target: string; policy: string } {
    return { target: this.#cfg.uris, policy: this.#cfg.selection }
  }

  protected closeClient(ex: HttpExchange): void {
    answerPlain(ex, 503, 'the proxy is shutting down', true)
  }

  protected peer(ex: HttpExchange): string {
    return `${ex.remoteAddress ?? '?'}:${ex.remotePort ?? '?'}`
  }

  /**
   * `OPTIONS /<path>`, as on HS2 HTTP routes (probes/http-probe.ts): the metastore's servlet
   * answers it from the servlet base class, before any Hive code, without credentials. `tcp`: the
   * base class's connect probe.
   */
  protected override proberFor(b: BackendInfo, base: RouteBase): Prober | undefined {
    if (base.healthCheck.probe === 'tcp') return super.proberFor(b, base)
    const dial = this.dialSocket()
    return new HttpProber({
      key: b.key,
      path: this.#cfg.http.path,
      dial: () => dial(b, Math.min(base.connectTimeoutMs, base.healthCheck.timeoutMs)),
      timeoutMs: () => this.#cfg.healthCheck.timeoutMs,
    })
  }

  protected override backendsRemoved(keys: readonly string[]): void {
    for (const k of keys) this.#pools.drop(k)
  }

  protected onClient(ex: HttpExchange, id: number): void {
    ex.onClose(this.track(ex))
    this.#call(ex, id, ex.body, ex.suffix)
  }

  #call(ex: HttpExchange, id: number, body: Buffer, suffix: string): void {
    const read = readEnvelope(body)
    if (
      read.state !== 'done' ||
      (read.envelope.type !== MESSAGE.CALL && read.envelope.type !== MESSAGE.ONEWAY)
    ) {
      const why =
        read.state === 'bad'
          ? read.reason
          : read.state === 'more'
            ? 'the body ends inside the message header'
            : 'it is an answer, not a call'
      this.log.warn(
        { conn: id, client: this.peer(ex), err: why },
        'request body is not a Thrift call; answering 400',
      )
      this.#count('unparsed', 'bad_request')
      answerPlain(ex, 400, `not a Thrift metastore call: ${why}`)
      return
    }
    const method = read.envelope.method
    const call: Call = {
      method,
      label: this.#labels.label(method),
      body,
      suffix,
      startedAt: this.deps.now(),
      tried: new Set(),
      order: [],
    }
    const go = (): void => {
      call.order = metastoreOrder(this.backends.inOrder(), this.#cfg.selection, this.deps.random)
      this.#attempt(ex, id, call)
    }
    if (this.hasBackends()) go()
    else void this.waitForBackends(this.#cfg.connectTimeoutMs).then(go)
  }

  /** Send `call` to the first untried metastore; on failure decide between moving on and 502. */
  #attempt(ex: HttpExchange, id: number, call: Call): void {
    this.connectBackend(
      id,
      (tried) => this.firstUntried(call.order, tried),
      () => ex.destroyed,
      (x) => this.#send(x, ex, call),
      { tried: call.tried, retriable: beforeSending },
    ).then(
      ({ socket, backend }) => this.#respond(ex, call, backend, socket),
      (err: unknown) => {
        const code = errorCode(err)
        if (ex.destroyed) {
          this.#done(call, 'client_gone')
          return
        }
        if (
          beforeSending(err) ||
          code === ErrorCodes.NO_BACKEND ||
          code === ErrorCodes.ALL_BACKENDS_FAILED
        ) {
          this.rejected(id, ex, err)
          this.#done(call, 'no_backend')
          answerPlain(ex, 503, `no metastore could be reached (${code}) for ${call.method}`)
          return
        }
        // the request reached a metastore (the last one tried) and got no answer
        const backend = [...call.tried].at(-1) ?? '?'
        const idempotent = isIdempotent(call.method)
        const next = idempotent && !ex.destroyed && this.#canResend(call)
        this.log.warn(
          {
            conn: id,
            backend,
            method: call.method,
            code,
            err: errorMessage(err),
            resend: next,
          },
          next
            ? 'metastore failed before answering a read; re-sending it to the next one'
            : idempotent
              ? 'metastore failed before answering a read; no metastore left to re-send it to'
              : 'metastore failed before answering a write; not re-sent',
        )
        if (next) {
          this.#stats(call.label).resent++
          this.countFailover()
          this.#attempt(ex, id, call)
          return
        }
        this.#done(call, 'backend_failed')
        const e = new ProxyError(
          ErrorCodes.BACKEND_FAILED,
          `metastore ${backend} failed before answering ${call.method}`,
          { cause: err },
        )
        answerPlain(
          ex,
          502,
          `${e.code}: ${e.message} (${code}); ${idempotent ? 'no other metastore was left to re-send it to' : 'a write is never re-sent (it may have been applied)'}`,
        )
      },
    )
  }

  /** Another attempt is allowed and some listed metastore is still untried. */
  #canResend(call: Call): boolean {
    if (call.tried.size >= this.#cfg.maxConnectAttempts) return false
    return this.firstUntried(call.order, call.tried) !== undefined
  }

  /** One request to one metastore, resolved when its answer's headers arrived. */
  #send(b: BackendInfo, ex: HttpExchange, call: Call): Promise<Upstream> {
    return new Upstream().start(this.#pools.get(b), {
      method: 'POST',
      path: `/${this.#cfg.http.path}${call.suffix}`,
      headers: backendRequestLines(ex.rawHeaders, ex.remoteAddress, call.body.length),
      body: call.body,
      idleMs: this.#cfg.idleTimeoutMs,
    })
  }

  /** Stream the metastore's answer to the client, reading its envelope on the way for the counters. */
  #respond(ex: HttpExchange, call: Call, backend: BackendInfo, up: Upstream): void {
    const finish = (outcome: MetastoreRequestOutcome, bytes: number, exception = false): void => {
      this.release(backend.key, call.body.length, bytes)
      this.#done(call, outcome, exception)
    }
    const ok = up.statusCode >= 200 && up.statusCode < 300
    const prefix: Buffer[] = []
    let prefixLen = 0
    let reading = ok && up.header('content-encoding') === undefined
    let exception = false
    relay(ex, up, clientResponseLines(up.rawHeaders), {
      peek: (chunk) => {
        if (!reading) return
        prefix.push(chunk)
        prefixLen += chunk.length
        const got = readEnvelope(prefix.length === 1 ? chunk : Buffer.concat(prefix, prefixLen))
        if (got.state === 'done') exception = got.envelope.type === MESSAGE.EXCEPTION
        if (got.state !== 'more' || prefixLen >= ANSWER_PREFIX) {
          reading = false
          prefix.length = 0
        }
      },
      end: (bytes) => finish(ok ? 'ok' : 'refused', bytes, exception),
      broken: (err, bytes) => {
        this.log.warn(
          {
            backend: backend.key,
            method: call.method,
            code: errorCode(err),
            err: errorMessage(err),
          },
          'metastore answer broke off; closing the client connection (not re-sent)',
        )
        finish('backend_failed', bytes)
      },
      gone: (bytes) => finish('client_gone', bytes),
    })
  }

  /** A parsed request ended: its per-method request and call counters. */
  #done(call: Call, outcome: MetastoreRequestOutcome, exception = false): void {
    this.#count(call.label, outcome)
    const s = this.#stats(call.label)
    const ms = this.deps.now() - call.startedAt
    if (outcome === 'ok') {
      if (exception) s.exception++
      else s.reply++
    } else if (outcome === 'client_gone') return
    else s.failed++
    noteDuration(s, ms)
  }

  #count(label: string, outcome: MetastoreRequestOutcome): void {
    const k = `${label} ${outcome}`
    this.#requests.set(k, (this.#requests.get(k) ?? 0) + 1)
  }

  #stats(label: string): MethodStats {
    let s = this.#calls.get(label)
    if (s === undefined) {
      s = newMethodStats()
      this.#calls.set(label, s)
    }
    return s
  }
}

/**
 * Failures before any byte of the request left: a connect error, or a TLS handshake that refused
 * the metastore's certificate (or was refused). Any call may move on after these.
 */
function beforeSending(err: unknown): boolean {
  return isConnectError(err) || certificateFailure(err) !== undefined
}

function thriftRules(cfg: MetastoreRouteConfig): ThriftPostRules {
  return { path: cfg.http.path, maxBodyBytes: cfg.http.maxBodyBytes, service: 'metastore' }
}
