import t from 'tap'
import {
  hs2RouteFromJdbcUrl,
  hs2TargetFromJdbcUrl,
  parseJdbcUrl,
  type Hs2UrlRoute,
  type JdbcUrl,
} from '../../src/config/jdbc-url.js'
import type { Hs2Target } from '../../src/config/types.js'

const CODE = 'HHP_ERR_JDBC_URL'

interface ParseCase {
  name: string
  url: string
  want: Partial<Omit<JdbcUrl, 'sessionVars' | 'hiveConfs' | 'hiveVars'>> & {
    sessionVars?: Record<string, string>
    hiveConfs?: Record<string, string>
    hiveVars?: Record<string, string>
  }
}

const parseCases: ParseCase[] = [
  {
    name: 'all four parts',
    url: 'jdbc:hive2://zk1:2181,zk2:2181,zk3:2181/sales;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=hiveserver2?hive.exec.parallel=true#etl_date=2024-01-01',
    want: {
      authority: 'zk1:2181,zk2:2181,zk3:2181',
      embedded: false,
      dbName: 'sales',
      sessionVars: { serviceDiscoveryMode: 'zooKeeper', zooKeeperNamespace: 'hiveserver2' },
      hiveConfs: { 'hive.exec.parallel': 'true' },
      hiveVars: { etl_date: '2024-01-01' },
    },
  },
  {
    name: 'no path at all -> dbName default',
    url: 'jdbc:hive2://h:10000',
    want: { authority: 'h:10000', dbName: 'default', sessionVars: {} },
  },
  { name: 'bare / -> dbName default', url: 'jdbc:hive2://h:10000/', want: { dbName: 'default' } },
  {
    name: 'empty dbName before ; -> default',
    url: 'jdbc:hive2://h:10000/;ssl=true',
    want: { dbName: 'default', sessionVars: { ssl: 'true' } },
  },
  {
    name: 'dbName without session vars',
    url: 'jdbc:hive2://h:10000/sales',
    want: { dbName: 'sales', sessionVars: {} },
  },
  {
    name: '"/" wins over an earlier "?" (priority, not earliest)',
    url: 'jdbc:hive2://zk:2181?hive.exec.scratchdir=/tmp/x',
    want: { authority: 'zk:2181?hive.exec.scratchdir=', dbName: 'tmp/x', hiveConfs: {} },
  },
  {
    name: '"?" ends the authority when there is no "/"',
    url: 'jdbc:hive2://h:1?a=b#c=d',
    want: { authority: 'h:1', dbName: 'default', hiveConfs: { a: 'b' }, hiveVars: { c: 'd' } },
  },
  {
    name: '"#" ends the authority when there is no "/" or "?"',
    url: 'jdbc:hive2://h:1#c=d',
    want: { authority: 'h:1', hiveVars: { c: 'd' } },
  },
  {
    name: '"/" wins over an earlier "#"',
    url: 'jdbc:hive2://h:1#x=/y',
    want: { authority: 'h:1#x=', dbName: 'y', hiveVars: {} },
  },
  {
    name: 'missing "/" before session vars: authority runs to the first "/"',
    url: 'jdbc:hive2://h:10000;principal=hive/_HOST@EXAMPLE.COM',
    want: { authority: 'h:10000;principal=hive', dbName: '_HOST@EXAMPLE.COM', sessionVars: {} },
  },
  {
    name: '%3B decodes before splitting',
    url: 'jdbc:hive2://h:1/db%3Bk=v',
    want: { dbName: 'db', sessionVars: { k: 'v' } },
  },
  {
    name: '%3D decodes to a key/value separator',
    url: 'jdbc:hive2://h:1/db;k%3Dv',
    want: { sessionVars: { k: 'v' } },
  },
  {
    name: '%3B in the query separates hiveconfs',
    url: 'jdbc:hive2://h:1/?a=1%3Bb=2',
    want: { hiveConfs: { a: '1', b: '2' } },
  },
  {
    name: 'UTF-8 escapes decode',
    url: 'jdbc:hive2://h:1/caf%C3%A9;user=j%C3%B6rg',
    want: { dbName: 'café', sessionVars: { user: 'jörg' } },
  },
  {
    name: 'invalid UTF-8 escapes become U+FFFD (as Java)',
    url: 'jdbc:hive2://h:1/db;k=%FF',
    want: { sessionVars: { k: '\uFFFD' } },
  },
  {
    name: 'non-ASCII letters are legal unescaped',
    url: 'jdbc:hive2://h:1/db;user=jörg',
    want: { sessionVars: { user: 'jörg' } },
  },
  {
    name: 'greedy session-var key: a=b=c -> key a=b',
    url: 'jdbc:hive2://h:1/db;a=b=c',
    want: { sessionVars: { 'a=b': 'c' } },
  },
  {
    name: 'greedy hiveconf key',
    url: 'jdbc:hive2://h:1/?x=y=z',
    want: { hiveConfs: { 'x=y': 'z' } },
  },
  {
    name: 'segments without "=" are ignored',
    url: 'jdbc:hive2://h:1/db;flag;k=v;;',
    want: { sessionVars: { k: 'v' } },
  },
  {
    name: 'empty key and empty value',
    url: 'jdbc:hive2://h:1/db;=v;k=',
    want: { sessionVars: { '': 'v', k: '' } },
  },
  {
    name: 'hiveconf duplicate: last wins',
    url: 'jdbc:hive2://h:1/?a=1;a=2',
    want: { hiveConfs: { a: '2' } },
  },
  {
    name: 'hivevar duplicate: last wins',
    url: 'jdbc:hive2://h:1/#v=1;v=2',
    want: { hiveVars: { v: '2' } },
  },
  {
    name: 'empty query and fragment',
    url: 'jdbc:hive2://h:1/?#',
    want: { hiveConfs: {}, hiveVars: {} },
  },
  {
    name: '"[" "]" "?" "/" are legal in the query',
    url: 'jdbc:hive2://h:1/?a=[1]?/',
    want: { hiveConfs: { a: '[1]?/' } },
  },
  {
    name: 'chroot-looking path is the dbName',
    url: 'jdbc:hive2://zk1:2181,zk2:2181/hive;serviceDiscoveryMode=zooKeeper',
    want: {
      authority: 'zk1:2181,zk2:2181',
      dbName: 'hive',
      sessionVars: { serviceDiscoveryMode: 'zooKeeper' },
    },
  },
  {
    name: 'embedded: bare prefix',
    url: 'jdbc:hive2://',
    want: { authority: '', embedded: true, dbName: 'default' },
  },
  {
    name: 'embedded: empty authority with db',
    url: 'jdbc:hive2:///sales;a=b',
    want: { authority: '', embedded: true, dbName: 'sales', sessionVars: { a: 'b' } },
  },
  {
    name: 'embedded: empty authority with query',
    url: 'jdbc:hive2://?a=b',
    want: { embedded: true, hiveConfs: { a: 'b' } },
  },
  {
    name: 'prefix is case-insensitive',
    url: 'JDBC:HIVE2://h:1/db',
    want: { authority: 'h:1', dbName: 'db' },
  },
]

for (const c of parseCases) {
  t.test(`parseJdbcUrl: ${c.name}`, async (t) => {
    const u = parseJdbcUrl(c.url)
    const { sessionVars, hiveConfs, hiveVars, ...scalars } = c.want
    t.match(u, scalars)
    if (sessionVars) t.same(Object.fromEntries(u.sessionVars), sessionVars, 'sessionVars')
    if (hiveConfs) t.same(Object.fromEntries(u.hiveConfs), hiveConfs, 'hiveConfs')
    if (hiveVars) t.same(Object.fromEntries(u.hiveVars), hiveVars, 'hiveVars')
  })
}

interface ErrCase {
  name: string
  url: string
  message: RegExp
}

const parseErrors: ErrCase[] = [
  {
    name: 'wrong scheme',
    url: 'jdbc:hive://h:10000/',
    message: /expected it to start with "jdbc:hive2:\/\/"/,
  },
  { name: 'no jdbc: prefix', url: 'hive2://h:10000/', message: /jdbc:hive2:\/\// },
  { name: 'other driver', url: 'jdbc:mysql://h:3306/db', message: /not a Hive JDBC URL/ },
  {
    name: 'duplicate session var',
    url: 'jdbc:hive2://h:1/db;ssl=true;ssl=false',
    message: /"ssl" is given more than once/,
  },
  {
    name: 'duplicate session var via %3B',
    url: 'jdbc:hive2://h:1/db;a=1%3Ba=2',
    message: /"a" is given more than once/,
  },
  {
    name: 'duplicate session var with empty value',
    url: 'jdbc:hive2://h:1/db;a=;a=',
    message: /more than once/,
  },
  {
    name: 'space in the path',
    url: 'jdbc:hive2://h:1/db;user=a b',
    message: /a space in the JDBC URL path .*%20/,
  },
  {
    name: 'space in the query',
    url: 'jdbc:hive2://h:1/?a=b c',
    message: /a space in the JDBC URL query/,
  },
  {
    name: '"|" in the fragment',
    url: 'jdbc:hive2://h:1/#a=b|c',
    message: /"\|" in the JDBC URL fragment/,
  },
  { name: 'second "#"', url: 'jdbc:hive2://h:1/#a=1#b=2', message: /"#" in the JDBC URL fragment/ },
  {
    name: '"[" in the path',
    url: 'jdbc:hive2://h:1/db;a=[1]',
    message: /"\[" in the JDBC URL path/,
  },
  {
    name: 'malformed percent escape',
    url: 'jdbc:hive2://h:1/db;a=%zz',
    message: /malformed percent-escape "%zz"/,
  },
  {
    name: 'truncated percent escape',
    url: 'jdbc:hive2://h:1/db;a=%4',
    message: /malformed percent-escape/,
  },
  { name: 'control character', url: 'jdbc:hive2://h:1/db;a=\t', message: /U\+0009/ },
  { name: 'non-ASCII space separator', url: 'jdbc:hive2://h:1/db;a=\u00a0', message: /U\+00A0/ },
]

for (const c of parseErrors) {
  t.test(`parseJdbcUrl rejects: ${c.name}`, async (t) => {
    t.throws(() => parseJdbcUrl(c.url), { code: CODE, name: 'JdbcUrlError', message: c.message })
  })
}

interface TargetCase {
  name: string
  url: string
  want: Hs2Target
}

const targetCases: TargetCase[] = [
  {
    name: 'zooKeeper, quorum with ports, default namespace',
    url: 'jdbc:hive2://zk1:2181,zk2:2181,zk3:2181/;serviceDiscoveryMode=zooKeeper',
    want: { kind: 'zookeeper', quorum: 'zk1:2181,zk2:2181,zk3:2181', namespace: 'hiveserver2' },
  },
  {
    name: 'zooKeeper, hosts without ports get :2181',
    url: 'jdbc:hive2://zk1,zk2:2182,zk3/default;serviceDiscoveryMode=zooKeeper',
    want: { kind: 'zookeeper', quorum: 'zk1:2181,zk2:2182,zk3:2181', namespace: 'hiveserver2' },
  },
  {
    name: 'zooKeeper, IPv6 quorum members',
    url: 'jdbc:hive2://[::1],[fe80::1]:2182,10.0.0.7/;serviceDiscoveryMode=zooKeeper',
    want: {
      kind: 'zookeeper',
      quorum: '[::1]:2181,[fe80::1]:2182,10.0.0.7:2181',
      namespace: 'hiveserver2',
    },
  },
  {
    name: 'mode value is case-insensitive',
    url: 'jdbc:hive2://zk1:2181/;serviceDiscoveryMode=ZOOKEEPER;zooKeeperNamespace=hs2_prod',
    want: { kind: 'zookeeper', quorum: 'zk1:2181', namespace: 'hs2_prod' },
  },
  {
    name: 'zooKeeperHA, default HA namespace',
    url: 'jdbc:hive2://zk1:2181,zk2:2181/;serviceDiscoveryMode=zooKeeperHA',
    want: { kind: 'zookeeper-ha', quorum: 'zk1:2181,zk2:2181', namespace: 'hs2ActivePassiveHA' },
  },
  {
    name: 'zooKeeperHA, lower-case value, custom namespace',
    url: 'jdbc:hive2://zk1/;serviceDiscoveryMode=zookeeperha;zooKeeperNamespace=hs2HA',
    want: { kind: 'zookeeper-ha', quorum: 'zk1:2181', namespace: 'hs2HA' },
  },
  {
    name: 'namespace: leading/trailing "/" stripped, nesting kept',
    url: 'jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=/hive/hs2/',
    want: { kind: 'zookeeper', quorum: 'zk1:2181', namespace: 'hive/hs2' },
  },
  {
    name: 'namespace: empty value -> Hive default',
    url: 'jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=',
    want: { kind: 'zookeeper', quorum: 'zk1:2181', namespace: 'hiveserver2' },
  },
  {
    name: 'namespace given through %2F',
    url: 'jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=a%2Fb',
    want: { kind: 'zookeeper', quorum: 'zk1:2181', namespace: 'a/b' },
  },
  {
    name: 'zooKeeper with a plain dbName (ignored by the route)',
    url: 'jdbc:hive2://zk1:2181/hive;serviceDiscoveryMode=zooKeeper',
    want: { kind: 'zookeeper', quorum: 'zk1:2181', namespace: 'hiveserver2' },
  },
  {
    name: 'zooKeeper, mode given with other vars and hiveconfs',
    url: 'jdbc:hive2://zk1:2181/sales;ssl=true;serviceDiscoveryMode=zooKeeper;transportMode=binary?hive.exec.parallel=true',
    want: { kind: 'zookeeper', quorum: 'zk1:2181', namespace: 'hiveserver2' },
  },
  {
    name: 'direct, default port',
    url: 'jdbc:hive2://hs2a.example.com/',
    want: { kind: 'static', backends: [{ host: 'hs2a.example.com', port: 10000 }] },
  },
  {
    name: 'direct, no path',
    url: 'jdbc:hive2://hs2a.example.com:10001',
    want: { kind: 'static', backends: [{ host: 'hs2a.example.com', port: 10001 }] },
  },
  {
    name: 'direct, multi-host list (proxy extension)',
    url: 'jdbc:hive2://hs2a:10000,hs2b,10.0.0.9:10002/default',
    want: {
      kind: 'static',
      backends: [
        { host: 'hs2a', port: 10000 },
        { host: 'hs2b', port: 10000 },
        { host: '10.0.0.9', port: 10002 },
      ],
    },
  },
  {
    name: 'direct, IPv6 with and without port (brackets stripped)',
    url: 'jdbc:hive2://[::1]:10001,[2001:db8::5]/',
    want: {
      kind: 'static',
      backends: [
        { host: '::1', port: 10001 },
        { host: '2001:db8::5', port: 10000 },
      ],
    },
  },
  {
    name: 'serviceDiscoveryMode=none -> direct',
    url: 'jdbc:hive2://hs2a:10000/;serviceDiscoveryMode=none',
    want: { kind: 'static', backends: [{ host: 'hs2a', port: 10000 }] },
  },
  {
    name: 'serviceDiscoveryMode=none is direct (Hive constant)',
    url: 'jdbc:hive2://hs2a:10000/;serviceDiscoveryMode=none',
    want: { kind: 'static', backends: [{ host: 'hs2a', port: 10000 }] },
  },
  {
    name: 'transportMode=binary is fine',
    url: 'jdbc:hive2://hs2a/;transportMode=binary',
    want: { kind: 'static', backends: [{ host: 'hs2a', port: 10000 }] },
  },
  {
    name: 'deprecated hiveconf transport mode overrides the session var',
    url: 'jdbc:hive2://hs2a/;transportMode=http?hive.server2.transport.mode=binary',
    want: { kind: 'static', backends: [{ host: 'hs2a', port: 10000 }] },
  },
]

for (const c of targetCases) {
  t.test(`hs2TargetFromJdbcUrl: ${c.name}`, async (t) => {
    t.same(hs2TargetFromJdbcUrl(c.url), c.want)
  })
}

const targetErrors: ErrCase[] = [
  // deliberate deviation from Hive, which would fall back to direct mode and dial ZooKeeper as HS2
  {
    name: 'unknown discovery mode value',
    url: 'jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zk',
    message: /serviceDiscoveryMode=zk is neither zooKeeper nor zooKeeperHA/,
  },
  {
    name: 'namespace without a discovery mode',
    url: 'jdbc:hive2://zk1:2181/;zooKeeperNamespace=hiveserver2',
    message: /zooKeeperNamespace is set but serviceDiscoveryMode is not/,
  },
  {
    name: 'discovery mode key in the wrong case',
    url: 'jdbc:hive2://zk1:2181/;servicediscoverymode=zooKeeper',
    message: /case-sensitive.*serviceDiscoveryMode/,
  },
  {
    name: 'embedded (bare)',
    url: 'jdbc:hive2://',
    message: /embedded-mode URL.*needs a ZooKeeper quorum or a HiveServer2 host list/,
  },
  {
    name: 'embedded (with db and mode)',
    url: 'jdbc:hive2:///default;serviceDiscoveryMode=zooKeeper',
    message: /embedded-mode/,
  },
  {
    name: 'transportMode neither binary nor http',
    url: 'jdbc:hive2://hs2a:10001/;transportMode=htp',
    message: /"transportMode=htp" is neither binary nor http/,
  },
  {
    name: 'deprecated hiveconf transport mode neither binary nor http',
    url: 'jdbc:hive2://hs2a/?hive.server2.transport.mode=https',
    message: /hive\.server2\.transport\.mode=https/,
  },
  {
    name: 'httpPath that is only slashes',
    url: 'jdbc:hive2://hs2a/;transportMode=http;httpPath=//',
    message: /"httpPath=\/\/" is not a usable HTTP path/,
  },
  {
    name: 'httpPath with a space (percent-decoded)',
    url: 'jdbc:hive2://hs2a/;transportMode=http;httpPath=cli%20service',
    message: /not a usable HTTP path/,
  },
  {
    name: 'chroot in a ZooKeeper URL',
    url: 'jdbc:hive2://zk1:2181/hive/prod;serviceDiscoveryMode=zooKeeper',
    message:
      /chroot is not expressible in a Hive JDBC URL.*zooKeeperNamespace=hive\/prod\/hiveserver2/,
  },
  {
    name: 'namespace of only "/"',
    url: 'jdbc:hive2://zk1/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=/',
    message: /"zooKeeperNamespace=\/" names no znode/,
  },
  {
    name: 'namespace with "//"',
    url: 'jdbc:hive2://zk1/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=a//b',
    message: /not a valid ZooKeeper path/,
  },
  {
    name: 'namespace with ".."',
    url: 'jdbc:hive2://zk1/;serviceDiscoveryMode=zooKeeperHA;zooKeeperNamespace=a/../b',
    message: /bad element "\.\."/,
  },
  {
    name: 'ZK quorum bad port',
    url: 'jdbc:hive2://zk1:21x81/;serviceDiscoveryMode=zooKeeper',
    message: /bad port "21x81" in "zk1:21x81" of the ZooKeeper quorum/,
  },
  {
    name: 'ZK quorum empty member',
    url: 'jdbc:hive2://zk1,,zk2/;serviceDiscoveryMode=zooKeeper',
    message: /empty host/,
  },
  {
    name: 'ZK quorum trailing comma',
    url: 'jdbc:hive2://zk1,/;serviceDiscoveryMode=zooKeeper',
    message: /empty host/,
  },
  { name: 'direct port 0', url: 'jdbc:hive2://hs2a:0/', message: /bad port "0"/ },
  {
    name: 'direct port 65536',
    url: 'jdbc:hive2://hs2a:65536/',
    message: /bad port "65536".*1 to 65535/,
  },
  { name: 'direct port non-numeric', url: 'jdbc:hive2://hs2a:http/', message: /bad port "http"/ },
  { name: 'direct empty port', url: 'jdbc:hive2://hs2a:/', message: /bad port ""/ },
  { name: 'direct empty host', url: 'jdbc:hive2://:10000/', message: /has no host/ },
  { name: 'direct empty list member', url: 'jdbc:hive2://hs2a,,hs2b/', message: /empty host/ },
  {
    name: 'direct duplicate (default port)',
    url: 'jdbc:hive2://hs2a,hs2a:10000/',
    message: /"hs2a:10000" appears twice/,
  },
  {
    name: 'direct duplicate (case-insensitive host)',
    url: 'jdbc:hive2://HS2A:10000,hs2a:10000/',
    message: /appears twice/,
  },
  {
    name: 'direct unbracketed IPv6',
    url: 'jdbc:hive2://::1/',
    message: /IPv6 address without brackets/,
  },
  { name: 'direct broken brackets', url: 'jdbc:hive2://[::1/', message: /bracketed IPv6/ },
  {
    name: 'direct bad host characters',
    url: 'jdbc:hive2://hs2 a:10000/',
    message: /not a host name/,
  },
  {
    name: 'missing "/" before session vars',
    url: 'jdbc:hive2://zk1:2181;serviceDiscoveryMode=zooKeeper',
    message: /contains ";": a "\/" is missing after the host list/,
  },
  {
    name: '"?" before a later "/" lands in the authority',
    url: 'jdbc:hive2://zk1:2181?hive.exec.scratchdir=/tmp',
    message: /contains "\?".*even when a "\?" or "#" comes earlier/,
  },
  {
    name: 'user info in the authority',
    url: 'jdbc:hive2://bob@hs2a:10000/',
    message: /contains "@"/,
  },
  { name: 'parse errors propagate', url: 'jdbc:hive2://hs2a/;a=1;a=2', message: /more than once/ },
]

for (const c of targetErrors) {
  t.test(`hs2TargetFromJdbcUrl rejects: ${c.name}`, async (t) => {
    t.throws(() => hs2TargetFromJdbcUrl(c.url), { code: CODE, message: c.message })
  })
}

const routeCases: { name: string; url: string; want: Hs2UrlRoute }[] = [
  {
    name: 'binary by default, httpPath default cliservice',
    url: 'jdbc:hive2://hs2a:10000/',
    want: {
      target: { kind: 'static', backends: [{ host: 'hs2a', port: 10000 }] },
      transportMode: 'binary',
      httpPath: 'cliservice',
      principal: undefined,
    },
  },
  {
    name: 'transportMode=http with ZooKeeper discovery and httpPath',
    url: 'jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=hs2;transportMode=http;httpPath=cliservice',
    want: {
      target: { kind: 'zookeeper', quorum: 'zk1:2181', namespace: 'hs2' },
      transportMode: 'http',
      httpPath: 'cliservice',
      principal: undefined,
    },
  },
  {
    name: 'transportMode=HTTP is case-insensitive; httpPath slashes trimmed, nested kept',
    url: 'jdbc:hive2://h1:10001,h2/;transportMode=HTTP;httpPath=/gateway/hive/',
    want: {
      target: {
        kind: 'static',
        backends: [
          { host: 'h1', port: 10001 },
          { host: 'h2', port: 10001 },
        ],
      },
      transportMode: 'http',
      httpPath: 'gateway/hive',
      principal: undefined,
    },
  },
  {
    name: 'the deprecated hiveconfs win over the session vars',
    url: 'jdbc:hive2://zk1/;serviceDiscoveryMode=zooKeeperHA;transportMode=binary;httpPath=a?hive.server2.transport.mode=http;hive.server2.thrift.http.path=b',
    want: {
      target: { kind: 'zookeeper-ha', quorum: 'zk1:2181', namespace: 'hs2ActivePassiveHA' },
      transportMode: 'http',
      httpPath: 'b',
      principal: undefined,
    },
  },
  {
    name: 'the principal session variable is kept (shown by check)',
    url: 'jdbc:hive2://zk1:2181/;serviceDiscoveryMode=zooKeeper;principal=hive/_HOST@EXAMPLE.COM',
    want: {
      target: { kind: 'zookeeper', quorum: 'zk1:2181', namespace: 'hiveserver2' },
      transportMode: 'binary',
      httpPath: 'cliservice',
      principal: 'hive/_HOST@EXAMPLE.COM',
    },
  },
]

for (const c of routeCases) {
  t.test(`hs2RouteFromJdbcUrl: ${c.name}`, async (t) => {
    t.same(hs2RouteFromJdbcUrl(c.url), c.want)
  })
}
