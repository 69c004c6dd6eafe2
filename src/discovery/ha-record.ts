/**
 * HS2 active/passive HA registry records (`serviceDiscoveryMode=zooKeeperHA`, hive-ha-semantics.md
 * §3.1, §3.2): children `instance-<seq>` of `<haRegistryRoot(ns)>/instances`, whose data is a Hadoop
 * registry ServiceRecord in JSON, e.g.
 * `{"type":"JSONServiceRecord","external":[],"internal":[{"api":"activeEndpoint","addressType":"host/port",
 *   "protocolType":"hadoop/IPC","addresses":[{"host":"hs2a.example.com","port":"10000"}]}],
 *   "hive.server2.transport.mode":"binary","hive.server2.thrift.port":"10000",...}`.
 *
 * Contract: never throws; bad records come back as `{ ok: false, reason }`.
 */
import {
  buildInstance,
  fail,
  PUBLISHED,
  znodeText,
  type RouteMode,
  type ZnodeParse,
} from './hs2-znode.js'

const INSTANCE_PREFIX = 'instance-'
const ACTIVE = 'activeEndpoint'
const PASSIVE = 'passiveEndpoint'

/** Registry children other than `instance-*` (none are expected under `instances/`) are ignored. */
export function isHaInstanceChild(name: string): boolean {
  return name.startsWith(INSTANCE_PREFIX)
}

/**
 * The registry root; instances live under `<root>/instances`, the leader latch under `<root>/_LEADER`.
 *
 * Trap (§3.3): the `-sasl` / `-unsecure` suffix is chosen from the *client's* security settings
 * (Kerberos on and hive.zookeeper.kerberos.enabled), not read from ZooKeeper. A client that is not
 * Kerberos-enabled looks under `-unsecure` even when the servers registered under `-sasl`. The proxy
 * therefore looks under `-unsecure` unless configured as secure.
 */
export function haRegistryRoot(namespace: string, secure = false): string {
  return `/${namespace.replace(/^\/+|\/+$/g, '')}-${secure ? 'sasl' : 'unsecure'}`
}

/**
 * One registry record. `leader` is true iff an internal endpoint has `api: "activeEndpoint"` (a
 * record with both an active and a passive endpoint is rejected, as Hive does). Host/port come from
 * that endpoint's first address, then the top-level `hive.server2.thrift.bind.host` /
 * `hive.server2.thrift.port` override them, as Hive's applyConfs does.
 *
 * Leniency: Hive parses the endpoint address before applying the overrides and drops the record if
 * it is malformed; here a malformed endpoint address is tolerated when the overrides supply
 * host and port.
 */
export function parseHaRecord(
  name: string,
  data: Buffer | string | null | undefined,
  route: RouteMode = 'binary',
): ZnodeParse {
  const text = znodeText(data)
  if (text === '') return fail(name, 'empty registry record')
  let record: unknown
  try {
    record = JSON.parse(text)
  } catch (err) {
    return fail(
      name,
      `registry record is not JSON (${err instanceof Error ? err.message : String(err)})`,
    )
  }
  if (!isObject(record)) return fail(name, 'registry record is not a JSON object')
  if (!Array.isArray(record['internal']))
    return fail(name, 'registry record has no "internal" endpoint list')

  const endpoints = record['internal'].filter(isObject)
  const active = endpoints.find((e) => e['api'] === ACTIVE)
  const passive = endpoints.find((e) => e['api'] === PASSIVE)
  if (active !== undefined && passive !== undefined) {
    return fail(name, `registry record has both an ${ACTIVE} and a ${PASSIVE} (Hive rejects it)`)
  }
  const endpoint = active ?? passive
  if (endpoint === undefined)
    return fail(name, `registry record has no ${ACTIVE} or ${PASSIVE} internal endpoint`)

  const address = firstAddress(endpoint)
  const host = attribute(record, PUBLISHED.bindHost) ?? address.host
  const port = attribute(record, PUBLISHED.thriftPort) ?? address.port
  if (host === undefined || port === undefined) {
    return fail(
      name,
      `${String(endpoint['api'])} has no usable host/port address and no ${PUBLISHED.bindHost}/${PUBLISHED.thriftPort}`,
    )
  }
  return buildInstance(
    name,
    {
      host,
      port,
      mode: attribute(record, PUBLISHED.transportMode),
      leader: active !== undefined,
      // the leader's HTTP endpoint, as configureConnParamsHA reads it (hive-http-mode.md §2)
      httpPort: attribute(record, PUBLISHED.httpPort),
      httpPath: attribute(record, PUBLISHED.httpPath),
      useSsl: attribute(record, PUBLISHED.useSsl),
      authentication: attribute(record, PUBLISHED.authentication),
      principal: attribute(record, PUBLISHED.kerberosPrincipal),
    },
    route,
  )
}

/** `addresses[0].host` / `.port`; the port is a string in Hadoop's JSON, a number is tolerated. */
function firstAddress(endpoint: Record<string, unknown>): { host?: string; port?: string } {
  const addresses = endpoint['addresses']
  const first: unknown = Array.isArray(addresses) ? addresses[0] : undefined
  if (!isObject(first)) return {}
  const out: { host?: string; port?: string } = {}
  if (typeof first['host'] === 'string' && first['host'] !== '') out.host = first['host']
  const port = first['port']
  if (typeof port === 'string' && port !== '') out.port = port
  else if (typeof port === 'number') out.port = String(port)
  return out
}

/** Record attributes are top-level string fields; anything else is not an attribute. */
function attribute(record: Record<string, unknown>, key: string): string | undefined {
  const v = record[key]
  return typeof v === 'string' && v !== '' ? v : undefined
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
