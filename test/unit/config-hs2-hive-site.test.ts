import t from 'tap'
import { configErrorOf, memDeps, runConfig } from '../helpers/config.js'
import { hs2FromHiveSite } from '../../src/config/hive-site.js'
import type { Hs2RouteConfig, ProxyConfig } from '../../src/config/types.js'
import { describeConfig } from '../../src/check.js'

// Issue 15 point 6: an HS2 route from hive-site.xml, only when asked (--hs2-listen without a URL,
// or fromHiveSite: true in YAML), with the keys it came from said in `check`.

const YAML = '/etc/hhp/c.yaml'
const SITE = '/etc/hive/conf/hive-site.xml'
const inYaml = (where: string): string => `${where} (in ${YAML})`

function site(props: Record<string, string>): string {
  const body = Object.entries(props)
    .map(([name, value]) => `  <property><name>${name}</name><value>${value}</value></property>`)
    .join('\n')
  return `<?xml version="1.0"?>\n<configuration>\n${body}\n</configuration>\n`
}

/** What Hive on MR3's HA set-up page has: several HS2 under hiveserver2-mr3 on one quorum. */
const MR3 = {
  'hive.server2.support.dynamic.service.discovery': 'true',
  'hive.zookeeper.quorum': 'zk1,zk2:2182,zk3',
  'hive.zookeeper.client.port': '2181',
  'hive.server2.zookeeper.namespace': 'hiveserver2-mr3',
  'hive.metastore.uris': 'thrift://hms1:9083',
}

const hs20 = (c: ProxyConfig): Hs2RouteConfig => {
  const r = c.hs2[0]
  if (r === undefined) throw new Error('no hs2[0]')
  return r
}
const props = (o: Record<string, string>) => new Map(Object.entries(o))

t.test('hs2FromHiveSite: the URL HiveServer2 registration implies, with its keys', async (t) => {
  const r = hs2FromHiveSite(props(MR3), SITE)
  t.match(r, {
    ok: true,
    file: SITE,
    url: 'jdbc:hive2://zk1:2181,zk2:2182,zk3:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=hiveserver2-mr3',
    keys: [
      'hive.server2.support.dynamic.service.discovery=true',
      'hive.zookeeper.quorum=zk1,zk2:2182,zk3',
      'hive.zookeeper.client.port=2181',
      'hive.server2.active.passive.ha.enable (not set: false)',
      'hive.server2.zookeeper.namespace=hiveserver2-mr3',
      'hive.server2.transport.mode (not set: binary)',
    ],
    principal: undefined,
  })
})

t.test('hs2FromHiveSite: defaults, active/passive HA, HTTP, Kerberos', async (t) => {
  const base = {
    'hive.server2.support.dynamic.service.discovery': 'TRUE',
    'hive.zookeeper.quorum': 'zk1',
  }
  t.match(hs2FromHiveSite(props(base), SITE), {
    ok: true,
    url: 'jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=hiveserver2',
  })
  const ha = hs2FromHiveSite(
    props({
      ...base,
      'hive.server2.active.passive.ha.enable': 'true',
      'hive.server2.zookeeper.namespace': 'ignored-in-ha',
    }),
    SITE,
  )
  t.match(ha, {
    ok: true,
    url: 'jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeeperHA;zooKeeperNamespace=hs2ActivePassiveHA',
  })
  t.match(
    hs2FromHiveSite(
      props({
        ...base,
        'hive.server2.active.passive.ha.enable': 'true',
        'hive.server2.active.passive.ha.registry.namespace': 'hs2ha',
      }),
      SITE,
    ),
    { url: /serviceDiscoveryMode=zooKeeperHA;zooKeeperNamespace=hs2ha$/ },
  )
  t.match(
    hs2FromHiveSite(
      props({
        ...base,
        'hive.server2.transport.mode': 'http',
        'hive.server2.thrift.http.path': 'gw',
      }),
      SITE,
    ),
    { url: /;transportMode=http;httpPath=gw$/ },
  )
  t.match(hs2FromHiveSite(props({ ...base, 'hive.server2.transport.mode': 'all' }), SITE), {
    ok: true,
    url: /zooKeeperNamespace=hiveserver2$/,
  })
  const krb = hs2FromHiveSite(
    props({
      ...base,
      'hive.server2.authentication': 'KERBEROS',
      'hive.server2.authentication.kerberos.principal': 'hive/_HOST@EXAMPLE.COM',
    }),
    SITE,
  )
  t.match(krb, {
    ok: true,
    principal: {
      principal: 'hive/_HOST@EXAMPLE.COM',
      key: `hive.server2.authentication.kerberos.principal (in ${SITE})`,
    },
  })
  t.match(
    hs2FromHiveSite(
      props({
        ...base,
        'hive.server2.authentication': 'LDAP',
        'hive.server2.authentication.kerberos.principal': 'hive/_HOST@EXAMPLE.COM',
      }),
      SITE,
    ),
    { ok: true, principal: undefined },
    'a principal without Kerberos authentication is not what clients use',
  )
})

t.test('hs2FromHiveSite: what a file cannot give, and why', async (t) => {
  t.match(hs2FromHiveSite(props({ 'hive.zookeeper.quorum': 'zk1' }), SITE), {
    ok: false,
    message: /does not set hive\.server2\.support\.dynamic\.service\.discovery=true/,
    fix: /JDBC URL/,
  })
  t.match(
    hs2FromHiveSite(props({ 'hive.server2.support.dynamic.service.discovery': 'true' }), SITE),
    { ok: false, message: /sets no hive\.zookeeper\.quorum/ },
  )
  t.match(
    hs2FromHiveSite(
      props({
        'hive.server2.support.dynamic.service.discovery': 'true',
        'hive.zookeeper.quorum': 'zk1',
        'hive.zookeeper.client.port': 'x',
      }),
      SITE,
    ),
    { ok: false, message: /hive\.zookeeper\.client\.port .* "x", not a TCP port/ },
  )
  t.match(
    hs2FromHiveSite(
      props({
        'hive.server2.support.dynamic.service.discovery': 'true',
        'hive.zookeeper.quorum': 'zk1',
        'hive.server2.transport.mode': 'grpc',
      }),
      SITE,
    ),
    { ok: false, message: /hive\.server2\.transport\.mode/ },
  )
})

t.test('--hs2-listen with --hive-site and no URL: the route hive-site describes', async (t) => {
  const files = { [SITE]: site(MR3) }
  const { config, sources } = runConfig(
    memDeps(['--hive-site', SITE, '--hs2-listen', '10010'], {}, files),
  )
  const r = hs20(config)
  t.equal(
    r.url,
    'jdbc:hive2://zk1:2181,zk2:2182,zk3:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=hiveserver2-mr3',
  )
  t.same(r.target, {
    kind: 'zookeeper',
    quorum: 'zk1:2181,zk2:2182,zk3:2181',
    namespace: 'hiveserver2-mr3',
  })
  t.equal(r.listen.port, 10010)
  t.equal(r.fromHiveSite?.file, SITE)
  t.ok(r.fromHiveSite?.keys.includes('hive.server2.zookeeper.namespace=hiveserver2-mr3'))
  t.equal(config.metastore.length, 1, 'the metastore route from the same file as before')
  t.same(sources, ['defaults', `hive-site:${SITE}`, 'flags'])

  const text = describeConfig(config, sources)
  t.match(
    text,
    `  JDBC URL ${r.url} built from ${SITE}: hive.server2.support.dynamic.service.discovery=true, hive.zookeeper.quorum=zk1,zk2:2182,zk3`,
  )

  // the variable asks the same way
  const viaEnv = runConfig(
    memDeps(['--hive-site', SITE], { HIVE_HA_PROXY_HS2_LISTEN: '10010' }, files),
  ).config
  t.equal(hs20(viaEnv).url, r.url)
})

t.test('a hive-site alone opens no HS2 port; --hs2 wins over the file', async (t) => {
  const files = { [SITE]: site(MR3) }
  t.equal(runConfig(memDeps(['--hive-site', SITE], {}, files)).config.hs2.length, 0)
  const url = 'jdbc:hive2://h1:10000/'
  const r = hs20(
    runConfig(memDeps(['--hive-site', SITE, '--hs2-listen', '10010', '--hs2', url], {}, files))
      .config,
  )
  t.equal(r.url, url)
  t.equal(r.fromHiveSite, undefined)
})

t.test('fromHiveSite: true in YAML, next to a route with its own URL', async (t) => {
  const yaml = `hiveSite: ${SITE}\nhs2:\n  - fromHiveSite: true\n  - url: "jdbc:hive2://h1:10000/"\n    listen: 10020\n`
  const files = {
    [YAML]: yaml,
    [SITE]: site({
      ...MR3,
      'hive.server2.active.passive.ha.enable': 'true',
      'hive.server2.authentication': 'KERBEROS',
      'hive.server2.authentication.kerberos.principal': 'hive/hs2.example.com@EXAMPLE.COM',
    }),
  }
  const { config, sources } = runConfig(memDeps(['--config', YAML], {}, files))
  t.same(config.hs2[0]!.target, {
    kind: 'zookeeper-ha',
    quorum: 'zk1:2181,zk2:2182,zk3:2181',
    namespace: 'hs2ActivePassiveHA',
  })
  t.same(config.hs2[0]!.kerberosPrincipal, {
    principal: 'hive/hs2.example.com@EXAMPLE.COM',
    from: `hive.server2.authentication.kerberos.principal (in ${SITE})`,
  })
  t.equal(config.hs2[1]!.fromHiveSite, undefined)
  const text = describeConfig(config, sources)
  t.match(
    text,
    `Kerberos: clients set principal=hive/hs2.example.com@EXAMPLE.COM in their JDBC URL (from hive.server2.authentication.kerberos.principal (in ${SITE}))`,
  )
})

t.test('problems: each with its key and fix', async (t) => {
  const noSite = configErrorOf(
    memDeps(['--config', YAML], {}, { [YAML]: 'hs2:\n  - fromHiveSite: true\n' }),
  ).problems
  t.match(noSite, [
    {
      key: inYaml('hs2[0].fromHiveSite'),
      message: /no hive-site\.xml to build one from/,
      fix: /--hive-site/,
    },
  ])

  const off = configErrorOf(
    memDeps(
      ['--hive-site', SITE, '--hs2-listen', '10010'],
      {},
      {
        [SITE]: site({ 'hive.zookeeper.quorum': 'zk1', 'hive.metastore.uris': 'thrift://h:9083' }),
      },
    ),
  ).problems
  t.match(off, [
    {
      key: '--hs2-listen',
      message: /does not set hive\.server2\.support\.dynamic\.service\.discovery=true/,
    },
  ])

  const both = configErrorOf(
    memDeps(
      ['--config', YAML],
      {},
      {
        [YAML]: `hiveSite: ${SITE}\nhs2:\n  - fromHiveSite: true\n    url: "jdbc:hive2://h1:10000/"\n`,
        [SITE]: site(MR3),
      },
    ),
  ).problems
  t.match(both, [{ key: inYaml('hs2[0].fromHiveSite'), message: /both a url and fromHiveSite/ }])

  const notBool = configErrorOf(
    memDeps(
      ['--config', YAML, '--hive-site', SITE],
      {},
      { [YAML]: 'hs2:\n  - fromHiveSite: yes please\n', [SITE]: site(MR3) },
    ),
  ).problems
  t.match(notBool, [{ key: inYaml('hs2[0].fromHiveSite'), message: /true or false/ }])

  // without a hive-site, --hs2-listen alone still lacks its URL, reported against --hs2
  t.match(configErrorOf(memDeps(['--hs2-listen', '10001'])).problems, [
    { key: '--hs2', message: /no JDBC URL/, fix: /--hive-site with --hs2-listen/ },
  ])
})

t.test('check: the principal clients set, when the configuration knows it', async (t) => {
  const check = (url: string): string => {
    const { config, sources } = runConfig(memDeps(['--hs2', url]))
    return describeConfig(config, sources)
  }
  t.match(
    check('jdbc:hive2://h1:10000/;principal=hive/shared.example.com@R'),
    'Kerberos: clients set principal=hive/shared.example.com@R in their JDBC URL (from principal= in --hs2)',
  )
  t.match(
    check('jdbc:hive2://H1.example.com:10000/;principal=hive/_HOST@R'),
    'clients set principal=hive/h1.example.com@R',
    'one host: _HOST is that host',
  )
  t.match(
    check('jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeeper;principal=hive/_HOST@R'),
    /Kerberos: hive\/_HOST@R \(from principal= in --hs2\) is a per-host principal: .* one shared service principal/,
  )
  t.notMatch(check('jdbc:hive2://h1:10000/'), /Kerberos/)
})
