import t from 'tap'
import { backendRequestHeaders, clientResponseHeaders } from '../../src/http/headers.js'

t.test('end-to-end request headers pass; hop-by-hop and framing ones do not', async (t) => {
  const out = backendRequestHeaders(
    {
      authorization: 'Negotiate abc',
      'x-hive-delegation-token': 'tok',
      cookie: 'hive.server2.auth=x',
      'x-custom': '1',
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      host: 'proxy:10001',
      expect: '100-continue',
      'content-length': '999',
    },
    '127.0.0.9',
    42,
  )
  t.same(out, {
    authorization: 'Negotiate abc',
    'x-hive-delegation-token': 'tok',
    cookie: 'hive.server2.auth=x',
    'x-custom': '1',
    'x-forwarded-for': '127.0.0.9',
    'content-length': '42',
  })
})

t.test('headers named in Connection are hop-by-hop too', async (t) => {
  const out = backendRequestHeaders(
    { connection: 'Keep-Alive, X-Hop ,x-other', 'x-hop': 'a', 'x-other': 'b', 'x-kept': 'c' },
    undefined,
    0,
  )
  t.same(out, { 'x-kept': 'c', 'content-length': '0' })
})

t.test('X-Forwarded-For: the client address is appended to a list it sent', async (t) => {
  t.equal(
    backendRequestHeaders({ 'x-forwarded-for': '10.0.0.1' }, '127.0.0.2', 1)['x-forwarded-for'],
    '10.0.0.1, 127.0.0.2',
  )
  t.equal(
    backendRequestHeaders({ 'x-forwarded-for': '' }, '127.0.0.2', 1)['x-forwarded-for'],
    '127.0.0.2',
  )
})

t.test('response headers: end-to-end ones and Content-Length pass', async (t) => {
  t.same(
    clientResponseHeaders({
      'content-type': 'application/x-thrift',
      'content-length': '10',
      'set-cookie': ['a=1', 'b=2'],
      connection: 'keep-alive',
      'keep-alive': 'timeout=4',
      'transfer-encoding': 'chunked',
      missing: undefined,
    }),
    {
      'content-type': 'application/x-thrift',
      'content-length': '10',
      'set-cookie': ['a=1', 'b=2'],
    },
  )
})
