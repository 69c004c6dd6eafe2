import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { ProxySnapshot } from '../proxy.js'
import { CALL_DURATION_BUCKETS_S, type MetastoreRouteSnapshot } from '../routes/metastore-route.js'
import type { Hs2HttpRouteSnapshot } from '../routes/hs2-http-route.js'
import type { MetastoreHttpRouteSnapshot } from '../routes/metastore-http-route.js'

const P = 'hive_ha_proxy_'

/** ZooKeeper session states as numbers for `zookeeper_session_state`. */
export const ZK_STATE_VALUES: Record<string, number> = {
  idle: 0,
  connecting: 1,
  connected: 2,
  disconnected: 3,
  closed: 4,
}

const DURATION = `${P}metastore_call_duration_seconds`

/**
 * The Prometheus registry. Everything is read from the proxy's snapshot at scrape time, so series
 * of backends that left discovery disappear with them and no counter can drift from what `/routes`
 * shows. Method labels are already bounded by the routes (names beyond a fixed number become
 * `other`). The call-duration histogram is counted by the routes themselves (a labelled
 * prom-client histogram costs microseconds per call) and rendered here.
 */
export class ProxyMetrics {
  readonly registry = new Registry()
  readonly #current: () => ProxySnapshot

  constructor(snapshot: () => ProxySnapshot) {
    const r = this.registry
    // The event-loop delay histogram samples every 100 ms, not prom-client's 10: at 10 ms its timer
    // alone kept an idle proxy at about 1 % of a CPU (0.2 % at 100 ms).
    collectDefaultMetrics({ register: r, prefix: P, eventLoopMonitoringPrecision: 100 })
    let snap: ProxySnapshot | undefined
    // one snapshot per scrape (all collectors run in the same turn), shared by every collector below
    const current = (): ProxySnapshot => {
      if (snap === undefined) {
        snap = snapshot()
        setImmediate(() => (snap = undefined))
      }
      return snap
    }
    this.#current = current
    type Backend = ProxySnapshot['routes'][number]['backends'][number]
    type Emit = (labels: Record<string, string>, value: number) => void
    /** One metric, its series all rebuilt from the snapshot at each scrape by `fill`. */
    const series = (
      kind: 'counter' | 'gauge',
      name: string,
      help: string,
      labelNames: string[],
      fill: (emit: Emit) => void,
    ): void => {
      const o = { name: P + name, help, labelNames, registers: [r] }
      if (kind === 'gauge')
        new Gauge({
          ...o,
          collect() {
            this.reset()
            fill((l, v) => this.set(l, v))
          },
        })
      else
        new Counter({
          ...o,
          collect() {
            this.reset()
            fill((l, v) => this.inc(l, v))
          },
        })
    }
    /** A series per route and backend; `pick` returns undefined where a backend has none. */
    const perBackend = (
      kind: 'counter' | 'gauge',
      name: string,
      help: string,
      pick: (b: Backend) => number | undefined,
    ): void =>
      series(kind, name, help, ['route', 'backend'], (emit) => {
        for (const rt of current().routes)
          for (const b of rt.backends) {
            const v = pick(b)
            if (v !== undefined) emit({ route: rt.name, backend: b.key }, v)
          }
      })
    /** A counter per route. */
    const perRoute = (
      name: string,
      help: string,
      pick: (rt: ProxySnapshot['routes'][number]) => number,
    ): void =>
      series('counter', name, help, ['route'], (emit) => {
        for (const rt of current().routes) emit({ route: rt.name }, pick(rt))
      })
    const httpRoutes = (): Hs2HttpRouteSnapshot[] =>
      current().routes.filter(
        (rt): rt is Hs2HttpRouteSnapshot =>
          rt.kind === 'hs2' && 'transportMode' in rt && rt.transportMode === 'http',
      )
    const metastore = (): (MetastoreRouteSnapshot | MetastoreHttpRouteSnapshot)[] =>
      current().routes.filter(
        (rt): rt is MetastoreRouteSnapshot | MetastoreHttpRouteSnapshot => rt.kind === 'metastore',
      )
    /** `${method} ${outcome}` request counts as series labelled route, method, outcome. */
    const requestCounts = (emit: Emit, route: string, requests: Record<string, number>): void => {
      for (const [k, n] of Object.entries(requests)) {
        const [method = '', outcome = ''] = k.split(' ')
        emit({ route, method, outcome }, n)
      }
    }

    series(
      'gauge',
      'routes',
      'configured routes (1 per route; 0 when not ready)',
      ['route', 'kind'],
      (emit) => {
        for (const rt of current().routes)
          emit({ route: rt.name, kind: rt.kind }, rt.notReady.length === 0 ? 1 : 0)
      },
    )
    series(
      'gauge',
      'kerberos_principals',
      'distinct Kerberos principals the HS2 instances of a route publish (_HOST expanded); above 1, no single principal= reaches them all',
      ['route'],
      (emit) => {
        for (const rt of current().routes) {
          // a proxy route whose instances publish nothing (static list, metastore) has no series
          const k = rt.kerberos
          if (k !== undefined && k.kerberosInstances > 0)
            emit({ route: rt.name }, Object.keys(k.principals).length)
        }
      },
    )
    series(
      'counter',
      'http_requests_total',
      'HS2 HTTP route requests by TCLIService method and outcome',
      ['route', 'method', 'outcome'],
      (emit) => {
        for (const rt of httpRoutes()) requestCounts(emit, rt.name, rt.http.requests)
      },
    )
    series(
      'counter',
      'http_affinity_total',
      'HS2 HTTP requests routed by a known handle, by the affinity cookie, or with a handle unknown here (policy)',
      ['route', 'by'],
      (emit) => {
        for (const rt of httpRoutes()) {
          const a = rt.http.affinity
          emit({ route: rt.name, by: 'handle' }, a.byHandle)
          emit({ route: rt.name, by: 'cookie' }, a.byCookie)
          emit({ route: rt.name, by: 'unknown_handle' }, a.unknownHandle)
        }
      },
    )
    series(
      'counter',
      'http_lost_sessions_total',
      'HS2 HTTP requests answered with a lost-session error (their server is gone)',
      ['route'],
      (emit) => {
        for (const rt of httpRoutes()) emit({ route: rt.name }, rt.http.affinity.lostSessions)
      },
    )
    series(
      'counter',
      'http_affinity_dropped_total',
      'tracked HS2 handles dropped by the size bound (evicted) or the idle TTL (expired)',
      ['route', 'reason'],
      (emit) => {
        for (const rt of httpRoutes()) {
          emit({ route: rt.name, reason: 'evicted' }, rt.http.affinity.evictions)
          emit({ route: rt.name, reason: 'expired' }, rt.http.affinity.expired)
        }
      },
    )
    series(
      'gauge',
      'http_tracked_handles',
      'HS2 sessions and operations tracked per backend on HTTP routes',
      ['route', 'backend', 'kind'],
      (emit) => {
        for (const rt of httpRoutes())
          for (const [backend, c] of Object.entries(rt.http.tracked)) {
            emit({ route: rt.name, backend, kind: 'session' }, c.sessions)
            emit({ route: rt.name, backend, kind: 'operation' }, c.operations)
          }
      },
    )
    perBackend(
      'counter',
      'connections_total',
      'client connections handed to a backend',
      (b) => b.connections,
    )
    perBackend(
      'counter',
      'connect_failures_total',
      'failed connect attempts to a backend',
      (b) => b.connectFailures,
    )
    perBackend(
      'counter',
      'stalls_total',
      'connections a backend accepted and left unanswered past firstResponseTimeoutMs',
      (b) => b.stalls,
    )
    series(
      'counter',
      'probes_total',
      'active health probes per backend by result (ok, failed)',
      ['route', 'backend', 'result'],
      (emit) => {
        for (const rt of current().routes)
          for (const b of rt.backends) {
            if (b.probe === undefined) continue
            emit({ route: rt.name, backend: b.key, result: 'ok' }, b.probe.ok)
            emit({ route: rt.name, backend: b.key, result: 'failed' }, b.probe.failed)
          }
      },
    )
    perBackend(
      'gauge',
      'probe_duration_seconds',
      "the latest active probe's duration per backend (until its answer, or its failure)",
      (b) => {
        const last = b.probe?.last
        return last === undefined ? undefined : last.ms / 1000
      },
    )
    perBackend(
      'gauge',
      'backend_down',
      '1 when the active probes of a backend marked it down (no new connections until they succeed)',
      (b) => (b.probe === undefined ? undefined : b.state === 'down' ? 1 : 0),
    )
    perBackend(
      'gauge',
      'active_connections',
      'live proxied connections per backend',
      (b) => b.active,
    )
    perBackend(
      'gauge',
      'backend_up',
      '1 when a backend may get new connections (listed, not ejected, not down, not draining); /routes tells why not',
      (b) => (b.state === 'up' ? 1 : 0),
    )
    series(
      'counter',
      'bytes_total',
      'bytes proxied per backend (counted when a connection ends)',
      ['route', 'backend', 'direction'],
      (emit) => {
        for (const rt of current().routes)
          for (const b of rt.backends) {
            emit({ route: rt.name, backend: b.key, direction: 'from_client' }, b.bytesFromClient)
            emit({ route: rt.name, backend: b.key, direction: 'to_client' }, b.bytesToClient)
          }
      },
    )
    perRoute(
      'failovers_total',
      'client connections that needed another backend after a failure',
      (rt) => rt.connections.failovers,
    )
    perRoute(
      'rejected_connections_total',
      'client connections closed because no backend could be reached',
      (rt) => rt.connections.rejected,
    )
    perRoute('discovery_updates_total', 'successful discovery reads', (rt) => rt.discovery.updates)
    perRoute(
      'discovery_errors_total',
      'failed discovery reads (the last good list was kept)',
      (rt) => rt.discovery.errors,
    )
    series(
      'gauge',
      'zookeeper_session_state',
      `ZooKeeper session state per quorum: ${Object.entries(ZK_STATE_VALUES)
        .map(([k, v]) => `${v}=${k}`)
        .join(', ')}`,
      ['quorum'],
      (emit) => {
        for (const z of current().zookeeper)
          emit({ quorum: z.quorum }, ZK_STATE_VALUES[z.state] ?? -1)
      },
    )
    series(
      'counter',
      'metastore_calls_total',
      'metastore calls by method and outcome (reply, exception, oneway, failed)',
      ['route', 'method', 'outcome'],
      (emit) => {
        for (const rt of metastore())
          for (const [method, s] of Object.entries(rt.calls))
            for (const outcome of ['reply', 'exception', 'oneway', 'failed'] as const)
              if (s[outcome] > 0) emit({ route: rt.name, method, outcome }, s[outcome])
      },
    )
    series(
      'counter',
      'metastore_http_requests_total',
      'metastore HTTP route requests by method and outcome (ok, refused, no_backend, backend_failed, client_gone, bad_request)',
      ['route', 'method', 'outcome'],
      (emit) => {
        for (const rt of metastore())
          if ('transportMode' in rt && rt.transportMode === 'http')
            requestCounts(emit, rt.name, rt.http.requests)
      },
    )
    series(
      'counter',
      'metastore_retries_total',
      'metastore calls re-sent to another metastore after a failure',
      ['route', 'method'],
      (emit) => {
        for (const rt of metastore())
          for (const [method, s] of Object.entries(rt.calls))
            if (s.resent > 0) emit({ route: rt.name, method }, s.resent)
      },
    )
  }

  /** The exposition text: the registry's metrics, then the call-duration histogram. */
  async text(): Promise<string> {
    // read before awaiting: the collectors run in this same turn and share this one snapshot
    const routes = this.#current().routes.filter(
      (rt): rt is MetastoreRouteSnapshot => rt.kind === 'metastore',
    )
    const base = await this.registry.metrics()
    return `${base}\n${durationHistogram(routes)}`
  }
}

/** `metastore_call_duration_seconds` in the text format, from the routes' per-method bucket counts. */
export function durationHistogram(routes: readonly MetastoreRouteSnapshot[]): string {
  const out = [
    `# HELP ${DURATION} metastore call duration, request start to the end of its answer`,
    `# TYPE ${DURATION} histogram`,
  ]
  for (const rt of routes) {
    for (const [method, s] of Object.entries(rt.calls)) {
      const count = s.durations.reduce((a, b) => a + b, 0)
      if (count === 0) continue
      const labels = `route="${escapeLabel(rt.name)}",method="${escapeLabel(method)}"`
      let cumulative = 0
      CALL_DURATION_BUCKETS_S.forEach((le, i) => {
        cumulative += s.durations[i] ?? 0
        out.push(`${DURATION}_bucket{le="${le}",${labels}} ${cumulative}`)
      })
      out.push(`${DURATION}_bucket{le="+Inf",${labels}} ${count}`)
      out.push(`${DURATION}_sum{${labels}} ${s.totalMs / 1000}`)
      out.push(`${DURATION}_count{${labels}} ${count}`)
    }
  }
  return `${out.join('\n')}\n`
}

/** Label values in the text format: backslash, double quote and newline escaped. */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}
