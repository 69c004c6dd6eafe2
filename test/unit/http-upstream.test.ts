import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import t, { type Test } from 'tap'
import { type RelayEnds, Upstream, type UpstreamSink, relay } from '../../src/http/upstream.js'
import { BackendPool, type WireRequest } from '../../src/http/wire/client.js'
import { type HttpExchange, MAX_HEADER_BYTES, WireFront } from '../../src/http/wire/front.js'
import { createLogger } from '../../src/logger.js'
import { dialTcp } from '../../src/net/dial.js'

/** A pool to 127.0.0.1:`port` as the routes make them; destroyed with the test. */
function poolTo(t: Test, port: number, dial?: () => Promise<Socket>): BackendPool {
  const key = `127.0.0.1:${port}`
  const pool = new BackendPool({
    key,
    dial: dial ?? (() => dialTcp({ host: '127.0.0.1', port, key, timeoutMs: 2_000 })),
    keepAliveMs: 4_000,
    maxHeaderBytes: MAX_HEADER_BYTES,
  })
  t.teardown(() => pool.destroy())
  return pool
}

/** A pool whose dial waits until `connect()` is called, as a dial over a slow network does. */
function heldPool(t: Test, port: number): { pool: BackendPool; connect: () => void } {
  let connect = (): void => {}
  const dialled = new Promise<void>((resolve) => {
    connect = resolve
  })
  const pool = poolTo(t, port, async () => {
    await dialled
    return dialTcp({ host: '127.0.0.1', port, key: 'k', timeoutMs: 2_000 })
  })
  return { pool, connect: () => connect() }
}

/** A loopback HTTP server answering with `handler`; closed with the test. */
async function server(
  t: Test,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ client: BackendPool; requests: () => number; port: number }> {
  let requests = 0
  const srv = http.createServer((req, res) => {
    requests++
    req.resume()
    handler(req, res)
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as AddressInfo).port
  const client = poolTo(t, port)
  t.teardown(async () => {
    srv.closeAllConnections()
    await new Promise<void>((r) => srv.close(() => r()))
  })
  return { client, requests: () => requests, port }
}

/** A sink collecting what it is given; `pause` makes data() ask for a pause once. */
function collector(o: { pauseOnce?: boolean } = {}) {
  const got = { chunks: [] as Buffer[], ended: false, error: undefined as Error | undefined }
  let paused = false
  const sink: UpstreamSink = {
    data: (c) => {
      got.chunks.push(c)
      if (o.pauseOnce === true && !paused) {
        paused = true
        return false
      }
      return true
    },
    end: () => {
      got.ended = true
    },
    error: (e) => {
      got.error = e
    },
  }
  return { got, sink }
}

const POST: WireRequest = {
  path: '/x',
  method: 'POST',
  headers: { 'content-length': '4' },
  body: Buffer.from('call'),
  idleMs: 0,
}
const noStall = (): Error => new Error('no stall expected')

t.test(
  'resolves at the headers; body chunks that came before pipe() are handed over in order',
  async (t) => {
    const { client } = await server(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-thrift', 'x-echo': 'yes' })
      res.write('first ')
      setTimeout(() => res.end('last'), 20)
    })
    const up = await new Upstream().start(client, POST)
    t.equal(up.statusCode, 200)
    t.equal(up.headers['x-echo'], 'yes')
    // the first chunk arrives while nobody listens
    await new Promise((r) => setTimeout(r, 10))
    const { got, sink } = collector()
    const ended = new Promise<void>((resolve) => {
      const end = sink.end
      sink.end = () => {
        end()
        resolve()
      }
    })
    up.pipe(sink)
    await t.resolves(ended)
    t.equal(Buffer.concat(got.chunks).toString(), 'first last')
    t.equal(got.error, undefined)
  },
)

t.test(
  'send(): the waiter hears the headers inside the read, and a sink piped there gets the body',
  async (t) => {
    const { client } = await server(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-thrift', 'X-Echo': 'yes' })
      res.end('whole answer')
    })
    const { got, sink } = collector()
    const order: string[] = []
    const done = new Promise<void>((resolve, reject) => {
      sink.end = () => {
        order.push('end')
        resolve()
      }
      const data = sink.data
      sink.data = (c) => {
        order.push('data')
        return data(c)
      }
      new Upstream().send(client, POST, undefined, {
        headers: (up) => {
          order.push('headers')
          t.equal(up.header('x-echo'), 'yes', 'one header read from the raw list')
          t.equal(up.headers['x-echo'], 'yes', 'the object form agrees')
          t.ok(up.rawHeaders.includes('X-Echo'), 'raw names are as sent')
          up.pipe(sink)
        },
        failed: reject,
      })
    })
    await t.resolves(done)
    t.equal(Buffer.concat(got.chunks).toString(), 'whole answer')
    t.same(order.slice(0, 2), ['headers', 'data'], 'no chunk was held back for a later pipe()')
  },
)

t.test('send(): a connect error reaches the waiter as failed, once', async (t) => {
  // a port nothing listens on: the server is closed before the call
  const srv = http.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as AddressInfo).port
  await new Promise<void>((r) => srv.close(() => r()))
  let failed = 0
  let headers = 0
  await new Promise<void>((resolve) => {
    new Upstream().send(poolTo(t, port), POST, undefined, {
      headers: () => headers++,
      failed: () => {
        failed++
        resolve()
      },
    })
  })
  await new Promise((r) => setTimeout(r, 20))
  t.equal(failed, 1)
  t.equal(headers, 0)
})

t.test('an answer that ended before pipe() is handed over whole, then end', async (t) => {
  const { client } = await server(t, (_req, res) => res.end('whole'))
  const up = await new Upstream().start(client, POST)
  await new Promise((r) => setTimeout(r, 20))
  const { got, sink } = collector()
  up.pipe(sink)
  t.equal(Buffer.concat(got.chunks).toString(), 'whole')
  t.ok(got.ended)
})

t.test('a sink that asks for a pause gets the rest after resume()', async (t) => {
  const big = Buffer.alloc(1 << 20, 7)
  const { client } = await server(t, (_req, res) => res.end(big))
  const up = await new Upstream().start(client, POST)
  const { got, sink } = collector({ pauseOnce: true })
  up.pipe(sink)
  await new Promise((r) => setTimeout(r, 50))
  const before = got.chunks.length
  t.notOk(got.ended, 'paused: the answer did not end')
  up.resume()
  for (let i = 0; i < 100 && !got.ended; i++) await new Promise((r) => setTimeout(r, 10))
  t.ok(got.ended)
  t.ok(got.chunks.length > before)
  t.equal(Buffer.concat(got.chunks).length, big.length)
})

t.test('no headers within the stall time: rejects with the error onStall made', async (t) => {
  const held: http.ServerResponse[] = []
  const { client } = await server(t, (_req, res) => held.push(res))
  t.teardown(() => {
    for (const r of held) r.destroy()
  })
  let stalls = 0
  const stall = new Error('stalled')
  const started = Date.now()
  await t.rejects(
    new Upstream().start(client, POST, {
      ms: 50,
      onStall: () => {
        stalls++
        return stall
      },
    }),
    stall,
  )
  t.equal(stalls, 1)
  t.ok(Date.now() - started >= 45, 'not before the stall time')
})

t.test('headers in time: the stall timer never fires', async (t) => {
  const { client } = await server(t, (_req, res) => res.end('ok'))
  const up = await new Upstream().start(client, POST, { ms: 50, onStall: noStall })
  up.pipe(collector().sink)
  await new Promise((r) => setTimeout(r, 100))
  t.equal(up.statusCode, 200)
})

t.test('a connect error rejects with the dial error, retriable', async (t) => {
  // a port nothing listens on: the server is closed before the call
  const srv = http.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as AddressInfo).port
  await new Promise<void>((r) => srv.close(() => r()))
  const err = await new Upstream().start(poolTo(t, port), POST).catch((e: unknown) => e)
  t.match(err, { code: 'HHP_ERR_CONNECT', retriable: true, cause: { code: 'ECONNREFUSED' } })
})

t.test(
  'stalled while its socket was being dialled: rejects at once, and nothing is ever written',
  async (t) => {
    const { requests, port } = await server(t, (_req, res) => res.end('ok'))
    const { pool: slow, connect } = heldPool(t, port)
    const stall = new Error('stalled')
    let heardArg: boolean | undefined
    await t.rejects(
      new Upstream().start(slow, POST, {
        ms: 20,
        onStall: (heard) => {
          heardArg = heard
          return stall
        },
      }),
      stall,
    )
    t.equal(heardArg, false, 'nothing was heard: no socket yet')
    connect()
    await new Promise((r) => setTimeout(r, 100))
    t.equal(requests(), 0, 'the request never reached the server')
    // the socket it got is clean and serves the next request
    const up = await new Upstream().start(slow, POST)
    t.equal(up.statusCode, 200)
    t.equal(requests(), 1)
  },
)

t.test('a stall after part of an answer arrived is told that it heard something', async (t) => {
  const held: Socket[] = []
  const raw = await import('node:net')
  const srv = raw.createServer((s) => {
    held.push(s)
    s.on('data', () => s.write('HTTP/1.1 200 OK\r\nx-partial: '))
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const s of held) s.destroy()
    srv.close()
  })
  const pool = poolTo(t, (srv.address() as AddressInfo).port)
  let heardArg: boolean | undefined
  const stall = new Error('stalled')
  await t.rejects(
    new Upstream().start(pool, POST, {
      ms: 80,
      onStall: (heard) => {
        heardArg = heard
        return stall
      },
    }),
    stall,
  )
  t.equal(heardArg, true)
})

t.test(
  'abort() after the headers: the backend request is dropped, the sink hears nothing',
  async (t) => {
    let closed = false
    const { client } = await server(t, (_req, res) => {
      res.writeHead(200)
      res.write('part')
      res.on('close', () => {
        closed = true
      })
    })
    const up = await new Upstream().start(client, POST)
    const { got, sink } = collector()
    up.abort(new Error('client left'))
    up.pipe(sink)
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 10))
    t.ok(closed, 'the backend connection was closed')
    t.equal(got.chunks.length, 0)
    t.notOk(got.ended)
    t.equal(got.error, undefined)
  },
)

/** A proxy in miniature: a WireFront whose answers come from `client` through relay(). */
async function relayFront(
  t: Test,
  client: BackendPool,
  ends: Partial<RelayEnds> = {},
): Promise<{ port: number; log: string[] }> {
  const log: string[] = []
  const front = new WireFront(
    {
      listen: { host: '127.0.0.1', port: 0 },
      headersTimeoutMs: 5_000,
      keepAliveTimeoutMs: 5_000,
      maxHeaderBytes: MAX_HEADER_BYTES,
      rules: () => ({ path: '', maxBodyBytes: 1024, service: 'test' }),
      logger: createLogger('silent'),
    },
    (ex: HttpExchange) => {
      void new Upstream().start(client, POST).then((up) =>
        relay(
          ex,
          up,
          { 'x-relayed': '1' },
          {
            peek: ends.peek,
            end: (n) => log.push(`end ${n}`),
            broken: (e, n) => log.push(`broken ${n} ${e.name}`),
            gone: (n) => log.push(`gone ${n}`),
          },
        ),
      )
    },
    () => {},
  )
  const { port } = await front.listen()
  t.teardown(async () => {
    front.closeAll()
    await front.stopAccepting()
  })
  return { port, log }
}

t.test('relay: status, given headers and the body pass; end is told the body size', async (t) => {
  const { client } = await server(t, (_req, res) => {
    res.writeHead(201, { 'x-backend': 'b' })
    res.end('abcdef')
  })
  const peeked: number[] = []
  const { port, log } = await relayFront(t, client, { peek: (c) => peeked.push(c.length) })
  const r = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x' })
  t.equal(r.status, 201)
  t.equal(r.headers.get('x-relayed'), '1')
  t.equal(r.headers.get('x-backend'), null, 'only the headers given to relay')
  t.equal(await r.text(), 'abcdef')
  for (let i = 0; i < 50 && log.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
  t.same(log, ['end 6'])
  t.equal(
    peeked.reduce((a, b) => a + b, 0),
    6,
  )
})

t.test(
  'relay: a backend that breaks off mid-answer: the client connection is cut, broken is told',
  async (t) => {
    const { client } = await server(t, (_req, res) => {
      res.writeHead(200, { 'content-length': '100' })
      res.write('part')
      setTimeout(() => res.destroy(), 20)
    })
    const { port, log } = await relayFront(t, client)
    const r = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x' })
    await t.rejects(r.text())
    for (let i = 0; i < 50 && log.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    t.equal(log.length, 1)
    t.match(log[0], /^broken 4 /)
  },
)

t.test(
  'relay: a client that leaves mid-answer: gone is told, the backend request is dropped',
  async (t) => {
    let backendClosed = false
    const { client } = await server(t, (_req, res) => {
      res.writeHead(200)
      res.write('part')
      res.on('close', () => {
        backendClosed = true
      })
    })
    const { port, log } = await relayFront(t, client)
    const ac = new AbortController()
    const r = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      body: 'x',
      signal: ac.signal,
    })
    const reader = r.body?.getReader()
    await reader?.read()
    ac.abort()
    for (let i = 0; i < 100 && (log.length === 0 || !backendClosed); i++)
      await new Promise((r) => setTimeout(r, 10))
    t.equal(log.length, 1)
    t.match(log[0], /^gone /)
    t.ok(backendClosed, 'the backend connection was closed')
  },
)

t.test('relay: a chunked answer from the backend reaches the client whole', async (t) => {
  const { client } = await server(t, (_req, res) => {
    res.writeHead(200)
    res.write('part one, ')
    setTimeout(() => res.end('part two'), 20)
  })
  const { port, log } = await relayFront(t, client)
  const r = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x' })
  t.equal(r.headers.get('transfer-encoding'), 'chunked')
  t.equal(await r.text(), 'part one, part two')
  for (let i = 0; i < 50 && log.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
  t.same(log, ['end 18'])
})

t.test(
  'a call with idleMs leaves no timeout on its socket: the pool keeps it for the next',
  async (t) => {
    let connections = 0
    const srv = http.createServer((req, res) => {
      req.resume()
      res.end('ok')
    })
    srv.on('connection', () => connections++)
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
    t.teardown(async () => {
      srv.closeAllConnections()
      await new Promise<void>((r) => srv.close(() => r()))
    })
    const pool = poolTo(t, (srv.address() as AddressInfo).port)
    const short = { ...POST, idleMs: 50 }
    for (let i = 0; i < 2; i++) {
      const up = await new Upstream().start(pool, short)
      await new Promise<void>((resolve, reject) =>
        up.pipe({ data: () => true, end: resolve, error: reject }),
      )
      // idle longer than the call's idleMs, shorter than the pool's keep-alive
      await new Promise((r) => setTimeout(r, 150))
    }
    t.equal(connections, 1, 'one connection for both calls')
  },
)

t.test('a pool destroyed while it dials sends nothing on the new socket', async (t) => {
  const { requests, port } = await server(t, (_req, res) => res.end('ok'))
  const { pool, connect } = heldPool(t, port)
  const pending = new Upstream().start(pool, POST).catch((e: unknown) => e)
  pool.destroy()
  connect()
  t.match(await pending, { code: 'HHP_ERR_CONNECT', retriable: true })
  await new Promise((r) => setTimeout(r, 50))
  t.equal(requests(), 0, 'the request never reached the server')
})

t.test(
  'a pool closed (not destroyed) while it dials still sends the call, then drops the socket',
  async (t) => {
    let connections = 0
    const srv = http.createServer((req, res) => {
      req.resume()
      res.end('ok')
    })
    srv.on('connection', (s) => {
      connections++
      s.on('close', () => connections--)
    })
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
    t.teardown(async () => {
      srv.closeAllConnections()
      await new Promise<void>((r) => srv.close(() => r()))
    })
    const port = (srv.address() as AddressInfo).port
    const { pool, connect } = heldPool(t, port)
    const pending = new Upstream().start(pool, POST)
    pool.close()
    connect()
    const up = await pending
    t.equal(up.statusCode, 200, 'the call was answered')
    await new Promise<void>((resolve, reject) =>
      up.pipe({ data: () => true, end: resolve, error: reject }),
    )
    for (let i = 0; i < 50 && connections > 0; i++) await new Promise((r) => setTimeout(r, 10))
    t.equal(connections, 0, 'its socket closed after the answer')
  },
)
