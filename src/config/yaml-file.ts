/**
 * The YAML config file -> raw settings tagged with where the user wrote them
 * (`hs2[1].policy (in /etc/x.yaml)`). Only shape is checked here (mappings, lists, known keys);
 * values are validated by `load.ts` together with every other source.
 */
import type * as yaml from 'yaml'
import { lazy } from '../lazy.js'
import { errorMessage, type ConfigProblem } from '../errors.js'
import { isMapping, show } from './checks.js'
import { nearest, type Sourced } from './flags.js'

/** Flat field name ('policy', 'ejection.maxMs', 'zookeeper.sessionTimeoutMs') -> raw value. */
export type Fields = Partial<Record<string, Sourced>>

export interface RawRoute {
  fields: Fields
  /** the user-facing key of a field, also when the route does not set it (a default can clash) */
  keyOf(field: string): string
}

export interface FileSettings {
  /** false when the file could not be read or parsed (problems say why) */
  loaded: boolean
  top: Fields
  hs2: RawRoute[]
  metastore: RawRoute[]
  /** false when some route could not be read: "no route at all" would then be noise */
  routesComplete: boolean
}

/** Known YAML keys; 'leaf' holds a value, a nested schema a mapping. */
interface Schema {
  readonly [key: string]: Schema | 'leaf'
}
// loaded with the first file read (only --config needs it)
const yamlLib = lazy<typeof yaml>('yaml')

const EJECTION: Schema = { failures: 'leaf', baseMs: 'leaf', maxMs: 'leaf' }
const FRONT_TLS: Schema = { cert: 'leaf', key: 'leaf', clientCa: 'leaf', minVersion: 'leaf' }
const BACKEND_TLS: Schema = {
  mode: 'leaf',
  ca: 'leaf',
  serverName: 'leaf',
  cert: 'leaf',
  key: 'leaf',
  insecureSkipVerify: 'leaf',
}
const HEALTH_CHECK: Schema = {
  probe: 'leaf',
  intervalMs: 'leaf',
  timeoutMs: 'leaf',
  failures: 'leaf',
  successes: 'leaf',
}
const HS2_SCHEMA: Schema = {
  name: 'leaf',
  url: 'leaf',
  fromHiveSite: 'leaf',
  listen: 'leaf',
  policy: 'leaf',
  connectTimeoutMs: 'leaf',
  maxConnectAttempts: 'leaf',
  idleTimeoutMs: 'leaf',
  firstResponseTimeoutMs: 'leaf',
  slowStartMs: 'leaf',
  ejection: EJECTION,
  healthCheck: HEALTH_CHECK,
  mr3AppIdNamespace: 'leaf',
  tcpIo: 'leaf',
  /** deprecated alias of tcpIo */
  transport: 'leaf',
  http: {
    maxBodyBytes: 'leaf',
    headersTimeoutMs: 'leaf',
    keepAliveTimeoutMs: 'leaf',
    affinityCookie: 'leaf',
    affinityTtlMs: 'leaf',
    affinityMaxEntries: 'leaf',
  },
  tls: FRONT_TLS,
  backendTls: BACKEND_TLS,
}
const METASTORE_SCHEMA: Schema = {
  name: 'leaf',
  uris: 'leaf',
  listen: 'leaf',
  selection: 'leaf',
  mode: 'leaf',
  discovery: 'leaf',
  zooKeeperNamespace: 'leaf',
  connectTimeoutMs: 'leaf',
  maxConnectAttempts: 'leaf',
  idleTimeoutMs: 'leaf',
  ejection: EJECTION,
  healthCheck: HEALTH_CHECK,
  maxMessageBytes: 'leaf',
  maxReplayBytes: 'leaf',
  transportMode: 'leaf',
  tls: FRONT_TLS,
  backendTls: BACKEND_TLS,
  httpPath: 'leaf',
  http: { maxBodyBytes: 'leaf', headersTimeoutMs: 'leaf', keepAliveTimeoutMs: 'leaf' },
}
const TOP_SCHEMA: Schema = {
  logLevel: 'leaf',
  logFormat: 'leaf',
  shutdownGraceMs: 'leaf',
  hiveSite: 'leaf',
  hs2: 'leaf',
  metastore: 'leaf',
  zookeeper: {
    sessionTimeoutMs: 'leaf',
    reconnectWatchdogMs: 'leaf',
    probeIntervalMs: 'leaf',
    digestAuth: 'leaf',
  },
  admin: { listen: 'leaf', token: 'leaf' },
}

/** The route lists of the file: YAML key, route keys, and what a route looks like (for fixes). */
const ROUTE_LISTS = {
  hs2: { schema: HS2_SCHEMA, example: '{ url: "jdbc:hive2://..." }' },
  metastore: {
    schema: METASTORE_SCHEMA,
    example: '{ uris: "thrift://hms1:9083,thrift://hms2:9083" }',
  },
} as const
type RouteList = keyof typeof ROUTE_LISTS

interface FileCtx {
  path: string
  problems: ConfigProblem[]
}

/** A key inside the file, in the form problems use. */
export function inFile(path: string, where: string): string {
  return `${where} (in ${path})`
}

/**
 * Read, parse and flatten the file named by `ref` (its key is `--config` or `HIVE_HA_PROXY_CONFIG`).
 * Never throws for bad input: problems are appended. An empty file is an empty config.
 */
export function readConfigFile(
  ref: Sourced,
  readFile: (path: string) => string,
  problems: ConfigProblem[],
): FileSettings {
  const ctx: FileCtx = { path: String(ref.value), problems }
  const out: FileSettings = {
    loaded: false,
    top: {},
    hs2: [],
    metastore: [],
    routesComplete: false,
  }
  const data = parseFile(ref, readFile, ctx)
  if (data === undefined) return out
  if (data !== null && !isMapping(data)) {
    const fix = 'start the file with keys such as hs2:, metastore: and logLevel: (see --help)'
    problems.push({ key: ctx.path, message: `must be a YAML mapping, got ${show(data)}`, fix })
    return out
  }
  flatten(data ?? {}, TOP_SCHEMA, '', '', ctx, out.top)
  out.routesComplete = true
  for (const list of ['hs2', 'metastore'] as const) {
    const value = out.top[list]?.value
    delete out.top[list]
    out[list] = fileRoutes(list, value, out, ctx)
  }
  out.loaded = true
  return out
}

/** The document as plain JS (null when empty), or undefined after reporting why it is unusable. */
function parseFile(ref: Sourced, readFile: (path: string) => string, ctx: FileCtx): unknown {
  const { path } = ctx
  const fail = (key: string, message: string, fix: string): undefined =>
    void ctx.problems.push({ key, message, fix })
  let text: string
  try {
    text = readFile(path)
  } catch (err) {
    return fail(
      ref.key,
      `cannot read ${path}: ${errorMessage(err)}`,
      'check the path and that the file is readable',
    )
  }
  const doc = yamlLib().parseDocument(text)
  for (const e of doc.errors) {
    // The parser's message already says "at line N, column M"; a code excerpt follows on later lines.
    const line = e.linePos?.[0].line
    const key = line === undefined ? path : inFile(path, `line ${line}`)
    fail(key, `invalid YAML: ${firstLine(e.message)}`, 'correct the YAML syntax there')
  }
  if (doc.errors.length > 0) return undefined
  try {
    return doc.toJS() ?? null
  } catch (err) {
    // toJS throws for unresolved aliases and alias bombs (maxAliasCount).
    return fail(path, `invalid YAML: ${errorMessage(err)}`, 'correct the YAML anchors and aliases')
  }
}

/** Copy known leaves of `value` into `out` under flat names (`prefix` + key); report unknown keys. */
function flatten(
  value: object,
  schema: Schema,
  where: string,
  prefix: string,
  ctx: FileCtx,
  out: Fields,
): void {
  for (const [k, v] of Object.entries(value)) {
    const key = inFile(ctx.path, `${where}${prefix}${k}`)
    // hasOwn: a YAML key named "constructor" or "toString" must not match Object.prototype.
    const sub = Object.hasOwn(schema, k) ? schema[k] : undefined
    if (sub === undefined) {
      const known = Object.keys(schema)
      const guess = nearest(k, known)
      const fix =
        guess === undefined
          ? `remove it; known keys here: ${known.join(', ')}`
          : `did you mean ${guess}?`
      ctx.problems.push({ key, message: 'unknown key', fix })
    } else if (v === null || v === undefined) {
    } else if (sub === 'leaf') {
      out[`${prefix}${k}`] = { value: v, key }
    } else if (isMapping(v)) {
      flatten(v, sub, where, `${prefix}${k}.`, ctx, out)
    } else {
      const fix = `write ${k}: { ${Object.keys(sub).join(', ')} }`
      ctx.problems.push({ key, message: `must be a mapping, got ${show(v)}`, fix })
    }
  }
}

/**
 * `hs2:` and `metastore:` are lists of routes; a single mapping is accepted as a one-route list
 * (keys then read `hs2.url`, `metastore.uris`).
 */
function fileRoutes(list: RouteList, value: unknown, out: FileSettings, ctx: FileCtx): RawRoute[] {
  const { schema, example } = ROUTE_LISTS[list]
  if (value === undefined) return []
  if (!Array.isArray(value) && !isMapping(value)) {
    const message = `must be a list of routes, got ${show(value)}`
    ctx.problems.push({
      key: inFile(ctx.path, list),
      message,
      fix: `write ${list}: [ ${example} ]`,
    })
    out.routesComplete = false
    return []
  }
  const items: unknown[] = Array.isArray(value) ? value : [value]
  return items.flatMap((item, i) => {
    const where = Array.isArray(value) ? `${list}[${i}].` : `${list}.`
    if (!isMapping(item)) {
      const message = `must be a mapping, got ${show(item)}`
      const fix = `write the route as ${example.replace(' }', ', ... }')}`
      ctx.problems.push({ key: inFile(ctx.path, where.slice(0, -1)), message, fix })
      out.routesComplete = false
      return []
    }
    const fields: Fields = {}
    flatten(item, schema, where, '', ctx, fields)
    return [{ fields, keyOf: (field: string) => inFile(ctx.path, `${where}${field}`) }]
  })
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text
}
