/**
 * HS2 HTTP route, what crosses the wire untouched: gzip-encoded bodies both ways (decoded only to
 * read handles), 401 challenges, and the zooKeeperHA leader's HTTP endpoint.
 */
import http from 'node:http'
import { gunzipSync, gzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import { DEFAULTS } from '../../src/defaults.js'
import type { Hs2RouteConfig } from '../../src/config/types.js'
import type { Hs2HttpRouteSnapshot } from '../../src/routes/hs2-http-route.js'
import type { HiveHaProxy } from '../../src/proxy.js'
import { HttpHiveSession } from '../helpers/hive-http-client.js'
import { startHs2HttpStub, type Hs2HttpStub } from '../helpers/hs2-http-stub.js'
import { registerHa } from '../helpers/hs2-register.js'
import { T, decodeHs2Reply, encodeHs2Call } from '../helpers/hs2-wire.js'
import { hs2Route, startTestProxy, waitFor } from '../helpers/proxy.js'
import { connectTestZk } from '../helpers/zk-client.js'
import { startZk } from '../helpers/zk.js'

const V10: number = T.TProtocolVersion.HIVE_CLI_SERVICE_PROTOCOL_V10

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

/** One POST with node:http, which (unlike fetch) hands back the body exactly as it came. */
function post(port: number, body: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/cliservice',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/x-thrift', ...headers },
        timeout: 5000,
      },
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (d: Buffer) => parts.push(d))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts),
          }),
        )
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')))
    req.on('error', reject)
    req.end(body)
  })
}

interface Wrapper {
  port: number
  /** request bodies as they arrived, with their Content-Encoding */
  seen: Array<{ encoding: string | undefined; body: Buffer }>
  /** response bodies as this server sent them */
  sent: Buffer[]
}

/**
 * An HTTP server in front of an HTTP stub that speaks gzip: it decodes gzip request bodies before
 * forwarding them, and gzips every answer. `challenge`: requests without Authorization get a 401
 * Negotiate challenge instead.
 */
async function wrap(t: Test, stub: Hs2HttpStub, challenge = false): Promise<Wrapper> {
  const w: Wrapper = { port: 0, seen: [], sent: [] }
  const server = http.createServer(async (req, res) => {
    const parts: Buffer[] = []
    for await (const c of req) parts.push(c as Buffer)
    const raw = Buffer.concat(parts)
    const encoding = req.headers['content-encoding']
    w.seen.push({ encoding, body: raw })
    if (challenge && req.headers.authorization === undefined) {
      res.writeHead(401, { 'www-authenticate': 'Negotiate', 'content-type': 'text/plain' })
      res.end('authentication required')
      return
    }
    const plain = encoding === 'gzip' ? gunzipSync(raw) : raw
    const r = await fetch(`http://127.0.0.1:${stub.port}/${stub.path}`, {
      method: 'POST',
      body: plain,
      headers: { 'content-type': 'application/x-thrift' },
    })
    const answer = gzipSync(Buffer.from(await r.arrayBuffer()))
    w.sent.push(answer)
    res.writeHead(r.status, {
      'content-type': 'application/x-thrift',
      'content-encoding': 'gzip',
      'content-length': answer.length,
    })
    res.end(answer)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const a = server.address()
  w.port = typeof a === 'object' && a !== null ? a.port : 0
  return w
}

async function stub(t: Test, id: string): Promise<Hs2HttpStub> {
  const s = await startHs2HttpStub({ id })
  t.teardown(() => s.close())
  return s
}

const staticHttp = (ports: number[], over: Partial<Hs2RouteConfig> = {}): Hs2RouteConfig =>
  hs2Route(
    { kind: 'static', backends: ports.map((port) => ({ host: '127.0.0.1', port })) },
    { transportMode: 'http', policy: 'round-robin', http: { ...DEFAULTS.hs2.http }, ...over },
  )

const route = (p: HiveHaProxy): Hs2HttpRouteSnapshot =>
  p.snapshot().routes[0] as Hs2HttpRouteSnapshot

t.test(
  'gzip bodies pass both ways untouched, and the handles inside them still steer the session',
  async (t) => {
    const [a, b] = [await stub(t, 'a'), await stub(t, 'b')]
    const wa = await wrap(t, a)
    const wb = await wrap(t, b)
    const { proxy, ports } = await startTestProxy(t, [staticHttp([wa.port, wb.port])])
    const gz = { 'content-encoding': 'gzip' }

    const openBody = gzipSync(
      encodeHs2Call('OpenSession', new T.TOpenSessionReq({ client_protocol: V10 })),
    )
    const opened = await post(ports[0]!, openBody, gz)
    t.equal(opened.status, 200)
    t.equal(opened.headers['content-encoding'], 'gzip', 'the answer is still gzip-encoded')
    const [home, other] = wa.seen.length === 1 ? [wa, wb] : [wb, wa]
    t.equal(home.seen.length, 1, 'OpenSession reached one server')
    t.equal(home.seen[0]!.encoding, 'gzip')
    t.ok(home.seen[0]!.body.equals(openBody), 'the request body arrived byte for byte')
    t.ok(opened.body.equals(home.sent[0]!), 'the answer came back byte for byte')
    const resp = decodeHs2Reply('OpenSession', gunzipSync(opened.body)).resp
    t.ok(resp?.['sessionHandle'], 'the client reads its session handle')

    // round-robin alone would alternate between the two; the handle keeps every call home
    for (let i = 0; i < 4; i++) {
      const call = gzipSync(
        encodeHs2Call(
          'ExecuteStatement',
          new T.TExecuteStatementReq({
            sessionHandle: resp!['sessionHandle'],
            statement: 'select 1',
          }),
          i + 2,
        ),
      )
      const r = await post(ports[0]!, call, gz)
      t.equal(r.status, 200)
      const got = decodeHs2Reply('ExecuteStatement', gunzipSync(r.body)).resp
      t.equal(
        (got?.['status'] as { statusCode?: number } | undefined)?.statusCode,
        T.TStatusCode.SUCCESS_STATUS,
        `call ${i + 1} succeeded on the server that knows the session`,
      )
    }
    t.equal(home.seen.length, 5, 'every call of the session went to its server')
    t.equal(other.seen.length, 0)
    t.equal(a.invalid + b.invalid, 0)
    t.ok(route(proxy).http.affinity.byHandle >= 4, 'found by handle, read from gzip bodies')
  },
)

t.test('a 401 challenge passes back unchanged and costs the backend nothing', async (t) => {
  const a = await stub(t, 'a')
  const w = await wrap(t, a, true)
  const { proxy, ports } = await startTestProxy(t, [staticHttp([w.port])])
  const body = encodeHs2Call('OpenSession', new T.TOpenSessionReq({ client_protocol: V10 }))

  const denied = await post(ports[0]!, body)
  t.equal(denied.status, 401)
  t.equal(denied.headers['www-authenticate'], 'Negotiate')
  t.equal(denied.body.toString(), 'authentication required')

  const ok = await post(ports[0]!, body, { authorization: 'Negotiate dG9rZW4=' })
  t.equal(ok.status, 200, 'the retry with credentials is served')
  t.equal(w.seen.length, 2)
  t.ok(decodeHs2Reply('OpenSession', gunzipSync(ok.body)).resp?.['sessionHandle'])
  const backend = route(proxy).backends[0]!
  t.equal(backend.state, 'up', 'a 401 is an answer, not a failure')
})

t.test(
  'zooKeeperHA over HTTP: the leader record’s HTTP endpoint is routed to, and leader changes are followed',
  async (t) => {
    const zk = await startZk()
    t.teardown(() => zk.close())
    const writer = await connectTestZk(zk.connectString)
    t.teardown(() => writer.close())
    const [a, b] = [await stub(t, 'a'), await stub(t, 'b')]
    const ns = 'hs2httpha'
    // the binary port in the record is one nothing listens on: only the HTTP endpoint may be used
    const ra = await registerHa(
      writer,
      ns,
      { host: a.host, port: 1 },
      {
        leader: true,
        http: { port: a.port, path: a.path },
      },
    )
    const rb = await registerHa(
      writer,
      ns,
      { host: b.host, port: 1 },
      {
        leader: false,
        http: { port: b.port, path: b.path },
      },
    )
    const { proxy, ports } = await startTestProxy(t, [
      hs2Route(
        { kind: 'zookeeper-ha', quorum: zk.connectString, namespace: ns },
        { transportMode: 'http', http: { ...DEFAULTS.hs2.http } },
      ),
    ])
    const listed = () =>
      route(proxy)
        .backends.filter((x) => x.state !== 'unlisted')
        .map((x) => x.key)
    await waitFor('the leader listed', () => listed().join() === `${a.host}:${a.port}`)
    const s1 = await HttpHiveSession.open({ port: ports[0]! })
    t.equal(await s1.query(), 'a', 'the leader serves')

    await rb.setLeader(true)
    await ra.setLeader(false)
    await waitFor('the new leader listed', () => listed().join() === `${b.host}:${b.port}`)
    const s2 = await HttpHiveSession.open({ port: ports[0]! })
    t.equal(await s2.query(), 'b', 'a new session goes to the new leader')
    await s2.close()
    await s1.close().catch(() => undefined)
  },
)
