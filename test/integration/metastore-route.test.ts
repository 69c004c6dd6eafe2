import t, { type Test } from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { startHmsStub, createHmsStore, type HmsStub, type HmsStore } from '../helpers/hms-stub.js'
import { connectHms, rawConnect, saslStartBytes } from '../helpers/hms-client.js'
import { encodeCall } from '../helpers/hms-idl.js'
import { metastoreRoute, seededRandom, startTestProxy, waitFor } from '../helpers/proxy.js'
import type { MetastoreRouteConfig } from '../../src/config/types.js'
import type { MetastoreRouteSnapshot } from '../../src/routes/metastore-route.js'
import type { HiveHaProxy } from '../../src/proxy.js'

type Wire = { protocol: 'binary' | 'compact'; framed: boolean }
const WIRES: Wire[] = [
  { protocol: 'binary', framed: false },
  { protocol: 'binary', framed: true },
  { protocol: 'compact', framed: false },
  { protocol: 'compact', framed: true },
]

async function stubs(
  t: Test,
  ids: string[],
  wire: Wire = WIRES[0]!,
  store: HmsStore = createHmsStore(['default']),
): Promise<HmsStub[]> {
  const out: HmsStub[] = []
  for (const id of ids) {
    const s = await startHmsStub({ id, ...wire, store })
    t.teardown(() => s.close())
    out.push(s)
  }
  return out
}

const staticTarget = (ss: { port: number }[]) => ({
  kind: 'static' as const,
  backends: ss.map((s) => ({ host: '127.0.0.1', port: s.port })),
})

async function proxyFor(
  t: Test,
  ss: { port: number }[],
  over: Partial<MetastoreRouteConfig> = {},
  random?: () => number,
) {
  const r = await startTestProxy(t, [], {
    metastore: [metastoreRoute(staticTarget(ss), over)],
    ...(random ? { deps: { random } } : {}),
  })
  await waitFor('ready', () => r.proxy.ready)
  return { ...r, port: r.ports[0]! }
}

const snap = (p: HiveHaProxy) => p.snapshot().routes[0] as MetastoreRouteSnapshot

async function client(t: Test, port: number, wire: Wire = WIRES[0]!) {
  const c = await connectHms({ host: '127.0.0.1', port, ...wire, timeoutMs: 5000 })
  t.teardown(() => c.close())
  return c
}

t.test(
  'SEQUENTIAL: every connection uses the first live URI; traffic returns to it when it is back',
  async (t) => {
    const store = createHmsStore(['default'])
    const [a, b] = await stubs(t, ['a', 'b'], WIRES[0], store)
    const { proxy, port } = await proxyFor(t, [a!, b!], {
      ejection: { failures: 2, baseMs: 300, maxMs: 600 },
    })
    for (let i = 0; i < 4; i++) {
      const c = await client(t, port)
      t.equal((await c.getDatabase('default')).description, 'a')
      await c.close()
    }
    const aPort = a!.port
    await a!.close()
    for (let i = 0; i < 2; i++) {
      const c = await client(t, port)
      t.equal((await c.getDatabase('default')).description, 'b', 'first URI down: the next one')
      await c.close()
    }
    const aKey = `127.0.0.1:${aPort}`
    t.equal(
      snap(proxy).backends.find((x) => x.key === aKey)!.state,
      'ejected',
      'two failed connects ejected the first URI',
    )
    const a2 = await startHmsStub({ id: 'a-again', port: aPort, store })
    t.teardown(() => a2.close())
    await waitFor(
      'ejection over',
      () => snap(proxy).backends.find((x) => x.key === aKey)!.state === 'up',
    )
    const c = await client(t, port)
    t.equal((await c.getDatabase('default')).description, 'a-again', 'back on the first URI')
  },
)

t.test('RANDOM: each client connection gets a fresh random order', async (t) => {
  const ss = await stubs(t, ['a', 'b', 'c'])
  const { port } = await proxyFor(t, ss, { selection: 'RANDOM' }, seededRandom(11))
  const seen = new Map<string, number>()
  for (let i = 0; i < 24; i++) {
    const c = await client(t, port)
    const who = (await c.getDatabase('default')).description!
    seen.set(who, (seen.get(who) ?? 0) + 1)
    await c.close()
  }
  t.same([...seen.keys()].sort(), ['a', 'b', 'c'], JSON.stringify([...seen]))
  for (const n of seen.values()) t.ok(n >= 3, 'no metastore starved')
})

for (const wire of WIRES) {
  const w = `${wire.protocol}${wire.framed ? ' framed' : ''}`

  t.test(
    `${w}: failover between calls replays set_ugi and setMetaConf first; the client sees nothing`,
    async (t) => {
      const [a, b] = await stubs(t, ['a', 'b'], wire)
      const { proxy, port } = await proxyFor(t, [a!, b!])
      const c = await client(t, port, wire)
      await c.setUgi('alice', ['analysts'])
      await c.setMetaConf('metastore.try.direct.sql', 'false')
      const d1 = await c.getDatabase('default')
      t.equal(d1.description, 'a')
      t.equal(d1.parameters?.ugi, 'alice')
      await a!.close() // the metastore dies between calls
      const d2 = await c.getDatabase('default')
      t.equal(d2.description, 'b', 'same client connection, next metastore')
      t.equal(d2.parameters?.ugi, 'alice', 'set_ugi replayed')
      t.equal(d2.parameters?.['metastore.try.direct.sql'], 'false', 'setMetaConf replayed')
      t.same(
        b!.calls.map((x) => x.method),
        ['set_ugi', 'setMetaConf', 'get_database'],
        'replay came first, in order, once',
      )
      t.equal(await c.getMetaConf('metastore.try.direct.sql'), 'false')
      const s = snap(proxy)
      t.equal(s.calls.get_database?.reply, 2)
      t.equal(s.calls.set_ugi?.reply, 1, 'replayed calls are not counted as client calls')
      t.ok(s.connections.failovers >= 1)
    },
  )

  t.test(`${w}: an idempotent read in flight is re-sent and answered`, async (t) => {
    const [a, b] = await stubs(t, ['a', 'b'], wire)
    const { proxy, port } = await proxyFor(t, [a!, b!])
    const c = await client(t, port, wire)
    await c.setUgi('bob')
    a!.failNext('get_database', 'close')
    const d = await c.getDatabase('default')
    t.equal(d.description, 'b')
    t.equal(d.parameters?.ugi, 'bob')
    t.equal(snap(proxy).calls.get_database?.resent, 1)
  })

  t.test(
    `${w}: a create_database in flight is never re-sent; the client connection is closed`,
    async (t) => {
      const [a, b] = await stubs(t, ['a', 'b'], wire)
      const { port, logs } = await proxyFor(t, [a!, b!])
      const c = await client(t, port, wire)
      a!.failNext('create_database', 'drop')
      await t.rejects(c.createDatabase({ name: 'sales', description: 'x' }), { code: 'HMS_CLOSED' })
      t.equal(b!.callsOf('create_database').length, 0, 'not sent to the other metastore')
      t.ok(
        logs.records.some(
          (r) =>
            r.msg === 'closing metastore client connection' &&
            /create_database/.test(String(r.reason)),
        ),
      )
    },
  )
}

t.test(
  'a read whose answer was half forwarded is not re-sent: the client connection is closed',
  async (t) => {
    const [a, b] = await stubs(t, ['a', 'b'])
    const { port } = await proxyFor(t, [a!, b!])
    const c = await client(t, port)
    a!.failNext('get_partitions', 'half')
    await t.rejects(c.getPartitions('default', 't', 3000))
    t.equal(b!.callsOf('get_partitions').length, 0)
  },
)

t.test('large answers stream through', async (t) => {
  const [a] = await stubs(t, ['a'])
  const { proxy, port } = await proxyFor(t, [a!])
  const c = await client(t, port)
  const parts = await c.getPartitions('default', 't', 5000)
  t.equal(parts.length, 5000)
  const be = snap(proxy).backends[0]!
  await c.close()
  await waitFor('bytes counted', () => snap(proxy).backends[0]!.bytesToClient > 1_000_000)
  t.ok(be.key.endsWith(`:${a!.port}`))
})

t.test('oneway shutdown is forwarded without waiting for an answer', async (t) => {
  const [a] = await stubs(t, ['a'])
  const { proxy, port } = await proxyFor(t, [a!])
  const c = await client(t, port)
  await c.shutdown()
  t.equal((await c.getDatabase('default')).description, 'a', 'the connection still works')
  await waitFor('shutdown reached the metastore', () => a!.callsOf('shutdown').length === 1)
  t.equal(snap(proxy).calls.shutdown?.oneway, 1)
})

t.test('SASL-looking streams are piped untouched', async (t) => {
  const received: Buffer[] = []
  const echo = net.createServer((s) => {
    s.on('error', () => {})
    s.on('data', (d: Buffer) => {
      received.push(d)
      s.write(d)
    })
  })
  echo.listen(0, '127.0.0.1')
  await once(echo, 'listening')
  t.teardown(() => echo.close())
  const { proxy, port } = await proxyFor(t, [{ port: (echo.address() as net.AddressInfo).port }])
  const raw = await rawConnect('127.0.0.1', port)
  t.teardown(() => raw.close())
  const bytes = saslStartBytes('GSSAPI')
  raw.socket.write(bytes)
  const back = await raw.waitForBytes(bytes.length)
  t.same(back, bytes, 'echoed byte for byte')
  t.same(Buffer.concat(received), bytes, 'the backend got exactly the client bytes')
  t.equal(snap(proxy).streams.sasl, 1)
})

t.test('malformed or oversized input ends that connection only', async (t) => {
  const [a] = await stubs(t, ['a'])
  const { proxy, port, logs } = await proxyFor(t, [a!], { maxMessageBytes: 4096 })
  const good = await client(t, port)
  t.equal((await good.getDatabase('default')).description, 'a')
  const cases: [string, Buffer][] = [
    // envelope: CALL "x" seqid 1, then a field of type 0x63, which does not exist
    [
      'bad field type',
      Buffer.from([0x80, 0x01, 0x00, 0x01, 0, 0, 0, 1, 0x78, 0, 0, 0, 1, 0x63, 0, 1]),
    ],
    // envelope: CALL "x" seqid 1, then a string field whose length is -16
    [
      'negative string length',
      Buffer.from([
        0x80, 0x01, 0x00, 0x01, 0, 0, 0, 1, 0x78, 0, 0, 0, 1, 0x0b, 0, 1, 0xff, 0xff, 0xff, 0xf0,
      ]),
    ],
    [
      'frame larger than maxMessageBytes',
      Buffer.from([0x00, 0x10, 0x00, 0x00, 0x80, 0x01, 0x00, 0x01]),
    ],
    [
      'unframed message larger than maxMessageBytes',
      Buffer.concat([encodeCall('get_database', { name: 'x'.repeat(8000) }, 1)]),
    ],
  ]
  for (const [name, bytes] of cases) {
    const raw = await rawConnect('127.0.0.1', port)
    raw.socket.write(bytes)
    t.ok(await raw.waitForClose(3000), `${name}: closed`)
  }
  await waitFor(
    'logged',
    () =>
      logs.records.filter((r) => r.msg === 'closing metastore client connection').length >=
      cases.length,
  )
  t.equal((await good.getDatabase('default')).description, 'a', 'the other client is unaffected')
  t.equal(snap(proxy).state, 'running')
})

t.test(
  'every metastore down: the client connection is closed and every attempt logged',
  async (t) => {
    const [a, b] = await stubs(t, ['a', 'b'])
    const { port, logs } = await proxyFor(t, [a!, b!])
    await a!.close()
    await b!.close()
    const c = await client(t, port)
    await t.rejects(c.getDatabase('default'))
    await waitFor('logged', () =>
      logs.records.some((r) => r.msg === 'no backend for client; closing it'),
    )
    const rec = logs.records.find((r) => r.msg === 'no backend for client; closing it')!
    t.match(rec, { code: 'HHP_ERR_ALL_BACKENDS_FAILED' })
    t.equal((rec.attempts as unknown[]).length, 2)
  },
)

t.test('mode: pipe forwards Thrift untouched with connect-time failover only', async (t) => {
  const [a, b] = await stubs(t, ['a', 'b'])
  const { proxy, port } = await proxyFor(t, [a!, b!], { mode: 'pipe' })
  const c = await client(t, port)
  t.equal((await c.getDatabase('default')).description, 'a')
  await a!.close()
  await t.rejects(
    c.getDatabase('default'),
    { code: 'HMS_CLOSED' },
    'a byte pipe cannot fail over mid-connection',
  )
  const c2 = await client(t, port)
  t.equal(
    (await c2.getDatabase('default')).description,
    'b',
    'new connections fail over at connect time',
  )
  t.same(snap(proxy).streams, {}, 'nothing was sniffed')
})

t.test(
  'concurrent large and small answers through the Thrift-aware route stay intact',
  async (t) => {
    // the forwarder reads metastores into the process-wide shared buffer / pooled buffers
    const [a] = await stubs(t, ['a'])
    const { port } = await proxyFor(t, [a!])
    const work = Array.from({ length: 12 }, async (_, i) => {
      const c = await client(t, port)
      const n = [1, 7, 300, 2500][i % 4]!
      const parts = await c.getPartitions('default', `t${i}`, n)
      const ok =
        parts.length === n &&
        parts.every(
          (p, j) =>
            p.tableName === `t${i}` &&
            p.values?.[1] === String(j) &&
            p.sd?.location?.endsWith(`/t${i}/ds=2024-01-01/part=${j}`),
        )
      const db = await c.getDatabase('default')
      await c.close()
      return ok && db.description === 'a'
    })
    const results = await Promise.all(work)
    t.equal(results.filter((x) => !x).length, 0, 'every client got exactly its own answers')
  },
)
