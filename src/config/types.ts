/**
 * The validated configuration the runtime consumes. Produced only by `config/load.ts`; every field
 * is filled (defaults applied), so nothing downstream has to guess.
 */

export interface HostPort {
  host: string
  port: number
}

export type Hs2Policy = 'random' | 'round-robin' | 'least-connections'
export const HS2_POLICIES: readonly Hs2Policy[] = ['random', 'round-robin', 'least-connections']

/**
 * How a binary HS2 route moves bytes (`tcpIo`; not Hive's transport mode): `handles` pipes bare
 * libuv TCP handles (net/handles.ts explains why and the trap), `sockets` uses net.Socket, `auto` =
 * handles when this Node offers them. HTTP routes ignore it.
 */
export type TcpIo = 'auto' | 'handles' | 'sockets'
export const TCP_IOS: readonly TcpIo[] = ['auto', 'handles', 'sockets']

/**
 * Hive's transport mode of a route (`transportMode=http` in the JDBC URL): front and backends speak
 * it. Hive's `all` is a server mode, never a route's.
 */
export type Hs2TransportMode = 'binary' | 'http'

/** The HTTP side of an HS2 route (used when its transport mode is http). */
export interface Hs2HttpConfig {
  /** `httpPath` of the JDBC URL, without leading or trailing `/` (Hive's default `cliservice`) */
  path: string
  /** a request body larger than this gets 413 */
  maxBodyBytes: number
  /** the request line and headers must arrive within this time, else the connection ends */
  headersTimeoutMs: number
  /** an idle keep-alive client connection is closed after this time */
  keepAliveTimeoutMs: number
  /** name of the proxy's own affinity cookie (opaque value naming a backend) */
  affinityCookie: string
  /** a tracked session or operation unused for this long is forgotten */
  affinityTtlMs: number
  /** most tracked handles; the longest idle is evicted first */
  affinityMaxEntries: number
}

/** auto: human-readable lines when stdout is a terminal, JSON lines otherwise */
export type LogFormat = 'auto' | 'json' | 'pretty'
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty']

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
export const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
]

/** Where the HS2 instances of a route come from, decided by the JDBC URL. */
export type Hs2Target =
  /** `serviceDiscoveryMode=zooKeeper`: children `serverUri=...` of `/<namespace>`. */
  | { kind: 'zookeeper'; quorum: string; namespace: string }
  /** `serviceDiscoveryMode=zooKeeperHA`: the active/passive registry; only the leader is routed to. */
  | { kind: 'zookeeper-ha'; quorum: string; namespace: string }
  /** A direct URL: fixed `host:port` list (comma-separated authority). */
  | { kind: 'static'; backends: HostPort[] }

export interface EjectionConfig {
  /** consecutive connect failures that eject a backend */
  failures: number
  /** first ejection lasts this long; each further ejection doubles it ... */
  baseMs: number
  /** ... up to this cap */
  maxMs: number
}

/** Lowest TLS version a TLS front accepts. */
export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3'
export const TLS_MIN_VERSIONS: readonly TlsMinVersion[] = ['TLSv1.2', 'TLSv1.3']

/**
 * A PEM file read by the loader (at start and on every reload). `toJSON` gives the path only, so a
 * config printed or compared as JSON never carries a private key.
 */
export class PemFile {
  constructor(
    readonly path: string,
    readonly pem: string,
  ) {}
  toJSON(): string {
    return this.path
  }
}

/** `tls:` of a route: clients connect with TLS and check the proxy's own certificate. */
export interface FrontTlsConfig {
  /** the proxy's certificate (chain allowed) for the name clients dial */
  cert: PemFile
  key: PemFile
  /** set: clients must present a certificate issued by one of these CAs */
  clientCa: PemFile | undefined
  minVersion: TlsMinVersion
}

/**
 * `auto`: per HS2 instance, TLS when its znode says `hive.server2.use.SSL=true` (plain for static
 * lists, which say nothing); `on`: every backend; `off`: none. Metastore routes: on | off.
 */
export type BackendTlsMode = 'auto' | 'on' | 'off'
export const BACKEND_TLS_MODES: readonly BackendTlsMode[] = ['auto', 'on', 'off']

/** `backendTls:` of a route: how the proxy dials its backends with TLS and checks them. */
export interface BackendTlsConfig {
  mode: BackendTlsMode
  /** CA certificates backends are checked against; undefined = the system store */
  ca: PemFile | undefined
  /** checked and sent as SNI instead of each backend's own host name */
  serverName: string | undefined
  /** client certificate for backends that require one */
  cert: PemFile | undefined
  key: PemFile | undefined
  /** no certificate check at all: warned at start, shown in /routes */
  insecureSkipVerify: boolean
}

/**
 * What an active probe sends (docs/hung-backends.md). `auto`: metastore routes call fb303
 * `getStatus` once the route has seen a plain Thrift client (SASL-only metastores get none), HS2
 * HTTP routes send `OPTIONS` on the servlet path, HS2 binary routes send nothing. `thrift`
 * (metastore routes): `getStatus` even before a plain client was seen. `http` (HS2 HTTP routes):
 * as auto. `tcp`: a connect and a close, on any route (SASL servers log it). `none`: no probe.
 */
export type ProbeKind = 'auto' | 'thrift' | 'http' | 'tcp' | 'none'
export const PROBE_KINDS: readonly ProbeKind[] = ['auto', 'thrift', 'http', 'tcp', 'none']

/** Active health checks of one route's backends (`healthCheck` in YAML). */
export interface HealthCheckConfig {
  probe: ProbeKind
  /** a probe starts this often per backend (fixed rate; below it, a probe never overlaps the next) */
  intervalMs: number
  /** a probe with no answer within this long failed; below intervalMs */
  timeoutMs: number
  /** failed probes in a row that mark a backend down */
  failures: number
  /** good probes in a row that bring a down backend back */
  successes: number
}

export interface Hs2RouteConfig {
  /** unique, used in logs and (later) the admin API */
  name: string
  listen: HostPort
  /** the JDBC URL as given (no secrets are expected in it; it is logged) */
  url: string
  target: Hs2Target
  policy: Hs2Policy
  /** one TCP connect to a backend, ms */
  connectTimeoutMs: number
  /** connect attempts per client connection (each backend at most once) */
  maxConnectAttempts: number
  /** a proxied connection with no bytes either way for this long is closed; 0 = never */
  idleTimeoutMs: number
  /**
   * binary routes: a backend that sends no byte this long after the client's first byte is
   * treated as hung (stall): the client's kept handshake bytes move to another backend; 0 = off
   */
  firstResponseTimeoutMs: number
  /** a backend back from ejection gets its share of new connections ramped over this long; 0 = off */
  slowStartMs: number
  ejection: EjectionConfig
  healthCheck: HealthCheckConfig
  /** binary routes: how bytes move (renamed from `transport`, still read as a deprecated alias) */
  tcpIo: TcpIo
  transportMode: Hs2TransportMode
  http: Hs2HttpConfig
  /**
   * Hive on MR3: the namespace (hive.mr3.zookeeper.appid.namespace, e.g. `mr3AppId`) whose znode
   * `/<ns>/appId` holds the shared DAGAppMaster's application id; shown by the admin API. Only
   * for ZooKeeper targets; undefined = not watched.
   */
  mr3AppIdNamespace: string | undefined
  /**
   * Set when the URL was built from hive-site.xml (`fromHiveSite`, or `--hs2-listen` without a
   * URL): the file and the keys it came from, `name=value` (or `name (not set: default)`), for the
   * start log and `check`.
   */
  fromHiveSite: { file: string; keys: string[] } | undefined
  /**
   * The Kerberos principal clients name (`principal=` in their URL), when the configuration knows
   * it: `principal=` of the route's JDBC URL, or hive-site's
   * hive.server2.authentication.kerberos.principal for a route built from it. Shown by `check`;
   * never used to route (the instances' published ones are in /routes and `status`).
   */
  kerberosPrincipal: { principal: string; from: string } | undefined
  /** undefined = clients connect in plain TCP (or HTTP) */
  tls: FrontTlsConfig | undefined
  /** undefined = no `backendTls` block: bytes go to backends as they come (a client's own TLS passes through) */
  backendTls: BackendTlsConfig | undefined
}

export interface AdminConfig {
  listen: HostPort
  /** bearer token; required when `listen` is not a loopback address. Never logged. */
  token: string | undefined
}

export interface ZooKeeperConfig {
  /** requested session timeout; the server clamps it to its own bounds */
  sessionTimeoutMs: number
  /** a client not connected for this long is replaced by a fresh one, i.e. a new session (node-zookeeper-client trap) */
  reconnectWatchdogMs: number
  /**
   * while disconnected, look at the servers this often (`srvr`); a client not reconnected two
   * intervals after a server is seen up is replaced (0 = off: only the watchdog)
   */
  probeIntervalMs: number
  /**
   * ZooKeeper `digest` authentication as `user:password`, sent on every session; the drain marks
   * the proxy creates are then writable only by that identity. Never logged or printed.
   */
  digestAuth: string | undefined
}

/** Hive's `hive.metastore.uri.selection`: SEQUENTIAL (proxy default) or RANDOM. */
export type MetastoreSelection = 'SEQUENTIAL' | 'RANDOM'
export const METASTORE_SELECTIONS: readonly MetastoreSelection[] = ['SEQUENTIAL', 'RANDOM']

/** Where the metastores of a route come from. */
export type MetastoreTarget =
  /** `hive.metastore.uris`: `thrift://h1:9083,thrift://h2:9083`, in configured order */
  | { kind: 'static'; backends: HostPort[] }
  /** Hive 4 `metastore.service.discovery.mode=zookeeper`: children of `/<namespace>`, data `host:port` */
  | { kind: 'zookeeper'; quorum: string; namespace: string }

/**
 * `auto`: detect from the first bytes (Thrift-aware for unframed/framed binary or compact, byte
 * pipe for SASL and anything else). `pipe`: always a byte pipe with connect-time failover.
 */
export type MetastoreMode = 'auto' | 'pipe'
export const METASTORE_MODES: readonly MetastoreMode[] = ['auto', 'pipe']

/**
 * Hive 4's metastore transport mode (`metastore.client.thrift.transport.mode`): `binary` (Thrift
 * on TCP) or `http` (one Thrift message per POST, routes/metastore-http-route.ts). The metastore
 * has no `all` mode.
 */
export type MetastoreTransportMode = 'binary' | 'http'
export const METASTORE_TRANSPORT_MODES: readonly MetastoreTransportMode[] = ['binary', 'http']

/** The HTTP side of a metastore route (used when its transport mode is http). */
export interface MetastoreHttpConfig {
  /** the servlet path (`metastore.client.thrift.http.path`), without leading or trailing `/` */
  path: string
  /** a request body larger than this gets 413 (bodies are held whole: a read may be re-sent) */
  maxBodyBytes: number
  /** the request line and headers must arrive within this time, else the connection ends */
  headersTimeoutMs: number
  /** an idle keep-alive client connection is closed after this time */
  keepAliveTimeoutMs: number
}

export interface MetastoreRouteConfig {
  name: string
  listen: HostPort
  /** the URI list (or ZooKeeper quorum) as given, for logs */
  uris: string
  target: MetastoreTarget
  selection: MetastoreSelection
  mode: MetastoreMode
  connectTimeoutMs: number
  /** connect attempts per (re)connect of one client connection, each metastore at most once */
  maxConnectAttempts: number
  idleTimeoutMs: number
  ejection: EjectionConfig
  healthCheck: HealthCheckConfig
  /** a Thrift message (either direction) larger than this ends the client connection */
  maxMessageBytes: number
  /** requests up to this size are kept until answered so they can be re-sent; larger ones lose replay */
  maxReplayBytes: number
  tls: FrontTlsConfig | undefined
  /** mode is on or off (a metastore's registration does not say whether it uses TLS) */
  backendTls: BackendTlsConfig | undefined
  /** binary: `mode` applies; http: an HTTP front and HTTP backends, `http` applies */
  transportMode: MetastoreTransportMode
  http: MetastoreHttpConfig
}

export interface ProxyConfig {
  logLevel: LogLevel
  /** how log lines look; read at start only (a reload reports a change as needing a restart) */
  logFormat: LogFormat
  /** SIGTERM/SIGINT: live connections get this long to finish before being cut */
  shutdownGraceMs: number
  zookeeper: ZooKeeperConfig
  hs2: Hs2RouteConfig[]
  metastore: MetastoreRouteConfig[]
  admin: AdminConfig
}
