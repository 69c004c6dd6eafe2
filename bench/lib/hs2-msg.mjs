// HiveServer2 TCLIService messages for the HTTP benchmark (scenario 9), hand-encoded in Thrift's
// strict binary protocol (what HiveServer2's HTTP servlet speaks, one message per POST body). The
// field ids follow TCLIService.thrift as hive-driver's generated TCLIService_types.js has them
// (hive-http-mode.md §4): THandleIdentifier {1: guid, 2: secret}, TSessionHandle {1: id},
// TOperationHandle {1: id, 2: type, 3: hasResultSet}, TOpenSessionResp {1: status, 2:
// serverProtocolVersion, 3: sessionHandle, 4: configuration}, TExecuteStatementResp {1: status,
// 2: operationHandle}, TFetchResultsResp {1: status, 2: hasMoreRows, 3: results}, every call
// `<Method>_args {1: req}`, every reply `<Method>_result {0: success}`. The IDL is not vendored.
//
// decode() reads any strict-binary message into plain values (both sides of the bench use it).
import { T } from './thrift-msg.mjs'

export const CALL = 1
export const REPLY = 2
export const STATUS = { SUCCESS: 0, ERROR: 3 }
/** TProtocolVersion.HIVE_CLI_SERVICE_PROTOCOL_V11 */
export const PROTOCOL_V11 = 10

/** A growable writer of strict binary Thrift. */
class W {
  constructor() {
    this.b = Buffer.allocUnsafe(256)
    this.n = 0
  }
  room(k) {
    if (this.n + k <= this.b.length) return
    const nb = Buffer.allocUnsafe(Math.max(this.b.length * 2, this.n + k))
    this.b.copy(nb, 0, 0, this.n)
    this.b = nb
  }
  u8(v) {
    this.room(1)
    this.b[this.n++] = v
  }
  i16(v) {
    this.room(2)
    this.n = this.b.writeInt16BE(v, this.n)
  }
  i32(v) {
    this.room(4)
    this.n = this.b.writeInt32BE(v | 0, this.n)
  }
  i64(v) {
    this.room(8)
    this.n = this.b.writeBigInt64BE(BigInt(v), this.n)
  }
  bin(buf) {
    this.i32(buf.length)
    this.room(buf.length)
    buf.copy(this.b, this.n)
    this.n += buf.length
  }
  str(s) {
    this.bin(Buffer.from(s, 'utf8'))
  }
  field(type, id) {
    this.u8(type)
    this.i16(id)
  }
  stop() {
    this.u8(T.STOP)
  }
  envelope(name, type, seqid) {
    this.i32(0x80010000 | type)
    this.str(name)
    this.i32(seqid)
  }
  done() {
    return Buffer.from(this.b.subarray(0, this.n))
  }
}

/** `<name>_args { 1: req }` or `<name>_result { 0: success }` around `body(w)` (the struct's fields). */
function message(name, type, seqid, body) {
  const w = new W()
  w.envelope(name, type, seqid)
  w.field(T.STRUCT, type === CALL ? 1 : 0)
  body(w)
  w.stop() // req / success
  w.stop() // args / result
  return w.done()
}

/** THandleIdentifier as field `id` of the struct being written (inside a handle struct at field 1). */
function handle(w, id, h, extra) {
  w.field(T.STRUCT, id)
  w.field(T.STRUCT, 1)
  w.field(T.STRING, 1)
  w.bin(h.guid)
  w.field(T.STRING, 2)
  w.bin(h.secret)
  w.stop()
  extra?.(w)
  w.stop()
}

const opExtra = (w) => {
  w.field(T.I32, 2) // operationType EXECUTE_STATEMENT
  w.i32(0)
  w.field(T.BOOL, 3) // hasResultSet
  w.u8(1)
}

function status(w, code, text) {
  w.field(T.STRUCT, 1)
  w.field(T.I32, 1)
  w.i32(code)
  if (text !== undefined) {
    w.field(T.STRING, 3)
    w.str('HY000')
    w.field(T.I32, 4)
    w.i32(0)
    w.field(T.STRING, 5)
    w.str(text)
  }
  w.stop()
}

// ---------------------------------------------------------------------------------------------
// Calls (the client)

/** OpenSession with protocol V11, a user name and an empty configuration (as the JDBC driver sends). */
export function openSessionCall(seqid) {
  return message('OpenSession', CALL, seqid, (w) => {
    w.field(T.I32, 1)
    w.i32(PROTOCOL_V11)
    w.field(T.STRING, 2)
    w.str('bench')
    w.field(T.STRING, 3)
    w.str('')
    w.field(T.MAP, 4)
    w.u8(T.STRING)
    w.u8(T.STRING)
    w.i32(1)
    w.str('use:database')
    w.str('default')
  })
}

export const STATEMENT =
  'SELECT id, customer, amount FROM sales.orders WHERE ds = "2024-01-01" LIMIT 16'

/** ExecuteStatement (synchronous) of `STATEMENT` in session `s` ({guid, secret}). */
export function executeStatementCall(seqid, s) {
  return message('ExecuteStatement', CALL, seqid, (w) => {
    handle(w, 1, s)
    w.field(T.STRING, 2)
    w.str(STATEMENT)
    w.field(T.MAP, 3)
    w.u8(T.STRING)
    w.u8(T.STRING)
    w.i32(0)
    w.field(T.BOOL, 4)
    w.u8(0)
  })
}

/** FetchResults FETCH_NEXT, 1,000 rows, of operation `op`. */
export function fetchResultsCall(seqid, op) {
  return message('FetchResults', CALL, seqid, (w) => {
    handle(w, 1, op, opExtra)
    w.field(T.I32, 2)
    w.i32(0)
    w.field(T.I64, 3)
    w.i64(1000)
    w.field(T.I16, 4)
    w.i16(0)
  })
}

export function closeOperationCall(seqid, op) {
  return message('CloseOperation', CALL, seqid, (w) => handle(w, 1, op, opExtra))
}

export function closeSessionCall(seqid, s) {
  return message('CloseSession', CALL, seqid, (w) => handle(w, 1, s))
}

// ---------------------------------------------------------------------------------------------
// Replies (the backend)

export function openSessionReply(seqid, s) {
  return message('OpenSession', REPLY, seqid, (w) => {
    status(w, STATUS.SUCCESS)
    w.field(T.I32, 2)
    w.i32(PROTOCOL_V11)
    handle(w, 3, s)
    w.field(T.MAP, 4)
    w.u8(T.STRING)
    w.u8(T.STRING)
    w.i32(0)
  })
}

export function executeStatementReply(seqid, op) {
  return message('ExecuteStatement', REPLY, seqid, (w) => {
    status(w, STATUS.SUCCESS)
    handle(w, 2, op, opExtra)
  })
}

/** 16 rows of one string column, about 1 KiB in all: a TRowSet in the columnar form (V6+). */
const ROWS = Array.from(
  { length: 16 },
  (_, i) =>
    `order-${String(i).padStart(4, '0')}|customer ${i} of the benchmark|${(i * 37.5).toFixed(2)}`,
)
export function fetchResultsReply(seqid) {
  return message('FetchResults', REPLY, seqid, (w) => {
    status(w, STATUS.SUCCESS)
    w.field(T.BOOL, 2)
    w.u8(0) // hasMoreRows
    w.field(T.STRUCT, 3) // TRowSet
    w.field(T.I64, 1)
    w.i64(0)
    w.field(T.LIST, 2) // rows: empty in the columnar form
    w.u8(T.STRUCT)
    w.i32(0)
    w.field(T.LIST, 3) // columns
    w.u8(T.STRUCT)
    w.i32(1)
    w.field(T.STRUCT, 7) // TColumn.stringVal
    w.field(T.LIST, 1)
    w.u8(T.STRING)
    w.i32(ROWS.length)
    for (const r of ROWS) w.str(r)
    w.field(T.STRING, 2) // nulls bitmap
    w.bin(Buffer.alloc(2))
    w.stop() // TStringColumn
    w.stop() // TColumn
    w.field(T.I32, 5) // columnCount
    w.i32(1)
    w.stop() // TRowSet
  })
}

/** A reply with only a status (CloseOperation, CloseSession, and errors of the calls above). */
export function statusReply(name, seqid, code = STATUS.SUCCESS, text = undefined) {
  return message(name, REPLY, seqid, (w) => status(w, code, text))
}

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * A complete strict-binary message: { name, type, seqid, body } where a struct is an object keyed
 * by field id, a string a Buffer (a view into `buf`), a list/set an array, a map an array of
 * [key, value]. Throws on anything malformed or incomplete.
 */
export function decode(buf) {
  let o = 0
  const need = (k) => {
    if (o + k > buf.length) throw new Error('message ends early')
  }
  const i32 = () => {
    need(4)
    const v = buf.readInt32BE(o)
    o += 4
    return v
  }
  const bin = () => {
    const n = i32()
    if (n < 0) throw new Error('negative length')
    need(n)
    const v = buf.subarray(o, o + n)
    o += n
    return v
  }
  const value = (t, depth) => {
    if (depth > 32) throw new Error('nesting too deep')
    switch (t) {
      case T.BOOL:
      case T.BYTE:
        need(1)
        return buf[o++]
      case T.I16:
        need(2)
        o += 2
        return buf.readInt16BE(o - 2)
      case T.I32:
        return i32()
      case T.DOUBLE:
        need(8)
        o += 8
        return buf.readDoubleBE(o - 8)
      case T.I64:
        need(8)
        o += 8
        return buf.readBigInt64BE(o - 8)
      case T.STRING:
        return bin()
      case T.STRUCT: {
        const s = {}
        for (;;) {
          need(1)
          const ft = buf[o++]
          if (ft === T.STOP) return s
          need(2)
          const id = buf.readInt16BE(o)
          o += 2
          s[id] = value(ft, depth + 1)
        }
      }
      case T.MAP: {
        need(2)
        const kt = buf[o++]
        const vt = buf[o++]
        const n = i32()
        const out = []
        for (let i = 0; i < n; i++) out.push([value(kt, depth + 1), value(vt, depth + 1)])
        return out
      }
      case T.SET:
      case T.LIST: {
        need(1)
        const et = buf[o++]
        const n = i32()
        const out = []
        for (let i = 0; i < n; i++) out.push(value(et, depth + 1))
        return out
      }
      default:
        throw new Error(`bad thrift type ${t}`)
    }
  }
  const v = i32()
  if ((v & 0xffff0000) !== (0x80010000 | 0)) throw new Error('not strict binary thrift')
  const name = bin().toString('utf8')
  const seqid = i32()
  const body = value(T.STRUCT, 0)
  if (o !== buf.length) throw new Error(`${buf.length - o} bytes after the message`)
  return { name, type: v & 0xff, seqid, body }
}

/** {guid, secret} of a decoded handle struct (TSessionHandle / TOperationHandle), or undefined. */
export function handleOf(h) {
  const id = h?.[1]
  return id?.[1] && id[2] ? { guid: id[1], secret: id[2] } : undefined
}
