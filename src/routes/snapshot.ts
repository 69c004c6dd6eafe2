import type { HostPort, Hs2RouteConfig } from '../config/types.js'
import type { RunState } from '../lifecycle.js'
import type { BackendState } from '../backends/backend.js'
import { isEjected } from '../backends/ejection.js'
import type { KerberosSummary } from '../backends/kerberos.js'
import type { DiscoveryStatus, SkippedInstance } from '../discovery/discovery.js'
import type { DrainSnapshot } from './drain.js'

/** What /routes and the metrics show of a route and its backends (plain data, JSON as is). */

export interface BackendSnapshot {
  key: string
  source: string
  /**
   * draining: marked by an operator, no new connections; unlisted: gone from discovery, live
   * connections remain; down: its active probes failed `healthCheck.failures` times in a row (no
   * new connections until `successes` succeed); ejected: failed connects or stalls (back-off)
   */
  state: 'up' | 'ejected' | 'down' | 'draining' | 'unlisted'
  leader: boolean | undefined
  /** HS2 from ZooKeeper: `hive.server2.authentication` as published */
  authentication: string | undefined
  /** HS2 from ZooKeeper: `hive.server2.authentication.kerberos.principal` as published (`_HOST` kept) */
  principal: string | undefined
  ejectedUntil: number | undefined
  active: number
  connections: number
  connectFailures: number
  /** connections left unanswered past firstResponseTimeoutMs (HS2 binary routes) */
  stalls: number
  lastError: string | undefined
  bytesFromClient: number
  bytesToClient: number
  /** new connections to it use TLS (backendTls) */
  tls: boolean
  /** active probes; undefined when this backend has never been probed */
  probe: BackendProbeSnapshot | undefined
}

/** What /routes shows of a route's TLS. */
export interface RouteTlsSnapshot {
  /** clients connect with TLS */
  front: boolean
  /** clients must present a certificate */
  clientCertificates: boolean
  /** backendTls.mode, or 'none' without a backendTls block (bytes pass as they come) */
  backends: 'auto' | 'on' | 'off' | 'none'
  /** backend certificates are NOT checked (backendTls.insecureSkipVerify) */
  insecureSkipVerify: boolean
}

export interface BackendProbeSnapshot {
  ok: number
  failed: number
  /** failed probes in a row now */
  failStreak: number
  last: { ok: boolean; at: number; ms: number; detail: string | undefined } | undefined
}

export interface RouteSnapshot {
  name: string
  kind: 'hs2' | 'metastore'
  listen: HostPort
  /** the JDBC URL or metastore URI list as configured */
  target: string
  /** HS2 policy or metastore selection */
  policy: string
  state: RunState
  ready: boolean
  /** why the route is not ready (empty when ready) */
  notReady: string[]
  discovery: DiscoveryStatus
  backends: BackendSnapshot[]
  skipped: SkippedInstance[]
  /**
   * HS2 routes whose instances publish their authentication: the principal Kerberos clients set,
   * or why no single one works (backends/kerberos.ts); undefined otherwise
   */
  kerberos: KerberosSummary | undefined
  connections: { active: number; total: number; failovers: number; rejected: number }
  /** drain marks of this proxy, and those shared through ZooKeeper (ZooKeeper routes only) */
  drainMarks: DrainSnapshot
  tls: RouteTlsSnapshot
}

/** One backend as operators see it. */
export function backendSnapshot(
  b: BackendState,
  now: number,
  draining: boolean,
  tls = false,
): BackendSnapshot {
  const ejected = isEjected(b, now)
  return {
    key: b.key,
    source: b.source,
    state: !b.listed
      ? 'unlisted'
      : draining
        ? 'draining'
        : b.probe.down
          ? 'down'
          : ejected
            ? 'ejected'
            : 'up',
    leader: b.leader,
    authentication: b.authentication,
    principal: b.principal,
    ejectedUntil: ejected ? b.ejectedUntil : undefined,
    active: b.active,
    connections: b.connections,
    connectFailures: b.connectFailures,
    stalls: b.stalls,
    lastError: b.lastError,
    bytesFromClient: b.bytesFromClient,
    bytesToClient: b.bytesToClient,
    tls,
    probe:
      b.probe.last === undefined
        ? undefined
        : {
            ok: b.probe.ok,
            failed: b.probe.failed,
            failStreak: b.probe.failStreak,
            last: { ...b.probe.last },
          },
  }
}

/**
 * For the start log of an HS2 route whose URL was built from hive-site.xml: which file and keys
 * (issue: say in the start log which keys it came from).
 */
export function hiveSiteOrigin(cfg: Hs2RouteConfig): { targetFrom?: string } {
  const f = cfg.fromHiveSite
  return f === undefined ? {} : { targetFrom: `${f.file}: ${f.keys.join(', ')}` }
}
