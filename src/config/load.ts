/**
 * Every configuration source -> one complete, validated `ProxyConfig`, or a `ConfigError` listing
 * every problem at once (never only the first). Sources, later wins (design decision 8):
 * `DEFAULTS` < hive-site.xml (`--hive-site`, else `HIVE_HA_PROXY_HIVE_SITE`, else YAML `hiveSite`;
 * metastore[0] only) < YAML file (`--config`, else `HIVE_HA_PROXY_CONFIG`) < `HIVE_HA_PROXY_*`
 * variables < flags.
 *
 * Rule for the flag/variable route settings (--hs2, --hs2-listen, --hs2-policy, --connect-timeout;
 * --metastore, --metastore-listen, --metastore-selection): they describe the FIRST route of their
 * kind, hs2[0] / metastore[0]. They override its fields when the file (or, for metastore[0], the
 * hive-site) declares it and create it otherwise; further routes exist only in the file.
 *
 * The admin API (`--admin-listen` / `HIVE_HA_PROXY_ADMIN_LISTEN` / `admin.listen`) is top level;
 * its token comes only from `HIVE_HA_PROXY_ADMIN_TOKEN` or `admin.token` (no flag: `ps` shows
 * command lines) and is never put into a problem.
 *
 * Values stay raw (`Sourced`: value + the key the user wrote) until one validation pass, so a
 * problem always names the source that set the offending value.
 */
import { DEFAULTS } from '../defaults.js'
import { ConfigError, type ConfigProblem } from '../errors.js'
import { checkAdminListen, checkDistinct, type BuiltRoute } from './build-common.js'
import { buildHs2Routes, type SiteView } from './build-hs2.js'
import { buildMetastoreRoutes } from './build-metastore.js'
import type { TlsCtx, TlsFiles } from './build-tls.js'
import {
  adminToken,
  isLoopback,
  listenAddress,
  oneOf,
  take,
  whole,
  zkDigestAuth,
  type Check,
} from './checks.js'
import { readEnv } from './env.js'
import { parseArgs, SETTINGS, type Setting, type SettingValues, type Sourced } from './flags.js'
import { HELP_TEXT } from './help.js'
import { readHiveSite } from './hive-site.js'
import { LOG_FORMATS, LOG_LEVELS, type AdminConfig, type ProxyConfig } from './types.js'
import { inFile, readConfigFile, type Fields, type RawRoute } from './yaml-file.js'

export { HELP_TEXT }

export type CliCommand =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  /**
   * `sources` in precedence order, only those that set something:
   * ['defaults', 'hive-site:/h.xml', 'file:/x.yaml', 'env', 'flags']
   */
  /** `notices`: deprecation lines found while loading, logged once the logger exists */
  /** `warnings`: risky settings found while loading (TLS checks off, a private key others can read) */
  | { kind: 'run'; config: ProxyConfig; sources: string[]; notices: string[]; warnings: string[] }

export interface LoadDeps {
  /** without node and the script */
  argv: string[]
  env: Record<string, string | undefined>
  /**
   * synchronous, utf-8; may throw (the message is reported against the key that named the file:
   * --config / HIVE_HA_PROXY_CONFIG, --hive-site / HIVE_HA_PROXY_HIVE_SITE / hiveSite)
   */
  readFile(path: string): string
  /** permission bits of a file (private keys readable by others get a warning); optional */
  fileMode?(path: string): number | undefined
}

type RouteKind = 'hs2' | 'metastore'

interface RawConfig {
  top: Fields
  hs2: RawRoute[]
  metastore: RawRoute[]
  /** key for "no route at all" */
  noRouteKey: string
  /** a source failed before all its routes were known: "no route" would be noise */
  routesUnknown: boolean
  /** the hive-site failed: metastore[0] may lack URIs only because of that */
  metastore0UrisUnknown: boolean
  /** what the hive-site says about HiveServer2, for HS2 routes built from it */
  site: SiteView
}

/** Flag/variable settings that are fields of the first route of a kind. */
const ROUTE0_FIELDS: Record<RouteKind, Partial<Record<Setting, string>>> = {
  hs2: {
    hs2: 'url',
    hs2Listen: 'listen',
    hs2Policy: 'policy',
    hs2TlsCert: 'tls.cert',
    hs2TlsKey: 'tls.key',
    connectTimeoutMs: 'connectTimeoutMs',
    firstResponseTimeoutMs: 'firstResponseTimeoutMs',
  },
  metastore: {
    metastore: 'uris',
    metastoreListen: 'listen',
    metastoreSelection: 'selection',
    metastoreTlsCert: 'tls.cert',
    metastoreTlsKey: 'tls.key',
  },
}
const TOP_FIELDS: Partial<Record<Setting, string>> = {
  logLevel: 'logLevel',
  logFormat: 'logFormat',
  shutdownGraceMs: 'shutdownGraceMs',
  adminListen: 'admin.listen',
  adminToken: 'admin.token',
  zookeeperDigestAuth: 'zookeeper.digestAuth',
}
/** hive-site fields that only mean something together with its URIs. */
const URI_BOUND_FIELDS = ['discovery', 'zooKeeperNamespace', 'zooKeeperPort'] as const
/** Settings naming a file: a source that only names one has not set anything itself. */
const FILE_SETTINGS: readonly Setting[] = ['config', 'hiveSite']

/**
 * `--help` and `--version` win over everything, even other argv mistakes. Otherwise returns `run`
 * or throws `ConfigError`. Reads nothing but `deps`.
 */
export function loadConfig(deps: LoadDeps): CliCommand {
  const args = parseArgs(deps.argv)
  if (args.help) return { kind: 'help', text: HELP_TEXT }
  if (args.version) return { kind: 'version' }
  const env = readEnv(deps.env)
  const problems = [...args.problems, ...env.problems]
  const sources = ['defaults']
  const file = args.values.config ?? env.values.config
  const raw = file === undefined ? emptyRaw() : rawFromFile(file, deps.readFile, problems, sources)
  const hiveSite = args.values.hiveSite ?? env.values.hiveSite ?? raw.top['hiveSite']
  delete raw.top['hiveSite']
  if (hiveSite !== undefined) underlayHiveSite(raw, hiveSite, deps.readFile, problems, sources)
  if (overlay(raw, env.values)) sources.push('env')
  if (overlay(raw, args.values)) sources.push('flags')
  impliedFromHiveSite(raw)
  const notices: string[] = []
  const warnings: string[] = []
  const files: TlsFiles = { readFile: deps.readFile }
  if (deps.fileMode !== undefined) files.fileMode = deps.fileMode
  const config = build(raw, problems, notices, { files, problems, warnings })
  const siteFile = hiveSite === undefined ? undefined : `hive-site:${String(hiveSite.value)}`
  if (
    siteFile !== undefined &&
    !sources.includes(siteFile) &&
    config.hs2.some((r) => r.fromHiveSite)
  )
    sources.splice(1, 0, siteFile)
  if (problems.length > 0) throw new ConfigError(problems)
  return { kind: 'run', config, sources, notices, warnings }
}

function emptyRaw(): RawConfig {
  return {
    top: {},
    hs2: [],
    metastore: [],
    noRouteKey: '--hs2',
    routesUnknown: false,
    metastore0UrisUnknown: false,
    site: { hs2: undefined, failed: false },
  }
}

function rawFromFile(
  file: Sourced,
  readFile: LoadDeps['readFile'],
  problems: ConfigProblem[],
  sources: string[],
): RawConfig {
  const path = String(file.value)
  const settings = readConfigFile(file, readFile, problems)
  if (settings.loaded) sources.push(`file:${path}`)
  return {
    top: settings.top,
    hs2: settings.hs2,
    metastore: settings.metastore,
    noRouteKey: inFile(path, 'hs2'),
    routesUnknown: !settings.routesComplete,
    metastore0UrisUnknown: false,
    site: { hs2: undefined, failed: false },
  }
}

/**
 * hive-site.xml goes UNDER everything already read (it is the lowest source after the defaults).
 * Its discovery mode, ZooKeeper namespace and port travel with its URIs: when the file's
 * metastore[0] sets its own `uris`, they would give those a meaning the file never asked for, so
 * they are dropped. (A file route WITHOUT `uris` does take them, and may override any of them,
 * e.g. `zooKeeperNamespace` for the namespace trap of hive-ha-semantics.md §4.1.)
 */
function underlayHiveSite(
  raw: RawConfig,
  ref: Sourced,
  readFile: LoadDeps['readFile'],
  problems: ConfigProblem[],
  sources: string[],
): void {
  const site = readHiveSite(ref, readFile, problems)
  if (!site.loaded) raw.routesUnknown = raw.metastore0UrisUnknown = true
  raw.site = { hs2: site.hs2, failed: !site.loaded }
  const fields = site.fields
  if (fields['uris'] === undefined) return // sets no metastore URIs: contributes nothing
  sources.splice(1, 0, `hive-site:${String(ref.value)}`)
  const first = raw.metastore[0]
  if (first === undefined) {
    raw.metastore.push({ fields, keyOf: route0KeyOf('metastore') })
    return
  }
  if (first.fields['uris'] !== undefined) for (const f of URI_BOUND_FIELDS) delete fields[f]
  first.fields = { ...fields, ...first.fields }
}

/**
 * `--hs2-listen` (or its variable) asks for an HS2 route; without a URL from any source it is the
 * one hive-site.xml describes, when one is given. Only hs2[0] and only when the listen address came
 * from a flag or variable: a route written in the file opts in with `fromHiveSite: true`.
 */
function impliedFromHiveSite(raw: RawConfig): void {
  const first = raw.hs2[0]
  const listen = first?.fields['listen']
  // no hive-site: the route simply lacks its URL, and says so against --hs2
  if (raw.site.hs2 === undefined && !raw.site.failed) return
  if (first === undefined || listen === undefined) return
  if (first.fields['url'] !== undefined || first.fields['fromHiveSite'] !== undefined) return
  const spec = SETTINGS.find((s) => s.setting === 'hs2Listen')
  if (listen.key !== spec?.flag && listen.key !== spec?.env) return
  first.fields['fromHiveSite'] = { value: true, key: listen.key }
}

/** Apply one source's settings on top of `raw`; true when it set anything besides a file path. */
function overlay(raw: RawConfig, values: SettingValues): boolean {
  const route0: Record<RouteKind, Fields> = { hs2: {}, metastore: {} }
  let any = false
  for (const { setting } of SETTINGS) {
    const src = values[setting]
    if (src === undefined || FILE_SETTINGS.includes(setting)) continue
    any = true
    const kind = routeKindOf(setting)
    const topField = TOP_FIELDS[setting]
    if (kind !== undefined) route0[kind.kind][kind.field] = src
    else if (topField !== undefined) raw.top[topField] = src
  }
  // --metastore is always a thrift:// list: it also replaces a ZooKeeper discovery set below it.
  const uris = route0.metastore['uris']
  if (uris !== undefined) route0.metastore['discovery'] = { value: 'static', key: uris.key }
  for (const kind of ['hs2', 'metastore'] as const) {
    const fields = route0[kind]
    if (Object.keys(fields).length === 0) continue
    const first = raw[kind][0]
    if (first !== undefined) Object.assign(first.fields, fields)
    else raw[kind].push({ fields, keyOf: route0KeyOf(kind) })
  }
  return any
}

function routeKindOf(setting: Setting): { kind: RouteKind; field: string } | undefined {
  for (const kind of ['hs2', 'metastore'] as const) {
    const field = ROUTE0_FIELDS[kind][setting]
    if (field !== undefined) return { kind, field }
  }
  return undefined
}

/**
 * Keys of a first route created by flags, variables or hive-site: the flag for its fields,
 * `hs2[0].x` / `metastore[0].x` for the rest.
 */
function route0KeyOf(kind: RouteKind): (field: string) => string {
  return (field) =>
    SETTINGS.find((s) => ROUTE0_FIELDS[kind][s.setting] === field)?.flag ?? `${kind}[0].${field}`
}

/** Validate every field, pushing one problem per bad value. The result is meaningful only if none was pushed. */
function build(
  raw: RawConfig,
  problems: ConfigProblem[],
  notices: string[],
  tls: TlsCtx,
): ProxyConfig {
  const get = <T>(field: string, fallback: T, check: Check<T>): T =>
    take(raw.top[field], fallback, check, problems)
  const zk = DEFAULTS.zookeeper
  const top = {
    logLevel: get('logLevel', DEFAULTS.logLevel, oneOf(LOG_LEVELS)),
    logFormat: get('logFormat', DEFAULTS.logFormat, oneOf(LOG_FORMATS)),
    shutdownGraceMs: get(
      'shutdownGraceMs',
      DEFAULTS.shutdownGraceMs,
      whole(1, DEFAULTS.shutdownGraceMs),
    ),
    zookeeper: {
      sessionTimeoutMs: get(
        'zookeeper.sessionTimeoutMs',
        zk.sessionTimeoutMs,
        whole(1, zk.sessionTimeoutMs),
      ),
      reconnectWatchdogMs: get(
        'zookeeper.reconnectWatchdogMs',
        zk.reconnectWatchdogMs,
        whole(1, zk.reconnectWatchdogMs),
      ),
      probeIntervalMs: get(
        'zookeeper.probeIntervalMs',
        zk.probeIntervalMs,
        whole(0, zk.probeIntervalMs, 'no probes, only the watchdog'),
      ),
      digestAuth: get<string | undefined>('zookeeper.digestAuth', undefined, zkDigestAuth),
    },
  }
  if (raw.hs2.length === 0 && raw.metastore.length === 0 && !raw.routesUnknown) {
    problems.push({
      key: raw.noRouteKey,
      message: 'no HS2 route and no metastore route is configured',
      fix:
        'give --hs2 <jdbc-url> (or HIVE_HA_PROXY_HS2) and/or --metastore <thrift://host:port,...> ' +
        '(or HIVE_HA_PROXY_METASTORE, or --hive-site), or a config file (--config) with hs2 or metastore routes',
    })
  }
  const hs2 = buildHs2Routes(raw.hs2, problems, notices, tls, raw.site)
  const metastore = buildMetastoreRoutes(raw.metastore, problems, raw.metastore0UrisUnknown, tls)
  checkDistinct([...hs2.built, ...metastore.built], problems)
  const admin = buildAdmin(raw.top, [...hs2.built, ...metastore.built], problems)
  return { ...top, hs2: hs2.routes, metastore: metastore.routes, admin }
}

/**
 * `admin.listen` (default loopback) and `admin.token` (variable or file only). A non-loopback
 * listen address without a token is refused; no problem ever shows the token.
 */
function buildAdmin(
  top: Fields,
  routes: readonly BuiltRoute[],
  problems: ConfigProblem[],
): AdminConfig {
  const listenSrc = top['admin.listen']
  const tokenSrc = top['admin.token']
  const before = problems.length
  const listen = take(listenSrc, { ...DEFAULTS.admin.listen }, listenAddress, problems)
  const listenOk = problems.length === before
  const token = take<string | undefined>(tokenSrc, undefined, adminToken, problems)
  const listenKey = listenSrc?.key ?? '--admin-listen'
  if (listenOk) checkAdminListen({ listen, key: listenKey }, routes, problems)
  if (listenOk && tokenSrc === undefined && !isLoopback(listen.host)) {
    problems.push({
      key: listenKey,
      message: 'the admin API on a non-loopback address needs a bearer token',
      fix: 'set HIVE_HA_PROXY_ADMIN_TOKEN (or admin.token in the config file), or listen on 127.0.0.1',
    })
  }
  return { listen, token }
}
