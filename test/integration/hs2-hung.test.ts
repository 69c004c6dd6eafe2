import t, { type Test } from 'tap'
import { startHs2Stub, type Hs2Stub } from '../helpers/hs2-stub.js'
import { startHungStub, type HungMode, type HungStub } from '../helpers/hung-stub.js'
import { queryBackendId } from '../helpers/hive-client.js'
import { hs2Route, seededRandom, startTestProxy, waitFor } from '../helpers/proxy.js'
import type { HiveHaProxy } from '../../src/proxy.js'
import type { Hs2RouteConfig, TcpIo } from '../../src/config/types.js'
import { handlesUnavailable } from '../../src/net/handles.js'
import { ProxyMetrics } from '../../src/admin/metrics.js'

// First-answer failover (docs/hung-backends.md): a backend that accepts and never answers costs a
// client one slower handshake, never a hang. Backends here are a static list (the order is the
// policy's input); discovery is covered by hs2-route.test.ts.

async function healthy(t: Test, id: string, auth: 'nosasl' | 'plain' = 'nosasl'): Promise<Hs2Stub> {
  const s = await startHs2Stub({ id, auth })
  t.teardown(() => s.close())
  return s
}
async function hung(t: Test, mode: HungMode): Promise<HungStub> {
  const s = await startHungStub(mode)
  t.teardown(() => s.close())
  return s
}
const staticTarget = (...xs: { port: number }[]) => ({
  kind: 'static' as const,
  backends: xs.map((x) => ({ host: '127.0.0.1', port: x.port })),
})
const query = (port: number, auth: 'nosasl' | 'plain' = 'nosasl', timeoutMs = 5000) =>
  queryBackendId({ host: '127.0.0.1', port, auth, timeoutMs, user: 'alice', password: 'pw' })
const backendOf = (p: HiveHaProxy, port: number) =>
  p.snapshot().routes[0]!.backends.find((b) => b.key === `127.0.0.1:${port}`)!

async function proxyFor(
  t: Test,
  backends: { port: number }[],
  over: Partial<Hs2RouteConfig>,
): Promise<{
  proxy: HiveHaProxy
  port: number
  logs: Awaited<ReturnType<typeof startTestProxy>>['logs']
}> {
  const { proxy, ports, logs } = await startTestProxy(t, [
    hs2Route(staticTarget(...backends), {
      policy: 'round-robin',
      firstResponseTimeoutMs: 300,
      ...over,
    }),
  ])
  await waitFor('ready', () => proxy.ready)
  return { proxy, port: ports[0]!, logs }
}

const TRANSPORTS: TcpIo[] =
  handlesUnavailable() === undefined ? ['handles', 'sockets'] : ['sockets']

for (const transport of TRANSPORTS) {
  for (const auth of ['nosasl', 'plain'] as const) {
    t.test(
      `${auth} clients all succeed with one hung and one healthy instance (${transport})`,
      async (t) => {
        const h = await hung(t, { kind: 'silent' })
        const ok = await healthy(t, 'ok', auth)
        // failures 10: no ejection here, every client meets the hung one in its turn
        const { proxy, port, logs } = await proxyFor(t, [h, ok], {
          tcpIo: transport,
          ejection: { failures: 10, baseMs: 60_000, maxMs: 120_000 },
        })
        const got: string[] = []
        for (let i = 0; i < 4; i++) got.push(await query(port, auth))
        t.same(got, ['ok', 'ok', 'ok', 'ok'], 'every client answered by the healthy instance')
        t.ok(h.connections >= 1, 'round-robin sent clients to the hung one first')
        t.ok(h.bytesReceived > 0, 'the hung one got the handshake')
        const hb = backendOf(proxy, h.port)
        t.equal(hb.stalls, h.connections, 'each one counted as a stall')
        t.equal(hb.connectFailures, 0, 'not as a connect failure')
        t.equal(hb.active, 0, 'the stalled connections were released')
        t.equal(backendOf(proxy, ok.port).stalls, 0)
        t.equal(proxy.snapshot().routes[0]!.connections.failovers, h.connections)
        if (auth === 'plain') t.same(ok.users, ['alice', 'alice', 'alice', 'alice'])
        t.ok(
          logs
            .messages()
            .includes('backend sent nothing in time (hung?); moving the handshake to another'),
        )
        t.notMatch(logs.text(), /"pw"|\bpw\b/, 'no payload bytes in the logs')
      },
    )
  }

  t.test(`N stalls in a row eject the hung instance (${transport})`, async (t) => {
    const h = await hung(t, { kind: 'silent' })
    const ok = await healthy(t, 'ok')
    const { proxy, port, logs } = await proxyFor(t, [h, ok], {
      tcpIo: transport,
      ejection: { failures: 2, baseMs: 60_000, maxMs: 120_000 },
    })
    for (let i = 0; i < 8; i++) t.equal(await query(port), 'ok')
    const hb = backendOf(proxy, h.port)
    t.equal(hb.state, 'ejected')
    t.equal(hb.stalls, 2, 'ejected after the second stall; no client met it afterwards')
    t.equal(h.connections, 2)
    t.ok(logs.messages().includes('backend ejected'))
    const text = await new ProxyMetrics(() => proxy.snapshot()).text()
    t.match(
      text,
      `hive_ha_proxy_stalls_total{route="hs2",backend="127.0.0.1:${h.port}"} 2`,
      'stalls in the metrics',
    )
    t.match(
      text,
      `hive_ha_proxy_connect_failures_total{route="hs2",backend="127.0.0.1:${h.port}"} 0`,
      'apart from connect failures',
    )
  })

  t.test(
    `a backend that answers the handshake after 30 s loses to the timeout (${transport})`,
    async (t) => {
      const ok = await healthy(t, 'ok')
      const late = await hung(t, {
        kind: 'late',
        answerAfterMs: 30_000,
        via: { host: '127.0.0.1', port: ok.port },
      })
      const { proxy, port } = await proxyFor(t, [late, ok], { tcpIo: transport })
      // until round-robin has sent one client to the late one first (at most two turns)
      for (let i = 0; i < 2 && late.connections === 0; i++) t.equal(await query(port), 'ok')
      t.equal(late.connections, 1)
      t.equal(backendOf(proxy, late.port).stalls, 1)
    },
  )

  t.test(
    `a backend that answered one byte is never left: no replay after the first byte (${transport})`,
    async (t) => {
      const one = await hung(t, { kind: 'one-byte' })
      const ok = await healthy(t, 'ok')
      const { proxy, port } = await proxyFor(t, [one, ok], { tcpIo: transport })
      // until round-robin has sent one client to it (at most two turns)
      for (let i = 0; i < 2 && one.connections === 0; i++) {
        const before = ok.connections
        const r = await query(port, 'nosasl', 1500).catch((e: unknown) => e)
        if (one.connections === 0) t.equal(r, 'ok', 'a client sent to the healthy one first')
        else {
          t.match(r, /timed out|closed/, 'the client stays with the server that answered')
          t.equal(ok.connections, before, 'nothing was replayed elsewhere')
        }
      }
      t.equal(one.connections, 1)
      t.equal(backendOf(proxy, one.port).stalls, 0)
    },
  )
}

t.test(
  'firstResponseTimeoutMs 0 turns it off: the client waits on the hung instance',
  async (t) => {
    const h = await hung(t, { kind: 'silent' })
    const ok = await healthy(t, 'ok')
    const { proxy, port } = await proxyFor(t, [h, ok], { firstResponseTimeoutMs: 0 })
    // until round-robin has sent one client to the hung one (at most two turns)
    for (let i = 0; i < 2 && h.connections === 0; i++) {
      const r = await query(port, 'nosasl', 1500).catch((e: unknown) => e)
      if (h.connections > 0) t.match(r, /timed out/, 'the client hangs on the hung instance')
      else t.equal(r, 'ok')
    }
    t.equal(h.connections, 1)
    t.equal(backendOf(proxy, h.port).stalls, 0)
  },
)

t.test(
  'each backend at most once, within maxConnectAttempts: all hung, the client is closed',
  async (t) => {
    const hs = [
      await hung(t, { kind: 'silent' }),
      await hung(t, { kind: 'silent' }),
      await hung(t, { kind: 'silent' }),
    ]
    const { proxy, port, logs } = await proxyFor(t, hs, {
      maxConnectAttempts: 2,
      ejection: { failures: 10, baseMs: 60_000, maxMs: 120_000 },
    })
    await t.rejects(query(port, 'nosasl', 5000), /closed/)
    const counts = hs.map((h) => h.connections)
    t.same(
      counts.slice().sort(),
      [0, 1, 1],
      `two attempts, two different backends, the third never tried: ${counts}`,
    )
    await waitFor('logged', () => logs.messages().includes('no backend for client; closing it'))
    t.equal(proxy.snapshot().routes[0]!.connections.rejected, 1)
  },
)

t.test(
  'slow start: a backend back from ejection gets a trickle, not every other client',
  async (t) => {
    const a = await healthy(t, 'a')
    const b = await healthy(t, 'b')
    const aPort = a.port
    const { proxy, ports } = await startTestProxy(
      t,
      [
        hs2Route(staticTarget(a, b), {
          policy: 'round-robin',
          slowStartMs: 600_000,
          ejection: { failures: 2, baseMs: 200, maxMs: 200 },
        }),
      ],
      { deps: { random: seededRandom(5) } },
    )
    await waitFor('ready', () => proxy.ready)
    await a.close()
    for (let i = 0; i < 6 && backendOf(proxy, aPort).state !== 'ejected'; i++)
      t.equal(await query(ports[0]!), 'b')
    t.equal(backendOf(proxy, aPort).state, 'ejected')
    const back = await startHs2Stub({ id: 'a', port: aPort })
    t.teardown(() => back.close())
    await waitFor('ejection over', () => backendOf(proxy, aPort).state === 'up')
    const got: string[] = []
    for (let i = 0; i < 20; i++) got.push(await query(ports[0]!))
    const onA = got.filter((x) => x === 'a').length
    // round-robin alone would send it 10 of 20; at the start of a 10-minute ramp it gets about 1 in 20
    t.ok(onA <= 3, `the recovered backend got ${onA} of 20`)
    t.ok(
      got.every((x) => x === 'a' || x === 'b'),
      'every client answered by an instance',
    )
  },
)
