// Hive Metastore-like Thrift messages for the benchmark, written with the `thrift` package's own
// TBinaryProtocol (strict, unframed: what HiveMetaStoreClient speaks without SASL). The shapes
// follow hive_metastore.thrift (GetTableRequest/Result, Partition, StorageDescriptor, ...) closely
// enough to cost the proxy's scanner what real answers cost; the IDL itself is not vendored.
//
// Also a small reader for complete messages (the backend splits requests with it).
import thrift from 'thrift'

const { TBinaryProtocol, TBufferedTransport } = thrift
export const T = {
  STOP: 0,
  BOOL: 2,
  BYTE: 3,
  DOUBLE: 4,
  I16: 6,
  I32: 8,
  I64: 10,
  STRING: 11,
  STRUCT: 12,
  MAP: 13,
  SET: 14,
  LIST: 15,
}
export const CALL = 1
export const REPLY = 2

/** Encode with TBinaryProtocol (strict write); `body(p)` writes what follows writeMessageBegin. */
function encode(body) {
  const out = []
  const trans = new TBufferedTransport(undefined, (b) => out.push(Buffer.from(b)))
  const p = new TBinaryProtocol(trans, false, true)
  body(p)
  p.flush()
  return Buffer.concat(out)
}

function message(name, type, seqid, writeArgs) {
  return encode((p) => {
    p.writeMessageBegin(name, type, seqid)
    p.writeStructBegin(`${name}_args`)
    writeArgs(p)
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeMessageEnd()
  })
}

const field = (p, id, type, write) => {
  p.writeFieldBegin('', type, id)
  write()
  p.writeFieldEnd()
}
const str = (p, id, v) => field(p, id, T.STRING, () => p.writeString(v))
const i32 = (p, id, v) => field(p, id, T.I32, () => p.writeI32(v))
const strList = (p, id, vs) =>
  field(p, id, T.LIST, () => {
    p.writeListBegin(T.STRING, vs.length)
    for (const v of vs) p.writeString(v)
    p.writeListEnd()
  })
const strMap = (p, id, entries) =>
  field(p, id, T.MAP, () => {
    p.writeMapBegin(T.STRING, T.STRING, entries.length)
    for (const [k, v] of entries) {
      p.writeString(k)
      p.writeString(v)
    }
    p.writeMapEnd()
  })
const struct = (p, id, write) =>
  field(p, id, T.STRUCT, () => {
    p.writeStructBegin('')
    write()
    p.writeFieldStop()
    p.writeStructEnd()
  })

const COLS = [
  ['id', 'bigint', 'row id'],
  ['customer', 'string', 'customer name'],
  ['amount', 'decimal(18,2)', ''],
  ['created', 'timestamp', 'creation time'],
  ['tags', 'array<string>', ''],
]

/** StorageDescriptor (fields 1-12 of hive_metastore.thrift), `loc` varies per partition. */
function writeSd(p, loc) {
  field(p, 1, T.LIST, () => {
    p.writeListBegin(T.STRUCT, COLS.length)
    for (const [n, t, c] of COLS) {
      p.writeStructBegin('FieldSchema')
      str(p, 1, n)
      str(p, 2, t)
      str(p, 3, c)
      p.writeFieldStop()
      p.writeStructEnd()
    }
    p.writeListEnd()
  })
  str(p, 2, loc)
  str(p, 3, 'org.apache.hadoop.hive.ql.io.orc.OrcInputFormat')
  str(p, 4, 'org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat')
  field(p, 5, T.BOOL, () => p.writeBool(false))
  i32(p, 6, -1)
  struct(p, 7, () => {
    str(p, 1, '')
    str(p, 2, 'org.apache.hadoop.hive.ql.io.orc.OrcSerde')
    strMap(p, 3, [['serialization.format', '1']])
  })
  strList(p, 8, [])
  field(p, 9, T.LIST, () => {
    p.writeListBegin(T.STRUCT, 0)
    p.writeListEnd()
  })
  strMap(p, 10, [])
  field(p, 12, T.BOOL, () => p.writeBool(false))
}

/** One Partition struct's fields (hive_metastore.thrift Partition 1-9). */
function writePartition(p, i) {
  const day = `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`
  strList(p, 1, [day, String(i % 97)])
  str(p, 2, 'sales')
  str(p, 3, 'orders')
  i32(p, 4, 1700000000 + i)
  i32(p, 5, 0)
  struct(p, 6, () =>
    writeSd(p, `hdfs://nameservice1/warehouse/sales.db/orders/ds=${day}/bucket=${i % 97}`),
  )
  strMap(p, 7, [
    ['transient_lastDdlTime', '1700000000'],
    ['numFiles', '4'],
    ['totalSize', '183211'],
    ['numRows', '10492'],
    ['COLUMN_STATS_ACCURATE', '{"BASIC_STATS":"true"}'],
  ])
  str(p, 9, 'hive')
}

/** A get_table_req CALL of about 1 KiB (GetTableRequest with capabilities and a write-id list). */
export function getTableCall(seqid) {
  return encode((p) => {
    p.writeMessageBegin('get_table_req', CALL, seqid)
    p.writeStructBegin('get_table_req_args')
    struct(p, 1, () => {
      str(p, 1, 'sales')
      str(p, 2, 'orders')
      struct(p, 3, () =>
        field(p, 1, T.LIST, () => {
          p.writeListBegin(T.I32, 2)
          p.writeI32(1)
          p.writeI32(2)
          p.writeListEnd()
        }),
      )
      str(p, 4, 'hive')
      strList(
        p,
        8,
        Array.from(
          { length: 14 },
          (_, i) => `HIVEFULLACIDWRITE.HIVEMANAGESTATS.EXTWRITE.CAPABILITY_${i}`,
        ),
      )
      str(p, 6, 'sales.orders:1234:9223372036854775807::')
      str(p, 10, 'hive')
    })
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeMessageEnd()
  })
}

/** Its REPLY: GetTableResult { 1: Table } with one StorageDescriptor, about 1.3 KiB. */
export function getTableReply(seqid) {
  return encode((p) => {
    p.writeMessageBegin('get_table_req', REPLY, seqid)
    p.writeStructBegin('get_table_req_result')
    struct(p, 0, () =>
      struct(p, 1, () => {
        str(p, 1, 'orders')
        str(p, 2, 'sales')
        str(p, 3, 'etl')
        i32(p, 4, 1700000000)
        i32(p, 5, 0)
        i32(p, 6, 0)
        struct(p, 7, () => writeSd(p, 'hdfs://nameservice1/warehouse/sales.db/orders'))
        field(p, 8, T.LIST, () => {
          p.writeListBegin(T.STRUCT, 2)
          for (const n of ['ds', 'bucket']) {
            p.writeStructBegin('FieldSchema')
            str(p, 1, n)
            str(p, 2, 'string')
            p.writeFieldStop()
            p.writeStructEnd()
          }
          p.writeListEnd()
        })
        strMap(p, 9, [
          ['transactional', 'true'],
          ['transactional_properties', 'default'],
          ['bucketing_version', '2'],
        ])
        str(p, 12, 'MANAGED_TABLE')
        str(p, 15, 'hive')
      }),
    )
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeMessageEnd()
  })
}

/** A set_ugi CALL and its REPLY (list<string> of groups), as HiveMetaStoreClient opens with. */
export function setUgiCall(seqid) {
  return message('set_ugi', CALL, seqid, (p) => {
    str(p, 1, 'bench')
    strList(p, 2, ['bench', 'users'])
  })
}
export function setUgiReply(seqid) {
  return message('set_ugi', REPLY, seqid, (p) => strList(p, 0, ['bench', 'users']))
}

/** A get_partitions CALL; field 100 (not in Hive's IDL) tells the bench backend how many partitions to answer. */
export function getPartitionsCall(seqid, count) {
  return message('get_partitions', CALL, seqid, (p) => {
    str(p, 1, 'sales')
    str(p, 2, 'orders')
    field(p, 3, T.I16, () => p.writeI16(-1))
    i32(p, 100, count)
  })
}

let unitCache
/** The REPLY to get_partitions(count) as head + count x unit (one Partition struct) + tail. */
export function partitionsReply(seqid, count) {
  unitCache ??= encode((p) => {
    p.writeStructBegin('Partition')
    writePartition(p, 12345)
    p.writeFieldStop()
    p.writeStructEnd()
  })
  const head = encode((p) => {
    p.writeMessageBegin('get_partitions', REPLY, seqid)
    p.writeStructBegin('get_partitions_result')
    p.writeFieldBegin('success', T.LIST, 0)
    p.writeListBegin(T.STRUCT, count)
  })
  const tail = Buffer.from([0]) // STOP of the result struct (list and field ends write nothing in binary)
  return { head, unit: unitCache, tail, size: head.length + count * unitCache.length + tail.length }
}

/** Partitions needed for an answer of about `bytes`. */
export function partitionsFor(bytes) {
  const { unit } = partitionsReply(0, 0)
  return Math.max(1, Math.round(bytes / unit.length))
}

// ---------------------------------------------------------------------------------------------
// Reading complete messages (strict binary)

/** Offset just past the value of type `t` at `o`, or -1 when `buf` ends first. */
function skip(buf, o, t, depth) {
  if (depth > 64) throw new Error('nesting too deep')
  switch (t) {
    case T.BOOL:
    case T.BYTE:
      return o + 1 <= buf.length ? o + 1 : -1
    case T.I16:
      return o + 2 <= buf.length ? o + 2 : -1
    case T.I32:
      return o + 4 <= buf.length ? o + 4 : -1
    case T.DOUBLE:
    case T.I64:
      return o + 8 <= buf.length ? o + 8 : -1
    case T.STRING: {
      if (o + 4 > buf.length) return -1
      const e = o + 4 + buf.readInt32BE(o)
      return e <= buf.length ? e : -1
    }
    case T.STRUCT:
      for (;;) {
        if (o + 1 > buf.length) return -1
        const ft = buf[o]
        if (ft === T.STOP) return o + 1
        if (o + 3 > buf.length) return -1
        o = skip(buf, o + 3, ft, depth + 1)
        if (o < 0) return -1
      }
    case T.MAP: {
      if (o + 6 > buf.length) return -1
      const kt = buf[o]
      const vt = buf[o + 1]
      const n = buf.readInt32BE(o + 2)
      o += 6
      for (let i = 0; i < n && o >= 0; i++) {
        o = skip(buf, o, kt, depth + 1)
        if (o >= 0) o = skip(buf, o, vt, depth + 1)
      }
      return o
    }
    case T.SET:
    case T.LIST: {
      if (o + 5 > buf.length) return -1
      const et = buf[o]
      const n = buf.readInt32BE(o + 1)
      o += 5
      for (let i = 0; i < n && o >= 0; i++) o = skip(buf, o, et, depth + 1)
      return o
    }
    default:
      throw new Error(`bad thrift type ${t}`)
  }
}

/**
 * The strict-binary message at `o`: { name, type, seqid, args (offset of its struct), end }, or
 * undefined when incomplete. Throws on a malformed message.
 */
export function readMessage(buf, o) {
  if (o + 8 > buf.length) return undefined
  const v = buf.readInt32BE(o)
  if ((v & 0xffff0000) !== (0x80010000 | 0)) throw new Error('not strict binary thrift')
  const n = buf.readInt32BE(o + 4)
  if (o + 12 + n > buf.length) return undefined
  const name = buf.toString('utf8', o + 8, o + 8 + n)
  const seqid = buf.readInt32BE(o + 8 + n)
  const args = o + 12 + n
  const end = skip(buf, args, T.STRUCT, 0)
  if (end < 0) return undefined
  return { name, type: v & 0xff, seqid, args, end }
}

/** The i32 field `id` of the struct at `o` (complete), or undefined. */
export function i32Field(buf, o, id) {
  for (;;) {
    const ft = buf[o]
    if (ft === T.STOP) return undefined
    const fid = buf.readInt16BE(o + 1)
    if (fid === id && ft === T.I32) return buf.readInt32BE(o + 3)
    o = skip(buf, o + 3, ft, 1)
  }
}
