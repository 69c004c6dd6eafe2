import t from 'tap'
import {
  isServerUriChild,
  parseHs2Znode,
  znodeError,
  type Hs2Instance,
} from '../../src/discovery/hs2-znode.js'

/** What HS2 4.x publishes (HashMap order) for a binary-mode instance with NONE auth. */
const HS2A_NAME = 'serverUri=hs2a.example.com:10000;version=4.0.0;sequence=0000000007'
const HS2A_DATA =
  'hive.server2.instance.uri=hs2a.example.com:10000;hive.server2.authentication=NONE;' +
  'hive.server2.transport.mode=binary;hive.server2.thrift.sasl.qop=auth;' +
  'hive.server2.thrift.bind.host=hs2a.example.com;hive.server2.thrift.port=10000;hive.server2.use.SSL=false'

interface OkCase {
  name: string
  znode: string
  data: Buffer | string | undefined
  want: Hs2Instance
}

const okCases: OkCase[] = [
  {
    name: 'HS2 4.x binary registration',
    znode: HS2A_NAME,
    data: Buffer.from(HS2A_DATA),
    want: {
      key: 'hs2a.example.com:10000',
      host: 'hs2a.example.com',
      port: 10000,
      znode: HS2A_NAME,
      transportMode: 'binary',
      version: '4.0.0',
      authentication: 'NONE',
    },
  },
  {
    name: 'same data as a string',
    znode: HS2A_NAME,
    data: HS2A_DATA,
    want: {
      key: 'hs2a.example.com:10000',
      host: 'hs2a.example.com',
      port: 10000,
      znode: HS2A_NAME,
      transportMode: 'binary',
      version: '4.0.0',
      authentication: 'NONE',
    },
  },
  {
    name: 'transport mode all: binary port is used, http port ignored',
    znode: 'serverUri=hs2b.example.com:10000;version=4.0.0;sequence=0000000008',
    data: Buffer.from(
      'hive.server2.thrift.http.path=cliservice;hive.server2.instance.uri=hs2b.example.com:10000;' +
        'hive.server2.authentication=LDAP;hive.server2.transport.mode=all;hive.server2.thrift.http.port=10001;' +
        'hive.server2.thrift.sasl.qop=auth;hive.server2.thrift.bind.host=hs2b.example.com;' +
        'hive.server2.thrift.port=10000;hive.server2.use.SSL=true',
    ),
    want: {
      key: 'hs2b.example.com:10000',
      host: 'hs2b.example.com',
      port: 10000,
      znode: 'serverUri=hs2b.example.com:10000;version=4.0.0;sequence=0000000008',
      transportMode: 'all',
      version: '4.0.0',
      authentication: 'LDAP',
      ssl: true,
    },
  },
  {
    name: 'Kerberos registration (principal contains "/" and "@")',
    znode: 'serverUri=hs2c.example.com:10000;version=3.1.3;sequence=0000000011',
    data:
      'hive.server2.authentication.kerberos.principal=hive/_HOST@EXAMPLE.COM;hive.server2.authentication=KERBEROS;' +
      'hive.server2.transport.mode=binary;hive.server2.thrift.sasl.qop=auth-conf;' +
      'hive.server2.thrift.bind.host=hs2c.example.com;hive.server2.thrift.port=10000;hive.server2.use.SSL=false;' +
      'hive.server2.instance.uri=hs2c.example.com:10000',
    want: {
      key: 'hs2c.example.com:10000',
      host: 'hs2c.example.com',
      port: 10000,
      znode: 'serverUri=hs2c.example.com:10000;version=3.1.3;sequence=0000000011',
      transportMode: 'binary',
      version: '3.1.3',
      authentication: 'KERBEROS',
      principal: 'hive/_HOST@EXAMPLE.COM',
    },
  },
  {
    name: 'Hive 4 method list, blank principal dropped, principal written out kept as is',
    znode: 'serverUri=hs2e.example.com:10000;version=4.0.0;sequence=0000000012',
    data:
      'hive.server2.authentication= KERBEROS,LDAP ;hive.server2.authentication.kerberos.principal=;' +
      'hive.server2.thrift.bind.host=hs2e.example.com;hive.server2.thrift.port=10000',
    want: {
      key: 'hs2e.example.com:10000',
      host: 'hs2e.example.com',
      port: 10000,
      znode: 'serverUri=hs2e.example.com:10000;version=4.0.0;sequence=0000000012',
      transportMode: 'binary',
      version: '4.0.0',
      authentication: 'KERBEROS,LDAP',
    },
  },
  {
    name: 'HS2 2.x data (no instance.uri)',
    znode: 'serverUri=hs2d.example.com:10010;version=2.3.9;sequence=0000000001',
    data:
      'hive.server2.authentication=NONE;hive.server2.transport.mode=binary;hive.server2.thrift.sasl.qop=auth;' +
      'hive.server2.thrift.bind.host=hs2d.example.com;hive.server2.thrift.port=10010;hive.server2.use.SSL=false',
    want: {
      key: 'hs2d.example.com:10010',
      host: 'hs2d.example.com',
      port: 10010,
      znode: 'serverUri=hs2d.example.com:10010;version=2.3.9;sequence=0000000001',
      transportMode: 'binary',
      version: '2.3.9',
      authentication: 'NONE',
    },
  },
  {
    name: 'upper-case transport mode',
    znode: 'serverUri=h:10000;version=4.0.0;sequence=0000000001',
    data: 'hive.server2.transport.mode=BINARY;hive.server2.thrift.bind.host=h;hive.server2.thrift.port=10000',
    want: {
      key: 'h:10000',
      host: 'h',
      port: 10000,
      znode: 'serverUri=h:10000;version=4.0.0;sequence=0000000001',
      transportMode: 'binary',
      version: '4.0.0',
    },
  },
  {
    name: 'missing transport mode -> binary',
    znode: 'serverUri=h:10000;version=4.0.0;sequence=0000000001',
    data: 'hive.server2.thrift.bind.host=h;hive.server2.thrift.port=10000',
    want: {
      key: 'h:10000',
      host: 'h',
      port: 10000,
      znode: 'serverUri=h:10000;version=4.0.0;sequence=0000000001',
      transportMode: 'binary',
      version: '4.0.0',
    },
  },
  {
    name: 'bind.host/thrift.port missing -> instance.uri',
    znode: 'serverUri=name.example.com:1;version=4.0.0;sequence=0000000002',
    data: 'hive.server2.instance.uri=uri.example.com:10005;hive.server2.transport.mode=binary',
    want: {
      key: 'uri.example.com:10005',
      host: 'uri.example.com',
      port: 10005,
      znode: 'serverUri=name.example.com:1;version=4.0.0;sequence=0000000002',
      transportMode: 'binary',
      version: '4.0.0',
    },
  },
  {
    name: 'only thrift.port missing: host from bind.host, port from instance.uri',
    znode: 'serverUri=name.example.com:1;version=4.0.0;sequence=0000000002',
    data: 'hive.server2.thrift.bind.host=bind.example.com;hive.server2.instance.uri=uri.example.com:10006',
    want: {
      key: 'bind.example.com:10006',
      host: 'bind.example.com',
      port: 10006,
      znode: 'serverUri=name.example.com:1;version=4.0.0;sequence=0000000002',
      transportMode: 'binary',
      version: '4.0.0',
    },
  },
  {
    name: 'nothing usable in data -> serverUri= of the child name',
    znode: 'serverUri=hs2e.example.com:10000;version=4.0.0;sequence=0000000003',
    data: 'hive.server2.authentication=NONE;hive.server2.transport.mode=binary',
    want: {
      key: 'hs2e.example.com:10000',
      host: 'hs2e.example.com',
      port: 10000,
      znode: 'serverUri=hs2e.example.com:10000;version=4.0.0;sequence=0000000003',
      transportMode: 'binary',
      version: '4.0.0',
      authentication: 'NONE',
    },
  },
  {
    name: 'bind.host overrides instance.uri (Hive applies bind.host always)',
    znode: HS2A_NAME,
    data: 'hive.server2.instance.uri=old.example.com:10000;hive.server2.thrift.bind.host=new.example.com;hive.server2.thrift.port=10000',
    want: {
      key: 'new.example.com:10000',
      host: 'new.example.com',
      port: 10000,
      znode: HS2A_NAME,
      transportMode: 'binary',
      version: '4.0.0',
    },
  },
  {
    name: 'repeated key: last wins',
    znode: HS2A_NAME,
    data: 'hive.server2.thrift.bind.host=a;hive.server2.thrift.port=1;hive.server2.thrift.port=10000',
    want: {
      key: 'a:10000',
      host: 'a',
      port: 10000,
      znode: HS2A_NAME,
      transportMode: 'binary',
      version: '4.0.0',
    },
  },
  {
    name: 'IPv6 bind host: key bracketed, host bare',
    znode: 'serverUri=0:0:0:0:0:0:0:1:10000;version=4.0.0;sequence=0000000004',
    data: 'hive.server2.thrift.bind.host=0:0:0:0:0:0:0:1;hive.server2.thrift.port=10000;hive.server2.transport.mode=binary',
    want: {
      key: '[0:0:0:0:0:0:0:1]:10000',
      host: '0:0:0:0:0:0:0:1',
      port: 10000,
      znode: 'serverUri=0:0:0:0:0:0:0:1:10000;version=4.0.0;sequence=0000000004',
      transportMode: 'binary',
      version: '4.0.0',
    },
  },
  {
    name: 'IPv6 only in the child name',
    znode: 'serverUri=[::1]:10000;version=4.0.0;sequence=0000000004',
    data: 'hive.server2.transport.mode=binary',
    want: {
      key: '[::1]:10000',
      host: '::1',
      port: 10000,
      znode: 'serverUri=[::1]:10000;version=4.0.0;sequence=0000000004',
      transportMode: 'binary',
      version: '4.0.0',
    },
  },
  {
    name: 'legacy host:port data',
    znode: 'serverUri=hs2f.example.com:10000;version=1.2.1;sequence=0000000000',
    data: Buffer.from('hs2f.example.com:10000'),
    want: {
      key: 'hs2f.example.com:10000',
      host: 'hs2f.example.com',
      port: 10000,
      znode: 'serverUri=hs2f.example.com:10000;version=1.2.1;sequence=0000000000',
      transportMode: 'binary',
      version: '1.2.1',
    },
  },
  {
    name: 'legacy with trailing ":" (Java split drops trailing empties)',
    znode: 'serverUri=h:10000;sequence=0000000000',
    data: 'h:10000:',
    want: {
      key: 'h:10000',
      host: 'h',
      port: 10000,
      znode: 'serverUri=h:10000;sequence=0000000000',
      transportMode: 'binary',
    },
  },
]

for (const c of okCases) {
  t.test(`parseHs2Znode ok: ${c.name}`, async (t) => {
    const p = parseHs2Znode(c.znode, c.data)
    t.same(p, { ok: true, instance: c.want })
  })
}

interface BadCase {
  name: string
  znode: string
  data: Buffer | string | undefined
  reason: RegExp
}

const badCases: BadCase[] = [
  {
    name: 'http-only instance',
    znode: 'serverUri=hs2h.example.com:10001;version=4.0.0;sequence=0000000009',
    data:
      'hive.server2.thrift.http.path=cliservice;hive.server2.instance.uri=hs2h.example.com:10001;' +
      'hive.server2.authentication=NONE;hive.server2.transport.mode=http;hive.server2.thrift.http.port=10001;' +
      'hive.server2.thrift.bind.host=hs2h.example.com;hive.server2.use.SSL=false',
    reason: /^transport mode http \(a binary front routes only to binary or all\)$/,
  },
  {
    name: 'HTTP upper-case',
    znode: HS2A_NAME,
    data: 'hive.server2.transport.mode=HTTP;hive.server2.thrift.bind.host=h;hive.server2.thrift.port=1',
    reason: /transport mode http/,
  },
  {
    name: 'unknown transport mode',
    znode: HS2A_NAME,
    data: HS2A_DATA.replace('mode=binary', 'mode=websocket'),
    reason: /unknown transport mode "websocket"/,
  },
  {
    name: 'port out of range',
    znode: HS2A_NAME,
    data: HS2A_DATA.replace('thrift.port=10000', 'thrift.port=99999'),
    reason: /bad port "99999"/,
  },
  {
    name: 'port 0',
    znode: HS2A_NAME,
    data: HS2A_DATA.replace('thrift.port=10000', 'thrift.port=0'),
    reason: /bad port "0"/,
  },
  {
    name: 'non-numeric port (no fallback past a present key)',
    znode: HS2A_NAME,
    data: HS2A_DATA.replace('thrift.port=10000', 'thrift.port=ten'),
    reason: /bad port "ten"/,
  },
  { name: 'empty data', znode: HS2A_NAME, data: '', reason: /empty znode data/ },
  { name: 'undefined data', znode: HS2A_NAME, data: undefined, reason: /empty znode data/ },
  { name: 'empty Buffer', znode: HS2A_NAME, data: Buffer.alloc(0), reason: /empty znode data/ },
  {
    name: 'kv data without host/port and a non-serverUri name',
    znode: 'leader',
    data: 'foo=bar',
    reason: /^no host: .*serverUri=/,
  },
  {
    name: 'host but no port anywhere',
    znode: 'oddchild',
    data: 'hive.server2.thrift.bind.host=h',
    reason: /^no port/,
  },
  {
    name: 'LeaderLatch "leader" child data (an IP, Curator default)',
    znode: 'leader',
    data: '10.1.2.3',
    reason: /legacy znode data "10\.1\.2\.3" is not host:port/,
  },
  { name: 'legacy IPv6 literal', znode: 'serverUri=x', data: '::1:10000', reason: /IPv6/ },
  {
    name: 'legacy with three parts',
    znode: 'serverUri=x',
    data: 'a:b:10000',
    reason: /exactly two parts/,
  },
  { name: 'legacy bad port', znode: 'serverUri=x', data: 'h:abc', reason: /bad port "abc"/ },
  { name: 'legacy empty host', znode: 'serverUri=x', data: ':10000', reason: /bad host ""/ },
  {
    name: 'garbage bytes',
    znode: 'serverUri=x',
    data: Buffer.from([0xff, 0xfe, 0x00, 0x01]),
    reason: /legacy znode data/,
  },
  {
    name: 'host with whitespace',
    znode: HS2A_NAME,
    data: 'hive.server2.thrift.bind.host=a b;hive.server2.thrift.port=10000',
    reason: /bad host "a b"/,
  },
]

for (const c of badCases) {
  t.test(`parseHs2Znode rejects: ${c.name}`, async (t) => {
    let p: ReturnType<typeof parseHs2Znode> | undefined
    t.doesNotThrow(() => {
      p = parseHs2Znode(c.znode, c.data)
    })
    t.match(p, { ok: false, znode: c.znode, reason: c.reason })
  })
}

const childCases: Array<{ name: string; want: boolean }> = [
  { name: HS2A_NAME, want: true },
  { name: 'serverUri=h:1', want: true },
  { name: 'leader', want: false },
  { name: 'ServerUri=h:1;version=4.0.0;sequence=0000000001', want: false },
  { name: '', want: false },
]

for (const c of childCases) {
  t.test(`isServerUriChild(${JSON.stringify(c.name)})`, async (t) => {
    t.equal(isServerUriChild(c.name), c.want)
  })
}

t.test('znodeError wraps a failure with HHP_ERR_ZNODE', async (t) => {
  const p = parseHs2Znode('leader', '')
  if (p.ok) throw new Error('expected a failure')
  const err = znodeError(p)
  t.match(err, { code: 'HHP_ERR_ZNODE', message: /"leader": empty znode data/ })
})

// ---- HTTP routes: the HTTP endpoint of http and all instances ------------------------------------

const HTTP_NAME = 'serverUri=hs2h.example.com:10001;version=4.0.0;sequence=0000000009'
const HTTP_DATA =
  'hive.server2.thrift.http.path=cliservice;hive.server2.instance.uri=hs2h.example.com:10001;' +
  'hive.server2.authentication=NONE;hive.server2.transport.mode=http;hive.server2.thrift.http.port=10001;' +
  'hive.server2.thrift.bind.host=hs2h.example.com;hive.server2.use.SSL=false'
const ALL_DATA =
  'hive.server2.thrift.http.path=/gw/cli/;hive.server2.instance.uri=hs2b.example.com:10000;' +
  'hive.server2.authentication=LDAP;hive.server2.transport.mode=all;hive.server2.thrift.http.port=10011;' +
  'hive.server2.thrift.sasl.qop=auth;hive.server2.thrift.bind.host=hs2b.example.com;' +
  'hive.server2.thrift.port=10000;hive.server2.use.SSL=false'

t.test(
  'an HTTP route dials bind host + http.port + http.path of http and all instances',
  async (t) => {
    t.same(parseHs2Znode(HTTP_NAME, HTTP_DATA, 'http'), {
      ok: true,
      instance: {
        key: 'hs2h.example.com:10001',
        host: 'hs2h.example.com',
        port: 10001,
        path: 'cliservice',
        znode: HTTP_NAME,
        transportMode: 'http',
        version: '4.0.0',
        authentication: 'NONE',
      },
    })
    const all = parseHs2Znode(HS2A_NAME, ALL_DATA, 'http')
    t.match(all, {
      ok: true,
      instance: { key: 'hs2b.example.com:10011', port: 10011, path: 'gw/cli' },
    })
    t.match(
      parseHs2Znode(HS2A_NAME, ALL_DATA, 'binary'),
      { ok: true, instance: { key: 'hs2b.example.com:10000', port: 10000 } },
      'the same all instance serves a binary route on its binary port',
    )
    const noPath = HTTP_DATA.replace('hive.server2.thrift.http.path=cliservice;', '')
    t.match(parseHs2Znode(HTTP_NAME, noPath, 'http'), {
      ok: true,
      instance: { path: 'cliservice' },
    })
  },
)

const httpBad: Array<{ name: string; data: string; reason: RegExp }> = [
  {
    name: 'binary instance',
    data: HS2A_DATA,
    reason: /^transport mode binary \(an HTTP route routes only to http or all\)$/,
  },
  {
    name: 'legacy host:port data',
    data: 'hs2a.example.com:10000',
    reason: /legacy host:port data is a binary registration/,
  },
  {
    name: 'no http port',
    data: HTTP_DATA.replace('hive.server2.thrift.http.port=10001;', ''),
    reason: /no hive\.server2\.thrift\.http\.port published/,
  },
  {
    name: 'bad http port',
    data: HTTP_DATA.replace('http.port=10001', 'http.port=x'),
    reason: /bad port "x"/,
  },
]
t.test(
  'an HTTP route keeps an SSL instance, marked ssl (the route decides how to dial it)',
  async (t) => {
    t.match(parseHs2Znode(HTTP_NAME, HTTP_DATA.replace('use.SSL=false', 'use.SSL=true'), 'http'), {
      ok: true,
      instance: { ssl: true, port: 10001 },
    })
    t.match(parseHs2Znode(HTTP_NAME, HTTP_DATA, 'http'), { ok: true, instance: { ssl: undefined } })
  },
)
for (const c of httpBad) {
  t.test(`an HTTP route skips: ${c.name}`, async (t) => {
    t.match(parseHs2Znode(HTTP_NAME, c.data, 'http'), { ok: false, reason: c.reason })
  })
}
