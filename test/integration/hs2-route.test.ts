import t, { type Test } from 'tap'
import net from 'node:net'
import { startZk } from '../helpers/zk.js'
import { connectTestZk } from '../helpers/zk-client.js'
import { startHs2Stub, type Hs2Stub } from '../helpers/hs2-stub.js'
import { registerHs2 } from '../helpers/hs2-register.js'
import { queryBackendId } from '../helpers/hive-client.js'
import { startBlackhole } from '../helpers/blackhole.js'
import { hs2Route, seededRandom, startTestProxy, waitFor } from '../helpers/proxy.js'
import type { HiveHaProxy } from '../../src/proxy.js'
import type { TcpIo } from '../../src/config/types.js'
import { handlesUnavailable } from '../../src/net/handles.js'

const zk = await startZk()
t.teardown(() => zk.close())
const writer = await connectTestZk(zk.connectString)
t.teardown(() => writer.close())

let nsSeq = 0
const nextNs = (): string => `hs2test${++nsSeq}`
const zkTarget = (namespace: string) => ({
  kind: 'zookeeper' as const,
  quorum: zk.connectString,
  namespace,
})

async function stubs(
  t: Test,
  ids: string[],
  auth: 'nosasl' | 'plain' = 'nosasl',
): Promise<Hs2Stub[]> {
  const out: Hs2Stub[] = []
  for (const id of ids) {
    const s = await startHs2Stub({ id, auth })
    t.teardown(() => s.close())
    out.push(s)
  }
  return out
}

const query = (port: number, auth: 'nosasl' | 'plain' = 'nosasl') =>
  queryBackendId({ host: '127.0.0.1', port, auth, timeoutMs: 5000 })
const listedKeys = (p: HiveHaProxy) =>
  p
    .snapshot()
    .routes[0]!.backends.filter((b) => b.state !== 'unlisted')
    .map((b) => b.key)
    .sort()
const countBy = (xs: string[]) =>
  xs.reduce<Record<string, number>>((m, x) => {
    m[x] = (m[x] ?? 0) + 1
    return m
  }, {})
async function queryN(port: number, n: number): Promise<string[]> {
  const got: string[] = []
  for (let i = 0; i < n; i++) got.push(await query(port))
  return got
}

t.test('round-robin spreads evenly over instances found in ZooKeeper', async (t) => {
  const ns = nextNs()
  const ss = await stubs(t, ['a', 'b', 'c'])
  for (const s of ss) await registerHs2(writer, ns, s)
  const { proxy, ports } = await startTestProxy(t, [
    hs2Route(zkTarget(ns), { policy: 'round-robin' }),
  ])
  await waitFor('three backends', () => listedKeys(proxy).length === 3)
  t.same(countBy(await queryN(ports[0]!, 9)), { a: 3, b: 3, c: 3 })
  t.ok(proxy.ready)
})

t.test('random spreads over every instance', async (t) => {
  const ns = nextNs()
  const ss = await stubs(t, ['a', 'b', 'c'])
  for (const s of ss) await registerHs2(writer, ns, s)
  const { proxy, ports } = await startTestProxy(t, [hs2Route(zkTarget(ns), { policy: 'random' })], {
    deps: { random: seededRandom(7) },
  })
  await waitFor('three backends', () => listedKeys(proxy).length === 3)
  const counts = countBy(await queryN(ports[0]!, 30))
  t.same(
    Object.keys(counts).sort(),
    ['a', 'b', 'c'],
    `every instance used: ${JSON.stringify(counts)}`,
  )
  for (const n of Object.values(counts)) t.ok(n >= 4, 'no instance starved')
})

t.test('least-connections sends a new client to the least loaded instance', async (t) => {
  const ns = nextNs()
  const ss = await stubs(t, ['a', 'b'])
  for (const s of ss) await registerHs2(writer, ns, s)
  const { proxy, ports } = await startTestProxy(t, [
    hs2Route(zkTarget(ns), { policy: 'least-connections' }),
  ])
  await waitFor('two backends', () => listedKeys(proxy).length === 2)
  // hold two raw connections open: one lands on each backend
  const held: net.Socket[] = []
  for (let i = 0; i < 2; i++) {
    const c = net.connect(ports[0]!, '127.0.0.1')
    c.on('error', () => {})
    held.push(c)
    await waitFor(
      'connection routed',
      () => proxy.snapshot().routes[0]!.backends.reduce((n, b) => n + b.active, 0) === i + 1,
    )
  }
  t.same(
    ss.map((s) => s.activeConnections),
    [1, 1],
  )
  // free the one on 'a': every new client now goes to 'a' while it has fewer connections
  const onA = proxy
    .snapshot()
    .routes[0]!.backends.find((b) => b.key === `127.0.0.1:${ss[0]!.port}`)!
  t.equal(onA.active, 1)
  held[0]!.destroy()
  await waitFor(
    'one connection left',
    () => proxy.snapshot().routes[0]!.backends.reduce((n, b) => n + b.active, 0) === 1,
  )
  const which = proxy.snapshot().routes[0]!.backends.find((b) => b.active === 0)!.key
  const want = which === `127.0.0.1:${ss[0]!.port}` ? 'a' : 'b'
  t.equal(await query(ports[0]!), want)
  for (const c of held) c.destroy()
})

t.test(
  'non-binary registrations and the privilege-synchronizer leader child are ignored',
  async (t) => {
    const ns = nextNs()
    const [bin, http, legacy] = await stubs(t, ['binary', 'http', 'legacy'])
    await registerHs2(writer, ns, bin!, { transportMode: 'all' })
    await registerHs2(writer, ns, http!, { transportMode: 'http' })
    await registerHs2(writer, ns, legacy!, { legacy: true })
    await writer.mkdirp(`/${ns}/leader`)
    await writer.create(`/${ns}/leader/_c_1f-latch-`, '', 'ephemeral-sequential')
    const { proxy, ports } = await startTestProxy(t, [hs2Route(zkTarget(ns))])
    await waitFor('two backends', () => listedKeys(proxy).length === 2)
    const snap = proxy.snapshot().routes[0]!
    t.same(listedKeys(proxy), [`127.0.0.1:${bin!.port}`, `127.0.0.1:${legacy!.port}`].sort())
    t.equal(snap.skipped.length, 1, 'the http-only instance is listed as skipped')
    t.match(snap.skipped[0]!.reason, /http/)
    t.notOk(
      snap.skipped.some((s) => s.source.includes('leader')),
      'the leader child is not an instance at all',
    )
    const got = countBy(await queryN(ports[0]!, 4))
    t.same(got, { binary: 2, legacy: 2 })
    t.equal(http!.connections, 0)
  },
)

// The route behaviours below run on both transports (net/handles.ts): bare handles, where this
// Node offers them, and sockets.
const TRANSPORTS: TcpIo[] =
  handlesUnavailable() === undefined ? ['handles', 'sockets'] : ['sockets']
for (const transport of TRANSPORTS) {
  t.test(
    `an instance whose znode goes away gets no new connections; its live session continues (${transport})`,
    async (t) => {
      const ns = nextNs()
      const [a, b] = await stubs(t, ['a', 'b'])
      const pathA = await registerHs2(writer, ns, a!)
      await registerHs2(writer, ns, b!)
      const { proxy, ports } = await startTestProxy(t, [
        hs2Route(zkTarget(ns), { tcpIo: transport }),
      ])
      await waitFor('two backends', () => listedKeys(proxy).length === 2)
      // open raw connections until one is pinned to 'a' (round-robin: at most two)
      let held: net.Socket | undefined
      for (let i = 0; i < 2 && held === undefined; i++) {
        const total = a!.connections + b!.connections
        const onA = a!.connections
        const c = net.connect(ports[0]!, '127.0.0.1')
        c.on('error', () => {})
        await waitFor('routed', () => a!.connections + b!.connections === total + 1)
        if (a!.connections > onA) held = c
        else c.destroy()
      }
      t.ok(held, 'holding a connection on a')
      await writer.remove(pathA)
      await waitFor('a unlisted', () => listedKeys(proxy).length === 1)
      t.same(countBy(await queryN(ports[0]!, 6)), { b: 6 })
      t.equal(
        a!.activeConnections,
        1,
        'the live connection to the deregistered instance was not cut',
      )
      held!.destroy()
    },
  )

  t.test(
    `a dead but still registered instance is failed over with no client-visible failure, then ejected (${transport})`,
    async (t) => {
      const ns = nextNs()
      const [a, b] = await stubs(t, ['a', 'b'])
      await registerHs2(writer, ns, a!)
      await registerHs2(writer, ns, b!)
      const { proxy, ports, logs } = await startTestProxy(t, [
        hs2Route(zkTarget(ns), { tcpIo: transport, policy: 'round-robin' }),
      ])
      await waitFor('two backends', () => listedKeys(proxy).length === 2)
      await a!.close() // process gone, znode stays (its ZooKeeper session lives elsewhere)
      const got = await queryN(ports[0]!, 10)
      t.same(countBy(got), { b: 10 }, 'every query answered')
      const snapA = proxy
        .snapshot()
        .routes[0]!.backends.find((x) => x.key === `127.0.0.1:${a!.port}`)!
      t.equal(snapA.state, 'ejected')
      t.ok(snapA.connectFailures >= 2)
      t.ok(proxy.snapshot().routes[0]!.connections.failovers >= 1)
      t.ok(logs.messages().includes('backend ejected'))
      t.ok(logs.messages().includes('backend connect failed; trying another'))
    },
  )

  t.test(
    `an instance that accepts no connection at all (connect timeout) is failed over (${transport})`,
    async (t) => {
      const ns = nextNs()
      const [b] = await stubs(t, ['b'])
      const hole = await startBlackhole()
      t.teardown(() => hole.close())
      await registerHs2(writer, ns, { host: '127.0.0.1', port: hole.port })
      await registerHs2(writer, ns, b!)
      const { proxy, ports } = await startTestProxy(t, [
        hs2Route(zkTarget(ns), { tcpIo: transport, policy: 'round-robin', connectTimeoutMs: 150 }),
      ])
      await waitFor('two backends', () => listedKeys(proxy).length === 2)
      t.same(countBy(await queryN(ports[0]!, 4)), { b: 4 })
      const hb = proxy
        .snapshot()
        .routes[0]!.backends.find((x) => x.key === `127.0.0.1:${hole.port}`)!
      t.equal(hb.lastError, 'HHP_ERR_CONNECT_TIMEOUT')
    },
  )

  t.test(
    `when every instance is dead the client is closed and the reason logged (${transport})`,
    async (t) => {
      const ns = nextNs()
      const [a] = await stubs(t, ['a'])
      await registerHs2(writer, ns, a!)
      const { proxy, ports, logs } = await startTestProxy(t, [
        hs2Route(zkTarget(ns), { tcpIo: transport }),
      ])
      await waitFor('one backend', () => listedKeys(proxy).length === 1)
      await a!.close()
      await t.rejects(query(ports[0]!))
      await waitFor('logged', () => logs.messages().includes('no backend for client; closing it'))
      const rec = logs.records.find((r) => r.msg === 'no backend for client; closing it')!
      t.match(rec, {
        code: 'HHP_ERR_ALL_BACKENDS_FAILED',
        attempts: [{ backend: `127.0.0.1:${a!.port}` }],
      })
      t.equal(
        proxy.snapshot().routes[0]!.backends[0]!.state,
        'up',
        'the last backend is never ejected',
      )
    },
  )

  t.test(`a new instance receives traffic (${transport})`, async (t) => {
    const ns = nextNs()
    const [a, b] = await stubs(t, ['a', 'b'])
    await registerHs2(writer, ns, a!)
    const { proxy, ports } = await startTestProxy(t, [hs2Route(zkTarget(ns), { tcpIo: transport })])
    await waitFor('one backend', () => listedKeys(proxy).length === 1)
    t.same(countBy(await queryN(ports[0]!, 2)), { a: 2 })
    t.match(
      proxy.snapshot().routes[0],
      { tcpIo: transport },
      'the route runs on the transport asked for',
    )
    await registerHs2(writer, ns, b!)
    await waitFor('two backends', () => listedKeys(proxy).length === 2)
    t.same(countBy(await queryN(ports[0]!, 4)), { a: 2, b: 2 })
  })

  t.test(`SASL PLAIN clients pass through untouched (${transport})`, async (t) => {
    const ns = nextNs()
    const [a] = await stubs(t, ['plain-a'], 'plain')
    await registerHs2(writer, ns, a!)
    const { proxy, ports, logs } = await startTestProxy(t, [
      hs2Route(zkTarget(ns), { tcpIo: transport }),
    ])
    await waitFor('one backend', () => listedKeys(proxy).length === 1)
    t.equal(
      await queryBackendId({
        host: '127.0.0.1',
        port: ports[0]!,
        auth: 'plain',
        user: 'alice',
        password: 's3cret-pw',
      }),
      'plain-a',
    )
    t.same(a!.users, ['alice'])
    await waitFor('closed', () => logs.messages().includes('connection closed'))
    t.notMatch(logs.text(), /s3cret-pw/, 'no payload bytes (the password) in the logs')
  })
}

t.test('a client arriving before the first discovery read waits for it', async (t) => {
  const ns = nextNs()
  const [a] = await stubs(t, ['a'])
  const { proxy, ports } = await startTestProxy(t, [
    hs2Route(zkTarget(ns), { connectTimeoutMs: 3000 }),
  ])
  t.equal(proxy.snapshot().routes[0]!.backends.length, 0)
  const pending = query(ports[0]!)
  await new Promise((r) => setTimeout(r, 100))
  await registerHs2(writer, ns, a!)
  t.equal(await pending, 'a')
})

t.test('two routes on one quorum share one ZooKeeper session', async (t) => {
  const [ns1, ns2] = [nextNs(), nextNs()]
  const [a, b] = await stubs(t, ['a', 'b'])
  await registerHs2(writer, ns1, a!)
  await registerHs2(writer, ns2, b!)
  const { proxy, ports } = await startTestProxy(t, [
    hs2Route(zkTarget(ns1), { name: 'one' }),
    hs2Route(zkTarget(ns2), { name: 'two' }),
  ])
  await waitFor('both ready', () => proxy.ready)
  t.equal(proxy.snapshot().zookeeper.length, 1)
  t.equal(await query(ports[0]!), 'a')
  t.equal(await query(ports[1]!), 'b')
})

t.test('a direct URL routes to its static list', async (t) => {
  const [a, b] = await stubs(t, ['a', 'b'])
  const target = {
    kind: 'static' as const,
    backends: [a!, b!].map((s) => ({ host: '127.0.0.1', port: s.port })),
  }
  const { proxy, ports } = await startTestProxy(t, [hs2Route(target)])
  await waitFor('ready', () => proxy.ready)
  t.same(countBy(await queryN(ports[0]!, 4)), { a: 2, b: 2 })
})
