import type net from 'node:net'
import type { HostPort, MetastoreRouteConfig } from '../config/types.js'
import type { BackendInfo } from '../backends/backend.js'
import { ThriftProber } from '../probes/thrift-probe.js'
import type { Prober } from '../probes/runner.js'
import type { WireKind } from '../thrift/fb303.js'
import { demote, metastoreOrder } from '../balancing/metastore-order.js'
import type { Discovery } from '../discovery/discovery.js'
import { Pipe } from '../net/pipe.js'
import { detectStream, type StreamKind } from '../thrift/detect.js'
import { scanReadBuffers, wasmFix, wasmUnavailable } from '../thrift/scanner.js'
import { MethodLabels } from '../thrift/hms-methods.js'
import {
  RouteCore,
  peerOf,
  socketAcceptor,
  type DrainMarks,
  type RouteBase,
  type RouteDeps,
  type RouteSnapshot,
  type RouteSource,
} from './route-core.js'
import { ThriftForwarder, type CallOutcome } from './metastore-forwarder.js'

/** Upper bounds (seconds) of the call-duration histogram buckets; a last bucket holds the rest. */
export const CALL_DURATION_BUCKETS_S: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]

export interface MethodStats {
  reply: number
  exception: number
  oneway: number
  failed: number
  resent: number
  totalMs: number
  /**
   * Durations of answered and failed calls (not oneway ones), counted per bucket of
   * CALL_DURATION_BUCKETS_S, not cumulative; the last entry counts the calls above the last
   * bound. Kept here, at a few array writes per call, rather than in a metrics library's
   * labelled histogram, which costs microseconds per call; /metrics renders it at scrape time.
   */
  durations: number[]
}

export function newMethodStats(): MethodStats {
  return {
    reply: 0,
    exception: 0,
    oneway: 0,
    failed: 0,
    resent: 0,
    totalMs: 0,
    durations: new Array<number>(CALL_DURATION_BUCKETS_S.length + 1).fill(0),
  }
}

/** One answered or failed call's duration: its total and its histogram bucket. */
export function noteDuration(s: MethodStats, ms: number): void {
  s.totalMs += ms
  const sec = ms / 1000
  let b = 0
  while (b < CALL_DURATION_BUCKETS_S.length && sec > (CALL_DURATION_BUCKETS_S[b] as number)) b++
  s.durations[b] = (s.durations[b] as number) + 1
}

export interface MetastoreRouteSnapshot extends RouteSnapshot {
  /** client connections by detected stream kind */
  streams: Record<string, number>
  /** per method (names beyond a bounded set grouped as 'other') */
  calls: Record<string, MethodStats>
}

/**
 * One metastore front. Each client connection is sniffed (design.md decision 1): plain or framed
 * binary/compact Thrift goes through a ThriftForwarder (failover between and during idempotent
 * calls, session replay); SASL and anything unknown are byte-piped with connect-time failover
 * only, untouched. `mode: pipe` skips the sniffing and pipes everything.
 */
export class MetastoreRoute extends RouteCore<net.Socket> {
  #cfg: MetastoreRouteConfig
  readonly #labels = new MethodLabels()
  readonly #calls = new Map<string, MethodStats>()
  readonly #streams: Record<string, number> = {}
  /**
   * The protocol and framing of this route's plain Thrift clients, learned from the first such
   * client connection that got an answer (so a misconfigured client cannot teach a framing the
   * metastores refuse). Until then `probe: auto` sends no probe: the metastores may be SASL-only.
   */
  #wire: WireKind | undefined

  constructor(
    cfg: MetastoreRouteConfig,
    discovery: Discovery,
    deps: RouteDeps,
    drain?: DrainMarks,
  ) {
    super(cfg, discovery, deps, 'metastore-route', drain, socketAcceptor)
    this.#cfg = cfg
  }

  get config(): MetastoreRouteConfig {
    return this.#cfg
  }

  override async start(): Promise<HostPort> {
    const addr = await super.start()
    const noWasm = this.#cfg.mode === 'pipe' ? undefined : wasmUnavailable()
    if (noWasm !== undefined)
      this.log.warn(
        { reason: noWasm, fix: wasmFix(noWasm) },
        'Thrift scanner without WebAssembly: large answers cost about twice the CPU',
      )
    return addr
  }

  /** Reload in place: selection, mode, limits, timeouts; a new discovery when the target changed. Live connections keep theirs. */
  update(cfg: MetastoreRouteConfig, source: RouteSource | undefined): void {
    this.#cfg = cfg
    this.updateBase(cfg, source)
  }

  snapshot(): MetastoreRouteSnapshot {
    return {
      ...this.baseSnapshot('metastore'),
      streams: { ...this.#streams },
      calls: Object.fromEntries(
        [...this.#calls].map(([k, v]) => [k, { ...v, durations: [...v.durations] }]),
      ),
    }
  }

  /**
   * fb303 getStatus over one kept connection (probe `thrift`, or `auto` once plain Thrift clients
   * were answered), or the base class's tcp probe.
   */
  protected override proberFor(b: BackendInfo, base: RouteBase): Prober | undefined {
    const probe = base.healthCheck.probe
    if (probe === 'tcp') return super.proberFor(b, base)
    if (probe === 'auto' && this.#wire === undefined) return undefined
    return new ThriftProber({
      host: b.host,
      port: b.port,
      key: b.key,
      // without a learned wire (`probe: thrift` asked for): Hive's default, unframed binary
      kind: this.#wire ?? { protocol: 'binary', framed: false },
      connectTimeoutMs: Math.min(base.connectTimeoutMs, base.healthCheck.timeoutMs),
      dial: this.deps.dial,
      tls: this.backendTlsFor(b),
    })
  }

  /**
   * A plain Thrift client of this kind got an answer: probes speak it from now on. The probers are
   * replaced only when that changes what they send (`auto`: there were none; `thrift`: they spoke
   * Hive's default and the clients speak another framing), so a backend held down stays down.
   */
  #learnWire(kind: WireKind): void {
    this.#wire = { protocol: kind.protocol, framed: kind.framed }
    const probe = this.#cfg.healthCheck.probe
    if (probe !== 'auto' && probe !== 'thrift') return
    if (probe === 'thrift' && kind.protocol === 'binary' && !kind.framed) return
    this.log.info(
      { protocol: kind.protocol, framed: kind.framed, probe },
      'plain Thrift clients answered: probing the metastores with fb303 getStatus in their framing',
    )
    this.refreshProbes()
  }

  protected describe(): { target: string; policy: string } {
    return { target: this.#cfg.uris, policy: this.#cfg.selection }
  }

  protected closeClient(client: net.Socket): void {
    client.destroy()
  }

  protected peer(client: net.Socket): string {
    return peerOf(client)
  }

  protected onClient(client: net.Socket, id: number): void {
    if (this.#cfg.mode === 'pipe') return this.#pipe(client, id, Buffer.alloc(0), 'forced-pipe')
    const seen: Buffer[] = []
    let size = 0
    const cut = { destroy: () => client.destroy() }
    const untrack = this.track(cut)
    const decide = (kind: StreamKind): void => {
      client.off('data', onData)
      client.off('end', onEnd)
      client.off('close', onClose)
      client.pause()
      untrack()
      const first = seen.length === 1 ? (seen[0] as Buffer) : Buffer.concat(seen)
      const label =
        kind.kind === 'thrift' ? `${kind.protocol}${kind.framed ? '-framed' : ''}` : kind.kind
      this.#streams[label] = (this.#streams[label] ?? 0) + 1
      if (this.log.isLevelEnabled('debug'))
        this.log.debug(
          { conn: id, client: peerOf(client), stream: label },
          'client stream detected',
        )
      if (kind.kind === 'thrift') this.#thrift(client, id, first, kind)
      else this.#pipe(client, id, first, label)
    }
    const onData = (chunk: Buffer): void => {
      seen.push(chunk)
      size += chunk.length
      const kind = detectStream(seen.length === 1 ? chunk : Buffer.concat(seen, size))
      if (kind !== undefined) decide(kind)
    }
    const onEnd = (): void =>
      decide(detectStream(Buffer.concat(seen, size), true) ?? { kind: 'unknown' })
    const onClose = (): void => untrack()
    client.on('data', onData)
    client.on('end', onEnd)
    client.on('close', onClose)
    client.resume()
  }

  #thrift(
    client: net.Socket,
    id: number,
    first: Buffer,
    kind: Extract<StreamKind, { kind: 'thrift' }>,
  ): void {
    const log = this.log.child({ conn: id, client: peerOf(client) })
    let untrack: () => void = () => {}
    const fwd = new ThriftForwarder(
      client,
      {
        protocol: kind.protocol,
        framed: kind.framed,
        maxMessageBytes: this.#cfg.maxMessageBytes,
        maxReplayBytes: this.#cfg.maxReplayBytes,
        maxResends: this.#cfg.maxConnectAttempts,
        idleTimeoutMs: this.#cfg.idleTimeoutMs,
      },
      {
        connect: async (avoid, onread) => {
          await this.waitForBackends(this.#cfg.connectTimeoutMs)
          const order = demote(
            metastoreOrder(this.backends.inOrder(), this.#cfg.selection, this.deps.random),
            avoid,
          )
          try {
            const r = await this.connectBackend(
              id,
              (tried) => this.firstUntried(order, tried),
              () => client.destroyed,
              this.dialSocket(onread),
            )
            log.debug({ backend: r.backend.key }, 'metastore connected')
            return r
          } catch (err) {
            this.rejected(id, client, err)
            throw err
          }
        },
        release: (key, a, b) => this.release(key, a, b),
        onCall: (m, outcome, ms) => {
          this.#count(m, outcome, ms)
          if (this.#wire === undefined && (outcome === 'reply' || outcome === 'exception'))
            this.#learnWire(kind)
        },
        onResend: (m) => this.#stats(m).resent++,
        onFailover: () => this.countFailover(),
        now: this.deps.now,
        log,
        done: () => untrack(),
      },
    )
    untrack = this.track(fwd)
    fwd.start(first)
  }

  /** SASL, unknown, or forced: bytes untouched, connect-time failover only. */
  #pipe(client: net.Socket, id: number, first: Buffer, label: string): void {
    let chosen: BackendInfo | undefined
    const pipe = new Pipe(client, {
      idleTimeoutMs: this.#cfg.idleTimeoutMs,
      // the read buffers of the Thrift-aware mode, so that the two modes differ in scanning only
      largeBuffers: scanReadBuffers,
      onDone: (r) => {
        untrack()
        if (chosen !== undefined) this.release(chosen.key, r.bytesFromClient, r.bytesToClient)
      },
    })
    const untrack = this.track(pipe)
    void this.waitForBackends(this.#cfg.connectTimeoutMs)
      .then(() => {
        const order = metastoreOrder(this.backends.inOrder(), this.#cfg.selection, this.deps.random)
        return this.connectBackend(
          id,
          (tried) => this.firstUntried(order, tried),
          () => client.destroyed,
          this.dialSocket(pipe.onread),
        )
      })
      .then(
        ({ socket, backend }) => {
          chosen = backend
          if (this.log.isLevelEnabled('debug'))
            this.log.debug(
              { conn: id, client: peerOf(client), backend: backend.key, stream: label },
              'metastore byte pipe open',
            )
          if (first.length > 0) {
            socket.write(first)
            pipe.bytesFromClient += first.length
          }
          pipe.attach(socket)
        },
        (err: unknown) => {
          this.rejected(id, client, err)
          pipe.destroy('no-backend')
        },
      )
  }

  #stats(method: string): MethodStats {
    const label = this.#labels.label(method)
    let s = this.#calls.get(label)
    if (s === undefined) {
      s = newMethodStats()
      this.#calls.set(label, s)
    }
    return s
  }

  #count(method: string, outcome: CallOutcome, ms: number): void {
    const s = this.#stats(method)
    // a switch, not s[outcome]++: a keyed access by a variable name is a megamorphic lookup per call
    switch (outcome) {
      case 'reply':
        s.reply++
        break
      case 'exception':
        s.exception++
        break
      case 'oneway':
        s.oneway++
        break
      case 'failed':
        s.failed++
        break
    }
    if (outcome === 'oneway') s.totalMs += ms
    else noteDuration(s, ms)
  }
}
