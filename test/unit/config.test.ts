import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { configErrorOf, hp, memDeps, runConfig, type Env } from '../helpers/config.js'
import { describeConfig } from '../../src/check.js'
import { tcpIoCheck } from '../../src/config/build-hs2.js'
import { hs2TargetFromJdbcUrl } from '../../src/config/jdbc-url.js'
import { HELP_TEXT, loadConfig, type LoadDeps } from '../../src/config/load.js'
import type { ProxyConfig } from '../../src/config/types.js'
import { DEFAULTS } from '../../src/defaults.js'
import { ConfigError, type ConfigProblem } from '../../src/errors.js'

const ZK_URL =
  'jdbc:hive2://zk1:2181,zk2:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=hiveserver2'
const STATIC_URL = 'jdbc:hive2://h1:10000,h2:10001/'
const OTHER_URL = 'jdbc:hive2://e1:10000/'
const FILE = '/etc/hhp/c.yaml'
const inFile = (where: string): string => `${where} (in ${FILE})`

/** deps with an in-memory file system: FILE holds `yaml` when given; any other path is ENOENT. */
const deps = (argv: string[], env: Env = {}, yaml?: string): LoadDeps =>
  memDeps(argv, env, yaml === undefined ? {} : { [FILE]: yaml })
const run = runConfig

// ---- precedence ------------------------------------------------------------------------------

interface PrecedenceCase {
  name: string
  /** YAML lines: top-level (`top`) or inside the one route (`route`) */
  top?: string
  route?: string
  env: [string, string]
  flag: [string, string]
  read(c: ProxyConfig): unknown
  want: { file: unknown; env: unknown; flag: unknown; default?: unknown }
}

const precedence: PrecedenceCase[] = [
  {
    name: 'logLevel',
    top: 'logLevel: warn',
    env: ['HIVE_HA_PROXY_LOG_LEVEL', 'debug'],
    flag: ['--log-level', 'trace'],
    read: (c) => c.logLevel,
    want: { file: 'warn', env: 'debug', flag: 'trace', default: 'info' },
  },
  {
    name: 'logFormat',
    top: 'logFormat: json',
    env: ['HIVE_HA_PROXY_LOG_FORMAT', 'pretty'],
    flag: ['--log-format', 'JSON'],
    read: (c) => c.logFormat,
    want: { file: 'json', env: 'pretty', flag: 'json', default: 'auto' },
  },
  {
    name: 'shutdownGraceMs',
    top: 'shutdownGraceMs: 1000',
    env: ['HIVE_HA_PROXY_SHUTDOWN_GRACE_MS', '2000'],
    flag: ['--shutdown-grace', '3000'],
    read: (c) => c.shutdownGraceMs,
    want: { file: 1000, env: 2000, flag: 3000, default: 30_000 },
  },
  {
    name: 'hs2 url',
    route: '',
    env: ['HIVE_HA_PROXY_HS2', OTHER_URL],
    flag: ['--hs2', ZK_URL],
    read: (c) => c.hs2[0]?.url,
    want: { file: STATIC_URL, env: OTHER_URL, flag: ZK_URL },
  },
  {
    name: 'hs2 listen',
    route: 'listen: 127.0.0.1:11000',
    env: ['HIVE_HA_PROXY_HS2_LISTEN', '0.0.0.0:12000'],
    flag: ['--hs2-listen', '[::1]:13000'],
    read: (c) => c.hs2[0] && hp(c.hs2[0].listen),
    want: {
      file: '127.0.0.1:11000',
      env: '0.0.0.0:12000',
      flag: '::1:13000',
      default: '127.0.0.1:10000',
    },
  },
  {
    name: 'hs2 policy',
    route: 'policy: round-robin',
    env: ['HIVE_HA_PROXY_HS2_POLICY', 'least-connections'],
    flag: ['--hs2-policy', 'random'],
    read: (c) => c.hs2[0]?.policy,
    want: { file: 'round-robin', env: 'least-connections', flag: 'random', default: 'random' },
  },
  {
    name: 'connectTimeoutMs',
    route: 'connectTimeoutMs: 1000',
    env: ['HIVE_HA_PROXY_CONNECT_TIMEOUT_MS', '2000'],
    flag: ['--connect-timeout', '3000'],
    read: (c) => c.hs2[0]?.connectTimeoutMs,
    want: { file: 1000, env: 2000, flag: 3000, default: 5000 },
  },
]

t.test('precedence: defaults < file < env < flags, for each key', async (t) => {
  for (const c of precedence) {
    t.test(c.name, async (t) => {
      const yaml = `${c.top ?? ''}\nhs2:\n  - url: "${STATIC_URL}"\n    ${c.route ?? ''}\n`
      const config = ['--config', FILE]
      const env = { [c.env[0]]: c.env[1] }
      const fileOnly = run(deps(config, {}, yaml))
      t.equal(c.read(fileOnly.config), c.want.file, 'file over defaults')
      t.same(fileOnly.sources, ['defaults', `file:${FILE}`])
      t.equal(c.read(run(deps(config, env, yaml)).config), c.want.env, 'env over file')
      const all = run(deps([...config, ...c.flag], env, yaml))
      t.equal(c.read(all.config), c.want.flag, 'flags over env and file')
      t.same(all.sources, ['defaults', `file:${FILE}`, 'env', 'flags'])
      const url = c.name === 'hs2 url' ? [] : ['--hs2', STATIC_URL]
      t.equal(
        c.read(run(deps([...url, ...c.flag], env)).config),
        c.want.flag,
        'flags over env without a file',
      )
      if (c.want.default !== undefined) {
        t.equal(c.read(run(deps(['--hs2', STATIC_URL])).config), c.want.default, 'default')
      }
    })
  }
})

// ---- hs2[0] from flags and variables -----------------------------------------------------------

const route0Defaults = {
  name: 'hs2',
  listen: { ...DEFAULTS.hs2.listen },
  policy: DEFAULTS.hs2.policy,
  connectTimeoutMs: DEFAULTS.hs2.connectTimeoutMs,
  maxConnectAttempts: DEFAULTS.hs2.maxConnectAttempts,
  idleTimeoutMs: DEFAULTS.hs2.idleTimeoutMs,
  firstResponseTimeoutMs: DEFAULTS.hs2.firstResponseTimeoutMs,
  slowStartMs: DEFAULTS.hs2.slowStartMs,
  ejection: { ...DEFAULTS.hs2.ejection },
  healthCheck: { ...DEFAULTS.hs2.healthCheck },
  tcpIo: DEFAULTS.hs2.tcpIo,
  transportMode: 'binary',
  http: { ...DEFAULTS.hs2.http },
  mr3AppIdNamespace: undefined,
}

t.test('flags and variables create hs2[0] when there is no file', async (t) => {
  const cases: { name: string; d: LoadDeps; sources: string[] }[] = [
    { name: '--hs2', d: deps(['--hs2', ZK_URL]), sources: ['defaults', 'flags'] },
    {
      name: 'HIVE_HA_PROXY_HS2',
      d: deps([], { HIVE_HA_PROXY_HS2: ZK_URL }),
      sources: ['defaults', 'env'],
    },
  ]
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const { config, sources } = run(c.d)
      t.same(config, {
        logLevel: 'info',
        logFormat: 'auto',
        shutdownGraceMs: DEFAULTS.shutdownGraceMs,
        zookeeper: { ...DEFAULTS.zookeeper },
        hs2: [{ ...route0Defaults, url: ZK_URL, target: hs2TargetFromJdbcUrl(ZK_URL) }],
        metastore: [],
        admin: { listen: { ...DEFAULTS.admin.listen }, token: undefined },
      })
      t.same(sources, c.sources)
    })
  }
})

const twoRoutes = `
hs2:
  - name: prod
    url: "${ZK_URL}"
    listen: 127.0.0.1:10001
    policy: round-robin
  - name: adhoc
    url: "${STATIC_URL}"
    listen: 127.0.0.1:10002
`

t.test('flags and variables override only hs2[0] of a multi-route file', async (t) => {
  const { config } = run(
    deps(
      ['--config', FILE, '--hs2-listen', '10005', '--hs2', OTHER_URL],
      { HIVE_HA_PROXY_HS2_POLICY: 'least-connections', HIVE_HA_PROXY_CONNECT_TIMEOUT_MS: '700' },
      twoRoutes,
    ),
  )
  t.match(config.hs2[0], {
    name: 'prod',
    url: OTHER_URL,
    listen: { host: '127.0.0.1', port: 10005 },
    policy: 'least-connections',
    connectTimeoutMs: 700,
  })
  t.match(config.hs2[1], {
    name: 'adhoc',
    url: STATIC_URL,
    listen: { host: '127.0.0.1', port: 10002 },
    policy: 'random',
    connectTimeoutMs: 5000,
  })
})

t.test('a file without hs2 routes gets hs2[0] from flags', async (t) => {
  const { config } = run(deps(['--config', FILE, '--hs2', ZK_URL], {}, 'logLevel: error\n'))
  t.equal(config.logLevel, 'error')
  t.match(config.hs2, [{ name: 'hs2', url: ZK_URL }])
})

// ---- YAML shapes -------------------------------------------------------------------------------

t.test('multi-route YAML: every field, partial ejection, default names', async (t) => {
  const yaml = `
logLevel: debug
shutdownGraceMs: 5000
zookeeper: { sessionTimeoutMs: 10000, reconnectWatchdogMs: 20000, probeIntervalMs: 0 }
hs2:
  - url: "${ZK_URL}"
    listen: 10001
    policy: least-connections
    connectTimeoutMs: 1500
    maxConnectAttempts: 5
    idleTimeoutMs: 0
    firstResponseTimeoutMs: 2000
    slowStartMs: 0
    ejection: { failures: 2, baseMs: 1000, maxMs: 8000 }
    healthCheck: { probe: tcp, intervalMs: 3000, timeoutMs: 1000, failures: 2, successes: 5 }
    tcpIo: sockets
  - url: "${STATIC_URL}"
    listen: "[::1]:10002"
    idleTimeoutMs: 600000
    ejection: { failures: 7 }
  - url: "jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeeperHA"
    listen: localhost:10003
`
  const { config } = run(deps(['--config', FILE], {}, yaml))
  t.same(
    { ...config, hs2: [] },
    {
      logLevel: 'debug',
      logFormat: 'auto',
      shutdownGraceMs: 5000,
      zookeeper: { sessionTimeoutMs: 10_000, reconnectWatchdogMs: 20_000, probeIntervalMs: 0 },
      hs2: [],
      metastore: [],
      admin: { listen: { ...DEFAULTS.admin.listen }, token: undefined },
    },
  )
  t.same(
    config.hs2.map((r) => r.name),
    ['hs2', 'hs2-2', 'hs2-3'],
  )
  t.same(
    config.hs2.map((r) => hp(r.listen)),
    ['127.0.0.1:10001', '::1:10002', 'localhost:10003'],
  )
  t.same(
    config.hs2.map((r) => r.target.kind),
    ['zookeeper', 'static', 'zookeeper-ha'],
  )
  t.same(config.hs2[0], {
    name: 'hs2',
    url: ZK_URL,
    target: hs2TargetFromJdbcUrl(ZK_URL),
    listen: { host: '127.0.0.1', port: 10001 },
    policy: 'least-connections',
    connectTimeoutMs: 1500,
    maxConnectAttempts: 5,
    idleTimeoutMs: 0,
    firstResponseTimeoutMs: 2000,
    slowStartMs: 0,
    ejection: { failures: 2, baseMs: 1000, maxMs: 8000 },
    healthCheck: { probe: 'tcp', intervalMs: 3000, timeoutMs: 1000, failures: 2, successes: 5 },
    tcpIo: 'sockets',
    transportMode: 'binary',
    http: { ...DEFAULTS.hs2.http },
    mr3AppIdNamespace: undefined,
  })
  t.same(config.hs2[1]?.ejection, { ...DEFAULTS.hs2.ejection, failures: 7 })
  t.equal(config.hs2[1]?.idleTimeoutMs, 600_000)
  t.equal(config.hs2[1]?.firstResponseTimeoutMs, DEFAULTS.hs2.firstResponseTimeoutMs)
})

t.test(
  'firstResponseTimeoutMs: flag, variable, YAML; 0 = off; bad values name the key',
  async (t) => {
    const flag = run(deps(['--hs2', ZK_URL, '--first-response-timeout', '2000']))
    t.equal(flag.config.hs2[0]?.firstResponseTimeoutMs, 2000)
    const env = run(deps(['--hs2', ZK_URL], { HIVE_HA_PROXY_FIRST_RESPONSE_TIMEOUT_MS: '0' }))
    t.equal(env.config.hs2[0]?.firstResponseTimeoutMs, 0, '0 turns it off')
    const bad = deps(['--hs2', ZK_URL, '--first-response-timeout', 'soon'])
    t.throws(() => loadConfig(bad), ConfigError)
    t.same(
      configErrorOf(bad).problems.map((p) => p.key),
      ['--first-response-timeout'],
    )
    const yaml = `hs2:\n  - url: "${ZK_URL}"\n    firstResponseTimeoutMs: -1\n`
    const badFile = deps(['--config', FILE], {}, yaml)
    t.same(
      configErrorOf(badFile).problems.map((p) => p.key),
      [inFile('hs2[0].firstResponseTimeoutMs')],
    )
  },
)

t.test('a single hs2 mapping is a one-route list; empty values are unset', async (t) => {
  const { config } = run(
    deps(['--config', FILE], {}, `hs2:\n  url: "${STATIC_URL}"\n  policy:\nlogLevel:\n`),
  )
  t.match(config, { logLevel: 'info', hs2: [{ name: 'hs2', url: STATIC_URL, policy: 'random' }] })
})

t.test('an empty file is an empty config', async (t) => {
  const { config, sources } = run(deps(['--config', FILE, '--hs2', STATIC_URL], {}, ''))
  t.equal(config.hs2.length, 1)
  t.same(sources, ['defaults', `file:${FILE}`, 'flags'])
})

// ---- flag and variable forms ---------------------------------------------------------------------

t.test('--flag=value form (the value may itself contain "=")', async (t) => {
  const { config } = run(
    deps([
      `--hs2=${ZK_URL}`,
      '--hs2-listen=10001',
      '--hs2-policy=round-robin',
      '--log-level=warn',
      '--shutdown-grace=1',
      '--connect-timeout=2',
    ]),
  )
  t.match(config, {
    logLevel: 'warn',
    shutdownGraceMs: 1,
    hs2: [
      {
        url: ZK_URL,
        listen: { host: '127.0.0.1', port: 10001 },
        policy: 'round-robin',
        connectTimeoutMs: 2,
      },
    ],
  })
})

t.test('listen address forms', async (t) => {
  const cases: [string, string][] = [
    ['10000', '127.0.0.1:10000'],
    ['[::1]:10000', '::1:10000'],
    ['[::]:10000', ':::10000'],
    ['0.0.0.0:1', '0.0.0.0:1'],
    ['hs2-proxy.example.com:65535', 'hs2-proxy.example.com:65535'],
    ['127.0.0.1:0', '127.0.0.1:0'],
  ]
  for (const [input, want] of cases) {
    const hs2 = run(deps(['--hs2', STATIC_URL, '--hs2-listen', input])).config.hs2[0]
    t.equal(hs2 && hp(hs2.listen), want, input)
  }
})

t.test('enums are case-insensitive and canonicalised', async (t) => {
  const { config } = run(
    deps(['--hs2', STATIC_URL, '--hs2-policy', 'Round-Robin'], { HIVE_HA_PROXY_LOG_LEVEL: 'INFO' }),
  )
  t.equal(config.logLevel, 'info')
  t.equal(config.hs2[0]?.policy, 'round-robin')
})

t.test('empty variables are unset, also unknown ones', async (t) => {
  const { config, sources } = run(
    deps(['--hs2', STATIC_URL], {
      HIVE_HA_PROXY_LOG_LEVEL: '',
      HIVE_HA_PROXY_TYPO: '',
      PATH: '/bin',
    }),
  )
  t.equal(config.logLevel, 'info')
  t.same(sources, ['defaults', 'flags'])
})

t.test('HIVE_HA_PROXY_CONFIG names the file; --config wins over it', async (t) => {
  const yaml = `hs2: [{ url: "${STATIC_URL}" }]\n`
  t.same(run(deps([], { HIVE_HA_PROXY_CONFIG: FILE }, yaml)).sources, ['defaults', `file:${FILE}`])
  t.same(run(deps(['--config', FILE], { HIVE_HA_PROXY_CONFIG: '/elsewhere.yaml' }, yaml)).sources, [
    'defaults',
    `file:${FILE}`,
  ])
})

t.test('a real file on disk', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hhp-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'proxy.yaml')
  writeFileSync(path, `hs2:\n  - name: disk\n    url: "${ZK_URL}"\n`)
  const { config } = run({
    argv: ['--config', path],
    env: {},
    readFile: (p) => readFileSync(p, 'utf8'),
  })
  t.equal(config.hs2[0]?.name, 'disk')
})

// ---- help and version ----------------------------------------------------------------------------

t.test('help and version', async (t) => {
  for (const argv of [
    ['--help'],
    ['-h'],
    ['--hs2', ZK_URL, '-h'],
    ['--bogus', '--help'],
    ['--hs2', '--help'],
  ]) {
    t.same(loadConfig(deps(argv)), { kind: 'help', text: HELP_TEXT }, argv.join(' '))
  }
  for (const argv of [['--version'], ['-V'], ['--log-level', 'nope', '-V']]) {
    t.same(loadConfig(deps(argv)), { kind: 'version' }, argv.join(' '))
  }
  t.equal(loadConfig(deps(['-V', '-h'])).kind, 'help', 'help wins over version')
})

t.test('HELP_TEXT names every flag, variable and default', async (t) => {
  const mustMention = [
    '--hs2 <jdbc-url>',
    '--hs2-listen',
    '--hs2-policy',
    '--config',
    '--log-level',
    '--shutdown-grace',
    '--connect-timeout',
    '--help',
    '-h',
    '--version',
    '-V',
    'HIVE_HA_PROXY_HS2\n',
    'HIVE_HA_PROXY_HS2_LISTEN',
    'HIVE_HA_PROXY_HS2_POLICY',
    'HIVE_HA_PROXY_LOG_LEVEL',
    'HIVE_HA_PROXY_SHUTDOWN_GRACE_MS',
    'HIVE_HA_PROXY_CONNECT_TIMEOUT_MS',
    'HIVE_HA_PROXY_CONFIG',
    '127.0.0.1:10000',
    'random | round-robin | least-connections',
    'default random',
    'default info',
    '30000',
    '5000',
    'maxConnectAttempts: 3',
    'idleTimeoutMs: 0',
    'failures: 3, baseMs: 5000, maxMs: 120000',
    'sessionTimeoutMs: 30000',
    `reconnectWatchdogMs: ${DEFAULTS.zookeeper.reconnectWatchdogMs}`,
    `probeIntervalMs: ${DEFAULTS.zookeeper.probeIntervalMs}`,
    'hs2[0]',
  ]
  for (const s of mustMention) t.ok(HELP_TEXT.includes(s), `mentions ${JSON.stringify(s)}`)
})

// ---- errors, one at a time -----------------------------------------------------------------------

interface ErrorCase {
  name: string
  argv?: string[]
  env?: Env
  yaml?: string
  /** the exact keys reported, in order */
  keys: string[]
  message?: RegExp
  fix?: RegExp
}

const route = (extra: string): string => `hs2:\n  - url: "${STATIC_URL}"\n    ${extra}\n`
const cfg = ['--config', FILE]

const errorCases: ErrorCase[] = [
  {
    name: 'no route at all',
    argv: [],
    keys: ['--hs2'],
    message: /no HS2 route/,
    fix: /--hs2 <jdbc-url>.*config file/,
  },
  { name: 'no route: only log level', argv: ['--log-level', 'debug'], keys: ['--hs2'] },
  { name: 'no route in the file', argv: cfg, yaml: 'logLevel: info\n', keys: [inFile('hs2')] },
  { name: 'empty hs2 list', argv: cfg, yaml: 'hs2: []\n', keys: [inFile('hs2')] },
  {
    name: 'url missing (route made by --hs2-listen)',
    argv: ['--hs2-listen', '10001'],
    keys: ['--hs2'],
    message: /no JDBC URL/,
  },
  {
    name: 'url missing (route made by a variable)',
    env: { HIVE_HA_PROXY_HS2_POLICY: 'random' },
    keys: ['--hs2'],
  },
  {
    name: 'url missing in YAML',
    argv: cfg,
    yaml: 'hs2:\n  - name: a\n',
    keys: [inFile('hs2[0].url')],
    fix: /jdbc:hive2:\/\//,
  },
  {
    name: 'url not a string in YAML',
    argv: cfg,
    yaml: 'hs2:\n  - url: 42\n',
    keys: [inFile('hs2[0].url')],
    message: /must be a string/,
  },
  {
    name: 'url invalid (flag)',
    argv: ['--hs2', 'http://x'],
    keys: ['--hs2'],
    message: /not a Hive JDBC URL/,
  },
  {
    name: 'url invalid (variable)',
    env: { HIVE_HA_PROXY_HS2: 'jdbc:hive2:///' },
    keys: ['HIVE_HA_PROXY_HS2'],
    message: /embedded/,
  },
  {
    name: 'url invalid (second route)',
    argv: cfg,
    yaml: `hs2:\n  - url: "${STATIC_URL}"\n  - url: "jdbc:mysql://x/"\n    listen: 1\n`,
    keys: [inFile('hs2[1].url')],
  },
  {
    name: 'listen not host:port',
    argv: ['--hs2', STATIC_URL, '--hs2-listen', 'nope'],
    keys: ['--hs2-listen'],
    message: /not host:port/,
  },
  {
    name: 'listen port out of range',
    argv: ['--hs2', STATIC_URL, '--hs2-listen', '127.0.0.1:70000'],
    keys: ['--hs2-listen'],
    message: /out of range/,
  },
  {
    name: 'listen bare IPv6',
    env: { HIVE_HA_PROXY_HS2: STATIC_URL, HIVE_HA_PROXY_HS2_LISTEN: '::1:10000' },
    keys: ['HIVE_HA_PROXY_HS2_LISTEN'],
    message: /brackets/,
  },
  {
    name: 'listen bracketed non-IPv6',
    argv: ['--hs2', STATIC_URL, '--hs2-listen', '[foo]:1'],
    keys: ['--hs2-listen'],
  },
  {
    name: 'listen empty host',
    argv: cfg,
    yaml: route('listen: ":10000"'),
    keys: [inFile('hs2[0].listen')],
  },
  {
    name: 'two routes on the same (default) listen address',
    argv: cfg,
    yaml: `hs2:\n  - url: "${STATIC_URL}"\n  - url: "${ZK_URL}"\n`,
    keys: [inFile('hs2[1].listen')],
    message: /already the address of hs2\[0\]\.listen/,
  },
  {
    name: 'a wildcard host clashes with loopback on the same port',
    argv: cfg,
    yaml: `hs2:\n  - url: "${STATIC_URL}"\n    listen: 0.0.0.0:10000\n  - url: "${ZK_URL}"\n    listen: 10000\n`,
    keys: [inFile('hs2[1].listen')],
  },
  {
    name: '--hs2-listen moves hs2[0] onto hs2[1]',
    argv: [...cfg, '--hs2-listen', '127.0.0.1:10002'],
    yaml: twoRoutes,
    keys: [inFile('hs2[1].listen')],
    message: /--hs2-listen/,
  },
  {
    name: 'duplicate names',
    argv: cfg,
    yaml: `hs2:\n  - name: a\n    url: "${STATIC_URL}"\n  - name: a\n    url: "${ZK_URL}"\n    listen: 2\n`,
    keys: [inFile('hs2[1].name')],
    message: /"a" is already used/,
  },
  {
    name: 'a given name equal to a default name',
    argv: cfg,
    yaml: `hs2:\n  - name: hs2-2\n    url: "${STATIC_URL}"\n  - url: "${ZK_URL}"\n    listen: 2\n`,
    keys: [inFile('hs2[1].name')],
  },
  {
    name: 'invalid name',
    argv: cfg,
    yaml: route('name: "my route"'),
    keys: [inFile('hs2[0].name')],
  },
  {
    name: 'policy (flag)',
    argv: ['--hs2', STATIC_URL, '--hs2-policy', 'fastest'],
    keys: ['--hs2-policy'],
    fix: /random, round-robin, least-connections/,
  },
  {
    name: 'policy (variable, typo)',
    env: { HIVE_HA_PROXY_HS2: STATIC_URL, HIVE_HA_PROXY_HS2_POLICY: 'round-robbin' },
    keys: ['HIVE_HA_PROXY_HS2_POLICY'],
    fix: /did you mean round-robin/,
  },
  {
    name: 'policy (YAML, second route)',
    argv: cfg,
    yaml: `${route('')}  - url: "${ZK_URL}"\n    listen: 2\n    policy: 7\n`,
    keys: [inFile('hs2[1].policy')],
  },
  {
    name: 'log level',
    argv: ['--hs2', STATIC_URL, '--log-level', 'verbose'],
    keys: ['--log-level'],
  },
  {
    name: 'connect timeout 0',
    argv: ['--hs2', STATIC_URL, '--connect-timeout', '0'],
    keys: ['--connect-timeout'],
    message: /positive whole number/,
  },
  {
    name: 'connect timeout negative',
    argv: ['--hs2', STATIC_URL, '--connect-timeout', '-5'],
    keys: ['--connect-timeout'],
  },
  {
    name: 'connect timeout fraction',
    env: { HIVE_HA_PROXY_HS2: STATIC_URL, HIVE_HA_PROXY_CONNECT_TIMEOUT_MS: '1.5' },
    keys: ['HIVE_HA_PROXY_CONNECT_TIMEOUT_MS'],
  },
  {
    name: 'shutdown grace beyond the timer limit',
    argv: ['--hs2', STATIC_URL, '--shutdown-grace', '3000000000'],
    keys: ['--shutdown-grace'],
    fix: /2147483647/,
  },
  {
    name: 'shutdown grace as words',
    env: { HIVE_HA_PROXY_HS2: STATIC_URL, HIVE_HA_PROXY_SHUTDOWN_GRACE_MS: '30s' },
    keys: ['HIVE_HA_PROXY_SHUTDOWN_GRACE_MS'],
  },
  {
    name: 'idleTimeoutMs negative',
    argv: cfg,
    yaml: route('idleTimeoutMs: -1'),
    keys: [inFile('hs2[0].idleTimeoutMs')],
    message: />= 0/,
  },
  {
    name: 'maxConnectAttempts 0',
    argv: cfg,
    yaml: route('maxConnectAttempts: 0'),
    keys: [inFile('hs2[0].maxConnectAttempts')],
  },
  {
    name: 'zookeeper.sessionTimeoutMs 0',
    argv: [...cfg, '--hs2', STATIC_URL],
    yaml: 'zookeeper: { sessionTimeoutMs: 0 }\n',
    keys: [inFile('zookeeper.sessionTimeoutMs')],
  },
  {
    name: 'zookeeper.probeIntervalMs negative',
    argv: [...cfg, '--hs2', STATIC_URL],
    yaml: 'zookeeper: { probeIntervalMs: -5 }\n',
    keys: [inFile('zookeeper.probeIntervalMs')],
  },
  {
    name: 'ejection.failures not a number',
    argv: cfg,
    yaml: route('ejection: { failures: many }'),
    keys: [inFile('hs2[0].ejection.failures')],
  },
  {
    name: 'ejection.maxMs < baseMs',
    argv: cfg,
    yaml: route('ejection: { baseMs: 5000, maxMs: 1000 }'),
    keys: [inFile('hs2[0].ejection.maxMs')],
    message: /below/,
  },
  {
    name: 'ejection.maxMs < default baseMs',
    argv: cfg,
    yaml: route('ejection: { maxMs: 1000 }'),
    keys: [inFile('hs2[0].ejection.maxMs')],
  },
  {
    name: 'healthCheck.probe thrift on an HS2 binary route',
    argv: cfg,
    yaml: route('healthCheck: { probe: thrift }'),
    keys: [inFile('hs2[0].healthCheck.probe')],
    message: /does not fit this route: an HS2 binary route has no protocol probe/,
  },
  {
    name: 'healthCheck.probe unknown',
    argv: cfg,
    yaml: route('healthCheck: { probe: ping }'),
    keys: [inFile('hs2[0].healthCheck.probe')],
  },
  {
    name: 'healthCheck.timeoutMs not below intervalMs',
    argv: cfg,
    yaml: route('healthCheck: { probe: tcp, intervalMs: 1000, timeoutMs: 1000 }'),
    keys: [inFile('hs2[0].healthCheck.timeoutMs')],
    message: /is not below healthCheck.intervalMs/,
  },
  {
    name: 'healthCheck.failures 0',
    argv: cfg,
    yaml: route('healthCheck: { failures: 0 }'),
    keys: [inFile('hs2[0].healthCheck.failures')],
  },
  {
    name: 'healthCheck unknown key',
    argv: cfg,
    yaml: route('healthCheck: { interval: 1000 }'),
    keys: [inFile('hs2[0].healthCheck.interval')],
    message: /unknown key/,
  },
  {
    name: 'unreadable file (--config)',
    argv: ['--config', '/nope.yaml'],
    keys: ['--config'],
    message: /cannot read \/nope\.yaml: ENOENT/,
  },
  {
    name: 'unreadable file (variable)',
    env: { HIVE_HA_PROXY_CONFIG: '/nope.yaml' },
    keys: ['HIVE_HA_PROXY_CONFIG'],
  },
  {
    name: 'unparsable YAML',
    argv: cfg,
    yaml: `hs2:\n  - url: "${STATIC_URL}"\n policy: random\n`,
    keys: [inFile('line 3')],
    message: /invalid YAML: .*line 3, column 1/,
  },
  {
    name: 'tab indentation',
    argv: cfg,
    yaml: `hs2:\n  - url: "${STATIC_URL}"\n\tpolicy: random\n`,
    keys: [inFile('line 3')],
    message: /Tabs/,
  },
  {
    name: 'duplicate YAML key',
    argv: cfg,
    yaml: 'logLevel: info\nlogLevel: warn\n',
    keys: [inFile('line 2')],
    message: /unique/,
  },
  { name: 'unresolved alias', argv: cfg, yaml: 'logLevel: *nope\n', keys: [FILE] },
  { name: 'file is a list', argv: cfg, yaml: '- a\n- b\n', keys: [FILE], message: /mapping/ },
  {
    name: 'unknown top-level key, suggested',
    argv: cfg,
    yaml: `loglevel: info\n${route('')}`,
    keys: [inFile('loglevel')],
    fix: /did you mean logLevel/,
  },
  {
    name: 'unknown route key, suggested',
    argv: cfg,
    yaml: route('polcy: random'),
    keys: [inFile('hs2[0].polcy')],
    fix: /did you mean policy/,
  },
  {
    name: 'unknown nested key, suggested',
    argv: cfg,
    yaml: route('ejection: { maxMS: 9000 }'),
    keys: [inFile('hs2[0].ejection.maxMS')],
    fix: /did you mean maxMs/,
  },
  {
    name: 'unknown key, nothing close',
    argv: cfg,
    yaml: `frobnicate: {}\n${route('')}`,
    keys: [inFile('frobnicate')],
    fix: /remove it; known keys here: logLevel/,
  },
  {
    name: 'prototype key names are unknown keys',
    argv: cfg,
    yaml: route('constructor: 1'),
    keys: [inFile('hs2[0].constructor')],
  },
  {
    name: 'zookeeper not a mapping',
    argv: [...cfg, '--hs2', STATIC_URL],
    yaml: 'zookeeper: zk1:2181\n',
    keys: [inFile('zookeeper')],
  },
  {
    name: 'hs2 is a string',
    argv: cfg,
    yaml: `hs2: "${STATIC_URL}"\n`,
    keys: [inFile('hs2')],
    message: /list of routes/,
  },
  {
    name: 'a route is a string',
    argv: cfg,
    yaml: `hs2:\n  - "${STATIC_URL}"\n`,
    keys: [inFile('hs2[0]')],
  },
  {
    name: 'single-mapping route keys read hs2.x',
    argv: cfg,
    yaml: `hs2:\n  url: "${STATIC_URL}"\n  policy: nope\n`,
    keys: [inFile('hs2.policy')],
  },
  {
    name: 'unknown transport, suggested',
    argv: cfg,
    yaml: `hs2:\n  url: "${STATIC_URL}"\n  tcpIo: handle\n`,
    keys: [inFile('hs2.tcpIo')],
    fix: /did you mean handles/,
  },
  {
    name: 'unknown flag, suggested',
    argv: ['--hs2', STATIC_URL, '--hs2-polcy', 'random'],
    keys: ['--hs2-polcy'],
    fix: /did you mean --hs2-policy/,
  },
  {
    name: 'unknown flag last',
    argv: ['--hs2', STATIC_URL, '--bogus'],
    keys: ['--bogus'],
    fix: /see --help/,
  },
  {
    name: 'unknown flag before a known one',
    argv: ['--bogus', '--hs2', STATIC_URL],
    keys: ['--bogus'],
  },
  { name: 'unknown short flag', argv: ['--hs2', STATIC_URL, '-x'], keys: ['-x'] },
  {
    name: 'stray argument',
    argv: ['--hs2', STATIC_URL, 'extra'],
    keys: ['extra'],
    message: /unexpected argument/,
  },
  {
    name: 'unknown --flag=value',
    argv: ['--hs2', STATIC_URL, '--frobnicate=1'],
    keys: ['--frobnicate'],
  },
  { name: 'positional URL', argv: [ZK_URL], keys: [ZK_URL, '--hs2'], fix: /write --hs2 jdbc/ },
  {
    name: 'missing value at the end',
    argv: ['--hs2'],
    keys: ['--hs2', '--hs2'],
    message: /needs a value/,
  },
  {
    name: 'missing value before another flag',
    argv: ['--hs2-policy', '--hs2', STATIC_URL],
    keys: ['--hs2-policy'],
  },
  {
    name: 'empty --flag= value',
    argv: ['--hs2', STATIC_URL, '--log-level='],
    keys: ['--log-level'],
  },
  {
    name: 'repeated flag',
    argv: ['--hs2', STATIC_URL, '--hs2', ZK_URL],
    keys: ['--hs2'],
    message: /more than once/,
  },
  {
    name: 'repeated flag in both forms',
    argv: ['--hs2', STATIC_URL, '--log-level=info', '--log-level', 'warn'],
    keys: ['--log-level'],
  },
  {
    name: '--version=1 takes no value',
    argv: ['--hs2', STATIC_URL, '--version=1'],
    keys: ['--version'],
    message: /no value/,
  },
  {
    name: 'unknown variable, suggested',
    env: { HIVE_HA_PROXY_HS2: STATIC_URL, HIVE_HA_PROXY_LOGLEVEL: 'info' },
    keys: ['HIVE_HA_PROXY_LOGLEVEL'],
    fix: /did you mean HIVE_HA_PROXY_LOG_LEVEL/,
  },
]

t.test('each error, alone, with its key, message and fix', async (t) => {
  for (const c of errorCases) {
    t.test(c.name, async (t) => {
      const d = deps(c.argv ?? [], c.env ?? {}, c.yaml)
      t.throws(() => loadConfig(d), { name: 'ConfigError', code: 'HHP_ERR_CONFIG' })
      const problems: readonly ConfigProblem[] = configErrorOf(d).problems
      t.same(
        problems.map((p) => p.key),
        c.keys,
      )
      for (const p of problems) {
        t.ok(p.message.length > 0, 'message')
        t.ok(p.fix.length > 0, 'fix')
      }
      if (c.message) t.match(problems[0]?.message, c.message)
      if (c.fix) t.match(problems[0]?.fix, c.fix)
    })
  }
})

// ---- many errors at once ----------------------------------------------------------------------------

t.test('every problem is reported at once', async (t) => {
  const yaml = `
logLevl: info
shutdownGraceMs: 0
hs2:
  - name: dup
    url: "${ZK_URL}"
    listen: "localhost:99999"
    ejection: { baseMs: 10000, maxMs: 5000 }
  - name: dup
    policy: sticky
  - url: "not-a-url"
    listen: 127.0.0.1:10007
    idleTimeoutMs: -3
`
  const d = deps(
    ['--bogus', '--hs2-policy', 'fastest', '--config', FILE, '--connect-timeout'],
    {
      HIVE_HA_PROXY_SHUTDOWN_GRACE_MS: 'soon',
      HIVE_HA_PROXY_TYPO: 'x',
      HIVE_HA_PROXY_LOG_LEVEL: 'loud',
    },
    yaml,
  )
  t.throws(() => loadConfig(d), ConfigError)
  const err = configErrorOf(d)
  const keys = err.problems.map((p) => p.key)
  t.same(
    keys.slice().sort(),
    [
      '--bogus',
      '--connect-timeout',
      '--hs2-policy',
      'HIVE_HA_PROXY_LOG_LEVEL',
      'HIVE_HA_PROXY_SHUTDOWN_GRACE_MS',
      'HIVE_HA_PROXY_TYPO',
      inFile('hs2[0].ejection.maxMs'),
      inFile('hs2[0].listen'),
      inFile('hs2[1].name'),
      inFile('hs2[1].policy'),
      inFile('hs2[1].url'),
      inFile('hs2[2].idleTimeoutMs'),
      inFile('hs2[2].url'),
      inFile('logLevl'),
    ].sort(),
  )
  // shutdownGraceMs: 0 in the file is overridden by the (also bad) variable: only the winner is reported.
  t.notOk(keys.includes(inFile('shutdownGraceMs')))
  for (const p of err.problems)
    t.ok(p.message.length > 0 && p.fix.length > 0, `${p.key} has a message and a fix`)
  t.match(err.message, /invalid configuration \(14 problems\)/)
  for (const k of keys) t.ok(err.message.includes(k), `the message lists ${k}`)
})

t.test(
  'transport: handles is refused, with the reason, where Node does not offer them',
  async (t) => {
    const gone = tcpIoCheck(() => 'process.binding is not available')
    t.match(gone('handles'), {
      ok: false,
      message: /not available in this Node \(process\.binding is not available\)/,
      fix: /auto/,
    })
    t.same(gone('auto'), { ok: true, value: 'auto' }, 'auto falls back quietly')
    t.same(gone('Sockets'), { ok: true, value: 'sockets' })
    t.same(tcpIoCheck(() => undefined)('handles'), { ok: true, value: 'handles' })
  },
)

// ---- HTTP routes and the tcpIo rename ----------------------------------------------------------

t.test('transportMode=http makes an HTTP route on port 10001 with the http defaults', async (t) => {
  const url = `${ZK_URL};transportMode=http;httpPath=/gw/cli`
  const { config } = run(deps(['--hs2', url]))
  const r = config.hs2[0]
  t.equal(r?.transportMode, 'http')
  t.same(r?.listen, { host: '127.0.0.1', port: 10_001 }, "Hive's HTTP port by default")
  t.same(r?.http, { ...DEFAULTS.hs2.http, path: 'gw/cli' })
  const binary = run(deps(['--hs2', ZK_URL])).config.hs2[0]
  t.equal(binary?.transportMode, 'binary')
  t.same(binary?.listen, DEFAULTS.hs2.listen)
})

t.test('http settings come from the YAML route and are checked', async (t) => {
  const url = 'jdbc:hive2://h1:10001/;transportMode=http'
  const yaml = `hs2:\n  url: "${url}"\n  http:\n    maxBodyBytes: 2048\n    affinityCookie: sticky\n    affinityTtlMs: 60000\n    affinityMaxEntries: 10\n    headersTimeoutMs: 500\n    keepAliveTimeoutMs: 700\n`
  const { config } = run(deps(['--config', FILE], {}, yaml))
  t.same(config.hs2[0]?.http, {
    path: 'cliservice',
    maxBodyBytes: 2048,
    affinityCookie: 'sticky',
    affinityTtlMs: 60_000,
    affinityMaxEntries: 10,
    headersTimeoutMs: 500,
    keepAliveTimeoutMs: 700,
  })
  const bad = `hs2:\n  url: "${url}"\n  http: { maxBodyBytes: 10, affinityCookie: "a b" }\n`
  const err = configErrorOf(deps(['--config', FILE], {}, bad))
  t.same(
    err.problems.map((p) => p.key),
    [inFile('hs2.http.maxBodyBytes'), inFile('hs2.http.affinityCookie')],
  )
})

t.test(
  'check says what firstResponseTimeoutMs does on an HTTP route and warns below long polling',
  async (t) => {
    const url = 'jdbc:hive2://h1:10001/;transportMode=http'
    const text = (ms: string): string =>
      describeConfig(run(deps(['--hs2', url, '--first-response-timeout', ms])).config, [])
    t.match(text('10000'), /stalls: a call without response headers within 10000 ms is hung/)
    t.notMatch(text('10000'), /warning: firstResponseTimeoutMs/)
    t.match(
      text('5000'),
      /warning: firstResponseTimeoutMs 5000 is not above HiveServer2's hive\.server2\.long\.polling\.timeout/,
    )
    t.match(text('0'), /first-answer failover off/)
    const binary = describeConfig(
      run(deps(['--hs2', STATIC_URL, '--first-response-timeout', '2000'])).config,
      [],
    )
    t.match(binary, /first-answer failover: a backend silent 2000 ms after the client spoke/)
    t.notMatch(binary, /long\.polling/, 'binary routes time only the first answer')
  },
)

t.test('the old key transport still works, with a deprecation notice; tcpIo wins', async (t) => {
  const old = `hs2:\n  url: "${STATIC_URL}"\n  transport: sockets\n`
  const a = loadConfig(deps(['--config', FILE], {}, old))
  if (a.kind !== 'run') throw new Error('expected run')
  t.equal(a.config.hs2[0]?.tcpIo, 'sockets')
  t.match(a.notices, [/hs2\.transport \(in .*\) is deprecated .*rename it to tcpIo/])
  const both = `hs2:\n  url: "${STATIC_URL}"\n  transport: sockets\n  tcpIo: auto\n`
  const b = loadConfig(deps(['--config', FILE], {}, both))
  if (b.kind !== 'run') throw new Error('expected run')
  t.equal(b.config.hs2[0]?.tcpIo, 'auto')
  t.match(b.notices, [/deprecated and ignored: hs2\.tcpIo/])
  const none = loadConfig(deps(['--hs2', STATIC_URL]))
  t.same(none.kind === 'run' ? none.notices : undefined, [])
})
