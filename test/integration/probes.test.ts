import net from 'node:net'
import t, { type Test } from 'tap'
import { DEFAULTS } from '../../src/defaults.js'
import type { HealthCheckConfig } from '../../src/config/types.js'
import type { HiveHaProxy } from '../../src/proxy.js'
import type { BackendSnapshot } from '../../src/routes/snapshot.js'
import { renderStatus } from '../../src/status.js'
import { ProxyMetrics } from '../../src/admin/metrics.js'
import { connectHms } from '../helpers/hms-client.js'
import { startHmsStub, type HmsStub } from '../helpers/hms-stub.js'
import { spawnHmsStub } from '../helpers/hms-stub-proc.js'
import { startHs2HttpStub } from '../helpers/hs2-http-stub.js'
import { startHs2Stub } from '../helpers/hs2-stub.js'
import { startHungStub } from '../helpers/hung-stub.js'
import { hs2Route, metastoreRoute, startTestProxy, waitFor } from '../helpers/proxy.js'

const hc = (over: Partial<HealthCheckConfig>): HealthCheckConfig => ({
  ...DEFAULTS.metastore.healthCheck,
  ...over,
})
const backendOf = (p: HiveHaProxy, key: string, route = 0): BackendSnapshot | undefined =>
  p.snapshot().routes[route]?.backends.find((b) => b.key === key)
const stateOf = (p: HiveHaProxy, key: string, route = 0): string | undefined =>
  backendOf(p, key, route)?.state
const keyOf = (s: { host: string; port: number }): string => `${s.host}:${s.port}`

async function hmsStub(
  t: Test,
  id: string,
  o: { framed?: boolean; protocol?: 'binary' | 'compact' } = {},
): Promise<HmsStub> {
  const s = await startHmsStub({ id, ...o })
  t.teardown(() => s.close())
  return s
}

t.test(
  'a SIGSTOPped metastore is marked down by its probes within interval x failures + timeout, and back up after SIGCONT',
  async (t) => {
    const frozen = await spawnHmsStub({ id: 'frozen' })
    t.teardown(() => frozen.close())
    const healthy = await hmsStub(t, 'healthy')
    const health = {
      probe: 'thrift' as const,
      intervalMs: 200,
      timeoutMs: 100,
      failures: 3,
      successes: 2,
    }
    const { proxy, ports, logs } = await startTestProxy(t, [], {
      metastore: [
        metastoreRoute(
          { kind: 'static', backends: [frozen, healthy] },
          { healthCheck: hc(health) },
        ),
      ],
    })
    const fk = keyOf(frozen)
    await waitFor('a good probe of each metastore', () =>
      [fk, keyOf(healthy)].every((k) => backendOf(proxy, k)?.probe?.last?.ok === true),
    )
    t.equal(stateOf(proxy, fk), 'up')

    frozen.pause()
    const stoppedAt = Date.now()
    const bound = health.intervalMs * health.failures + health.timeoutMs
    await waitFor('the frozen metastore down', () => stateOf(proxy, fk) === 'down', 5000)
    const took = Date.now() - stoppedAt
    t.ok(took <= bound + 150, `down after ${took} ms (bound ${bound} ms + scheduling slack)`)
    t.ok(took >= health.timeoutMs, `not before its probes could fail (${took} ms)`)
    t.match(backendOf(proxy, fk)?.probe, {
      failStreak: health.failures,
      last: { ok: false, detail: `no answer within ${health.timeoutMs} ms` },
    })
    t.equal(stateOf(proxy, keyOf(healthy)), 'up', 'the healthy one stays up')
    t.ok(
      logs.records.some(
        (r) =>
          r.msg ===
            'backend down: its probes failed; no new connections until they succeed again' &&
          r.backend === fk,
      ),
      'the down transition is logged with the backend',
    )

    // SEQUENTIAL would start every client at the frozen one: down, it is skipped, no client waits
    const client = await connectHms({ host: '127.0.0.1', port: ports[0]!, timeoutMs: 2000 })
    t.teardown(() => client.close())
    const t0 = Date.now()
    t.equal((await client.getDatabase('default')).description, 'healthy')
    t.ok(Date.now() - t0 < health.timeoutMs * 5, 'answered at once, not after a timeout')

    const status = renderStatus(proxy.snapshot(), proxy.readiness(), Date.now())
    t.match(status, new RegExp(`${fk}\\s+down\\b`), 'status shows the state')
    t.match(status, /PROBE/)
    t.match(status, /failed x\d+: no answer within 100 ms/)
    const metrics = await new ProxyMetrics(() => proxy.snapshot()).registry.metrics()
    t.match(metrics, `hive_ha_proxy_backend_down{route="metastore",backend="${fk}"} 1`)
    t.match(metrics, `hive_ha_proxy_backend_down{route="metastore",backend="${keyOf(healthy)}"} 0`)
    t.match(
      metrics,
      new RegExp(
        `hive_ha_proxy_probes_total\\{route="metastore",backend="${fk}",result="failed"\\} [1-9]`,
      ),
    )
    t.match(metrics, /hive_ha_proxy_probe_duration_seconds\{route="metastore",backend=/)

    frozen.resume()
    const resumedAt = Date.now()
    await waitFor('the metastore back up', () => stateOf(proxy, fk) === 'up', 5000)
    const back = Date.now() - resumedAt
    t.ok(
      back <= health.intervalMs * (health.successes + 1) + health.timeoutMs + 150,
      `up ${back} ms after SIGCONT`,
    )
    t.ok(
      logs.records.some(
        (r) => r.msg === 'backend up: its probes succeed again' && r.backend === fk,
      ),
      'the up transition is logged',
    )
    const again = await connectHms({ host: '127.0.0.1', port: ports[0]!, timeoutMs: 2000 })
    t.teardown(() => again.close())
    t.equal(
      (await again.getDatabase('default')).description,
      'frozen',
      'new clients reach it again',
    )
  },
)

for (const wire of [
  { protocol: 'binary' as const, framed: true },
  { protocol: 'compact' as const, framed: false },
]) {
  const name = `${wire.protocol}${wire.framed ? ' framed' : ''}`
  t.test(
    `${name}: probe auto waits for a plain Thrift client, then speaks its framing over ONE connection for 50 probes`,
    async (t) => {
      const stub = await hmsStub(t, 'one', wire)
      const { proxy, ports, logs } = await startTestProxy(t, [], {
        metastore: [
          metastoreRoute(
            { kind: 'static', backends: [stub] },
            {
              healthCheck: hc({
                probe: 'auto',
                intervalMs: 50,
                timeoutMs: 45,
                failures: 3,
                successes: 1,
              }),
            },
          ),
        ],
      })
      await new Promise((r) => setTimeout(r, 200))
      t.equal(
        stub.connections,
        0,
        'no probe before a plain Thrift client was answered (the metastore may be SASL-only)',
      )

      const client = await connectHms({ host: '127.0.0.1', port: ports[0]!, ...wire })
      t.teardown(() => client.close())
      await client.getDatabase('default')
      await waitFor('50 probes', () => stub.callsOf('getStatus').length >= 50, 10_000)
      const b = backendOf(proxy, keyOf(stub))
      t.equal(b?.state, 'up')
      // a probe that times out (a loaded test machine) drops its connection by design: allow a few
      const timedOut = b?.probe?.failed ?? 0
      t.ok(timedOut <= 5, `at most 5 of ${b?.probe?.ok} probes timed out (${timedOut})`)
      const probeConns = new Set(stub.callsOf('getStatus').map((c) => c.conn)).size
      t.equal(probeConns, 1 + timedOut, 'one probe connection, replaced only after a timeout')
      t.equal(stub.connections, 1 + probeConns, 'the client connection and the probe connection(s)')
      t.same(stub.protocolErrors, [], 'the probes speak the framing the stub expects')
      t.equal(b?.probe?.last?.detail, 'ALIVE')
      t.ok(
        logs.records.some(
          (r) =>
            String(r.msg).startsWith('plain Thrift clients answered: probing') &&
            r.framed === wire.framed &&
            r.protocol === wire.protocol,
        ),
        'the route says what it learned',
      )
    },
  )
}

t.test(
  'a metastore answering STOPPED goes down on a kept connection; ALIVE brings it back',
  async (t) => {
    const stub = await hmsStub(t, 'stopping')
    const other = await hmsStub(t, 'other')
    const { proxy } = await startTestProxy(t, [], {
      metastore: [
        metastoreRoute(
          { kind: 'static', backends: [stub, other] },
          {
            healthCheck: hc({
              probe: 'thrift',
              intervalMs: 100,
              timeoutMs: 90,
              failures: 2,
              successes: 2,
            }),
          },
        ),
      ],
    })
    const k = keyOf(stub)
    await waitFor('a good probe', () => backendOf(proxy, k)?.probe?.last?.ok === true)
    stub.fbStatus = 4
    await waitFor('down', () => stateOf(proxy, k) === 'down')
    t.match(backendOf(proxy, k)?.probe?.last?.detail, /fb303 status STOPPED/)
    stub.fbStatus = 2
    await waitFor('up', () => stateOf(proxy, k) === 'up')
    t.equal(
      stub.connections,
      1,
      'a status answer is not a broken connection: still one probe connection',
    )
  },
)

t.test(
  'HS2 HTTP: a hung instance is marked down by OPTIONS probes; the healthy one answers them',
  async (t) => {
    const hung = await startHungStub({ kind: 'silent' })
    t.teardown(() => hung.close())
    const ok = await startHs2HttpStub({ id: 'ok' })
    t.teardown(() => ok.close())
    const { proxy } = await startTestProxy(t, [
      hs2Route(
        {
          kind: 'static',
          backends: [
            { host: hung.host, port: hung.port },
            { host: ok.host, port: ok.port },
          ],
        },
        {
          transportMode: 'http',
          healthCheck: { probe: 'auto', intervalMs: 100, timeoutMs: 50, failures: 2, successes: 1 },
        },
      ),
    ])
    const hk = keyOf(hung)
    const started = Date.now()
    await waitFor('the hung instance down', () => stateOf(proxy, hk) === 'down', 5000)
    t.ok(
      Date.now() - started <= 100 * 2 + 50 + 300,
      'within interval x failures + timeout (+ start-up)',
    )
    const good = backendOf(proxy, keyOf(ok))
    t.equal(good?.state, 'up')
    t.match(good?.probe?.last, { ok: true, detail: /^HTTP [1-4]\d\d$/ })
    const n = ok.connections
    await waitFor('more probes', () => (backendOf(proxy, keyOf(ok))?.probe?.ok ?? 0) >= 5)
    t.equal(ok.connections, n, 'probes reuse one kept-alive connection')
    t.same(
      [...ok.calls.keys()],
      [],
      'no Thrift call reached the servlet: no session, no credentials',
    )
  },
)

t.test(
  'HS2 binary: no probe unless probe: tcp; tcp marks a closed port down and back up',
  async (t) => {
    const hs2 = await startHs2Stub({ id: 'a' })
    t.teardown(() => hs2.close())
    // a port that refuses, then accepts again
    const gone = net.createServer((s) => s.destroy())
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r))
    const port = (gone.address() as net.AddressInfo).port
    await new Promise<void>((r) => gone.close(() => r()))
    const backends = [
      { host: hs2.host, port: hs2.port },
      { host: '127.0.0.1', port },
    ]
    const { proxy, ports } = await startTestProxy(t, [
      hs2Route(
        { kind: 'static', backends },
        { healthCheck: { ...DEFAULTS.hs2.healthCheck, intervalMs: 100, timeoutMs: 50 } },
      ),
      hs2Route(
        { kind: 'static', backends },
        {
          name: 'tcp',
          slowStartMs: 600_000,
          healthCheck: { probe: 'tcp', intervalMs: 100, timeoutMs: 50, failures: 2, successes: 2 },
        },
      ),
    ])
    const k = `127.0.0.1:${port}`
    await waitFor('down by tcp probes', () => stateOf(proxy, k, 1) === 'down', 5000)
    t.equal(backendOf(proxy, k, 0)?.probe, undefined, 'probe auto on a binary route: never probed')
    t.equal(stateOf(proxy, k, 0), 'up')
    t.match(backendOf(proxy, k, 1)?.probe?.last?.detail, /ECONNREFUSED|refused/)

    const back = net.createServer((s) => s.destroy())
    t.teardown(() => new Promise<void>((r) => back.close(() => r())))
    await new Promise<void>((r) => back.listen(port, '127.0.0.1', r))
    await waitFor('up again', () => stateOf(proxy, k, 1) === 'up', 5000)
    t.equal(backendOf(proxy, keyOf(hs2), 1)?.probe?.last?.detail, 'connected')

    // back from down, it ramps in with slow start: round-robin alone would give it every second client
    for (let i = 0; i < 20; i++) {
      const c = net.connect(ports[1]!, '127.0.0.1')
      c.on('error', () => {})
      await new Promise((r) => c.once('connect', r))
      await waitFor(
        'handed to a backend',
        () => (proxy.snapshot().routes[1]?.connections.total ?? 0) > i,
      )
      c.destroy()
    }
    await waitFor(
      '20 clients placed',
      () =>
        backends.reduce((n, b) => n + (backendOf(proxy, keyOf(b), 1)?.connections ?? 0), 0) >= 20,
    )
    const recovered = backendOf(proxy, k, 1)?.connections ?? 0
    t.ok(recovered <= 5, `the recovered backend got ${recovered} of 20 new clients (slow start)`)
  },
)

t.test(
  'reload applies healthCheck: probes start, and turning them off releases a down backend',
  async (t) => {
    const stub = await hmsStub(t, 'reloaded')
    const other = await hmsStub(t, 'other')
    const route = metastoreRoute({ kind: 'static', backends: [stub, other] })
    const { proxy } = await startTestProxy(t, [], { metastore: [route] })
    const k = keyOf(stub)
    await new Promise((r) => setTimeout(r, 150))
    t.equal(stub.connections, 0, 'probe none: nothing is sent')

    const probing = {
      ...route,
      healthCheck: hc({
        probe: 'thrift',
        intervalMs: 30,
        timeoutMs: 20,
        failures: 2,
        successes: 1,
      }),
    }
    const r1 = await proxy.reload({ ...proxy.config, metastore: [probing] })
    t.same(r1.updated, ['metastore'])
    await waitFor('probed after the reload', () => backendOf(proxy, k)?.probe?.last?.ok === true)
    stub.fbStatus = 0
    await waitFor('down', () => stateOf(proxy, k) === 'down')

    const slower = {
      ...probing,
      healthCheck: { ...probing.healthCheck, intervalMs: 400, timeoutMs: 100 },
    }
    await proxy.reload({ ...proxy.config, metastore: [slower] })
    const before = stub.callsOf('getStatus').length
    await new Promise((r) => setTimeout(r, 500))
    const during = stub.callsOf('getStatus').length - before
    t.ok(
      during >= 1 && during <= 3,
      `the new interval applies (${during} probes in 500 ms at 400 ms)`,
    )
    t.equal(stateOf(proxy, k), 'down', 'same probe kind: the backend stays down')

    await proxy.reload({
      ...proxy.config,
      metastore: [{ ...slower, healthCheck: { ...slower.healthCheck, probe: 'none' } }],
    })
    t.equal(stateOf(proxy, k), 'up', 'probes off: no backend is held down by them')
    const after = stub.callsOf('getStatus').length
    await new Promise((r) => setTimeout(r, 500))
    t.equal(stub.callsOf('getStatus').length, after, 'no probe after they were turned off')
  },
)

t.test(
  'probes dial as clients do: fb303 getStatus and OPTIONS inside the backend TLS of the route',
  async (t) => {
    const { makeCa } = await import('../helpers/certs.js')
    const { PemFile } = await import('../../src/config/types.js')
    const ca = makeCa(t)
    const cert = ca.issue('backend', ['127.0.0.1'])
    const tls = { cert: ca.read(cert.cert), key: ca.read(cert.key) }
    const backendTls = {
      mode: 'on' as const,
      ca: new PemFile(ca.ca, ca.read(ca.ca)),
      serverName: undefined,
      cert: undefined,
      key: undefined,
      insecureSkipVerify: false,
    }
    const hms = await startHmsStub({ id: 'tls', tls })
    t.teardown(() => hms.close())
    const http = await startHs2HttpStub({ id: 'tls-http', tls })
    t.teardown(() => http.close())
    // room for the first probe's TLS handshake: a probe that times out reconnects, by design
    const fast = { intervalMs: 200, timeoutMs: 180, failures: 3, successes: 1 }
    const { proxy } = await startTestProxy(
      t,
      [
        hs2Route(
          { kind: 'static', backends: [{ host: '127.0.0.1', port: http.port }] },
          { transportMode: 'http', backendTls, healthCheck: { probe: 'auto', ...fast } },
        ),
      ],
      {
        metastore: [
          metastoreRoute(
            { kind: 'static', backends: [{ host: '127.0.0.1', port: hms.port }] },
            { backendTls, healthCheck: hc({ probe: 'thrift', ...fast }) },
          ),
        ],
      },
    )
    await waitFor(
      '5 good metastore probes',
      () => (backendOf(proxy, keyOf(hms), 1)?.probe?.ok ?? 0) >= 5,
    )
    await waitFor(
      '5 good HTTP probes',
      () => (backendOf(proxy, keyOf(http), 0)?.probe?.ok ?? 0) >= 5,
    )
    // a probe that times out (a loaded test machine) reconnects by design: one connection per timeout
    const failed = (route: number, key: string): number =>
      backendOf(proxy, key, route)?.probe?.failed ?? 0
    const hmsFailed = failed(1, keyOf(hms))
    t.ok(hmsFailed <= 2, `at most 2 metastore probes timed out (${hmsFailed})`)
    t.equal(hms.connections, 1 + hmsFailed, 'one TLS probe connection to the metastore')
    t.equal(backendOf(proxy, keyOf(hms), 1)?.probe?.last?.detail, 'ALIVE')
    t.match(backendOf(proxy, keyOf(http), 0)?.probe?.last?.detail, /^HTTP [1-4]\d\d$/)
    const httpFailed = failed(0, keyOf(http))
    t.ok(httpFailed <= 2, `at most 2 HTTP probes timed out (${httpFailed})`)
    t.equal(http.connections, 1 + httpFailed, 'one kept-alive HTTPS probe connection')
  },
)
