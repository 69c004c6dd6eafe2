/**
 * fb303 `getStatus` (the metastore's health call: Hive's ThriftHiveMetastore extends
 * fb303.FacebookService, and HMSHandler answers it from memory, touching no database): the call's
 * bytes and a reader for its answer, in the binary or compact protocol, framed or not. Hand-written
 * for this one call so no IDL is vendored.
 *
 * Contract: `readGetStatusReply` is pure and never throws. It is given the bytes received so far
 * and answers `more` until one whole message is there. Fields of the answer are walked by id and
 * type; anything but the status is skipped.
 */
import type { ThriftProtocol } from './core.js'
import { BINARY_TYPE } from './hs2-handles.js'

/** fb303_status, as fb303.thrift numbers it. */
export const FB_STATUS: Readonly<Record<number, string>> = {
  0: 'DEAD',
  1: 'STARTING',
  2: 'ALIVE',
  3: 'STOPPING',
  4: 'STOPPED',
  5: 'WARNING',
}

export interface WireKind {
  protocol: ThriftProtocol
  framed: boolean
}

export type StatusReply =
  | { state: 'more' }
  /** a REPLY; `status` undefined when the result struct carried none */
  | { state: 'reply'; seqid: number; status: number | undefined; bytes: number }
  /** a TApplicationException (e.g. UNKNOWN_METHOD): the server is answering, the call is unknown */
  | { state: 'exception'; seqid: number; message: string; bytes: number }
  | { state: 'bad'; reason: string }

const NAME = Buffer.from('getStatus')
const CALL = 1
const REPLY = 2
const EXCEPTION = 3

/** The whole `getStatus()` call (no arguments). */
export function getStatusCall(kind: WireKind, seqid: number): Buffer {
  let msg: Buffer
  if (kind.protocol === 'binary') {
    msg = Buffer.alloc(4 + 4 + NAME.length + 4 + 1)
    msg.writeUInt32BE((0x80010000 | CALL) >>> 0, 0)
    msg.writeInt32BE(NAME.length, 4)
    NAME.copy(msg, 8)
    msg.writeInt32BE(seqid, 8 + NAME.length)
    msg[msg.length - 1] = 0 // empty args struct: STOP
  } else {
    msg = Buffer.concat([
      Buffer.from([0x82, (CALL << 5) | 1]),
      varint(seqid >>> 0),
      varint(NAME.length),
      NAME,
      Buffer.from([0]),
    ])
  }
  if (!kind.framed) return msg
  const frame = Buffer.alloc(4)
  frame.writeInt32BE(msg.length, 0)
  return Buffer.concat([frame, msg])
}

/** The answer to one getStatus call at the start of `buf`. */
export function readGetStatusReply(buf: Buffer, kind: WireKind): StatusReply {
  let start = 0
  if (kind.framed) {
    if (buf.length < 4) return { state: 'more' }
    const len = buf.readInt32BE(0)
    if (len <= 0 || len > 16 * 1024 * 1024) return { state: 'bad', reason: `frame length ${len}` }
    if (buf.length < 4 + len) return { state: 'more' }
    start = 4
  }
  const r = new Reader(buf, start, kind.protocol)
  try {
    const h = r.header()
    if (h.type === REPLY) {
      let status: number | undefined
      r.struct((id, t) => {
        if (id === 0 && r.isI32(t)) status = r.i32()
        else r.skip(t)
      })
      return { state: 'reply', seqid: h.seqid, status, bytes: r.pos }
    }
    if (h.type === EXCEPTION) {
      let message = ''
      r.struct((id, t) => {
        if (id === 1 && r.isString(t)) message = r.string()
        else r.skip(t)
      })
      return { state: 'exception', seqid: h.seqid, message, bytes: r.pos }
    }
    return { state: 'bad', reason: `message type ${h.type}, not a reply` }
  } catch (err) {
    if (err === MORE)
      return kind.framed ? { state: 'bad', reason: 'truncated frame' } : { state: 'more' }
    return { state: 'bad', reason: err instanceof Error ? err.message : String(err) }
  }
}

function varint(n: number): Buffer {
  const out: number[] = []
  let v = n
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80)
    v = Math.floor(v / 128)
  }
  out.push(v)
  return Buffer.from(out)
}

/** thrown when the bytes end early (unframed: wait for more) */
const MORE = Symbol('more')

/** Binary type ids; compact ids differ (mapped in `skip`). */
const B = BINARY_TYPE
const C = {
  STOP: 0,
  TRUE: 1,
  FALSE: 2,
  BYTE: 3,
  I16: 4,
  I32: 5,
  I64: 6,
  DOUBLE: 7,
  BINARY: 8,
  LIST: 9,
  SET: 10,
  MAP: 11,
  STRUCT: 12,
}

class Reader {
  pos: number
  #depth = 0
  /** compact: the last field id per open struct (field ids are deltas) */
  #lastIds: number[] = []
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly protocol: ThriftProtocol,
  ) {
    this.pos = start
  }

  #need(n: number): void {
    if (this.pos + n > this.buf.length) throw MORE
  }

  #u8(): number {
    this.#need(1)
    return this.buf[this.pos++] as number
  }

  #varint(): number {
    let result = 0
    let mul = 1
    for (let i = 0; i < 10; i++) {
      const b = this.#u8()
      result += (b & 0x7f) * mul
      if ((b & 0x80) === 0) return result
      mul *= 128
    }
    throw new Error('varint too long')
  }

  #zigzag(): number {
    const n = this.#varint()
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2
  }

  header(): { type: number; seqid: number } {
    if (this.protocol === 'binary') {
      this.#need(4)
      const v = this.buf.readUInt32BE(this.pos)
      this.pos += 4
      if (v >>> 16 !== 0x8001) throw new Error('not strict binary Thrift')
      this.#skipBytes(this.#len())
      this.#need(4)
      const seqid = this.buf.readInt32BE(this.pos)
      this.pos += 4
      return { type: v & 0xff, seqid }
    }
    if (this.#u8() !== 0x82) throw new Error('not compact Thrift')
    const tv = this.#u8()
    const seqid = this.#varint() | 0
    this.#skipBytes(this.#varint())
    return { type: tv >> 5, seqid }
  }

  #len(): number {
    this.#need(4)
    const n = this.buf.readInt32BE(this.pos)
    this.pos += 4
    if (n < 0) throw new Error(`negative length ${n}`)
    return n
  }

  #skipBytes(n: number): void {
    this.#need(n)
    this.pos += n
  }

  /** Walks one struct, calling `field` for each field (which must read or skip its value). */
  struct(field: (id: number, type: number) => void): void {
    if (++this.#depth > 64) throw new Error('nesting too deep')
    this.#lastIds.push(0)
    for (;;) {
      let type: number
      let id: number
      if (this.protocol === 'binary') {
        type = this.#u8()
        if (type === B.STOP) break
        this.#need(2)
        id = this.buf.readInt16BE(this.pos)
        this.pos += 2
      } else {
        const b = this.#u8()
        type = b & 0x0f
        if (type === C.STOP) break
        const delta = b >> 4
        const last = this.#lastIds[this.#lastIds.length - 1] as number
        id = delta === 0 ? this.#zigzag() : last + delta
        this.#lastIds[this.#lastIds.length - 1] = id
      }
      field(id, type)
    }
    this.#lastIds.pop()
    this.#depth--
  }

  isI32(t: number): boolean {
    return this.protocol === 'binary' ? t === B.I32 : t === C.I32
  }

  isString(t: number): boolean {
    return this.protocol === 'binary' ? t === B.STRING : t === C.BINARY
  }

  i32(): number {
    if (this.protocol === 'compact') return this.#zigzag()
    this.#need(4)
    const v = this.buf.readInt32BE(this.pos)
    this.pos += 4
    return v
  }

  string(): string {
    const n = this.protocol === 'binary' ? this.#len() : this.#varint()
    this.#need(n)
    const s = this.buf.toString('utf8', this.pos, this.pos + n)
    this.pos += n
    return s
  }

  skip(t: number): void {
    if (this.protocol === 'binary') this.#skipBinary(t)
    else this.#skipCompact(t, false)
  }

  #skipBinary(t: number): void {
    switch (t) {
      case B.BOOL:
      case B.BYTE:
        return this.#skipBytes(1)
      case B.I16:
        return this.#skipBytes(2)
      case B.I32:
        return this.#skipBytes(4)
      case B.I64:
      case B.DOUBLE:
        return this.#skipBytes(8)
      case B.STRING:
        return this.#skipBytes(this.#len())
      case B.STRUCT:
        return this.struct((_id, ft) => this.#skipBinary(ft))
      case B.MAP: {
        const kt = this.#u8()
        const vt = this.#u8()
        const n = this.#len()
        for (let i = 0; i < n; i++) {
          this.#skipBinary(kt)
          this.#skipBinary(vt)
        }
        return
      }
      case B.SET:
      case B.LIST: {
        const et = this.#u8()
        const n = this.#len()
        for (let i = 0; i < n; i++) this.#skipBinary(et)
        return
      }
      default:
        throw new Error(`bad binary type ${t}`)
    }
  }

  /** `element`: inside a list/set/map, where a bool is one byte (in a field it is the type id). */
  #skipCompact(t: number, element: boolean): void {
    switch (t) {
      case C.TRUE:
      case C.FALSE:
        if (element) this.#skipBytes(1)
        return
      case C.BYTE:
        return this.#skipBytes(1)
      case C.I16:
      case C.I32:
      case C.I64:
        this.#varint()
        return
      case C.DOUBLE:
        return this.#skipBytes(8)
      case C.BINARY:
        return this.#skipBytes(this.#varint())
      case C.STRUCT:
        return this.struct((_id, ft) => this.#skipCompact(ft, false))
      case C.LIST:
      case C.SET: {
        const h = this.#u8()
        const n = h >> 4 === 15 ? this.#varint() : h >> 4
        for (let i = 0; i < n; i++) this.#skipCompact(h & 0x0f, true)
        return
      }
      case C.MAP: {
        const n = this.#varint()
        if (n === 0) return
        const kv = this.#u8()
        for (let i = 0; i < n; i++) {
          this.#skipCompact(kv >> 4, true)
          this.#skipCompact(kv & 0x0f, true)
        }
        return
      }
      default:
        throw new Error(`bad compact type ${t}`)
    }
  }
}
