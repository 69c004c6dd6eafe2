import t from 'tap'
import { detectStream } from '../../src/thrift/detect.js'
import { isIdempotent, MethodLabels } from '../../src/thrift/hms-methods.js'
import { demote, metastoreOrder } from '../../src/balancing/metastore-order.js'
import { parseHmsZnode } from '../../src/discovery/hms-znode.js'
import { SegmentQueue } from '../../src/routes/segment-queue.js'
import { seededRandom } from '../helpers/proxy.js'

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

t.test('stream detection from the first bytes', async (t) => {
  const cases: [string, string, ReturnType<typeof detectStream>][] = [
    ['strict binary', '80010001 00000007', { kind: 'thrift', protocol: 'binary', framed: false }],
    ['compact', '8221 00', { kind: 'thrift', protocol: 'compact', framed: false }],
    ['framed binary', '0000001c 8001 0001', { kind: 'thrift', protocol: 'binary', framed: true }],
    ['framed compact', '0000001c 82 21', { kind: 'thrift', protocol: 'compact', framed: true }],
    [
      'framed binary of 16 MiB+ (first byte looks like SASL START)',
      '01000000 8001',
      { kind: 'thrift', protocol: 'binary', framed: true },
    ],
    ['SASL START GSSAPI', '01 00000006 475353415049', { kind: 'sasl' }],
    ['SASL COMPLETE', '05 00000000', { kind: 'sasl' }],
    ['HTTP', Buffer.from('POST /metastore HTTP/1.1').toString('hex'), { kind: 'unknown' }],
    ['TLS hello', '16030100 a5 01', { kind: 'unknown' }],
    ['binary with a bad version byte', '8002 0001', { kind: 'unknown' }],
  ]
  for (const [name, bytes, want] of cases) t.same(detectStream(hex(bytes)), want, name)
  t.equal(detectStream(hex('80')), undefined, 'one byte of binary: need more')
  t.equal(detectStream(hex('000000')), undefined, 'three bytes of a length: need more')
  t.same(detectStream(hex('000000'), true), { kind: 'unknown' }, 'at EOF: unknown')
  t.same(detectStream(Buffer.alloc(0), true), { kind: 'unknown' })
})

t.test('retry safety follows hive-ha-semantics.md §6', async (t) => {
  for (const m of [
    'get_database',
    'get_table_req',
    'get_partitions',
    'list_roles',
    'show_locks',
    'getMetaConf',
    'getStatus',
    'partition_name_to_spec',
    'fetch_partition_names_req',
  ]) {
    t.ok(isIdempotent(m), `${m} is a read`)
  }
  for (const m of [
    'create_database',
    'alter_table',
    'add_partitions',
    'lock',
    'open_txns',
    'commit_txn',
    'get_delegation_token',
    'get_lock_materialization_rebuild',
    'find_next_compact',
    'check_lock',
    'scheduled_query_poll',
    'set_ugi',
    'setMetaConf',
    'shutdown',
  ]) {
    t.notOk(isIdempotent(m), `${m} is not re-sent`)
  }
})

t.test('method labels are bounded', async (t) => {
  const l = new MethodLabels(2)
  t.equal(l.label('get_database'), 'get_database')
  t.equal(l.label('bad name!'), 'other')
  t.equal(l.label('get_table_req'), 'get_table_req')
  t.equal(l.label('third_method'), 'other', 'past the limit')
  t.equal(l.label('get_database'), 'get_database', 'known names stay')
})

t.test(
  'SEQUENTIAL keeps the configured order; RANDOM shuffles per call; demote moves one last',
  async (t) => {
    const list = ['a', 'b', 'c', 'd'].map((key) => ({ key }))
    t.same(
      metastoreOrder(list, 'SEQUENTIAL', () => 0.99).map((b) => b.key),
      ['a', 'b', 'c', 'd'],
    )
    const rnd = seededRandom(3)
    const firsts = new Map<string, number>()
    for (let i = 0; i < 400; i++) {
      const o = metastoreOrder(list, 'RANDOM', rnd).map((b) => b.key)
      t.same([...o].sort(), ['a', 'b', 'c', 'd'], 'a permutation')
      firsts.set(o[0]!, (firsts.get(o[0]!) ?? 0) + 1)
    }
    for (const k of ['a', 'b', 'c', 'd'])
      t.ok(
        (firsts.get(k) ?? 0) > 60,
        `${k} comes first about a quarter of the time (${firsts.get(k)})`,
      )
    t.same(
      demote(list, 'b').map((b) => b.key),
      ['a', 'c', 'd', 'b'],
    )
    t.same(
      demote(list, undefined).map((b) => b.key),
      ['a', 'b', 'c', 'd'],
    )
  },
)

t.test('Hive 4 metastore znodes', async (t) => {
  t.match(parseHmsZnode('hms1.example.com:90830000000004', Buffer.from('hms1.example.com:9083')), {
    ok: true,
    backend: { key: 'hms1.example.com:9083', port: 9083 },
  })
  t.match(parseHmsZnode('x', Buffer.from('hms1')), { ok: false, reason: /not host:port/ })
  t.match(parseHmsZnode('x', Buffer.from('hms1:0')), { ok: false, reason: /bad port/ })
  t.match(parseHmsZnode('x', Buffer.from('')), { ok: false })
})

t.test(
  "the forwarder's segment queue keeps arrival order and drops one call's segments",
  async (t) => {
    const q = new SegmentQueue<string>()
    const seg = (s: string) => Buffer.from(s)
    q.push(seg('a1'), 'a')
    q.push(seg('b1'), 'b')
    q.push(seg('a2'), 'a')
    q.push(seg('c1'), 'c')
    q.drop('a')
    t.equal(q.length, 2)
    t.same(
      [0, 1].map((i) => `${q.owner(i)}:${q.seg(i).toString()}`),
      ['b:b1', 'c:c1'],
    )
    q.clear()
    t.equal(q.length, 0)
    q.push(seg('d1'), 'd')
    t.same([q.owner(0), q.seg(0).toString()], ['d', 'd1'], 'reusable after clear')
  },
)
