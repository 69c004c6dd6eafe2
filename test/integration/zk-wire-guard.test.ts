import { once } from 'node:events'
import t from 'tap'
import { defaultZkClientFactory, type ZkClient } from '../../src/discovery/zk-session.js'
import { startZk } from '../helpers/zk.js'

/** node-zookeeper-client's connection manager, as far as these tests reach into it */
interface Manager {
  socket: NodeJS.EventEmitter & { destroy(): void }
  onSocketData(buffer: Buffer): void
}
const managerOf = (client: ZkClient): Manager => Reflect.get(client, 'connectionManager') as Manager

/** a reply frame with a notification xid and no event body: the library's parser reads past its end */
function truncatedNotification(): Buffer {
  const frame = Buffer.alloc(20)
  frame.writeInt32BE(16, 0) // length: xid + zxid + err
  frame.writeInt32BE(-1, 4) // xid -1: a watch notification
  return frame
}

async function connected(client: ZkClient): Promise<void> {
  const timer = setTimeout(() => client.close(), 10_000)
  await once(client as unknown as NodeJS.EventEmitter, 'connected')
  clearTimeout(timer)
}

t.test('the reply parser of node-zookeeper-client', async (t) => {
  const zk = await startZk({ direct: true })
  t.teardown(() => zk.close())

  await t.test(
    'throws on a truncated frame when left unguarded (the trap the guard is for)',
    async (t) => {
      const client = defaultZkClientFactory(zk.connectString, { sessionTimeout: 4000 })
      t.teardown(() => client.close())
      client.connect()
      await connected(client)
      t.throws(() => managerOf(client).onSocketData(truncatedNotification()), /out of buffer range/)
    },
  )

  await t.test('guarded: a parser fault drops the connection, the session resumes', async (t) => {
    const faults: Error[] = []
    const client = defaultZkClientFactory(zk.connectString, {
      sessionTimeout: 4000,
      onWireFault: (err) => faults.push(err),
    })
    t.teardown(() => client.close())
    client.connect()
    await connected(client)
    const session = client.getSessionId().toString('hex')
    const back = connected(client)
    managerOf(client).socket.emit('data', truncatedNotification())
    await back
    t.equal(faults.length, 1, 'the fault is reported once')
    t.match(faults[0]?.message, /could not be parsed/)
    t.match(String(faults[0]?.cause), /out of buffer range/)
    t.equal(client.getSessionId().toString('hex'), session, 'same session')
    await new Promise<void>((resolve, reject) =>
      client.exists('/', (err) => (err ? reject(err) : resolve())),
    )
  })

  await t.test(
    'guarded: bytes of a frame cut by a lost connection do not reach the next one',
    async (t) => {
      const faults: Error[] = []
      const client = defaultZkClientFactory(zk.connectString, {
        sessionTimeout: 4000,
        onWireFault: (err) => faults.push(err),
      })
      t.teardown(() => client.close())
      client.connect()
      await connected(client)
      const session = client.getSessionId().toString('hex')
      const manager = managerOf(client)
      manager.socket.emit('data', Buffer.from([0, 0])) // the start of a length prefix
      const back = connected(client)
      manager.socket.destroy()
      await back
      t.same(faults, [], 'the new connection parsed cleanly')
      t.equal(client.getSessionId().toString('hex'), session, 'same session')
    },
  )
})
