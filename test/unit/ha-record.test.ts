import t from 'tap'
import { haRegistryRoot, isHaInstanceChild, parseHaRecord } from '../../src/discovery/ha-record.js'
import type { Hs2Instance } from '../../src/discovery/hs2-znode.js'

type Json = Record<string, unknown>

/** A record as HS2ActivePassiveHARegistry writes it (Hadoop ServiceRecord, attributes top-level). */
function record(
  api: string,
  o: { host?: string; port?: unknown; attrs?: Json; internal?: unknown } = {},
): Json {
  return {
    type: 'JSONServiceRecord',
    external: [],
    internal: o.internal ?? [
      {
        api,
        addressType: 'host/port',
        protocolType: 'hadoop/IPC',
        addresses: [{ host: o.host ?? 'hs2a.example.com', port: o.port ?? '10000' }],
      },
    ],
    'hive.server2.thrift.bind.host': 'hs2a.example.com',
    'hive.server2.webui.port': '10002',
    'hive.server2.instance.uri': 'hs2a.example.com:10000',
    'registry.unique.id': '6f1c7d0e-3c2a-4b7e-9a55-2d1e0c9b8a71',
    'hive.server2.transport.mode': 'binary',
    'hive.server2.thrift.port': '10000',
    'hive.server2.thrift.sasl.qop': 'auth',
    'hive.server2.authentication': 'NONE',
    'hive.server2.use.SSL': 'false',
    ...o.attrs,
  }
}

function without(r: Json, ...keys: string[]): Json {
  const out = { ...r }
  for (const k of keys) delete out[k]
  return out
}

const NAME = 'instance-0000000003'

function hs2a(over: Partial<Hs2Instance>): Hs2Instance {
  return {
    key: 'hs2a.example.com:10000',
    host: 'hs2a.example.com',
    port: 10000,
    znode: NAME,
    transportMode: 'binary',
    authentication: 'NONE',
    ...over,
  }
}

interface OkCase {
  name: string
  data: Buffer | string
  want: Hs2Instance
}

const okCases: OkCase[] = [
  {
    name: 'active endpoint -> leader',
    data: Buffer.from(JSON.stringify(record('activeEndpoint'))),
    want: hs2a({ leader: true }),
  },
  {
    name: 'passive endpoint -> not leader',
    data: JSON.stringify(record('passiveEndpoint')),
    want: hs2a({ leader: false }),
  },
  {
    name: 'top-level bind.host/thrift.port override the endpoint address',
    data: JSON.stringify(
      record('activeEndpoint', {
        host: 'stale.example.com',
        port: '9999',
        attrs: {
          'hive.server2.thrift.bind.host': 'hs2b.example.com',
          'hive.server2.thrift.port': '10010',
        },
      }),
    ),
    want: {
      key: 'hs2b.example.com:10010',
      host: 'hs2b.example.com',
      port: 10010,
      znode: NAME,
      transportMode: 'binary',
      leader: true,
      authentication: 'NONE',
    },
  },
  {
    name: 'no overrides: endpoint address is used',
    data: JSON.stringify(
      without(
        record('activeEndpoint', { host: 'ep.example.com', port: '10020' }),
        'hive.server2.thrift.bind.host',
        'hive.server2.thrift.port',
      ),
    ),
    want: {
      key: 'ep.example.com:10020',
      host: 'ep.example.com',
      port: 10020,
      znode: NAME,
      transportMode: 'binary',
      leader: true,
      authentication: 'NONE',
    },
  },
  {
    name: 'numeric endpoint port tolerated',
    data: JSON.stringify(
      without(record('activeEndpoint', { port: 10030 }), 'hive.server2.thrift.port'),
    ),
    want: hs2a({ key: 'hs2a.example.com:10030', port: 10030, leader: true }),
  },
  {
    name: 'malformed endpoint address tolerated when overrides supply host and port',
    data: JSON.stringify(record('activeEndpoint', { port: 'nope' })),
    want: hs2a({ leader: true }),
  },
  {
    name: 'transport mode all',
    data: JSON.stringify(
      record('activeEndpoint', { attrs: { 'hive.server2.transport.mode': 'all' } }),
    ),
    want: hs2a({ transportMode: 'all', leader: true }),
  },
  {
    name: 'missing transport mode -> binary',
    data: JSON.stringify(without(record('activeEndpoint'), 'hive.server2.transport.mode')),
    want: hs2a({ leader: true }),
  },
  {
    name: 'Kerberos: authentication and principal attributes are carried',
    data: JSON.stringify(
      record('activeEndpoint', {
        attrs: {
          'hive.server2.authentication': 'KERBEROS',
          'hive.server2.authentication.kerberos.principal': 'hive/_HOST@EXAMPLE.COM',
        },
      }),
    ),
    want: hs2a({ leader: true, authentication: 'KERBEROS', principal: 'hive/_HOST@EXAMPLE.COM' }),
  },
  {
    name: 'leader found among several internal endpoints',
    data: JSON.stringify(
      record('x', {
        internal: [
          { api: 'other', addresses: [] },
          {
            api: 'activeEndpoint',
            addressType: 'host/port',
            protocolType: 'hadoop/IPC',
            addresses: [{ host: 'hs2a.example.com', port: '10000' }],
          },
        ],
      }),
    ),
    want: hs2a({ leader: true }),
  },
]

for (const c of okCases) {
  t.test(`parseHaRecord ok: ${c.name}`, async (t) => {
    t.same(parseHaRecord(NAME, c.data), { ok: true, instance: c.want })
  })
}

interface BadCase {
  name: string
  data: Buffer | string | undefined
  reason: RegExp
}

const badCases: BadCase[] = [
  {
    name: 'http leader',
    data: JSON.stringify(
      without(
        record('activeEndpoint', {
          port: '10001',
          attrs: {
            'hive.server2.transport.mode': 'http',
            'hive.server2.thrift.http.port': '10001',
            'hive.server2.thrift.http.path': 'cliservice',
          },
        }),
        'hive.server2.thrift.port',
        'hive.server2.thrift.sasl.qop',
      ),
    ),
    reason: /^transport mode http \(a binary front routes only to binary or all\)$/,
  },
  {
    name: 'unknown transport mode',
    data: JSON.stringify(
      record('activeEndpoint', { attrs: { 'hive.server2.transport.mode': 'grpc' } }),
    ),
    reason: /unknown transport mode "grpc"/,
  },
  { name: 'malformed JSON', data: '{"type":"JSONServiceRecord",', reason: /not JSON/ },
  { name: 'legacy host:port data', data: 'hs2a.example.com:10000', reason: /not JSON/ },
  { name: 'garbage bytes', data: Buffer.from([0xff, 0x00, 0x7b]), reason: /not JSON/ },
  { name: 'JSON array', data: '[]', reason: /not a JSON object/ },
  { name: 'JSON null', data: 'null', reason: /not a JSON object/ },
  {
    name: 'no internal list',
    data: JSON.stringify(without(record('activeEndpoint'), 'internal')),
    reason: /no "internal" endpoint list/,
  },
  {
    name: 'no active/passive endpoint',
    data: JSON.stringify(record('rpc')),
    reason: /no activeEndpoint or passiveEndpoint/,
  },
  {
    name: 'both active and passive endpoints',
    data: JSON.stringify(
      record('x', {
        internal: [
          { api: 'activeEndpoint', addresses: [{ host: 'a', port: '1' }] },
          { api: 'passiveEndpoint', addresses: [{ host: 'a', port: '1' }] },
        ],
      }),
    ),
    reason: /both an activeEndpoint and a passiveEndpoint/,
  },
  {
    name: 'no addresses and no overrides',
    data: JSON.stringify(
      without(
        record('x', { internal: [{ api: 'activeEndpoint', addresses: [] }] }),
        'hive.server2.thrift.bind.host',
        'hive.server2.thrift.port',
      ),
    ),
    reason: /no usable host\/port/,
  },
  {
    name: 'bad endpoint port without override',
    data: JSON.stringify(
      without(record('activeEndpoint', { port: 'abc' }), 'hive.server2.thrift.port'),
    ),
    reason: /bad port "abc"/,
  },
  {
    name: 'bad override port',
    data: JSON.stringify(
      record('activeEndpoint', { attrs: { 'hive.server2.thrift.port': '70000' } }),
    ),
    reason: /bad port "70000"/,
  },
  { name: 'empty data', data: '', reason: /empty registry record/ },
  { name: 'undefined data', data: undefined, reason: /empty registry record/ },
]

for (const c of badCases) {
  t.test(`parseHaRecord rejects: ${c.name}`, async (t) => {
    let p: ReturnType<typeof parseHaRecord> | undefined
    t.doesNotThrow(() => {
      p = parseHaRecord(NAME, c.data)
    })
    t.match(p, { ok: false, znode: NAME, reason: c.reason })
  })
}

const childCases: Array<{ name: string; want: boolean }> = [
  { name: 'instance-0000000003', want: true },
  { name: '_LEADER', want: false },
  { name: 'serverUri=h:1;version=4.0.0;sequence=0000000001', want: false },
  { name: 'Instance-0000000003', want: false },
]

for (const c of childCases) {
  t.test(`isHaInstanceChild(${JSON.stringify(c.name)})`, async (t) => {
    t.equal(isHaInstanceChild(c.name), c.want)
  })
}

const rootCases: Array<{ name: string; ns: string; secure?: boolean; want: string }> = [
  {
    name: 'default namespace, unsecure by default',
    ns: 'hs2ActivePassiveHA',
    want: '/hs2ActivePassiveHA-unsecure',
  },
  { name: 'secure', ns: 'hs2ActivePassiveHA', secure: true, want: '/hs2ActivePassiveHA-sasl' },
  { name: 'explicit unsecure', ns: 'hs2HA', secure: false, want: '/hs2HA-unsecure' },
  { name: 'nested namespace', ns: 'prod/hs2HA', want: '/prod/hs2HA-unsecure' },
  { name: 'slashes tolerated', ns: '/hs2HA/', want: '/hs2HA-unsecure' },
]

for (const c of rootCases) {
  t.test(`haRegistryRoot: ${c.name}`, async (t) => {
    t.equal(c.secure === undefined ? haRegistryRoot(c.ns) : haRegistryRoot(c.ns, c.secure), c.want)
  })
}

t.test(
  "an HTTP route takes the leader record's HTTP endpoint; binary records are skipped",
  async (t) => {
    const httpLeader = JSON.stringify(
      record('activeEndpoint', {
        attrs: {
          'hive.server2.transport.mode': 'http',
          'hive.server2.thrift.http.port': '10001',
          'hive.server2.thrift.http.path': 'cliservice',
        },
      }),
    )
    t.match(parseHaRecord(NAME, httpLeader, 'http'), {
      ok: true,
      instance: { key: 'hs2a.example.com:10001', port: 10001, path: 'cliservice', leader: true },
    })
    t.match(parseHaRecord(NAME, JSON.stringify(record('activeEndpoint', {})), 'http'), {
      ok: false,
      reason: /^transport mode binary \(an HTTP route routes only to http or all\)$/,
    })
  },
)
