import t, { type Test } from 'tap'
import { startZk } from '../helpers/zk.js'
import { connectTestZk } from '../helpers/zk-client.js'
import { startHs2Stub, type Hs2Stub } from '../helpers/hs2-stub.js'
import { registerHa } from '../helpers/hs2-register.js'
import { queryBackendId } from '../helpers/hive-client.js'
import { hs2Route, startTestProxy, waitFor } from '../helpers/proxy.js'
import type { HiveHaProxy } from '../../src/proxy.js'

const zk = await startZk()
t.teardown(() => zk.close())
const writer = await connectTestZk(zk.connectString)
t.teardown(() => writer.close())

const query = (port: number) => queryBackendId({ host: '127.0.0.1', port, timeoutMs: 5000 })
const listed = (p: HiveHaProxy) =>
  p
    .snapshot()
    .routes[0]!.backends.filter((b) => b.state !== 'unlisted')
    .map((b) => b.key)

async function stub(t: Test, id: string): Promise<Hs2Stub> {
  const s = await startHs2Stub({ id })
  t.teardown(() => s.close())
  return s
}

t.test(
  'zooKeeperHA: only the leader is routed to, and leader changes are followed live',
  async (t) => {
    const ns = 'hs2ActivePassiveHA'
    const [a, b] = [await stub(t, 'a'), await stub(t, 'b')]
    const ra = await registerHa(writer, ns, a, { leader: true })
    const rb = await registerHa(writer, ns, b, { leader: false })
    const { proxy, ports } = await startTestProxy(t, [
      hs2Route(
        { kind: 'zookeeper-ha', quorum: zk.connectString, namespace: ns },
        { policy: 'round-robin' },
      ),
    ])
    await waitFor('leader listed', () => listed(proxy).length === 1)
    const snap = proxy.snapshot().routes[0]!
    t.same(listed(proxy), [`127.0.0.1:${a.port}`])
    t.equal(snap.backends[0]!.leader, true)
    t.match(snap.skipped, [{ reason: /passive/ }], 'the passive instance is shown as skipped')
    for (let i = 0; i < 3; i++) t.equal(await query(ports[0]!), 'a')

    // hand-over as HS2 does it: the old leader turns passive, then the new one active
    await ra.setLeader(false)
    await waitFor('no leader', () => listed(proxy).length === 0)
    // a client arriving in the gap waits for the next leader instead of being refused
    const inGap = query(ports[0]!)
    await new Promise((r) => setTimeout(r, 100))
    await rb.setLeader(true)
    t.equal(await inGap, 'b', 'the client that arrived with no leader was served by the new one')
    await waitFor('new leader listed', () => listed(proxy).length === 1)
    t.same(listed(proxy), [`127.0.0.1:${b.port}`])
    for (let i = 0; i < 3; i++) t.equal(await query(ports[0]!), 'b')
    t.equal(a.connections, 3, 'the old leader got nothing after stepping down')
  },
)

t.test('zooKeeperHA with a custom namespace reads <ns>-unsecure', async (t) => {
  const [c] = [await stub(t, 'c')]
  await registerHa(writer, 'myHA', c, { leader: true })
  const { proxy, ports } = await startTestProxy(t, [
    hs2Route({ kind: 'zookeeper-ha', quorum: zk.connectString, namespace: 'myHA' }),
  ])
  await waitFor('leader listed', () => listed(proxy).length === 1)
  t.match(proxy.snapshot().routes[0]!.discovery.source, /\/myHA-unsecure\/instances$/)
  t.equal(await query(ports[0]!), 'c')
})
