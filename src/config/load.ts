/**
 * Every configuration source -> one complete, validated `ProxyConfig`, or a `ConfigError` listing
 * every problem at once (never only the first). Sources, later wins (design decision 8; hive-site.xml
 * is not read yet): `DEFAULTS` < YAML file (`--config`, else `HIVE_HA_PROXY_CONFIG`) <
 * `HIVE_HA_PROXY_*` variables < flags.
 *
 * Rule for the flag/variable HS2 settings (--hs2, --hs2-listen, --hs2-policy, --connect-timeout):
 * they describe the FIRST route, hs2[0]. They override its fields when the file declares routes and
 * create it when it does not; further routes exist only in the file.
 *
 * Values stay raw (`Sourced`: value + the key the user wrote) until one validation pass, so a
 * problem always names the source that set the offending value.
 */
import { DEFAULTS } from '../defaults.js'
import { ConfigError, JdbcUrlError, type ConfigProblem } from '../errors.js'
import { formatHostPort, oneOf, routeName, listenAddress, show, take, whole, type Check } from './checks.js'
import { readEnv } from './env.js'
import { EXAMPLE_URL, HELP_TEXT, parseArgs, SETTINGS, type Setting, type SettingValues, type Sourced } from './flags.js'
import { hs2TargetFromJdbcUrl } from './jdbc-url.js'
import { HS2_POLICIES, LOG_LEVELS, type HostPort, type Hs2RouteConfig, type Hs2Target, type ProxyConfig } from './types.js'
import { inFile, readConfigFile, type Fields, type RawRoute } from './yaml-file.js'

export { HELP_TEXT }

export type CliCommand =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  /** `sources` in precedence order, only those that set something: ['defaults', 'file:/x.yaml', 'env', 'flags'] */
  | { kind: 'run'; config: ProxyConfig; sources: string[] }

export interface LoadDeps {
  /** without node and the script */
  argv: string[]
  env: Record<string, string | undefined>
  /** synchronous, utf-8; may throw (the message is reported against --config / HIVE_HA_PROXY_CONFIG) */
  readFile(path: string): string
}

interface RawConfig {
  top: Fields
  routes: RawRoute[]
  /** key for "no route at all" */
  hs2Key: string
  /** a source failed before all its routes were known: "no route" would be noise */
  routesUnknown: boolean
}

const HS2 = DEFAULTS.hs2
const ROUTE0_FIELDS: Partial<Record<Setting, string>> = {
  hs2: 'url', hs2Listen: 'listen', hs2Policy: 'policy', connectTimeoutMs: 'connectTimeoutMs',
}
const TOP_FIELDS: Partial<Record<Setting, string>> = { logLevel: 'logLevel', shutdownGraceMs: 'shutdownGraceMs' }

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
  if (overlay(raw, env.values)) sources.push('env')
  if (overlay(raw, args.values)) sources.push('flags')
  const config = build(raw, problems)
  if (problems.length > 0) throw new ConfigError(problems)
  return { kind: 'run', config, sources }
}

function emptyRaw(): RawConfig {
  return { top: {}, routes: [], hs2Key: '--hs2', routesUnknown: false }
}

function rawFromFile(file: Sourced, readFile: LoadDeps['readFile'], problems: ConfigProblem[], sources: string[]): RawConfig {
  const path = String(file.value)
  const settings = readConfigFile(file, readFile, problems)
  if (settings.loaded) sources.push(`file:${path}`)
  return { top: settings.top, routes: settings.routes, hs2Key: inFile(path, 'hs2'), routesUnknown: !settings.routesComplete }
}

/** Apply one source's settings on top of `raw`; true when it set anything besides the file path. */
function overlay(raw: RawConfig, values: SettingValues): boolean {
  const route0: Fields = {}
  let any = false
  for (const { setting } of SETTINGS) {
    const src = values[setting]
    const routeField = ROUTE0_FIELDS[setting]
    const topField = TOP_FIELDS[setting]
    if (src === undefined) continue
    if (routeField !== undefined) route0[routeField] = src
    else if (topField !== undefined) raw.top[topField] = src
    any ||= setting !== 'config'
  }
  if (Object.keys(route0).length === 0) return any
  const first = raw.routes[0]
  if (first !== undefined) Object.assign(first.fields, route0)
  else raw.routes.push({ fields: route0, keyOf: flagKeyOf })
  return any
}

/** Keys of a route created by flags/variables: the flag for its fields, `hs2[0].x` for the rest. */
function flagKeyOf(field: string): string {
  const spec = SETTINGS.find((s) => ROUTE0_FIELDS[s.setting] === field)
  return spec?.flag ?? `hs2[0].${field}`
}

/** Validate every field, pushing one problem per bad value. The result is meaningful only if none was pushed. */
function build(raw: RawConfig, problems: ConfigProblem[]): ProxyConfig {
  const get = <T>(field: string, fallback: T, check: Check<T>): T => take(raw.top[field], fallback, check, problems)
  const zk = DEFAULTS.zookeeper
  return {
    logLevel: get('logLevel', DEFAULTS.logLevel, oneOf(LOG_LEVELS)),
    shutdownGraceMs: get('shutdownGraceMs', DEFAULTS.shutdownGraceMs, whole(1, DEFAULTS.shutdownGraceMs)),
    zookeeper: {
      sessionTimeoutMs: get('zookeeper.sessionTimeoutMs', zk.sessionTimeoutMs, whole(1, zk.sessionTimeoutMs)),
      reconnectWatchdogMs: get('zookeeper.reconnectWatchdogMs', zk.reconnectWatchdogMs, whole(1, zk.reconnectWatchdogMs)),
    },
    hs2: buildRoutes(raw, problems),
  }
}

function buildRoutes(raw: RawConfig, problems: ConfigProblem[]): Hs2RouteConfig[] {
  if (raw.routes.length === 0 && !raw.routesUnknown) {
    problems.push({
      key: raw.hs2Key,
      message: 'no HS2 route is configured',
      fix: 'give --hs2 <jdbc-url> (or HIVE_HA_PROXY_HS2), or a config file (--config) with hs2 routes',
    })
  }
  const rejected = raw.routes.map(() => new Set<string>())
  const built = raw.routes.map((r, i) => buildRoute(r, i, rejected[i] ?? new Set(), problems))
  checkDistinct(raw.routes, built, rejected, problems)
  return built
}

/** Fields whose value was rejected are added to `rejected` (their default stands in for them). */
function buildRoute(r: RawRoute, index: number, rejected: Set<string>, problems: ConfigProblem[]): Hs2RouteConfig {
  const get = <T>(field: string, fallback: T, check: Check<T>): T => {
    const before = problems.length
    const value = take(r.fields[field], fallback, check, problems)
    if (problems.length > before) rejected.add(field)
    return value
  }
  const ejection = {
    failures: get('ejection.failures', HS2.ejection.failures, whole(1, HS2.ejection.failures)),
    baseMs: get('ejection.baseMs', HS2.ejection.baseMs, whole(1, HS2.ejection.baseMs)),
    maxMs: get('ejection.maxMs', HS2.ejection.maxMs, whole(1, HS2.ejection.maxMs)),
  }
  // Compared only when both parsed: a rejected value has been replaced by its default.
  if (!rejected.has('ejection.baseMs') && !rejected.has('ejection.maxMs') && ejection.maxMs < ejection.baseMs) {
    const message = `ejection.maxMs (${ejection.maxMs}) is below ejection.baseMs (${ejection.baseMs})`
    problems.push({ key: fieldKey(r, 'ejection.maxMs'), message, fix: `raise maxMs to at least ${ejection.baseMs}, or lower baseMs` })
  }
  return {
    name: get('name', index === 0 ? 'hs2' : `hs2-${index + 1}`, routeName),
    listen: get('listen', { ...HS2.listen }, listenAddress),
    ...routeUrl(r, problems),
    policy: get('policy', HS2.policy, oneOf(HS2_POLICIES)),
    connectTimeoutMs: get('connectTimeoutMs', HS2.connectTimeoutMs, whole(1, HS2.connectTimeoutMs)),
    maxConnectAttempts: get('maxConnectAttempts', HS2.maxConnectAttempts, whole(1, HS2.maxConnectAttempts)),
    idleTimeoutMs: get('idleTimeoutMs', HS2.idleTimeoutMs, whole(0, 600_000)),
    ejection,
  }
}

/** Placeholder for a route whose URL was rejected; never returned because a problem was recorded. */
const NO_TARGET: Hs2Target = { kind: 'static', backends: [] }

function routeUrl(r: RawRoute, problems: ConfigProblem[]): { url: string; target: Hs2Target } {
  const src = r.fields['url']
  const fix = `write a JDBC URL such as ${EXAMPLE_URL} or jdbc:hive2://host1:10000,host2:10000/`
  if (src === undefined || typeof src.value !== 'string') {
    const message = src === undefined ? 'the HS2 route has no JDBC URL' : `must be a string, got ${show(src.value)}`
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

/**
 * Names must be unique; two routes must not bind the same address (a wildcard host clashes with
 * any). Rejected values are skipped: the default standing in for them would report false clashes.
 */
function checkDistinct(raw: RawRoute[], built: Hs2RouteConfig[], rejected: Set<string>[], problems: ConfigProblem[]): void {
  const keyOf = (i: number, field: string): string => {
    const r = raw[i]
    return r === undefined ? `hs2[${i}].${field}` : fieldKey(r, field)
  }
  const valid = (i: number, field: string): boolean => rejected[i]?.has(field) !== true
  built.forEach((route, j) => {
    const sameName = built.findIndex((other, i) => valid(i, 'name') && other.name === route.name)
    if (valid(j, 'name') && sameName !== -1 && sameName < j) {
      const message = `name "${route.name}" is already used by ${keyOf(sameName, 'name')}`
      problems.push({ key: keyOf(j, 'name'), message, fix: 'give each route a unique name' })
    }
    const sameListen = built.findIndex((other, i) => valid(i, 'listen') && clash(other.listen, route.listen))
    if (valid(j, 'listen') && sameListen !== -1 && sameListen < j) {
      const message = `${formatHostPort(route.listen)} is already the address of ${keyOf(sameListen, 'listen')}`
      problems.push({ key: keyOf(j, 'listen'), message, fix: 'give each route its own listen port' })
    }
  })
}

/** Where the user set `field` of `r`, or where they would write it when it holds its default. */
function fieldKey(r: RawRoute, field: string): string {
  return r.fields[field]?.key ?? r.keyOf(field)
}

const WILDCARDS = new Set(['0.0.0.0', '::'])

function clash(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port || a.port === 0) return false // port 0 = any free port, never a clash
  return a.host.toLowerCase() === b.host.toLowerCase() || WILDCARDS.has(a.host) || WILDCARDS.has(b.host)
}
