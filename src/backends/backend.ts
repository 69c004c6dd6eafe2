/**
 * A backend as discovery reports it. `key` (`host:port`, IPv6 hosts in brackets) is its identity:
 * several instances on one host differ by port.
 */
export interface BackendInfo {
  key: string
  host: string
  port: number
  /** where it came from: a znode name, or 'static' */
  source: string
  /** active/passive HA: this instance is the leader */
  leader?: boolean
  /** HTTP backends: the servlet path, without leading `/` */
  path?: string
  /** HS2 from ZooKeeper: the registration says `hive.server2.use.SSL=true` (backendTls auto) */
  ssl?: boolean
  /**
   * HS2 from ZooKeeper: `hive.server2.authentication` and
   * `hive.server2.authentication.kerberos.principal` as the instance published them. Shown to
   * operators (a Kerberos client must name a principal the instance accepts); never used to route.
   */
  authentication?: string
  principal?: string
}

/** Per-backend bookkeeping kept by a route; survives discovery updates while the key stays listed. */
export interface BackendState extends BackendInfo {
  /** listed by the latest successful discovery read */
  listed: boolean
  /** live proxied connections */
  active: number
  /** connections handed to this backend since it was first seen */
  connections: number
  connectFailures: number
  consecutiveFailures: number
  /** connections it accepted and then left unanswered past firstResponseTimeoutMs (hung) */
  stalls: number
  /** stalls since its last first answer; ejects like consecutiveFailures (same settings) */
  consecutiveStalls: number
  /**
   * epoch ms when it became usable again after its last ejection (slow start ramps its share from
   * there); undefined = never ejected
   */
  upSince?: number | undefined
  /** its last outcome was a stall, with no first answer since (its connects prove nothing) */
  hung: boolean
  /** how many times it has been ejected (drives the growing back-off) */
  ejections: number
  /** epoch ms until which it is skipped; 0 = not ejected */
  ejectedUntil: number
  lastError: string | undefined
  bytesFromClient: number
  bytesToClient: number
  /** active probes (backends/probe-health.ts): marked down, streaks, last result */
  probe: ProbeState
}

/** What active probes know of a backend; `down` = not chosen for new connections. */
export interface ProbeState {
  down: boolean
  /** failed probes in a row */
  failStreak: number
  /** good probes in a row */
  okStreak: number
  ok: number
  failed: number
  /** the latest probe, undefined before the first */
  last: ProbeResult | undefined
}

export interface ProbeResult {
  ok: boolean
  /** epoch ms when it ended */
  at: number
  /** how long it took (until the answer or the failure) */
  ms: number
  /** why it failed, or what the answer said (e.g. fb303 status) */
  detail: string | undefined
}

export function newProbeState(): ProbeState {
  return { down: false, failStreak: 0, okStreak: 0, ok: 0, failed: 0, last: undefined }
}

export function backendKey(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`
}

export function newBackendState(info: BackendInfo): BackendState {
  return {
    ...info,
    listed: true,
    active: 0,
    connections: 0,
    connectFailures: 0,
    consecutiveFailures: 0,
    stalls: 0,
    consecutiveStalls: 0,
    hung: false,
    ejections: 0,
    ejectedUntil: 0,
    lastError: undefined,
    bytesFromClient: 0,
    bytesToClient: 0,
    probe: newProbeState(),
  }
}
