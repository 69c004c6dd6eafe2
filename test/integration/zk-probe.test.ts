import net from 'node:net'
import t from 'tap'
import { defaultZkProbe, zkServers } from '../../src/discovery/zk-probe.js'
import { freePort, startZk } from '../helpers/zk.js'

t.test('zkServers reads every server of a connect string, chroot dropped', async (t) => {
  t.same(zkServers('zk1:2181,zk2:2182/hiveserver2'), [
    { host: 'zk1', port: 2181 },
    { host: 'zk2', port: 2182 },
  ])
  t.same(zkServers('zk1, zk2'), [
    { host: 'zk1', port: 2181 },
    { host: 'zk2', port: 2181 },
  ])
  t.same(zkServers('[::1]:2183,[fe80::1]'), [
    { host: '::1', port: 2183 },
    { host: 'fe80::1', port: 2181 },
  ])
  t.same(zkServers(''), [])
})

/** a loopback server that answers every connection with `answer` (or nothing) and closes */
async function fakeServer(answer: string | undefined): Promise<{ port: number; close(): void }> {
  const srv = net.createServer((s) => {
    s.on('error', () => {})
    if (answer === undefined) s.end()
    else s.end(answer)
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const addr = srv.address()
  return { port: typeof addr === 'object' && addr ? addr.port : 0, close: () => srv.close() }
}

t.test('the srvr probe tells serving, starting, accepting and down apart', async (t) => {
  const zk = await startZk({ direct: true })
  t.teardown(() => zk.close())
  t.equal(await defaultZkProbe({ host: '127.0.0.1', port: zk.zkPort }, 2000), 'serving')

  const starting = await fakeServer('This ZooKeeper instance is not currently serving requests\n')
  t.teardown(starting.close)
  t.equal(await defaultZkProbe({ host: '127.0.0.1', port: starting.port }, 2000), 'starting')

  // four-letter words switched off: ZooKeeper closes without an answer
  const silent = await fakeServer(undefined)
  t.teardown(silent.close)
  t.equal(await defaultZkProbe({ host: '127.0.0.1', port: silent.port }, 2000), 'accepting')

  const closed = await freePort()
  t.equal(await defaultZkProbe({ host: '127.0.0.1', port: closed }, 2000), 'down')
})

t.test('a server that never answers is bounded by the timeout', async (t) => {
  const held: net.Socket[] = []
  const srv = net.createServer((s) => {
    held.push(s)
    s.on('error', () => {})
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const s of held) s.destroy()
    srv.close()
  })
  const addr = srv.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  // connected but silent until the timeout: taken as up (accepting), not as down
  t.equal(await defaultZkProbe({ host: '127.0.0.1', port }, 150), 'accepting')
})
