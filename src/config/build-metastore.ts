/** Raw metastore route fields (any source, hive-site.xml included) -> validated `MetastoreRouteConfig`s. */
import { DEFAULTS } from '../defaults.js'
import type { ConfigProblem } from '../errors.js'
import {
  buildEach,
  buildEjection,
  buildHealthCheck,
  fieldGetter,
  fieldKey,
  type BuiltRoute,
  type FieldGetter,
} from './build-common.js'
import { listenAddress, oneOf, routeName, show, tcpPort, whole, type Check } from './checks.js'
import { EXAMPLE_METASTORE_URIS } from './flags.js'
import { buildBackendTls, buildFrontTls, type TlsCtx } from './build-tls.js'
import { parseMetastoreUris, parseZkQuorum, zkNamespace, type Issue } from './metastore-uris.js'
import {
  METASTORE_MODES,
  METASTORE_SELECTIONS,
  type MetastoreHttpConfig,
  type MetastoreRouteConfig,
  type MetastoreTransportMode,
  type MetastoreTarget,
} from './types.js'
import type { RawRoute } from './yaml-file.js'

const HMS = DEFAULTS.metastore

/** `discovery`: `static` (uris = thrift:// list, the default) or `zookeeper` (uris = ZooKeeper quorum). */
export type MetastoreDiscovery = 'static' | 'zookeeper'
export const METASTORE_DISCOVERIES: readonly MetastoreDiscovery[] = ['static', 'zookeeper']

/**
 * Every route is built (problems appended); `built` feeds the cross-route uniqueness check.
 * `route0UrisUnknown`: the hive-site that may have given metastore[0] its URIs failed (and said
 * so), so their absence is not reported again.
 */
export function buildMetastoreRoutes(
  raw: readonly RawRoute[],
  problems: ConfigProblem[],
  route0UrisUnknown: boolean,
  tls: TlsCtx,
): { routes: MetastoreRouteConfig[]; built: BuiltRoute[] } {
  return buildEach(
    raw,
    (r, index, rejected) => buildRoute(r, index, rejected, problems, tls),
    (r, index) =>
      index === 0 && route0UrisUnknown && r.fields['uris'] === undefined ? ['uris'] : [],
  )
}

/** `transportMode` of a metastore route, as Hive writes it (case-insensitive): binary or http. */
const transportMode: Check<MetastoreTransportMode> = (value) => {
  const v = typeof value === 'string' ? value.trim().toLowerCase() : undefined
  if (v === 'binary' || v === 'http') return { ok: true, value: v }
  return {
    ok: false,
    message:
      v === 'all'
        ? '"all" is a HiveServer2 mode; a metastore serves either binary or http'
        : `${show(value)} is not a metastore transport mode`,
    fix: 'write binary (the default) or http (Hive 4 metastore.server.thrift.transport.mode=http)',
  }
}

/** `httpPath`: the servlet path, `/` trimmed at both ends (Hive's default `metastore`). */
const httpPath: Check<string> = (value) => {
  const path = typeof value === 'string' ? value.trim().replace(/^\/+|\/+$/g, '') : ''
  if (path !== '' && /^[A-Za-z0-9._~!$&'()*+,=:@%/-]+$/.test(path) && !path.includes('//'))
    return { ok: true, value: path }
  return {
    ok: false,
    message: `${show(value)} is not a usable HTTP path`,
    fix: `write the servlet path of metastore.server.thrift.http.path, e.g. ${HMS.http.path}`,
  }
}

function buildHttp(get: FieldGetter): MetastoreHttpConfig {
  const d = HMS.http
  return {
    path: get('httpPath', d.path, httpPath),
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
  }
}

function buildRoute(
  r: RawRoute,
  index: number,
  rejected: Set<string>,
  problems: ConfigProblem[],
  tls: TlsCtx,
): MetastoreRouteConfig {
  const get = fieldGetter(r, rejected, problems)
  const ejection = buildEjection(r, get, rejected, HMS.ejection, problems)
  const mode = get('transportMode', 'binary', transportMode)
  return {
    name: get('name', index === 0 ? 'metastore' : `metastore-${index + 1}`, routeName),
    listen: get('listen', { ...HMS.listen }, listenAddress),
    ...routeTarget(r, get, rejected, problems),
    selection: get('selection', HMS.selection, oneOf(METASTORE_SELECTIONS)),
    mode: get('mode', HMS.mode, oneOf(METASTORE_MODES)),
    connectTimeoutMs: get('connectTimeoutMs', HMS.connectTimeoutMs, whole(1, HMS.connectTimeoutMs)),
    maxConnectAttempts: get(
      'maxConnectAttempts',
      HMS.maxConnectAttempts,
      whole(1, HMS.maxConnectAttempts),
    ),
    idleTimeoutMs: get('idleTimeoutMs', HMS.idleTimeoutMs, whole(0, 600_000)),
    ejection,
    healthCheck: buildHealthCheck(
      r,
      get,
      rejected,
      HMS.healthCheck,
      mode === 'http' ? 'metastore-http' : 'metastore',
      problems,
    ),
    maxMessageBytes: get('maxMessageBytes', HMS.maxMessageBytes, whole(1024, HMS.maxMessageBytes)),
    maxReplayBytes: get(
      'maxReplayBytes',
      HMS.maxReplayBytes,
      whole(0, HMS.maxReplayBytes, 'no replay'),
    ),
    tls: buildFrontTls(r, get, tls),
    backendTls: buildBackendTls(r, get, 'metastore', tls),
    transportMode: mode,
    http: buildHttp(get),
  }
}

/** Placeholder for a route whose URIs were rejected; never returned because a problem was recorded. */
const NO_TARGET: MetastoreTarget = { kind: 'static', backends: [] }

function routeTarget(
  r: RawRoute,
  get: FieldGetter,
  rejected: Set<string>,
  problems: ConfigProblem[],
): { uris: string; target: MetastoreTarget } {
  const discovery = get('discovery', 'static', oneOf(METASTORE_DISCOVERIES))
  const zk = discovery === 'zookeeper'
  const src = r.fields['uris']
  const fix = zk
    ? 'write the ZooKeeper quorum, e.g. zk1:2181,zk2:2181'
    : `write the metastore URIs, e.g. ${EXAMPLE_METASTORE_URIS}`
  const report = (key: string, issues: readonly Issue[]): void => {
    for (const i of issues) problems.push({ key, ...i })
  }
  if (src === undefined && rejected.has('uris')) return { uris: '', target: NO_TARGET }
  if (src === undefined || typeof src.value !== 'string') {
    const message =
      src === undefined
        ? 'the metastore route has no URIs'
        : `must be a string, got ${show(src.value)}`
    report(fieldKey(r, 'uris'), [{ message, fix }])
    return { uris: '', target: NO_TARGET }
  }
  const uris = src.value
  if (uris.trim() === '') {
    const message =
      'is empty: Hive reads empty metastore URIs as an embedded (in-process) metastore, but the proxy needs remote metastore URIs'
    report(src.key, [
      {
        message,
        fix: `set remote metastore URIs, e.g. ${EXAMPLE_METASTORE_URIS} (or override them with --metastore)`,
      },
    ])
    return { uris, target: NO_TARGET }
  }
  if (rejected.has('discovery')) return { uris, target: NO_TARGET } // what the URIs mean is unknown
  if (!zk) {
    const { backends, issues } = parseMetastoreUris(uris)
    report(src.key, issues)
    const ns = r.fields['zooKeeperNamespace']
    // Only a route that wrote no discovery at all: an explicit or implied `static` (a --metastore
    // flag over a ZooKeeper route, a hive-site thrift:// list) makes a leftover namespace moot.
    if (ns !== undefined && r.fields['discovery'] === undefined) {
      const nsFix =
        'add discovery: zookeeper (uris is then the ZooKeeper quorum), or remove zooKeeperNamespace'
      report(ns.key, [{ message: 'only applies with ZooKeeper discovery', fix: nsFix }])
    }
    return { uris, target: { kind: 'static', backends } }
  }
  const port = get('zooKeeperPort', HMS.zooKeeperPort, tcpPort)
  const namespace = get('zooKeeperNamespace', HMS.zooKeeperNamespace, zkNamespace)
  const { quorum, issues } = parseZkQuorum(uris, port)
  report(src.key, issues)
  return { uris, target: { kind: 'zookeeper', quorum, namespace } }
}
