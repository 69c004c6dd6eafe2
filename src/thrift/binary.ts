/**
 * Resumable skipper for TBinaryProtocol messages: strict envelope (`0x8001 00 type`, name, seqid) or
 * the old non-strict one (name, type byte, seqid), then one STRUCT.
 */
import { K_LIST, K_MAP, S_FIELD, S_SKIP, ScanCore, type MessageHeader } from './core.js'

// TType ids
const T_STRING = 11
const T_STRUCT = 12
const T_MAP = 13
const T_SET = 14
const T_LIST = 15

/** Wire size of fixed-size types (0 = variable or invalid). */
const FIXED = new Uint8Array(17)
FIXED[2] = 1 // BOOL
FIXED[3] = 1 // BYTE
FIXED[4] = 8 // DOUBLE
FIXED[6] = 2 // I16
FIXED[8] = 4 // I32
FIXED[10] = 8 // I64
FIXED[16] = 16 // UUID

function validType(t: number): boolean {
  return (t < 17 && FIXED[t] !== 0) || (t >= T_STRING && t <= T_LIST)
}

const B_VERSION = 10
const B_NAMELEN = 11
const B_NAME = 12
const B_OLDTYPE = 13
const B_SEQID = 14
const B_FIELD_ID = 15
const B_STRLEN = 16
const B_LIST = 17
const B_MAP = 18

export class BinaryEngine extends ScanCore {
  private strict = true

  constructor(maxDepth: number, onHeader: (h: MessageHeader) => void) {
    super(maxDepth, onHeader)
    this.reset()
  }

  protected initialState(): number {
    return B_VERSION
  }

  protected step(): void {
    switch (this.state) {
      case S_SKIP:
        this.stepSkip()
        return
      case S_FIELD: {
        const o = this.take(1)
        if (o < 0) return
        const t = this.vb[o] as number
        if (t === 0) this.endStruct()
        else if (!validType(t)) this.fail(`unknown field type ${t}`)
        else {
          this.pendT = t
          this.state = B_FIELD_ID
        }
        return
      }
      case B_FIELD_ID:
        if (this.take(2) >= 0) this.startValue(this.pendT)
        return
      case B_STRLEN: {
        const o = this.take(4)
        if (o < 0) return
        const n = this.vb.readInt32BE(o)
        if (n < 0) this.fail(`negative string length ${n}`)
        else this.skip(n)
        return
      }
      case B_LIST: {
        const o = this.take(5)
        if (o < 0) return
        const et = this.vb[o] as number
        const n = this.vb.readInt32BE(o + 1)
        if (!validType(et)) this.fail(`unknown list/set element type ${et}`)
        else if (n < 0) this.fail(`negative list/set size ${n}`)
        else if (FIXED[et] !== 0) this.skip(n * (FIXED[et] as number))
        else if (n === 0) this.next()
        else if (this.push(K_LIST, n, et, 0)) this.next()
        return
      }
      case B_MAP: {
        const o = this.take(6)
        if (o < 0) return
        const kt = this.vb[o] as number
        const vt = this.vb[o + 1] as number
        const n = this.vb.readInt32BE(o + 2)
        if (!validType(kt) || !validType(vt)) this.fail(`unknown map key/value type ${kt}/${vt}`)
        else if (n < 0) this.fail(`negative map size ${n}`)
        else if (FIXED[kt] !== 0 && FIXED[vt] !== 0) this.skip(n * ((FIXED[kt] as number) + (FIXED[vt] as number)))
        else if (n === 0) this.next()
        else if (this.push(K_MAP, 2 * n, kt, vt)) this.next()
        return
      }
      default:
        this.stepEnvelope()
    }
  }

  private stepEnvelope(): void {
    switch (this.state) {
      case B_VERSION: {
        const o = this.take(4)
        if (o < 0) return
        const v = this.vb.readInt32BE(o)
        if (v < 0) {
          if ((v & 0xffff0000) !== (0x80010000 | 0)) {
            this.fail(`bad binary protocol version 0x${(v >>> 0).toString(16)}`)
            return
          }
          this.hType = v & 0xff
          if (!this.checkMessageType(this.hType)) return
          this.strict = true
          this.state = B_NAMELEN
        } else {
          this.strict = false
          if (this.checkNameLen(v)) this.state = B_NAME
        }
        return
      }
      case B_NAMELEN: {
        const o = this.take(4)
        if (o < 0) return
        if (this.checkNameLen(this.vb.readInt32BE(o))) this.state = B_NAME
        return
      }
      case B_NAME:
        if (this.readName()) this.state = this.strict ? B_SEQID : B_OLDTYPE
        return
      case B_OLDTYPE: {
        const o = this.take(1)
        if (o < 0) return
        this.hType = this.vb[o] as number
        if (this.checkMessageType(this.hType)) this.state = B_SEQID
        return
      }
      case B_SEQID: {
        const o = this.take(4)
        if (o < 0) return
        this.hSeqid = this.vb.readInt32BE(o)
        this.emitHeader()
        return
      }
      default:
        this.fail(`internal: bad binary scanner state ${this.state}`)
    }
  }

  protected startValue(t: number): void {
    const f = t < 17 ? (FIXED[t] as number) : 0
    if (f !== 0) {
      this.skipLeft = f
      this.state = S_SKIP
      return
    }
    switch (t) {
      case T_STRING:
        this.state = B_STRLEN
        return
      case T_STRUCT:
        this.pushStruct()
        return
      case T_MAP:
        this.state = B_MAP
        return
      case T_SET:
      case T_LIST:
        this.state = B_LIST
        return
      default:
        this.fail(`unknown type ${t}`)
    }
  }
}
