import t from 'tap'
import { readEnvelope } from '../../src/thrift/envelope.js'
import { MessageType, encodeCall, encodeReply } from '../helpers/hms-idl.js'

t.test(
  'binary and compact calls and replies: method, type, seqid; every prefix is `more`',
  async (t) => {
    for (const protocol of ['binary', 'compact'] as const) {
      const callBytes = encodeCall(
        'get_partitions',
        { db_name: 'd', tbl_name: 't', max_parts: 5 },
        300,
        {
          protocol,
        },
      )
      t.same(readEnvelope(callBytes), {
        state: 'done',
        protocol,
        envelope: { method: 'get_partitions', type: MessageType.CALL, seqid: 300 },
      })
      const reply = encodeReply('get_database', 7, { appException: 1, message: 'x' }, { protocol })
      t.match(readEnvelope(reply), {
        state: 'done',
        envelope: { method: 'get_database', type: MessageType.EXCEPTION, seqid: 7 },
      })
      // the envelope ends after the name and seqid: every shorter prefix asks for more
      const end = protocol === 'binary' ? 4 + 4 + 'get_partitions'.length + 4 : 2 + 2 + 1 + 14
      for (let n = 0; n < end; n++)
        t.same(readEnvelope(callBytes.subarray(0, n)), { state: 'more' }, `${protocol} prefix ${n}`)
      t.equal(readEnvelope(callBytes.subarray(0, end)).state, 'done')
    }
  },
)

t.test('old non-strict binary envelopes are read too', async (t) => {
  const name = Buffer.from('get_all_databases')
  const b = Buffer.alloc(4 + name.length + 1 + 4)
  b.writeInt32BE(name.length, 0)
  name.copy(b, 4)
  b[4 + name.length] = MessageType.CALL
  b.writeInt32BE(9, 5 + name.length)
  t.same(readEnvelope(b), {
    state: 'done',
    protocol: 'binary',
    envelope: { method: 'get_all_databases', type: MessageType.CALL, seqid: 9 },
  })
})

t.test('garbage is bad, never a throw', async (t) => {
  for (const bad of [
    'not thrift at all',
    'GET / HTTP/1.1\r\n\r\n',
    '\x80\x02\x00\x01',
    '\x82\x05',
    '\x82\x21\x01\x00',
    '\x80\x01\x00\x09\x00\x00\x00\x01x\x00\x00\x00\x01',
    '\x80\x01\x00\x01\x00\x00\x00\x02\x00\x01\x00\x00\x00\x01',
    '\x82\x21\xff\xff\xff\xff\xff\xff',
  ])
    t.equal(readEnvelope(Buffer.from(bad, 'latin1')).state, 'bad', JSON.stringify(bad))
})
