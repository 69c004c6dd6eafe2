import t, { type Test } from 'tap'
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { Listener } from '../../src/net/listener.js'
import { dialTcp } from '../../src/net/dial.js'
import { Pipe, type PipeResult } from '../../src/net/pipe.js'
import { startBlackhole } from '../helpers/blackhole.js'

/** A backend on port 0; `handler` gets each accepted socket. */
async function backend(t: Test, handler: (s: net.Socket) => void): Promise<number> {
  const live = new Set<net.Socket>()
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    live.add(s)
    s.on('close', () => live.delete(s))
    s.on('error', () => {})
    handler(s)
  })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  t.teardown(() => {
    for (const s of live) s.destroy()
    return new Promise<void>((r) => srv.close(() => r()))
  })
  return (srv.address() as net.AddressInfo).port
}

/** A front that pipes every client to `port`; resolves each pipe's result through `results`. */
async function front(t: Test, port: number, idleTimeoutMs = 0): Promise<{ port: number; results: PipeResult[]; done: Promise<PipeResult> }> {
  const results: PipeResult[] = []
  let resolveDone!: (r: PipeResult) => void
  const done = new Promise<PipeResult>((r) => (resolveDone = r))
  const l = new Listener({ host: '127.0.0.1', port: 0 }, (client) => {
    client.on('error', () => {})
    const pipe = new Pipe(client, {
      idleTimeoutMs,
      onDone: (r) => {
        results.push(r)
        resolveDone(r)
      },
    })
    dialTcp({ host: '127.0.0.1', port, timeoutMs: 2000, key: `127.0.0.1:${port}`, onread: pipe.onread }).then(
      (s) => pipe.attach(s),
      () => pipe.destroy('no-backend'),
    )
  })
  const addr = await l.listen()
  t.teardown(() => l.stopAccepting())
  return { port: addr.port, results, done }
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

function collect(s: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = []
  s.on('data', (d: Buffer) => parts.push(d))
  return new Promise((resolve, reject) => {
    s.on('end', () => resolve(Buffer.concat(parts)))
    s.on('error', reject)
  })
}

t.test('bytes pass both ways unchanged, with half-close and counters', async (t) => {
  // backend: read the whole request, then answer with its hash and a big payload, then end
  const big = randomBytes(8 * 1024 * 1024 + 123)
  const port = await backend(t, (s) => {
    const parts: Buffer[] = []
    s.on('data', (d: Buffer) => parts.push(d))
    s.on('end', () => {
      s.write(sha(Buffer.concat(parts)))
      s.end(big)
    })
  })
  const f = await front(t, port)
  const c = net.connect({ port: f.port, host: '127.0.0.1', allowHalfOpen: true })
  const reply = collect(c)
  const req = randomBytes(3 * 1024 * 1024)
  c.end(req) // half-close: the backend only answers after our EOF
  const got = await reply
  t.equal(got.subarray(0, 64).toString(), sha(req), 'backend got the request intact')
  t.equal(sha(got.subarray(64)), sha(big), 'client got the response intact')
  const r = await f.done
  t.equal(r.reason, 'closed')
  t.equal(r.bytesFromClient, req.length)
  t.equal(r.bytesToClient, big.length + 64)
})

t.test('a slow reader is not overrun (backpressure) and still gets everything', async (t) => {
  const big = randomBytes(4 * 1024 * 1024)
  const port = await backend(t, (s) => s.end(big))
  const f = await front(t, port)
  const c = net.connect({ port: f.port, host: '127.0.0.1' })
  c.pause()
  await new Promise((r) => setTimeout(r, 200))
  const got = collect(c)
  c.resume()
  t.equal(sha(await got), sha(big))
})

t.test('bytes the client sent before the backend connected are not lost', async (t) => {
  const port = await backend(t, (s) => s.pipe(s))
  const f = await front(t, port)
  const c = net.connect({ port: f.port, host: '127.0.0.1', allowHalfOpen: true })
  c.end('early bytes')
  t.equal((await collect(c)).toString(), 'early bytes')
})

t.test('a backend reset closes the client', async (t) => {
  const port = await backend(t, (s) => s.once('data', () => s.resetAndDestroy()))
  const f = await front(t, port)
  const c = net.connect({ port: f.port, host: '127.0.0.1' })
  c.on('error', () => {})
  c.write('x')
  await once(c, 'close')
  const r = await f.done
  t.equal(r.reason, 'backend-error')
})

t.test('idle timeout closes a silent connection', async (t) => {
  const port = await backend(t, () => {})
  const f = await front(t, port, 150)
  const c = net.connect({ port: f.port, host: '127.0.0.1' })
  c.on('error', () => {})
  await once(c, 'close')
  t.equal((await f.done).reason, 'idle-timeout')
})

t.test('dial reports refused and timed-out connects with retriable codes', async (t) => {
  const probe = net.createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const closedPort = (probe.address() as net.AddressInfo).port
  await new Promise<void>((r) => probe.close(() => r()))
  await t.rejects(dialTcp({ host: '127.0.0.1', port: closedPort, timeoutMs: 1000, key: 'k' }), { code: 'HHP_ERR_CONNECT', retriable: true, backend: 'k' })
  const hole = await startBlackhole()
  t.teardown(() => hole.close())
  const started = Date.now()
  await t.rejects(dialTcp({ host: '127.0.0.1', port: hole.port, timeoutMs: 200, key: 'k' }), { code: 'HHP_ERR_CONNECT_TIMEOUT', retriable: true })
  t.ok(Date.now() - started >= 190, 'waited for the deadline, not less')
})
