// The raw-socket Node HTTP relay, a second reference path of scenario 10: plain net sockets on
// both sides, HTTP/1.1 framing read by http-parser-js (a maintained JavaScript HTTP parser), each
// request's headers written anew (hop-by-hop ones dropped, Content-Length and X-Forwarded-For
// set) with its whole body in one write, each answer's bytes forwarded as they are read while
// the parser follows where it ends. One backend connection per client connection (round robin),
// no parsing of Thrift, no affinity, failover, timeouts, counters or logs. It shows what an HTTP
// route could cost in Node without node:http and undici's per-request objects.
//   node bench/raw-http-proxy.mjs '{"servers":[port, ...]}'
// Prints one JSON line {"ports":[port]} once listening; exits when stdin closes.
import net from 'node:net'
import { HTTPParser, methods } from 'http-parser-js'

const cfg = JSON.parse(process.argv[2])
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'content-length',
])
let next = 0
const srv = net.createServer({ noDelay: true }, (c) => {
  const port = cfg.servers[next++ % cfg.servers.length]
  const b = net.connect({ port, host: '127.0.0.1', noDelay: true })
  const req = new HTTPParser(HTTPParser.REQUEST)
  let head
  let body = []
  let length = 0
  req[HTTPParser.kOnHeadersComplete] = (info) => {
    head = info
    body = []
    length = 0
  }
  req[HTTPParser.kOnBody] = (buf, start, len) => {
    // the parser hands out a slice of the chunk it was given: kept, not copied
    body.push(buf.subarray(start, start + len))
    length += len
  }
  req[HTTPParser.kOnMessageComplete] = () => {
    const h = head.headers
    let s = `${methods[head.method]} ${head.url} HTTP/1.1\r\n`
    for (let i = 0; i < h.length; i += 2)
      if (!HOP.has(h[i].toLowerCase())) s += `${h[i]}: ${h[i + 1]}\r\n`
    s += `host: 127.0.0.1:${port}\r\ncontent-length: ${length}\r\nx-forwarded-for: ${c.remoteAddress}\r\n\r\n`
    b.write(Buffer.concat([Buffer.from(s, 'latin1'), ...body]))
  }
  c.on('data', (d) => {
    const r = req.execute(d)
    if (r instanceof Error) c.destroy()
  })
  const res = new HTTPParser(HTTPParser.RESPONSE)
  b.on('data', (d) => {
    const r = res.execute(d)
    if (r instanceof Error) b.destroy()
    else if (!c.write(d)) b.pause()
  })
  c.on('drain', () => b.resume())
  const end = () => {
    c.destroy()
    b.destroy()
  }
  c.on('error', end).on('close', end)
  b.on('error', end).on('close', end)
})
srv.listen({ port: 0, host: '127.0.0.1' }, () =>
  process.stdout.write(`${JSON.stringify({ ports: [srv.address().port] })}\n`),
)
process.stdin.on('data', () => {})
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
