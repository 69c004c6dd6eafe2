// Reference path for scenarios 2 and 3: the least a Node TCP proxy on net.Socket can do, to show
// what plain Node costs (net.Socket, libuv, one JS callback per event) beside hive-ha-proxy (which
// adds discovery, policies, failover and counters, and pipes HS2 on bare TCP handles, see
// src/net/handles.ts). No routing, no failover, no timeouts, no logs,
// no backpressure (the scenarios it serves move a few bytes at a time):
// each client is piped to the next server round-robin, with the techniques perf-baseline.md found
// best (backend read into one reused buffer via `onread`, noDelay, paused until connected).
//   node bench/naive-proxy.mjs '{"fronts":[{"servers":[1234,1235]},...]}'
// Prints one JSON line {"ports":[...]} once listening; exits when stdin closes (its parent died).
import net from 'node:net'

const cfg = JSON.parse(process.argv[2] ?? '{}')
const HOST = '127.0.0.1'
const shared = Buffer.allocUnsafe(64 * 1024)

function front(servers) {
  let next = 0
  return net.createServer(
    { pauseOnConnect: true, allowHalfOpen: true, noDelay: true },
    (client) => {
      client.on('error', () => {})
      const backend = net.connect({
        host: HOST,
        port: servers[next++ % servers.length],
        noDelay: true,
        allowHalfOpen: true,
        // bytes are copied out before the callback returns: the shared buffer is free again
        onread: {
          buffer: shared,
          callback: (n, buf) => void client.write(Buffer.from(buf.subarray(0, n))),
        },
      })
      backend.on('error', () => client.destroy())
      backend.on('connect', () => {
        client.on('data', (d) => backend.write(d))
        client.on('end', () => backend.end())
        backend.on('end', () => client.end())
        client.on('close', () => backend.destroy())
        backend.on('close', () => client.destroy())
        client.resume()
      })
    },
  )
}

const ports = await Promise.all(
  cfg.fronts.map(
    (f) =>
      new Promise((resolve, reject) => {
        const srv = front(f.servers)
        srv.on('error', reject)
        srv.listen({ port: 0, host: HOST, backlog: 4096 }, () => resolve(srv.address().port))
      }),
  ),
)
process.stdout.write(`${JSON.stringify({ ports })}\n`)
process.stdin.on('data', () => {})
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
