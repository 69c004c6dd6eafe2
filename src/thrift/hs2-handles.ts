/**
 * Reads what session affinity needs from one TCLIService message (TBinaryProtocol, one message per
 * HTTP body; hive-http-mode.md §4): the method name and the session or operation handle's GUID.
 *
 * Contract: pure, never throws. It is given the prefix of a body received so far and answers
 * `more` until that prefix holds what it looks for; the caller feeds a longer prefix and asks
 * again (bodies are small where the handle is: it comes first, after the envelope, in every
 * request, and after a short TStatus in a response). Fields are walked by id and type, never by
 * offset; anything else is skipped. The walk stops as soon as the handle is read, so a 10 MB
 * statement or result is never looked at past its first bytes.
 */

/** Thrift binary protocol field types. */
export const BINARY_TYPE = {
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
  UUID: 16,
} as const

export const MESSAGE = { CALL: 1, REPLY: 2, EXCEPTION: 3, ONEWAY: 4 } as const

/** Requests whose `req` struct has a TSessionHandle as field 1. */
const SESSION_REQUESTS: ReadonlySet<string> = new Set([
  'CloseSession',
  'GetInfo',
  'ExecuteStatement',
  'GetTypeInfo',
  'GetCatalogs',
  'GetSchemas',
  'GetTables',
  'GetTableTypes',
  'GetColumns',
  'GetFunctions',
  'GetPrimaryKeys',
  'GetCrossReference',
  'GetDelegationToken',
  'CancelDelegationToken',
  'RenewDelegationToken',
  'SetClientInfo',
  'DownloadData',
  'UploadData',
])

/** Requests whose `req` struct has a TOperationHandle as field 1. */
const OPERATION_REQUESTS: ReadonlySet<string> = new Set([
  'GetOperationStatus',
  'CancelOperation',
  'CloseOperation',
  'GetResultSetMetadata',
  'FetchResults',
  'GetQueryId',
])

/** Responses that carry a TOperationHandle as field 2 of their Resp struct. */
const OPERATION_RESPONSES: ReadonlySet<string> = new Set([
  'ExecuteStatement',
  'GetTypeInfo',
  'GetCatalogs',
  'GetSchemas',
  'GetTables',
  'GetTableTypes',
  'GetColumns',
  'GetFunctions',
  'GetPrimaryKeys',
  'GetCrossReference',
  'UploadData',
  'DownloadData',
])

/** Whether `method` is a TCLIService method (bounds metric labels: anything else is `other`). */
export function isTcliMethod(method: string): boolean {
  return method === 'OpenSession' || SESSION_REQUESTS.has(method) || OPERATION_REQUESTS.has(method)
}

/** Whether a response to `method` can carry a handle worth reading (others stream untouched). */
export function responseHasHandle(method: string): boolean {
  return method === 'OpenSession' || OPERATION_RESPONSES.has(method)
}

export type HandleKind = 'session' | 'operation'

/** A session or operation handle: its kind and GUID in hex. */
export interface Hs2Handle {
  kind: HandleKind
  guid: string
}

export interface Envelope {
  method: string
  /** MESSAGE.* */
  type: number
  seqid: number
}

export type RequestRead =
  | { state: 'more' }
  | { state: 'bad'; reason: string }
  | {
      state: 'done'
      envelope: Envelope
      /** the request's handle; undefined for OpenSession and unknown methods */
      handle: Hs2Handle | undefined
    }

export type ResponseRead =
  | { state: 'more' }
  | { state: 'bad'; reason: string }
  /** `guid`: the session GUID of an OpenSession answer, or the operation GUID of one that made an operation */
  | { state: 'done'; envelope: Envelope; handle: Hs2Handle | undefined }

/** Deepest nesting skipped (TCLIService values are shallow; a bomb is refused, not followed). */
const MAX_DEPTH = 32
/** Longest method name believed. */
const MAX_NAME = 128

/** Thrown inside the walk when the prefix ends first; never escapes this module. */
const MORE = Symbol('more')
class Bad {
  constructor(readonly reason: string) {}
}

/**
 * Every TCLIService method name, so a name read from a message is this one string (its hash kept
 * for the Set and Map lookups every call makes) rather than a new one per call.
 */
const METHOD_NAMES: ReadonlyMap<string, string> = new Map(
  [...SESSION_REQUESTS, ...OPERATION_REQUESTS, ...OPERATION_RESPONSES, 'OpenSession'].map((m) => [
    m,
    m,
  ]),
)

class Cursor {
  pos = 0
  readonly buf: Uint8Array
  /** the same bytes as a Buffer (a view, no copy) for its string decoders */
  readonly #view: Buffer

  constructor(buf: Uint8Array) {
    this.buf = buf
    this.#view = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length)
  }

  /** `n` bytes as a string in `encoding` (no copy of the bytes first). */
  text(n: number, encoding: 'latin1' | 'utf8' | 'hex'): string {
    this.need(n)
    const s = this.#view.toString(encoding, this.pos, this.pos + n)
    this.pos += n
    return s
  }

  /** A method name: a known one as its interned string, anything else decoded as UTF-8. */
  methodName(n: number): string {
    const at = this.pos
    const known = METHOD_NAMES.get(this.text(n, 'latin1'))
    if (known !== undefined) return known
    this.pos = at
    return this.text(n, 'utf8')
  }

  need(n: number): void {
    if (this.pos + n > this.buf.length) throw MORE
  }
  u8(): number {
    this.need(1)
    return this.buf[this.pos++] as number
  }
  i16(): number {
    this.need(2)
    const b = this.buf
    const v = ((b[this.pos] as number) << 8) | (b[this.pos + 1] as number)
    this.pos += 2
    return (v << 16) >> 16
  }
  i32(): number {
    this.need(4)
    const b = this.buf
    const p = this.pos
    this.pos += 4
    return (
      ((b[p] as number) << 24) |
      ((b[p + 1] as number) << 16) |
      ((b[p + 2] as number) << 8) |
      (b[p + 3] as number)
    )
  }
  skipBytes(n: number): void {
    this.need(n)
    this.pos += n
  }
  length(what: string): number {
    const n = this.i32()
    if (n < 0) throw new Bad(`negative ${what} length ${n}`)
    return n
  }

  envelope(): Envelope {
    const first = this.i32()
    if (first < 0) {
      // strict: 0x8001 version, then the type in the low byte
      if ((first & 0xffff0000) !== (0x80010000 | 0)) throw new Bad('not a Thrift binary message')
      const n = this.length('name')
      if (n > MAX_NAME) throw new Bad(`method name of ${n} bytes`)
      const method = this.methodName(n)
      return { method, type: first & 0xff, seqid: this.i32() }
    }
    // old non-strict form: name length, name, type byte, seqid
    if (first > MAX_NAME) throw new Bad('not a Thrift binary message')
    const method = this.methodName(first)
    const type = this.u8()
    return { method, type, seqid: this.i32() }
  }

  /** Read field headers of the current struct until field `id` of `type`; false at its STOP. */
  seek(id: number, type: number, depth: number): boolean {
    for (;;) {
      const t = this.u8()
      if (t === BINARY_TYPE.STOP) return false
      const fid = this.i16()
      if (fid === id && t === type) return true
      this.skip(t, depth)
    }
  }

  skip(t: number, depth: number): void {
    if (depth > MAX_DEPTH) throw new Bad(`nesting deeper than ${MAX_DEPTH}`)
    switch (t) {
      case BINARY_TYPE.BOOL:
      case BINARY_TYPE.BYTE:
        return this.skipBytes(1)
      case BINARY_TYPE.I16:
        return this.skipBytes(2)
      case BINARY_TYPE.I32:
        return this.skipBytes(4)
      case BINARY_TYPE.DOUBLE:
      case BINARY_TYPE.I64:
        return this.skipBytes(8)
      case BINARY_TYPE.UUID:
        return this.skipBytes(16)
      case BINARY_TYPE.STRING:
        return this.skipBytes(this.length('string'))
      case BINARY_TYPE.STRUCT:
        // an id no field has: every field is skipped up to the STOP
        this.seek(-1, -1, depth + 1)
        return
      case BINARY_TYPE.MAP: {
        const k = this.u8()
        const v = this.u8()
        const n = this.length('map')
        for (let i = 0; i < n; i++) {
          this.skip(k, depth + 1)
          this.skip(v, depth + 1)
        }
        return
      }
      case BINARY_TYPE.SET:
      case BINARY_TYPE.LIST: {
        const e = this.u8()
        const n = this.length('list')
        for (let i = 0; i < n; i++) this.skip(e, depth + 1)
        return
      }
      default:
        throw new Bad(`unknown field type ${t}`)
    }
  }

  /** At the start of a TSessionHandle/TOperationHandle struct: field 1 THandleIdentifier, field 1 guid. */
  handleGuid(): string | undefined {
    if (!this.seek(1, BINARY_TYPE.STRUCT, 2)) return undefined
    if (!this.seek(1, BINARY_TYPE.STRING, 3)) return undefined
    const n = this.length('guid')
    if (n === 0 || n > 64) throw new Bad(`handle GUID of ${n} bytes`)
    return this.text(n, 'hex')
  }
}

function walk<R>(
  body: Uint8Array,
  fn: (c: Cursor) => R,
): R | { state: 'more' } | { state: 'bad'; reason: string } {
  try {
    return fn(new Cursor(body))
  } catch (err) {
    if (err === MORE) return { state: 'more' }
    if (err instanceof Bad) return { state: 'bad', reason: err.reason }
    throw err
  }
}

/** The method and (when the method has one) the handle of a request body's prefix. */
export function readHs2Request(body: Uint8Array): RequestRead {
  return walk(body, (c): RequestRead => {
    const envelope = c.envelope()
    if (envelope.type !== MESSAGE.CALL && envelope.type !== MESSAGE.ONEWAY)
      throw new Bad(`message type ${envelope.type} is not a call`)
    const kind: HandleKind | undefined = SESSION_REQUESTS.has(envelope.method)
      ? 'session'
      : OPERATION_REQUESTS.has(envelope.method)
        ? 'operation'
        : undefined
    if (kind === undefined) return { state: 'done', envelope, handle: undefined }
    // <Method>_args { 1: <Method>Req req { 1: handle } }
    if (!c.seek(1, BINARY_TYPE.STRUCT, 0) || !c.seek(1, BINARY_TYPE.STRUCT, 1))
      return { state: 'done', envelope, handle: undefined }
    const guid = c.handleGuid()
    return { state: 'done', envelope, handle: guid === undefined ? undefined : { kind, guid } }
  })
}

/**
 * Whether an `ExecuteStatement` request runs asynchronously (`TExecuteStatementReq.runAsync`,
 * field 4, default false): HiveServer2 answers an asynchronous one at once with an operation
 * handle, a synchronous one only when its query is done. `undefined` when the body (prefix) does
 * not say (not an ExecuteStatement, cut short, malformed). Walks the whole statement string.
 */
export function executeRunsAsync(body: Uint8Array): boolean | undefined {
  const r = walk(body, (c): { state: 'done'; async: boolean | undefined } => {
    const envelope = c.envelope()
    if (envelope.method !== 'ExecuteStatement' || envelope.type !== MESSAGE.CALL)
      return { state: 'done', async: undefined }
    // ExecuteStatement_args { 1: TExecuteStatementReq req { ..., 4: bool runAsync } }
    if (!c.seek(1, BINARY_TYPE.STRUCT, 0)) return { state: 'done', async: undefined }
    if (!c.seek(4, BINARY_TYPE.BOOL, 1)) return { state: 'done', async: false }
    return { state: 'done', async: c.u8() !== 0 }
  })
  return r.state === 'done' ? r.async : undefined
}

/**
 * The handle a response body's prefix hands out: the session of a successful OpenSession, the
 * operation of a call that made one. EXCEPTION replies and failed calls carry none.
 */
export function readHs2Response(body: Uint8Array): ResponseRead {
  return walk(body, (c): ResponseRead => {
    const envelope = c.envelope()
    if (envelope.type !== MESSAGE.REPLY) return { state: 'done', envelope, handle: undefined }
    const m = envelope.method
    const kind: HandleKind | undefined =
      m === 'OpenSession' ? 'session' : OPERATION_RESPONSES.has(m) ? 'operation' : undefined
    if (kind === undefined) return { state: 'done', envelope, handle: undefined }
    // <Method>_result { 0: <Method>Resp success { 1: status, 2 or 3: handle } }
    if (
      !c.seek(0, BINARY_TYPE.STRUCT, 0) ||
      !c.seek(kind === 'session' ? 3 : 2, BINARY_TYPE.STRUCT, 1)
    )
      return { state: 'done', envelope, handle: undefined }
    const guid = c.handleGuid()
    return { state: 'done', envelope, handle: guid === undefined ? undefined : { kind, guid } }
  })
}

// ---------------------------------------------------------------------------------------------
// Replies the proxy writes itself

/** Resp structs with a required field besides the status: they get a TApplicationException instead. */
const NO_STATUS_REPLY: ReadonlySet<string> = new Set([
  'GetInfo',
  'GetQueryId',
  'UploadData',
  'DownloadData',
  'OpenSession',
])

const ERROR_STATUS = 3
/** TApplicationException.INTERNAL_ERROR */
const INTERNAL_ERROR = 6

class Writer {
  readonly parts: Buffer[] = []
  u8(v: number): void {
    this.parts.push(Buffer.of(v))
  }
  i16(v: number): void {
    const b = Buffer.alloc(2)
    b.writeInt16BE(v)
    this.parts.push(b)
  }
  i32(v: number): void {
    const b = Buffer.alloc(4)
    b.writeInt32BE(v)
    this.parts.push(b)
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8')
    this.i32(b.length)
    this.parts.push(b)
  }
  field(type: number, id: number): void {
    this.u8(type)
    this.i16(id)
  }
  envelope(e: Envelope): void {
    this.i32(0x80010000 | e.type | 0)
    this.str(e.method)
    this.i32(e.seqid)
  }
  done(): Buffer {
    return Buffer.concat(this.parts)
  }
}

/**
 * The answer to `call` that a client shows as an error: a REPLY whose Resp has an ERROR_STATUS with
 * `message`, `sqlState` and `errorCode` (what HiveServer2 itself sends for an invalid handle), or,
 * for methods whose Resp cannot be written without other required fields, an EXCEPTION message
 * (TApplicationException INTERNAL_ERROR) with the same text.
 */
export function hs2ErrorReply(
  call: Envelope,
  message: string,
  sqlState: string,
  errorCode: number,
): Buffer {
  const w = new Writer()
  if (NO_STATUS_REPLY.has(call.method)) {
    w.envelope({ method: call.method, type: MESSAGE.EXCEPTION, seqid: call.seqid })
    w.field(BINARY_TYPE.STRING, 1)
    w.str(message)
    w.field(BINARY_TYPE.I32, 2)
    w.i32(INTERNAL_ERROR)
    w.u8(BINARY_TYPE.STOP)
    return w.done()
  }
  w.envelope({ method: call.method, type: MESSAGE.REPLY, seqid: call.seqid })
  w.field(BINARY_TYPE.STRUCT, 0) // success
  w.field(BINARY_TYPE.STRUCT, 1) // status
  w.field(BINARY_TYPE.I32, 1)
  w.i32(ERROR_STATUS)
  w.field(BINARY_TYPE.STRING, 3)
  w.str(sqlState)
  w.field(BINARY_TYPE.I32, 4)
  w.i32(errorCode)
  w.field(BINARY_TYPE.STRING, 5)
  w.str(message)
  w.u8(BINARY_TYPE.STOP) // TStatus
  w.u8(BINARY_TYPE.STOP) // Resp
  w.u8(BINARY_TYPE.STOP) // result
  return w.done()
}
