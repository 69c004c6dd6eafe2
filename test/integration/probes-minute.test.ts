/**
 * A minute of metastore probes at a 1 s interval (issue 15): the backend sees ONE probe connection
 * for the whole minute, no connect/close churn. In a file of its own: it runs about 65 s, and each
 * test file has its own time limit (.taprc).
 */
import t from 'tap'
import { DEFAULTS } from '../../src/defaults.js'
import { connectHms } from '../helpers/hms-client.js'
import { startHmsStub } from '../helpers/hms-stub.js'
import { metastoreRoute, startTestProxy, waitFor } from '../helpers/proxy.js'

const MINUTE_MS = 60_000

t.test('one probe connection per metastore over a minute of probes', async (t) => {
  const stub = await startHmsStub({ id: 'm' })
  t.teardown(() => stub.close())
  const key = `${stub.host}:${stub.port}`
  const { proxy, ports } = await startTestProxy(t, [], {
    metastore: [
      metastoreRoute(
        { kind: 'static', backends: [stub] },
        {
          healthCheck: {
            ...DEFAULTS.metastore.healthCheck,
            probe: 'thrift',
            intervalMs: 1000,
            timeoutMs: 900,
          },
        },
      ),
    ],
  })
  const started = Date.now()
  await waitFor('the first probe', () => stub.callsOf('getStatus').length >= 1, 5000)
  await new Promise((r) => setTimeout(r, MINUTE_MS - (Date.now() - started)))
  const probes = stub.callsOf('getStatus')
  t.ok(probes.length >= 55, `about one probe a second for a minute (${probes.length})`)
  const b = proxy.snapshot().routes[0]?.backends.find((x) => x.key === key)
  t.equal(b?.probe?.failed, 0, 'no probe failed (a timed-out probe would reconnect by design)')
  t.equal(new Set(probes.map((c) => c.conn)).size, 1, 'every probe on one connection')
  t.equal(stub.connections, 1, 'the metastore accepted one connection in the minute')
  t.equal(b?.state, 'up')
  // the probe connection is the proxy's own: a client still gets its own connection
  const c = await connectHms({ host: '127.0.0.1', port: ports[0]! })
  t.teardown(() => c.close())
  t.equal((await c.getDatabase('default')).description, 'm')
})
