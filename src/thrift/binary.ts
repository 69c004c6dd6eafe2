/**
 * Resumable skipper for TBinaryProtocol messages: strict envelope (`0x8001 00 type`, name, seqid) or
 * the old non-strict one (name, type byte, seqid), then one STRUCT.
 *
 * Two gears. The fast path (`fast`) runs at every field or element boundary: it skips whole fields
 * and elements that lie in the current window with inline big-endian reads, pushing and popping
 * the explicit stack itself, so it never re-reads anything and never has to undo. At the first
 * value that does not fit (or does not look right) it hands that value to the byte-exact state
 * machine (`step`), which carries it across the chunk boundary (or reports the error) and gives
 * control back at the next boundary. The fast path also exists in WebAssembly (binary-wasm.ts,
 * same contract, about twice as fast), used for large windows.
 */
import { WASM_MAX_DEPTH, wasmFastPath, type WasmFastPath } from './binary-wasm.js'
import {
  K_LIST,
  K_MAP,
  K_STRUCT,
  MAX_NAME_BYTES,
  S_FIELD,
  S_SKIP,
  ScanCore,
  type MessageHeader,
} from './core.js'

// Trap: these tables and constants stay in this module. Imported from another one, the fast path
// below ran about 20 % slower (0.57 against 0.46 CPU-s/GiB, measured): V8 reads imported bindings
// through their module cell instead of folding them.

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
/** at a container element boundary (the fast path dispatches it) */
const B_ELEM = 19

// Per type byte, for the fast path: its class, and the wire size of the fixed-size ones.
const C_FIXED = 1
const C_STRING = 2
const C_STRUCT = 3
const C_MAP = 4
const C_LIST = 5 // LIST and SET
const CLASS = new Uint8Array(256)
const SIZE = new Uint8Array(256)
for (let t = 0; t < 17; t++) {
  if (FIXED[t] !== 0) {
    CLASS[t] = C_FIXED
    SIZE[t] = FIXED[t] as number
  }
}
CLASS[T_STRING] = C_STRING
CLASS[T_STRUCT] = C_STRUCT
CLASS[T_MAP] = C_MAP
CLASS[T_SET] = C_LIST
CLASS[T_LIST] = C_LIST

/**
 * The same fast path in WebAssembly (binary-wasm.ts), for large windows: set up when the first
 * binary engine is made; stays undefined without wasm.
 */
let wasm: WasmFastPath | undefined
/** default `wasmFrom`: windows at least this long go to the wasm fast path */
export const WASM_FROM_BYTES = 4096

export class BinaryEngine extends ScanCore {
  private strict = true
  /** windows with at least this many bytes left go to the wasm fast path (Infinity: never) */
  private readonly wasmFrom: number
  /** the current window lies in wasm memory (a read buffer there): wasm walks it in place */
  private inWasm = false

  /** `wasmFrom`: see ThriftScannerOptions (tests run both fast paths with 0 and Infinity) */
  constructor(maxDepth: number, onHeader: (h: MessageHeader) => void, wasmFrom = WASM_FROM_BYTES) {
    super(maxDepth, onHeader)
    // wasmFastPath() tries once per process; the tables are copied when it first succeeds
    if (wasm === undefined) wasm = wasmFastPath()?.withTables(CLASS, SIZE)
    this.wasmFrom = wasm !== undefined && maxDepth <= WASM_MAX_DEPTH ? wasmFrom : Infinity
    this.reset()
  }

  override run(buf: Buffer, pos: number, end: number): number {
    if (wasm !== undefined) {
      wasm.forget(this)
      this.inWasm = this.wasmFrom !== Infinity && wasm.contains(buf)
    }
    return super.run(buf, pos, end)
  }

  protected initialState(): number {
    return B_VERSION
  }

  protected step(): void {
    switch (this.state) {
      case S_SKIP:
        this.stepSkip()
        return
      case S_FIELD:
      case B_ELEM: {
        if (this.fast()) return
        // at a field header that is cut by the window's end, or not valid: byte by byte
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
        else if (FIXED[kt] !== 0 && FIXED[vt] !== 0)
          this.skip(n * ((FIXED[kt] as number) + (FIXED[vt] as number)))
        else if (n === 0) this.next()
        else if (this.push(K_MAP, 2 * n, kt, vt)) this.next()
        return
      }
      case B_VERSION:
        if (this.carryLen === 0 && this.wholeEnvelope()) return
        this.stepEnvelope()
        return
      default:
        this.stepEnvelope()
    }
  }

  /**
   * A strict envelope that lies whole in the window, read in one go (the states below would take
   * four steps). Returns false, consuming nothing, for anything else (cut, non-strict, or invalid):
   * the state machine then reads it, and reports what is wrong.
   */
  private wholeEnvelope(): boolean {
    const b = this.buf
    const p = this.pos
    const avail = this.end - p
    if (avail < 12) return false
    const v = b.readInt32BE(p)
    const type = v & 0xff
    if ((v & 0xffff0000) !== (0x80010000 | 0) || type < 1 || type > 4) return false
    const n = b.readInt32BE(p + 4)
    if (n < 0 || n > MAX_NAME_BYTES || avail < 12 + n) return false
    this.strict = true
    this.hType = type
    this.nameLen = n
    this.hName = this.nameAt(b, p + 8, n)
    this.hSeqid = b.readInt32BE(p + 8 + n)
    this.pos = p + 12 + n
    this.emitHeader()
    return true
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

  /** Like ScanCore.next, but a container's next element goes to the fast path (state B_ELEM). */
  protected override next(): void {
    for (;;) {
      const d = this.depth - 1
      if (d < 0) {
        this.done = true
        return
      }
      if (this.kind[d] === K_STRUCT) {
        this.state = S_FIELD
        return
      }
      if (this.left[d] === 0) {
        this.depth = d
        continue
      }
      this.state = B_ELEM
      return
    }
  }

  /**
   * The fast path, at a field (S_FIELD) or element (B_ELEM) boundary. Returns false only when it
   * consumed nothing and stopped at a field header (the caller then reads that header byte by byte).
   */
  private fast(): boolean {
    if (
      wasm !== undefined &&
      (this.inWasm || this.end - this.pos >= this.wasmFrom || wasm.holds(this, this.pos))
    )
      return this.fastWasm(wasm)
    const b = this.buf
    // one unaligned big-endian load per length: about 15 % less scanner CPU than four byte loads.
    // Trap: a view kept in a field (to spare this allocation) made large walks 50 % slower.
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
    const end = this.end
    const kind = this.kind
    const left = this.left
    const t1 = this.t1
    const t2 = this.t2
    const max = this.maxDepth
    const start = this.pos
    let p = start
    let depth = this.depth
    outer: for (;;) {
      const d = depth - 1
      if (d < 0) {
        this.done = true
        break
      }
      let t: number
      if (kind[d] === K_STRUCT) {
        // this struct's fields; fixed-size and string values are skipped right here
        for (;;) {
          if (p + 3 > end) {
            if (p < end && b[p] === 0) {
              p++
              depth = d
              continue outer
            }
            return this.atField(p, depth, start)
          }
          t = b[p] as number
          const c = CLASS[t] as number
          if (c === C_FIXED) {
            const q = p + 3 + (SIZE[t] as number)
            if (q <= end) {
              p = q
              continue
            }
          } else if (c === C_STRING) {
            if (p + 7 <= end) {
              const q = p + 7 + dv.getInt32(p + 3)
              if (q >= p + 7 && q <= end) {
                p = q
                continue
              }
            }
          } else if (t === 0) {
            p++
            depth = d
            continue outer
          } else if (c === 0) {
            return this.atField(p, depth, start)
          }
          p += 3
          break
        }
      } else {
        let l = left[d] as number
        const k = kind[d]
        const kt = t1[d] as number
        // runs of string elements (list<string>, map<string,string>) are skipped right here
        if (CLASS[kt] === C_STRING && (k === K_LIST || CLASS[t2[d] as number] === C_STRING)) {
          while (l > 0 && p + 4 <= end) {
            const q = p + 4 + dv.getInt32(p)
            if (q < p + 4 || q > end) break
            p = q
            l--
          }
        }
        if (l === 0) {
          left[d] = 0
          depth = d
          continue
        }
        left[d] = l - 1
        t = k === K_LIST || l % 2 === 0 ? kt : (t2[d] as number)
      }
      // a value of type t (valid) starts at p
      const c = CLASS[t] as number
      if (c === C_FIXED) {
        const q = p + (SIZE[t] as number)
        if (q <= end) {
          p = q
          continue
        }
      } else if (c === C_STRING) {
        if (p + 4 <= end) {
          const q = p + 4 + dv.getInt32(p)
          if (q >= p + 4 && q <= end) {
            p = q
            continue
          }
        }
      } else if (c === C_STRUCT) {
        if (depth < max) {
          kind[depth] = K_STRUCT
          depth++
          continue
        }
      } else if (c === C_MAP) {
        if (p + 6 <= end) {
          const mk = b[p] as number
          const mv = b[p + 1] as number
          const n = dv.getInt32(p + 2)
          if (CLASS[mk] !== 0 && CLASS[mv] !== 0 && n >= 0) {
            const fk = SIZE[mk] as number
            const fv = SIZE[mv] as number
            if (fk !== 0 && fv !== 0) {
              if (p + 6 + n * (fk + fv) <= end) {
                p += 6 + n * (fk + fv)
                continue
              }
            } else if (n === 0) {
              p += 6
              continue
            } else if (depth < max) {
              kind[depth] = K_MAP
              left[depth] = 2 * n
              t1[depth] = mk
              t2[depth] = mv
              depth++
              p += 6
              continue
            }
          }
        }
      } else if (p + 5 <= end) {
        // LIST or SET
        const et = b[p] as number
        const n = dv.getInt32(p + 1)
        if (CLASS[et] !== 0 && n >= 0) {
          const fe = SIZE[et] as number
          if (fe !== 0) {
            if (p + 5 + n * fe <= end) {
              p += 5 + n * fe
              continue
            }
          } else if (n === 0) {
            p += 5
            continue
          } else if (depth < max) {
            kind[depth] = K_LIST
            left[depth] = n
            t1[depth] = et
            depth++
            p += 5
            continue
          }
        }
      }
      // this value does not fit in the window (or is malformed, or too deep): byte by byte
      this.pos = p
      this.depth = depth
      this.startValue(t)
      return true
    }
    this.pos = p
    this.depth = depth
    return true
  }

  /** The fast path in wasm (same contract, see binary-wasm.ts). */
  private fastWasm(w: WasmFastPath): boolean {
    const start = this.pos
    const code = w.scan(
      this,
      this.buf,
      start,
      this.end,
      this.depth,
      this.maxDepth,
      this.kind,
      this.left,
      this.t1,
      this.t2,
    )
    if (code === 1) return this.atField(w.p, w.depth, start)
    this.pos = w.p
    this.depth = w.depth
    if (code === 0) this.done = true
    else this.startValue(w.vt)
    return true
  }

  /** Leave the fast path at a field header that is cut by the window's end or not valid. */
  private atField(p: number, depth: number, start: number): boolean {
    this.state = S_FIELD
    this.pos = p
    this.depth = depth
    return p > start
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
