// Benchmark backends, one process, several listeners on 127.0.0.1 (port 0 unless given).
//   node bench/backend.mjs '{"listeners":[{"kind":"stream","bytes":536870912},{"kind":"echo"},...]}'
// Kinds:
//   stream  every connection gets `bytes` bytes (one reused 256 KiB buffer), then EOF
//   echo    every byte is sent back
//   hello   1 byte, then EOF (connection-setup tests)
//   hms     a Hive Metastore-like Thrift server (strict binary, unframed): get_table_req gets a
//           small REPLY, get_partitions a streamed list of `count` Partition structs, set_ugi its
//           list; anything else an empty REPLY. Every REPLY carries the call's name and seqid.
// A listener with "tls": {"cert": file, "key": file} serves TLS (handlers run after the handshake).
// Prints one JSON line {"ports":[...]} once listening; exits when stdin closes (its parent died).
import { readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import {
  getTableReply,
  i32Field,
  partitionsReply,
  readMessage,
  setUgiReply,
} from './lib/thrift-msg.mjs'

const cfg = JSON.parse(process.argv[2] ?? '{}')
const CHUNK = 256 * 1024
const streamBuf = Buffer.alloc(CHUNK, 'hive-ha-proxy bench stream ')

/** Writes `total` bytes of the reused buffer with backpressure, then calls done. */
function streamTo(s, total, done) {
  let left = total
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK)
      left -= n
      if (!s.write(n === CHUNK ? streamBuf : streamBuf.subarray(0, n)))
        return void s.once('drain', pump)
    }
    done()
  }
  pump()
}

const handlers = {
  stream: (l) => (s) => streamTo(s, l.bytes, () => s.end()),
  echo: () => (s) => s.on('data', (d) => s.write(d)),
  hello: () => (s) => s.end(Buffer.from([0x2a])),
  hms: () => (s) => {
    let pending = Buffer.alloc(0)
    let busy = false // a large answer is being written: later calls wait (one connection = one call at a time)
    const serve = () => {
      while (!busy) {
        const m = readMessage(pending, 0)
        if (m === undefined) return
        const args = m.args
        const req = pending.subarray(0, m.end)
        pending = pending.subarray(m.end)
        if (m.name === 'get_table_req') s.write(getTableReply(m.seqid))
        else if (m.name === 'set_ugi') s.write(setUgiReply(m.seqid))
        else if (m.name === 'get_partitions') {
          const count = i32Field(req, args, 100) ?? 100
          const r = partitionsReply(m.seqid, count)
          busy = true
          s.write(r.head)
          writeUnits(s, r.unit, count, () => {
            s.write(r.tail)
            busy = false
            serve()
          })
        } else s.write(emptyReply(m.name, m.seqid))
      }
    }
    s.on('data', (d) => {
      pending = pending.length === 0 ? d : Buffer.concat([pending, d])
      try {
        serve()
      } catch (e) {
        process.stderr.write(`hms backend: ${e.message}\n`)
        s.destroy()
      }
    })
  },
}

/** `count` copies of `unit`, written as reused ~256 KiB buffers of whole units, with backpressure. */
function writeUnits(s, unit, count, done) {
  const per = Math.max(1, Math.floor(CHUNK / unit.length))
  const block = Buffer.concat(Array.from({ length: per }, () => unit))
  let left = count
  const pump = () => {
    while (left > 0) {
      const k = Math.min(per, left)
      left -= k
      if (!s.write(k === per ? block : block.subarray(0, k * unit.length)))
        return void s.once('drain', pump)
    }
    done()
  }
  pump()
}

function emptyReply(name, seqid) {
  const n = Buffer.byteLength(name)
  const b = Buffer.alloc(13 + n)
  b.writeInt32BE(0x80010002 | 0, 0)
  b.writeInt32BE(n, 4)
  b.write(name, 8)
  b.writeInt32BE(seqid, 8 + n)
  b[12 + n] = 0
  return b
}

const servers = []
const ports = await Promise.all(
  cfg.listeners.map(
    (l) =>
      new Promise((resolve, reject) => {
        const handle = handlers[l.kind](l)
        const onConn = (s) => {
          s.on('error', () => {})
          handle(s)
        }
        const srv = l.tls
          ? tls.createServer(
              { cert: readFileSync(l.tls.cert), key: readFileSync(l.tls.key), noDelay: true },
              onConn,
            )
          : net.createServer({ noDelay: true }, onConn)
        srv.on('tlsClientError', () => {})
        srv.on('error', reject)
        srv.listen({ port: l.port ?? 0, host: '127.0.0.1', backlog: 4096 }, () =>
          resolve(srv.address().port),
        )
        servers.push(srv)
      }),
  ),
)
process.stdout.write(`${JSON.stringify({ ports })}\n`)
process.stdin.on('data', () => {})
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
