import net from 'node:net'
import t, { type Test } from 'tap'
import { ProxyMetrics } from '../../src/admin/metrics.js'
import { DEFAULTS } from '../../src/defaults.js'
import { renderStatus } from '../../src/status.js'
import type { Hs2RouteConfig } from '../../src/config/types.js'
import type { Hs2HttpRouteSnapshot } from '../../src/routes/hs2-http-route.js'
import type { HiveHaProxy } from '../../src/proxy.js'
import { HttpHiveSession, type HttpClientOptions } from '../helpers/hive-http-client.js'
import { startHs2HttpStub, type Hs2HttpStub } from '../helpers/hs2-http-stub.js'
import { startHs2Stub } from '../helpers/hs2-stub.js'
import { registerHs2 } from '../helpers/hs2-register.js'
import { seededRandom } from '../helpers/random.js'
import { hs2Route, startTestProxy, waitFor } from '../helpers/proxy.js'
import { connectTestZk } from '../helpers/zk-client.js'
import { startZk } from '../helpers/zk.js'

const zk = await startZk()
t.teardown(() => zk.close())
const writer = await connectTestZk(zk.connectString)
t.teardown(() => writer.close())

let nsSeq = 0
const nextNs = (): string => `hs2http${++nsSeq}`
const zkTarget = (namespace: string) => ({
  kind: 'zookeeper' as const,
  quorum: zk.connectString,
  namespace,
})

function httpRoute(namespace: string, over: Partial<Hs2RouteConfig> = {}): Hs2RouteConfig {
  return hs2Route(zkTarget(namespace), {
    transportMode: 'http',
    policy: 'round-robin',
    http: { ...DEFAULTS.hs2.http, headersTimeoutMs: 500 },
    ...over,
  })
}

async function httpStubs(t: Test, ids: string[]): Promise<Hs2HttpStub[]> {
  const out: Hs2HttpStub[] = []
  for (const id of ids) {
    const s = await startHs2HttpStub({ id })
    t.teardown(() => s.close())
    out.push(s)
  }
  return out
}

/** Register like HS2 with transport mode http: the znode's HTTP port is the stub's. */
const register = (ns: string, s: Hs2HttpStub, mode: 'http' | 'all' = 'http') =>
  registerHs2(
    writer,
    ns,
    { host: s.host, port: mode === 'all' ? s.port + 10_000 : s.port },
    { transportMode: mode, httpPort: s.port, httpPath: s.path },
  )

const route = (p: HiveHaProxy): Hs2HttpRouteSnapshot =>
  p.snapshot().routes[0] as Hs2HttpRouteSnapshot
const listed = (p: HiveHaProxy): number =>
  route(p).backends.filter((b) => b.state !== 'unlisted').length

const open = (port: number, o: Partial<HttpClientOptions> = {}) =>
  HttpHiveSession.open({ port, ...o })

t.test(
  'sessions stay on the server that opened them; http and all instances serve, binary ones are skipped',
  async (t) => {
    const ns = nextNs()
    const [a, b] = await httpStubs(t, ['a', 'b'])
    await register(ns, a!, 'http')
    await register(ns, b!, 'all')
    const bin = await startHs2Stub({ id: 'bin' })
    t.teardown(() => bin.close())
    await registerHs2(writer, ns, bin, { transportMode: 'binary' })
    const { proxy, ports } = await startTestProxy(t, [httpRoute(ns)])
    await waitFor('two HTTP backends', () => listed(proxy) === 2)
    t.match(route(proxy).skipped, [{ reason: /transport mode binary \(an HTTP route/ }])

    const s1 = await open(ports[0]!)
    const s2 = await open(ports[0]!)
    const first = [await s1.query(), await s1.query(), await s1.query()]
    const second = [await s2.query(), await s2.query()]
    t.equal(new Set(first).size, 1, `one server for session 1: ${first}`)
    t.equal(new Set(second).size, 1, `one server for session 2: ${second}`)
    t.not(first[0], second[0], 'round-robin put the two sessions on different servers')
    const snap = route(proxy)
    t.ok(snap.http.affinity.byHandle >= 10, 'every later call found its backend by handle')
    t.equal(a!.invalid + b!.invalid, 0, 'no call reached a server that did not know its handle')
    t.same(
      Object.values(snap.http.tracked).map((c) => c.sessions),
      [1, 1],
    )
    await s1.close()
    await s2.close()
    t.equal(route(proxy).http.affinity.tracked, 0, 'closed sessions and operations are forgotten')
    t.match(route(proxy).http.requests, { 'OpenSession ok': 2, 'ExecuteStatement ok': 5 })
  },
)

t.test(
  'a cookie-less client with a new TCP connection per request keeps its session on one server',
  async (t) => {
    const ns = nextNs()
    const ss = await httpStubs(t, ['a', 'b', 'c'])
    for (const s of ss) await register(ns, s)
    const { proxy, ports } = await startTestProxy(t, [httpRoute(ns)])
    await waitFor('three backends', () => listed(proxy) === 3)
    for (let i = 0; i < 3; i++) {
      const s = await open(ports[0]!, { cookies: false, keepAlive: false })
      const got = [await s.query(), await s.query()]
      t.equal(new Set(got).size, 1, `session ${i}: ${got}`)
      await s.close()
    }
    const conns = ss.reduce((n, s) => n + s.connections, 0)
    t.ok(conns >= 3, `the proxy reached the servers (${conns} connections)`)
    t.equal(route(proxy).http.affinity.byCookie, 0, 'affinity came from the handles alone')
    t.equal(
      ss.reduce((n, s) => n + s.invalid, 0),
      0,
    )
  },
)

t.test(
  'an instance leaving ZooKeeper keeps its sessions; a dead one gets a clear lost-session error',
  async (t) => {
    const ns = nextNs()
    const [a, b] = await httpStubs(t, ['a', 'b'])
    const znodes = { a: await register(ns, a!), b: await register(ns, b!) }
    const { proxy, ports, logs } = await startTestProxy(t, [httpRoute(ns)])
    await waitFor('two backends', () => listed(proxy) === 2)
    const s = await open(ports[0]!)
    const home = await s.query()
    const homeStub = home === 'a' ? a! : b!
    // deregistered but still running (as HS2 does on a graceful stop): the session goes on
    await writer.remove(home === 'a' ? znodes.a : znodes.b)
    await waitFor('home unlisted', () => listed(proxy) === 1)
    t.equal(await s.query(), home, 'the deregistered instance still serves its session')
    await homeStub.close()
    await t.rejects(
      s.query(),
      /HHP_ERR_SESSION_LOST: the session [0-9a-f]{32} lives on HiveServer2 127\.0\.0\.1:\d+/,
    )
    s.end()
    t.ok(route(proxy).http.affinity.lostSessions >= 1)
    t.match(logs.text(), /request for a lost session answered with an error/)
    const other = home === 'a' ? 'b' : 'a'
    const fresh = await open(ports[0]!)
    t.equal(await fresh.query(), other, 'a new session goes to a live server')
    await fresh.close()
  },
)

/** A TCP balancer in front of several proxies: each new client connection goes to the next one. */
async function roundRobinTcp(t: Test, ports: number[]): Promise<number> {
  let i = 0
  const server = net.createServer((c) => {
    const up = net.connect(ports[i++ % ports.length]!, '127.0.0.1')
    c.pipe(up).pipe(c)
    c.on('error', () => up.destroy())
    up.on('error', () => c.destroy())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const a = server.address()
  return typeof a === 'object' && a !== null ? a.port : 0
}

t.test('two proxies behind one address keep a session together through the cookie', async (t) => {
  const ns = nextNs()
  const ss = await httpStubs(t, ['a', 'b', 'c'])
  for (const s of ss) await register(ns, s)
  const p1 = await startTestProxy(t, [httpRoute(ns)])
  const p2 = await startTestProxy(t, [httpRoute(ns)])
  await waitFor('both proxies list three', () => listed(p1.proxy) === 3 && listed(p2.proxy) === 3)
  const front = await roundRobinTcp(t, [p1.ports[0]!, p2.ports[0]!])
  const s = await open(front, { keepAlive: false })
  const got = [await s.query(), await s.query()]
  t.equal(new Set(got).size, 1, `one server: ${got}`)
  await s.close()
  const cookieHits = route(p1.proxy).http.affinity.byCookie + route(p2.proxy).http.affinity.byCookie
  t.ok(cookieHits >= 1, `the proxy that had not seen the session used the cookie (${cookieHits})`)
  t.equal(
    ss.reduce((n, x) => n + x.invalid, 0),
    0,
  )
})

t.test(
  'headers, cookies and the query string reach the server unchanged; X-Forwarded-For appended',
  async (t) => {
    const [a] = await httpStubs(t, ['a'])
    const { ports } = await startTestProxy(t, [
      hs2Route(
        { kind: 'static', backends: [{ host: '127.0.0.1', port: a!.port }] },
        { transportMode: 'http', http: { ...DEFAULTS.hs2.http } },
      ),
    ])
    const body = Buffer.from([0x80, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0])
    const res = await fetch(`http://127.0.0.1:${ports[0]}/cliservice?doAs=bob`, {
      method: 'POST',
      body,
      headers: {
        authorization: 'Basic dTpw',
        'x-xsrf-header': 'true',
        'x-hive-delegation-token': 'tok',
        'x-custom': 'c1',
        cookie: 'hive.server2.auth=signed',
        'x-forwarded-for': '10.0.0.1',
        'content-type': 'application/x-thrift',
      },
    })
    await res.arrayBuffer()
    t.equal(a!.urls[0], '/cliservice?doAs=bob')
    t.match(a!.headers[0], {
      authorization: 'Basic dTpw',
      'x-xsrf-header': 'true',
      'x-hive-delegation-token': 'tok',
      'x-custom': 'c1',
      cookie: 'hive.server2.auth=signed',
      'x-forwarded-for': '10.0.0.1, 127.0.0.1',
    })
    t.match(res.headers.get('set-cookie'), /^hive-ha-proxy-affinity=[\w-]{22}; Path=\/; HttpOnly$/)
  },
)

/** Raw bytes to the front; resolves with everything it answered before closing. */
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

t.test('bad input ends only that connection', async (t) => {
  const [a] = await httpStubs(t, ['a'])
  const { ports, logs } = await startTestProxy(t, [
    hs2Route(
      { kind: 'static', backends: [{ host: '127.0.0.1', port: a!.port }] },
      {
        transportMode: 'http',
        http: { ...DEFAULTS.hs2.http, maxBodyBytes: 4096, headersTimeoutMs: 300 },
      },
    ),
  ])
  const port = ports[0]!
  t.match(await raw(port, (s) => s.write('\x16\x03\x01 garbage\r\n\r\n')), /^HTTP\/1\.1 400 /)
  t.match(
    await raw(port, (s) =>
      s.write(`POST /cliservice HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`),
    ),
    /^HTTP\/1\.1 431 /,
  )
  t.match(
    await raw(port, (s) => s.write('POST /cliservice HTTP/1.1\r\nHost: x\r\n')),
    /^HTTP\/1\.1 408 /,
    'headers that never finish',
  )
  t.match(
    await raw(port, (s) =>
      s.end(
        `POST /cliservice HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(5000)}`,
      ),
    ),
    /^HTTP\/1\.1 413 /,
  )
  t.match(
    await raw(port, (s) =>
      s.end(
        'POST /cliservice HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1400\r\n' +
          'x'.repeat(0x1400) +
          '\r\n0\r\n\r\n',
      ),
    ),
    /^HTTP\/1\.1 413 /,
    'a chunked body over the limit',
  )
  t.match(
    await raw(port, (s) =>
      s.end('POST /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'),
    ),
    /^HTTP\/1\.1 404 /,
  )
  t.match(
    await raw(port, (s) =>
      s.end('GET /cliservice HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    ),
    /^HTTP\/1\.1 405 [\s\S]*Allow: POST/i,
  )
  t.match(
    await raw(port, (s) =>
      s.end(
        'POST /cliservice HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\nabcd',
      ),
    ),
    /^HTTP\/1\.1 400 [\s\S]*not a Thrift binary TCLIService call/,
  )
  t.match(logs.text(), /bad HTTP from a client; closing that connection/)
  const s = await open(port)
  t.equal(await s.query(), 'a', 'the route still serves')
  await s.close()
})

t.test('Expect: 100-continue is answered before the body is sent', async (t) => {
  const [a] = await httpStubs(t, ['a'])
  const { ports } = await startTestProxy(t, [
    hs2Route(
      { kind: 'static', backends: [{ host: '127.0.0.1', port: a!.port }] },
      { transportMode: 'http', http: { ...DEFAULTS.hs2.http, maxBodyBytes: 4096 } },
    ),
  ])
  const got = await raw(ports[0]!, (s) => {
    s.write(
      'POST /cliservice HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 99999\r\n\r\n',
    )
  })
  t.match(got, /^HTTP\/1\.1 413 /, 'too large: refused without a 100 Continue')
  const ok = await raw(ports[0]!, (s) => {
    s.write(
      'POST /cliservice HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n',
    )
    s.once('data', () => s.end('abcd'))
  })
  t.match(ok, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 400 /)
})

t.test('metrics and status show the HTTP route', async (t) => {
  const ns = nextNs()
  const [a] = await httpStubs(t, ['a'])
  await register(ns, a!)
  const { proxy, ports } = await startTestProxy(t, [httpRoute(ns)])
  await waitFor('one backend', () => listed(proxy) === 1)
  const s = await open(ports[0]!)
  await s.query()
  const m = new ProxyMetrics(() => proxy.snapshot())
  const text = await m.text()
  const key = `127.0.0.1:${a!.port}`
  t.match(text, /http_requests_total\{route="hs2",method="OpenSession",outcome="ok"\} 1/)
  t.match(text, /http_affinity_total\{route="hs2",by="handle"\} [1-9]/)
  t.match(
    text,
    new RegExp(`http_tracked_handles\\{route="hs2",backend="${key}",kind="session"\\} 1`),
  )
  t.match(text, /http_lost_sessions_total\{route="hs2"\} 0/)
  const status = renderStatus(proxy.snapshot(), proxy.readiness(), Date.now())
  t.match(status, /HTTP on \/cliservice: \d+ handles tracked; routed by handle [1-9]/)
  t.match(status, new RegExp(`${key}: 1 sessions`))
  await s.close()
})

t.test('slow start: a server back from ejection gets a trickle of new sessions', async (t) => {
  const [a, b] = await httpStubs(t, ['a', 'b'])
  const aPort = a!.port
  const { proxy, ports } = await startTestProxy(
    t,
    [
      hs2Route(
        {
          kind: 'static',
          backends: [
            { host: '127.0.0.1', port: aPort },
            { host: '127.0.0.1', port: b!.port },
          ],
        },
        {
          transportMode: 'http',
          policy: 'round-robin',
          http: { ...DEFAULTS.hs2.http },
          slowStartMs: 600_000,
          ejection: { failures: 2, baseMs: 200, maxMs: 200 },
        },
      ),
    ],
    { deps: { random: seededRandom(5) } },
  )
  const stateOfA = () => route(proxy).backends.find((x) => x.key === `127.0.0.1:${aPort}`)?.state
  await a!.close()
  for (let i = 0; i < 6 && stateOfA() !== 'ejected'; i++) {
    const s = await open(ports[0]!)
    t.equal(await s.query(), 'b', 'a session opened while a is down lands on b')
    await s.close()
  }
  t.equal(stateOfA(), 'ejected')
  const back = await startHs2HttpStub({ id: 'a', port: aPort })
  t.teardown(() => back.close())
  await waitFor('ejection over', () => stateOfA() === 'up')
  const got: string[] = []
  for (let i = 0; i < 20; i++) {
    const s = await open(ports[0]!)
    got.push(await s.query())
    await s.close()
  }
  const onA = got.filter((x) => x === 'a').length
  // round-robin alone would give it 10 of 20; at the start of a 10-minute ramp it gets about 1 in 20
  t.ok(onA <= 3, `the recovered server got ${onA} of 20 new sessions`)
  t.ok(
    got.every((x) => x === 'a' || x === 'b'),
    'every session served',
  )
})
