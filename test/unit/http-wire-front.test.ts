import net from 'node:net'
import t, { type Test } from 'tap'
import { type HttpExchange, MAX_HEADER_BYTES, WireFront } from '../../src/http/wire/front.js'
import { createLogger } from '../../src/logger.js'

/**
 * A WireFront on loopback whose route answers every call with `answer` (default: 200 and the
 * request body echoed, with the method and suffix in headers).
 */
async function front(
  t: Test,
  o: {
    answer?: (ex: HttpExchange) => void
    headersTimeoutMs?: number
    keepAliveTimeoutMs?: number
    maxBodyBytes?: number
  } = {},
): Promise<{ port: number; seen: HttpExchange[] }> {
  const seen: HttpExchange[] = []
  const f = new WireFront(
    {
      listen: { host: '127.0.0.1', port: 0 },
      headersTimeoutMs: o.headersTimeoutMs ?? 5_000,
      keepAliveTimeoutMs: o.keepAliveTimeoutMs ?? 5_000,
      maxHeaderBytes: MAX_HEADER_BYTES,
      rules: () => ({ path: 'cliservice', maxBodyBytes: o.maxBodyBytes ?? 1024, service: 'test' }),
      logger: createLogger('silent'),
    },
    (ex) => {
      seen.push(ex)
      if (o.answer !== undefined) o.answer(ex)
      else ex.respond(200, { 'x-suffix': ex.suffix, 'x-method': ex.method }, ex.body)
    },
    () => {},
  )
  const { port } = await f.listen()
  t.teardown(async () => {
    f.closeAll()
    await f.stopAccepting()
  })
  return { port, seen }
}

/** Write `input` (pieces with pauses between them), read until the server closes or `ms` pass. */
async function exchange(
  port: number,
  input: string[],
  ms = 2_000,
): Promise<{ text: string; closed: boolean }> {
  const s = net.connect(port, '127.0.0.1')
  let text = ''
  s.setEncoding('latin1')
  s.on('data', (d: string) => {
    text += d
  })
  const closed = new Promise<boolean>((resolve) => {
    s.on('close', () => resolve(true))
    s.on('error', () => {})
    setTimeout(() => resolve(false), ms)
  })
  await new Promise((r) => s.once('connect', r))
  for (const piece of input) {
    s.write(piece)
    await new Promise((r) => setTimeout(r, 20))
  }
  const c = await closed
  s.destroy()
  return { text, closed: c }
}

const post = (body: string, extra = '', path = '/cliservice'): string =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`

const statuses = (text: string): string[] =>
  [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1] as string)

t.test('pipelined requests in one write are answered in order, on one connection', async (t) => {
  const { port } = await front(t)
  const { text, closed } = await exchange(
    port,
    [post('first') + post('second', '', '/cliservice/sub?x=1') + post('third')],
    300,
  )
  t.same(statuses(text), ['200', '200', '200'])
  t.ok(
    text.indexOf('first') < text.indexOf('second') &&
      text.indexOf('second') < text.indexOf('third'),
  )
  t.match(text, /x-suffix: \/sub\?x=1\r\n/, 'the sub-path and query string reach the route')
  t.notOk(closed, 'keep-alive: the connection stays open')
})

t.test('a slow answer holds the next pipelined request back until it is written', async (t) => {
  const order: string[] = []
  const { port } = await front(t, {
    answer: (ex) => {
      const b = ex.body.toString()
      order.push(`start ${b}`)
      setTimeout(
        () => {
          order.push(`end ${b}`)
          ex.respond(200, {}, b)
        },
        b === 'slow' ? 100 : 0,
      )
    },
  })
  const { text } = await exchange(port, [post('slow') + post('fast')], 400)
  t.same(order, ['start slow', 'end slow', 'start fast', 'end fast'])
  t.ok(text.indexOf('slow') < text.indexOf('fast'))
})

t.test(
  'Connection: close and HTTP/1.0 close after the answer; HTTP/1.0 keep-alive stays',
  async (t) => {
    const { port } = await front(t)
    const a = await exchange(port, [post('x', 'Connection: close\r\n')])
    t.ok(a.closed, 'Connection: close closes')
    t.match(a.text, /connection: close\r\n/)
    const b = await exchange(port, ['POST /cliservice HTTP/1.0\r\nContent-Length: 1\r\n\r\ny'])
    t.ok(b.closed, 'HTTP/1.0 closes by default')
    t.match(b.text, /^HTTP\/1\.1 200 /)
    const c = await exchange(
      port,
      ['POST /cliservice HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nz'],
      300,
    )
    t.notOk(c.closed, 'HTTP/1.0 with keep-alive stays open')
    t.match(c.text, /connection: keep-alive\r\n/)
  },
)

t.test('a chunked request body arrives whole; a chunked one over the limit gets 413', async (t) => {
  const { port, seen } = await front(t, { maxBodyBytes: 10 })
  const ok = await exchange(
    port,
    [
      'POST /cliservice HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n',
      '2\r\nde\r\n0\r\n\r\n',
    ],
    300,
  )
  t.same(statuses(ok.text), ['200'])
  t.equal(seen[0]?.body.toString(), 'abcde')
  const big = await exchange(port, [
    'POST /cliservice HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n',
    '8\r\n12345678\r\n',
  ])
  t.same(statuses(big.text), ['413'])
  t.ok(big.closed, 'the rest of the body is not read: the connection closes')
  t.equal(seen.length, 1, 'the route never saw it')
})

t.test('an answer without Content-Length is sent chunked', async (t) => {
  const { port } = await front(t, {
    answer: (ex) => {
      ex.writeHead(200, { 'content-type': 'application/x-thrift' })
      ex.write(Buffer.from('hello '))
      ex.write(Buffer.from('world'))
      ex.end()
    },
  })
  const { text } = await exchange(port, [post('x')], 300)
  t.match(text, /transfer-encoding: chunked\r\n/)
  t.match(text, /\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n$/)
})

t.test('framing that cannot be trusted gets 400 and the connection closes', async (t) => {
  const { port, seen } = await front(t)
  for (const [what, head] of [
    ['a Content-Length that is not a number', 'Content-Length: 1x\r\n'],
    ['a Transfer-Encoding other than chunked', 'Transfer-Encoding: gzip\r\n'],
    ['a header value with a bare CR', 'X-Evil: a\rb\r\nContent-Length: 0\r\n'],
  ] as const) {
    const r = await exchange(port, [`POST /cliservice HTTP/1.1\r\n${head}\r\n`])
    t.same(statuses(r.text), ['400'], what)
    t.ok(r.closed, `${what}: closed`)
  }
  t.equal(seen.length, 0)
})

t.test('a keep-alive connection idle past keepAliveTimeoutMs is closed', async (t) => {
  const { port } = await front(t, { keepAliveTimeoutMs: 200, headersTimeoutMs: 5_000 })
  const started = Date.now()
  const r = await exchange(port, [post('x')], 3_000)
  t.same(statuses(r.text), ['200'])
  t.ok(r.closed, 'closed while idle')
  t.ok(Date.now() - started >= 200, 'not before the keep-alive time')
})

t.test('a client that shuts its side abandons the call in flight', async (t) => {
  let closedSeen = false
  const { port, seen } = await front(t, {
    answer: (ex) => ex.onClose(() => (closedSeen = true)),
  })
  const s = net.connect(port, '127.0.0.1')
  s.on('error', () => {})
  await new Promise((r) => s.once('connect', r))
  s.end(post('x'))
  for (let i = 0; i < 100 && !closedSeen; i++) await new Promise((r) => setTimeout(r, 10))
  t.equal(seen.length, 1)
  t.ok(closedSeen, 'the route heard that its exchange is over')
  t.ok(seen[0]?.destroyed, 'nothing more can be written to it')
  s.destroy()
})
