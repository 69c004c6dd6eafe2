/**
 * Register HS2 stubs in ZooKeeper exactly like HiveServer2 does (hive-ha-semantics.md §2.1, §3.1).
 *
 * The ephemeral znodes belong to the TestZk session passed in: closing that TestZk "kills" the
 * instance's registration (its znodes vanish at once), removing one znode deregisters one instance.
 */
import { randomUUID } from 'node:crypto'
import type { TestZk } from './zk-client.js'

export interface Hs2Target {
  host: string
  port: number
  /** an Hs2Stub can be passed as target directly; its auth picks the published authentication */
  auth?: 'nosasl' | 'plain'
}

export interface RegisterHs2Options {
  /** hive.server2.transport.mode (default 'binary') */
  transportMode?: 'binary' | 'http' | 'all'
  /** data is just `host:port` (hive.server2.zookeeper.publish.configs=false, or HS2 before HIVE-11581) */
  legacy?: boolean
  /** the version in the znode name (default '4.0.0') */
  version?: string
  /** hive.server2.authentication (default: 'NOSASL' for an auth 'nosasl' target, else 'NONE') */
  authentication?: string
  /** hive.server2.thrift.http.port for http/all registrations (default: binary port + 1) */
  httpPort?: number
  /** hive.server2.thrift.http.path (default 'cliservice') */
  httpPath?: string
  /** hive.server2.use.SSL (default false) */
  useSsl?: boolean
  /** hive.server2.authentication.kerberos.principal, published only when given (HS2 publishes it in Kerberos mode) */
  principal?: string
}

/** Default HS2 web UI port, only published in the HA record. */
const WEBUI_PORT = '10002'

const authenticationOf = (target: Hs2Target, explicit?: string): string =>
  explicit ?? (target.auth === 'nosasl' ? 'NOSASL' : 'NONE')

/** Parse `k=v;k=v` znode data (the same regex as the JDBC driver, semantics §2.2). */
export function parseHs2ZnodeData(data: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of data.matchAll(/([^=;]*)=([^;]*);?/g)) out[m[1]!] = m[2]!
  return out
}

/**
 * Register under `/<namespace>` like `HiveServer2.addServerInstanceToZooKeeper`:
 * EPHEMERAL_SEQUENTIAL child `serverUri=<host>:<port>;version=<v>;sequence=<10 digits>`, data
 * `k=v` pairs joined with `;` (Guava Joiner: no trailing `;`), or `host:port` when legacy.
 * Returns the created path.
 */
export async function registerHs2(
  zk: TestZk,
  namespace: string,
  target: Hs2Target,
  opts: RegisterHs2Options = {},
): Promise<string> {
  const version = opts.version ?? '4.0.0'
  const mode = opts.transportMode ?? 'binary'
  const uri = `${target.host}:${target.port}`
  const parent = `/${namespace}`
  await zk.mkdirp(parent)

  let data: string
  if (opts.legacy) {
    data = uri
  } else {
    const confs: Array<[string, string]> = [
      ['hive.server2.instance.uri', uri],
      ['hive.server2.authentication', authenticationOf(target, opts.authentication)],
      ['hive.server2.transport.mode', mode],
      ['hive.server2.thrift.bind.host', target.host],
    ]
    if (mode === 'binary' || mode === 'all') {
      confs.push(
        ['hive.server2.thrift.port', String(target.port)],
        ['hive.server2.thrift.sasl.qop', 'auth'],
      )
    }
    if (mode === 'http' || mode === 'all') {
      // a made-up HTTP port, different from the binary one (nothing listens there)
      const httpPort = opts.httpPort ?? (target.port === 65535 ? target.port - 1 : target.port + 1)
      confs.push(
        ['hive.server2.thrift.http.port', String(httpPort)],
        ['hive.server2.thrift.http.path', opts.httpPath ?? 'cliservice'],
      )
    }
    if (opts.principal !== undefined)
      confs.push(['hive.server2.authentication.kerberos.principal', opts.principal])
    confs.push(['hive.server2.use.SSL', String(opts.useSsl ?? false)])
    data = confs.map(([k, v]) => `${k}=${v}`).join(';')
  }
  return zk.create(
    `${parent}/serverUri=${uri};version=${version};sequence=`,
    data,
    'ephemeral-sequential',
  )
}

export interface RegisterHaOptions {
  leader: boolean
  /** hive.server2.authentication (default: 'NOSASL' for an auth 'nosasl' target, else 'NONE') */
  authentication?: string
  /** hive.server2.authentication.kerberos.principal, published only when given */
  principal?: string
  /** publish transport mode http with this hive.server2.thrift.http.port / .path (default: binary) */
  http?: { port: number; path: string }
}

export interface HaRegistration {
  /** `/<ns>-unsecure/instances/instance-<10 digits>` */
  path: string
  /** registry.unique.id of this instance */
  uniqueId: string
  /** rewrite the record with api activeEndpoint (leader) or passiveEndpoint, as HS2 does on leadership change */
  setLeader(leader: boolean): Promise<void>
}

/** The Hadoop registry ServiceRecord JSON that HS2ActivePassiveHARegistry publishes (semantics §3.1). */
export function haServiceRecord(
  target: Hs2Target,
  leader: boolean,
  uniqueId: string,
  authentication?: string,
  principal?: string,
  http?: { port: number; path: string },
): string {
  const uri = `${target.host}:${target.port}`
  return JSON.stringify({
    type: 'JSONServiceRecord',
    external: [],
    internal: [
      {
        api: leader ? 'activeEndpoint' : 'passiveEndpoint',
        addressType: 'host/port',
        protocolType: 'hadoop/IPC',
        addresses: [{ host: target.host, port: String(target.port) }],
      },
    ],
    'hive.server2.thrift.bind.host': target.host,
    'hive.server2.webui.port': WEBUI_PORT,
    'hive.server2.instance.uri': uri,
    'registry.unique.id': uniqueId,
    ...(http === undefined
      ? {
          'hive.server2.transport.mode': 'binary',
          'hive.server2.thrift.port': String(target.port),
          'hive.server2.thrift.sasl.qop': 'auth',
        }
      : {
          'hive.server2.transport.mode': 'http',
          'hive.server2.thrift.http.port': String(http.port),
          'hive.server2.thrift.http.path': http.path,
        }),
    'hive.server2.authentication': authenticationOf(target, authentication),
    ...(principal === undefined
      ? {}
      : { 'hive.server2.authentication.kerberos.principal': principal }),
    'hive.server2.use.SSL': 'false',
  })
}

/**
 * Register like an HS2 in active/passive HA mode: EPHEMERAL_SEQUENTIAL
 * `/<namespace>-unsecure/instances/instance-` with a ServiceRecord JSON. (HS2 would also hold a
 * LeaderLatch under `/<namespace>-unsecure/_LEADER`; clients never read it, so it is not created.)
 */
export async function registerHa(
  zk: TestZk,
  namespace: string,
  target: Hs2Target,
  opts: RegisterHaOptions,
): Promise<HaRegistration> {
  const parent = `/${namespace}-unsecure/instances`
  await zk.mkdirp(parent)
  const uniqueId = randomUUID()
  const path = await zk.create(
    `${parent}/instance-`,
    haServiceRecord(target, opts.leader, uniqueId, opts.authentication, opts.principal, opts.http),
    'ephemeral-sequential',
  )
  return {
    path,
    uniqueId,
    setLeader: (leader: boolean) =>
      zk.setData(
        path,
        haServiceRecord(target, leader, uniqueId, opts.authentication, opts.principal, opts.http),
      ),
  }
}
