/**
 * TLS on fronts and to backends (design decision 13), with certificates made at test time
 * (helpers/certs.ts), real ZooKeeper, hive-driver and the thrift-built stubs:
 * - TLS front, plain backends: hive-driver checks the proxy's certificate for the name it dials;
 * - plain front, TLS backends: instances registered with hive.server2.use.SSL=true are dialled
 *   with TLS and checked (mode auto), plain ones stay plain; a wrong-name certificate is refused,
 *   logged once, counted, and the client fails over;
 * - client certificates on the front; a rotated certificate on reload with a live session kept;
 * - both sides TLS on a metastore route: still Thrift-aware (failover, set_ugi replay);
 * - the HTTP route over HTTPS both ways, session affinity kept.
 */
import t, { type Test } from 'tap'
import tls from 'node:tls'
import hive from 'hive-driver'
import { startZk } from '../helpers/zk.js'
import { connectTestZk } from '../helpers/zk-client.js'
import { startHs2Stub, type Hs2Stub } from '../helpers/hs2-stub.js'
import { registerHs2 } from '../helpers/hs2-register.js'
import { queryBackendId } from '../helpers/hive-client.js'
import { startHmsStub, createHmsStore, type HmsStub } from '../helpers/hms-stub.js'
import { connectHms } from '../helpers/hms-client.js'
import { startHs2HttpStub } from '../helpers/hs2-http-stub.js'
import { HttpHiveSession } from '../helpers/hive-http-client.js'
import { makeCa, type Issued } from '../helpers/certs.js'
import { hs2Route, metastoreRoute, startTestProxy, waitFor } from '../helpers/proxy.js'
import {
  PemFile,
  type BackendTlsConfig,
  type FrontTlsConfig,
  type HostPort,
} from '../../src/config/types.js'
import type { MetastoreRouteSnapshot } from '../../src/routes/metastore-route.js'
import type { Hs2Route } from '../../src/routes/hs2-route.js'

const zk = await startZk()
t.teardown(() => zk.close())
const writer = await connectTestZk(zk.connectString)
t.teardown(() => writer.close())

const ca = makeCa(t)
/** the proxy's own certificate: the names a local client dials */
const proxyCert = ca.issue('proxy', ['localhost', '127.0.0.1'])
/** what the backends present: they run on 127.0.0.1 (the znode's bind host) */
const backendCert = ca.issue('backend', ['127.0.0.1'])
const wrongName = ca.issue('wrong', ['hs2-other.example.com'])

const pem = (path: string): PemFile => new PemFile(path, ca.read(path))
const front = (c: Issued = proxyCert, over: Partial<FrontTlsConfig> = {}): FrontTlsConfig => ({
  cert: pem(c.cert),
  key: pem(c.key),
  clientCa: undefined,
  minVersion: 'TLSv1.2',
  ...over,
})
const backends = (over: Partial<BackendTlsConfig> = {}): BackendTlsConfig => ({
  mode: 'auto',
  ca: pem(ca.ca),
  serverName: undefined,
  cert: undefined,
  key: undefined,
  insecureSkipVerify: false,
  ...over,
})
const clientTls = { ca: ca.read(ca.ca), servername: 'localhost' }
const staticTarget = (ss: HostPort[]) => ({
  kind: 'static' as const,
  backends: ss.map((s) => ({ host: '127.0.0.1', port: s.port })),
})
let nsSeq = 0
const zkTarget = () => ({
  kind: 'zookeeper' as const,
  quorum: zk.connectString,
  namespace: `tls${++nsSeq}`,
})

async function hs2Stub(t: Test, id: string, cert?: Issued): Promise<Hs2Stub> {
  const s = await startHs2Stub({
    id,
    ...(cert === undefined ? {} : { tls: { cert: ca.read(cert.cert), key: ca.read(cert.key) } }),
  })
  t.teardown(() => s.close())
  return s
}

/** The certificate a TLS server on `port` presents (checked against the test CA). */
function peerCert(port: number): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...clientTls }, () => {
      resolve(s.getPeerCertificate())
      s.destroy()
    })
    s.on('error', reject)
  })
}

t.test('TLS front, plain backend: hive-driver checks the proxy certificate', async (t) => {
  const a = await hs2Stub(t, 'a')
  const { proxy, ports, logs } = await startTestProxy(t, [
    hs2Route(staticTarget([a]), { tls: front() }),
  ])
  const port = ports[0]!
  t.equal(await queryBackendId({ host: '127.0.0.1', port, tls: clientTls }), 'a')
  t.equal(
    await queryBackendId({ host: '127.0.0.1', port, tls: { ...clientTls, servername: undefined } }),
    'a',
    'checked for the IP address too',
  )
  const other = makeCa(t, 'another CA')
  await t.rejects(
    queryBackendId({ host: '127.0.0.1', port, tls: { ca: other.read(other.ca) }, timeoutMs: 3000 }),
    'a client that does not trust the proxy certificate is refused',
  )
  await t.rejects(
    queryBackendId({ host: '127.0.0.1', port, timeoutMs: 2000 }),
    'plain TCP to a TLS front gets nowhere',
  )
  await waitFor('handshake failure logged', () =>
    logs.messages().includes('client TLS handshake failed; connection closed'),
  )
  t.match(proxy.snapshot().routes[0]!.tls, {
    front: true,
    clientCertificates: false,
    backends: 'none',
  })
  t.equal(proxy.snapshot().routes[0]!.backends[0]!.tls, false)
  t.ok(
    logs
      .messages()
      .includes('TLS on this route: bytes move through net.Socket (bare TCP handles carry no TLS)'),
    'the forced socket path is said once',
  )
  t.equal((proxy.snapshot().routes[0] as { tcpIo?: string }).tcpIo, 'sockets')
})

t.test(
  'plain front, mode auto: instances with hive.server2.use.SSL=true are reached over verified TLS',
  async (t) => {
    const target = zkTarget()
    const secure = await hs2Stub(t, 'secure', backendCert)
    const plain = await hs2Stub(t, 'plain')
    await registerHs2(writer, target.namespace, secure, { useSsl: true })
    await registerHs2(writer, target.namespace, plain, { useSsl: false })
    const { proxy, ports } = await startTestProxy(t, [
      hs2Route(target, { policy: 'round-robin', backendTls: backends() }),
    ])
    await waitFor('two backends', () => proxy.snapshot().routes[0]!.backends.length === 2)
    const seen: string[] = []
    for (let i = 0; i < 4; i++)
      seen.push(await queryBackendId({ host: '127.0.0.1', port: ports[0]! }))
    t.same([...new Set(seen)].sort(), ['plain', 'secure'])
    const byKey = Object.fromEntries(
      proxy.snapshot().routes[0]!.backends.map((b) => [b.key, b.tls]),
    )
    t.same(byKey, { [`127.0.0.1:${secure.port}`]: true, [`127.0.0.1:${plain.port}`]: false })
    t.ok(secure.sessions >= 2, 'the TLS stub served sessions: the handshake was checked and done')
    t.ok(secure.tlsResumed >= 1, "later connections resume the backend's TLS session")
  },
)

t.test(
  'a backend whose certificate names another host is refused, logged once and failed over',
  async (t) => {
    const target = zkTarget()
    const bad = await hs2Stub(t, 'bad', wrongName)
    const good = await hs2Stub(t, 'good', backendCert)
    await registerHs2(writer, target.namespace, bad, { useSsl: true })
    await registerHs2(writer, target.namespace, good, { useSsl: true })
    const { proxy, ports, logs } = await startTestProxy(t, [
      hs2Route(target, {
        policy: 'round-robin',
        backendTls: backends(),
        // never ejected here: every client meets the bad backend first or second
        ejection: { failures: 100, baseMs: 60_000, maxMs: 60_000 },
      }),
    ])
    await waitFor('two backends', () => proxy.snapshot().routes[0]!.backends.length === 2)
    for (let i = 0; i < 4; i++)
      t.equal(await queryBackendId({ host: '127.0.0.1', port: ports[0]! }), 'good')
    const badKey = `127.0.0.1:${bad.port}`
    const lines = logs.records.filter(
      (r) =>
        r.msg === "backend's TLS certificate refused; trying another (logged once per backend)",
    )
    t.equal(lines.length, 1, 'one line for the bad backend, however many clients met it')
    t.match(lines[0], { backend: badKey, code: 'ERR_TLS_CERT_ALTNAME_INVALID', name: '127.0.0.1' })
    t.match(String(lines[0]?.fix), /backendTls\.serverName/)
    const b = proxy.snapshot().routes[0]!.backends.find((x) => x.key === badKey)!
    t.ok(b.connectFailures >= 2, 'each refusal counts as a connect failure')
    t.equal(bad.sessions, 0, 'no session ever reached the impostor')
    t.ok(proxy.snapshot().routes[0]!.connections.failovers >= 2)
  },
)

t.test(
  'a backend certificate from an unknown CA is refused; insecureSkipVerify shows',
  async (t) => {
    const other = makeCa(t, 'rogue CA')
    const rogue = other.issue('rogue', ['127.0.0.1'])
    const a = await startHs2Stub({
      id: 'rogue',
      tls: { cert: other.read(rogue.cert), key: other.read(rogue.key) },
    })
    t.teardown(() => a.close())
    const { proxy, ports, logs } = await startTestProxy(t, [
      hs2Route(staticTarget([a]), { backendTls: backends({ mode: 'on' }), maxConnectAttempts: 1 }),
    ])
    await t.rejects(queryBackendId({ host: '127.0.0.1', port: ports[0]!, timeoutMs: 3000 }))
    t.match(
      logs.records.find((r) => r.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
      { fix: /backendTls\.ca/ },
    )
    const insecure = await startTestProxy(t, [
      hs2Route(staticTarget([a]), {
        name: 'insecure',
        backendTls: backends({ mode: 'on', insecureSkipVerify: true }),
      }),
    ])
    t.equal(await queryBackendId({ host: '127.0.0.1', port: insecure.ports[0]! }), 'rogue')
    t.match(insecure.proxy.snapshot().routes[0]!.tls, { backends: 'on', insecureSkipVerify: true })
    t.ok(
      insecure.logs.messages().some((m) => m.startsWith('backend certificates are NOT checked')),
      'warned at start',
    )
    t.equal(proxy.snapshot().routes[0]!.tls.insecureSkipVerify, false)
  },
)

t.test('client-certificate front: no certificate, no connection', async (t) => {
  const a = await hs2Stub(t, 'a')
  const clientCert = ca.issue('client', ['client.example.com'])
  const { proxy, ports } = await startTestProxy(t, [
    hs2Route(staticTarget([a]), { tls: front(proxyCert, { clientCa: pem(ca.ca) }) }),
  ])
  const port = ports[0]!
  await t.rejects(
    queryBackendId({ host: '127.0.0.1', port, tls: clientTls, timeoutMs: 3000 }),
    'refused without a client certificate',
  )
  t.equal(a.connections, 0, 'nothing reached the backend')
  t.equal(
    await queryBackendId({
      host: '127.0.0.1',
      port,
      tls: { ...clientTls, cert: ca.read(clientCert.cert), key: ca.read(clientCert.key) },
    }),
    'a',
  )
  t.match(proxy.snapshot().routes[0]!.tls, { front: true, clientCertificates: true })
})

t.test('a rotated certificate serves new connections; a live session goes on', async (t) => {
  const a = await hs2Stub(t, 'a')
  const cfg = hs2Route(staticTarget([a]), { tls: front() })
  const { proxy, ports, logs } = await startTestProxy(t, [cfg])
  const port = ports[0]!
  t.equal((await peerCert(port)).subject.CN, 'proxy')

  // a live session through the old certificate
  const T = hive.thrift.TCLIService_types
  const client = new hive.HiveClient(hive.thrift.TCLIService, T)
  client.on('error', () => {})
  await client.connect(
    { host: '127.0.0.1', port, options: { ssl: true, rejectUnauthorized: true, ...clientTls } },
    new hive.connections.TcpConnection(),
    new hive.auth.NoSaslAuthentication(),
  )
  t.teardown(() => client.close())
  const session = await client.openSession({
    client_protocol: T.TProtocolVersion.HIVE_CLI_SERVICE_PROTOCOL_V10,
  })

  const rotated = ca.issue('proxy-rotated', ['localhost', '127.0.0.1'])
  const result = await proxy.reload({ ...proxy.config, hs2: [{ ...cfg, tls: front(rotated) }] })
  t.same(result.updated, ['hs2'], 'updated in place, not restarted')
  t.ok(logs.messages().includes('TLS certificate reloaded for new connections'))
  t.equal((await peerCert(port)).subject.CN, 'proxy-rotated', 'new connections: new certificate')
  t.equal(await queryBackendId({ host: '127.0.0.1', port, tls: clientTls }), 'a')

  const utils = new hive.HiveUtils(T)
  const op = await session.executeStatement('SELECT 1', { runAsync: true })
  await utils.waitUntilReady(op, false, () => {})
  await utils.fetchAll(op)
  t.same(utils.getResult(op).getValue(), [{ backend: 'a' }], 'the live session still answers')
  await op.close()
  await session.close()
})

t.test('metastore, TLS on both sides: Thrift-aware failover with set_ugi replay', async (t) => {
  const store = createHmsStore(['default'])
  const stubs: HmsStub[] = []
  for (const id of ['a', 'b']) {
    const s = await startHmsStub({
      id,
      store,
      tls: { cert: ca.read(backendCert.cert), key: ca.read(backendCert.key) },
    })
    t.teardown(() => s.close())
    stubs.push(s)
  }
  const [a, b] = stubs as [HmsStub, HmsStub]
  const { proxy, ports } = await startTestProxy(t, [], {
    metastore: [
      metastoreRoute(staticTarget([a, b]), {
        tls: front(),
        backendTls: backends({ mode: 'on' }),
      }),
    ],
  })
  await waitFor('ready', () => proxy.ready)
  const c = await connectHms({ host: '127.0.0.1', port: ports[0]!, tls: clientTls })
  t.teardown(() => c.close())
  await c.setUgi('alice', ['analysts'])
  t.equal((await c.getDatabase('default')).description, 'a')
  await a.close()
  const d = await c.getDatabase('default')
  t.equal(d.description, 'b', 'same client connection, next metastore')
  t.equal(d.parameters?.ugi, 'alice', 'set_ugi replayed inside TLS')
  t.same(
    b.calls.map((x) => x.method),
    ['set_ugi', 'get_database'],
  )
  const s = proxy.snapshot().routes[0] as MetastoreRouteSnapshot
  t.same(s.streams, { binary: 1 }, 'detected on the decrypted stream')
  t.ok(s.connections.failovers >= 1)
  t.match(s.tls, { front: true, backends: 'on' })
})

t.test('HTTP route over HTTPS both ways keeps session affinity', async (t) => {
  const target = zkTarget()
  const stubs = []
  for (const id of ['a', 'b']) {
    const s = await startHs2HttpStub({
      id,
      tls: { cert: ca.read(backendCert.cert), key: ca.read(backendCert.key) },
    })
    t.teardown(() => s.close())
    await registerHs2(writer, target.namespace, s, {
      transportMode: 'http',
      httpPort: s.port,
      useSsl: true,
    })
    stubs.push(s)
  }
  const { proxy, ports } = await startTestProxy(t, [
    hs2Route(target, {
      transportMode: 'http',
      policy: 'round-robin',
      tls: front(),
      backendTls: backends(),
    }),
  ])
  await waitFor('two backends', () => proxy.snapshot().routes[0]!.backends.length === 2)
  const sessions = []
  for (let i = 0; i < 2; i++) {
    const s = await HttpHiveSession.open({ port: ports[0]!, cookies: false, tls: clientTls })
    t.teardown(() => s.end())
    sessions.push(s)
  }
  const first = await Promise.all(sessions.map((s) => s.query()))
  t.same([...first].sort(), ['a', 'b'], 'round-robin opened one session on each')
  for (let i = 0; i < 3; i++)
    t.same(await Promise.all(sessions.map((s) => s.query())), first, 'each session stays put')
  t.equal(
    stubs.reduce((n, s) => n + s.invalid, 0),
    0,
    'no call reached the wrong server',
  )
  t.ok(proxy.snapshot().routes[0]!.backends.every((b) => b.tls))
})

t.test('an HTTP route without backendTls skips TLS instances with the fix', async (t) => {
  const target = zkTarget()
  const s = await startHs2HttpStub({ id: 'a' })
  t.teardown(() => s.close())
  await registerHs2(writer, target.namespace, s, {
    transportMode: 'http',
    httpPort: s.port,
    useSsl: true,
  })
  const { proxy } = await startTestProxy(t, [hs2Route(target, { transportMode: 'http' })])
  await waitFor('discovered', () => proxy.snapshot().routes[0]!.skipped.length === 1)
  t.match(proxy.snapshot().routes[0]!.skipped[0], { reason: /add backendTls/ })
})

t.test('a reload that turns front TLS on replaces the route; TLS off again likewise', async (t) => {
  const a = await hs2Stub(t, 'a')
  const plain = hs2Route(staticTarget([a]), { listen: { host: '127.0.0.1', port: 0 } })
  const { proxy, ports } = await startTestProxy(t, [plain])
  const port = ports[0]!
  t.equal(await queryBackendId({ host: '127.0.0.1', port }), 'a')
  const fixed = { host: '127.0.0.1', port }
  const on = await proxy.reload({
    ...proxy.config,
    hs2: [{ ...plain, listen: fixed, tls: front() }],
  })
  t.same([on.removed, on.added], [['hs2'], ['hs2']], 'replaced, not updated in place')
  t.equal(await queryBackendId({ host: '127.0.0.1', port, tls: clientTls }), 'a')
  t.equal(proxy.snapshot().routes[0]!.tls.front, true)
  // client certificates are fixed when a TLS server is made: asking for them replaces the route
  const strict = await proxy.reload({
    ...proxy.config,
    hs2: [{ ...plain, listen: fixed, tls: front(proxyCert, { clientCa: pem(ca.ca) }) }],
  })
  t.same([strict.removed, strict.added], [['hs2'], ['hs2']])
  await t.rejects(
    queryBackendId({ host: '127.0.0.1', port, tls: clientTls, timeoutMs: 3000 }),
    'a client without a certificate is refused from then on',
  )
  const off = await proxy.reload({ ...proxy.config, hs2: [{ ...plain, listen: fixed }] })
  t.same([off.removed, off.added], [['hs2'], ['hs2']])
  t.equal(await queryBackendId({ host: '127.0.0.1', port }), 'a')
  // backendTls needs net.Socket: a route on bare handles is replaced, one on sockets updated
  const onHandles = (proxy.routes[0] as Hs2Route).onHandles
  const withBackendTls = await proxy.reload({
    ...proxy.config,
    hs2: [{ ...plain, listen: fixed, backendTls: backends({ mode: 'off' }) }],
  })
  t.same(withBackendTls.updated, onHandles ? [] : ['hs2'])
  t.equal((proxy.routes[0] as Hs2Route).onHandles, false, 'on sockets now')
  t.equal(await queryBackendId({ host: '127.0.0.1', port }), 'a')
  const kept = await proxy.reload({
    ...proxy.config,
    hs2: [{ ...plain, listen: fixed, policy: 'random', backendTls: backends({ mode: 'off' }) }],
  })
  t.same(kept.updated, ['hs2'], 'other changes still update in place')
})
