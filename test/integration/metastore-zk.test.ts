import t, { type Test } from 'tap'
import { startZk } from '../helpers/zk.js'
import { connectTestZk, type TestZk } from '../helpers/zk-client.js'
import { startHmsStub, createHmsStore, type HmsStub } from '../helpers/hms-stub.js'
import { connectHms } from '../helpers/hms-client.js'
import { metastoreRoute, startTestProxy, waitFor } from '../helpers/proxy.js'
import type { HiveHaProxy } from '../../src/proxy.js'

// Hive 4 metastore.service.discovery.mode=zookeeper: the proxy reads the registrations a
// HiveMetaStore writes (hive-ha-semantics.md §4.6) through the same discovery module as HS2.
const zk = await startZk()
t.teardown(() => zk.close())
const store = createHmsStore(['default'])

/** As HiveMetaStore does: EPHEMERAL_SEQUENTIAL `/<ns>/<host>:<port>` + counter, data `host:port`. */
async function registerHms(w: TestZk, ns: string, s: HmsStub): Promise<string> {
  await w.mkdirp(`/${ns}`)
  return w.create(`/${ns}/127.0.0.1:${s.port}`, `127.0.0.1:${s.port}`, 'ephemeral-sequential')
}

async function stub(t: Test, id: string): Promise<HmsStub> {
  const s = await startHmsStub({ id, store })
  t.teardown(() => s.close())
  return s
}

const listed = (p: HiveHaProxy) =>
  p.snapshot().routes[0]!.backends.filter((b) => b.state !== 'unlisted').length
async function whoAnswers(port: number): Promise<string> {
  const c = await connectHms({ host: '127.0.0.1', port, timeoutMs: 5000 })
  try {
    return (await c.getDatabase('default')).description!
  } finally {
    await c.close()
  }
}

t.test('metastores registered in ZooKeeper are watched live', async (t) => {
  const writerA = await connectTestZk(zk.connectString)
  const writerB = await connectTestZk(zk.connectString)
  t.teardown(() => writerB.close())
  const [a, b] = [await stub(t, 'a'), await stub(t, 'b')]
  await registerHms(writerA, 'hive_metastore', a)
  const { proxy, ports } = await startTestProxy(t, [], {
    metastore: [
      metastoreRoute({ kind: 'zookeeper', quorum: zk.connectString, namespace: 'hive_metastore' }),
    ],
  })
  await waitFor('one metastore', () => listed(proxy) === 1)
  t.equal(await whoAnswers(ports[0]!), 'a')
  t.match(
    proxy.snapshot().routes[0]!.backends[0]!.source,
    /^127\.0\.0\.1:\d+\d{10}$/,
    'source is the znode name',
  )

  await registerHms(writerB, 'hive_metastore', b)
  await waitFor('two metastores', () => listed(proxy) === 2)
  await writerA.close() // a's session ends: its registration vanishes
  await waitFor('a gone', () => listed(proxy) === 1)
  t.equal(await whoAnswers(ports[0]!), 'b', 'new connections go to the remaining registration')
})
