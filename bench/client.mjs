// One benchmark measurement per process (a fresh process each time, as in perf-baseline.md):
//   node bench/client.mjs '{"mode":"bulk","port":1234,...}'
// Prints one JSON line with the result. Modes:
//   bulk        read one connection to EOF                          {bytes, ms}
//   rtt         1 KiB ping-pong, one connection per port (noDelay), the ports interleaved in
//               blocks (see interleaved())                            {paths: [{us: {p50,p90,p99,mean}, count, ms}]}
//   conn        connect, first byte, close; n times, `concurrency` in flight   {n, ms, errors}
//   idle        hold n connections, each pinged once; prints {"ready":...}, then waits for a line on
//               stdin, closes them all and prints {"closed":true}
//   hms-calls   get_table_req calls one after another, one connection per port, interleaved like
//               rtt                                                    {paths: [{us, count, ms}]}
//   hms-stream  one get_partitions call with a large answer                    {bytes, ms}
//   probe       failover: a short call (connect, 16 bytes echoed, close) every `everyMs`, each with a
//               timeout, until `durationMs`                                   {calls:[[start,end,ok]]}
//   hms-loop    failover: set_ugi, then get_table_req calls back to back on ONE connection until
//               `durationMs` or the first error                                {calls:[[start,end,ok]]}
// bulk and conn take "tls": {"ca": file, "servername": name}: the connection is TLS, checked
// against that CA (a full handshake each time: no session is resumed).
// Times in `calls` are wall-clock ms (performance.timeOrigin + performance.now()), comparable
// across processes on this machine.
import { readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import {
  getPartitionsCall,
  getTableCall,
  getTableReply,
  partitionsReply,
  setUgiCall,
  setUgiReply,
} from './lib/thrift-msg.mjs'

const job = JSON.parse(process.argv[2])
const tlsOpts = job.tls
  ? { ca: readFileSync(job.tls.ca), servername: job.tls.servername, rejectUnauthorized: true }
  : undefined
/** net.connect, or tls.connect when the job says tls (same options; 'data' after the handshake) */
const dial = (opts) => (tlsOpts ? tls.connect({ ...opts, ...tlsOpts }) : net.connect(opts))
const HOST = '127.0.0.1'
const now = () => performance.now()
const wall = () => performance.timeOrigin + performance.now()

function summary(lat) {
  const a = Float64Array.from(lat).sort()
  const q = (p) => a[Math.min(a.length - 1, Math.floor(p * a.length))] * 1000
  let sum = 0
  for (const x of a) sum += x
  return {
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    max: a[a.length - 1] * 1000,
    mean: (sum / a.length) * 1000,
  }
}

function connect(port, opts = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: HOST, noDelay: true, ...opts })
    s.once('connect', () => {
      s.off('error', reject)
      resolve(s)
    })
    s.once('error', reject)
  })
}

function bulk({ port }) {
  return new Promise((resolve, reject) => {
    let bytes = 0
    const t0 = now()
    const s = dial({
      port,
      host: HOST,
      onread: {
        buffer: Buffer.allocUnsafe(256 * 1024),
        callback: (n) => {
          bytes += n
        },
      },
    })
    s.on('error', reject)
    s.on('close', () => resolve({ bytes, ms: now() - t0 }))
  })
}

/**
 * Sequential request/response on one connection: `request` (a Buffer, or a function of the call's
 * index on this connection) out, `replyBytes` back. `run(n, lat, off)` does n round trips and
 * records their times (ms) at lat[off...]; it may be called again once it has resolved.
 */
class Pinger {
  constructor(s, request, replyBytes, onReply) {
    this.s = s
    this.request = request
    this.replyBytes = replyBytes
    this.i = 0
    this.got = 0
    this.t = 0
    this.left = 0
    this.lat = undefined
    this.off = 0
    this.settle = undefined
    this.dead = undefined // an error between runs fails the next one
    const fail = (err) => {
      this.dead ??= err
      this.settle?.(err)
    }
    s.on('data', (d) => {
      if (this.settle === undefined)
        return fail(new Error(`${d.length} bytes while no call was out`))
      if (this.got === 0 && onReply) onReply(d, this.i)
      this.got += d.length
      if (this.got < replyBytes) return
      if (this.got > replyBytes)
        return fail(new Error(`reply of ${this.got} bytes, expected ${replyBytes}`))
      this.got = 0
      if (this.lat) this.lat[this.off++] = now() - this.t
      this.i++
      if (--this.left === 0) this.settle?.()
      else this.send()
    })
    s.on('error', fail)
    s.on('close', () => fail(new Error(`connection closed after ${this.i} round trips`)))
  }

  send() {
    this.t = now()
    this.s.write(typeof this.request === 'function' ? this.request(this.i) : this.request)
  }

  run(n, lat, off = 0) {
    return new Promise((resolve, reject) => {
      if (this.dead) return reject(this.dead)
      if (n === 0) return resolve(lat)
      this.left = n
      this.lat = lat
      this.off = off
      this.settle = (err) => {
        this.settle = undefined
        if (err) reject(err)
        else resolve(lat)
      }
      this.send()
    })
  }
}

/** One connection, `total` round trips; resolves their times (ms). */
function pingPong(s, request, replyBytes, total, onReply) {
  return new Pinger(s, request, replyBytes, onReply).run(total, new Float64Array(total))
}

/**
 * Several paths measured in this one process, interleaved, so that a slow spell of the machine
 * (on this VM p50s move by tens of µs from one process to the next) falls on all of them alike:
 * after `warmup` round trips on each connection, blocks of `block` round trips go to each in
 * turn, the order rotating by one every block, until each has `count`. Per path:
 * {count, ms (sum of its round trips), us}.
 */
async function interleaved(pingers, { warmup, count, block }) {
  for (const p of pingers) await p.run(warmup)
  const lats = pingers.map(() => new Float64Array(count))
  const k = pingers.length
  for (let off = 0, b = 0; off < count; off += block, b++) {
    const n = Math.min(block, count - off)
    for (let j = 0; j < k; j++) await pingers[(j + b) % k].run(n, lats[(j + b) % k], off)
  }
  return lats.map((lat) => {
    let ms = 0
    for (const x of lat) ms += x
    return { count, ms, us: summary(lat) }
  })
}

async function rtt({ ports, size, warmup, count, block = 250 }) {
  const socks = []
  for (const port of ports) socks.push(await connect(port))
  const req = Buffer.alloc(size, 0x61)
  const paths = await interleaved(
    socks.map((s) => new Pinger(s, req, size)),
    { warmup, count, block },
  )
  for (const s of socks) s.destroy()
  return { paths }
}

async function conn({ ports, n, concurrency }) {
  let started = 0
  let errors = 0
  const one = (port) =>
    new Promise((resolve) => {
      const s = dial({ port, host: HOST })
      s.once('data', () => {
        s.destroy()
        resolve()
      })
      s.once('error', () => {
        errors++
        s.destroy()
        resolve()
      })
      s.once('close', () => resolve())
    })
  const t0 = now()
  const worker = async () => {
    while (started < n) {
      const i = started++
      await one(ports[i % ports.length])
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
  return { n, ms: now() - t0, errors }
}

async function idle({ port, n, concurrency = 100 }) {
  const socks = []
  let opened = 0
  let errors = 0
  const one = () =>
    new Promise((resolve) => {
      const s = net.connect({ port, host: HOST })
      const fail = () => {
        errors++
        s.destroy()
        resolve()
      }
      s.once('error', fail)
      s.once('connect', () => s.write('x'))
      s.once('data', () => {
        s.off('error', fail)
        s.on('error', () => {})
        socks.push(s)
        resolve()
      })
    })
  const t0 = now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (opened < n) {
        opened++
        await one()
      }
    }),
  )
  process.stdout.write(
    `${JSON.stringify({ ready: true, held: socks.length, errors, ms: now() - t0 })}\n`,
  )
  await new Promise((resolve) => process.stdin.once('data', resolve))
  for (const s of socks) s.destroy()
  process.stdin.pause()
  return { closed: true }
}

async function hmsCalls({ ports, warmup, count, block = 250 }) {
  const calls = []
  for (let i = 0; i < 64; i++) calls.push(getTableCall(i))
  const replySize = getTableReply(0).length
  const seqOff = 8 + Buffer.byteLength('get_table_req')
  let bad = 0
  const socks = []
  for (const port of ports) socks.push(await connect(port))
  const pingers = socks.map(
    (s) =>
      new Pinger(
        s,
        (i) => calls[i & 63],
        replySize,
        (d, i) => {
          if (d.length >= seqOff + 4 && d.readInt32BE(seqOff) !== (i & 63)) bad++
        },
      ),
  )
  const paths = await interleaved(pingers, { warmup, count, block })
  for (const s of socks) s.destroy()
  if (bad > 0) throw new Error(`${bad} replies with a wrong seqid`)
  return { paths }
}

async function hmsStream({ port, count }) {
  const s = await connect(port)
  const expect = partitionsReply(1, count).size
  return new Promise((resolve, reject) => {
    let bytes = 0
    const t0 = now()
    s.on('data', (d) => {
      bytes += d.length
      if (bytes >= expect) {
        const ms = now() - t0
        s.destroy()
        if (bytes !== expect) reject(new Error(`answer of ${bytes} bytes, expected ${expect}`))
        else resolve({ bytes, ms })
      }
    })
    s.on('error', reject)
    s.on('close', () => reject(new Error(`closed after ${bytes} of ${expect} bytes`)))
    s.write(getPartitionsCall(1, count))
  })
}

async function probe({ port, everyMs, durationMs, timeoutMs }) {
  const calls = []
  const msg = Buffer.alloc(16, 0x62)
  const one = () =>
    new Promise((resolve) => {
      const start = wall()
      let got = 0
      let done = false
      const s = net.connect({ port, host: HOST, noDelay: true })
      const finish = (ok) => {
        if (done) return
        done = true
        clearTimeout(timer)
        s.destroy()
        calls.push([start, wall(), ok ? 1 : 0])
        resolve()
      }
      const timer = setTimeout(() => finish(false), timeoutMs)
      s.on('connect', () => s.write(msg))
      s.on('data', (d) => {
        got += d.length
        if (got >= msg.length) finish(true)
      })
      s.on('error', () => finish(false))
      s.on('close', () => finish(false))
    })
  const pending = []
  const end = now() + durationMs
  process.stdout.write(`${JSON.stringify({ started: wall() })}\n`)
  while (now() < end) {
    pending.push(one())
    await new Promise((r) => setTimeout(r, everyMs))
  }
  await Promise.all(pending)
  return { calls }
}

async function hmsLoop({ port, durationMs }) {
  const s = await connect(port)
  const calls = []
  const ugi = setUgiReply(0).length
  const reply = getTableReply(0).length
  await pingPong(s, setUgiCall(0), ugi, 1)
  s.removeAllListeners('data')
  s.removeAllListeners('close')
  s.removeAllListeners('error')
  process.stdout.write(`${JSON.stringify({ started: wall() })}\n`)
  const end = now() + durationMs
  let seq = 1
  await new Promise((resolve) => {
    let got = 0
    let start = 0
    let done = false
    const send = () => {
      if (now() >= end) return finish()
      start = wall()
      s.write(getTableCall(seq++))
    }
    const finish = () => {
      if (done) return
      done = true
      s.destroy()
      resolve()
    }
    s.on('data', (d) => {
      got += d.length
      if (got < reply) return
      got -= reply
      calls.push([start, wall(), 1])
      send()
    })
    const fail = () => {
      if (done) return
      calls.push([start, wall(), 0])
      finish()
    }
    s.on('error', fail)
    s.on('close', fail)
    send()
  })
  return { calls }
}

const modes = {
  bulk,
  rtt,
  conn,
  idle,
  'hms-calls': hmsCalls,
  'hms-stream': hmsStream,
  probe,
  'hms-loop': hmsLoop,
}
try {
  const r = await modes[job.mode](job)
  process.stdout.write(`${JSON.stringify(r)}\n`)
} catch (e) {
  process.stdout.write(`${JSON.stringify({ error: e.message })}\n`)
  process.exitCode = 1
}
