/**
 * A small hand-written Thrift service definition for Hive Metastore tests (no Hive .thrift file and
 * no generated code: hive-ha-semantics.md §5.1, §6).
 *
 * It covers a handful of ThriftHiveMetastore methods, shaped like Hive's (an args struct per call;
 * a result struct with field 0 = success and fields 1.. = declared exceptions), encoded through the
 * `thrift` package's own protocol classes (`writeMessageBegin`, `writeStructBegin`, ... and the
 * `read*` counterparts), so it works with TBinaryProtocol or TCompactProtocol over
 * TBufferedTransport (unframed) or TFramedTransport.
 *
 * Field ids follow the layout of Hive's structs for the fields kept here (written from memory, not
 * copied; a proxy must not depend on them anyway — it only reads the envelope):
 *
 * | struct / args / result        | fields (id: name type)                                                             |
 * |-------------------------------|------------------------------------------------------------------------------------|
 * | Database                      | 1 name str, 2 description str, 3 locationUri str, 4 parameters map<str,str>        |
 * | FieldSchema                   | 1 name str, 2 type str, 3 comment str                                              |
 * | StorageDescriptor             | 1 cols list<FieldSchema>, 2 location str, 5 compressed bool, 6 numBuckets i32, 10 parameters map |
 * | Partition                     | 1 values list<str>, 2 dbName, 3 tableName, 4 createTime i32, 5 lastAccessTime i32, 6 sd struct, 7 parameters map |
 * | *Exception                    | 1 message str                                                                      |
 * | set_ugi args / result         | 1 user_name str, 2 group_names list<str> / 0 list<str>, 1 MetaException            |
 * | setMetaConf args / result     | 1 key, 2 value / 1 MetaException                                                   |
 * | getMetaConf args / result     | 1 key / 0 str, 1 MetaException                                                     |
 * | get_database args / result    | 1 name / 0 Database, 1 NoSuchObjectException, 2 MetaException                      |
 * | get_all_databases             | (none) / 0 list<str>, 1 MetaException                                              |
 * | create_database               | 1 database Database / 1 AlreadyExistsException, 2 MetaException                    |
 * | get_partitions                | 1 db_name, 2 tbl_name, 3 max_parts i16 / 0 list<Partition>, 1 NoSuchObjectException, 2 MetaException |
 * | shutdown (fb303, oneway)      | (none) / no result, no reply                                                       |
 *
 * Wire facts (message type in the envelope: CALL 1, REPLY 2, EXCEPTION 3, ONEWAY 4):
 * - binary strict: i32 `0x8001_00TT` (bytes 80 01 00 TT), i32 name length, name, i32 seqid, struct;
 * - compact: byte 0x82, byte `(TT << 5) | 1` (CALL 0x21, REPLY 0x41, EXCEPTION 0x61, ONEWAY 0x81),
 *   varint seqid, varint name length, name, struct;
 * - framed: a 4-byte big-endian length in front of each message.
 * `shutdown` is sent with message type ONEWAY (4) and the server never replies.
 *
 * Traps of thrift 0.24's node library met here (see also test-env.md §6):
 * - TApplicationException#write writes `this.code` (never set) instead of `this.type`, so the
 *   exception type is lost on the wire: writeApplicationException() below writes the struct itself.
 * - TCompactProtocol keeps per-instance state (field-id stack, and `_seqid`, which writeMessageEnd
 *   never clears: a reused instance logs "SeqId already set"): use one protocol object per message.
 * - thrift's Connection keys replies by `-rseqid`, so a reply with seqid 0 is silently dropped:
 *   clients must number calls from 1 (HmsServiceClient does, like Java's TServiceClient). A reply
 *   whose seqid no call awaits is dropped silently too (the call would just time out):
 *   HmsServiceClient reports it through `onUnexpected`, and checks the method name.
 * - thrift's Connection re-parses an unframed reply from its start on every 'data' event
 *   (quadratic for large answers); hms-client coalesces reads to soften it.
 * - Non-strict binary envelopes come back with `fname` as a Buffer; readMessage() stringifies it.
 */
import { createRequire } from 'node:module'
import type { Int64 } from 'thrift'

const require = createRequire(import.meta.url)

// ---------------------------------------------------------------------------------------------
// The parts of the thrift 0.24 runtime used by the test helpers (@types/thrift 0.10 is outdated,
// gotcha H5: it lacks InputBufferUnderrunError and the transports' buffer fields).

/** The writer half of a thrift 0.24 protocol (writeUuid is missing from @types/thrift 0.10). */
export interface TWriter {
  flush(): void
  writeMessageBegin(name: string, type: number, seqid: number): void
  writeMessageEnd(): void
  writeStructBegin(name: string): void
  writeStructEnd(): void
  writeFieldBegin(name: string, type: number, id: number): void
  writeFieldEnd(): void
  writeFieldStop(): void
  writeMapBegin(ktype: number, vtype: number, size: number): void
  writeMapEnd(): void
  writeListBegin(etype: number, size: number): void
  writeListEnd(): void
  writeSetBegin(etype: number, size: number): void
  writeSetEnd(): void
  writeBool(v: boolean): void
  writeByte(v: number): void
  writeI16(v: number): void
  writeI32(v: number): void
  writeI64(v: number | Int64): void
  writeDouble(v: number): void
  writeString(v: string): void
  writeBinary(v: Buffer): void
  writeUuid(v: string): void
}

export interface TProtocol extends TWriter {
  readMessageBegin(): { fname: string | Buffer; mtype: number; rseqid: number }
  readMessageEnd(): void
  readStructBegin(): unknown
  readStructEnd(): void
  readFieldBegin(): { fname: string | null; ftype: number; fid: number }
  readFieldEnd(): void
  readMapBegin(): { ktype: number; vtype: number; size: number }
  readMapEnd(): void
  readListBegin(): { etype: number; size: number }
  readListEnd(): void
  readBool(): boolean
  readByte(): number
  readI16(): number
  readI32(): number
  readString(): string
  skip(type: number): void
}

export interface TTransport {
  flush(): void
  write(buf: Buffer | string): void
}

/** TBufferedTransport's internal read fields (not in @types/thrift). */
interface TBufferedTransportInternals extends TTransport {
  inBuf: Buffer
  readCursor: number
  writeCursor: number
}

/** new Proto(trans, strictRead?, strictWrite?) — the extra arguments only matter for TBinaryProtocol */
export type ProtocolClass = new (
  trans: TTransport,
  strictRead?: boolean,
  strictWrite?: boolean,
) => TProtocol

export interface TransportClass {
  new (buffer?: Buffer, onFlush?: (msg: Buffer, seqid?: number) => void): TTransport
  receiver(
    callback: (trans: TTransport, seqid?: number) => void,
    seqid?: number,
    maxLength?: number,
  ): (data: Buffer) => void
}

export interface TApplicationExceptionLike extends Error {
  type: number
  read(input: TProtocol): void
}

export interface ThriftRuntime {
  Thrift: {
    Type: Record<string, number>
    MessageType: { CALL: number; REPLY: number; EXCEPTION: number; ONEWAY: number }
    TApplicationException: new (type?: number, message?: string) => TApplicationExceptionLike
    TApplicationExceptionType: Record<string, number>
  }
  TBinaryProtocol: ProtocolClass
  TCompactProtocol: ProtocolClass
  TBufferedTransport: TransportClass
  TFramedTransport: TransportClass
  InputBufferUnderrunError: new (message?: string) => Error
  createConnection(
    host: string,
    port: number,
    options: { transport: TransportClass; protocol: ProtocolClass },
  ): unknown
  createSSLConnection(
    host: string,
    port: number,
    options: {
      transport: TransportClass
      protocol: ProtocolClass
    } & import('node:tls').ConnectionOptions,
  ): unknown
  createClient(service: unknown, connection: unknown): unknown
  createServer(
    service: unknown,
    handler: unknown,
    options: { transport: TransportClass; protocol: ProtocolClass },
  ): import('node:net').Server
}

/** The thrift package (0.24), typed locally. */
export const thrift = require('thrift') as ThriftRuntime

// ---------------------------------------------------------------------------------------------
// Constants

/** Thrift field/element type ids (same numbers in both protocols' TType API). */
export const TType = {
  STOP: 0,
  BOOL: 2,
  BYTE: 3,
  I16: 6,
  I32: 8,
  I64: 10,
  STRING: 11,
  STRUCT: 12,
  MAP: 13,
  SET: 14,
  LIST: 15,
} as const

/** Message types as they appear in the envelope. */
export const MessageType = { CALL: 1, REPLY: 2, EXCEPTION: 3, ONEWAY: 4 } as const

/** TApplicationException.type values. */
export const AppExceptionType = {
  UNKNOWN: 0,
  UNKNOWN_METHOD: 1,
  INVALID_MESSAGE_TYPE: 2,
  WRONG_METHOD_NAME: 3,
  BAD_SEQUENCE_ID: 4,
  MISSING_RESULT: 5,
  INTERNAL_ERROR: 6,
  PROTOCOL_ERROR: 7,
} as const

export type ProtocolName = 'binary' | 'compact'

/** How bytes travel: which protocol, framed (TFramedTransport) or not (TBufferedTransport). */
export interface WireFormat {
  protocol?: ProtocolName
  framed?: boolean
}

export function protocolClass(name: ProtocolName = 'binary'): ProtocolClass {
  return name === 'compact' ? thrift.TCompactProtocol : thrift.TBinaryProtocol
}

export function transportClass(framed = false): TransportClass {
  return framed ? thrift.TFramedTransport : thrift.TBufferedTransport
}

// ---------------------------------------------------------------------------------------------
// Data types

export interface FieldSchema {
  name?: string
  type?: string
  comment?: string
}
export interface StorageDescriptor {
  cols?: FieldSchema[]
  location?: string
  compressed?: boolean
  numBuckets?: number
  parameters?: Record<string, string>
}
export interface Partition {
  values?: string[]
  dbName?: string
  tableName?: string
  createTime?: number
  lastAccessTime?: number
  sd?: StorageDescriptor
  parameters?: Record<string, string>
}
export interface Database {
  name?: string
  description?: string
  locationUri?: string
  parameters?: Record<string, string>
}
/** MetaException, NoSuchObjectException, AlreadyExistsException */
export interface HmsExceptionFields {
  message?: string
}

/** Args and result of each method, for typed calls. */
export interface HmsMethodTypes {
  set_ugi: { args: { user_name: string; group_names: string[] }; result: string[] }
  setMetaConf: { args: { key: string; value: string }; result: undefined }
  getMetaConf: { args: { key: string }; result: string }
  get_database: { args: { name: string }; result: Database }
  get_all_databases: { args: Record<string, never>; result: string[] }
  create_database: { args: { database: Database }; result: undefined }
  get_partitions: {
    args: { db_name: string; tbl_name: string; max_parts: number }
    result: Partition[]
  }
  shutdown: { args: Record<string, never>; result: undefined }
  /** fb303: fb_status (2 = ALIVE) */
  getStatus: { args: Record<string, never>; result: number }
}
export type HmsMethodName = keyof HmsMethodTypes

// ---------------------------------------------------------------------------------------------
// Schema

export type TypeDesc =
  | 'bool'
  | 'i16'
  | 'i32'
  | 'string'
  | { list: TypeDesc }
  | { map: [TypeDesc, TypeDesc] }
  | StructDesc
export interface FieldDesc {
  id: number
  name: string
  type: TypeDesc
}
export interface StructDesc {
  struct: string
  fields: FieldDesc[]
}
export interface MethodDesc {
  name: string
  oneway: boolean
  args: StructDesc
  /** undefined = void */
  returns: TypeDesc | undefined
  /** declared exceptions, by result field id */
  exceptions: FieldDesc[]
  /** the result struct: 0 success (if not void) + the exceptions */
  result: StructDesc
}

const str = (id: number, name: string): FieldDesc => ({ id, name, type: 'string' })
const strMap: TypeDesc = { map: ['string', 'string'] }

const exception = (name: string): StructDesc => ({ struct: name, fields: [str(1, 'message')] })
export const MetaException = exception('MetaException')
export const NoSuchObjectException = exception('NoSuchObjectException')
export const AlreadyExistsException = exception('AlreadyExistsException')

export const FieldSchemaDesc: StructDesc = {
  struct: 'FieldSchema',
  fields: [str(1, 'name'), str(2, 'type'), str(3, 'comment')],
}
export const StorageDescriptorDesc: StructDesc = {
  struct: 'StorageDescriptor',
  fields: [
    { id: 1, name: 'cols', type: { list: FieldSchemaDesc } },
    str(2, 'location'),
    { id: 5, name: 'compressed', type: 'bool' },
    { id: 6, name: 'numBuckets', type: 'i32' },
    { id: 10, name: 'parameters', type: strMap },
  ],
}
export const PartitionDesc: StructDesc = {
  struct: 'Partition',
  fields: [
    { id: 1, name: 'values', type: { list: 'string' } },
    str(2, 'dbName'),
    str(3, 'tableName'),
    { id: 4, name: 'createTime', type: 'i32' },
    { id: 5, name: 'lastAccessTime', type: 'i32' },
    { id: 6, name: 'sd', type: StorageDescriptorDesc },
    { id: 7, name: 'parameters', type: strMap },
  ],
}
export const DatabaseDesc: StructDesc = {
  struct: 'Database',
  fields: [
    str(1, 'name'),
    str(2, 'description'),
    str(3, 'locationUri'),
    { id: 4, name: 'parameters', type: strMap },
  ],
}

function method(
  name: string,
  args: FieldDesc[],
  returns: TypeDesc | undefined,
  exceptions: Array<[number, StructDesc]>,
  oneway = false,
): MethodDesc {
  const exc: FieldDesc[] = exceptions.map(([id, type]) => ({ id, name: `o${id}`, type }))
  const result: StructDesc = {
    struct: `${name}_result`,
    fields: [...(returns ? [{ id: 0, name: 'success', type: returns }] : []), ...exc],
  }
  return {
    name,
    oneway,
    args: { struct: `${name}_args`, fields: args },
    returns,
    exceptions: exc,
    result,
  }
}

/** The service: the methods this IDL knows. */
export const HMS_METHODS: Readonly<Record<HmsMethodName, MethodDesc>> = {
  set_ugi: method(
    'set_ugi',
    [str(1, 'user_name'), { id: 2, name: 'group_names', type: { list: 'string' } }],
    { list: 'string' },
    [[1, MetaException]],
  ),
  setMetaConf: method('setMetaConf', [str(1, 'key'), str(2, 'value')], undefined, [
    [1, MetaException],
  ]),
  getMetaConf: method('getMetaConf', [str(1, 'key')], 'string', [[1, MetaException]]),
  get_database: method('get_database', [str(1, 'name')], DatabaseDesc, [
    [1, NoSuchObjectException],
    [2, MetaException],
  ]),
  get_all_databases: method('get_all_databases', [], { list: 'string' }, [[1, MetaException]]),
  create_database: method(
    'create_database',
    [{ id: 1, name: 'database', type: DatabaseDesc }],
    undefined,
    [
      [1, AlreadyExistsException],
      [2, MetaException],
    ],
  ),
  get_partitions: method(
    'get_partitions',
    [str(1, 'db_name'), str(2, 'tbl_name'), { id: 3, name: 'max_parts', type: 'i16' }],
    { list: PartitionDesc },
    [
      [1, NoSuchObjectException],
      [2, MetaException],
    ],
  ),
  shutdown: method('shutdown', [], undefined, [], true),
  getStatus: method('getStatus', [], 'i32', []),
}

export function methodDesc(name: string): MethodDesc | undefined {
  return Object.hasOwn(HMS_METHODS, name) ? HMS_METHODS[name as HmsMethodName] : undefined
}

// ---------------------------------------------------------------------------------------------
// Struct codec over the protocol API

function ttype(d: TypeDesc): number {
  if (d === 'bool') return TType.BOOL
  if (d === 'i16') return TType.I16
  if (d === 'i32') return TType.I32
  if (d === 'string') return TType.STRING
  if ('list' in d) return TType.LIST
  if ('map' in d) return TType.MAP
  return TType.STRUCT
}

export function writeValue(p: TProtocol, d: TypeDesc, v: unknown): void {
  if (d === 'bool') p.writeBool(Boolean(v))
  else if (d === 'i16') p.writeI16(Number(v))
  else if (d === 'i32') p.writeI32(Number(v))
  else if (d === 'string') p.writeString(String(v))
  else if ('list' in d) {
    const items = v as unknown[]
    p.writeListBegin(ttype(d.list), items.length)
    for (const item of items) writeValue(p, d.list, item)
    p.writeListEnd()
  } else if ('map' in d) {
    const entries = Object.entries(v as Record<string, unknown>)
    p.writeMapBegin(ttype(d.map[0]), ttype(d.map[1]), entries.length)
    for (const [k, x] of entries) {
      writeValue(p, d.map[0], k)
      writeValue(p, d.map[1], x)
    }
    p.writeMapEnd()
  } else writeStruct(p, d, v as Record<string, unknown>)
}

/** Writes the fields of `v` that the descriptor knows and that are neither undefined nor null. */
export function writeStruct(p: TProtocol, d: StructDesc, v: Record<string, unknown>): void {
  p.writeStructBegin(d.struct)
  for (const f of d.fields) {
    const x = v[f.name]
    if (x === undefined || x === null) continue
    p.writeFieldBegin(f.name, ttype(f.type), f.id)
    writeValue(p, f.type, x)
    p.writeFieldEnd()
  }
  p.writeFieldStop()
  p.writeStructEnd()
}

export function readValue(p: TProtocol, d: TypeDesc): unknown {
  if (d === 'bool') return p.readBool()
  if (d === 'i16') return p.readI16()
  if (d === 'i32') return p.readI32()
  if (d === 'string') return p.readString()
  if ('list' in d) {
    const { etype, size } = p.readListBegin()
    const out: unknown[] = []
    const match = etype === ttype(d.list)
    for (let i = 0; i < size; i++) {
      if (match) out.push(readValue(p, d.list))
      else p.skip(etype)
    }
    p.readListEnd()
    return out
  }
  if ('map' in d) {
    const { ktype, vtype, size } = p.readMapBegin()
    const entries: Array<[string, unknown]> = []
    const match = size === 0 || (ktype === ttype(d.map[0]) && vtype === ttype(d.map[1]))
    for (let i = 0; i < size; i++) {
      if (match) entries.push([String(readValue(p, d.map[0])), readValue(p, d.map[1])])
      else {
        p.skip(ktype)
        p.skip(vtype)
      }
    }
    p.readMapEnd()
    return Object.fromEntries(entries) // CreateDataProperty: a '__proto__' key stays a plain key
  }
  return readStruct(p, d)
}

/** Reads a struct; unknown fields and fields of an unexpected wire type are skipped. */
export function readStruct(p: TProtocol, d: StructDesc): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  p.readStructBegin()
  for (;;) {
    const { ftype, fid } = p.readFieldBegin()
    if (ftype === TType.STOP) break
    const f = d.fields.find((x) => x.id === fid)
    if (f && ftype === ttype(f.type)) out[f.name] = readValue(p, f.type)
    else p.skip(ftype)
    p.readFieldEnd()
  }
  p.readStructEnd()
  return out
}

/**
 * TApplicationException { 1: string message, 2: i32 type }, written by hand because thrift 0.24's
 * own write() drops the type (it writes the never-set `code` field).
 */
export function writeApplicationException(p: TProtocol, type: number, message: string): void {
  p.writeStructBegin('TApplicationException')
  p.writeFieldBegin('message', TType.STRING, 1)
  p.writeString(message)
  p.writeFieldEnd()
  p.writeFieldBegin('type', TType.I32, 2)
  p.writeI32(type)
  p.writeFieldEnd()
  p.writeFieldStop()
  p.writeStructEnd()
}

// ---------------------------------------------------------------------------------------------
// Messages

export interface HmsMessage {
  name: string
  /** MessageType */
  type: number
  seqid: number
  /** CALL/ONEWAY of a known method: the decoded args struct */
  args?: Record<string, unknown>
  /** REPLY of a known method: the decoded result struct ({ success } or { o1 } ...) */
  result?: Record<string, unknown>
  /** EXCEPTION: the TApplicationException */
  appException?: { type: number; message: string }
  /** false when the method is not in this IDL (its struct was skipped) */
  known: boolean
}

/** Writes one call message (args struct) and flushes. `type` defaults to ONEWAY for oneway methods, else CALL. */
export function writeCall(
  p: TProtocol,
  name: string,
  args: Record<string, unknown>,
  seqid: number,
  type?: number,
): void {
  const m = methodDesc(name)
  p.writeMessageBegin(name, type ?? (m?.oneway ? MessageType.ONEWAY : MessageType.CALL), seqid)
  writeStruct(p, m?.args ?? { struct: `${name}_args`, fields: [] }, args)
  p.writeMessageEnd()
  p.flush()
}

/** The outcome of a call, as a server reports it. */
export type CallOutcome =
  | { success: unknown }
  /** a declared exception, by struct name (e.g. 'NoSuchObjectException') */
  | { exception: string; message: string }
  | { appException: number; message: string }

/** Writes one reply (REPLY with the result struct, or EXCEPTION with a TApplicationException) and flushes. */
export function writeReply(p: TProtocol, name: string, seqid: number, outcome: CallOutcome): void {
  const m = methodDesc(name)
  let app: { type: number; message: string } | undefined
  let result: Record<string, unknown> = {}
  if ('appException' in outcome) app = { type: outcome.appException, message: outcome.message }
  else if (!m)
    app = { type: AppExceptionType.UNKNOWN_METHOD, message: `Invalid method name: '${name}'` }
  else if ('exception' in outcome) {
    const f = m.exceptions.find((x) => (x.type as StructDesc).struct === outcome.exception)
    if (f) result = { [f.name]: { message: outcome.message } }
    else
      app = {
        type: AppExceptionType.INTERNAL_ERROR,
        message: `${outcome.exception}: ${outcome.message}`,
      }
  } else result = { success: outcome.success }

  if (app) {
    p.writeMessageBegin(name, MessageType.EXCEPTION, seqid)
    writeApplicationException(p, app.type, app.message)
  } else {
    p.writeMessageBegin(name, MessageType.REPLY, seqid)
    writeStruct(p, (m as MethodDesc).result, result)
  }
  p.writeMessageEnd()
  p.flush()
}

/** Reads one whole message; structs of methods unknown to this IDL are skipped. */
export function readMessage(p: TProtocol): HmsMessage {
  const h = p.readMessageBegin()
  const name = String(h.fname) // a Buffer for non-strict binary envelopes
  const m = methodDesc(name)
  const msg: HmsMessage = { name, type: h.mtype, seqid: h.rseqid, known: m !== undefined }
  if (h.mtype === MessageType.EXCEPTION) {
    const x = new thrift.Thrift.TApplicationException()
    x.read(p)
    msg.appException = { type: x.type, message: x.message ?? '' }
  } else if (m && (h.mtype === MessageType.CALL || h.mtype === MessageType.ONEWAY))
    msg.args = readStruct(p, m.args)
  else if (m && h.mtype === MessageType.REPLY) msg.result = readStruct(p, m.result)
  else p.skip(TType.STRUCT)
  p.readMessageEnd()
  return msg
}

/**
 * Decodes one message from `buf` at `offset` (unframed bytes, or the body of a frame).
 * Returns null when `buf` holds only part of a message. Protocol errors throw.
 */
export function decodeMessage(
  buf: Buffer,
  protocol: ProtocolName = 'binary',
  offset = 0,
  strict = false,
): { message: HmsMessage; end: number } | null {
  const trans = new thrift.TBufferedTransport() as unknown as TBufferedTransportInternals
  trans.inBuf = buf
  trans.readCursor = offset
  trans.writeCursor = buf.length
  // a fresh protocol for every attempt: TCompactProtocol keeps field-id state
  const p = new (protocolClass(protocol))(trans, strict, true)
  try {
    const message = readMessage(p)
    return { message, end: trans.readCursor }
  } catch (e) {
    if (e instanceof thrift.InputBufferUnderrunError) return null
    throw e
  }
}

/**
 * Splits a byte stream (what a raw socket received) into whole messages.
 * `rest` = the bytes of a trailing incomplete message.
 */
export function splitMessages(
  buf: Buffer,
  wire: WireFormat = {},
): { messages: HmsMessage[]; rest: Buffer } {
  const messages: HmsMessage[] = []
  let off = 0
  while (off < buf.length) {
    if (wire.framed) {
      if (buf.length - off < 4) break
      const len = buf.readInt32BE(off)
      if (buf.length - off - 4 < len) break
      const r = decodeMessage(buf.subarray(off + 4, off + 4 + len), wire.protocol)
      if (!r) throw new Error(`frame of ${len} bytes holds a truncated message`)
      messages.push(r.message)
      off += 4 + len
    } else {
      const r = decodeMessage(buf, wire.protocol, off)
      if (!r) break
      messages.push(r.message)
      off = r.end
    }
  }
  return { messages, rest: buf.subarray(off) }
}

/** Runs `write` against a protocol over the chosen transport and returns the flushed bytes. */
export function encodeMessage(wire: WireFormat, write: (p: TProtocol) => void): Buffer {
  const parts: Buffer[] = []
  const trans = new (transportClass(wire.framed))(undefined, (msg) => parts.push(msg))
  write(new (protocolClass(wire.protocol))(trans))
  return Buffer.concat(parts)
}

/** The bytes of one call, e.g. to write on a raw socket. */
export function encodeCall(
  name: string,
  args: Record<string, unknown>,
  seqid: number,
  wire: WireFormat = {},
  type?: number,
): Buffer {
  return encodeMessage(wire, (p) => writeCall(p, name, args, seqid, type))
}

/** The bytes of one reply. */
export function encodeReply(
  name: string,
  seqid: number,
  outcome: CallOutcome,
  wire: WireFormat = {},
): Buffer {
  return encodeMessage(wire, (p) => writeReply(p, name, seqid, outcome))
}

// ---------------------------------------------------------------------------------------------
// Errors

/** An Error that stands for a declared Thrift exception (or, with appException, a TApplicationException). */
export interface ThriftError extends Error {
  /** the declared exception's struct name, e.g. 'AlreadyExistsException' */
  thriftException?: string
  /** the exception's own `message` field */
  thriftMessage?: string
  /** TApplicationException type (AppExceptionType) */
  appException?: number
}

/** Create the error a handler passes to reply() to raise a declared exception, e.g. thriftError('NoSuchObjectException', 'db x'). */
export function thriftError(name: string, message: string): ThriftError {
  const e: ThriftError = new Error(`${name}: ${message}`)
  e.thriftException = name
  e.thriftMessage = message
  return e
}

// ---------------------------------------------------------------------------------------------
// Server side: handler + processor

export type Reply<R> = (err: ThriftError | null, result?: R) => void

/** Callback-style handler (no thrift.Q in 0.24, gotcha H1). Oneway methods get a reply() that is ignored. */
export type HmsHandler = {
  [M in HmsMethodName]?: (
    args: HmsMethodTypes[M]['args'],
    reply: Reply<HmsMethodTypes[M]['result']>,
  ) => void
}

/**
 * Runs the handler for a decoded CALL/ONEWAY and writes the reply to `output` (nothing for oneway
 * methods, whatever message type the client used). Unknown methods, and calls whose handler is
 * missing, get TApplicationException UNKNOWN_METHOD; a handler that throws or fails with a plain
 * Error gets INTERNAL_ERROR.
 */
export function dispatch(handler: HmsHandler, msg: HmsMessage, output: TProtocol): void {
  const m = methodDesc(msg.name)
  const fn = m
    ? (handler[msg.name as HmsMethodName] as
        | ((args: unknown, reply: Reply<unknown>) => void)
        | undefined)
    : undefined
  if (!m || !fn) {
    if (msg.type !== MessageType.ONEWAY)
      writeReply(output, msg.name, msg.seqid, {
        appException: AppExceptionType.UNKNOWN_METHOD,
        message: `Invalid method name: '${msg.name}'`,
      })
    return
  }
  let replied = false
  const reply: Reply<unknown> = (err, result) => {
    if (replied || m.oneway) return
    replied = true
    if (err?.thriftException)
      writeReply(output, msg.name, msg.seqid, {
        exception: err.thriftException,
        message: err.thriftMessage ?? err.message,
      })
    else if (err)
      writeReply(output, msg.name, msg.seqid, {
        appException: AppExceptionType.INTERNAL_ERROR,
        message: err.message,
      })
    else writeReply(output, msg.name, msg.seqid, { success: m.returns ? result : undefined })
  }
  try {
    fn(msg.args ?? {}, reply)
  } catch (e) {
    reply(e instanceof Error ? e : new Error(String(e)))
  }
}

/**
 * A processor in the shape thrift's server machinery expects (`new Processor(handler)`,
 * `process(input, output)`), so `thrift.createServer(HmsService, handler, { transport, protocol })`
 * serves this IDL. It throws InputBufferUnderrunError on a partial message, before calling the handler.
 * thrift's server shares one handler across connections: no per-connection state (use hms-stub for that).
 */
export class HmsProcessor {
  constructor(readonly handler: HmsHandler) {}
  process(input: TProtocol, output: TProtocol): void {
    dispatch(this.handler, readMessage(input), output)
  }
}

// ---------------------------------------------------------------------------------------------
// Client side

type ReqCallback = (err: unknown, result?: unknown) => void
type RecvFn = (input: TProtocol, mtype: number, rseqid: number) => void

/**
 * A client in the shape of thrift-generated node clients, so thrift's Connection can drive it:
 * `thrift.createClient(HmsService, connection)` constructs it with the connection's output
 * transport and protocol class; the Connection calls `recv_<method>(input, mtype, rseqid)` for each
 * reply and the client settles `_reqs[rseqid]`. Sequence ids start at 1 (see the seqid-0 trap).
 */
export class HmsServiceClient {
  [recv: `recv_${string}`]: RecvFn
  _seqid = 0
  _reqs: Record<number, ReqCallback> = {}
  /** seqid -> method name of each two-way call awaiting its reply */
  readonly awaiting = new Map<number, string>()
  /**
   * Called for a reply whose seqid matches no call awaiting one (a proxy that lost or rewrote
   * seqids). thrift's Connection would drop such a reply silently; Java's TServiceClient fails
   * with BAD_SEQUENCE_ID.
   */
  onUnexpected: ((reply: { name: string; seqid: number; type: number }) => void) | undefined

  constructor(
    readonly output: TTransport,
    readonly pClass: ProtocolClass,
  ) {}

  new_seqid(): number {
    this._seqid += 1
    return this._seqid
  }

  seqid(): number {
    return this._seqid
  }

  /**
   * Sends one call. Two-way calls settle `callback` when the reply arrives (through thrift's
   * Connection); oneway methods (or `type: ONEWAY`) settle it right after the flush.
   * Returns the seqid used. Throws (sending nothing) when `args` cannot be encoded.
   */
  send(name: string, args: Record<string, unknown>, callback: ReqCallback, type?: number): number {
    const m = methodDesc(name)
    const seqid = this.new_seqid()
    const mtype = type ?? (m?.oneway ? MessageType.ONEWAY : MessageType.CALL)
    const recvKey = `recv_${name}` as const
    if (!this[recvKey]) this[recvKey] = (input, mt, rseqid) => this.recv(name, input, mt, rseqid)
    const noReply = mtype === MessageType.ONEWAY || m?.oneway === true
    // encode aside first: args that do not fit the IDL throw here, before a partial message
    // could be left in the connection's output buffer
    const parts: Buffer[] = []
    writeCall(
      new this.pClass(new thrift.TBufferedTransport(undefined, (b) => parts.push(b))),
      name,
      args,
      seqid,
      mtype,
    )
    if (!noReply) {
      this._reqs[seqid] = callback
      this.awaiting.set(seqid, name)
    }
    this.output.write(Buffer.concat(parts))
    this.output.flush() // TFramedTransport adds the frame length here
    if (noReply) process.nextTick(() => callback(null))
    return seqid
  }

  /** Reads a reply (the whole message first: an underrun throws before any callback runs). */
  recv(name: string, input: TProtocol, mtype: number, rseqid: number): void {
    const m = methodDesc(name)
    let err: ThriftError | null = null
    let result: unknown
    if (mtype === MessageType.EXCEPTION) {
      const x = new thrift.Thrift.TApplicationException()
      x.read(input)
      input.readMessageEnd()
      err = new Error(`TApplicationException (type ${x.type}) from ${name}: ${x.message}`)
      err.appException = x.type
    } else if (!m || mtype !== MessageType.REPLY) {
      input.skip(TType.STRUCT)
      input.readMessageEnd()
      err = new Error(
        `unexpected ${m ? `message type ${mtype}` : 'reply to a method unknown to this IDL'} for ${name}`,
      )
    } else {
      const r = readStruct(input, m.result)
      input.readMessageEnd()
      const thrown = m.exceptions.find((f) => r[f.name] !== undefined)
      if (thrown) {
        const fields = r[thrown.name] as HmsExceptionFields
        err = thriftError((thrown.type as StructDesc).struct, fields.message ?? '')
      } else if (m.returns === undefined) result = undefined
      else if (r.success !== undefined) result = r.success
      else err = new Error(`${name} failed: unknown result`)
    }
    // thrift's Connection passes -seqid and keeps its own wrapper (which commits the read position
    // and then settles the real callback) under that key: always call it
    const seqid = Math.abs(rseqid)
    const expected = this.awaiting.get(seqid)
    this.awaiting.delete(seqid)
    if (expected === undefined) this.onUnexpected?.({ name, seqid, type: mtype })
    else if (expected !== name) {
      err = new Error(
        `reply for ${name} to the ${expected} call with seqid ${seqid} (WRONG_METHOD_NAME)`,
      )
      err.appException = AppExceptionType.WRONG_METHOD_NAME
      result = undefined
    }
    const callback = this._reqs[rseqid]
    delete this._reqs[rseqid]
    if (callback) callback(err, result)
  }
}

/** The service object for thrift.createClient / thrift.createServer. */
export const HmsService = { Client: HmsServiceClient, Processor: HmsProcessor }
