import t from 'tap'
import { configErrorOf, hp, memDeps, runConfig, type Env } from '../helpers/config.js'
import { HELP_TEXT, type LoadDeps } from '../../src/config/load.js'
import { DEFAULTS } from '../../src/defaults.js'

const YAML = '/etc/hhp/c.yaml'
const inYaml = (where: string): string => `${where} (in ${YAML})`
const STATIC_URL = 'jdbc:hive2://h1:10000,h2:10001/'
const ZK_URL =
  'jdbc:hive2://zk1:2181,zk2:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=hiveserver2'
const ZK_HA_URL = 'jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeeperHA'
const TOKEN = 'f3a9c1e07b6d4e2a9c8b7a6f5e4d3c2b'
const TOKEN2 = 'zz-second-token-0123456789abcdef'

const deps = (argv: string[], env: Env = {}, yaml?: string): LoadDeps =>
  memDeps(argv, env, yaml === undefined ? {} : { [YAML]: yaml })
const run = runConfig
const errorOf = configErrorOf
const HS2 = ['--hs2', STATIC_URL]

// ---- admin ---------------------------------------------------------------------------------------

t.test('admin defaults: loopback listen, no token', async (t) => {
  const { config, sources } = run(deps(HS2))
  t.same(config.admin, { listen: { ...DEFAULTS.admin.listen }, token: undefined })
  t.equal(hp(config.admin.listen), '127.0.0.1:10090')
  t.same(sources, ['defaults', 'flags'])
})

t.test('admin listen precedence: YAML < env < flag', async (t) => {
  const yaml = `hs2: [{ url: "${STATIC_URL}" }]\nadmin: { listen: "127.0.0.1:11001" }\n`
  const cfg = ['--config', YAML]
  const env = { HIVE_HA_PROXY_ADMIN_LISTEN: '127.0.0.2:11002' }
  const file = run(deps(cfg, {}, yaml))
  t.equal(hp(file.config.admin.listen), '127.0.0.1:11001')
  t.same(file.sources, ['defaults', `file:${YAML}`])
  const withEnv = run(deps(cfg, env, yaml))
  t.equal(hp(withEnv.config.admin.listen), '127.0.0.2:11002')
  t.same(withEnv.sources, ['defaults', `file:${YAML}`, 'env'])
  const all = run(deps([...cfg, '--admin-listen', '[::1]:11003'], env, yaml))
  t.equal(hp(all.config.admin.listen), '::1:11003')
  t.same(all.sources, ['defaults', `file:${YAML}`, 'env', 'flags'])
  t.equal(
    hp(run(deps([...HS2, '--admin-listen=11004'])).config.admin.listen),
    '127.0.0.1:11004',
    'a bare port is 127.0.0.1',
  )
  t.equal(
    hp(run(deps(HS2, { HIVE_HA_PROXY_ADMIN_LISTEN: 'localhost:11005' })).config.admin.listen),
    'localhost:11005',
  )
})

t.test('admin token from the variable and from YAML; the variable wins', async (t) => {
  const yaml = `hs2: [{ url: "${STATIC_URL}" }]\nadmin:\n  token: "${TOKEN2}"\n`
  t.equal(run(deps(HS2, { HIVE_HA_PROXY_ADMIN_TOKEN: TOKEN })).config.admin.token, TOKEN)
  const file = run(deps(['--config', YAML], {}, yaml))
  t.equal(file.config.admin.token, TOKEN2)
  const both = run(deps(['--config', YAML], { HIVE_HA_PROXY_ADMIN_TOKEN: TOKEN }, yaml))
  t.equal(both.config.admin.token, TOKEN)
  t.same(both.sources, ['defaults', `file:${YAML}`, 'env'])
  t.equal(
    run(deps(HS2, { HIVE_HA_PROXY_ADMIN_TOKEN: '' })).config.admin.token,
    undefined,
    'an empty variable is unset',
  )
})

t.test('there is no token flag', async (t) => {
  const err = errorOf(deps([...HS2, `--admin-token=${TOKEN}`]))
  t.same(
    err.problems.map((p) => p.key),
    ['--admin-token'],
  )
  t.match(err.problems[0]?.fix, /HIVE_HA_PROXY_ADMIN_TOKEN/)
  t.notOk(err.message.includes(TOKEN), 'the token is not echoed')
  const spaced = errorOf(deps([...HS2, '--admin-token', TOKEN]))
  t.same(
    spaced.problems.map((p) => p.key),
    ['--admin-token'],
  )
  t.notOk(spaced.message.includes(TOKEN))
})

t.test('a non-loopback admin listen address needs a token', async (t) => {
  for (const [argv, env, key] of [
    [['--admin-listen', '0.0.0.0:10090'], {}, '--admin-listen'],
    [['--admin-listen', '[::]:10090'], {}, '--admin-listen'],
    [[], { HIVE_HA_PROXY_ADMIN_LISTEN: '10.1.2.3:10090' }, 'HIVE_HA_PROXY_ADMIN_LISTEN'],
    [[], { HIVE_HA_PROXY_ADMIN_LISTEN: 'proxy.example.com:10090' }, 'HIVE_HA_PROXY_ADMIN_LISTEN'],
  ] as const) {
    const err = errorOf(deps([...HS2, ...argv], env))
    t.same(
      err.problems,
      [
        {
          key,
          message: 'the admin API on a non-loopback address needs a bearer token',
          fix: 'set HIVE_HA_PROXY_ADMIN_TOKEN (or admin.token in the config file), or listen on 127.0.0.1',
        },
      ],
      `${JSON.stringify(argv)} ${JSON.stringify(env)}`,
    )
  }
  const yaml = `hs2: [{ url: "${STATIC_URL}" }]\nadmin: { listen: "0.0.0.0:10090" }\n`
  t.same(
    errorOf(deps(['--config', YAML], {}, yaml)).problems.map((p) => p.key),
    [inYaml('admin.listen')],
  )
})

t.test('loopback addresses need no token; with a token any address is fine', async (t) => {
  for (const listen of [
    '127.0.0.1:10090',
    '127.9.8.7:10090',
    '[::1]:10090',
    'localhost:10090',
    'LocalHost:10090',
    '10090',
  ]) {
    t.equal(run(deps([...HS2, '--admin-listen', listen])).config.admin.token, undefined, listen)
  }
  const { config } = run(
    deps([...HS2, '--admin-listen', '0.0.0.0:10090'], { HIVE_HA_PROXY_ADMIN_TOKEN: TOKEN }),
  )
  t.same(config.admin, { listen: { host: '0.0.0.0', port: 10_090 }, token: TOKEN })
  const yaml = `hs2: [{ url: "${STATIC_URL}" }]\nadmin: { listen: "10.0.0.5:10090", token: "${TOKEN}" }\n`
  t.same(run(deps(['--config', YAML], {}, yaml)).config.admin, {
    listen: { host: '10.0.0.5', port: 10_090 },
    token: TOKEN,
  })
})

t.test('bad tokens are problems that never show the token', async (t) => {
  const short = 'abc123shorttok' // 14 characters
  const cases: { name: string; d: LoadDeps; key: string; secret: string; message: RegExp }[] = [
    {
      name: 'short (env)',
      d: deps(HS2, { HIVE_HA_PROXY_ADMIN_TOKEN: short }),
      key: 'HIVE_HA_PROXY_ADMIN_TOKEN',
      secret: short,
      message: /too short/,
    },
    {
      name: 'short (YAML), non-loopback',
      d: deps(
        ['--config', YAML, '--admin-listen', '0.0.0.0:10090'],
        {},
        `hs2: [{ url: "${STATIC_URL}" }]\nadmin: { token: "${short}" }\n`,
      ),
      key: inYaml('admin.token'),
      secret: short,
      message: /too short/,
    },
    {
      name: 'with a space',
      d: deps(HS2, { HIVE_HA_PROXY_ADMIN_TOKEN: 'secret words that are long' }),
      key: 'HIVE_HA_PROXY_ADMIN_TOKEN',
      secret: 'secret words',
      message: /printable ASCII without spaces/,
    },
    {
      name: 'a YAML number',
      d: deps(
        ['--config', YAML],
        {},
        `hs2: [{ url: "${STATIC_URL}" }]\nadmin: { token: 98765432109876543 }\n`,
      ),
      key: inYaml('admin.token'),
      secret: '9876543210',
      message: /must be a string/,
    },
  ]
  for (const c of cases) {
    const err = errorOf(c.d)
    t.same(
      err.problems.map((p) => p.key),
      [c.key],
      c.name,
    )
    t.match(err.problems[0]?.message, c.message, c.name)
    t.match(err.problems[0]?.fix, /openssl rand -hex 24/, c.name)
    t.notOk(err.message.includes(c.secret), `${c.name}: the token is not in the message`)
    t.notOk(JSON.stringify(err.problems).includes(c.secret), `${c.name}: nor in any problem`)
  }
  t.equal(
    run(deps(HS2, { HIVE_HA_PROXY_ADMIN_TOKEN: 'x'.repeat(16) })).config.admin.token,
    'x'.repeat(16),
    '16 characters are enough',
  )
})

t.test('the token never appears in an error about something else', async (t) => {
  const err = errorOf(deps([...HS2, '--log-level', 'loud'], { HIVE_HA_PROXY_ADMIN_TOKEN: TOKEN }))
  t.same(
    err.problems.map((p) => p.key),
    ['--log-level'],
  )
  t.notOk(err.message.includes(TOKEN))
})

t.test('the admin listen address must differ from every route listen address', async (t) => {
  const clash = errorOf(deps([...HS2, '--admin-listen', '127.0.0.1:10000']))
  t.same(
    clash.problems.map((p) => p.key),
    ['--admin-listen'],
  )
  t.match(clash.problems[0]?.message, /127\.0\.0\.1:10000 is already the address of --hs2-listen/)
  t.match(clash.problems[0]?.fix, /admin API its own port/)
  const wildcard = errorOf(
    deps([...HS2, '--admin-listen', '0.0.0.0:10000'], { HIVE_HA_PROXY_ADMIN_TOKEN: TOKEN }),
  )
  t.same(
    wildcard.problems.map((p) => p.key),
    ['--admin-listen'],
    'a wildcard host clashes with any',
  )
  const yaml = `metastore: [{ uris: "thrift://hms1:9083", listen: 10090 }]\n`
  const dflt = errorOf(deps(['--config', YAML], {}, yaml))
  t.same(
    dflt.problems.map((p) => p.key),
    ['--admin-listen'],
    'the default admin address clashes too',
  )
  t.match(dflt.problems[0]?.message, /already the address of metastore\[0\]\.listen/)
  t.ok(run(deps([...HS2, '--admin-listen', '127.0.0.1:0'])), 'port 0 never clashes')
})

t.test('bad admin listen values', async (t) => {
  const err = errorOf(deps([...HS2, '--admin-listen', 'nope']))
  t.same(
    err.problems.map((p) => p.key),
    ['--admin-listen'],
  )
  t.match(err.problems[0]?.message, /is not host:port/)
  const yaml = `hs2: [{ url: "${STATIC_URL}" }]\nadmin: { listn: 1 }\n`
  t.same(
    errorOf(deps(['--config', YAML], {}, yaml)).problems.map((p) => [p.key, p.fix]),
    [[inYaml('admin.listn'), 'did you mean listen?']],
  )
})

// ---- mr3AppIdNamespace ---------------------------------------------------------------------------

const withNs = (url: string, ns: string): string =>
  `hs2:\n  - url: "${url}"\n    mr3AppIdNamespace: ${ns}\n`

t.test('mr3AppIdNamespace: default undefined, valid values with ZooKeeper URLs', async (t) => {
  t.equal(run(deps(['--hs2', ZK_URL])).config.hs2[0]?.mr3AppIdNamespace, undefined)
  const cases: [string, string, string][] = [
    [ZK_URL, 'mr3AppId', 'mr3AppId'],
    [ZK_URL, '"/mr3AppId/"', 'mr3AppId'],
    [ZK_URL, '" prod/mr3-app_id.v2 "', 'prod/mr3-app_id.v2'],
    [ZK_HA_URL, 'mr3AppId', 'mr3AppId'],
  ]
  for (const [url, ns, want] of cases) {
    const { config, sources } = run(deps(['--config', YAML], {}, withNs(url, ns)))
    t.equal(config.hs2[0]?.mr3AppIdNamespace, want, ns)
    t.same(sources, ['defaults', `file:${YAML}`])
  }
  const flagUrl = run(deps(['--config', YAML, '--hs2', ZK_URL], {}, withNs(STATIC_URL, 'mr3AppId')))
  t.equal(flagUrl.config.hs2[0]?.mr3AppIdNamespace, 'mr3AppId', 'checked against the final url')
})

t.test('mr3AppIdNamespace: invalid values', async (t) => {
  for (const ns of ['""', '"/"', '"a//b"', '"a/../b"', '"mr3 app"', '"mr3$id"', '42', '[a]']) {
    const problems = errorOf(deps(['--config', YAML], {}, withNs(ZK_URL, ns))).problems
    t.same(
      problems.map((p) => p.key),
      [inYaml('hs2[0].mr3AppIdNamespace')],
      ns,
    )
    t.match(problems[0]?.fix, /mr3AppId/, ns)
  }
})

t.test('mr3AppIdNamespace with a static URL is a problem', async (t) => {
  const problems = errorOf(deps(['--config', YAML], {}, withNs(STATIC_URL, 'mr3AppId'))).problems
  t.same(
    problems.map((p) => p.key),
    [inYaml('hs2[0].mr3AppIdNamespace')],
  )
  t.match(problems[0]?.message, /needs ZooKeeper discovery/)
  t.match(problems[0]?.fix, /serviceDiscoveryMode=zooKeeper/)
  const badUrl = errorOf(
    deps(['--config', YAML], {}, withNs('jdbc:mysql://x/', 'mr3AppId')),
  ).problems
  t.same(
    badUrl.map((p) => p.key),
    [inYaml('hs2[0].url')],
    'no second problem when the url itself is bad',
  )
})

t.test('HELP_TEXT documents the admin API and mr3AppIdNamespace', async (t) => {
  for (const s of [
    '--admin-listen <host:port>',
    'HIVE_HA_PROXY_ADMIN_LISTEN',
    'HIVE_HA_PROXY_ADMIN_TOKEN',
    'admin: { listen:',
    '127.0.0.1:10090',
    'ps',
    'mr3AppIdNamespace',
    'hive.mr3.zookeeper.appid.namespace',
    '/<ns>/appId',
    'openssl rand -hex 24',
  ]) {
    t.ok(HELP_TEXT.includes(s), `mentions ${JSON.stringify(s)}`)
  }
  t.notOk(HELP_TEXT.includes('--admin-token'), 'no token flag is advertised')
})

// ---- ZooKeeper digest auth -----------------------------------------------------------------------

const SECRET = 'proxy:s3cret-Zk-pw-42'

t.test(
  'ZooKeeper digest auth from the variable and from YAML; the variable wins; never echoed',
  async (t) => {
    t.equal(run(deps(HS2)).config.zookeeper.digestAuth, undefined, 'anonymous by default')
    t.equal(
      run(deps(HS2, { HIVE_HA_PROXY_ZOOKEEPER_DIGEST_AUTH: SECRET })).config.zookeeper.digestAuth,
      SECRET,
    )
    const yaml = `hs2: [{ url: "${ZK_URL}" }]\nzookeeper: { digestAuth: "other:pw-from-file" }\n`
    t.equal(
      run(deps(['--config', YAML], {}, yaml)).config.zookeeper.digestAuth,
      'other:pw-from-file',
    )
    t.equal(
      run(deps(['--config', YAML], { HIVE_HA_PROXY_ZOOKEEPER_DIGEST_AUTH: SECRET }, yaml)).config
        .zookeeper.digestAuth,
      SECRET,
    )
    for (const bad of ['no-colon-here', ':pw-only', 'user-only:', 'user:pass word']) {
      const err = errorOf(deps(HS2, { HIVE_HA_PROXY_ZOOKEEPER_DIGEST_AUTH: bad }))
      t.same(
        err.problems.map((p) => p.key),
        ['HIVE_HA_PROXY_ZOOKEEPER_DIGEST_AUTH'],
        bad,
      )
      t.notOk(err.message.includes(bad), `the value is not echoed: ${bad}`)
      t.match(err.problems[0]?.fix, /user:password/)
    }
    const flag = errorOf(deps([...HS2, '--zookeeper-digest-auth', SECRET]))
    t.same(
      flag.problems.map((p) => p.key),
      ['--zookeeper-digest-auth'],
      'there is no flag',
    )
    t.notOk(flag.message.includes(SECRET))
  },
)
