import t from 'tap'
import { backendRequestLines, clientResponseLines } from '../../src/http/headers.js'
import { framedByLength, headerValue, writeHead } from '../../src/http/wire/message.js'

t.test('end-to-end request headers pass; hop-by-hop and framing ones do not', async (t) => {
  const out = backendRequestLines(
    [
      'Authorization',
      'Negotiate abc',
      'x-hive-delegation-token',
      'tok',
      'Cookie',
      'hive.server2.auth=x',
      'X-Custom',
      '1',
      'Connection',
      'keep-alive',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'Host',
      'proxy:10001',
      'Expect',
      '100-continue',
      'Content-Length',
      '999',
    ],
    '127.0.0.9',
    42,
  )
  t.equal(
    out,
    'authorization: Negotiate abc\r\n' +
      'x-hive-delegation-token: tok\r\n' +
      'cookie: hive.server2.auth=x\r\n' +
      'x-custom: 1\r\n' +
      'x-forwarded-for: 127.0.0.9\r\n' +
      'content-length: 42\r\n',
  )
})

t.test('headers named in Connection are hop-by-hop too', async (t) => {
  const out = backendRequestLines(
    ['Connection', 'Keep-Alive, X-Hop ,x-other', 'x-hop', 'a', 'X-Other', 'b', 'x-kept', 'c'],
    undefined,
    0,
  )
  t.equal(out, 'x-kept: c\r\ncontent-length: 0\r\n')
})

t.test('X-Forwarded-For: the client address is appended to a list it sent', async (t) => {
  const xff = (raw: string[]): string | undefined =>
    /x-forwarded-for: ([^\r]*)\r\n/.exec(backendRequestLines(raw, '127.0.0.2', 1))?.[1]
  t.equal(xff(['X-Forwarded-For', '10.0.0.1']), '10.0.0.1, 127.0.0.2')
  t.equal(
    xff(['x-forwarded-for', '10.0.0.1', 'x-forwarded-for', '10.0.0.3']),
    '10.0.0.1, 10.0.0.3, 127.0.0.2',
  )
  t.equal(xff(['x-forwarded-for', '']), '127.0.0.2')
  t.equal(xff([]), '127.0.0.2')
  t.equal(
    backendRequestLines(['x-forwarded-for', '10.0.0.1'], undefined, 1),
    'x-forwarded-for: 10.0.0.1\r\ncontent-length: 1\r\n',
    'without a client address the list passes as it came',
  )
})

t.test('response headers: end-to-end ones and Content-Length pass', async (t) => {
  const lines = clientResponseLines([
    'Content-Type',
    'application/x-thrift',
    'Content-Length',
    '10',
    'Set-Cookie',
    'a=1',
    'set-cookie',
    'b=2',
    'Connection',
    'keep-alive',
    'Keep-Alive',
    'timeout=4',
    'Transfer-Encoding',
    'chunked',
  ])
  t.equal(
    lines,
    'content-type: application/x-thrift\r\ncontent-length: 10\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n',
  )
  t.ok(framedByLength(lines), 'framed by its Content-Length')
  t.notOk(framedByLength('content-type: x\r\nx-content-length: 1\r\n'), 'a longer name is not it')
  t.equal(
    writeHead('HTTP/1.1 200 OK', lines, 'connection: close\r\n'),
    `HTTP/1.1 200 OK\r\nconnection: close\r\n${lines}\r\n`,
  )
})

t.test('headerValue reads one header of a flat list, repeats joined', async (t) => {
  const raw = ['Cookie', 'a=1', 'X-A', '1', 'cookie', 'b=2', 'x-a', '2']
  t.equal(headerValue(raw, 'cookie'), 'a=1; b=2')
  t.equal(headerValue(raw, 'x-a'), '1, 2')
  t.equal(headerValue(raw, 'x-b'), undefined)
})
