/**
 * Shared machinery of the resumable Thrift skippers (binary.ts, compact.ts): primitive reads that may
 * straddle chunk boundaries, the explicit value stack and the "what comes next" logic.
 *
 * An engine scans exactly one message (envelope + one STRUCT) per `reset()`. `run(buf, pos, end)`
 * consumes bytes in [pos, end) and returns the new position; it stops early when the message is
 * complete (`done`) or malformed (`err`). Nothing but primitives split across chunks is carried over:
 * at most 16 bytes in `carry`, a varint as an accumulated number, string bodies as a count.
 */

export type ThriftProtocol = 'binary' | 'compact'

export interface MessageHeader {
  name: string
  /** 1 CALL, 2 REPLY, 3 EXCEPTION, 4 ONEWAY */
  type: number
  seqid: number
}

export type ScanErrorCode = 'MALFORMED' | 'TOO_LARGE' | 'TOO_DEEP'
export type ScanError = { code: ScanErrorCode; message: string }

/** Longest method name accepted in an envelope. */
export const MAX_NAME_BYTES = 64 * 1024
/** names up to this long are remembered for the next message (metastore methods are shorter) */
const LAST_NAME_BYTES = 96

// Stack frame kinds.
export const K_STRUCT = 1
export const K_LIST = 2 // LIST and SET
export const K_MAP = 3

// States shared by both engines; protocol-specific states start at 10.
export const S_SKIP = 1 // skip `skipLeft` raw bytes, then next()
export const S_FIELD = 2 // read a struct field header (or STOP)

const EMPTY = Buffer.alloc(0)

export abstract class ScanCore {
  done = false
  err: ScanError | undefined = undefined
  protected state = 0

  // current input window
  protected buf: Buffer = EMPTY
  protected pos = 0
  protected end = 0

  // fixed-size primitive straddling a chunk boundary
  private readonly carry = Buffer.alloc(16)
  protected carryLen = 0
  /** buffer holding the primitive last returned by take() */
  protected vb: Buffer = EMPTY

  // varint accumulator
  protected vVal = 0
  private vAcc = 0
  private vMul = 1
  private vCount = 0

  /** raw bytes still to skip in S_SKIP */
  protected skipLeft = 0
  /** a type remembered between two states (field type before its id, list type before its size) */
  protected pendT = 0
  /** a size remembered between two states (compact map size before its type byte) */
  protected pendN = 0

  // explicit stack: one slot per open struct/container (an engine's fast path works on it directly)
  protected readonly kind: Uint8Array
  protected readonly left: Float64Array
  protected readonly t1: Uint8Array
  protected readonly t2: Uint8Array
  protected depth = 0
  protected readonly maxDepth: number

  // envelope being read
  protected hType = 0
  protected hSeqid = 0
  protected nameLen = 0
  private nameGot = 0
  private nameBuf: Buffer | undefined
  protected hName = ''
  // The last name decoded straight from a window and its bytes: clients repeat a few methods, and
  // comparing a dozen bytes costs less than a UTF-8 decode (a call into C++) per message.
  private lastName = ''
  private readonly lastNameBytes = new Uint8Array(LAST_NAME_BYTES)
  private lastNameLen = -1
  private readonly onHeader: (h: MessageHeader) => void

  constructor(maxDepth: number, onHeader: (h: MessageHeader) => void) {
    this.maxDepth = maxDepth
    this.kind = new Uint8Array(maxDepth + 1)
    this.left = new Float64Array(maxDepth + 1)
    this.t1 = new Uint8Array(maxDepth + 1)
    this.t2 = new Uint8Array(maxDepth + 1)
    this.onHeader = onHeader
  }

  /** the state an engine starts a message in */
  protected abstract initialState(): number
  /** execute one state transition; must consume at least one byte or finish/fail */
  protected abstract step(): void
  /** begin skipping one value of (protocol-specific) type `t` */
  protected abstract startValue(t: number): void

  reset(): void {
    this.done = false
    this.state = this.initialState()
    this.depth = 0
    this.carryLen = 0
    this.vAcc = 0
    this.vMul = 1
    this.vCount = 0
    this.nameGot = 0
    this.skipLeft = 0
  }

  run(buf: Buffer, pos: number, end: number): number {
    this.buf = buf
    this.pos = pos
    this.end = end
    while (!this.done && this.err === undefined && this.pos < this.end) this.step()
    this.buf = EMPTY
    return this.pos
  }

  protected fail(message: string, code: ScanErrorCode = 'MALFORMED'): void {
    if (this.err === undefined) this.err = { code, message }
  }

  /**
   * Take `n` (≤ 16) bytes. Returns the offset of the bytes in `this.vb`, or -1 when the window ended
   * first (the bytes seen so far are carried; call again with the same n in the same state).
   */
  protected take(n: number): number {
    if (this.carryLen === 0 && this.end - this.pos >= n) {
      const o = this.pos
      this.pos += n
      this.vb = this.buf
      return o
    }
    const want = n - this.carryLen
    const avail = this.end - this.pos
    const k = Math.min(avail, want)
    this.buf.copy(this.carry, this.carryLen, this.pos, this.pos + k)
    this.pos += k
    this.carryLen += k
    if (this.carryLen < n) return -1
    this.carryLen = 0
    this.vb = this.carry
    return 0
  }

  /**
   * Read a base-128 varint of at most `maxBytes` bytes. Returns 1 when complete (unsigned value in
   * `vVal`, exact up to 2^53), 0 when the window ended first, -1 (and sets err) when too long.
   */
  protected varint(maxBytes: number): number {
    const buf = this.buf
    while (this.pos < this.end) {
      const b = buf[this.pos++] as number
      if (this.vCount < 7) this.vAcc += (b & 0x7f) * this.vMul
      this.vMul *= 128
      this.vCount++
      if ((b & 0x80) === 0) {
        this.vVal = this.vAcc
        this.vAcc = 0
        this.vMul = 1
        this.vCount = 0
        return 1
      }
      if (this.vCount >= maxBytes) {
        this.fail(`varint longer than ${maxBytes} bytes`)
        return -1
      }
    }
    return 0
  }

  /** Skip `n` raw bytes (then continue with next()). */
  protected skip(n: number): void {
    if (n === 0) {
      this.next()
      return
    }
    this.skipLeft = n
    this.state = S_SKIP
  }

  /** S_SKIP: skip as much as the window holds. */
  protected stepSkip(): void {
    const avail = this.end - this.pos
    if (avail >= this.skipLeft) {
      this.pos += this.skipLeft
      this.skipLeft = 0
      this.next()
    } else {
      this.skipLeft -= avail
      this.pos = this.end
    }
  }

  /** Open a struct or a non-empty container; false (and err) when too deep. */
  protected push(kind: number, left: number, t1: number, t2: number): boolean {
    const d = this.depth
    if (d >= this.maxDepth) {
      this.fail(`nesting deeper than ${this.maxDepth}`, 'TOO_DEEP')
      return false
    }
    this.kind[d] = kind
    this.left[d] = left
    this.t1[d] = t1
    this.t2[d] = t2
    this.depth = d + 1
    return true
  }

  protected pushStruct(): void {
    if (this.push(K_STRUCT, 0, 0, 0)) this.state = S_FIELD
  }

  /** The STOP of the innermost struct was read. */
  protected endStruct(): void {
    this.depth--
    this.next()
  }

  /** A value ended: decide what to read next (field header, next element, or end of message). */
  protected next(): void {
    for (;;) {
      const d = this.depth - 1
      if (d < 0) {
        this.done = true
        return
      }
      const k = this.kind[d]
      if (k === K_STRUCT) {
        this.state = S_FIELD
        return
      }
      const left = this.left[d] as number
      if (left === 0) {
        this.depth = d
        continue
      }
      this.left[d] = left - 1
      // map: `left` counts keys and values from 2n down; even = key, odd = value
      this.startValue((k === K_LIST || left % 2 === 0 ? this.t1[d] : this.t2[d]) as number)
      return
    }
  }

  /** Read the envelope's name (nameLen bytes); true when complete. */
  protected readName(): boolean {
    const n = this.nameLen
    if (this.nameGot === 0 && this.end - this.pos >= n) {
      this.hName = this.nameAt(this.buf, this.pos, n)
      this.pos += n
      return true
    }
    if (this.nameGot === 0 && (this.nameBuf === undefined || this.nameBuf.length < n)) {
      this.nameBuf = Buffer.allocUnsafe(Math.max(n, 256))
    }
    const nb = this.nameBuf as Buffer
    const avail = this.end - this.pos
    const k = Math.min(avail, n - this.nameGot)
    this.buf.copy(nb, this.nameGot, this.pos, this.pos + k)
    this.pos += k
    this.nameGot += k
    if (this.nameGot < n) return false
    this.hName = nb.toString('utf8', 0, n)
    this.nameGot = 0
    return true
  }

  /** The name in buf[pos, pos + n), decoded, or the last one when its bytes are the same. */
  protected nameAt(buf: Buffer, pos: number, n: number): string {
    const last = this.lastNameBytes
    if (n === this.lastNameLen) {
      let i = 0
      while (i < n && buf[pos + i] === last[i]) i++
      if (i === n) return this.lastName
    }
    const name = buf.toString('utf8', pos, pos + n)
    if (n <= last.length) {
      for (let i = 0; i < n; i++) last[i] = buf[pos + i] as number
      this.lastNameLen = n
      this.lastName = name
    }
    return name
  }

  protected checkNameLen(n: number): boolean {
    if (n < 0) this.fail(`negative message name length ${n}`)
    else if (n > MAX_NAME_BYTES) this.fail(`message name length ${n} over ${MAX_NAME_BYTES}`)
    else {
      this.nameLen = n
      return true
    }
    return false
  }

  protected checkMessageType(type: number): boolean {
    if (type >= 1 && type <= 4) return true
    this.fail(`unknown message type ${type}`)
    return false
  }

  /** Envelope complete: report it and start on the message's struct. */
  protected emitHeader(): void {
    this.onHeader({ name: this.hName, type: this.hType, seqid: this.hSeqid })
    this.hName = ''
    this.pushStruct()
  }
}
