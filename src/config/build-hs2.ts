/** Raw HS2 route fields (any source) -> validated `Hs2RouteConfig`s. */
import { DEFAULTS } from '../defaults.js'
import { JdbcUrlError, type ConfigProblem } from '../errors.js'
import {
  buildEach,
  buildEjection,
  buildHealthCheck,
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
import type { Hs2FromSite } from './hive-site.js'
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
  site: SiteView = { hs2: undefined, failed: false },
): { routes: Hs2RouteConfig[]; built: BuiltRoute[] } {
  return buildEach(raw, (r, index, rejected) =>
    buildRoute(r, index, rejected, problems, notices, tls, site),
  )
}

/** What the hive-site (if any) says about HiveServer2, for routes that take their URL from it. */
export interface SiteView {
  /** undefined: no hive-site given, or it failed */
  hs2: Hs2FromSite | undefined
  /** the hive-site failed to load (and said so): a route asking for it reports nothing more */
  failed: boolean
}

function buildRoute(
  r: RawRoute,
  index: number,
  rejected: Set<string>,
  problems: ConfigProblem[],
  notices: string[],
  tls: TlsCtx,
  site: SiteView,
): Hs2RouteConfig {
  const get = fieldGetter(r, rejected, problems)
  const ejection = buildEjection(r, get, rejected, HS2.ejection, problems)
  const { url, route, fromHiveSite, kerberosPrincipal } = routeUrl(r, get, problems, site)
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
    healthCheck: buildHealthCheck(
      r,
      get,
      rejected,
      HS2.healthCheck,
      http ? 'hs2-http' : 'hs2-binary',
      problems,
    ),
    tcpIo: tcpIo(r, get, notices),
    mr3AppIdNamespace: mr3Namespace(r, get, route.target, problems),
    fromHiveSite,
    kerberosPrincipal,
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
  principal: undefined,
}

interface RouteUrl {
  url: string
  route: Hs2UrlRoute
  fromHiveSite: Hs2RouteConfig['fromHiveSite']
  kerberosPrincipal: Hs2RouteConfig['kerberosPrincipal']
}

const boolean: Check<boolean> = (value) =>
  typeof value === 'boolean'
    ? { ok: true, value }
    : {
        ok: false,
        message: `must be true or false, got ${show(value)}`,
        fix: 'write true or false',
      }

/**
 * The route's JDBC URL: `url`, or with `fromHiveSite: true` (set implicitly by `--hs2-listen`
 * without a URL, load.ts) the one hive-site.xml describes. A `url` from a flag or variable wins
 * over `fromHiveSite` in the file; both in the file is a problem.
 */
function routeUrl(
  r: RawRoute,
  get: FieldGetter,
  problems: ConfigProblem[],
  site: SiteView,
): RouteUrl {
  const src = r.fields['url']
  const asked = get('fromHiveSite', false, boolean)
  const fromKey = fieldKey(r, 'fromHiveSite')
  if (src === undefined && asked) return siteUrl(fromKey, problems, site)
  const fix = `write a JDBC URL such as ${EXAMPLE_URL} or jdbc:hive2://host1:10000,host2:10000/`
  if (src === undefined || typeof src.value !== 'string') {
    const message =
      src === undefined
        ? 'the HS2 route has no JDBC URL'
        : `must be a string, got ${show(src.value)}`
    problems.push({
      key: fieldKey(r, 'url'),
      message,
      fix:
        src === undefined
          ? `${fix}, or build it from a hive-site.xml (--hive-site with --hs2-listen, or fromHiveSite: true in the config file)`
          : fix,
    })
    return { url: '', route: NO_ROUTE, fromHiveSite: undefined, kerberosPrincipal: undefined }
  }
  if (asked && sameFile(src.key, fromKey))
    problems.push({
      key: fromKey,
      message: 'the route has both a url and fromHiveSite: true',
      fix: 'keep one: the url, or fromHiveSite: true to build it from --hive-site',
    })
  try {
    const route = hs2RouteFromJdbcUrl(src.value)
    const kerberosPrincipal =
      route.principal === undefined
        ? undefined
        : { principal: route.principal, from: `principal= in ${src.key}` }
    return { url: src.value, route, fromHiveSite: undefined, kerberosPrincipal }
  } catch (err) {
    if (!(err instanceof JdbcUrlError)) throw err
    problems.push({ key: src.key, message: err.message, fix })
    return {
      url: src.value,
      route: NO_ROUTE,
      fromHiveSite: undefined,
      kerberosPrincipal: undefined,
    }
  }
}

/** The URL hive-site.xml describes, or a problem against `key` saying why there is none. */
function siteUrl(key: string, problems: ConfigProblem[], site: SiteView): RouteUrl {
  const none = { url: '', route: NO_ROUTE, fromHiveSite: undefined, kerberosPrincipal: undefined }
  const h = site.hs2
  if (h === undefined) {
    if (!site.failed)
      problems.push({
        key,
        message: 'the HS2 route has no JDBC URL and no hive-site.xml to build one from',
        fix: `give --hive-site /etc/hive/conf/hive-site.xml (or HIVE_HA_PROXY_HIVE_SITE, or hiveSite: in the config file), or a JDBC URL such as ${EXAMPLE_URL}`,
      })
    return none
  }
  if (!h.ok) {
    problems.push({ key, message: h.message, fix: h.fix })
    return none
  }
  const fromHiveSite = { file: h.file, keys: h.keys }
  const kerberosPrincipal =
    h.principal === undefined
      ? undefined
      : { principal: h.principal.principal, from: h.principal.key }
  try {
    return { url: h.url, route: hs2RouteFromJdbcUrl(h.url), fromHiveSite, kerberosPrincipal }
  } catch (err) {
    if (!(err instanceof JdbcUrlError)) throw err
    problems.push({
      key,
      message: `the JDBC URL built from ${h.file} (${h.keys.join(', ')}) is not usable: ${err.message}`,
      fix: `correct those keys in ${h.file}, or give the route a JDBC URL`,
    })
    return { ...none, url: h.url }
  }
}

/** Both keys name the same config file (`x (in /etc/p.yaml)`): not one source overriding another. */
function sameFile(a: string, b: string): boolean {
  const file = (k: string): string | undefined => / \(in (.+)\)$/.exec(k)?.[1]
  return file(a) !== undefined && file(a) === file(b)
}
