import t, { type Test } from 'tap'
import { startZk } from '../helpers/zk.js'
import { connectTestZk } from '../helpers/zk-client.js'
import { registerHa, registerHs2 } from '../helpers/hs2-register.js'
import { hs2Route, LogSink, waitFor } from '../helpers/proxy.js'
import { DEFAULTS } from '../../src/defaults.js'
import { createLogger } from '../../src/logger.js'
import { HiveHaProxy, type ProxySnapshot } from '../../src/proxy.js'
import { buildAdminApp } from '../../src/admin/app.js'
import { ProxyMetrics } from '../../src/admin/metrics.js'
import { renderStatus } from '../../src/status.js'
import type { Hs2Target, ProxyConfig } from '../../src/config/types.js'

// Kerberos made visible: what each instance publishes (hive.server2.authentication and its
// principal) reaches /routes and `status`, and instances that name different principals are
// warned about once per change, with the fix. Discovery only: nothing dials these made-up hosts.

const zk = await startZk()
t.teardown(() => zk.close())
const writer = await connectTestZk(zk.connectString)
t.teardown(() => writer.close())

const MISMATCH =
  'HS2 instances name different Kerberos principals: no single principal= in a client URL reaches them all'
const SHARED = 'HS2 instances share one Kerberos principal; clients name it in principal='

async function setup(t: Test, target: Hs2Target) {
  const logs = new LogSink()
  const cfg: ProxyConfig = {
    logLevel: 'debug',
    logFormat: 'json',
    shutdownGraceMs: 500,
    zookeeper: { ...DEFAULTS.zookeeper, sessionTimeoutMs: 4000 },
    hs2: [hs2Route(target)],
    metastore: [],
    admin: { listen: { host: '127.0.0.1', port: 0 }, token: undefined },
  }
  const logger = createLogger('debug', logs)
  const proxy = new HiveHaProxy(cfg, { logger })
  const m = new ProxyMetrics(() => proxy.snapshot())
  const app = buildAdminApp({
    target: proxy,
    logger,
    token: undefined,
    reload: async () => proxy.reload(cfg),
    metrics: () => m.text(),
    metricsContentType: m.registry.contentType,
  })
  await proxy.start()
  t.teardown(async () => {
    await app.close()
    await proxy.stop(0)
  })
  const routes = async (): Promise<ProxySnapshot> =>
    (await app.inject({ method: 'GET', url: '/routes' })).json() as ProxySnapshot
  const count = (msg: string): number => logs.records.filter((r) => r.msg === msg).length
  const metric = async (): Promise<string> =>
    (await app.inject({ method: 'GET', url: '/metrics' })).body
  return { proxy, logs, routes, count, metric }
}

const fake = (host: string, port: number) => ({ host, port })

t.test(
  'per-host principals: shown per backend, warned once with the fix, and once more only on a change',
  async (t) => {
    const ns = 'krb-perhost'
    // the per-host instances belong to one session: closing it removes them in one step
    const owner = await connectTestZk(zk.connectString)
    t.teardown(() => owner.close())
    await registerHs2(owner, ns, fake('hs2a.example.test', 10000), {
      authentication: 'KERBEROS',
      principal: 'hive/_HOST@EXAMPLE.COM',
    })
    await registerHs2(owner, ns, fake('hs2b.example.test', 10000), {
      authentication: 'KERBEROS',
      principal: 'hive/_HOST@EXAMPLE.COM',
    })
    const { proxy, logs, routes, count, metric } = await setup(t, {
      kind: 'zookeeper',
      quorum: zk.connectString,
      namespace: ns,
    })
    await waitFor('two backends', () => proxy.snapshot().routes[0]!.backends.length === 2)

    const route = (await routes()).routes[0]!
    t.same(
      route.backends.map((x) => [x.key, x.authentication, x.principal]).sort(),
      [
        ['hs2a.example.test:10000', 'KERBEROS', 'hive/_HOST@EXAMPLE.COM'],
        ['hs2b.example.test:10000', 'KERBEROS', 'hive/_HOST@EXAMPLE.COM'],
      ],
      '/routes shows what each instance published',
    )
    t.match(route.kerberos, {
      mismatch: true,
      perHostPattern: 'hive/_HOST@EXAMPLE.COM',
      clientPrincipal: undefined,
      principals: {
        'hive/hs2a.example.test@EXAMPLE.COM': ['hs2a.example.test:10000'],
        'hive/hs2b.example.test@EXAMPLE.COM': ['hs2b.example.test:10000'],
      },
      advice: /one shared service principal/,
    })
    await waitFor('the warning', () => count(MISMATCH) === 1)
    t.match(await metric(), /^hive_ha_proxy_kerberos_principals\{route="hs2"\} 2$/m)
    const warn = logs.records.find((r) => r.msg === MISMATCH)!
    t.equal(warn.level, 'warn')
    t.match(warn, { route: 'hs2', perHostPattern: 'hive/_HOST@EXAMPLE.COM', fix: /principal=/ })

    const text = renderStatus(proxy.snapshot(), proxy.readiness(), Date.now())
    t.match(text, /KERBEROS WARNING: The instances run as per-host principals/)
    t.match(text, /BACKEND\s+STATE\s+LIVE\s+TOTAL\s+FAILS\s+STALLS\s+AUTH/)
    t.match(text, /hs2a\.example\.test:10000 .* KERBEROS hive\/_HOST@EXAMPLE\.COM/)

    // a re-read that lists the same principals (a child that is no instance appears) says nothing
    const reads = proxy.snapshot().routes[0]!.discovery.updates
    await writer.create(`/${ns}/leader`, '', 'persistent')
    await waitFor('a re-read', () => proxy.snapshot().routes[0]!.discovery.updates > reads)
    t.equal(count(MISMATCH), 1, 'still one warning after an unchanged re-read')

    // a third per-host instance is a change: said once more
    await registerHs2(owner, ns, fake('hs2c.example.test', 10000), {
      authentication: 'KERBEROS',
      principal: 'hive/_HOST@EXAMPLE.COM',
    })
    await waitFor('the second warning', () => count(MISMATCH) === 2)

    // all instances move to one shared principal: the warning ends, the principal is shown
    await owner.close()
    for (const host of ['hs2a.example.test', 'hs2b.example.test'])
      await registerHs2(writer, ns, fake(host, 10001), {
        authentication: 'KERBEROS',
        principal: 'hive/hs2.example.test@EXAMPLE.COM',
      })
    await waitFor('the shared principal', () => count(SHARED) === 1)
    t.match(
      logs.records.find((r) => r.msg === SHARED),
      {
        principal: 'hive/hs2.example.test@EXAMPLE.COM',
        resolved: true,
      },
    )
    const after = (await routes()).routes[0]!
    t.match(after.kerberos, {
      mismatch: false,
      clientPrincipal: 'hive/hs2.example.test@EXAMPLE.COM',
    })
    t.match(
      renderStatus(proxy.snapshot(), proxy.readiness(), Date.now()),
      /kerberos: Kerberos clients set principal=hive\/hs2\.example\.test@EXAMPLE\.COM in their JDBC URL/,
    )
    t.equal(count(MISMATCH), 2, 'no further warning')
    t.match(await metric(), /^hive_ha_proxy_kerberos_principals\{route="hs2"\} 1$/m)
  },
)

t.test('no Kerberos: backends show their method, no Kerberos line, no warning', async (t) => {
  const ns = 'krb-none'
  await registerHs2(writer, ns, fake('hs2a.example.test', 10000), { authentication: 'LDAP' })
  const { proxy, routes, count, metric } = await setup(t, {
    kind: 'zookeeper',
    quorum: zk.connectString,
    namespace: ns,
  })
  await waitFor('one backend', () => proxy.snapshot().routes[0]!.backends.length === 1)
  const route = (await routes()).routes[0]!
  t.equal(route.backends[0]!.authentication, 'LDAP')
  t.equal(route.backends[0]!.principal, undefined)
  t.match(route.kerberos, { kerberosInstances: 0, mismatch: false })
  t.equal(route.kerberos?.advice, undefined)
  const text = renderStatus(proxy.snapshot(), proxy.readiness(), Date.now())
  t.notMatch(text, /kerberos/i)
  t.match(text, /hs2a\.example\.test:10000 .* LDAP/)
  t.equal(count(MISMATCH), 0)
  t.notMatch(await metric(), /hive_ha_proxy_kerberos_principals\{/, 'no Kerberos: no series')
})

t.test('zooKeeperHA: the leader record carries its principal', async (t) => {
  const ns = 'krb-ha'
  await registerHa(writer, ns, fake('hs2a.example.test', 10000), {
    leader: true,
    authentication: 'KERBEROS',
    principal: 'hive/_HOST@EXAMPLE.COM',
  })
  const { proxy, routes, count } = await setup(t, {
    kind: 'zookeeper-ha',
    quorum: zk.connectString,
    namespace: ns,
  })
  await waitFor('the leader', () => proxy.snapshot().routes[0]!.backends.length === 1)
  const route = (await routes()).routes[0]!
  t.match(route.backends[0], { principal: 'hive/_HOST@EXAMPLE.COM', leader: true })
  t.match(route.kerberos, {
    mismatch: false,
    clientPrincipal: 'hive/hs2a.example.test@EXAMPLE.COM',
  })
  await waitFor('said once', () => count(SHARED) === 1)
})

t.test('a static list publishes nothing: no kerberos summary', async (t) => {
  const { proxy, routes } = await setup(t, {
    kind: 'static',
    backends: [{ host: '127.0.0.1', port: 1 }],
  })
  await waitFor('listed', () => proxy.snapshot().routes[0]!.backends.length === 1)
  const route = (await routes()).routes[0]!
  t.equal(route.kerberos, undefined)
  t.equal(route.backends[0]!.principal, undefined)
})
