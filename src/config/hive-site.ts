/**
 * hive-site.xml (`--hive-site`, `HIVE_HA_PROXY_HIVE_SITE`, YAML `hiveSite:`) -> raw settings of the
 * first metastore route, tagged with the property that set them
 * (`hive.metastore.uris (in /etc/hive/conf/hive-site.xml)`). Values are validated by the loader
 * together with every other source; this file is the lowest-precedence source after the defaults.
 *
 * An HS2 route is never created from hive-site.xml alone, although it often carries
 * `hive.zookeeper.quorum`, `hive.server2.zookeeper.namespace` and the active/passive HA keys: those
 * files are copied around whole (every HiveConf default included), and silently opening an HS2
 * port because the file happened to describe HiveServer2's own registration would surprise. Only a
 * route the user asked for without a JDBC URL (`--hs2-listen` alone, or `fromHiveSite: true` in
 * YAML) gets its URL from the file's discovery keys (`hs2FromHiveSite`).
 */
import type * as fxp from 'fast-xml-parser'
import { lazy } from '../lazy.js'
import { DEFAULTS } from '../defaults.js'
import { errorMessage, type ConfigProblem } from '../errors.js'
import { isMapping, show } from './checks.js'
import type { Sourced } from './flags.js'
import { parseZkQuorum } from './metastore-uris.js'
import { inFile, type Fields } from './yaml-file.js'

export interface HiveSiteKey {
  /** the metastore route field it feeds */
  field: string
  /** the MetastoreConf name, which wins, and its `hive.*` alias (hive-ha-semantics.md §4.1) */
  names: readonly [string, string]
  help: string
  /** the field's value from the property's (undefined = the property sets nothing) */
  value?: (raw: string) => string | undefined
}

export const HIVE_SITE_KEYS: readonly HiveSiteKey[] = [
  {
    field: 'uris',
    names: ['metastore.thrift.uris', 'hive.metastore.uris'],
    help: 'thrift://host:port,... (or the ZooKeeper quorum with discovery mode zookeeper)',
  },
  {
    field: 'selection',
    names: ['metastore.thrift.uri.selection', 'hive.metastore.uri.selection'],
    help: 'SEQUENTIAL | RANDOM',
  },
  {
    field: 'discovery',
    names: ['metastore.service.discovery.mode', 'hive.metastore.service.discovery.mode'],
    help: 'zookeeper: the URIs are the ZooKeeper quorum (Hive 4); empty: a thrift:// list',
  },
  {
    field: 'zooKeeperNamespace',
    names: ['metastore.zookeeper.namespace', 'hive.zookeeper.namespace'],
    help: `znode whose children are the metastores (default ${DEFAULTS.metastore.zooKeeperNamespace})`,
  },
  {
    field: 'zooKeeperPort',
    names: ['metastore.zookeeper.client.port', 'hive.zookeeper.client.port'],
    help: `port for quorum hosts written without one (default ${DEFAULTS.metastore.zooKeeperPort})`,
  },
  {
    field: 'backendTls.mode',
    names: ['metastore.use.SSL', 'hive.metastore.use.SSL'],
    help: 'true: the proxy dials the metastores with TLS (backendTls.mode on)',
    value: (raw) => (/^true$/i.test(raw) ? 'on' : /^false$/i.test(raw) ? 'off' : raw),
  },
  {
    field: 'backendTls.ca',
    names: ['metastore.truststore.path', 'hive.metastore.truststore.path'],
    help: 'with use.SSL=true: the CA file backends are checked against; must be PEM (not JKS)',
  },
  {
    field: 'transportMode',
    names: [
      'metastore.client.thrift.transport.mode',
      'hive.metastore.client.thrift.transport.mode',
    ],
    help: 'binary (default) | http: the route speaks Thrift over HTTP (Hive 4)',
  },
  {
    field: 'httpPath',
    names: ['metastore.client.thrift.http.path', 'hive.metastore.client.thrift.http.path'],
    help: `servlet path with transport mode http (default ${DEFAULTS.metastore.http.path})`,
  },
]

export interface HiveSiteSettings {
  /** false when the file could not be read or parsed (a problem says why) */
  loaded: boolean
  /** fields of metastore[0]; empty when the file does not set the metastore URIs */
  fields: Fields
  /** what the file says about HiveServer2's registration (undefined when not loaded) */
  hs2: Hs2FromSite | undefined
}

// gotcha M1 (test-env.md): without these, <value>9083</value> becomes a number and a single
// <property> an object instead of a one-element list.
// loaded with the first hive-site.xml read (only --hive-site needs it)
const xmlLib = lazy<typeof fxp>('fast-xml-parser')
let parser: fxp.XMLParser | undefined
const xmlParser = (): fxp.XMLParser =>
  (parser ??= new (xmlLib().XMLParser)({
    parseTagValue: false,
    isArray: (name) => name === 'property',
  }))

const SHAPE =
  '<configuration><property><name>hive.metastore.uris</name><value>thrift://hms1:9083</value></property></configuration>'

/**
 * Read the file named by `ref` (its key is --hive-site, HIVE_HA_PROXY_HIVE_SITE or the YAML
 * `hiveSite`). Never throws for bad input: at most one problem, keyed by `ref.key`, is appended.
 */
export function readHiveSite(
  ref: Sourced,
  readFile: (path: string) => string,
  problems: ConfigProblem[],
): HiveSiteSettings {
  const failed = (message: string, fix: string): HiveSiteSettings => {
    problems.push({ key: ref.key, message, fix })
    return { loaded: false, fields: {}, hs2: undefined }
  }
  if (typeof ref.value !== 'string') {
    return failed(
      `must be the path of a hive-site.xml, got ${show(ref.value)}`,
      'write a file path, e.g. /etc/hive/conf/hive-site.xml',
    )
  }
  const path = ref.value
  let text: string
  try {
    text = readFile(path)
  } catch (err) {
    return failed(
      `cannot read ${path}: ${errorMessage(err)}`,
      'check the path and that the file is readable',
    )
  }
  try {
    const props = parseHiveSiteXml(text)
    return {
      loaded: true,
      fields: metastoreFields(props, path),
      hs2: hs2FromHiveSite(props, path),
    }
  } catch (err) {
    return failed(
      `cannot parse ${path}: ${errorMessage(err)}`,
      `correct the XML; the expected shape is ${SHAPE}`,
    )
  }
}

/**
 * `<configuration><property><name>n</name><value>v</value></property>...` -> name -> value, both
 * trimmed; a later property wins over an earlier one with the same name, a property without a
 * name or a value is skipped (Hadoop's `Configuration` does the same). Throws an `Error` carrying
 * the parser's message (with line and column) when the text is not well-formed XML or has no
 * `<configuration>` element.
 */
export function parseHiveSiteXml(xml: string): Map<string, string> {
  const verdict = xmlLib().XMLValidator.validate(xml)
  if (verdict !== true) {
    const { msg, line, col } = verdict.err
    // some messages embed a pretty-printed list of open tags: keep them on one line
    throw new Error(
      `${msg.replace(/\s+/g, ' ')} (line ${line}${typeof col === 'number' ? `, column ${col}` : ''})`,
    )
  }
  const doc: unknown = xmlParser().parse(xml)
  const conf = isMapping(doc) ? doc['configuration'] : undefined
  if (conf === undefined)
    throw new Error('no <configuration> element, so it is not a Hadoop/Hive site file')
  const props = new Map<string, string>()
  const list = isMapping(conf) ? conf['property'] : undefined
  for (const p of Array.isArray(list) ? list : []) {
    if (!isMapping(p)) continue
    const name = textOf(p['name'])
    const value = textOf(p['value'])
    if (name !== undefined && name.trim() !== '' && value !== undefined)
      props.set(name.trim(), value.trim())
  }
  return props
}

/** A repeated child element comes back as a list; like a DOM reader, use the last one. */
function textOf(node: unknown): string | undefined {
  if (Array.isArray(node)) return textOf(node[node.length - 1])
  return typeof node === 'string' ? node : undefined
}

/**
 * The metastore[0] fields a hive-site sets: nothing unless it sets the URIs (an empty value
 * included: Hive reads that as "embedded", which the loader reports). Per key the `metastore.*`
 * name wins over the `hive.*` alias when present, even when empty (MetastoreConf.getVar). Empty
 * selection, discovery mode, namespace and port mean "unset". The discovery mode always comes
 * along with the URIs (static unless the file says zookeeper), because it decides what they mean.
 */
export function metastoreFields(props: ReadonlyMap<string, string>, path: string): Fields {
  const out: Fields = {}
  for (const { field, names, value: map } of HIVE_SITE_KEYS) {
    const name = names.find((n) => props.has(n))
    const value = name === undefined ? undefined : props.get(name)
    if (name === undefined || value === undefined || (value === '' && field !== 'uris')) continue
    const v = map === undefined ? value : map(value)
    if (v !== undefined) out[field] = { value: v, key: inFile(path, name) }
  }
  const uris = out['uris']
  if (uris === undefined) return {}
  // Hive reads the truststore only with use.SSL=true: alone it must not turn TLS on
  if (out['backendTls.mode']?.value !== 'on') delete out['backendTls.ca']
  out['discovery'] ??= { value: 'static', key: uris.key }
  return out
}

/** HiveConf names of HiveServer2's ZooKeeper registration (hive-ha-semantics.md §2.1, §3.1). */
export const HS2_SITE_KEYS = {
  discovery: 'hive.server2.support.dynamic.service.discovery',
  quorum: 'hive.zookeeper.quorum',
  port: 'hive.zookeeper.client.port',
  namespace: 'hive.server2.zookeeper.namespace',
  ha: 'hive.server2.active.passive.ha.enable',
  haNamespace: 'hive.server2.active.passive.ha.registry.namespace',
  transportMode: 'hive.server2.transport.mode',
  httpPath: 'hive.server2.thrift.http.path',
  authentication: 'hive.server2.authentication',
  principal: 'hive.server2.authentication.kerberos.principal',
} as const

/**
 * An HS2 route's JDBC URL as the file describes HiveServer2's registration, with the keys it came
 * from (for the start log and `check`), or why the file describes none.
 */
export type Hs2FromSite =
  | {
      ok: true
      file: string
      url: string
      /** `name=value` of every key read, `name (not set: default)` for those defaulted */
      keys: string[]
      /** the principal HiveServer2 runs as, when the file says it uses Kerberos */
      principal: { principal: string; key: string } | undefined
    }
  | { ok: false; file: string; message: string; fix: string }

/**
 * The URL a JDBC client of that cluster would write, built the way HiveServer2 registers (§2.1,
 * §3.1): `hive.server2.support.dynamic.service.discovery` must be true (else nothing registers);
 * quorum hosts without a port get `hive.zookeeper.client.port` (default 2181, as Hive's
 * ZooKeeperHiveHelper does); `hive.server2.active.passive.ha.enable=true` makes it a zooKeeperHA
 * URL on `hive.server2.active.passive.ha.registry.namespace` (default hs2ActivePassiveHA), else a
 * zooKeeper URL on `hive.server2.zookeeper.namespace` (default hiveserver2);
 * `hive.server2.transport.mode=http` makes it an HTTP route on `hive.server2.thrift.http.path`
 * (`all` and `binary` give a binary route). Pure; never throws.
 */
export function hs2FromHiveSite(props: ReadonlyMap<string, string>, file: string): Hs2FromSite {
  const K = HS2_SITE_KEYS
  const keys: string[] = []
  const read = (name: string, fallback?: string): string | undefined => {
    const v = props.get(name)
    if (v !== undefined && v !== '') {
      keys.push(`${name}=${v}`)
      return v
    }
    if (fallback !== undefined) keys.push(`${name} (not set: ${fallback})`)
    return fallback
  }
  const fail = (message: string, fix: string): Hs2FromSite => ({ ok: false, file, message, fix })
  const example = 'e.g. --hs2 "jdbc:hive2://zk1:2181,zk2:2181/;serviceDiscoveryMode=zooKeeper"'
  const discovery = read(K.discovery, 'false')
  if (discovery?.toLowerCase() !== 'true')
    return fail(
      `${file} does not set ${K.discovery}=true, so HiveServer2 does not register in ZooKeeper and no JDBC URL can be built from it`,
      `give the route a JDBC URL (--hs2, or url: in the config file), ${example}, or a direct jdbc:hive2://hs2a:10000,hs2b:10000/`,
    )
  const rawQuorum = read(K.quorum)
  if (rawQuorum === undefined)
    return fail(
      `${file} sets no ${K.quorum}, the ZooKeeper quorum HiveServer2 registers in`,
      `add ${K.quorum} to the file, or give the route a JDBC URL (--hs2, or url: in the config file), ${example}`,
    )
  const portText = read(K.port, String(DEFAULTS.jdbc.zooKeeperPort))
  const port = /^[0-9]{1,5}$/.test(portText ?? '') ? Number(portText) : NaN
  if (!(port >= 1 && port <= 65535))
    return fail(
      `${K.port} in ${file} is ${show(portText)}, not a TCP port`,
      `write 1-65535, e.g. 2181`,
    )
  const { quorum, issues } = parseZkQuorum(rawQuorum, port)
  const issue = issues[0]
  if (issue !== undefined) return fail(`${K.quorum} in ${file}: ${issue.message}`, issue.fix)
  const ha = read(K.ha, 'false')?.toLowerCase() === 'true'
  const namespace = ha
    ? read(K.haNamespace, DEFAULTS.jdbc.zooKeeperHaNamespace)
    : read(K.namespace, DEFAULTS.jdbc.zooKeeperNamespace)
  const ns = (namespace ?? '').replace(/^\/+|\/+$/g, '')
  let url = `jdbc:hive2://${quorum}/;serviceDiscoveryMode=${ha ? 'zooKeeperHA' : 'zooKeeper'};zooKeeperNamespace=${ns}`
  const mode = read(K.transportMode, 'binary')?.toLowerCase()
  if (mode === 'http')
    url += `;transportMode=http;httpPath=${read(K.httpPath, DEFAULTS.hs2.http.path)}`
  else if (mode !== 'binary' && mode !== 'all')
    return fail(
      `${K.transportMode} in ${file} is ${show(mode)}, which HiveServer2 does not accept`,
      'write binary, http or all (all gives a binary route)',
    )
  const auth = props.get(K.authentication) ?? ''
  const principal = props.get(K.principal) ?? ''
  const kerberos = auth.split(',').some((m) => m.trim().toUpperCase() === 'KERBEROS')
  return {
    ok: true,
    file,
    url,
    keys,
    principal:
      kerberos && principal !== '' ? { principal, key: inFile(file, K.principal) } : undefined,
  }
}
