import t, { type Test } from 'tap'
import { startZk } from '../helpers/zk.js'
import { connectTestZk } from '../helpers/zk-client.js'
import { startHs2Stub, type Hs2Stub } from '../helpers/hs2-stub.js'
import { registerHs2 } from '../helpers/hs2-register.js'
import { queryBackendId } from '../helpers/hive-client.js'
import { hs2Route, startTestProxy, waitFor } from '../helpers/proxy.js'
import type { HiveHaProxy } from '../../src/proxy.js'

// One ZooKeeper server for the file; the tests stop, restart and wipe it, so they run in order.
// direct: the proxy faces the real server, including its restart-window trap (see helpers/zk.ts), not the test relay
const zk = await startZk({ direct: true })
t.teardown(() => zk.close())

const query = (port: number) => queryBackendId({ host: '127.0.0.1', port, timeoutMs: 5000 })
const listed = (p: HiveHaProxy) =>
  p.snapshot().routes[0]!.backends.filter((b) => b.state !== 'unlisted').length
const sessionState = (p: HiveHaProxy) => p.snapshot().zookeeper[0]!.state
const countBy = (xs: string[]) =>
  xs.reduce<Record<string, number>>((m, x) => {
    m[x] = (m[x] ?? 0) + 1
    return m
  }, {})

async function stub(t: Test, id: string): Promise<Hs2Stub> {
  const s = await startHs2Stub({ id })
  t.teardown(() => s.close())
  return s
}

t.test(
  'ZooKeeper down: routing continues on the last good list; changes are picked up when it returns',
  async (t) => {
    const writer = await connectTestZk(zk.connectString, { sessionTimeout: 20_000 })
    t.teardown(() => writer.close())
    const [a, b, c] = [await stub(t, 'a'), await stub(t, 'b'), await stub(t, 'c')]
    await registerHs2(writer, 'outage', a)
    await registerHs2(writer, 'outage', b)
    const { proxy, ports } = await startTestProxy(
      t,
      [hs2Route({ kind: 'zookeeper', quorum: zk.connectString, namespace: 'outage' })],
      {
        zookeeper: { sessionTimeoutMs: 20_000, reconnectWatchdogMs: 2_000 },
      },
    )
    await waitFor('two backends', () => listed(proxy) === 2)

    await zk.stop()
    await waitFor('proxy saw the disconnect', () => sessionState(proxy) === 'disconnected')
    const during: string[] = []
    for (let i = 0; i < 4; i++) during.push(await query(ports[0]!))
    t.same(countBy(during), { a: 2, b: 2 }, 'both instances still used while ZooKeeper is down')
    t.equal(proxy.snapshot().routes[0]!.ready, true)

    await zk.start()
    await waitFor('proxy reconnected', () => sessionState(proxy) === 'connected', 15_000)
    // a fresh writer: the old one's library client may be stuck (the trap ZkSession guards against)
    const writer2 = await connectTestZk(zk.connectString)
    t.teardown(() => writer2.close())
    await registerHs2(writer2, 'outage', c)
    await waitFor('new instance seen', () => listed(proxy) === 3, 15_000)
    const after: string[] = []
    for (let i = 0; i < 3; i++) after.push(await query(ports[0]!))
    t.same(countBy(after), { a: 1, b: 1, c: 1 })
  },
)

t.test(
  'ZooKeeper restarted with an empty data dir: the stuck client is replaced and discovery starts over',
  async (t) => {
    const writer = await connectTestZk(zk.connectString)
    const [a, d] = [await stub(t, 'a'), await stub(t, 'd')]
    await registerHs2(writer, 'wiped', a)
    const { proxy, ports, logs } = await startTestProxy(
      t,
      [hs2Route({ kind: 'zookeeper', quorum: zk.connectString, namespace: 'wiped' })],
      {
        zookeeper: { sessionTimeoutMs: 4_000, reconnectWatchdogMs: 1_500 },
      },
    )
    await waitFor('one backend', () => listed(proxy) === 1)
    const generation = proxy.snapshot().zookeeper[0]!.generation
    await writer.close()
    await zk.restart({ wipe: true })
    // the old session is unknown to the new server; the proxy needs a new client and a fresh read
    await waitFor(
      'a new session',
      () =>
        proxy.snapshot().zookeeper[0]!.generation > generation &&
        sessionState(proxy) === 'connected',
      20_000,
    )
    const writer2 = await connectTestZk(zk.connectString)
    t.teardown(() => writer2.close())
    await registerHs2(writer2, 'wiped', d)
    await waitFor(
      'fresh list with the new instance only',
      () => {
        const keys = proxy
          .snapshot()
          .routes[0]!.backends.filter((b) => b.state !== 'unlisted')
          .map((b) => b.key)
        return keys.length === 1 && keys[0] === `127.0.0.1:${d.port}`
      },
      15_000,
    )
    t.equal(await query(ports[0]!), 'd')
    t.ok(
      logs
        .messages()
        .some(
          (m) =>
            m.startsWith('zookeeper not connected in time') ||
            m.startsWith('a zookeeper server is up but the client has not reconnected') ||
            m.startsWith('zookeeper session expired'),
        ),
      'replacement was logged',
    )
  },
)
