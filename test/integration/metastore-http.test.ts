/**
 * The Hive 4 metastore over HTTP through the proxy (issue 13 points 5 and 7): metastores are the
 * `thrift` package's HTTP server with the hand-written HMS IDL (hms-http-stub.ts); the client is
 * undici POSTing Thrift calls encoded with thrift's own protocol classes, as Hive's THttpClient
 * sends them (one message per POST to /metastore). Loopback only.
 */
import net from 'node:net'
import t, { type Test } from 'tap'
import { Agent, request } from 'undici'
import { ProxyMetrics } from '../../src/admin/metrics.js'
import { DEFAULTS } from '../../src/defaults.js'
import type { MetastoreRouteConfig } from '../../src/config/types.js'
import type { MetastoreHttpRouteSnapshot } from '../../src/routes/metastore-http-route.js'
import type { HiveHaProxy } from '../../src/proxy.js'
import { renderStatus } from '../../src/status.js'
import {
  HmsService,
  type HmsServiceClient,
  MessageType,
  thrift,
  decodeMessage,
  encodeCall,
  type HmsMessage,
  type ProtocolName,
} from '../helpers/hms-idl.js'
import { startHmsHttpStub, type HmsHttpStub } from '../helpers/hms-http-stub.js'
import { metastoreRoute, startTestProxy, waitFor } from '../helpers/proxy.js'
import { freePort, startZk } from '../helpers/zk.js'
import { makeCa } from '../helpers/certs.js'
import { PemFile } from '../../src/config/types.js'
import { connectTestZk } from '../helpers/zk-client.js'

const agent = new Agent({ keepAliveTimeout: 10_000 })
t.teardown(() => agent.close())

async function stubs(t: Test, ids: string[], protocol?: ProtocolName): Promise<HmsHttpStub[]> {
  const out: HmsHttpStub[] = []
  for (const id of ids) {
    const s = await startHmsHttpStub({ id, ...(protocol ? { protocol } : {}) })
    t.teardown(() => s.close())
    out.push(s)
  }
  return out
}

function httpRoute(
  ports: number[],
  over: Partial<MetastoreRouteConfig> = {},
): MetastoreRouteConfig {
  return metastoreRoute(
    { kind: 'static', backends: ports.map((port) => ({ host: '127.0.0.1', port })) },
    {
      transportMode: 'http',
      http: { ...DEFAULTS.metastore.http, headersTimeoutMs: 300 },
      ...over,
    },
  )
}

async function start(
  t: Test,
  route: MetastoreRouteConfig,
): Promise<{ proxy: HiveHaProxy; port: number; logs: import('../helpers/proxy.js').LogSink }> {
  const { proxy, ports, logs } = await startTestProxy(t, [], { metastore: [route] })
  return { proxy, port: ports[0] as number, logs }
}

interface Answer {
  status: number
  text: string
  message: HmsMessage | undefined
}

let seq = 0
/** One Thrift call POSTed through the proxy, as Hive's THttpClient sends it. */
async function call(
  port: number,
  method: string,
  args: Record<string, unknown>,
  o: { headers?: Record<string, string>; protocol?: ProtocolName; path?: string } = {},
): Promise<Answer> {
  const body = encodeCall(method, args, ++seq, { protocol: o.protocol ?? 'binary' })
  const r = await request(`http://127.0.0.1:${port}/${o.path ?? 'metastore'}`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/x-thrift', ...o.headers },
    body,
  })
  const bytes = Buffer.from(await r.body.arrayBuffer())
  const message =
    r.statusCode === 200 ? decodeMessage(bytes, o.protocol ?? 'binary')?.message : undefined
  return { status: r.statusCode, text: bytes.toString('latin1'), message }
}

const snap = (p: HiveHaProxy): MetastoreHttpRouteSnapshot =>
  p.snapshot().routes[0] as MetastoreHttpRouteSnapshot

t.test(
  'calls reach the first metastore (SEQUENTIAL); Authorization and x-actor-username pass through, never logged',
  async (t) => {
    const [a, b] = await stubs(t, ['a', 'b'])
    const { proxy, port, logs } = await start(t, httpRoute([a!.port, b!.port]))
    const headers = {
      authorization: 'Bearer jwt-secret-token',
      'x-actor-username': 'alice-the-actor',
      'x-custom-header': 'kept',
    }
    const got = await call(port, 'get_database', { name: 'default' }, { headers })
    t.equal(got.status, 200)
    t.equal(got.message?.type, MessageType.REPLY)
    t.match(got.message?.result, { success: { name: 'default', description: 'a' } })
    const created = await call(port, 'create_database', { database: { name: 'db1' } }, { headers })
    t.equal(created.status, 200)
    t.same(a!.created, ['db1'])
    const missing = await call(port, 'get_database', { name: 'nope' })
    t.match(missing.message?.result, { o1: { message: /nope/ } }, 'a declared exception passes')
    t.same(
      a!.requests.map((r) => r.method),
      ['get_database', 'create_database', 'get_database'],
    )
    t.equal(b!.requests.length, 0)
    const seen = a!.requests[0]!.headers
    t.equal(seen.authorization, headers.authorization)
    t.equal(seen['x-actor-username'], headers['x-actor-username'])
    t.equal(seen['x-custom-header'], 'kept')
    t.match(seen['x-forwarded-for'], /127\.0\.0\.1/)
    t.equal(a!.requests[0]!.url, '/metastore')
    t.notMatch(logs.text(), /jwt-secret-token|alice-the-actor/)

    const s = snap(proxy)
    t.equal(s.transportMode, 'http')
    t.equal(s.http.path, 'metastore')
    t.match(s.http.requests, {
      'get_database ok': 2,
      'create_database ok': 1,
    })
    t.match(s.calls, { get_database: { reply: 2, failed: 0 }, create_database: { reply: 1 } })
    const text = await new ProxyMetrics(() => proxy.snapshot()).text()
    t.match(
      text,
      /metastore_http_requests_total\{route="metastore",method="get_database",outcome="ok"\} 2/,
    )
    t.match(
      text,
      /metastore_calls_total\{route="metastore",method="create_database",outcome="reply"\} 1/,
    )
    t.notMatch(
      text,
      /http_affinity_total\{route="metastore"/,
      'HS2 affinity series are not made up',
    )
    const status = renderStatus(proxy.snapshot(), proxy.readiness(), Date.now())
    t.match(status, /metastore over HTTP on \/metastore: 3 requests \(0 not ok\), 0 reads re-sent/)
  },
)

t.test(
  'a request that cannot connect moves on; connect failures eject the dead metastore',
  async (t) => {
    const dead = await freePort()
    const [b] = await stubs(t, ['b'])
    const { proxy, port } = await start(t, httpRoute([dead, b!.port]))
    for (let i = 0; i < 3; i++) {
      const got = await call(port, 'get_database', { name: 'default' })
      t.match(got.message?.result, { success: { description: 'b' } }, `read ${i + 1} answered by b`)
    }
    const w = await call(port, 'create_database', { database: { name: 'w1' } })
    t.equal(w.status, 200, 'a write moves on too: nothing of it reached the dead one')
    t.same(b!.created, ['w1'])
    const d = snap(proxy).backends.find((x) => x.key === `127.0.0.1:${dead}`)
    t.ok((d?.connectFailures ?? 0) >= 2, 'connect failures counted')
    t.equal(d?.state, 'ejected')
    t.ok(snap(proxy).connections.failovers >= 2)
  },
)

t.test('a read whose metastore dies before answering is re-sent; a write is not', async (t) => {
  const [a, b] = await stubs(t, ['a', 'b'])
  a!.mode = 'die'
  const { proxy, port, logs } = await start(t, httpRoute([a!.port, b!.port]))
  const read = await call(port, 'get_database', { name: 'default' })
  t.equal(read.status, 200)
  t.match(read.message?.result, { success: { description: 'b' } }, 'answered by the next one')
  t.same(
    a!.requests.map((r) => r.method),
    ['get_database'],
    'the dying one got it first',
  )
  t.same(
    b!.requests.map((r) => r.method),
    ['get_database'],
  )

  const write = await call(port, 'create_database', { database: { name: 'w1' } })
  t.equal(write.status, 502)
  t.match(
    write.text,
    /HHP_ERR_BACKEND_FAILED: metastore 127\.0\.0\.1:\d+ failed before answering create_database/,
  )
  t.match(write.text, /never re-sent/)
  t.same(
    a!.requests.map((r) => r.method),
    ['get_database', 'create_database'],
  )
  t.same(
    b!.requests.map((r) => r.method),
    ['get_database'],
    'the write never reached b',
  )
  t.same(b!.created, [])
  t.ok(logs.messages().includes('metastore failed before answering a write; not re-sent'))

  const s = snap(proxy)
  t.match(s.calls, {
    get_database: { resent: 1, reply: 1, failed: 0 },
    create_database: { resent: 0, failed: 1 },
  })
  t.match(s.http.requests, { 'get_database ok': 1, 'create_database backend_failed': 1 })
  const text = await new ProxyMetrics(() => proxy.snapshot()).text()
  t.match(text, /metastore_retries_total\{route="metastore",method="get_database"\} 1/)
  t.match(
    text,
    /metastore_http_requests_total\{route="metastore",method="create_database",outcome="backend_failed"\} 1/,
  )

  // both dying: a read has nowhere left to go and gets 502 naming it
  b!.mode = 'die'
  const none = await call(port, 'get_all_databases', {})
  t.equal(none.status, 502)
  t.match(none.text, /get_all_databases/)
  t.match(none.text, /no other metastore was left/)
})

t.test('compact protocol: the envelope is read the same way', async (t) => {
  const [a, b] = await stubs(t, ['a', 'b'], 'compact')
  a!.mode = 'die'
  const { proxy, port } = await start(t, httpRoute([a!.port, b!.port]))
  const got = await call(port, 'get_all_databases', {}, { protocol: 'compact' })
  t.equal(got.status, 200)
  t.same(got.message?.result, { success: ['default'] })
  t.match(snap(proxy).calls, { get_all_databases: { resent: 1, reply: 1 } })
})

function raw(port: number, write: (s: net.Socket) => void): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    let got = ''
    s.on('data', (d) => (got += d.toString('latin1')))
    s.on('error', () => {})
    s.on('close', () => resolve(got))
    s.on('connect', () => write(s))
  })
}

t.test('bad input ends only that request or connection', async (t) => {
  const [a] = await stubs(t, ['a'])
  const { proxy, port, logs } = await start(
    t,
    httpRoute([a!.port], {
      http: { ...DEFAULTS.metastore.http, maxBodyBytes: 4096, headersTimeoutMs: 300 },
    }),
  )
  const post = (path: string, body: string, extra = ''): string =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  const garbage = await raw(port, (s) => s.end(post('/metastore', 'not thrift at all')))
  t.match(garbage, /^HTTP\/1\.1 400 [\s\S]*not a Thrift metastore call/)
  t.match(
    await raw(port, (s) => s.end(post('/metastore', 'x'.repeat(5000)))),
    /^HTTP\/1\.1 413 /,
    'over the body limit',
  )
  t.match(
    await raw(port, (s) =>
      s.end(
        'POST /metastore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1400\r\n' +
          'x'.repeat(0x1400) +
          '\r\n0\r\n\r\n',
      ),
    ),
    /^HTTP\/1\.1 413 /,
    'a chunked body over the limit',
  )
  t.match(await raw(port, (s) => s.end(post('/other', ''))), /^HTTP\/1\.1 404 /)
  t.match(
    await raw(port, (s) =>
      s.end('GET /metastore HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    ),
    /^HTTP\/1\.1 405 [\s\S]*Allow: POST/i,
  )
  t.match(
    await raw(port, (s) => s.write('POST /metastore HTTP/1.1\r\nHost: x\r\n')),
    /^HTTP\/1\.1 408 /,
    'headers that never finish (slowloris)',
  )
  t.match(
    await raw(port, (s) =>
      s.write(`POST /metastore HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`),
    ),
    /^HTTP\/1\.1 431 /,
  )
  t.match(
    await raw(port, (s) =>
      s.write(
        'POST /metastore HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n',
      ),
    ),
    /^HTTP\/1\.1 413 /,
    'too large: refused without a 100 Continue',
  )
  const body = encodeCall('get_all_databases', {}, 1)
  const continued = await raw(port, (s) => {
    s.write(
      `POST /metastore HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`,
    )
    // not end(): node's HTTP server takes a half-close for a client that gave up
    s.once('data', () => s.write(body))
  })
  t.match(continued, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, 'Expect: 100-continue')
  t.same(
    a!.requests.map((r) => r.method),
    ['get_all_databases'],
    'nothing bad reached the metastore',
  )
  const ok = await call(port, 'get_database', { name: 'default' })
  t.equal(ok.status, 200, 'the route still serves')
  t.match(snap(proxy).http.requests, {
    'unparsed bad_request': 1,
    'get_all_databases ok': 1,
    'get_database ok': 1,
  })
  t.ok(logs.messages().includes('request body is not a Thrift call; answering 400'))
})

t.test('metastores found in ZooKeeper (Hive 4 discovery) serve HTTP as configured', async (t) => {
  const zk = await startZk()
  t.teardown(() => zk.close())
  const [a, b] = await stubs(t, ['a', 'b'])
  const writerA = await connectTestZk(zk.connectString)
  const writerB = await connectTestZk(zk.connectString)
  t.teardown(() => writerB.close())
  // as HiveMetaStore registers: host:port only, the transport mode is not published
  for (const [w, s] of [
    [writerA, a!],
    [writerB, b!],
  ] as const) {
    await w.mkdirp('/hms_http')
    await w.create(`/hms_http/127.0.0.1:${s.port}`, `127.0.0.1:${s.port}`, 'ephemeral-sequential')
  }
  const { proxy, port } = await start(
    t,
    metastoreRoute(
      { kind: 'zookeeper', quorum: zk.connectString, namespace: 'hms_http' },
      { transportMode: 'http', http: { ...DEFAULTS.metastore.http } },
    ),
  )
  const listed = (): string[] =>
    snap(proxy)
      .backends.filter((x) => x.state !== 'unlisted')
      .map((x) => x.key)
  await waitFor('two metastores', () => listed().length === 2)
  const first = await call(port, 'get_database', { name: 'default' })
  const firstId = (first.message?.result?.['success'] as { description?: string } | undefined)
    ?.description
  t.ok(firstId === 'a' || firstId === 'b', 'answered by a registered metastore')
  // the one that answered leaves ZooKeeper: the next request goes to the other, no failure seen
  const [leaving, other] = firstId === 'a' ? [writerA, b!] : [writerB, a!]
  await leaving.close()
  await waitFor('one metastore left', () => listed().length === 1)
  const next = await call(port, 'get_database', { name: 'default' })
  t.match(next.message?.result, { success: { description: other.id } })
  t.equal(snap(proxy).connections.failovers, 0)
  await writerA.close().catch(() => {})
})

t.test(
  'a reload changes the path in place; changing the transport mode replaces the route',
  async (t) => {
    const [a] = await stubs(t, ['a'])
    const route = httpRoute([a!.port])
    const { proxy, port } = await start(t, route)
    t.equal((await call(port, 'get_all_databases', {})).status, 200)
    const moved = {
      ...route,
      http: { ...route.http, path: 'other' },
    }
    const r1 = await proxy.reload({ ...proxy.config, metastore: [moved] })
    t.same(r1.updated, ['metastore'])
    t.equal(
      (await call(port, 'get_all_databases', {}, { path: 'other' })).status,
      403,
      "forwarded to /other, which thrift's server does not serve (its 403 passed through)",
    )
    t.equal(
      (await call(port, 'get_all_databases', {})).status,
      404,
      'the front serves the new path',
    )
    const binary = { ...moved, transportMode: 'binary' as const }
    const r2 = await proxy.reload({ ...proxy.config, metastore: [binary] })
    t.same([r2.removed, r2.added], [['metastore'], ['metastore']])
    t.equal(proxy.snapshot().routes[0]!.kind, 'metastore')
    t.notOk('transportMode' in proxy.snapshot().routes[0]!, 'a binary metastore route')
  },
)

t.test('a client that gives up before the answer ends only its own request', async (t) => {
  const [a] = await stubs(t, ['a'])
  a!.mode = 'slow'
  const { proxy, port } = await start(t, httpRoute([a!.port]))
  const body = encodeCall('get_all_databases', {}, 1)
  await new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () =>
      s.write(`POST /metastore HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`, () =>
        s.write(body),
      ),
    )
    s.on('error', () => {})
    // gone once the metastore has the request, before its late answer
    const poll = setInterval(() => {
      if (a!.requests.length === 1) {
        clearInterval(poll)
        s.destroy()
        resolve()
      }
    }, 5)
  })
  await waitFor('the late answer came and was dropped', () =>
    Object.keys(snap(proxy).http.requests).includes('get_all_databases client_gone'),
  )
  a!.mode = 'ok'
  t.equal((await call(port, 'get_all_databases', {})).status, 200, 'the proxy still serves')
  t.equal(snap(proxy).backends[0]!.active, 0, 'the backend slot was released')
})

t.test(
  'HTTPS both ways: a TLS front, metastores dialled with TLS; a wrong certificate moves on',
  async (t) => {
    const ca = makeCa(t)
    const pem = (path: string): PemFile => new PemFile(path, ca.read(path))
    const proxyCert = ca.issue('proxy', ['localhost', '127.0.0.1'])
    const good = ca.issue('hms', ['127.0.0.1'])
    const wrong = ca.issue('wrong', ['hms-other.example.com'])
    const tlsOf = (c: { cert: string; key: string }) => ({
      cert: ca.read(c.cert),
      key: ca.read(c.key),
    })
    const w = await startHmsHttpStub({ id: 'wrong-name', tls: tlsOf(wrong) })
    t.teardown(() => w.close())
    const b = await startHmsHttpStub({ id: 'b', tls: tlsOf(good) })
    t.teardown(() => b.close())
    const { proxy, port, logs } = await start(
      t,
      httpRoute([w.port, b.port], {
        tls: {
          cert: pem(proxyCert.cert),
          key: pem(proxyCert.key),
          clientCa: undefined,
          minVersion: 'TLSv1.2',
        },
        backendTls: {
          mode: 'on',
          ca: pem(ca.ca),
          serverName: undefined,
          cert: undefined,
          key: undefined,
          insecureSkipVerify: false,
        },
      }),
    )
    const tlsAgent = new Agent({ connect: { ca: ca.read(ca.ca), servername: 'localhost' } })
    t.teardown(() => tlsAgent.close())
    const body = encodeCall('create_database', { database: { name: 'secure' } }, 1)
    const r = await request(`https://127.0.0.1:${port}/metastore`, {
      method: 'POST',
      dispatcher: tlsAgent,
      headers: { authorization: 'Bearer over-tls' },
      body,
    })
    const bytes = Buffer.from(await r.body.arrayBuffer())
    t.equal(r.statusCode, 200)
    t.equal(decodeMessage(bytes)?.message.type, MessageType.REPLY)
    t.same(b.created, ['secure'], 'a write moves on after a refused certificate: nothing was sent')
    t.equal(w.requests.length, 0, 'the wrong-name metastore got nothing')
    t.equal(b.requests[0]?.headers.authorization, 'Bearer over-tls')
    t.match(
      logs.records.find((x) => x['code'] === 'ERR_TLS_CERT_ALTNAME_INVALID'),
      { backend: `127.0.0.1:${w.port}`, fix: /backendTls\.serverName/ },
      'the certificate failure is logged with its fix',
    )
    t.equal(snap(proxy).backends.find((x) => x.key === `127.0.0.1:${b.port}`)?.tls, true)
  },
)

t.test(
  'probes: OPTIONS on the servlet path; a metastore that stops answering is down before any client',
  async (t) => {
    const [a, b] = await stubs(t, ['a', 'b'])
    const { proxy, port } = await start(
      t,
      httpRoute([a!.port, b!.port], {
        healthCheck: { probe: 'auto', intervalMs: 100, timeoutMs: 50, failures: 2, successes: 1 },
      }),
    )
    await waitFor('probes reached both', () => a!.options.length > 0 && b!.options.length > 0)
    t.equal(a!.options[0], '/metastore')
    t.equal(a!.requests.length, 0, 'a probe is no call')
    const state = (s: HmsHttpStub): string | undefined =>
      snap(proxy).backends.find((x) => x.key === `127.0.0.1:${s.port}`)?.state
    await a!.close()
    await waitFor('a down by its probes', () => state(a!) === 'down')
    const got = await call(port, 'get_database', { name: 'default' })
    t.match(got.message?.result, { success: { description: 'b' } })
    t.equal(
      snap(proxy).backends.find((x) => x.key === `127.0.0.1:${a!.port}`)?.connectFailures,
      0,
      'no client tried the down one',
    )
  },
)

t.test(
  "thrift's own HTTP client (HttpConnection) through the proxy, as Hive's THttpClient",
  async (t) => {
    const [a, b] = await stubs(t, ['a', 'b'])
    a!.mode = 'die'
    const { port } = await start(t, httpRoute([a!.port, b!.port]))
    const conn = (
      thrift as unknown as {
        createHttpConnection(
          h: string,
          p: number,
          o: object,
        ): { end?(): void; on(e: string, f: (e: unknown) => void): void }
      }
    ).createHttpConnection('127.0.0.1', port, {
      path: '/metastore',
      transport: thrift.TBufferedTransport,
      protocol: thrift.TBinaryProtocol,
      headers: { 'x-actor-username': 'bob' },
    })
    const errors: unknown[] = []
    conn.on('error', (e) => errors.push(e))
    const client = thrift.createClient(HmsService, conn) as HmsServiceClient
    const db = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer in 5 s')), 5000)
      client.send('get_database', { name: 'default' }, (err, result) => {
        clearTimeout(timer)
        if (err) reject(err)
        else resolve(result)
      })
    })
    t.match(db, { name: 'default', description: 'b' }, 'a read re-sent past the dying metastore')
    t.equal(b!.requests[0]?.headers['x-actor-username'], 'bob')
    t.same(errors, [])
  },
)
