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
//   hs2-http    HiveServer2 over HTTP: per port one keep-alive connection (undici Client) that
//               keeps the cookies it is given, OpenSession, then ExecuteStatement and FetchResults
//               alternating (each one timed call), interleaved like rtt; CloseSession at the end
//                                                     {paths: [{us, count, ms, connects}]}
//   hs2-http-sessions  `n` OpenSession calls over `concurrency` keep-alive connections, never
//               closed (sessions the middle process tracks), or with `close` all closed at the
//               end (a warm-up)                                               {opened, errors, ms}
// bulk and conn take "tls": {"ca": file, "servername": name}: the connection is TLS, checked
// against that CA (a full handshake each time: no session is resumed).
// Times in `calls` are wall-clock ms (performance.timeOrigin + performance.now()), comparable
// across processes on this machine.
import { readFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import { Client, Pool } from 'undici'
import {
  closeSessionCall,
  decode,
  executeStatementCall,
  fetchResultsCall,
  handleOf,
  openSessionCall,
} from './lib/hs2-msg.mjs'
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

const HS2_HEADERS = {
  'content-type': 'application/x-thrift',
  accept: 'application/x-thrift',
  'user-agent': 'Java/HiveJDBC bench',
  // what the JDBC driver sends with authentication NONE, and always
  authorization: `Basic ${Buffer.from('bench:bench').toString('base64')}`,
  'x-xsrf-header': 'true',
}

/**
 * One TCLIService call over HTTP on `d` (an undici Client or Pool): resolves the decoded reply,
 * rejects on anything but a 200 with the call's own REPLY whose status is SUCCESS. `cookies`
 * (name -> value) is sent and updated from Set-Cookie, as the JDBC driver's cookie store does.
 */
async function hs2Call(d, path, body, cookies) {
  const headers = { ...HS2_HEADERS }
  if (cookies && cookies.size > 0)
    headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  const r = await d.request({ method: 'POST', path, headers, body })
  const buf = Buffer.from(await r.body.arrayBuffer())
  if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}: ${buf.toString('utf8', 0, 200)}`)
  const set = r.headers['set-cookie']
  if (cookies && set !== undefined)
    for (const c of Array.isArray(set) ? set : [set]) {
      const kv = c.split(';', 1)[0]
      const eq = kv.indexOf('=')
      if (eq > 0) cookies.set(kv.slice(0, eq).trim(), kv.slice(eq + 1).trim())
    }
  const m = decode(buf)
  const st = m.body[0]?.[1]
  if (m.type !== 2 || st?.[1] !== 0)
    throw new Error(`${m.name} failed: ${st?.[5]?.toString() ?? `message type ${m.type}`}`)
  return m
}

/** A session on one path, driven by Pinger-like run(n, lat, off) calls (see interleaved()). */
class Hs2Session {
  constructor(port, path) {
    this.path = `/${path}`
    this.connects = 0
    this.client = new Client(`http://${HOST}:${port}`, {
      pipelining: 1,
      keepAliveTimeout: 3_600_000,
      keepAliveMaxTimeout: 3_600_000,
    })
    this.client.on('connect', () => this.connects++)
    this.cookies = new Map()
    this.seq = 0
    this.i = 0
    this.session = undefined
    this.op = undefined
  }

  call(body) {
    return hs2Call(this.client, this.path, body, this.cookies)
  }

  async open() {
    const r = await this.call(openSessionCall(this.seq++))
    this.session = handleOf(r.body[0][3])
    if (!this.session) throw new Error('OpenSession answer without a session handle')
  }

  /** n calls, ExecuteStatement and FetchResults of its operation in turn; times (ms) to lat[off...] */
  async run(n, lat, off = 0) {
    for (let k = 0; k < n; k++) {
      const t = now()
      if ((this.i & 1) === 0) {
        const r = await this.call(executeStatementCall(this.seq++, this.session))
        this.op = handleOf(r.body[0][2])
        if (!this.op) throw new Error('ExecuteStatement answer without an operation handle')
      } else {
        const r = await this.call(fetchResultsCall(this.seq++, this.op))
        if (!r.body[0][3]) throw new Error('FetchResults answer without rows')
      }
      if (lat) lat[off + k] = now() - t
      this.i++
    }
    return lat
  }

  async close() {
    await this.call(closeSessionCall(this.seq++, this.session))
    await this.client.close()
  }
}

async function hs2Http({ ports, path, warmup, count, block = 250 }) {
  const sessions = ports.map((port) => new Hs2Session(port, path))
  for (const s of sessions) await s.open()
  const paths = await interleaved(sessions, { warmup, count, block })
  for (const s of sessions) await s.close()
  return { paths: paths.map((p, i) => ({ ...p, connects: sessions[i].connects })) }
}

async function hs2HttpSessions({ port, path, n, concurrency = 50, close = false }) {
  const pool = new Pool(`http://${HOST}:${port}`, {
    connections: concurrency,
    pipelining: 1,
    keepAliveTimeout: 3_600_000,
  })
  let started = 0
  let opened = 0
  let errors = 0
  let firstError
  const handles = []
  const t0 = now()
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (started < n) {
        started++
        try {
          const r = await hs2Call(pool, `/${path}`, openSessionCall(started))
          const h = handleOf(r.body[0][3])
          if (h) {
            opened++
            if (close) handles.push(h)
          } else errors++
        } catch (e) {
          errors++
          firstError ??= e.message
        }
      }
    }),
  )
  const ms = now() - t0
  // close: a warm-up that leaves no session behind (the middle process's heap has grown to its
  // working size, its table is back where it was)
  await Promise.all(
    Array.from({ length: Math.min(concurrency, handles.length) }, async () => {
      for (let h = handles.pop(); h !== undefined; h = handles.pop()) {
        try {
          await hs2Call(pool, `/${path}`, closeSessionCall(0, h))
        } catch (e) {
          errors++
          firstError ??= e.message
        }
      }
    }),
  )
  await pool.close()
  return { opened, errors, firstError, ms }
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
  'hs2-http': hs2Http,
  'hs2-http-sessions': hs2HttpSessions,
}
try {
  const r = await modes[job.mode](job)
  process.stdout.write(`${JSON.stringify(r)}\n`)
} catch (e) {
  process.stdout.write(`${JSON.stringify({ error: e.message })}\n`)
  process.exitCode = 1
}
