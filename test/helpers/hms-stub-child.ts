/**
 * Child-process entry of hms-stub-proc.ts: one metastore stub (hms-stub.ts) in its own process, so a
 * test can SIGSTOP it (a JVM in a long GC pause: the kernel still accepts, nothing answers). Options
 * come as JSON in argv[2]; it sends `{ port }` once listening and answers `'stats'` with its counts
 * over the IPC channel. It exits when the channel closes (its parent is gone).
 */
import { startHmsStub, type StartHmsStubOptions } from './hms-stub.js'

const opts = JSON.parse(process.argv[2] ?? '{}') as StartHmsStubOptions
const stub = await startHmsStub(opts)
const send = (m: unknown): void => {
  process.send?.(m)
}
send({ port: stub.port })
process.on('message', (m: unknown) => {
  if (m === 'stats')
    send({
      stats: {
        connections: stub.connections,
        active: stub.activeConnections,
        getStatus: stub.callsOf('getStatus').length,
        getStatusConns: [...new Set(stub.callsOf('getStatus').map((c) => c.conn))],
      },
    })
})
process.on('disconnect', () => {
  void stub.close().then(() => process.exit(0))
})
