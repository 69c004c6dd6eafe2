// The naive Node HTTP proxy, a reference path of scenario 10: node:http in front, one undici Pool
// per backend behind (its dispatch API, the leanest one), each request body forwarded whole and each answer streamed back, sticky by
// nothing but a round-robin pick per client connection (one session per connection in the bench).
// No parsing, affinity, failover, timeouts, counters or logs: it separates what Node's HTTP
// stack costs from what the proxy adds.
//   node bench/naive-http-proxy.mjs '{"servers":[port, ...]}'
// Prints one JSON line {"ports":[port]} once listening; exits when stdin closes.
import http from 'node:http'
import { Pool } from 'undici'

const cfg = JSON.parse(process.argv[2])
const pools = cfg.servers.map(
  (p) =>
    new Pool(`http://127.0.0.1:${p}`, {
      keepAliveTimeout: 3_600_000,
      keepAliveMaxTimeout: 3_600_000,
    }),
)
let next = 0
const srv = http.createServer({ noDelay: true, keepAliveTimeout: 3_600_000 }, (req, res) => {
  const sock = req.socket
  sock.pool ??= pools[next++ % pools.length]
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
    const headers = { ...req.headers }
    delete headers.host
    delete headers.connection
    // dispatch with a handler: the leanest undici call (no body stream, no promise)
    sock.pool.dispatch(
      { method: 'POST', path: req.url, headers, body },
      {
        onRequestStart() {},
        onResponseStart(_c, status, h) {
          delete h.connection
          delete h['keep-alive']
          res.writeHead(status, h)
        },
        onResponseData(c, d) {
          if (!res.write(d)) {
            c.pause()
            res.once('drain', () => c.resume())
          }
        },
        onResponseEnd() {
          res.end()
        },
        onResponseError() {
          if (res.headersSent) res.destroy()
          else res.writeHead(502).end()
        },
      },
    )
  })
})
srv.keepAliveTimeout = 3_600_000
srv.listen({ port: 0, host: '127.0.0.1' }, () =>
  process.stdout.write(`${JSON.stringify({ ports: [srv.address().port] })}\n`),
)
process.stdin.on('data', () => {})
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
