/** Raw HS2 route fields (any source) -> validated `Hs2RouteConfig`s. */
import { DEFAULTS } from '../defaults.js'
import { JdbcUrlError, type ConfigProblem } from '../errors.js'
import {
  buildEach,
  buildEjection,
  fieldGetter,
  fieldKey,
  type BuiltRoute,
  type FieldGetter,
} from './build-common.js'
import {
  listenAddress,
  mr3AppIdNamespace,
  oneOf,
  routeName,
  show,
  whole,
  type Check,
} from './checks.js'
import { handlesUnavailable } from '../net/handles.js'
import { buildBackendTls, buildFrontTls, type TlsCtx } from './build-tls.js'
import { EXAMPLE_URL } from './flags.js'
import { hs2RouteFromJdbcUrl, type Hs2UrlRoute } from './jdbc-url.js'
import {
  HS2_POLICIES,
  TCP_IOS,
  type Hs2HttpConfig,
  type Hs2RouteConfig,
  type Hs2Target,
  type TcpIo,
} from './types.js'
import type { RawRoute } from './yaml-file.js'

const HS2 = DEFAULTS.hs2

/**
 * Every route is built (problems appended); `built` feeds the cross-route uniqueness check.
 * Deprecated keys still work and add a line to `notices` (logged at start).
 */
export function buildHs2Routes(
  raw: readonly RawRoute[],
  problems: ConfigProblem[],
  notices: string[],
  tls: TlsCtx,
): { routes: Hs2RouteConfig[]; built: BuiltRoute[] } {
  return buildEach(raw, (r, index, rejected) =>
    buildRoute(r, index, rejected, problems, notices, tls),
  )
}

function buildRoute(
  r: RawRoute,
  index: number,
  rejected: Set<string>,
  problems: ConfigProblem[],
  notices: string[],
  tls: TlsCtx,
): Hs2RouteConfig {
  const get = fieldGetter(r, rejected, problems)
  const ejection = buildEjection(r, get, rejected, HS2.ejection, problems)
  const { url, route } = routeUrl(r, problems)
  const http = route.transportMode === 'http'
  return {
    name: get('name', index === 0 ? 'hs2' : `hs2-${index + 1}`, routeName),
    // Hive's own default ports: 10000 binary, 10001 http
    listen: get('listen', { ...(http ? HS2.httpListen : HS2.listen) }, listenAddress),
    url,
    target: route.target,
    transportMode: route.transportMode,
    http: buildHttp(get, route.httpPath),
    policy: get('policy', HS2.policy, oneOf(HS2_POLICIES)),
    connectTimeoutMs: get('connectTimeoutMs', HS2.connectTimeoutMs, whole(1, HS2.connectTimeoutMs)),
    maxConnectAttempts: get(
      'maxConnectAttempts',
      HS2.maxConnectAttempts,
      whole(1, HS2.maxConnectAttempts),
    ),
    idleTimeoutMs: get('idleTimeoutMs', HS2.idleTimeoutMs, whole(0, 600_000)),
    firstResponseTimeoutMs: get(
      'firstResponseTimeoutMs',
      HS2.firstResponseTimeoutMs,
      whole(0, 600_000),
    ),
    slowStartMs: get('slowStartMs', HS2.slowStartMs, whole(0, 600_000)),
    ejection,
    tcpIo: tcpIo(r, get, notices),
    mr3AppIdNamespace: mr3Namespace(r, get, route.target, problems),
    tls: buildFrontTls(r, get, tls),
    backendTls: buildBackendTls(r, get, 'hs2', tls),
  }
}

function buildHttp(get: FieldGetter, path: string): Hs2HttpConfig {
  const d = HS2.http
  return {
    path,
    maxBodyBytes: get('http.maxBodyBytes', d.maxBodyBytes, whole(1024, d.maxBodyBytes)),
    headersTimeoutMs: get(
      'http.headersTimeoutMs',
      d.headersTimeoutMs,
      whole(1, d.headersTimeoutMs),
    ),
    keepAliveTimeoutMs: get(
      'http.keepAliveTimeoutMs',
      d.keepAliveTimeoutMs,
      whole(1, d.keepAliveTimeoutMs),
    ),
    affinityCookie: get('http.affinityCookie', d.affinityCookie, cookieName),
    affinityTtlMs: get('http.affinityTtlMs', d.affinityTtlMs, whole(1, d.affinityTtlMs)),
    affinityMaxEntries: get(
      'http.affinityMaxEntries',
      d.affinityMaxEntries,
      whole(1, d.affinityMaxEntries),
    ),
  }
}

/** An RFC 6265 cookie name (an HTTP token). */
const cookieName: Check<string> = (value) =>
  typeof value === 'string' && /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/.test(value)
    ? { ok: true, value }
    : {
        ok: false,
        message: `${show(value)} is not a cookie name`,
        fix: `use letters, digits and - _ . only, e.g. ${HS2.http.affinityCookie}`,
      }

/**
 * `tcpIo`, or its old name `transport` (easily mistaken for Hive's transport mode) with a
 * deprecation notice; when both are set `tcpIo` wins.
 */
function tcpIo(r: RawRoute, get: FieldGetter, notices: string[]): TcpIo {
  const old = r.fields['transport']
  if (old === undefined) return get('tcpIo', HS2.tcpIo, tcpIoCheck())
  const now = r.fields['tcpIo']
  notices.push(
    now === undefined
      ? `${old.key} is deprecated (it is not Hive's transport mode): rename it to tcpIo`
      : `${old.key} is deprecated and ignored: ${now.key} is set`,
  )
  return now === undefined
    ? get('transport', HS2.tcpIo, tcpIoCheck())
    : get('tcpIo', HS2.tcpIo, tcpIoCheck())
}

/**
 * `handles` asked for explicitly must be available here; `auto` falls back to sockets (the route
 * logs why when it starts).
 * `unavailable` is injectable for tests (net/handles.ts).
 */
export function tcpIoCheck(
  unavailable: () => string | undefined = handlesUnavailable,
): Check<TcpIo> {
  return (value) => {
    const r = oneOf(TCP_IOS)(value)
    const why = r.ok && r.value === 'handles' ? unavailable() : undefined
    if (why === undefined) return r
    return {
      ok: false,
      message: `bare TCP handles are not available in this Node (${why})`,
      fix: 'use auto (it falls back to sockets) or sockets',
    }
  }
}

/** Only meaningful with ZooKeeper discovery: the appId znode lives in the quorum of the URL. */
function mr3Namespace(
  r: RawRoute,
  get: FieldGetter,
  target: Hs2Target,
  problems: ConfigProblem[],
): string | undefined {
  const ns = get<string | undefined>('mr3AppIdNamespace', undefined, mr3AppIdNamespace)
  if (ns === undefined || target === NO_TARGET || target.kind !== 'static') return ns
  problems.push({
    key: fieldKey(r, 'mr3AppIdNamespace'),
    message: 'needs ZooKeeper discovery, but the url of this route is a direct host:port list',
    fix: 'remove mr3AppIdNamespace, or use a JDBC URL with serviceDiscoveryMode=zooKeeper (or zooKeeperHA) on the ZooKeeper that holds the MR3 appId',
  })
  return undefined
}

/** Placeholder for a route whose URL was rejected; never returned because a problem was recorded. */
const NO_TARGET: Hs2Target = { kind: 'static', backends: [] }
const NO_ROUTE: Hs2UrlRoute = {
  target: NO_TARGET,
  transportMode: 'binary',
  httpPath: HS2.http.path,
}

function routeUrl(r: RawRoute, problems: ConfigProblem[]): { url: string; route: Hs2UrlRoute } {
  const src = r.fields['url']
  const fix = `write a JDBC URL such as ${EXAMPLE_URL} or jdbc:hive2://host1:10000,host2:10000/`
  if (src === undefined || typeof src.value !== 'string') {
    const message =
      src === undefined
        ? 'the HS2 route has no JDBC URL'
        : `must be a string, got ${show(src.value)}`
    problems.push({ key: fieldKey(r, 'url'), message, fix })
    return { url: '', route: NO_ROUTE }
  }
  try {
    return { url: src.value, route: hs2RouteFromJdbcUrl(src.value) }
  } catch (err) {
    if (!(err instanceof JdbcUrlError)) throw err
    problems.push({ key: src.key, message: err.message, fix })
    return { url: src.value, route: NO_ROUTE }
  }
}
