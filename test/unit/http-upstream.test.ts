import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { Client, type Dispatcher } from 'undici'
import { Upstream, type UpstreamSink } from '../../src/http/upstream.js'

/** A loopback HTTP server answering with `handler`; closed with the test. */
async function server(
  t: Test,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ client: Client; requests: () => number }> {
  let requests = 0
  const srv = http.createServer((req, res) => {
    requests++
    req.resume()
    handler(req, res)
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const client = new Client(`http://127.0.0.1:${(srv.address() as AddressInfo).port}`)
  t.teardown(async () => {
    await client.destroy()
    srv.closeAllConnections()
    await new Promise<void>((r) => srv.close(() => r()))
  })
  return { client, requests: () => requests }
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

const POST: Dispatcher.DispatchOptions = { path: '/x', method: 'POST', body: Buffer.from('call') }
const noStall = (): Error => new Error('no stall expected')

t.test(
  'resolves at the headers; body chunks that came before pipe() are handed over in order',
  async (t) => {
    const { client } = await server(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-thrift', 'x-echo': 'yes' })
      res.write('first ')
      setTimeout(() => res.end('last'), 20)
    })
    const up = await new Upstream().start(client, POST, 0, noStall)
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

t.test('an answer that ended before pipe() is handed over whole, then end', async (t) => {
  const { client } = await server(t, (_req, res) => res.end('whole'))
  const up = await new Upstream().start(client, POST, 0, noStall)
  await new Promise((r) => setTimeout(r, 20))
  const { got, sink } = collector()
  up.pipe(sink)
  t.equal(Buffer.concat(got.chunks).toString(), 'whole')
  t.ok(got.ended)
})

t.test('a sink that asks for a pause gets the rest after resume()', async (t) => {
  const big = Buffer.alloc(1 << 20, 7)
  const { client } = await server(t, (_req, res) => res.end(big))
  const up = await new Upstream().start(client, POST, 0, noStall)
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
    new Upstream().start(client, POST, 50, () => {
      stalls++
      return stall
    }),
    stall,
  )
  t.equal(stalls, 1)
  t.ok(Date.now() - started >= 45, 'not before the stall time')
})

t.test('headers in time: the stall timer never fires', async (t) => {
  const { client } = await server(t, (_req, res) => res.end('ok'))
  const up = await new Upstream().start(client, POST, 50, noStall)
  up.pipe(collector().sink)
  await new Promise((r) => setTimeout(r, 100))
  t.equal(up.statusCode, 200)
})

t.test('a connect error rejects with undici error', async (t) => {
  // a port nothing listens on: the server is closed before the call
  const srv = http.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as AddressInfo).port
  await new Promise<void>((r) => srv.close(() => r()))
  const client = new Client(`http://127.0.0.1:${port}`)
  t.teardown(() => client.destroy())
  const err = await new Upstream().start(client, POST, 0, noStall).catch((e: unknown) => e)
  t.equal((err as { code?: string }).code, 'ECONNREFUSED')
})

t.test(
  'stalled before undici put it on a socket: rejects at once, aborted before any byte is written',
  async (t) => {
    // a dispatcher that holds the request, as a pool does while it connects
    let handler: Dispatcher.DispatchHandler | undefined
    const holding = {
      dispatch: (_o: Dispatcher.DispatchOptions, h: Dispatcher.DispatchHandler) => {
        handler = h
        return true
      },
    } as unknown as Dispatcher
    const stall = new Error('stalled')
    await t.rejects(
      new Upstream().start(holding, POST, 20, () => stall),
      stall,
    )
    let abortedWith: Error | undefined
    const controller = {
      aborted: false,
      paused: false,
      reason: null,
      abort: (e: Error) => {
        abortedWith = e
      },
      pause: () => {},
      resume: () => {},
    }
    handler?.onRequestStart?.(controller, {})
    t.equal(abortedWith, stall, 'aborted as soon as it reached a socket')
  },
)

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
    const up = await new Upstream().start(client, POST, 0, noStall)
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
