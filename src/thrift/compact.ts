/**
 * Resumable skipper for TCompactProtocol messages: envelope `0x82`, `(version 1) | type << 5`,
 * varint seqid, varint name length, name; then one STRUCT (field-id deltas, bools in the type nibble,
 * zigzag varint integers, little-endian doubles, short/long list headers, `0` for an empty map).
 */
import { K_LIST, K_MAP, S_FIELD, S_SKIP, ScanCore, type MessageHeader } from './core.js'

// compact type ids
const CT_BOOL_TRUE = 1
const CT_BOOL_FALSE = 2
const CT_I16 = 4
const CT_I32 = 5
const CT_I64 = 6
const CT_BINARY = 8
const CT_LIST = 9
const CT_SET = 10
const CT_MAP = 11
const CT_STRUCT = 12
const CT_UUID = 13

/** Wire size of fixed-size element types (bools are one byte inside containers). */
const FIXED = new Uint8Array(16)
FIXED[CT_BOOL_TRUE] = 1
FIXED[CT_BOOL_FALSE] = 1
FIXED[3] = 1 // BYTE
FIXED[7] = 8 // DOUBLE
FIXED[CT_UUID] = 16

function validType(t: number): boolean {
  return t >= CT_BOOL_TRUE && t <= CT_UUID
}

const PROTOCOL_ID = 0x82
const VERSION = 1
const MAX_I32 = 0x7fffffff

const C_PROTO = 10
const C_VERSION = 11
const C_SEQID = 12
const C_NAMELEN = 13
const C_NAME = 14
const C_FIELD_ID = 15
const C_VARINT = 16
const C_STRLEN = 17
const C_LIST = 18
const C_LISTSIZE = 19
const C_MAPSIZE = 20
const C_MAPTYPES = 21

export class CompactEngine extends ScanCore {
  /** longest varint of the integer being skipped (5 for i16/i32, 10 for i64) */
  private vMax = 5

  constructor(maxDepth: number, onHeader: (h: MessageHeader) => void) {
    super(maxDepth, onHeader)
    this.reset()
  }

  protected initialState(): number {
    return C_PROTO
  }

  /** Read a non-negative varint32 size; -1 while incomplete or on error. */
  private size(what: string): number {
    if (this.varint(5) !== 1) return -1
    if (this.vVal > MAX_I32) {
      this.fail(`negative or oversized ${what} ${this.vVal | 0}`)
      return -1
    }
    return this.vVal
  }

  protected step(): void {
    switch (this.state) {
      case S_SKIP:
        this.stepSkip()
        return
      case S_FIELD: {
        const o = this.take(1)
        if (o < 0) return
        const b = this.vb[o] as number
        if (b === 0) {
          this.endStruct()
          return
        }
        const t = b & 0x0f
        if (!validType(t)) {
          this.fail(`unknown field type ${t}`)
          return
        }
        if ((b & 0xf0) === 0) {
          // long form: zigzag varint field id follows
          this.pendT = t
          this.state = C_FIELD_ID
        } else if (t === CT_BOOL_TRUE || t === CT_BOOL_FALSE) this.next()
        else this.startValue(t)
        return
      }
      case C_FIELD_ID:
        if (this.varint(5) !== 1) return
        if (this.pendT === CT_BOOL_TRUE || this.pendT === CT_BOOL_FALSE) this.next()
        else this.startValue(this.pendT)
        return
      case C_VARINT:
        if (this.varint(this.vMax) === 1) this.next()
        return
      case C_STRLEN: {
        const n = this.size('binary length')
        if (n >= 0) this.skip(n)
        return
      }
      case C_LIST: {
        const o = this.take(1)
        if (o < 0) return
        const b = this.vb[o] as number
        const et = b & 0x0f
        if (!validType(et)) this.fail(`unknown list/set element type ${et}`)
        else if (b >>> 4 === 15) {
          this.pendT = et
          this.state = C_LISTSIZE
        } else this.beginList(et, b >>> 4)
        return
      }
      case C_LISTSIZE: {
        const n = this.size('list/set size')
        if (n >= 0) this.beginList(this.pendT, n)
        return
      }
      case C_MAPSIZE: {
        const n = this.size('map size')
        if (n < 0) return
        if (n === 0) this.next()
        else {
          this.pendN = n
          this.state = C_MAPTYPES
        }
        return
      }
      case C_MAPTYPES: {
        const o = this.take(1)
        if (o < 0) return
        const b = this.vb[o] as number
        const kt = b >>> 4
        const vt = b & 0x0f
        const n = this.pendN
        if (!validType(kt) || !validType(vt)) this.fail(`unknown map key/value type ${kt}/${vt}`)
        else if (FIXED[kt] !== 0 && FIXED[vt] !== 0)
          this.skip(n * ((FIXED[kt] as number) + (FIXED[vt] as number)))
        else if (this.push(K_MAP, 2 * n, kt, vt)) this.next()
        return
      }
      default:
        this.stepEnvelope()
    }
  }

  private beginList(et: number, n: number): void {
    if (FIXED[et] !== 0) this.skip(n * (FIXED[et] as number))
    else if (n === 0) this.next()
    else if (this.push(K_LIST, n, et, 0)) this.next()
  }

  private stepEnvelope(): void {
    switch (this.state) {
      case C_PROTO: {
        const o = this.take(1)
        if (o < 0) return
        const b = this.vb[o] as number
        if (b !== PROTOCOL_ID) this.fail(`bad compact protocol id 0x${b.toString(16)}`)
        else this.state = C_VERSION
        return
      }
      case C_VERSION: {
        const o = this.take(1)
        if (o < 0) return
        const b = this.vb[o] as number
        if ((b & 0x1f) !== VERSION) {
          this.fail(`bad compact protocol version ${b & 0x1f}`)
          return
        }
        this.hType = b >>> 5
        if (this.checkMessageType(this.hType)) this.state = C_SEQID
        return
      }
      case C_SEQID:
        if (this.varint(5) !== 1) return
        if (this.vVal > 0xffffffff) {
          this.fail('seqid varint over 32 bits')
          return
        }
        this.hSeqid = this.vVal | 0
        this.state = C_NAMELEN
        return
      case C_NAMELEN: {
        if (this.varint(5) !== 1) return
        const n = this.vVal > MAX_I32 ? this.vVal - 0x100000000 : this.vVal
        if (this.checkNameLen(n)) this.state = C_NAME
        return
      }
      case C_NAME:
        if (this.readName()) this.emitHeader()
        return
      default:
        this.fail(`internal: bad compact scanner state ${this.state}`)
    }
  }

  protected startValue(t: number): void {
    const f = t < 16 ? (FIXED[t] as number) : 0
    if (f !== 0) {
      this.skipLeft = f
      this.state = S_SKIP
      return
    }
    switch (t) {
      case CT_I16:
      case CT_I32:
        this.vMax = 5
        this.state = C_VARINT
        return
      case CT_I64:
        this.vMax = 10
        this.state = C_VARINT
        return
      case CT_BINARY:
        this.state = C_STRLEN
        return
      case CT_STRUCT:
        this.pushStruct()
        return
      case CT_MAP:
        this.state = C_MAPSIZE
        return
      case CT_LIST:
      case CT_SET:
        this.state = C_LIST
        return
      default:
        this.fail(`unknown type ${t}`)
    }
  }
}
