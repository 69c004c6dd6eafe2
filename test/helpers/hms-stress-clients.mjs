// Child process of test/integration/metastore-stress.test.ts (its own process, so that the clients
// read concurrently with the proxy under test): CLIENTS connections to the metastore route at
// argv[2], each making 3 calls (get_partitions of 500-20,500 partitions, or get_table_req), 24 of
// them reading slowly with pauses. Every answer's SHA-256 is compared with the bytes the bench's
// metastore stub sends for that call. Prints one JSON line {"ok":N,"bad":N,"bytes":N,"errors":[...]}.
import net from 'node:net'
import { createHash } from 'node:crypto'
import {
  getPartitionsCall,
  getTableCall,
  getTableReply,
  partitionsReply,
} from '../../bench/lib/thrift-msg.mjs'

const port = Number(process.argv[2])
const CLIENTS = 40
let seed = 12345
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed / 0x7fffffff
}
let ok = 0
let bad = 0
let bytes = 0
const errors = []

/** the expected answer's digest and length; writes the call */
function send(s, seqid) {
  if (rand() < 0.3) {
    const r = getTableReply(seqid)
    s.write(getTableCall(seqid))
    return { want: createHash('sha256').update(r).digest('hex'), size: r.length }
  }
  const count = 500 + Math.floor(rand() * 20000)
  const { head, unit, tail } = partitionsReply(seqid, count)
  const h = createHash('sha256').update(head)
  for (let i = 0; i < count; i++) h.update(unit)
  s.write(getPartitionsCall(seqid, count))
  return {
    want: h.update(tail).digest('hex'),
    size: head.length + count * unit.length + tail.length,
  }
}

async function client(id) {
  const s = net.connect(port, '127.0.0.1')
  await new Promise((resolve, reject) => s.once('connect', resolve).once('error', reject))
  for (let k = 0; k < 3; k++) {
    const { want, size } = send(s, id * 10 + k)
    const got = createHash('sha256')
    // 24 of the 40 clients read slowly: they stop for 200 ms after the first bytes of every answer
    // (all at about the same time, so their forwarders hold more read buffers than there are wasm
    // ones), then now and then for 20-220 ms
    const slow = id % 5 < 3
    let n = 0
    await new Promise((resolve, reject) => {
      const onData = (d) => {
        if (n + d.length > size)
          return reject(new Error(`client ${id}: bytes past the end of the answer`))
        got.update(d)
        n += d.length
        if (n === size) {
          s.off('data', onData)
          resolve()
        } else if (slow && (n === d.length || rand() < 0.05)) {
          s.pause()
          setTimeout(() => s.resume(), n === d.length ? 200 : 20 + rand() * 200)
        }
      }
      s.on('data', onData)
      s.once('error', reject)
      s.once('close', () => reject(new Error(`client ${id}: closed after ${n} of ${size} bytes`)))
    })
    bytes += size
    if (got.digest('hex') === want) ok++
    else {
      bad++
      errors.push(`client ${id} call ${k}: answer differs`)
    }
  }
  s.end()
}

await Promise.all(
  Array.from({ length: CLIENTS }, (_, i) =>
    client(i).catch((e) => {
      bad++
      errors.push(e.message)
    }),
  ),
)
process.stdout.write(`${JSON.stringify({ ok, bad, bytes, errors })}\n`)
