/**
 * HiveServer2 registration znodes under `/<hive.server2.zookeeper.namespace>` (hive-ha-semantics.md
 * §2.1, §2.2). Child names look like `serverUri=hs2a.example.com:10000;version=4.0.0;sequence=0000000007`;
 * data is `k=v;...` (publish.configs=true, the default) or legacy `host:port`.
 *
 * Contract: the parsers never throw. Anything unusable comes back as `{ ok: false, reason }` so the
 * caller can skip (and log) one bad child without losing the others.
 */
import { ErrorCodes, ProxyError } from '../errors.js'

export type TransportMode = 'binary' | 'http' | 'all'
/** The transport a route speaks (an instance's `all` serves both). */
export type RouteMode = 'binary' | 'http'

export interface Hs2Instance {
  /** `host:port` (IPv6 host in brackets) of the endpoint the route dials: the backend identity */
  key: string
  /** connectable host: never bracketed */
  host: string
  /** the binary port for a binary route, the HTTP port for an HTTP route */
  port: number
  /** HTTP routes: the servlet path (`hive.server2.thrift.http.path`, no leading `/`) */
  path?: string
  /** child name as found */
  znode: string
  transportMode: TransportMode
  /** from the child name's `version=` part, if any */
  version?: string
  /** set only by the HA parser */
  leader?: boolean
  /**
   * `hive.server2.authentication` as published (e.g. `NONE`, `KERBEROS`, `KERBEROS,LDAP` in 4.x);
   * absent in legacy data
   */
  authentication?: string
  /** `hive.server2.authentication.kerberos.principal` as published (Kerberos only), `_HOST` kept */
  principal?: string
  /** `hive.server2.use.SSL=true`: the instance serves TLS (backendTls mode auto dials it so) */
  ssl?: boolean
}

export type ZnodeFailure = { ok: false; znode: string; reason: string }
export type ZnodeParse = { ok: true; instance: Hs2Instance } | ZnodeFailure

const SERVER_URI_PREFIX = 'serverUri='

/** Keys HS2 publishes (HiveServer2.addConfsToPublish). */
export const PUBLISHED = {
  bindHost: 'hive.server2.thrift.bind.host',
  thriftPort: 'hive.server2.thrift.port',
  instanceUri: 'hive.server2.instance.uri',
  transportMode: 'hive.server2.transport.mode',
  httpPort: 'hive.server2.thrift.http.port',
  httpPath: 'hive.server2.thrift.http.path',
  useSsl: 'hive.server2.use.SSL',
  authentication: 'hive.server2.authentication',
  kerberosPrincipal: 'hive.server2.authentication.kerberos.principal',
} as const

/** HiveServer2's default servlet path (hive.server2.thrift.http.path). */
export const DEFAULT_HTTP_PATH = 'cliservice'

/**
 * Only `serverUri=` children are HS2 instances. Others exist (e.g. `leader`, the privilege
 * synchronizer's LeaderLatch) and Hive's driver does not filter them; we do.
 */
export function isServerUriChild(name: string): boolean {
  return name.startsWith(SERVER_URI_PREFIX)
}

/**
 * One HS2 registration as a backend of a `route`-mode route. Host/port: `hive.server2.thrift.bind.host`
 * / `hive.server2.thrift.port` (what Hive's driver applies); each one missing falls back to
 * `hive.server2.instance.uri`, then to the child name's `serverUri=`. Only binary and all-mode
 * instances are usable by a binary route; only http and all-mode ones by an HTTP route, which dials
 * bind host + `hive.server2.thrift.http.port` + `hive.server2.thrift.http.path` (never the
 * binary port, unlike the JDBC driver with `all` servers: hive-http-mode.md §2).
 *
 * Data with no `=` at all is the legacy `host:port` form, split on `:` into exactly two parts as
 * Hive does (so an IPv6 literal is rejected there); it is binary.
 */
export function parseHs2Znode(
  name: string,
  data: Buffer | string | null | undefined,
  route: RouteMode = 'binary',
): ZnodeParse {
  const text = znodeText(data)
  const fromName = nameFields(name)
  if (text === '') return fail(name, 'empty znode data (no host:port and no published configs)')
  if (!text.includes('=')) {
    if (route === 'http')
      return fail(
        name,
        'legacy host:port data is a binary registration (an HTTP route needs http or all)',
      )
    return parseLegacy(name, text, fromName.version)
  }

  const conf = publishedConfs(text)
  const uri = splitHostPort(conf.get(PUBLISHED.instanceUri))
  const named = splitHostPort(fromName.serverUri)
  const host = nonEmpty(conf.get(PUBLISHED.bindHost)) ?? uri?.host ?? named?.host
  const port = nonEmpty(conf.get(PUBLISHED.thriftPort)) ?? uri?.port ?? named?.port
  if (host === undefined || port === undefined) {
    return fail(
      name,
      `no ${host === undefined ? 'host' : 'port'}: ${PUBLISHED.bindHost}/${PUBLISHED.thriftPort} not published, ` +
        `and neither ${PUBLISHED.instanceUri} nor the child name's serverUri= gives host:port`,
    )
  }
  return buildInstance(
    name,
    {
      host,
      port,
      mode: conf.get(PUBLISHED.transportMode),
      version: fromName.version,
      httpPort: nonEmpty(conf.get(PUBLISHED.httpPort)),
      httpPath: conf.get(PUBLISHED.httpPath),
      useSsl: conf.get(PUBLISHED.useSsl),
      authentication: conf.get(PUBLISHED.authentication),
      principal: conf.get(PUBLISHED.kerberosPrincipal),
    },
    route,
  )
}

/** A failed parse as an error, for callers that log or collect errors rather than reasons. */
export function znodeError(f: ZnodeFailure): ProxyError {
  return new ProxyError(
    ErrorCodes.ZNODE,
    `unusable HiveServer2 znode ${JSON.stringify(f.znode)}: ${f.reason}`,
  )
}

// ---------------------------------------------------------------------------------------------
// Building blocks shared with ha-record.ts

/** Raw fields of one registration before validation. */
export interface InstanceFields {
  host: string
  port: string
  /** raw `hive.server2.transport.mode`; undefined -> binary */
  mode: string | undefined
  version?: string | undefined
  leader?: boolean | undefined
  /** raw `hive.server2.thrift.http.port` (http and all only) */
  httpPort?: string | undefined
  /** raw `hive.server2.thrift.http.path`; undefined -> cliservice */
  httpPath?: string | undefined
  /** raw `hive.server2.use.SSL` */
  useSsl?: string | undefined
  /** raw `hive.server2.authentication` */
  authentication?: string | undefined
  /** raw `hive.server2.authentication.kerberos.principal` */
  principal?: string | undefined
}

/**
 * Validate raw fields into the endpoint a `route`-mode route dials. Instances of the other
 * transport and unknown transport modes are failures whose reason says so; `hive.server2.use.SSL`
 * becomes `ssl` (whether the route dials it with TLS is the route's decision).
 */
export function buildInstance(
  znode: string,
  f: InstanceFields,
  route: RouteMode = 'binary',
): ZnodeParse {
  const mode = parseTransportMode(f.mode)
  if (mode === undefined) {
    return fail(
      znode,
      `unknown transport mode ${JSON.stringify(f.mode)} (expected binary, http or all)`,
    )
  }
  if (route === 'binary' && mode === 'http')
    return fail(znode, 'transport mode http (a binary front routes only to binary or all)')
  if (route === 'http' && mode === 'binary')
    return fail(znode, 'transport mode binary (an HTTP route routes only to http or all)')
  const host = f.host.startsWith('[') && f.host.endsWith(']') ? f.host.slice(1, -1) : f.host
  if (host === '' || /[\s\p{Cc}/,;[\]]/u.test(host))
    return fail(znode, `bad host ${JSON.stringify(f.host)}`)
  let path: string | undefined
  let portText = f.port
  if (route === 'http') {
    if (f.httpPort === undefined) return fail(znode, `no ${PUBLISHED.httpPort} published`)
    portText = f.httpPort
    path = (f.httpPath ?? DEFAULT_HTTP_PATH).replace(/^\/+|\/+$/g, '')
    if (/[\s\p{Cc}?#]/u.test(path))
      return fail(znode, `bad ${PUBLISHED.httpPath} ${JSON.stringify(f.httpPath)}`)
  }
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN
  if (!(port >= 1 && port <= 65535))
    return fail(znode, `bad port ${JSON.stringify(portText)} (expected 1-65535)`)

  const instance: Hs2Instance = {
    key: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    znode,
    transportMode: mode,
  }
  if (path !== undefined) instance.path = path
  if (f.version !== undefined) instance.version = f.version
  if (f.leader !== undefined) instance.leader = f.leader
  // shown to operators, never used to route: kept as published, blanks dropped
  const authentication = nonEmpty(f.authentication?.trim())
  if (authentication !== undefined) instance.authentication = authentication
  const principal = nonEmpty(f.principal?.trim())
  if (principal !== undefined) instance.principal = principal
  if (f.useSsl?.toLowerCase() === 'true') instance.ssl = true
  return { ok: true, instance }
}

/** HiveConf validates the mode case-insensitively; missing means Hive's default, binary. */
export function parseTransportMode(raw: string | undefined): TransportMode | undefined {
  if (raw === undefined) return 'binary'
  const m = raw.toLowerCase()
  return m === 'binary' || m === 'http' || m === 'all' ? m : undefined
}

/** ZooKeeper data as UTF-8 text; absent data is ''. */
export function znodeText(data: Buffer | string | null | undefined): string {
  if (data === undefined || data === null) return ''
  return typeof data === 'string' ? data : data.toString('utf8')
}

export function fail(znode: string, reason: string): ZnodeFailure {
  return { ok: false, znode, reason }
}

// ---------------------------------------------------------------------------------------------

/**
 * Hive's `([^=;]*)=([^;]*)[;]?`: per `;`-separated segment containing `=`, key up to the FIRST `=`
 * (unlike the JDBC URL lists, whose keys are greedy). Repeated keys: the last one wins, as
 * applyConfs applies them in order.
 */
function publishedConfs(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const segment of text.split(';')) {
    const eq = segment.indexOf('=')
    if (eq >= 0) out.set(segment.slice(0, eq), segment.slice(eq + 1))
  }
  return out
}

function nameFields(name: string): { serverUri: string | undefined; version: string | undefined } {
  const fields = publishedConfs(name)
  return { serverUri: fields.get('serverUri'), version: fields.get('version') }
}

/**
 * Legacy data. Java's `String.split(":")` drops trailing empty parts, so `h:10000:` still gives two
 * parts in Hive; reproduced here.
 */
function parseLegacy(name: string, text: string, version: string | undefined): ZnodeParse {
  const parts = text.split(':')
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop()
  const [host, port] = parts
  if (parts.length !== 2 || host === undefined || port === undefined) {
    return fail(
      name,
      `legacy znode data ${JSON.stringify(text)} is not host:port (Hive splits it on ":" into exactly two parts, ` +
        'so an IPv6 literal cannot be used there)',
    )
  }
  return buildInstance(name, { host, port, mode: 'binary', version })
}

/**
 * `host:port`, `[v6]:port`, or an unbracketed IPv6 literal followed by `:port` (HS2 writes
 * `<hostname>:<port>`, whose hostname may be a bare IPv6 literal); undefined when there is no `:`.
 */
function splitHostPort(text: string | undefined): { host: string; port: string } | undefined {
  if (text === undefined) return undefined
  const colon = text.lastIndexOf(':')
  if (colon <= 0 || colon === text.length - 1) return undefined
  return { host: text.slice(0, colon), port: text.slice(colon + 1) }
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s
}
