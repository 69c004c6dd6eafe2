import t from 'tap'
import { configErrorOf, memDeps, runConfig, type Env } from '../helpers/config.js'
import { HELP_TEXT, type LoadDeps } from '../../src/config/load.js'
import type { MetastoreRouteConfig, ProxyConfig } from '../../src/config/types.js'
import { DEFAULTS } from '../../src/defaults.js'
import { describeConfig } from '../../src/check.js'
import type { ConfigProblem } from '../../src/errors.js'

const YAML = '/etc/hhp/c.yaml'
const SITE = '/etc/hive/conf/hive-site.xml'
const inYaml = (where: string): string => `${where} (in ${YAML})`
const inSite = (where: string): string => `${where} (in ${SITE})`
const HS2_URL = 'jdbc:hive2://h1:10000,h2:10001/'
const URIS = 'thrift://hms1:9083,thrift://hms2:9084'

/** hive-site.xml text from name/value pairs. */
function site(props: Record<string, string>): string {
  const body = Object.entries(props)
    .map(
      ([name, value]) =>
        `  <property>\n    <name>${name}</name>\n    <value>${value}</value>\n  </property>`,
    )
    .join('\n')
  return `<?xml version="1.0"?>\n<configuration>\n${body}\n</configuration>\n`
}

const deps = memDeps
const run = runConfig
const problemsOf = (d: LoadDeps): readonly ConfigProblem[] => configErrorOf(d).problems

const ms0 = (c: ProxyConfig): MetastoreRouteConfig => {
  const r = c.metastore[0]
  if (r === undefined) throw new Error('no metastore[0]')
  return r
}

const HMS = DEFAULTS.metastore
const routeDefaults = {
  name: 'metastore',
  listen: { ...HMS.listen },
  selection: HMS.selection,
  mode: HMS.mode,
  connectTimeoutMs: HMS.connectTimeoutMs,
  maxConnectAttempts: HMS.maxConnectAttempts,
  idleTimeoutMs: HMS.idleTimeoutMs,
  ejection: { ...HMS.ejection },
  healthCheck: { ...HMS.healthCheck },
  maxMessageBytes: HMS.maxMessageBytes,
  maxReplayBytes: HMS.maxReplayBytes,
  transportMode: 'binary',
  http: { ...HMS.http },
}

// ---- precedence ------------------------------------------------------------------------------

t.test(
  'precedence defaults < hive-site < YAML < env < flags: uris, selection, listen',
  async (t) => {
    const files = {
      [SITE]: site({
        'hive.metastore.uris': 'thrift://s1:9083',
        'hive.metastore.uri.selection': 'RANDOM',
      }),
      [YAML]: `hiveSite: ${SITE}\nmetastore:\n  - uris: "thrift://y1:9083"\n    selection: SEQUENTIAL\n    listen: 9001\n`,
    }
    const siteOnly = run(deps(['--hive-site', SITE], {}, files))
    t.match(
      ms0(siteOnly.config),
      { uris: 'thrift://s1:9083', selection: 'RANDOM', listen: HMS.listen },
      'hive-site over defaults',
    )
    t.same(siteOnly.sources, ['defaults', `hive-site:${SITE}`])
    t.same(ms0(siteOnly.config).target, { kind: 'static', backends: [{ host: 's1', port: 9083 }] })

    const file = run(deps(['--config', YAML], {}, files))
    t.match(
      ms0(file.config),
      { uris: 'thrift://y1:9083', selection: 'SEQUENTIAL', listen: { port: 9001 } },
      'YAML over hive-site',
    )
    t.same(
      file.sources,
      ['defaults', `hive-site:${SITE}`, `file:${YAML}`],
      'hiveSite: in the YAML names the hive-site',
    )

    const env = {
      HIVE_HA_PROXY_METASTORE: 'thrift://e1:9083',
      HIVE_HA_PROXY_METASTORE_SELECTION: 'random',
      HIVE_HA_PROXY_METASTORE_LISTEN: '9002',
    }
    t.match(
      ms0(run(deps(['--config', YAML], env, files)).config),
      { uris: 'thrift://e1:9083', selection: 'RANDOM', listen: { port: 9002 } },
      'env over YAML',
    )

    const flags = [
      '--config',
      YAML,
      '--metastore',
      'thrift://f1:9083',
      '--metastore-selection',
      'Sequential',
      '--metastore-listen',
      '[::1]:9003',
    ]
    const all = run(deps(flags, env, files))
    t.match(
      ms0(all.config),
      { uris: 'thrift://f1:9083', selection: 'SEQUENTIAL', listen: { host: '::1', port: 9003 } },
      'flags over env',
    )
    t.same(all.sources, ['defaults', `hive-site:${SITE}`, `file:${YAML}`, 'env', 'flags'])
    t.equal(all.config.metastore.length, 1)
  },
)

t.test(
  "hive-site without a selection: the proxy default SEQUENTIAL, not Hive's RANDOM",
  async (t) => {
    const files = { [SITE]: site({ 'hive.metastore.uris': URIS }) }
    t.equal(ms0(run(deps(['--hive-site', SITE], {}, files)).config).selection, 'SEQUENTIAL')
  },
)

t.test('hive-site path: --hive-site > HIVE_HA_PROXY_HIVE_SITE > hiveSite in YAML', async (t) => {
  const files = {
    '/a.xml': site({ 'hive.metastore.uris': 'thrift://a:1' }),
    '/b.xml': site({ 'hive.metastore.uris': 'thrift://b:1' }),
    '/c.xml': site({ 'hive.metastore.uris': 'thrift://c:1' }),
    [YAML]: 'hiveSite: /c.xml\n',
  }
  const uris = (argv: string[], env: Env): string => ms0(run(deps(argv, env, files)).config).uris
  t.equal(uris(['--config', YAML], {}), 'thrift://c:1')
  t.equal(uris(['--config', YAML], { HIVE_HA_PROXY_HIVE_SITE: '/b.xml' }), 'thrift://b:1')
  t.equal(
    uris(['--config', YAML, '--hive-site=/a.xml'], { HIVE_HA_PROXY_HIVE_SITE: '/b.xml' }),
    'thrift://a:1',
  )
  t.same(
    run(deps([], { HIVE_HA_PROXY_HIVE_SITE: '/b.xml' }, files)).sources,
    ['defaults', 'hive-site:/b.xml'],
    'naming a file is not "env set something"',
  )
})

t.test('metastore.* names win over their hive.* aliases', async (t) => {
  const files = {
    [SITE]: site({
      'hive.metastore.uris': 'zk9:2181',
      'metastore.thrift.uris': 'zk1,zk2:2182',
      'hive.metastore.uri.selection': 'SEQUENTIAL',
      'metastore.thrift.uri.selection': 'RANDOM',
      'hive.metastore.service.discovery.mode': '',
      'metastore.service.discovery.mode': 'zookeeper',
      'hive.zookeeper.namespace': 'hive_zookeeper_namespace',
      'metastore.zookeeper.namespace': 'hms',
      'hive.zookeeper.client.port': '2181',
      'metastore.zookeeper.client.port': '2190',
    }),
  }
  const r = ms0(run(deps(['--hive-site', SITE], {}, files)).config)
  t.same(r.target, { kind: 'zookeeper', quorum: 'zk1:2190,zk2:2182', namespace: 'hms' })
  t.equal(r.selection, 'RANDOM')
  t.equal(r.uris, 'zk1,zk2:2182')
})

t.test(
  'a present but empty metastore.* name still wins (MetastoreConf.getVar): empty = unset',
  async (t) => {
    const files = {
      [SITE]: site({
        'metastore.thrift.uri.selection': '',
        'hive.metastore.uri.selection': 'RANDOM',
        'hive.metastore.uris': URIS,
      }),
    }
    t.equal(ms0(run(deps(['--hive-site', SITE], {}, files)).config).selection, 'SEQUENTIAL')
  },
)

// ---- ZooKeeper discovery -----------------------------------------------------------------------

t.test('ZooKeeper discovery from hive-site: hive.* keys, default namespace and port', async (t) => {
  const files = {
    [SITE]: site({
      'hive.metastore.service.discovery.mode': 'ZooKeeper',
      'hive.metastore.uris': 'zk1:2181, zk2',
    }),
  }
  const r = ms0(run(deps(['--hive-site', SITE], {}, files)).config)
  t.same(r.target, { kind: 'zookeeper', quorum: 'zk1:2181,zk2:2181', namespace: 'hive_metastore' })
  const withPort = {
    [SITE]: site({
      'hive.metastore.service.discovery.mode': 'zookeeper',
      'hive.metastore.uris': 'zk1,[::1]',
      'hive.zookeeper.client.port': '2999',
      'hive.zookeeper.namespace': '/a/b/',
    }),
  }
  t.same(ms0(run(deps(['--hive-site', SITE], {}, withPort)).config).target, {
    kind: 'zookeeper',
    quorum: 'zk1:2999,[::1]:2999',
    namespace: 'a/b',
  })
})

t.test('ZooKeeper discovery from YAML', async (t) => {
  const yaml =
    'metastore:\n  discovery: zookeeper\n  uris: "zk1:2181,zk2"\n  zooKeeperNamespace: /hms_prod\n'
  const r = ms0(run(deps(['--config', YAML], {}, { [YAML]: yaml })).config)
  t.same(r, {
    ...routeDefaults,
    uris: 'zk1:2181,zk2',
    target: { kind: 'zookeeper', quorum: 'zk1:2181,zk2:2181', namespace: 'hms_prod' },
  })
  const noNs = 'metastore:\n  - discovery: ZOOKEEPER\n    uris: "zk1"\n'
  t.same(ms0(run(deps(['--config', YAML], {}, { [YAML]: noNs })).config).target, {
    kind: 'zookeeper',
    quorum: 'zk1:2181',
    namespace: 'hive_metastore',
  })
})

t.test('discovery travels with the URIs of the source that set them', async (t) => {
  const zkSite = site({
    'hive.metastore.service.discovery.mode': 'zookeeper',
    'hive.metastore.uris': 'zk1',
    'hive.zookeeper.namespace': 'ns',
  })
  const ownUris = `hiveSite: ${SITE}\nmetastore:\n  - uris: "${URIS}"\n    listen: 9001\n`
  t.equal(
    ms0(run(deps(['--config', YAML], {}, { [SITE]: zkSite, [YAML]: ownUris })).config).target.kind,
    'static',
    'YAML uris: hive-site mode dropped',
  )
  const noUris = `hiveSite: ${SITE}\nmetastore:\n  - listen: 9001\n    zooKeeperNamespace: other\n`
  const merged = ms0(run(deps(['--config', YAML], {}, { [SITE]: zkSite, [YAML]: noUris })).config)
  t.same(
    merged.target,
    { kind: 'zookeeper', quorum: 'zk1:2181', namespace: 'other' },
    'YAML fields on top of hive-site URIs (the namespace trap fix)',
  )
  t.equal(merged.listen.port, 9001)
  const zkYaml = 'metastore:\n  - discovery: zookeeper\n    uris: zk1\n    zooKeeperNamespace: ns\n'
  const flag = ms0(
    run(deps(['--config', YAML, '--metastore', URIS], {}, { [YAML]: zkYaml })).config,
  )
  t.same(
    flag.target,
    {
      kind: 'static',
      backends: [
        { host: 'hms1', port: 9083 },
        { host: 'hms2', port: 9084 },
      ],
    },
    '--metastore over a ZooKeeper route is a thrift:// list',
  )
})

// ---- shapes ------------------------------------------------------------------------------------

t.test('both route kinds in one config; every metastore field; default names', async (t) => {
  const yaml = `
hs2:
  - url: "${HS2_URL}"
metastore:
  - uris: " thrift://hms1:9083 , THRIFT://[::1]:9084/ ,"
    listen: 0.0.0.0:9083
    selection: random
    mode: PIPE
    connectTimeoutMs: 1500
    maxConnectAttempts: 5
    idleTimeoutMs: 0
    ejection: { failures: 2, baseMs: 1000, maxMs: 8000 }
    healthCheck: { probe: thrift, intervalMs: 1000, timeoutMs: 500, failures: 4, successes: 1 }
    maxMessageBytes: 1024
    maxReplayBytes: 0
  - uris: "thrift://hms3:9083"
    listen: 9084
    ejection: { failures: 7 }
`
  const { config } = run(deps(['--config', YAML], {}, { [YAML]: yaml }))
  t.equal(config.hs2.length, 1)
  t.equal(config.hs2[0]?.name, 'hs2')
  t.same(
    config.metastore.map((r) => r.name),
    ['metastore', 'metastore-2'],
  )
  t.same(config.metastore[0], {
    name: 'metastore',
    listen: { host: '0.0.0.0', port: 9083 },
    uris: ' thrift://hms1:9083 , THRIFT://[::1]:9084/ ,',
    target: {
      kind: 'static',
      backends: [
        { host: 'hms1', port: 9083 },
        { host: '::1', port: 9084 },
      ],
    },
    selection: 'RANDOM',
    mode: 'pipe',
    connectTimeoutMs: 1500,
    maxConnectAttempts: 5,
    idleTimeoutMs: 0,
    ejection: { failures: 2, baseMs: 1000, maxMs: 8000 },
    healthCheck: { probe: 'thrift', intervalMs: 1000, timeoutMs: 500, failures: 4, successes: 1 },
    maxMessageBytes: 1024,
    maxReplayBytes: 0,
    transportMode: 'binary',
    http: { ...HMS.http },
  })
  t.same(config.metastore[1], {
    ...routeDefaults,
    name: 'metastore-2',
    listen: { host: '127.0.0.1', port: 9084 },
    uris: 'thrift://hms3:9083',
    target: { kind: 'static', backends: [{ host: 'hms3', port: 9083 }] },
    ejection: { ...HMS.ejection, failures: 7 },
  })
})

t.test(
  'flags alone: --hs2 and --metastore side by side; --metastore alone is enough',
  async (t) => {
    const { config, sources } = run(deps(['--hs2', HS2_URL, `--metastore=${URIS}`]))
    t.equal(config.hs2.length, 1)
    t.same(config.metastore, [
      {
        ...routeDefaults,
        uris: URIS,
        target: {
          kind: 'static',
          backends: [
            { host: 'hms1', port: 9083 },
            { host: 'hms2', port: 9084 },
          ],
        },
      },
    ])
    t.same(sources, ['defaults', 'flags'])
    const alone = run(deps([], { HIVE_HA_PROXY_METASTORE: URIS }))
    t.same(alone.config.hs2, [])
    t.equal(ms0(alone.config).name, 'metastore')
    t.same(alone.sources, ['defaults', 'env'])
  },
)

t.test('flags and variables override only metastore[0] of a multi-route file', async (t) => {
  const yaml = `metastore:\n  - name: a\n    uris: "thrift://a:1"\n    listen: 9001\n  - name: b\n    uris: "thrift://b:1"\n    listen: 9002\n`
  const { config } = run(
    deps(
      ['--config', YAML, '--metastore-listen', '9005'],
      { HIVE_HA_PROXY_METASTORE_SELECTION: 'RANDOM' },
      { [YAML]: yaml },
    ),
  )
  t.match(config.metastore, [
    { name: 'a', uris: 'thrift://a:1', listen: { port: 9005 }, selection: 'RANDOM' },
    { name: 'b', listen: { port: 9002 }, selection: 'SEQUENTIAL' },
  ])
})

t.test('a hive-site that sets no metastore URIs contributes nothing', async (t) => {
  const files = {
    [SITE]: site({
      'hive.metastore.uri.selection': 'RANDOM',
      'hive.zookeeper.quorum': 'zk1',
      'hive.server2.zookeeper.namespace': 'hiveserver2',
    }),
  }
  const { config, sources } = run(deps(['--hive-site', SITE, '--hs2', HS2_URL], {}, files))
  t.same(config.metastore, [], 'and no HS2 route is derived from its HS2 keys')
  t.equal(config.hs2.length, 1)
  t.same(sources, ['defaults', 'flags'])
  const withRoute = run(deps(['--hive-site', SITE, '--metastore', URIS], {}, files))
  t.equal(ms0(withRoute.config).selection, 'SEQUENTIAL', 'not even the selection')
})

t.test('a route made by hive-site takes flag fields on top', async (t) => {
  const files = { [SITE]: site({ 'hive.metastore.uris': URIS }) }
  const r = ms0(
    run(
      deps(
        ['--hive-site', SITE, '--metastore-selection', 'random', '--metastore-listen', '19083'],
        {},
        files,
      ),
    ).config,
  )
  t.match(r, { uris: URIS, selection: 'RANDOM', listen: { host: '127.0.0.1', port: 19083 } })
})

t.test('HELP_TEXT names the metastore flags, variables, defaults and keys', async (t) => {
  const mustMention = [
    '--metastore <uri-list>',
    '--metastore-listen <host:port>',
    '--metastore-selection <selection>',
    '--hive-site <hive-site.xml>',
    'HIVE_HA_PROXY_METASTORE\n',
    'HIVE_HA_PROXY_METASTORE_LISTEN',
    'HIVE_HA_PROXY_METASTORE_SELECTION',
    'HIVE_HA_PROXY_HIVE_SITE',
    '127.0.0.1:9083',
    'SEQUENTIAL | RANDOM',
    'default SEQUENTIAL',
    'metastore[0]',
    "not Hive's own default RANDOM",
    'metastore.thrift.uris (alias hive.metastore.uris)',
    'metastore.thrift.uri.selection (alias hive.metastore.uri.selection)',
    'metastore.service.discovery.mode (alias hive.metastore.service.discovery.mode)',
    'metastore.zookeeper.namespace (alias hive.zookeeper.namespace)',
    'metastore.zookeeper.client.port (alias hive.zookeeper.client.port)',
    'hiveSite:',
    'metastore:',
    'selection: SEQUENTIAL',
    'mode: auto',
    'auto | pipe',
    'discovery: zookeeper',
    'zooKeeperNamespace: hive_metastore',
    'maxMessageBytes: 1073741824',
    'maxReplayBytes: 1048576',
    '0 = no replay',
    'hive_zookeeper_namespace',
    'taken from hive-site.xml only when asked',
  ]
  for (const s of mustMention) t.ok(HELP_TEXT.includes(s), `mentions ${JSON.stringify(s)}`)
  for (const line of HELP_TEXT.split('\n')) {
    t.ok(line.length <= 110, `short line: ${line.slice(0, 40)}`)
    t.notMatch(line, /\S#/, `a YAML comment has a space before "#": ${line.slice(0, 40)}`)
  }
})

// ---- errors, one at a time -----------------------------------------------------------------------

interface ErrorCase {
  name: string
  argv?: string[]
  env?: Env
  yaml?: string
  site?: string
  keys: string[]
  message?: RegExp
  fix?: RegExp
}

const cfg = ['--config', YAML]
const hs = ['--hive-site', SITE]
const ms = (extra: string, uris = URIS): string => `metastore:\n  - uris: "${uris}"\n    ${extra}\n`

const errorCases: ErrorCase[] = [
  {
    name: 'no route at all names --metastore too',
    argv: [],
    keys: ['--hs2'],
    message: /no HS2 route and no metastore route/,
    fix: /--hs2 <jdbc-url>.*--metastore/,
  },
  {
    name: 'missing port',
    argv: ['--metastore', 'thrift://hms1:9083,thrift://hms2'],
    keys: ['--metastore'],
    message: /"thrift:\/\/hms2" has no port.*no default/,
    fix: /thrift:\/\/hms2:9083/,
  },
  {
    name: 'missing scheme',
    env: { HIVE_HA_PROXY_METASTORE: 'hms1:9083' },
    keys: ['HIVE_HA_PROXY_METASTORE'],
    message: /no scheme/,
    fix: /write thrift:\/\/hms1:9083$/,
  },
  {
    name: 'missing scheme and port',
    argv: ['--metastore', 'hms1'],
    keys: ['--metastore'],
    fix: /thrift:\/\/hms1:9083/,
  },
  {
    name: 'http scheme',
    argv: ['--metastore', 'http://hms1:9083'],
    keys: ['--metastore'],
    message: /scheme "http"/,
  },
  {
    name: 'a path',
    argv: ['--metastore', 'thrift://hms1:9083/db'],
    keys: ['--metastore'],
    message: /path/,
  },
  {
    name: 'user info',
    argv: ['--metastore', 'thrift://u@hms1:9083'],
    keys: ['--metastore'],
    fix: /thrift:\/\/hms1:9083/,
  },
  {
    name: 'bad port',
    argv: ['--metastore', 'thrift://hms1:99999'],
    keys: ['--metastore'],
    message: /bad port/,
  },
  {
    name: 'bare IPv6',
    argv: ['--metastore', 'thrift://::1:9083'],
    keys: ['--metastore'],
    message: /brackets/,
  },
  { name: 'bad host', argv: ['--metastore', 'thrift://h$t:9083'], keys: ['--metastore'] },
  {
    name: 'no host',
    argv: ['--metastore', 'thrift://:9083'],
    keys: ['--metastore'],
    message: /no host/,
  },
  {
    name: 'duplicate URI',
    argv: ['--metastore', 'thrift://HMS1:9083,thrift://hms1:9083'],
    keys: ['--metastore'],
    message: /twice/,
  },
  {
    name: 'empty entry in the middle',
    argv: ['--metastore', 'thrift://a:1,,thrift://b:1'],
    keys: ['--metastore'],
    fix: /extra ","/,
  },
  {
    name: 'each bad URI is reported',
    argv: ['--metastore', 'a:1,thrift://b,thrift://c:1'],
    keys: ['--metastore', '--metastore'],
  },
  {
    name: 'uris missing (route made by --metastore-listen)',
    argv: ['--metastore-listen', '9001'],
    keys: ['--metastore'],
    message: /no URIs/,
  },
  {
    name: 'uris missing in YAML',
    argv: cfg,
    yaml: 'metastore:\n  - name: a\n',
    keys: [inYaml('metastore[0].uris')],
  },
  {
    name: 'uris not a string',
    argv: cfg,
    yaml: 'metastore: { uris: [a, b] }\n',
    keys: [inYaml('metastore.uris')],
    message: /must be a string/,
  },
  {
    name: 'blank uris in YAML',
    argv: cfg,
    yaml: 'metastore: { uris: "  " }\n',
    keys: [inYaml('metastore.uris')],
    message: /embedded/,
  },
  {
    name: 'blank uris in hive-site',
    argv: hs,
    site: site({ 'hive.metastore.uris': '' }),
    keys: [inSite('hive.metastore.uris')],
    message: /embedded.*needs remote metastore URIs/,
  },
  {
    name: 'blank metastore.thrift.uris wins over the alias',
    argv: hs,
    site: site({ 'metastore.thrift.uris': ' ', 'hive.metastore.uris': URIS }),
    keys: [inSite('metastore.thrift.uris')],
  },
  {
    name: 'bad selection (flag)',
    argv: ['--metastore', URIS, '--metastore-selection', 'ROUND_ROBIN'],
    keys: ['--metastore-selection'],
    fix: /SEQUENTIAL, RANDOM/,
  },
  {
    name: 'bad selection (variable, typo)',
    env: { HIVE_HA_PROXY_METASTORE: URIS, HIVE_HA_PROXY_METASTORE_SELECTION: 'RANDON' },
    keys: ['HIVE_HA_PROXY_METASTORE_SELECTION'],
    fix: /did you mean RANDOM/,
  },
  {
    name: 'bad selection (hive-site)',
    argv: hs,
    site: site({ 'hive.metastore.uris': URIS, 'hive.metastore.uri.selection': 'ROUND' }),
    keys: [inSite('hive.metastore.uri.selection')],
  },
  {
    name: 'bad mode',
    argv: cfg,
    yaml: ms('mode: thrift'),
    keys: [inYaml('metastore[0].mode')],
    fix: /auto, pipe/,
  },
  {
    name: 'bad discovery (hive-site)',
    argv: hs,
    site: site({ 'hive.metastore.uris': 'zk1', 'metastore.service.discovery.mode': 'consul' }),
    keys: [inSite('metastore.service.discovery.mode')],
  },
  {
    name: 'maxMessageBytes below 1024',
    argv: cfg,
    yaml: ms('maxMessageBytes: 1023'),
    keys: [inYaml('metastore[0].maxMessageBytes')],
    message: />= 1024/,
  },
  {
    name: 'maxReplayBytes negative',
    argv: cfg,
    yaml: ms('maxReplayBytes: -1'),
    keys: [inYaml('metastore[0].maxReplayBytes')],
    message: /0 = no replay/,
  },
  {
    name: 'maxConnectAttempts 0',
    argv: cfg,
    yaml: ms('maxConnectAttempts: 0'),
    keys: [inYaml('metastore[0].maxConnectAttempts')],
  },
  {
    name: 'connectTimeoutMs fraction',
    argv: cfg,
    yaml: ms('connectTimeoutMs: 1.5'),
    keys: [inYaml('metastore[0].connectTimeoutMs')],
  },
  {
    name: 'idleTimeoutMs negative',
    argv: cfg,
    yaml: ms('idleTimeoutMs: -1'),
    keys: [inYaml('metastore[0].idleTimeoutMs')],
  },
  {
    name: 'ejection.maxMs < baseMs',
    argv: cfg,
    yaml: ms('ejection: { baseMs: 9000, maxMs: 1000 }'),
    keys: [inYaml('metastore[0].ejection.maxMs')],
    message: /below/,
  },
  {
    name: 'healthCheck.probe http on a metastore route',
    argv: cfg,
    yaml: ms('healthCheck: { probe: http }'),
    keys: [inYaml('metastore[0].healthCheck.probe')],
    message: /a metastore route probes with thrift \(fb303 getStatus\) or tcp/,
  },
  {
    name: 'healthCheck.intervalMs 0',
    argv: cfg,
    yaml: ms('healthCheck: { intervalMs: 0 }'),
    keys: [inYaml('metastore[0].healthCheck.intervalMs')],
  },
  {
    name: 'listen clash across kinds (defaults and flags)',
    argv: ['--hs2', HS2_URL, '--metastore', URIS, '--metastore-listen', '10000'],
    keys: ['--metastore-listen'],
    message: /already the address of --hs2-listen/,
  },
  {
    name: 'listen clash across kinds (YAML, wildcard)',
    argv: cfg,
    yaml: `hs2: [{ url: "${HS2_URL}", listen: "0.0.0.0:9083" }]\nmetastore: [{ uris: "${URIS}" }]\n`,
    keys: [inYaml('metastore[0].listen')],
    message: /already the address of hs2\[0\]\.listen/,
  },
  {
    name: 'two metastore routes on the default address',
    argv: cfg,
    yaml: `metastore: [{ uris: "${URIS}" }, { uris: "thrift://x:1" }]\n`,
    keys: [inYaml('metastore[1].listen')],
  },
  {
    name: 'name clash across kinds',
    argv: cfg,
    yaml: `hs2: [{ name: x, url: "${HS2_URL}" }]\nmetastore: [{ name: x, uris: "${URIS}" }]\n`,
    keys: [inYaml('metastore[0].name')],
    message: /"x" is already used by hs2\[0\]\.name/,
  },
  { name: 'invalid name', argv: cfg, yaml: ms('name: "a b"'), keys: [inYaml('metastore[0].name')] },
  {
    name: 'quorum with thrift:// URIs',
    argv: cfg,
    yaml: ms('discovery: zookeeper'),
    keys: [inYaml('metastore[0].uris'), inYaml('metastore[0].uris')],
    message: /ZooKeeper quorum/,
  },
  {
    name: 'quorum with a chroot',
    argv: cfg,
    yaml: ms('discovery: zookeeper', 'zk1:2181/hive'),
    keys: [inYaml('metastore[0].uris')],
    message: /chroot/,
  },
  {
    name: 'bad namespace',
    argv: cfg,
    yaml: ms('discovery: zookeeper\n    zooKeeperNamespace: "a//b"', 'zk1'),
    keys: [inYaml('metastore[0].zooKeeperNamespace')],
  },
  {
    name: 'namespace without ZooKeeper discovery',
    argv: cfg,
    yaml: ms('zooKeeperNamespace: hms'),
    keys: [inYaml('metastore[0].zooKeeperNamespace')],
    fix: /discovery: zookeeper/,
  },
  {
    name: 'bad discovery (YAML)',
    argv: cfg,
    yaml: ms('discovery: dns'),
    keys: [inYaml('metastore[0].discovery')],
    fix: /static, zookeeper/,
  },
  {
    name: 'bad ZooKeeper port (hive-site)',
    argv: hs,
    site: site({
      'hive.metastore.service.discovery.mode': 'zookeeper',
      'hive.metastore.uris': 'zk1',
      'hive.zookeeper.client.port': '0',
    }),
    keys: [inSite('hive.zookeeper.client.port')],
  },
  {
    name: 'unparsable hive-site (flag)',
    argv: hs,
    site: '<configuration><property><name>x</name></configuration>',
    keys: ['--hive-site'],
    message: /cannot parse .*hive-site\.xml: .*line 1/,
  },
  {
    name: 'unparsable hive-site (variable)',
    env: { HIVE_HA_PROXY_HIVE_SITE: SITE },
    site: 'not xml',
    keys: ['HIVE_HA_PROXY_HIVE_SITE'],
    message: /cannot parse/,
  },
  {
    name: 'unparsable hive-site (YAML)',
    argv: cfg,
    yaml: `hiveSite: ${SITE}\n`,
    site: '<a><b></a>',
    keys: [inYaml('hiveSite')],
  },
  {
    name: 'hive-site without <configuration>',
    argv: hs,
    site: '<properties/>',
    keys: ['--hive-site'],
    message: /no <configuration> element/,
  },
  {
    name: 'unreadable hive-site',
    argv: ['--hive-site', '/nope.xml'],
    keys: ['--hive-site'],
    message: /cannot read \/nope\.xml: ENOENT/,
  },
  {
    name: 'hiveSite not a string',
    argv: [...cfg, '--hs2', HS2_URL],
    yaml: 'hiveSite: 42\n',
    keys: [inYaml('hiveSite')],
  },
  {
    name: 'metastore is a string',
    argv: cfg,
    yaml: `metastore: "${URIS}"\n`,
    keys: [inYaml('metastore')],
    fix: /metastore: \[ \{ uris:/,
  },
  {
    name: 'a metastore route is a string',
    argv: cfg,
    yaml: `metastore:\n  - "${URIS}"\n`,
    keys: [inYaml('metastore[0]')],
  },
  {
    name: 'unknown metastore key, suggested',
    argv: cfg,
    yaml: ms('selecton: RANDOM'),
    keys: [inYaml('metastore[0].selecton')],
    fix: /did you mean selection/,
  },
  {
    name: 'unknown flag, suggested',
    argv: ['--metastore', URIS, '--metastore-selecton', 'RANDOM'],
    keys: ['--metastore-selecton'],
    fix: /did you mean --metastore-selection/,
  },
  {
    name: 'positional thrift URI',
    argv: [URIS],
    keys: [URIS, '--hs2'],
    fix: /write --metastore thrift/,
  },
  {
    name: 'unknown variable, suggested',
    env: { HIVE_HA_PROXY_METASTORE: URIS, HIVE_HA_PROXY_METASTORE_URIS: URIS },
    keys: ['HIVE_HA_PROXY_METASTORE_URIS'],
    fix: /did you mean HIVE_HA_PROXY_METASTORE/,
  },
]

t.test('each metastore error, alone, with its key, message and fix', async (t) => {
  for (const c of errorCases) {
    t.test(c.name, async (t) => {
      const files: Record<string, string> = {}
      if (c.yaml !== undefined) files[YAML] = c.yaml
      if (c.site !== undefined) files[SITE] = c.site
      const problems = problemsOf(deps(c.argv ?? [], c.env ?? {}, files))
      t.same(
        problems.map((p) => p.key),
        c.keys,
      )
      for (const p of problems) t.ok(p.message.length > 0 && p.fix.length > 0, 'message and fix')
      if (c.message) t.match(problems[0]?.message, c.message)
      if (c.fix) t.match(problems[0]?.fix, c.fix)
    })
  }
})

t.test(
  'a bad hive-site is not followed by "no route at all" or "metastore[0] has no URIs"',
  async (t) => {
    t.same(
      problemsOf(deps(hs, {}, { [SITE]: 'oops' })).map((p) => p.key),
      ['--hive-site'],
    )
    t.same(
      problemsOf(deps([...hs, '--metastore-listen', '9001'], {}, { [SITE]: 'oops' })).map(
        (p) => p.key,
      ),
      ['--hive-site'],
    )
    const yaml = 'metastore:\n  - listen: 9001\n  - listen: 9002\n'
    const keys = problemsOf(deps([...cfg, ...hs], {}, { [SITE]: 'oops', [YAML]: yaml })).map(
      (p) => p.key,
    )
    t.same(
      keys,
      ['--hive-site', inYaml('metastore[1].uris')],
      'only metastore[0] could have got URIs from it',
    )
  },
)

// ---- many errors at once ----------------------------------------------------------------------------

t.test('every metastore problem is reported at once', async (t) => {
  const yaml = `
hiveSite: /ignored-because-the-flag-wins.xml
hs2:
  - name: same
    url: "${HS2_URL}"
    listen: 9090
metastore:
  - listen: 127.0.0.1:9090
    selection: sticky
    mode: auto
    maxMessageBytes: 10
  - name: same
    uris: "thrift://a,b:1,thrift://c:1,thrift://c:1"
    listen: 9091
    ejection: { baseMs: 5000, maxMs: 10 }
  - discovery: zookeeper
    uris: "thrift://zk1:2181"
    zooKeeperNamespace: ".."
    listen: 9092
    maxReplayBytes: lots
`
  const files = {
    [YAML]: yaml,
    [SITE]: site({
      'hive.metastore.uris': 'thrift://s1',
      'hive.metastore.uri.selection': 'whatever',
    }),
  }
  const d = deps(
    ['--config', YAML, '--hive-site', SITE, '--metastore-listen', 'nope'],
    { HIVE_HA_PROXY_METASTORE_SELECTION: 'both' },
    files,
  )
  const keys = problemsOf(d).map((p) => p.key)
  t.same(
    keys.slice().sort(),
    [
      '--metastore-listen',
      'HIVE_HA_PROXY_METASTORE_SELECTION',
      inSite('hive.metastore.uris'),
      inYaml('metastore[0].maxMessageBytes'),
      inYaml('metastore[1].ejection.maxMs'),
      inYaml('metastore[1].name'),
      inYaml('metastore[1].uris'),
      inYaml('metastore[1].uris'),
      inYaml('metastore[1].uris'),
      inYaml('metastore[2].maxReplayBytes'),
      inYaml('metastore[2].uris'),
      inYaml('metastore[2].zooKeeperNamespace'),
    ].sort(),
  )
  // the hive-site selection is overridden by the (also bad) variable, the YAML one too: only the winner is reported
  t.notOk(keys.includes(inSite('hive.metastore.uri.selection')))
  t.notOk(keys.includes(inYaml('metastore[0].selection')))
})

t.test(
  'transportMode: http makes a metastore HTTP route on 9083 with path metastore',
  async (t) => {
    const yaml = 'metastore:\n  uris: "thrift://h1:9083"\n  transportMode: HTTP\n'
    const r = ms0(run(deps(['--config', '/c.yaml'], {}, { '/c.yaml': yaml })).config)
    t.equal(r.transportMode, 'http')
    t.same(r.listen, HMS.listen, "Hive serves the metastore's HTTP on the binary port")
    t.same(r.http, HMS.http)
    const tuned =
      'metastore:\n  uris: "thrift://h1:9083"\n  transportMode: http\n  httpPath: /hms/api/\n' +
      '  http:\n    maxBodyBytes: 2048\n    headersTimeoutMs: 500\n    keepAliveTimeoutMs: 700\n'
    const r2 = ms0(run(deps(['--config', '/c.yaml'], {}, { '/c.yaml': tuned })).config)
    t.same(r2.http, {
      path: 'hms/api',
      maxBodyBytes: 2048,
      headersTimeoutMs: 500,
      keepAliveTimeoutMs: 700,
    })
    const binary = 'metastore:\n  uris: "thrift://h1:9083"\n'
    t.equal(
      ms0(run(deps(['--config', '/c.yaml'], {}, { '/c.yaml': binary })).config).transportMode,
      'binary',
    )
  },
)

t.test('check describes a metastore HTTP route', async (t) => {
  const yaml =
    'metastore:\n  uris: "thrift://h1:9083"\n  transportMode: http\n  idleTimeoutMs: 30000\n'
  const { config, sources } = run(deps(['--config', '/c.yaml'], {}, { '/c.yaml': yaml }))
  const text = describeConfig(config, sources)
  t.match(
    text,
    /metastore over HTTP on \/metastore: each request to any live metastore \(selection SEQUENTIAL\)/,
  )
  t.match(text, /reads re-sent when a metastore fails before answering, writes never/)
  t.match(text, /a metastore silent 30000 ms fails the request/)
  t.notMatch(text, /kept for a re-send/, 'binary-only settings are not described')
})

t.test('a metastore HTTP route probes with http or tcp, never thrift', async (t) => {
  const yaml =
    'metastore:\n  uris: "thrift://h1:9083"\n  transportMode: http\n  healthCheck: { probe: thrift }\n'
  t.match(problemsOf(deps(['--config', '/c.yaml'], {}, { '/c.yaml': yaml })), [
    {
      key: 'metastore.healthCheck.probe (in /c.yaml)',
      message: /over HTTP probes with http \(OPTIONS on the servlet path\) or tcp/,
    },
  ])
  const ok = yaml.replace('probe: thrift', 'probe: http')
  t.equal(
    ms0(run(deps(['--config', '/c.yaml'], {}, { '/c.yaml': ok })).config).healthCheck.probe,
    'http',
  )
})

t.test('a bad transport mode or HTTP path names the key and the fix', async (t) => {
  const yaml =
    'metastore:\n  - uris: "thrift://h1:9083"\n    transportMode: all\n' +
    '  - uris: "thrift://h2:9083"\n    transportMode: http\n    httpPath: "a b"\n    listen: 9084\n'
  t.match(problemsOf(deps(['--config', '/c.yaml'], {}, { '/c.yaml': yaml })), [
    {
      key: 'metastore[0].transportMode (in /c.yaml)',
      message: /"all" is a HiveServer2 mode/,
      fix: /binary .* or http/,
    },
    {
      key: 'metastore[1].httpPath (in /c.yaml)',
      message: /not a usable HTTP path/,
      fix: /metastore.server.thrift.http.path/,
    },
  ])
})

t.test(
  'hive-site.xml: metastore.client.thrift.transport.mode and .http.path (hive.* aliases)',
  async (t) => {
    const files = {
      [SITE]: site({
        'hive.metastore.uris': URIS,
        'hive.metastore.client.thrift.transport.mode': 'http',
        'metastore.client.thrift.http.path': 'hmsapi',
      }),
    }
    const r = ms0(run(deps(['--hive-site', SITE], {}, files)).config)
    t.equal(r.transportMode, 'http')
    t.equal(r.http.path, 'hmsapi')
    const bad = {
      [SITE]: site({
        'hive.metastore.uris': URIS,
        'metastore.client.thrift.transport.mode': 'grpc',
      }),
    }
    t.match(problemsOf(deps(['--hive-site', SITE], {}, bad)), [
      {
        key: inSite('metastore.client.thrift.transport.mode'),
        message: /"grpc" is not a metastore transport mode/,
      },
    ])
  },
)
