/**
 * The envelope (method name, message type, seqid) at the start of one Thrift message held whole,
 * e.g. an HTTP body: strict binary (`80 01 00 TT`), old non-strict binary (name length first) or
 * compact (`82`, then `TT << 5 | 1`). The metastore over HTTP may use either protocol
 * (metastore.thrift.compact.protocol.enabled), so both are read; nothing past the envelope is.
 *
 * Contract: pure, never throws; `more` when the bytes end inside the envelope.
 */
import type { Envelope } from './hs2-handles.js'

export type EnvelopeRead =
  | { state: 'more' }
  | { state: 'bad'; reason: string }
  | { state: 'done'; protocol: 'binary' | 'compact'; envelope: Envelope }

/** Longest method name believed (metastore names are far shorter). */
const MAX_NAME = 256
const MORE: EnvelopeRead = { state: 'more' }

export function readEnvelope(b: Uint8Array): EnvelopeRead {
  if (b.length === 0) return MORE
  if (b[0] === 0x82) return compact(b)
  if (b.length < 4) return MORE
  const first = readI32(b, 0)
  if (first < 0) {
    if ((first & 0xffff0000) !== (0x80010000 | 0))
      return { state: 'bad', reason: `bad binary protocol version 0x${(first >>> 0).toString(16)}` }
    return binaryRest(b, 4, first & 0xff)
  }
  // non-strict binary: i32 name length, name, type byte, i32 seqid
  if (first === 0 || first > MAX_NAME)
    return { state: 'bad', reason: 'not a Thrift message (binary or compact)' }
  if (b.length < 4 + first + 5) return MORE
  const method = name(b, 4, first)
  if (method === undefined) return { state: 'bad', reason: 'method name is not text' }
  return done('binary', method, b[4 + first] as number, readI32(b, 5 + first))
}

function binaryRest(b: Uint8Array, at: number, type: number): EnvelopeRead {
  if (b.length < at + 4) return MORE
  const len = readI32(b, at)
  if (len <= 0 || len > MAX_NAME) return { state: 'bad', reason: `method name of ${len} bytes` }
  if (b.length < at + 4 + len + 4) return MORE
  const method = name(b, at + 4, len)
  if (method === undefined) return { state: 'bad', reason: 'method name is not text' }
  return done('binary', method, type, readI32(b, at + 4 + len))
}

function compact(b: Uint8Array): EnvelopeRead {
  if (b.length < 2) return MORE
  const vt = b[1] as number
  if ((vt & 0x1f) !== 1)
    return { state: 'bad', reason: `bad compact protocol version ${vt & 0x1f}` }
  const seq = varint(b, 2)
  if (seq === undefined) return MORE
  if (seq === null) return { state: 'bad', reason: 'bad varint in the envelope' }
  const len = varint(b, seq.end)
  if (len === undefined) return MORE
  if (len === null || len.value === 0 || len.value > MAX_NAME)
    return { state: 'bad', reason: 'bad method name length' }
  if (b.length < len.end + len.value) return MORE
  const method = name(b, len.end, len.value)
  if (method === undefined) return { state: 'bad', reason: 'method name is not text' }
  // the compact envelope's seqid is a plain (not zigzag) varint32
  return done('compact', method, vt >> 5, seq.value | 0)
}

function done(
  protocol: 'binary' | 'compact',
  method: string,
  type: number,
  seqid: number,
): EnvelopeRead {
  if (type < 1 || type > 4) return { state: 'bad', reason: `bad message type ${type}` }
  return { state: 'done', protocol, envelope: { method, type, seqid } }
}

function readI32(b: Uint8Array, at: number): number {
  return (
    ((b[at] as number) << 24) |
    ((b[at + 1] as number) << 16) |
    ((b[at + 2] as number) << 8) |
    (b[at + 3] as number)
  )
}

/** A varint32: undefined = need more bytes, null = longer than 5 bytes. */
function varint(b: Uint8Array, at: number): { value: number; end: number } | undefined | null {
  let value = 0
  for (let i = 0; i < 5; i++) {
    if (at + i >= b.length) return undefined
    const c = b[at + i] as number
    value += (c & 0x7f) * 2 ** (7 * i)
    if ((c & 0x80) === 0) return { value, end: at + i + 1 }
  }
  return null
}

/** Printable ASCII only: anything else is not a method name worth believing. */
function name(b: Uint8Array, at: number, len: number): string | undefined {
  let s = ''
  for (let i = at; i < at + len; i++) {
    const c = b[i] as number
    if (c < 0x21 || c > 0x7e) return undefined
    s += String.fromCharCode(c)
  }
  return s
}
