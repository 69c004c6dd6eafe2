/**
 * `--help`: written from `SETTINGS` and `DEFAULTS`, so flags, variables, defaults and this text
 * cannot drift apart.
 */
import { DEFAULTS } from '../defaults.js'
import { EXAMPLE_METASTORE_URIS, EXAMPLE_URL, SETTINGS } from './flags.js'
import { HIVE_SITE_KEYS, HS2_SITE_KEYS } from './hive-site.js'
import { TCP_IOS, METASTORE_MODES, METASTORE_SELECTIONS } from './types.js'

const { hs2: HS2, metastore: HMS } = DEFAULTS
const COLUMN = 38

function optionLines(): string[] {
  return SETTINGS.flatMap((s) => [
    `  ${(s.flag === undefined ? `(no flag)` : `${s.flag} ${s.arg}`).padEnd(COLUMN)}${s.env}${s.flag === undefined ? ` ${s.arg}` : ''}`,
    `      ${s.help}${s.default === undefined ? '' : ` (default ${s.default})`}`,
  ])
}

/** A YAML line with a comment; a `#` needs whitespace before it to start a YAML comment. */
function note(line: string, comment: string): string {
  return `${line.length < 40 ? line.padEnd(40) : `${line}  `}# ${comment}`
}

const ejection = (e: { failures: number; baseMs: number; maxMs: number }): string =>
  `ejection: { failures: ${e.failures}, baseMs: ${e.baseMs}, maxMs: ${e.maxMs} }`
const healthCheck = (h: {
  probe: string
  intervalMs: number
  timeoutMs: number
  failures: number
  successes: number
}): string =>
  `healthCheck: { probe: ${h.probe}, intervalMs: ${h.intervalMs}, timeoutMs: ${h.timeoutMs}, failures: ${h.failures}, successes: ${h.successes} }`

function hiveSiteLines(): string[] {
  return HIVE_SITE_KEYS.flatMap(({ names: [own, alias], help }) => [
    `  ${own} (alias ${alias})`,
    `      ${help}`,
  ])
}

function hs2SiteLines(): string[] {
  const K = HS2_SITE_KEYS
  return [
    `  ${K.discovery} must be true (else HiveServer2 does not register)`,
    `  ${K.quorum}, ${K.port} (default ${DEFAULTS.jdbc.zooKeeperPort}, for hosts without a port)`,
    `  ${K.namespace} (default ${DEFAULTS.jdbc.zooKeeperNamespace}), or with ${K.ha}=true`,
    `      ${K.haNamespace} (default ${DEFAULTS.jdbc.zooKeeperHaNamespace}, zooKeeperHA)`,
    `  ${K.transportMode} (http: an HTTP route on ${K.httpPath}; binary and all: binary)`,
    `  ${K.authentication},`,
    `      ${K.principal}: the principal check prints for Kerberos clients`,
  ]
}

export const HELP_TEXT = [
  'Usage: hive-ha-proxy --hs2 <jdbc-url> [--metastore <uri-list>] [options]',
  '       hive-ha-proxy --metastore <uri-list> [options]',
  '       hive-ha-proxy --hive-site <hive-site.xml> [options]',
  '       hive-ha-proxy --config <file.yaml> [options]',
  '       hive-ha-proxy check <the same options>',
  '       hive-ha-proxy status | drain <route> <host:port> | undrain <route> <host:port> [--admin <url>]',
  '',
  'Fixed local endpoints: a HiveServer2 endpoint that routes to the HS2 instances of a JDBC URL, e.g.',
  `  ${EXAMPLE_URL}`,
  'and/or a metastore endpoint that fails over between the metastores of a URI list, e.g.',
  `  ${EXAMPLE_METASTORE_URIS}`,
  '',
  'check reads and validates the configuration exactly as a start would, prints the routes it',
  'would run (listen address, backends or ZooKeeper path, policy, timeouts) and exits 0, or 2',
  'with every problem; it listens on nothing and connects to nothing.',
  '',
  'Operator commands ask a running proxy through its admin API (--admin <url>, default',
  'http://127.0.0.1:10090 or HIVE_HA_PROXY_ADMIN_URL; token from HIVE_HA_PROXY_ADMIN_TOKEN):',
  '  status: every route and backend; exit 0 ready, 1 not ready, 2 admin API unreachable.',
  '  drain / undrain: no new connections to a backend, or again; shared by every proxy on the',
  '  same registry for routes whose backends come from ZooKeeper. `<command> --help` for more.',
  '',
  'Options (flag, then environment variable):',
  ...optionLines(),
  `  ${'-h, --help'.padEnd(COLUMN)}print this text`,
  `  ${'-V, --version'.padEnd(COLUMN)}print the version`,
  '',
  'Flags take "--flag value" or "--flag=value". Sources, later wins: built-in defaults <',
  '--hive-site file (or HIVE_HA_PROXY_HIVE_SITE, or hiveSite: in the config file) <',
  '--config file (or HIVE_HA_PROXY_CONFIG) < HIVE_HA_PROXY_* variables < flags. Empty variables',
  'count as unset; unknown HIVE_HA_PROXY_* variables are errors. Policies, metastore selections,',
  'modes and log levels are case-insensitive.',
  '--hs2, --hs2-listen, --hs2-policy and --connect-timeout (and their variables) set the FIRST',
  'HS2 route, hs2[0]: they override its fields when the config file declares routes, and create',
  'it when it does not. Further routes exist only in the config file. Likewise --metastore,',
  '--metastore-listen and --metastore-selection set the FIRST metastore route, metastore[0];',
  '--metastore is always a thrift:// URI list (ZooKeeper discovery is set in YAML or hive-site).',
  'Every listen address and every route name must be unique across HS2 and metastore routes; the',
  'admin API (--admin-listen) needs an address of its own too.',
  '',
  `Admin API: HTTP on --admin-listen (default ${DEFAULTS.admin.listen.host}:${DEFAULTS.admin.listen.port}). Its bearer token comes only from`,
  'HIVE_HA_PROXY_ADMIN_TOKEN or admin.token in the config file (the variable wins); there is',
  'deliberately no token flag, because command lines are visible to every local user in ps. A',
  'listen address other than loopback (127.0.0.0/8, ::1, localhost) requires a token; a token has',
  'at least 16 characters, e.g. from openssl rand -hex 24.',
  '',
  'hive-site.xml (--hive-site) feeds only metastore[0], below every other source, and only when it',
  'sets the metastore URIs. Keys read (the metastore.* name wins over its hive.* alias, as in Hive):',
  ...hiveSiteLines(),
  'An empty hive.metastore.uris means an embedded metastore to Hive: an error here. When',
  `hive-site.xml sets no selection, the proxy default ${HMS.selection} applies, not Hive's own default RANDOM.`,
  'Namespace trap: clients built from HiveConf default hive.zookeeper.namespace to',
  `hive_zookeeper_namespace, while a standalone metastore registers under ${HMS.zooKeeperNamespace} (the default`,
  'here); set metastore.zookeeper.namespace (or zooKeeperNamespace: in YAML) when in doubt.',
  'An HS2 route is taken from hive-site.xml only when asked: --hs2-listen with no JDBC URL, or',
  'fromHiveSite: true on a YAML hs2 route. Its URL is built from the keys HiveServer2 registers with:',
  ...hs2SiteLines(),
  'check and the start log say which keys the URL came from. A hive-site alone opens no HS2 port.',
  '',
  "Config file (YAML; every key is optional except each route's url (or fromHiveSite) or uris; defaults shown):",
  `  logLevel: ${DEFAULTS.logLevel}`,
  note(`  logFormat: ${DEFAULTS.logFormat}`, 'auto | json | pretty'),
  `  shutdownGraceMs: ${DEFAULTS.shutdownGraceMs}`,
  `  zookeeper: { sessionTimeoutMs: ${DEFAULTS.zookeeper.sessionTimeoutMs}, reconnectWatchdogMs: ${DEFAULTS.zookeeper.reconnectWatchdogMs}, probeIntervalMs: ${DEFAULTS.zookeeper.probeIntervalMs} }`,
  '    # probeIntervalMs: while disconnected, check the servers this often; 0 = only the watchdog',
  '    # also digestAuth: "user:password" (no default; HIVE_HA_PROXY_ZOOKEEPER_DIGEST_AUTH wins)',
  note(
    '  hiveSite: /etc/hive/conf/hive-site.xml',
    'no default; feeds metastore[0] and fromHiveSite routes',
  ),
  note('  hs2:', 'a list of routes; a single mapping is one route'),
  note('    - name: hs2', 'default hs2, hs2-2, hs2-3 ...; unique'),
  `      url: "${EXAMPLE_URL}"`,
  note(`      listen: ${HS2.listen.host}:${HS2.listen.port}`, 'unique per route'),
  `      policy: ${HS2.policy}`,
  `      connectTimeoutMs: ${HS2.connectTimeoutMs}`,
  `      maxConnectAttempts: ${HS2.maxConnectAttempts}`,
  note(`      idleTimeoutMs: ${HS2.idleTimeoutMs}`, '0 = never close idle connections'),
  note(
    `      firstResponseTimeoutMs: ${HS2.firstResponseTimeoutMs}`,
    'a silent backend is hung, its handshake moves on; 0 = off',
  ),
  note(`      slowStartMs: ${HS2.slowStartMs}`, 'ramp a backend back from ejection; 0 = off'),
  `      ${ejection(HS2.ejection)}`,
  `      ${healthCheck(HS2.healthCheck)}`,
  '        # probe: auto = OPTIONS on HTTP routes, none on binary ones; also http, tcp, none',
  note('      mr3AppIdNamespace: mr3AppId', 'no default; Hive on MR3, ZooKeeper URLs only'),
  note(
    `      tcpIo: ${HS2.tcpIo}`,
    `${TCP_IOS.join(' | ')}; binary routes only (old name: transport)`,
  ),
  note(
    '      tls: { cert: /etc/hhp/proxy.crt, key: /etc/hhp/proxy.key }',
    'no default; clients use TLS',
  ),
  '      # also tls.clientCa (require client certificates), tls.minVersion: TLSv1.2 | TLSv1.3',
  note(
    '      backendTls: { mode: auto, ca: /etc/hhp/cluster-ca.pem }',
    'no default; TLS to backends',
  ),
  '      # mode: auto (per instance, from hive.server2.use.SSL) | on | off; no ca = the system store',
  '      # also backendTls.serverName, backendTls.cert + backendTls.key, backendTls.insecureSkipVerify',
  note(
    '    - name: hs2-http',
    `transportMode=http: an HTTP route, listen default port ${HS2.httpListen.port}`,
  ),
  '      url: "jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeeper;transportMode=http;httpPath=cliservice"',
  `      http: { maxBodyBytes: ${HS2.http.maxBodyBytes}, headersTimeoutMs: ${HS2.http.headersTimeoutMs}, keepAliveTimeoutMs: ${HS2.http.keepAliveTimeoutMs} }`,
  `      # also http.affinityCookie: ${HS2.http.affinityCookie}, http.affinityTtlMs, http.affinityMaxEntries`,
  note('  metastore:', 'a list of routes; a single mapping is one route'),
  note('    - name: metastore', 'default metastore, metastore-2 ...; unique'),
  note(`      uris: "${EXAMPLE_METASTORE_URIS}"`, 'tried in this order'),
  note(`      listen: ${HMS.listen.host}:${HMS.listen.port}`, 'unique per route'),
  note(`      selection: ${HMS.selection}`, METASTORE_SELECTIONS.join(' | ')),
  note(
    `      mode: ${HMS.mode}`,
    `${METASTORE_MODES.join(' | ')}; pipe = bytes only, connect-time failover`,
  ),
  `      connectTimeoutMs: ${HMS.connectTimeoutMs}`,
  `      maxConnectAttempts: ${HMS.maxConnectAttempts}`,
  note(`      idleTimeoutMs: ${HMS.idleTimeoutMs}`, '0 = never close idle connections'),
  `      ${ejection(HMS.ejection)}`,
  `      ${healthCheck(HMS.healthCheck)}`,
  '        # probe: auto = fb303 getStatus once plain Thrift clients were answered; also thrift, tcp, none',
  note(
    `      maxMessageBytes: ${HMS.maxMessageBytes}`,
    'at least 1024; larger messages end the connection',
  ),
  note(
    `      maxReplayBytes: ${HMS.maxReplayBytes}`,
    'larger requests are not re-sent; 0 = no replay',
  ),
  note('      backendTls: { mode: on }', 'tls and backendTls as for HS2; metastore mode: on | off'),
  note('      transportMode: binary', 'http: Hive 4 metastore over HTTP (same thrift:// uris)'),
  note(`      httpPath: ${HMS.http.path}`, 'transportMode http only; with maxBodyBytes etc.:'),
  `      http: { maxBodyBytes: ${HMS.http.maxBodyBytes}, headersTimeoutMs: ${HMS.http.headersTimeoutMs}, keepAliveTimeoutMs: ${HMS.http.keepAliveTimeoutMs} }`,
  note('    - name: hms-zk', 'Hive 4 metastore ZooKeeper discovery:'),
  note('      discovery: zookeeper', 'default static (uris = thrift:// list)'),
  note('      uris: "zk1:2181,zk2"', `the ZooKeeper quorum; port default ${HMS.zooKeeperPort}`),
  `      zooKeeperNamespace: ${HMS.zooKeeperNamespace}`,
  '      listen: 9084',
  note(
    `  admin: { listen: ${DEFAULTS.admin.listen.host}:${DEFAULTS.admin.listen.port}, token: "..." }`,
    'token: no default; the variable wins',
  ),
  '',
  'mr3AppIdNamespace (Hive on MR3): the value of hive.mr3.zookeeper.appid.namespace, usually',
  "mr3AppId; the admin API then shows the shared DAGAppMaster's application id from the znode",
  "/<ns>/appId in the ZooKeeper of the route's JDBC URL (serviceDiscoveryMode=zooKeeper or",
  'zooKeeperHA only). Not settable by flag or variable.',
  '',
].join('\n')
