import t, { type Test } from 'tap'
import net from 'node:net'
import { startZk } from '../helpers/zk.js'
import { connectTestZk } from '../helpers/zk-client.js'
import { startHs2Stub, type Hs2Stub } from '../helpers/hs2-stub.js'
import { registerHs2 } from '../helpers/hs2-register.js'
import { queryBackendId } from '../helpers/hive-client.js'
import { startHmsStub } from '../helpers/hms-stub.js'
import { connectHms } from '../helpers/hms-client.js'
import { hs2Route, metastoreRoute, waitFor, LogSink } from '../helpers/proxy.js'
import { HiveHaProxy, type ProxySnapshot, type ReloadResult } from '../../src/proxy.js'
import { createLogger } from '../../src/logger.js'
import { DEFAULTS } from '../../src/defaults.js'
import { buildAdminApp } from '../../src/admin/app.js'
import { ProxyMetrics } from '../../src/admin/metrics.js'
import { ConfigError } from '../../src/errors.js'
import { runStatus, renderStatus } from '../../src/status.js'
import { runDrain } from '../../src/drain-cmd.js'
import type { ProxyConfig } from '../../src/config/types.js'

const zk = await startZk()
t.teardown(() => zk.close())
const writer = await connectTestZk(zk.connectString)
t.teardown(() => writer.close())
const TOKEN = 'test-token-0123456789abcdef'
const stateOf = (p: HiveHaProxy, key: string): string | undefined =>
  p.snapshot().routes[0]!.backends.find((b) => b.key === key)?.state

async function hs2Stubs(t: Test, ids: string[]): Promise<Hs2Stub[]> {
  const out: Hs2Stub[] = []
  for (const id of ids) {
    const s = await startHs2Stub({ id })
    t.teardown(() => s.close())
    out.push(s)
  }
  return out
}

/** A real proxy plus its admin app (inject only), the way the CLI wires them. */
async function setup(
  t: Test,
  cfg: Omit<ProxyConfig, 'logLevel' | 'logFormat' | 'shutdownGraceMs' | 'zookeeper' | 'admin'>,
  reloadWith?: () => ProxyConfig,
) {
  const logs = new LogSink()
  const full: ProxyConfig = {
    logLevel: 'debug',
    logFormat: 'json',
    shutdownGraceMs: 500,
    zookeeper: { ...DEFAULTS.zookeeper },
    admin: { listen: { host: '127.0.0.1', port: 0 }, token: TOKEN },
    ...cfg,
  }
  const logger = createLogger('debug', logs)
  const proxy = new HiveHaProxy(full, { logger })
  const m = new ProxyMetrics(() => proxy.snapshot())
  const app = buildAdminApp({
    target: proxy,
    logger,
    token: TOKEN,
    reload: async (): Promise<ReloadResult> => proxy.reload(reloadWith ? reloadWith() : full),
    metrics: () => m.text(),
    metricsContentType: m.registry.contentType,
  })
  const ports = (await proxy.start()).map((a) => a.port)
  t.teardown(async () => {
    await app.close()
    await proxy.stop(0)
  })
  const auth = { authorization: `Bearer ${TOKEN}` }
  const get = async (url: string) => app.inject({ method: 'GET', url, headers: auth })
  const post = async (url: string) => app.inject({ method: 'POST', url, headers: auth })
  return { proxy, app, ports, logs, get, post }
}

t.test(
  'token: /healthz and /readyz are open (readiness without details), everything else needs the bearer token',
  async (t) => {
    const [a] = await hs2Stubs(t, ['a'])
    const { app, get } = await setup(t, {
      hs2: [hs2Route({ kind: 'static', backends: [{ host: '127.0.0.1', port: a!.port }] })],
      metastore: [],
    })
    t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
    const open = await app.inject({ method: 'GET', url: '/readyz' })
    t.equal(open.statusCode, 200, 'a probe without the token learns readiness from the status')
    t.same(open.json(), { ready: true }, 'and nothing else: no route names, no reasons')
    const wrong = await app.inject({
      method: 'GET',
      url: '/readyz',
      headers: { authorization: 'Bearer wrong' },
    })
    t.same(wrong.json(), { ready: true }, 'a wrong token gets the same short answer')
    const full = await get('/readyz')
    t.equal(full.statusCode, 200)
    t.equal(full.json().routes[0].name, 'hs2', 'with the token: the per-route details')
    for (const url of ['/routes', '/metrics']) {
      const r = await app.inject({ method: 'GET', url })
      t.equal(r.statusCode, 401, `${url} without token`)
      t.equal(r.json().code, 'HHP_ERR_UNAUTHORIZED')
      t.equal(
        (await app.inject({ method: 'GET', url, headers: { authorization: 'Bearer wrong' } }))
          .statusCode,
        401,
        `${url} wrong token`,
      )
    }
    t.equal((await app.inject({ method: 'POST', url: '/reload' })).statusCode, 401)
    const nf = await app.inject({
      method: 'GET',
      url: '/nope',
      headers: { authorization: `Bearer ${TOKEN}` },
    })
    t.equal(nf.statusCode, 404)
    t.equal(nf.json().code, 'HHP_ERR_NOT_FOUND')
  },
)

t.test('readiness follows discovery; routes, metrics and drain match the traffic', async (t) => {
  const ns = 'admin1'
  const [a, b] = await hs2Stubs(t, ['a', 'b'])
  const { proxy, ports, get, post } = await setup(t, {
    hs2: [
      hs2Route(
        { kind: 'zookeeper', quorum: zk.connectString, namespace: ns },
        { policy: 'round-robin' },
      ),
    ],
    metastore: [],
  })
  await waitFor(
    'first reads of discovery and drain marks',
    () =>
      proxy.snapshot().routes[0]!.discovery.ready &&
      proxy.snapshot().routes[0]!.drainMarks.shared?.ready === true,
  )
  const notReady = await get('/readyz')
  t.equal(notReady.statusCode, 503)
  t.match(notReady.json(), {
    ready: false,
    routes: [{ name: 'hs2', ready: false, reasons: ['no backend listed'] }],
  })

  await registerHs2(writer, ns, a!)
  await registerHs2(writer, ns, b!)
  await waitFor('both listed', () => proxy.snapshot().routes[0]!.backends.length === 2)
  t.ok(proxy.ready)
  t.equal((await get('/readyz')).statusCode, 200)

  for (let i = 0; i < 4; i++) await queryBackendId({ host: '127.0.0.1', port: ports[0]! })
  const keyA = `127.0.0.1:${a!.port}`
  const keyB = `127.0.0.1:${b!.port}`
  await waitFor('connections ended', () => proxy.snapshot().routes[0]!.connections.active === 0)
  const routes = (await get('/routes')).json()
  t.match(routes.routes[0], {
    name: 'hs2',
    kind: 'hs2',
    ready: true,
    discovery: { kind: 'zookeeper', session: 'connected' },
  })
  t.same(
    routes.routes[0].backends
      .map((x: { key: string; connections: number }) => [x.key, x.connections])
      .sort(),
    [
      [keyA, 2],
      [keyB, 2],
    ].sort(),
  )

  const metrics = (await get('/metrics')).body
  t.match(
    metrics,
    new RegExp(`hive_ha_proxy_connections_total\\{route="hs2",backend="${keyA}"\\} 2`),
  )
  t.match(
    metrics,
    new RegExp(`hive_ha_proxy_active_connections\\{route="hs2",backend="${keyB}"\\} 0`),
  )
  t.match(metrics, new RegExp(`hive_ha_proxy_backend_up\\{route="hs2",backend="${keyA}"\\} 1`))
  t.match(metrics, /hive_ha_proxy_discovery_updates_total\{route="hs2"\} [1-9]/)
  t.match(metrics, /hive_ha_proxy_zookeeper_session_state\{quorum="127\.0\.0\.1:\d+"\} 2/)
  t.match(
    metrics,
    /hive_ha_proxy_bytes_total\{route="hs2",backend="[^"]+",direction="to_client"\} [1-9]/,
  )
  t.match(metrics, /hive_ha_proxy_process_cpu_seconds_total/)

  // drain 'a' while a connection to it is live
  const held = net.connect(ports[0]!, '127.0.0.1')
  held.on('error', () => {})
  t.teardown(() => held.destroy())
  await waitFor('held connection routed', () => a!.activeConnections + b!.activeConnections === 1)
  const heldOnA = a!.activeConnections === 1
  const drained = heldOnA ? keyA : keyB
  const r = await post(`/routes/hs2/backends/${drained}/drain`)
  t.equal(r.statusCode, 200)
  t.match(r.json(), {
    route: 'hs2',
    backend: drained,
    draining: true,
    shared: true,
    state: 'draining',
    active: 1,
  })
  t.match(
    (await get('/metrics')).body,
    new RegExp(`hive_ha_proxy_backend_up\\{route="hs2",backend="${drained}"\\} 0`),
    'a draining backend is not up',
  )
  const ids = []
  for (let i = 0; i < 4; i++) ids.push(await queryBackendId({ host: '127.0.0.1', port: ports[0]! }))
  t.same(new Set(ids), new Set([heldOnA ? 'b' : 'a']), 'no new connections to the drained backend')
  t.equal((heldOnA ? a! : b!).activeConnections, 1, 'its live connection continues')
  t.equal((await post(`/routes/hs2/backends/${drained}/undrain`)).json().state, 'up')

  t.equal((await post('/routes/nope/backends/x:1/drain')).json().code, 'HHP_ERR_UNKNOWN_ROUTE')
  const unknownBackend = await post('/routes/hs2/backends/10.9.9.9:1/drain')
  t.equal(unknownBackend.statusCode, 404)
  t.equal(unknownBackend.json().code, 'HHP_ERR_UNKNOWN_BACKEND')
})

t.test('metastore metrics count calls by method and outcome, with durations', async (t) => {
  const hms = await startHmsStub({ id: 'm1' })
  t.teardown(() => hms.close())
  const { ports, get } = await setup(t, {
    hs2: [],
    metastore: [
      metastoreRoute({ kind: 'static', backends: [{ host: '127.0.0.1', port: hms.port }] }),
    ],
  })
  const c = await connectHms({ host: '127.0.0.1', port: ports[0]! })
  t.teardown(() => c.close())
  await c.setUgi('alice')
  for (let i = 0; i < 3; i++) await c.getDatabase('default')
  await t.rejects(c.getDatabase('missing'))
  const m = (await get('/metrics')).body
  t.match(
    m,
    /hive_ha_proxy_metastore_calls_total\{route="metastore",method="get_database",outcome="reply"\} 4/,
    'a declared exception is still a reply on the wire',
  )
  t.match(
    m,
    /hive_ha_proxy_metastore_calls_total\{route="metastore",method="set_ugi",outcome="reply"\} 1/,
  )
  t.match(
    m,
    /hive_ha_proxy_metastore_call_duration_seconds_count\{route="metastore",method="get_database"\} 4/,
  )
  t.match(m, /\n# TYPE hive_ha_proxy_metastore_call_duration_seconds histogram\n/)
  t.match(
    m,
    /hive_ha_proxy_metastore_call_duration_seconds_bucket\{le="\+Inf",route="metastore",method="get_database"\} 4\n/,
  )
  t.match(
    m,
    /hive_ha_proxy_metastore_call_duration_seconds_bucket\{le="30",route="metastore",method="get_database"\} 4\n/,
    'loopback calls all finish within the largest bound',
  )
})

t.test('reload: bad config rejected, good config applied in place, drain marks kept', async (t) => {
  const [a, b] = await hs2Stubs(t, ['a', 'b'])
  const base = {
    hs2: [
      hs2Route(
        { kind: 'static', backends: [a!, b!].map((s) => ({ host: '127.0.0.1', port: s.port })) },
        { policy: 'round-robin' },
      ),
    ],
    metastore: [],
  }
  let next: () => ProxyConfig = () => {
    throw new ConfigError([
      { key: '--hs2-policy', message: '"fastest" is not a policy', fix: 'use random' },
    ])
  }
  const { proxy, ports, get, post } = await setup(t, base, () => next())
  await waitFor('ready', () => proxy.ready)
  const keyA = `127.0.0.1:${a!.port}`
  await post(`/routes/hs2/backends/${keyA}/drain`)
  const bad = await post('/reload')
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { ok: false, code: 'HHP_ERR_CONFIG', problems: [{ key: '--hs2-policy' }] })
  t.equal((await get('/routes')).json().routes[0].policy, 'round-robin', 'old configuration stays')

  const held = net.connect(ports[0]!, '127.0.0.1')
  held.on('error', () => {})
  t.teardown(() => held.destroy())
  await waitFor('held', () => b!.activeConnections === 1)
  next = () => ({ ...proxy.config, hs2: [{ ...base.hs2[0]!, policy: 'least-connections' }] })
  const ok = await post('/reload')
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { ok: true, updated: ['hs2'], added: [], removed: [] })
  const snap = (await get('/routes')).json().routes[0]
  t.equal(snap.policy, 'least-connections')
  t.equal(
    snap.backends.find((x: { key: string }) => x.key === keyA).state,
    'draining',
    'drain mark survived the reload',
  )
  t.equal(b!.activeConnections, 1, 'live connection not dropped by the reload')
  t.equal(await queryBackendId({ host: '127.0.0.1', port: ports[0]! }), 'b')
})

t.test('reload adds and removes routes', async (t) => {
  const [a] = await hs2Stubs(t, ['a'])
  const one = hs2Route(
    { kind: 'static', backends: [{ host: '127.0.0.1', port: a!.port }] },
    { name: 'one' },
  )
  const two = hs2Route(
    { kind: 'static', backends: [{ host: '127.0.0.1', port: a!.port }] },
    { name: 'two' },
  )
  let cfg: ProxyConfig | undefined
  const { proxy, post } = await setup(t, { hs2: [one], metastore: [] }, () => cfg!)
  cfg = { ...proxy.config, hs2: [two] }
  t.match((await post('/reload')).json(), { ok: true, added: ['two'], removed: ['one'] })
  t.same(
    proxy.routes.map((r) => r.name),
    ['two'],
  )
  const port = proxy.routes[0]!.address().port
  t.equal(await queryBackendId({ host: '127.0.0.1', port }), 'a')
})

t.test('Hive on MR3: the application id znode is shown and followed', async (t) => {
  const ns = 'mr3ns'
  const [a] = await hs2Stubs(t, ['a'])
  await registerHs2(writer, ns, a!)
  const route = hs2Route(
    { kind: 'zookeeper', quorum: zk.connectString, namespace: ns },
    { mr3AppIdNamespace: 'mr3AppId' },
  )
  const { proxy, get } = await setup(t, { hs2: [route], metastore: [] })
  await waitFor('ready', () => proxy.ready)
  t.match((await get('/routes')).json().routes[0].mr3, { namespace: 'mr3AppId', appId: undefined })
  await writer.mkdirp('/mr3AppId')
  await writer.create('/mr3AppId/appId', 'application_1700000000000_0001', 'persistent')
  await waitFor(
    'id seen',
    () =>
      (proxy.snapshot().routes[0] as { mr3?: { appId?: string } }).mr3?.appId ===
      'application_1700000000000_0001',
  )
  const first = (await get('/routes')).json().routes[0].mr3.changedAt
  await new Promise((r) => setTimeout(r, 20))
  await writer.setData('/mr3AppId/appId', 'application_1700000000000_0002')
  await waitFor(
    'new id seen',
    () =>
      (proxy.snapshot().routes[0] as { mr3?: { appId?: string } }).mr3?.appId ===
      'application_1700000000000_0002',
  )
  t.ok((await get('/routes')).json().routes[0].mr3.changedAt > first)
  const text = renderStatus(proxy.snapshot(), proxy.readiness(), Date.now())
  t.match(text, /MR3 application id \(\/mr3AppId\/appId\): application_1700000000000_0002/)
})

t.test('status: a table from the admin API, exit code by readiness', async (t) => {
  const [a] = await hs2Stubs(t, ['a'])
  const { app, proxy } = await setup(t, {
    hs2: [
      hs2Route({
        kind: 'static',
        backends: [
          { host: '127.0.0.1', port: a!.port },
          { host: '127.0.0.1', port: 1 },
        ],
      }),
    ],
    metastore: [],
  })
  await waitFor('ready', () => proxy.ready)
  const addr = await app.listen({ host: '127.0.0.1', port: 0 })
  let out = ''
  let err = ''
  const io = {
    env: { HIVE_HA_PROXY_ADMIN_TOKEN: TOKEN },
    stdout: (s: string) => (out += s),
    stderr: (s: string) => (err += s),
    fetch,
  }
  t.equal(await runStatus({ ...io, argv: ['--admin', addr] }), 0)
  t.match(out, /hs2 route "hs2" on 127\.0\.0\.1:\d+, round-robin: ready/)
  t.match(out, /BACKEND\s+STATE\s+LIVE\s+TOTAL\s+FAILS\s+STALLS\s+LAST ERROR/)
  t.match(out, new RegExp(`127\\.0\\.0\\.1:${a!.port}\\s+up`))
  t.equal(await runStatus({ ...io, env: {}, argv: ['--admin', addr] }), 2, 'no token: cannot read')
  t.match(err, /401/)
  await Promise.all(
    proxy.snapshot().routes[0]!.backends.map((x) => proxy.drain('hs2', x.key, true)),
  )
  out = ''
  t.equal(await runStatus({ ...io, argv: [`--admin=${addr}`] }), 1, 'not ready: exit 1')
  t.match(out, /NOT READY \(every listed backend is draining\)/)
  t.match(
    out,
    new RegExp(`  drain marks of this proxy only: .*127\\.0\\.0\\.1:${a!.port}`),
    "a static route's marks are this proxy's own",
  )
  t.notMatch(out, /drain marks shared in ZooKeeper/)
  t.equal(
    await runStatus({ ...io, argv: ['--admin', 'http://127.0.0.1:1'] }),
    2,
    'unreachable: exit 2',
  )
  // a proxy of an older version answers /routes without drain marks
  const older = JSON.parse(JSON.stringify(proxy.snapshot())) as {
    routes: { drainMarks?: unknown }[]
  }
  for (const r of older.routes) delete r.drainMarks
  t.match(
    renderStatus(older as unknown as ProxySnapshot, proxy.readiness(), Date.now()),
    /BACKEND\s+STATE/,
    'status still renders',
  )
})

t.test(
  'drain and undrain commands: shared marks on a ZooKeeper route, text and exit codes',
  async (t) => {
    const ns = 'admin-cmd'
    const [a, b] = await hs2Stubs(t, ['a', 'b'])
    for (const s of [a!, b!]) await registerHs2(writer, ns, s)
    const keyA = `127.0.0.1:${a!.port}`
    const { app, proxy } = await setup(t, {
      hs2: [hs2Route({ kind: 'zookeeper', quorum: zk.connectString, namespace: ns })],
      metastore: [],
    })
    await waitFor('ready', () => proxy.ready)
    const addr = await app.listen({ host: '127.0.0.1', port: 0 })
    let out = ''
    let err = ''
    const io = {
      env: { HIVE_HA_PROXY_ADMIN_TOKEN: TOKEN },
      stdout: (s: string) => (out += s),
      stderr: (s: string) => (err += s),
      fetch,
    }
    const run = (verb: 'drain' | 'undrain', argv: string[]) =>
      runDrain({ ...io, argv: [...argv, '--admin', addr] }, verb)

    t.equal(await run('drain', ['hs2', keyA]), 0)
    t.equal(
      out,
      `route "hs2": ${keyA} draining (shared through ZooKeeper with every proxy on this registry); state draining, 0 live connections\n`,
    )
    t.same(
      await writer.getChildren(`/hive-ha-proxy/drain/${ns}`),
      [keyA],
      'the command wrote the shared mark',
    )
    out = ''
    t.equal(await runStatus({ ...io, argv: ['--admin', addr] }), 0)
    t.match(
      out,
      new RegExp(
        `drain marks shared in ZooKeeper 127\\.0\\.0\\.1:\\d+/hive-ha-proxy/drain/${ns} \\(read\\): 127\\.0\\.0\\.1:${a!.port}\\n`,
      ),
    )
    t.match(out, new RegExp(`127\\.0\\.0\\.1:${a!.port}\\s+draining`))

    out = ''
    t.equal(await run('undrain', ['hs2', keyA]), 0)
    t.match(out, new RegExp(`${keyA} not draining \\(shared through ZooKeeper`))
    t.same(await writer.getChildren(`/hive-ha-proxy/drain/${ns}`), [])

    t.equal(await run('drain', ['hs2', '10.9.9.9:1']), 1, 'unknown backend: exit 1')
    t.match(err, /HHP_ERR_UNKNOWN_BACKEND/)
    t.equal(await run('drain', ['nope', keyA]), 1, 'unknown route: exit 1')
    t.match(err, /HHP_ERR_UNKNOWN_ROUTE/)
    err = ''
    t.equal(await run('drain', ['hs2']), 2, 'missing backend: usage, exit 2')
    t.match(err, /a route and a backend are required\nUsage: hive-ha-proxy drain/)
    err = ''
    t.equal(
      await runDrain({ ...io, env: {}, argv: ['hs2', keyA, '--admin', addr] }, 'drain'),
      2,
      'no token: exit 2',
    )
    t.match(err, /401 unauthorized: set HIVE_HA_PROXY_ADMIN_TOKEN/)
    t.equal(stateOf(proxy, keyA), 'up', 'nothing was drained by the failed calls')
  },
)

t.test("reload keeps a route's transport and reports a change of it as restart-only", async (t) => {
  const [a] = await hs2Stubs(t, ['a'])
  const route = hs2Route(
    { kind: 'static', backends: [{ host: '127.0.0.1', port: a!.port }] },
    { tcpIo: 'sockets' },
  )
  const { proxy } = await setup(t, { hs2: [route], metastore: [] })
  await waitFor('ready', () => proxy.ready)
  const r = await proxy.reload({ ...proxy.config, hs2: [{ ...route, tcpIo: 'auto' }] })
  t.same(r.ignored, ['hs2[hs2].tcpIo'])
  t.same(r.updated, ['hs2'], 'the route itself is updated in place')
  t.match(
    proxy.snapshot().routes[0],
    { tcpIo: 'sockets' },
    'and keeps the transport it started with',
  )
})

t.test('reload reports a change of the log format as restart-only', async (t) => {
  const [a] = await hs2Stubs(t, ['a'])
  const { proxy } = await setup(t, {
    hs2: [hs2Route({ kind: 'static', backends: [{ host: '127.0.0.1', port: a!.port }] })],
    metastore: [],
  })
  await waitFor('ready', () => proxy.ready)
  const r = await proxy.reload({ ...proxy.config, logFormat: 'pretty' })
  t.same(r.ignored, ['logFormat'])
})

t.test("reload applies a new log level at once, to the routes' loggers too", async (t) => {
  const [a] = await hs2Stubs(t, ['a'])
  const { proxy, logs } = await setup(t, {
    hs2: [hs2Route({ kind: 'static', backends: [{ host: '127.0.0.1', port: a!.port }] })],
    metastore: [],
  })
  await waitFor('ready', () => proxy.ready)
  const key = `127.0.0.1:${a!.port}`
  const drains = () =>
    logs.records.filter((r) => r.msg === 'backend draining' && r.route === 'hs2').length
  const quiet = await proxy.reload({ ...proxy.config, logLevel: 'warn' })
  t.same(quiet.ignored, [], 'a log level change is not a restart-only setting')
  t.ok(logs.records.some((r) => r.msg === 'log level changed' && r.to === 'warn'))
  await proxy.drain('hs2', key, true)
  t.equal(drains(), 0, 'an info line of a route is not written at warn')
  await proxy.reload({ ...proxy.config, logLevel: 'info' })
  await proxy.drain('hs2', key, true)
  t.equal(drains(), 1, 'and is written again at info')
})
