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
    const backendCounter = (
      name: string,
      help: string,
      pick: (b: ProxySnapshot['routes'][number]['backends'][number]) => number,
    ): void => {
      new Counter({
        name: P + name,
        help,
        labelNames: ['route', 'backend'],
        registers: [r],
        collect() {
          this.reset()
          for (const rt of current().routes)
            for (const b of rt.backends) this.inc({ route: rt.name, backend: b.key }, pick(b))
        },
      })
    }
    new Gauge({
      name: `${P}routes`,
      help: 'configured routes (1 per route; 0 when not ready)',
      labelNames: ['route', 'kind'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of current().routes)
          this.set({ route: rt.name, kind: rt.kind }, rt.notReady.length === 0 ? 1 : 0)
      },
    })
    new Gauge({
      name: `${P}kerberos_principals`,
      help: 'distinct Kerberos principals the HS2 instances of a route publish (_HOST expanded); above 1, no single principal= reaches them all',
      labelNames: ['route'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of current().routes) {
          // a proxy route whose instances publish nothing (static list, metastore) has no series
          const k = rt.kerberos
          if (k !== undefined && k.kerberosInstances > 0)
            this.set({ route: rt.name }, Object.keys(k.principals).length)
        }
      },
    })
    const httpRoutes = (): Hs2HttpRouteSnapshot[] =>
      current().routes.filter(
        (rt): rt is Hs2HttpRouteSnapshot =>
          rt.kind === 'hs2' && 'transportMode' in rt && rt.transportMode === 'http',
      )
    new Counter({
      name: `${P}http_requests_total`,
      help: 'HS2 HTTP route requests by TCLIService method and outcome',
      labelNames: ['route', 'method', 'outcome'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of httpRoutes())
          for (const [k, n] of Object.entries(rt.http.requests)) {
            const [method = '', outcome = ''] = k.split(' ')
            this.inc({ route: rt.name, method, outcome }, n)
          }
      },
    })
    new Counter({
      name: `${P}http_affinity_total`,
      help: 'HS2 HTTP requests routed by a known handle, by the affinity cookie, or with a handle unknown here (policy)',
      labelNames: ['route', 'by'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of httpRoutes()) {
          const a = rt.http.affinity
          this.inc({ route: rt.name, by: 'handle' }, a.byHandle)
          this.inc({ route: rt.name, by: 'cookie' }, a.byCookie)
          this.inc({ route: rt.name, by: 'unknown_handle' }, a.unknownHandle)
        }
      },
    })
    new Counter({
      name: `${P}http_lost_sessions_total`,
      help: 'HS2 HTTP requests answered with a lost-session error (their server is gone)',
      labelNames: ['route'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of httpRoutes()) this.inc({ route: rt.name }, rt.http.affinity.lostSessions)
      },
    })
    new Counter({
      name: `${P}http_affinity_dropped_total`,
      help: 'tracked HS2 handles dropped by the size bound (evicted) or the idle TTL (expired)',
      labelNames: ['route', 'reason'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of httpRoutes()) {
          this.inc({ route: rt.name, reason: 'evicted' }, rt.http.affinity.evictions)
          this.inc({ route: rt.name, reason: 'expired' }, rt.http.affinity.expired)
        }
      },
    })
    new Gauge({
      name: `${P}http_tracked_handles`,
      help: 'HS2 sessions and operations tracked per backend on HTTP routes',
      labelNames: ['route', 'backend', 'kind'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of httpRoutes())
          for (const [backend, c] of Object.entries(rt.http.tracked)) {
            this.set({ route: rt.name, backend, kind: 'session' }, c.sessions)
            this.set({ route: rt.name, backend, kind: 'operation' }, c.operations)
          }
      },
    })
    backendCounter(
      'connections_total',
      'client connections handed to a backend',
      (b) => b.connections,
    )
    backendCounter(
      'connect_failures_total',
      'failed connect attempts to a backend',
      (b) => b.connectFailures,
    )
    backendCounter(
      'stalls_total',
      'connections a backend accepted and left unanswered past firstResponseTimeoutMs',
      (b) => b.stalls,
    )
    new Counter({
      name: `${P}probes_total`,
      help: 'active health probes per backend by result (ok, failed)',
      labelNames: ['route', 'backend', 'result'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of current().routes)
          for (const b of rt.backends) {
            if (b.probe === undefined) continue
            this.inc({ route: rt.name, backend: b.key, result: 'ok' }, b.probe.ok)
            this.inc({ route: rt.name, backend: b.key, result: 'failed' }, b.probe.failed)
          }
      },
    })
    new Gauge({
      name: `${P}probe_duration_seconds`,
      help: "the latest active probe's duration per backend (until its answer, or its failure)",
      labelNames: ['route', 'backend'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of current().routes)
          for (const b of rt.backends) {
            const last = b.probe?.last
            if (last !== undefined) this.set({ route: rt.name, backend: b.key }, last.ms / 1000)
          }
      },
    })
    new Gauge({
      name: `${P}backend_down`,
      help: '1 when the active probes of a backend marked it down (no new connections until they succeed)',
      labelNames: ['route', 'backend'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of current().routes)
          for (const b of rt.backends)
            if (b.probe !== undefined)
              this.set({ route: rt.name, backend: b.key }, b.state === 'down' ? 1 : 0)
      },
    })
    new Gauge({
      name: `${P}active_connections`,
      help: 'live proxied connections per backend',
      labelNames: ['route', 'backend'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of current().routes)
          for (const b of rt.backends) this.set({ route: rt.name, backend: b.key }, b.active)
      },
    })
    new Gauge({
      name: `${P}backend_up`,
      help: '1 when a backend may get new connections (listed, not ejected, not down, not draining); /routes tells why not',
      labelNames: ['route', 'backend'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of current().routes)
          for (const b of rt.backends)
            this.set({ route: rt.name, backend: b.key }, b.state === 'up' ? 1 : 0)
      },
    })
    new Counter({
      name: `${P}bytes_total`,
      help: 'bytes proxied per backend (counted when a connection ends)',
      labelNames: ['route', 'backend', 'direction'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of current().routes) {
          for (const b of rt.backends) {
            this.inc(
              { route: rt.name, backend: b.key, direction: 'from_client' },
              b.bytesFromClient,
            )
            this.inc({ route: rt.name, backend: b.key, direction: 'to_client' }, b.bytesToClient)
          }
        }
      },
    })
    const routeCounter = (
      name: string,
      help: string,
      pick: (rt: ProxySnapshot['routes'][number]) => number,
    ): void => {
      new Counter({
        name: P + name,
        help,
        labelNames: ['route'],
        registers: [r],
        collect() {
          this.reset()
          for (const rt of current().routes) this.inc({ route: rt.name }, pick(rt))
        },
      })
    }
    routeCounter(
      'failovers_total',
      'client connections that needed another backend after a failure',
      (rt) => rt.connections.failovers,
    )
    routeCounter(
      'rejected_connections_total',
      'client connections closed because no backend could be reached',
      (rt) => rt.connections.rejected,
    )
    routeCounter(
      'discovery_updates_total',
      'successful discovery reads',
      (rt) => rt.discovery.updates,
    )
    routeCounter(
      'discovery_errors_total',
      'failed discovery reads (the last good list was kept)',
      (rt) => rt.discovery.errors,
    )
    new Gauge({
      name: `${P}zookeeper_session_state`,
      help: `ZooKeeper session state per quorum: ${Object.entries(ZK_STATE_VALUES)
        .map(([k, v]) => `${v}=${k}`)
        .join(', ')}`,
      labelNames: ['quorum'],
      registers: [r],
      collect() {
        this.reset()
        for (const z of current().zookeeper)
          this.set({ quorum: z.quorum }, ZK_STATE_VALUES[z.state] ?? -1)
      },
    })
    const metastore = (): (MetastoreRouteSnapshot | MetastoreHttpRouteSnapshot)[] =>
      current().routes.filter(
        (rt): rt is MetastoreRouteSnapshot | MetastoreHttpRouteSnapshot => rt.kind === 'metastore',
      )
    new Counter({
      name: `${P}metastore_calls_total`,
      help: 'metastore calls by method and outcome (reply, exception, oneway, failed)',
      labelNames: ['route', 'method', 'outcome'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of metastore()) {
          for (const [method, s] of Object.entries(rt.calls)) {
            for (const outcome of ['reply', 'exception', 'oneway', 'failed'] as const)
              if (s[outcome] > 0) this.inc({ route: rt.name, method, outcome }, s[outcome])
          }
        }
      },
    })
    new Counter({
      name: `${P}metastore_http_requests_total`,
      help: 'metastore HTTP route requests by method and outcome (ok, refused, no_backend, backend_failed, client_gone, bad_request)',
      labelNames: ['route', 'method', 'outcome'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of metastore())
          if ('transportMode' in rt && rt.transportMode === 'http')
            for (const [k, n] of Object.entries(rt.http.requests)) {
              const [method = '', outcome = ''] = k.split(' ')
              this.inc({ route: rt.name, method, outcome }, n)
            }
      },
    })
    new Counter({
      name: `${P}metastore_retries_total`,
      help: 'metastore calls re-sent to another metastore after a failure',
      labelNames: ['route', 'method'],
      registers: [r],
      collect() {
        this.reset()
        for (const rt of metastore())
          for (const [method, s] of Object.entries(rt.calls))
            if (s.resent > 0) this.inc({ route: rt.name, method }, s.resent)
      },
    })
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
