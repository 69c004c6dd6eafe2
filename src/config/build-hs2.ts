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
import { EXAMPLE_URL } from './flags.js'
import { hs2TargetFromJdbcUrl } from './jdbc-url.js'
import {
  HS2_POLICIES,
  HS2_TRANSPORTS,
  type Hs2RouteConfig,
  type Hs2Transport,
  type Hs2Target,
} from './types.js'
import type { RawRoute } from './yaml-file.js'

const HS2 = DEFAULTS.hs2

/** Every route is built (problems appended); `built` feeds the cross-route uniqueness check. */
export function buildHs2Routes(
  raw: readonly RawRoute[],
  problems: ConfigProblem[],
): { routes: Hs2RouteConfig[]; built: BuiltRoute[] } {
  return buildEach(raw, (r, index, rejected) => buildRoute(r, index, rejected, problems))
}

function buildRoute(
  r: RawRoute,
  index: number,
  rejected: Set<string>,
  problems: ConfigProblem[],
): Hs2RouteConfig {
  const get = fieldGetter(r, rejected, problems)
  const ejection = buildEjection(r, get, rejected, HS2.ejection, problems)
  const { url, target } = routeUrl(r, problems)
  return {
    name: get('name', index === 0 ? 'hs2' : `hs2-${index + 1}`, routeName),
    listen: get('listen', { ...HS2.listen }, listenAddress),
    url,
    target,
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
    transport: get('transport', HS2.transport, transportCheck()),
    mr3AppIdNamespace: mr3Namespace(r, get, target, problems),
  }
}

/**
 * `handles` asked for explicitly must be available here; `auto` falls back to sockets (the route
 * logs why when it starts).
 * `unavailable` is injectable for tests (net/handles.ts).
 */
export function transportCheck(
  unavailable: () => string | undefined = handlesUnavailable,
): Check<Hs2Transport> {
  return (value) => {
    const r = oneOf(HS2_TRANSPORTS)(value)
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

function routeUrl(r: RawRoute, problems: ConfigProblem[]): { url: string; target: Hs2Target } {
  const src = r.fields['url']
  const fix = `write a JDBC URL such as ${EXAMPLE_URL} or jdbc:hive2://host1:10000,host2:10000/`
  if (src === undefined || typeof src.value !== 'string') {
    const message =
      src === undefined
        ? 'the HS2 route has no JDBC URL'
        : `must be a string, got ${show(src.value)}`
    problems.push({ key: fieldKey(r, 'url'), message, fix })
    return { url: '', target: NO_TARGET }
  }
  try {
    return { url: src.value, target: hs2TargetFromJdbcUrl(src.value) }
  } catch (err) {
    if (!(err instanceof JdbcUrlError)) throw err
    problems.push({ key: src.key, message: err.message, fix })
    return { url: src.value, target: NO_TARGET }
  }
}
