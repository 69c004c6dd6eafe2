import t, { type Test } from 'tap'
import {
  executeRunsAsync,
  hs2ErrorReply,
  readHs2Request,
  readHs2Response,
  responseHasHandle,
} from '../../src/thrift/hs2-handles.js'
import {
  decodeHs2Reply,
  encodeHs2Call,
  encodeHs2Reply,
  okStatus,
  operationHandle,
  sessionHandle,
  T,
} from '../helpers/hs2-wire.js'

const SID = Buffer.from('00112233445566778899aabbccddeeff', 'hex')
const OID = Buffer.from('ffeeddccbbaa99887766554433221100', 'hex')

/** Every prefix shorter than the point where the answer is known gives `more`, never a wrong answer. */
function everyPrefix<R extends { state: string }>(
  t: Test,
  body: Buffer,
  read: (b: Uint8Array) => R,
): R {
  let last: R | undefined
  for (let n = 0; n <= body.length; n++) {
    const r = read(body.subarray(0, n))
    if (r.state === 'done') {
      if (last === undefined) last = r
      else t.same(r, last, `prefix ${n} agrees with the first complete read`)
    } else if (last !== undefined) t.fail(`prefix ${n} is ${r.state} after a complete read`)
    else t.equal(r.state, 'more', `prefix ${n} asks for more`)
  }
  if (last === undefined) throw new Error('never complete')
  return last
}

t.test(
  'requests: the session handle of session calls, the operation handle of operation calls',
  async (t) => {
    const exec = encodeHs2Call(
      'ExecuteStatement',
      new T.TExecuteStatementReq({
        sessionHandle: sessionHandle(SID),
        statement: `SELECT '${'x'.repeat(5000)}'`,
        confOverlay: { a: 'b' },
        runAsync: true,
      }),
      42,
    )
    const r = everyPrefix(t, exec, readHs2Request)
    t.same(r, {
      state: 'done',
      envelope: { method: 'ExecuteStatement', type: 1, seqid: 42 },
      handle: { kind: 'session', guid: SID.toString('hex') },
    })
    const prefixOnly = readHs2Request(exec.subarray(0, 120))
    t.equal(prefixOnly.state, 'done', 'the handle is read from the first bytes of a long statement')

    const fetch = encodeHs2Call(
      'FetchResults',
      new T.TFetchResultsReq({
        operationHandle: operationHandle(OID),
        orientation: 0,
        maxRows: 1000,
      }),
    )
    t.match(everyPrefix(t, fetch, readHs2Request), {
      envelope: { method: 'FetchResults' },
      handle: { kind: 'operation', guid: OID.toString('hex') },
    })
    for (const m of ['CloseSession', 'GetInfo', 'GetTables', 'GetCrossReference']) {
      const req =
        m === 'CloseSession'
          ? new T.TCloseSessionReq({ sessionHandle: sessionHandle(SID) })
          : { sessionHandle: sessionHandle(SID), infoType: 0 }
      t.match(
        readHs2Request(encodeHs2Call(m, req)),
        { handle: { kind: 'session', guid: SID.toString('hex') } },
        m,
      )
    }
    for (const m of [
      'GetOperationStatus',
      'CancelOperation',
      'CloseOperation',
      'GetResultSetMetadata',
    ]) {
      t.match(
        readHs2Request(encodeHs2Call(m, { operationHandle: operationHandle(OID) })),
        { handle: { kind: 'operation', guid: OID.toString('hex') } },
        m,
      )
    }
    const open = encodeHs2Call(
      'OpenSession',
      new T.TOpenSessionReq({ client_protocol: 9, username: 'u', password: 'p' }),
    )
    t.same(readHs2Request(open), {
      state: 'done',
      envelope: { method: 'OpenSession', type: 1, seqid: 1 },
      handle: undefined,
    })
  },
)

t.test('responses: the session of OpenSession, the operation of calls that make one', async (t) => {
  const open = encodeHs2Reply(
    'OpenSession',
    new T.TOpenSessionResp({
      status: new T.TStatus({ statusCode: 1, infoMessages: ['a', 'b'] }),
      serverProtocolVersion: 9,
      sessionHandle: sessionHandle(SID),
      configuration: { k: 'v' },
    }),
    7,
  )
  t.same(everyPrefix(t, open, readHs2Response), {
    state: 'done',
    envelope: { method: 'OpenSession', type: 2, seqid: 7 },
    handle: { kind: 'session', guid: SID.toString('hex') },
  })
  const exec = encodeHs2Reply(
    'ExecuteStatement',
    new T.TExecuteStatementResp({ status: okStatus(), operationHandle: operationHandle(OID) }),
  )
  t.match(everyPrefix(t, exec, readHs2Response), {
    handle: { kind: 'operation', guid: OID.toString('hex') },
  })
  const failed = encodeHs2Reply(
    'ExecuteStatement',
    new T.TExecuteStatementResp({
      status: new T.TStatus({ statusCode: 3, errorMessage: 'ParseException' }),
    }),
  )
  t.match(readHs2Response(failed), { state: 'done', handle: undefined }, 'a failed call makes none')
  const exception = encodeHs2Reply('OpenSession', undefined, 1, new Error('boom'))
  t.match(readHs2Response(exception), { state: 'done', envelope: { type: 3 }, handle: undefined })
  t.ok(responseHasHandle('GetColumns'))
  t.notOk(responseHasHandle('FetchResults'))
})

t.test(
  'method names: known ones as sent, others decoded as UTF-8, from any Uint8Array',
  async (t) => {
    const call = (name: string): Buffer => {
      const n = Buffer.from(name, 'utf8')
      const head = Buffer.from([0x80, 0x01, 0x00, 0x01, 0, 0, 0, n.length])
      // seqid 7, then an empty args struct
      return Buffer.concat([head, n, Buffer.from([0, 0, 0, 7, 0])])
    }
    t.match(readHs2Request(call('GetInfo')), {
      state: 'done',
      envelope: { method: 'GetInfo', seqid: 7 },
    })
    t.match(readHs2Request(call('Öffnen')), { state: 'done', envelope: { method: 'Öffnen' } })
    // a plain Uint8Array view in the middle of a larger buffer, as a gunzipped prefix may be
    const bytes = Buffer.concat([Buffer.from('xx'), call('FetchResults')])
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset + 2, bytes.length - 2)
    t.match(readHs2Request(view), { state: 'done', envelope: { method: 'FetchResults', seqid: 7 } })
  },
)

t.test('bad bytes are reported, not thrown', async (t) => {
  t.match(readHs2Request(Buffer.from('GET / HTTP/1.1\r\n\r\n')), { state: 'bad' })
  t.match(readHs2Request(Buffer.from([0x80, 0x01, 0x00, 0x02, 0, 0, 0, 1, 0x41, 0, 0, 0, 1])), {
    state: 'bad',
    reason: /not a call/,
  })
  // a struct field of unknown type 99 inside the args
  const weird = Buffer.concat([
    Buffer.from([0x80, 0x01, 0x00, 0x01, 0, 0, 0, 9]),
    Buffer.from('GetTables'),
    Buffer.from([0, 0, 0, 1, 99, 0, 1]),
  ])
  t.match(readHs2Request(weird), { state: 'bad', reason: /unknown field type 99/ })
  t.match(readHs2Request(Buffer.alloc(0)), { state: 'more' })
})

t.test(
  'the error reply is read by hive-driver as a failed call naming the lost session',
  async (t) => {
    const message = 'HHP_ERR_SESSION_LOST: session 0011 was on hs2a:10001, which is gone'
    const env = { method: 'ExecuteStatement', type: 1, seqid: 9 }
    const got = decodeHs2Reply('ExecuteStatement', hs2ErrorReply(env, message, '08S01', 0))
    t.match(got.resp, {
      status: { statusCode: T.TStatusCode.ERROR_STATUS, errorMessage: message, sqlState: '08S01' },
      operationHandle: null,
    })
    const info = decodeHs2Reply(
      'GetInfo',
      hs2ErrorReply({ ...env, method: 'GetInfo' }, message, '08S01', 0),
    )
    t.match(info.error, { message }, 'GetInfo (required infoValue) gets an exception with the text')
  },
)

t.test(
  'ExecuteStatement runAsync is read past a long statement; other bodies do not say',
  async (t) => {
    const exec = (runAsync: boolean | undefined): Buffer =>
      encodeHs2Call(
        'ExecuteStatement',
        new T.TExecuteStatementReq({
          sessionHandle: sessionHandle(SID),
          statement: `SELECT '${'x'.repeat(5000)}'`,
          confOverlay: { a: 'b' },
          ...(runAsync === undefined ? {} : { runAsync }),
          queryTimeout: 5,
        }),
      )
    t.equal(executeRunsAsync(exec(true)), true)
    t.equal(executeRunsAsync(exec(false)), false)
    t.equal(executeRunsAsync(exec(undefined)), false, 'absent: Thrift default false (synchronous)')
    t.equal(executeRunsAsync(exec(true).subarray(0, 200)), undefined, 'a prefix does not say')
    const fetch = encodeHs2Call(
      'FetchResults',
      new T.TFetchResultsReq({ operationHandle: operationHandle(OID), orientation: 0, maxRows: 1 }),
    )
    t.equal(executeRunsAsync(fetch), undefined, 'not an ExecuteStatement')
    t.equal(executeRunsAsync(Buffer.from('garbage!')), undefined)
  },
)
