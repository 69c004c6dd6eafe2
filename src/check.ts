import { expandPrincipal, HOST_PATTERN } from './backends/kerberos.js'
import type {
  BackendTlsConfig,
  FrontTlsConfig,
  HealthCheckConfig,
  HostPort,
  Hs2RouteConfig,
  Hs2Target,
  MetastoreTarget,
  ProxyConfig,
} from './config/types.js'
import { drainPath } from './discovery/zk-drain-marks.js'

/**
 * `hive-ha-proxy check`: the configuration the proxy would run with, in words an operator can
 * compare with what they meant. Pure; the token is never printed, only whether one is set.
 */
export function describeConfig(cfg: ProxyConfig, sources: readonly string[]): string {
  const out = [`configuration OK (sources, later wins: ${sources.join(' < ')})`]
  out.push(
    `log level ${cfg.logLevel}, format ${cfg.logFormat}; shutdown grace ${cfg.shutdownGraceMs} ms`,
  )
  out.push(
    `admin API on ${hp(cfg.admin.listen)}, ${cfg.admin.token === undefined ? 'no token (loopback only)' : 'bearer token set'}`,
  )
  if (
    cfg.hs2.some((r) => r.target.kind !== 'static') ||
    cfg.metastore.some((r) => r.target.kind !== 'static')
  ) {
    const auth = cfg.zookeeper.digestAuth
    const who =
      auth === undefined
        ? 'anonymous (drain marks writable by anyone)'
        : `digest auth as ${auth.slice(0, auth.indexOf(':'))} (drain marks writable only by it)`
    out.push(
      `ZooKeeper session timeout ${cfg.zookeeper.sessionTimeoutMs} ms, client replaced after ${cfg.zookeeper.reconnectWatchdogMs} ms without a connection${cfg.zookeeper.probeIntervalMs > 0 ? ` or ${2 * cfg.zookeeper.probeIntervalMs} ms after a server is seen up again (checked every ${cfg.zookeeper.probeIntervalMs} ms)` : ''}; ${who}`,
    )
  }
  for (const r of cfg.hs2) {
    out.push('', `hs2 route "${r.name}" on ${hp(r.listen)}`)
    out.push(`  backends: ${hs2Target(r.target)}`)
    if (r.fromHiveSite !== undefined)
      out.push(
        `  JDBC URL ${r.url} built from ${r.fromHiveSite.file}: ${r.fromHiveSite.keys.join(', ')}`,
      )
    const krb = kerberosLine(r)
    if (krb !== undefined) out.push(`  ${krb}`)
    if (r.transportMode === 'http')
      out.push(
        `  HiveServer2 over HTTP on /${r.http.path}: bodies up to ${r.http.maxBodyBytes} bytes; affinity cookie ${r.http.affinityCookie}; up to ${r.http.affinityMaxEntries} handles tracked, forgotten after ${r.http.affinityTtlMs} ms idle`,
      )
    out.push(
      `  policy ${r.policy}; connect timeout ${r.connectTimeoutMs} ms, ${r.maxConnectAttempts} attempts; ${idle(r.idleTimeoutMs)}`,
    )
    out.push(
      `  ejection after ${r.ejection.failures} failed connects, ${r.ejection.baseMs}-${r.ejection.maxMs} ms`,
    )
    out.push(...stallLines(r))
    out.push(`  ${probes(r.healthCheck, r.transportMode === 'http' ? 'hs2-http' : 'hs2-binary')}`)
    if (r.mr3AppIdNamespace !== undefined)
      out.push(`  Hive on MR3 application id from /${r.mr3AppIdNamespace}/appId`)
    out.push(...tlsLines(r))
  }
  for (const r of cfg.metastore) {
    out.push('', `metastore route "${r.name}" on ${hp(r.listen)}`)
    out.push(`  backends: ${metastoreTarget(r.target)}`)
    if (r.transportMode === 'http') {
      out.push(
        `  metastore over HTTP on /${r.http.path}: each request to any live metastore (selection ${r.selection}); bodies up to ${r.http.maxBodyBytes} bytes; reads re-sent when a metastore fails before answering, writes never`,
      )
      out.push(
        `  connect timeout ${r.connectTimeoutMs} ms, ${r.maxConnectAttempts} metastores at most per request; ${r.idleTimeoutMs === 0 ? 'no answer timeout' : `a metastore silent ${r.idleTimeoutMs} ms fails the request`}`,
      )
    } else {
      out.push(
        `  selection ${r.selection}; mode ${r.mode === 'auto' ? 'auto (Thrift-aware when the stream is plain Thrift)' : 'pipe (bytes only)'}; connect timeout ${r.connectTimeoutMs} ms, ${r.maxConnectAttempts} attempts; ${idle(r.idleTimeoutMs)}`,
      )
      out.push(
        `  messages up to ${r.maxMessageBytes} bytes; requests up to ${r.maxReplayBytes} bytes are kept for a re-send`,
      )
    }
    out.push(
      `  ejection after ${r.ejection.failures} failed connects, ${r.ejection.baseMs}-${r.ejection.maxMs} ms`,
    )
    out.push(...tlsLines(r))
    out.push(`  ${probes(r.healthCheck, 'metastore')}`)
  }
  return `${out.join('\n')}\n`
}

/** What clients and backends see of a route's TLS (docs/tls.md). */
function tlsLines(r: {
  tls: FrontTlsConfig | undefined
  backendTls: BackendTlsConfig | undefined
}): string[] {
  const out: string[] = []
  const f = r.tls
  out.push(
    f === undefined
      ? '  clients connect in plain TCP'
      : `  clients connect with TLS (${f.minVersion} or later) and check ${f.cert.path}${f.clientCa === undefined ? '' : `; they must present a certificate from ${f.clientCa.path}`}`,
  )
  const b = r.backendTls
  if (b === undefined) out.push('  backends get the bytes as they come (no backendTls)')
  else if (b.mode === 'off') out.push('  backends are dialled in plain TCP (backendTls.mode off)')
  else {
    const which =
      b.mode === 'auto' ? 'instances registered with hive.server2.use.SSL=true' : 'every backend'
    const check = b.insecureSkipVerify
      ? 'certificates NOT checked (insecureSkipVerify)'
      : `checked against ${b.ca?.path ?? 'the system CA store'} for ${b.serverName ?? "each backend's own host name"}`
    out.push(
      `  ${which} dialled with TLS, ${check}${b.cert === undefined ? '' : `; client certificate ${b.cert.path}`}`,
    )
  }
  return out
}

/** What the active probes of a route will send (docs/hung-backends.md), in one line. */
function probes(h: HealthCheckConfig, kind: 'hs2-binary' | 'hs2-http' | 'metastore'): string {
  const what =
    h.probe === 'tcp'
      ? 'a TCP connect and close (a SASL server logs each one)'
      : h.probe === 'thrift'
        ? 'fb303 getStatus over one kept connection'
        : h.probe === 'http'
          ? 'OPTIONS on the servlet path over one kept-alive connection'
          : h.probe === 'none' || kind === 'hs2-binary'
            ? undefined
            : kind === 'hs2-http'
              ? 'OPTIONS on the servlet path over one kept-alive connection'
              : 'fb303 getStatus over one kept connection, once plain Thrift clients were answered (none for SASL-only metastores)'
  if (what === undefined) return 'no active probe (healthCheck.probe tcp asks for one)'
  return `probes every ${h.intervalMs} ms: ${what}; down after ${h.failures} failures in a row (timeout ${h.timeoutMs} ms), up after ${h.successes} successes`
}

/**
 * What a Kerberos client of this route sets, when the configuration knows the principal (the
 * URL's `principal=`, or hive-site's for a route built from it). A `_HOST` principal names each
 * instance's own host: one instance (a one-host static list) gives its principal, several give
 * none (backends/kerberos.ts says why). The instances' published principals are only known once
 * running: `status` and /routes show them.
 */
function kerberosLine(r: Hs2RouteConfig): string | undefined {
  const k = r.kerberosPrincipal
  if (k === undefined) return undefined
  const hosts = r.target.kind === 'static' ? [...new Set(r.target.backends.map((b) => b.host))] : []
  const expanded = [...new Set(hosts.map((h) => expandPrincipal(k.principal, h)))]
  const only = !k.principal.includes(HOST_PATTERN)
    ? k.principal
    : expanded.length === 1
      ? expanded[0]
      : undefined
  if (only !== undefined)
    return `Kerberos: clients set principal=${only} in their JDBC URL (from ${k.from}); every instance must accept it (status shows what each publishes)`
  return (
    `Kerberos: ${k.principal} (from ${k.from}) is a per-host principal: through the proxy no single principal= reaches every instance. ` +
    'Fix: one shared service principal in every HiveServer2 keytab (hive.server2.authentication.kerberos.principal set to it), ' +
    'and principal=<that principal> in the client URL'
  )
}

function hp(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
}

function idle(ms: number): string {
  return ms === 0 ? 'idle connections kept' : `idle connections closed after ${ms} ms`
}

function zk(quorum: string, path: string, namespace: string): string {
  return `ZooKeeper ${quorum}, ${path}; drain marks shared in ${drainPath(namespace)}`
}

function hs2Target(t: Hs2Target): string {
  if (t.kind === 'static') return `fixed list ${t.backends.map(hp).join(', ')}`
  if (t.kind === 'zookeeper-ha')
    return `${zk(t.quorum, `active/passive registry of /${t.namespace}, the leader only`, t.namespace)}`
  return zk(t.quorum, `instances registered under /${t.namespace}`, t.namespace)
}

function metastoreTarget(t: MetastoreTarget): string {
  if (t.kind === 'static') return `fixed list ${t.backends.map(hp).join(', ')} (in this order)`
  return zk(t.quorum, `metastores registered under /${t.namespace}`, t.namespace)
}

/**
 * What firstResponseTimeoutMs does on this route. HTTP routes time every call, and HiveServer2
 * holds a GetOperationStatus of a running query for hive.server2.long.polling.timeout (5000 ms by
 * default) before it answers: a timeout at or below that counts healthy servers as hung.
 */
/** HiveServer2's default hive.server2.long.polling.timeout (ms) */
const HS2_LONG_POLLING_MS = 5000

function stallLines(r: Hs2RouteConfig): string[] {
  const ms = r.firstResponseTimeoutMs
  const eject = `a stall; ${r.ejection.failures} in a row eject it`
  if (ms <= 0)
    return [
      '  first-answer failover off (firstResponseTimeoutMs 0): a hung backend holds its clients',
    ]
  if (r.transportMode !== 'http')
    return [
      `  first-answer failover: a backend silent ${ms} ms after the client spoke is hung (${eject})`,
    ]
  const out = [
    `  stalls: a call without response headers within ${ms} ms is hung (${eject}); an OpenSession moves on, other calls get the lost-session error; a synchronous ExecuteStatement is not timed`,
  ]
  if (ms <= HS2_LONG_POLLING_MS)
    out.push(
      `  warning: firstResponseTimeoutMs ${ms} is not above HiveServer2's hive.server2.long.polling.timeout (${HS2_LONG_POLLING_MS} ms by default): a GetOperationStatus of a running query waits that long and would count as a stall; set it well above the servers' value`,
    )
  return out
}
