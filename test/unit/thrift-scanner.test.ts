import t, { type Test } from 'tap'
import thrift, { type Int64 } from 'thrift'
import { seededRandom } from '../helpers/random.js'
import type { TWriter } from '../helpers/hms-idl.js'
import {
  scanReadBuffers,
  ThriftScanner,
  type MessageHeader,
  type ScanError,
  type ThriftProtocol,
} from '../../src/thrift/scanner.js'

// ---------------------------------------------------------------------------------------------------
// Encoding with the thrift library itself (IDL-less: structs written field by field)

const T = {
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
}
const ALL_TYPES = Object.values(T)

type TypeDesc = { t: number; e?: TypeDesc; k?: TypeDesc; v?: TypeDesc }
/** a value to encode: primitive (`v`), struct (`fields`), list/set (`e`, `items`) or map (`k`, `vt`, `entries`) */
interface Node {
  t: number
  v?: unknown
  fields?: { id: number; node: Node }[]
  e?: TypeDesc
  items?: Node[]
  k?: TypeDesc
  vt?: TypeDesc
  entries?: [Node, Node][]
}

const rng = seededRandom

class Gen {
  readonly r: () => number
  constructor(seed: number) {
    this.r = rng(seed)
  }
  int(n: number): number {
    return Math.floor(this.r() * n)
  }
  pick<X>(xs: readonly X[]): X {
    return xs[this.int(xs.length)] as X
  }
  type(depth: number): TypeDesc {
    const t =
      depth <= 0
        ? this.pick([T.BOOL, T.BYTE, T.DOUBLE, T.I16, T.I32, T.I64, T.STRING, T.UUID])
        : this.pick(ALL_TYPES)
    if (t === T.LIST || t === T.SET) return { t, e: this.type(depth - 1) }
    if (t === T.MAP) return { t, k: this.type(depth - 1), v: this.type(depth - 1) }
    return { t }
  }
  count(): number {
    const x = this.r()
    return x < 0.25
      ? 0
      : x < 0.9
        ? 1 + this.int(5)
        : x < 0.97
          ? 14 + this.int(4)
          : 40 + this.int(200)
  }
  node(d: TypeDesc, depth: number): Node {
    switch (d.t) {
      case T.BOOL:
        return { t: d.t, v: this.r() < 0.5 }
      case T.BYTE:
        return { t: d.t, v: this.int(256) - 128 }
      case T.I16:
        return { t: d.t, v: this.int(65536) - 32768 }
      case T.I32:
        return {
          t: d.t,
          v: this.pick([
            0,
            -1,
            1,
            2147483647,
            -2147483648,
            this.int(2 ** 32) - 2 ** 31,
            this.int(300) - 150,
          ]),
        }
      case T.I64: {
        const x = this.r()
        if (x < 0.3) return { t: d.t, v: this.int(2000) - 1000 }
        if (x < 0.6)
          return { t: d.t, v: (this.r() < 0.5 ? -1 : 1) * this.int(Number.MAX_SAFE_INTEGER) }
        // full 64-bit patterns, including INT64_MIN/MAX and other huge values
        const hi = this.pick([0x7fffffff, 0x80000000, 0xffffffff, this.int(2 ** 32)])
        return { t: d.t, v: new thrift.Int64(hi, this.int(2 ** 32)) }
      }
      case T.DOUBLE:
        return {
          t: d.t,
          v: this.pick([0, -0, NaN, Infinity, -Infinity, 1e-310, (this.r() - 0.5) * 1e12]),
        }
      case T.STRING: {
        const x = this.r()
        if (x < 0.3)
          return {
            t: d.t,
            v: Buffer.from(Array.from({ length: this.int(20) }, () => this.int(256))),
          }
        const n = x < 0.9 ? this.int(20) : 100 + this.int(400)
        return { t: d.t, v: 'é€x'.repeat(n).slice(0, n) }
      }
      case T.UUID: {
        // uuid.parse (used by writeUuid) insists on a valid version and variant: make it a v4
        const b = Array.from({ length: 16 }, () => this.int(256))
        b[6] = ((b[6] as number) & 0x0f) | 0x40
        b[8] = ((b[8] as number) & 0x3f) | 0x80
        const h = b.map((x) => x.toString(16).padStart(2, '0')).join('')
        return {
          t: d.t,
          v: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`,
        }
      }
      case T.STRUCT:
        return this.struct(depth)
      case T.LIST:
      case T.SET: {
        const e = d.e as TypeDesc
        const n = this.count()
        return { t: d.t, e, items: Array.from({ length: n }, () => this.node(e, depth - 1)) }
      }
      case T.MAP: {
        const k = d.k as TypeDesc
        const v = d.v as TypeDesc
        const n = this.count()
        const entries = Array.from({ length: n }, (): [Node, Node] => [
          this.node(k, depth - 1),
          this.node(v, depth - 1),
        ])
        return { t: 13, k, vt: v, entries }
      }
      default:
        throw new Error(`type ${d.t}`)
    }
  }
  struct(depth: number): Node {
    const n = depth <= 0 ? this.int(3) : this.int(7)
    const fields: { id: number; node: Node }[] = []
    let id = 0
    for (let i = 0; i < n; i++) {
      const x = this.r()
      // small deltas (compact short form), big jumps, going backwards and negative ids (long form)
      id =
        x < 0.6
          ? id + 1 + this.int(3)
          : x < 0.8
            ? id + 16 + this.int(1000)
            : x < 0.9
              ? this.int(32767)
              : -1 - this.int(100)
      fields.push({ id, node: this.node(this.type(depth - 1), depth - 1) })
    }
    return { t: 12, fields }
  }
}

/**
 * Writes `root` with an explicit work list, not recursion: the depth bomb below nests 3000 levels,
 * deeper than the call stack of some Node lines allows (each level costs several frames through the
 * thrift library's writers).
 */
function write(p: TWriter, root: Node): void {
  // last in, first out: a node pushes what comes after its children before its children
  const todo: (Node | (() => void))[] = [root]
  for (let s = todo.pop(); s !== undefined; s = todo.pop()) {
    if (typeof s === 'function') {
      s()
      continue
    }
    const n = s
    if (n.fields !== undefined) {
      p.writeStructBegin('s')
      todo.push(() => {
        p.writeFieldStop()
        p.writeStructEnd()
      })
      for (const f of [...n.fields].reverse())
        todo.push(
          () => p.writeFieldEnd(),
          f.node,
          () => p.writeFieldBegin('f', f.node.t, f.id),
        )
    } else if (n.items !== undefined && n.e !== undefined) {
      if (n.t === T.LIST) p.writeListBegin(n.e.t, n.items.length)
      else p.writeSetBegin(n.e.t, n.items.length)
      todo.push(n.t === T.LIST ? () => p.writeListEnd() : () => p.writeSetEnd())
      for (let i = n.items.length - 1; i >= 0; i--) todo.push(n.items[i] as Node)
    } else if (n.entries !== undefined && n.k !== undefined && n.vt !== undefined) {
      p.writeMapBegin(n.k.t, n.vt.t, n.entries.length)
      todo.push(() => p.writeMapEnd())
      for (const [k, v] of [...n.entries].reverse()) todo.push(v, k)
    } else writeValue(p, n)
  }
}

function writeValue(p: TWriter, n: Node): void {
  const v = n.v
  switch (n.t) {
    case T.BOOL:
      return p.writeBool(v as boolean)
    case T.BYTE:
      return p.writeByte(v as number)
    case T.I16:
      return p.writeI16(v as number)
    case T.I32:
      return p.writeI32(v as number)
    case T.I64:
      return p.writeI64(v as number | Int64)
    case T.DOUBLE:
      return p.writeDouble(v as number)
    case T.STRING:
      return typeof v === 'string' ? p.writeString(v) : p.writeBinary(v as Buffer)
    case T.UUID:
      return p.writeUuid(v as string)
  }
}

interface Encoded {
  bytes: Buffer
  headers: MessageHeader[]
  /** absolute end offset of each message */
  ends: number[]
}

function writer(protocol: ThriftProtocol, framed: boolean, out: Buffer[]): TWriter {
  const onFlush = (b?: Buffer): void => void out.push(Buffer.from(b ?? Buffer.alloc(0)))
  const trans = framed
    ? new thrift.TFramedTransport(undefined, onFlush)
    : new thrift.TBufferedTransport(undefined, onFlush)
  const P = protocol === 'compact' ? thrift.TCompactProtocol : thrift.TBinaryProtocol
  return new P(trans) as unknown as TWriter
}

function encode(
  protocol: ThriftProtocol,
  framed: boolean,
  msgs: { h: MessageHeader; body: Node }[],
): Encoded {
  const out: Buffer[] = []
  const ends: number[] = []
  let total = 0
  for (const m of msgs) {
    const p = writer(protocol, framed, out) // fresh protocol per message (it tracks the seqid)
    p.writeMessageBegin(m.h.name, m.h.type, m.h.seqid)
    write(p, m.body)
    p.writeMessageEnd()
    p.flush()
    total += (out[out.length - 1] as Buffer).length
    ends.push(total)
  }
  return { bytes: Buffer.concat(out), headers: msgs.map((m) => m.h), ends }
}

function genMessages(g: Gen): { h: MessageHeader; body: Node }[] {
  const n = 1 + g.int(4)
  return Array.from({ length: n }, () => {
    const name = g.pick([
      'get_table',
      'get_partitions_by_names',
      '',
      'x'.repeat(300),
      'ñame_ü',
      `m${g.int(1000)}`,
    ])
    const type = g.pick([1, 2, 3, 4])
    const seqid = g.pick([0, 1, -1, 2147483647, -2147483648, g.int(2 ** 32) - 2 ** 31, g.int(200)])
    return { h: { name, type, seqid }, body: g.struct(1 + g.int(4)) }
  })
}

// ---------------------------------------------------------------------------------------------------
// Feeding

interface Result {
  headers: MessageHeader[]
  ends: number[]
  error: ScanError | undefined
  pending: number
}

type FeedOpts = {
  protocol: ThriftProtocol
  framed: boolean
  maxMessageBytes?: number
  maxDepth?: number
  wasmFrom?: number
}

/**
 * Binary input is scanned four times: JavaScript fast path only, wasm fast path for every window
 * (copied into its scratch area), the default mix, and the default with each chunk in a read buffer
 * of wasm memory (walked in place, as the metastore route's backend reads are). They must agree
 * exactly; a disagreement comes back as an error naming it.
 */
function feed(bytes: Buffer, chunks: number[], opts: FeedOpts): Result {
  const js = feedOnce(
    bytes,
    chunks,
    opts.protocol === 'binary' ? { ...opts, wasmFrom: Infinity } : opts,
  )
  if (opts.protocol !== 'binary') return js
  for (const [wasmFrom, inPlace] of [
    [0, false],
    [undefined, false],
    [undefined, true],
  ] as const) {
    const other = feedOnce(bytes, chunks, { ...opts, wasmFrom }, inPlace)
    if (JSON.stringify(other) !== JSON.stringify(js)) {
      const how = `wasmFrom ${wasmFrom}${inPlace ? ', in place' : ''}`
      return {
        ...js,
        error: {
          code: 'MALFORMED',
          message: `FAST PATHS DISAGREE (${how}): ${JSON.stringify(other)} vs ${JSON.stringify(js)}`,
        },
      }
    }
  }
  return js
}

function feedOnce(bytes: Buffer, chunks: number[], opts: FeedOpts, inPlace = false): Result {
  const rb = inPlace ? scanReadBuffers.take() : undefined
  const headers: MessageHeader[] = []
  const ends: number[] = []
  let base = 0
  const s = new ThriftScanner(
    { maxMessageBytes: 1 << 24, ...opts },
    { onHeader: (h) => void headers.push(h), onEnd: (e) => void ends.push(base + e) },
  )
  let error: ScanError | undefined
  for (const n of chunks) {
    let c = bytes.subarray(base, base + n)
    if (rb !== undefined && n <= rb.length) c = rb.subarray(0, c.copy(rb))
    let r: ScanError | undefined
    try {
      r = s.push(c)
    } catch (e) {
      r = { code: 'MALFORMED', message: `THROWN: ${String(e)}` }
    }
    base += n
    if (r !== undefined) {
      error = r
      break
    }
  }
  if (rb !== undefined) scanReadBuffers.give(rb)
  return { headers, ends, error, pending: s.pending }
}

const whole = (len: number): number[] => [len]
const bytewise = (len: number): number[] => Array.from({ length: len }, () => 1)
function randomChunks(g: Gen, len: number): number[] {
  const out: number[] = []
  for (let left = len; left > 0; ) {
    const n = Math.min(left, g.pick([1, 2, 3, 5, 7, 13, 64, 1 + g.int(300)]))
    out.push(n)
    left -= n
  }
  return out
}

// ---------------------------------------------------------------------------------------------------
// Property test

const CASES = 200
for (const protocol of ['binary', 'compact'] as const) {
  for (const framed of [false, true]) {
    t.test(
      `${protocol} ${framed ? 'framed' : 'unframed'}: ${CASES} random message streams`,
      async (t) => {
        let bytes = 0
        for (let i = 0; i < CASES; i++) {
          const g = new Gen(1000 * i + (protocol === 'compact' ? 7 : 3) + (framed ? 1 : 0))
          const enc = encode(protocol, framed, genMessages(g))
          bytes += enc.bytes.length
          const want = { headers: enc.headers, ends: enc.ends, error: undefined, pending: 0 }
          for (const [mode, chunks] of [
            ['whole', whole(enc.bytes.length)],
            ['byte by byte', bytewise(enc.bytes.length)],
            ['random chunks', randomChunks(g, enc.bytes.length)],
          ] as const) {
            const got = feed(enc.bytes, chunks, { protocol, framed })
            if (!t.same(got, want, `case ${i} ${mode}`)) return
          }
        }
        t.comment(`${bytes} bytes encoded`)
      },
    )
  }
}

t.test('every type and the compact special cases appear in the generated data', async (t) => {
  // a fixed sample: a struct holding every type, empty and nested containers, maps of lists
  const body: Node = {
    t: 12,
    fields: [
      { id: 1, node: { t: T.BOOL, v: true } },
      { id: 2, node: { t: T.BOOL, v: false } },
      { id: 40, node: { t: T.BYTE, v: -5 } },
      { id: 3, node: { t: T.I16, v: -300 } },
      { id: -4, node: { t: T.I32, v: -2147483648 } },
      { id: 5, node: { t: T.I64, v: new thrift.Int64(0x80000000, 0) } },
      { id: 6, node: { t: T.DOUBLE, v: -1.5 } },
      { id: 7, node: { t: T.STRING, v: 'x'.repeat(200) } },
      { id: 8, node: { t: T.UUID, v: '00112233-4455-6677-8899-aabbccddeeff' } },
      { id: 9, node: { t: T.MAP, k: { t: T.STRING }, vt: { t: T.I32 }, entries: [] } },
      {
        id: 10,
        node: {
          t: T.LIST,
          e: { t: T.BOOL },
          items: [
            { t: T.BOOL, v: true },
            { t: T.BOOL, v: false },
          ],
        },
      },
      {
        id: 11,
        node: {
          t: T.SET,
          e: { t: T.LIST, e: { t: T.I64 } },
          items: [{ t: T.LIST, e: { t: T.I64 }, items: [] }],
        },
      },
      {
        id: 12,
        node: {
          t: T.MAP,
          k: { t: T.I16 },
          vt: { t: T.LIST, e: { t: T.STRUCT } },
          entries: [
            [
              { t: T.I16, v: 1 },
              {
                t: T.LIST,
                e: { t: T.STRUCT },
                items: Array.from({ length: 20 }, () => ({ t: 12, fields: [] })),
              },
            ],
          ],
        },
      },
      {
        id: 13,
        node: {
          t: T.MAP,
          k: { t: T.DOUBLE },
          vt: { t: T.UUID },
          entries: [
            [
              { t: T.DOUBLE, v: 1 },
              { t: T.UUID, v: '00112233-4455-6677-8899-aabbccddeeff' },
            ],
          ],
        },
      },
    ],
  }
  for (const protocol of ['binary', 'compact'] as const) {
    for (const framed of [false, true]) {
      const enc = encode(protocol, framed, [
        { h: { name: 'all', type: 1, seqid: 7 }, body },
        { h: { name: 'all', type: 2, seqid: 7 }, body },
      ])
      for (const chunks of [whole(enc.bytes.length), bytewise(enc.bytes.length)]) {
        t.same(
          feed(enc.bytes, chunks, { protocol, framed }),
          { headers: enc.headers, ends: enc.ends, error: undefined, pending: 0 },
          `${protocol} framed=${framed}`,
        )
      }
    }
  }
})

t.test('old non-strict binary envelope', async (t) => {
  const out: Buffer[] = []
  const trans = new thrift.TBufferedTransport(
    undefined,
    (b?: Buffer) => void out.push(Buffer.from(b ?? Buffer.alloc(0))),
  )
  const p = new thrift.TBinaryProtocol(trans, false, false) as unknown as TWriter
  p.writeMessageBegin('legacy', 1, 42)
  write(p, { t: 12, fields: [{ id: 1, node: { t: T.STRING, v: 'hi' } }] })
  p.writeMessageEnd()
  p.flush()
  const bytes = Buffer.concat(out)
  t.equal(bytes.readInt32BE(0), 6, 'really the old form')
  for (const chunks of [whole(bytes.length), bytewise(bytes.length)]) {
    t.same(feed(bytes, chunks, { protocol: 'binary', framed: false }), {
      headers: [{ name: 'legacy', type: 1, seqid: 42 }],
      ends: [bytes.length],
      error: undefined,
      pending: 0,
    })
  }
})

// ---------------------------------------------------------------------------------------------------
// Malformed input

function i32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}
const strictHdr = (name = 'm', type = 1, seqid = 1): Buffer =>
  Buffer.concat([
    i32(0x80010000 | type | 0),
    i32(Buffer.byteLength(name)),
    Buffer.from(name),
    i32(seqid),
  ])
const compactHdr = (name = 'm', type = 1): Buffer =>
  Buffer.concat([Buffer.from([0x82, 1 | (type << 5), 1, name.length]), Buffer.from(name)])
const frame = (b: Buffer): Buffer => Buffer.concat([i32(b.length), b])

function expectError(
  t: Test,
  bytes: Buffer,
  opts: FeedOpts,
  code: ScanError['code'],
  what: string,
): void {
  for (const [mode, chunks] of [
    ['whole', whole(bytes.length)],
    ['byte by byte', bytewise(bytes.length)],
  ] as const) {
    const r = feed(bytes, chunks, opts)
    t.equal(r.error?.code, code, `${what} (${mode}): ${r.error?.message ?? 'no error'}`)
    t.notMatch(r.error?.message ?? '', /THROWN/, 'returned, not thrown')
    t.same(r.ends, [], 'no end event')
  }
}

const bin = { protocol: 'binary', framed: false } as const
const cmp = { protocol: 'compact', framed: false } as const

t.test(
  'binary: names of the same length in a row are told apart (the last name is remembered)',
  async (t) => {
    const names = [
      'get_a',
      'get_b',
      'get_b',
      'get_a',
      'get_ab',
      'get_a',
      'ñame',
      'ñamf',
      'x'.repeat(97),
      `${'x'.repeat(96)}y`,
      'get_a',
    ]
    const bytes = Buffer.concat(
      names.map((n, i) => Buffer.concat([strictHdr(n, 1, i), Buffer.from([0])])),
    )
    const want = names.map((name, seqid) => ({ name, type: 1, seqid }))
    for (const [mode, chunks] of [
      ['whole', whole(bytes.length)],
      ['byte by byte', bytewise(bytes.length)],
      ['random chunks', randomChunks(new Gen(5), bytes.length)],
    ] as const) {
      t.same(feed(bytes, chunks, bin).headers, want, mode)
    }
  },
)

t.test('malformed binary input', async (t) => {
  expectError(
    t,
    Buffer.from('GET / HTTP/1.1\r\n\r\n'),
    bin,
    'MALFORMED',
    'HTTP request (name length > 64 KiB)',
  )
  expectError(t, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), bin, 'MALFORMED', 'TLS client hello')
  expectError(
    t,
    Buffer.concat([i32(0x80020001 | 0), i32(1), Buffer.from('m'), i32(1), Buffer.from([0])]),
    bin,
    'MALFORMED',
    'bad version',
  )
  expectError(
    t,
    Buffer.concat([i32(0x80010009 | 0), i32(1), Buffer.from('m'), i32(1), Buffer.from([0])]),
    bin,
    'MALFORMED',
    'bad message type',
  )
  expectError(
    t,
    Buffer.concat([i32(0x80010001 | 0), i32(-1)]),
    bin,
    'MALFORMED',
    'negative name length',
  )
  expectError(
    t,
    Buffer.concat([i32(0x80010001 | 0), i32(65537)]),
    bin,
    'MALFORMED',
    'name over 64 KiB',
  )
  const field = (type: number): Buffer => Buffer.from([type, 0, 1])
  expectError(
    t,
    Buffer.concat([strictHdr(), field(11), i32(-5)]),
    bin,
    'MALFORMED',
    'negative string length',
  )
  expectError(
    t,
    Buffer.concat([strictHdr(), field(15), Buffer.from([12]), i32(-1)]),
    bin,
    'MALFORMED',
    'negative list size',
  )
  expectError(
    t,
    Buffer.concat([strictHdr(), field(14), Buffer.from([8]), i32(-2)]),
    bin,
    'MALFORMED',
    'negative set size',
  )
  expectError(
    t,
    Buffer.concat([strictHdr(), field(13), Buffer.from([11, 11]), i32(-3)]),
    bin,
    'MALFORMED',
    'negative map size',
  )
  expectError(t, Buffer.concat([strictHdr(), field(99)]), bin, 'MALFORMED', 'unknown field type')
  expectError(t, Buffer.concat([strictHdr(), field(1)]), bin, 'MALFORMED', 'VOID field type')
  expectError(
    t,
    Buffer.concat([strictHdr(), field(15), Buffer.from([42]), i32(1)]),
    bin,
    'MALFORMED',
    'unknown list element type',
  )
  expectError(
    t,
    Buffer.concat([strictHdr(), field(13), Buffer.from([11, 0]), i32(1)]),
    bin,
    'MALFORMED',
    'unknown map value type',
  )
})

t.test('malformed compact input', async (t) => {
  expectError(t, Buffer.from('GET / HTTP/1.1\r\n\r\n'), cmp, 'MALFORMED', 'garbage first byte')
  expectError(t, Buffer.from([0x82, 0x22, 1, 1, 0x6d, 0]), cmp, 'MALFORMED', 'bad version')
  expectError(
    t,
    Buffer.from([0x82, 0x21, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    cmp,
    'MALFORMED',
    'over-long seqid varint',
  )
  expectError(
    t,
    Buffer.from([0x82, 0x21, 1, 0xff, 0xff, 0xff, 0xff, 0x0f]),
    cmp,
    'MALFORMED',
    'negative name length',
  )
  expectError(
    t,
    Buffer.from([0x82, 0x21, 1, 0x81, 0x80, 0x04]),
    cmp,
    'MALFORMED',
    'name over 64 KiB',
  )
  const neg = [0xff, 0xff, 0xff, 0xff, 0x0f] // varint of 0xffffffff = -1 as i32
  expectError(
    t,
    Buffer.concat([compactHdr(), Buffer.from([0x18, ...neg])]),
    cmp,
    'MALFORMED',
    'negative binary length',
  )
  expectError(
    t,
    Buffer.concat([compactHdr(), Buffer.from([0x19, 0xfc, ...neg])]),
    cmp,
    'MALFORMED',
    'negative long list size',
  )
  expectError(
    t,
    Buffer.concat([compactHdr(), Buffer.from([0x1b, ...neg])]),
    cmp,
    'MALFORMED',
    'negative map size',
  )
  expectError(
    t,
    Buffer.concat([compactHdr(), Buffer.from([0x1e])]),
    cmp,
    'MALFORMED',
    'unknown field type 14',
  )
  expectError(
    t,
    Buffer.concat([compactHdr(), Buffer.from([0x10])]),
    cmp,
    'MALFORMED',
    'field type 0 with a delta',
  )
  expectError(
    t,
    Buffer.concat([compactHdr(), Buffer.from([0x19, 0x2e])]),
    cmp,
    'MALFORMED',
    'unknown list element type',
  )
  expectError(
    t,
    Buffer.concat([compactHdr(), Buffer.from([0x1b, 0x01, 0x8f])]),
    cmp,
    'MALFORMED',
    'unknown map value type',
  )
  expectError(
    t,
    Buffer.concat([
      compactHdr(),
      Buffer.from([0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    ]),
    cmp,
    'MALFORMED',
    'i64 varint over 10 bytes',
  )
})

t.test('truncated messages: no end event, pending > 0, no error', async (t) => {
  for (const protocol of ['binary', 'compact'] as const) {
    for (const framed of [false, true]) {
      const enc = encode(protocol, framed, genMessages(new Gen(99)))
      const first = enc.ends[0] as number
      for (const cut of [1, 3, 4, 5, Math.floor(first / 2), first - 1]) {
        for (const chunks of [whole(cut), bytewise(cut)]) {
          const r = feed(enc.bytes, chunks, { protocol, framed })
          t.equal(r.error, undefined, `${protocol} framed=${framed} cut=${cut}: no error`)
          t.same(r.ends, [], 'no end event')
          t.equal(r.pending, cut, 'pending counts the bytes of the unfinished message')
        }
      }
      // a complete message followed by part of the next: one end, pending = the rest
      if (enc.ends.length > 1) {
        const r = feed(enc.bytes, [first + 2], { protocol, framed })
        t.same(r.ends, [first])
        t.equal(r.pending, 2)
      }
    }
  }
})

t.test('framing errors', async (t) => {
  const msg = Buffer.concat([strictHdr(), Buffer.from([0])])
  const framed = { protocol: 'binary', framed: true, maxMessageBytes: 1000 } as const
  t.same(
    feed(frame(msg), [msg.length + 4], framed).ends,
    [msg.length + 4],
    'a well-formed frame passes',
  )
  expectError(t, Buffer.concat([i32(1001), msg]), framed, 'TOO_LARGE', 'frame length over max')
  expectError(t, Buffer.concat([i32(-1), msg]), framed, 'MALFORMED', 'negative frame length')
  expectError(t, Buffer.concat([i32(0), msg]), framed, 'MALFORMED', 'empty frame')
  expectError(
    t,
    Buffer.concat([i32(msg.length + 3), msg, Buffer.alloc(3)]),
    framed,
    'MALFORMED',
    'frame longer than the message',
  )
  expectError(
    t,
    Buffer.concat([i32(msg.length - 1), msg]),
    framed,
    'MALFORMED',
    'frame shorter than the message',
  )
  const cmsg = Buffer.concat([compactHdr(), Buffer.from([0])])
  const cframed = { protocol: 'compact', framed: true, maxMessageBytes: 1000 } as const
  expectError(
    t,
    Buffer.concat([i32(cmsg.length + 1), cmsg, Buffer.alloc(1)]),
    cframed,
    'MALFORMED',
    'compact: frame longer than the message',
  )
  expectError(
    t,
    Buffer.concat([i32(cmsg.length - 1), cmsg]),
    cframed,
    'MALFORMED',
    'compact: frame shorter than the message',
  )
})

t.test('oversized unframed message', async (t) => {
  for (const protocol of ['binary', 'compact'] as const) {
    const enc = encode(protocol, false, [
      {
        h: { name: 'big', type: 2, seqid: 1 },
        body: { t: 12, fields: [{ id: 1, node: { t: T.STRING, v: 'x'.repeat(5000) } }] },
      },
    ])
    const size = enc.bytes.length
    t.same(
      feed(enc.bytes, [size], { protocol, framed: false, maxMessageBytes: size }).ends,
      [size],
      `${protocol}: exactly the limit passes`,
    )
    expectError(
      t,
      enc.bytes,
      { protocol, framed: false, maxMessageBytes: size - 1 },
      'TOO_LARGE',
      `${protocol}: one byte over`,
    )
    expectError(
      t,
      enc.bytes,
      { protocol, framed: false, maxMessageBytes: 100 },
      'TOO_LARGE',
      `${protocol}: far over`,
    )
    // a huge declared string is reported once the limit is reached, not buffered
    const r = feed(enc.bytes.subarray(0, 200), [200], {
      protocol,
      framed: false,
      maxMessageBytes: 150,
    })
    t.equal(r.error?.code, 'TOO_LARGE')
  }
})

t.test('depth bomb', async (t) => {
  const nest = (levels: number): Node => {
    let n: Node = { t: 12, fields: [] }
    for (let i = 0; i < levels; i++)
      n = {
        t: 12,
        fields: [{ id: 1, node: i % 2 ? n : { t: T.LIST, e: { t: T.STRUCT }, items: [n] } }],
      }
    return n
  }
  for (const protocol of ['binary', 'compact'] as const) {
    // depth: the message struct is 1; each level adds a struct (odd i) or a list + struct (even i)
    const ok = encode(protocol, false, [{ h: { name: 'd', type: 1, seqid: 1 }, body: nest(40) }])
    t.same(
      feed(ok.bytes, [ok.bytes.length], { protocol, framed: false }).ends,
      [ok.bytes.length],
      `${protocol}: 61 levels pass`,
    )
    const bomb = encode(protocol, false, [
      { h: { name: 'd', type: 1, seqid: 1 }, body: nest(2000) },
    ])
    expectError(t, bomb.bytes, { protocol, framed: false }, 'TOO_DEEP', `${protocol}: 3000 levels`)
    expectError(
      t,
      ok.bytes,
      { protocol, framed: false, maxDepth: 10 },
      'TOO_DEEP',
      `${protocol}: maxDepth 10`,
    )
  }
  // hand-made list-of-list bomb without any struct in between
  const bytes = Buffer.concat([
    strictHdr(),
    Buffer.from([15, 0, 1]),
    ...Array.from({ length: 100 }, () => Buffer.concat([Buffer.from([15]), i32(1)])),
  ])
  expectError(t, bytes, bin, 'TOO_DEEP', 'binary list bomb')
  const cbytes = Buffer.concat([compactHdr(), Buffer.from([0x19]), Buffer.alloc(100, 0x19)])
  expectError(t, cbytes, cmp, 'TOO_DEEP', 'compact list bomb')
})

t.test('a dead scanner keeps returning its error', async (t) => {
  const s = new ThriftScanner(
    { protocol: 'binary', framed: false, maxMessageBytes: 100 },
    { onHeader: () => {}, onEnd: () => {} },
  )
  const e = s.push(Buffer.from('GET / HTTP/1.1\r\n'))
  t.equal(e?.code, 'MALFORMED')
  t.equal(s.push(strictHdr()), e)
})

t.test('large fixed-size lists are skipped in one step, big strings without copying', async (t) => {
  const big: Node = {
    t: 12,
    fields: [
      {
        id: 1,
        node: {
          t: T.LIST,
          e: { t: T.DOUBLE },
          items: Array.from({ length: 100000 }, (_, i) => ({ t: T.DOUBLE, v: i })),
        },
      },
      { id: 2, node: { t: T.STRING, v: 'y'.repeat(1 << 20) } },
    ],
  }
  for (const protocol of ['binary', 'compact'] as const) {
    const enc = encode(protocol, false, [{ h: { name: 'big', type: 2, seqid: 9 }, body: big }])
    const start = process.hrtime.bigint()
    const r = feed(enc.bytes, randomChunks(new Gen(5), enc.bytes.length), {
      protocol,
      framed: false,
    })
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    t.same(r.ends, enc.ends, `${protocol}: ${enc.bytes.length} bytes in ${ms.toFixed(1)} ms`)
  }
})

// ---------------------------------------------------------------------------------------------------
// The wasm fast path (binary-wasm.ts): windows larger than its scratch area, and scanners sharing it

function partitionsLike(n: number, seed: number): Node {
  const g = new Gen(seed)
  const part = (i: number): Node => ({
    t: 12,
    fields: [
      {
        id: 1,
        node: {
          t: T.LIST,
          e: { t: T.STRING },
          items: [
            { t: T.STRING, v: `2024-01-${i % 28}` },
            { t: T.STRING, v: String(i) },
          ],
        },
      },
      { id: 2, node: { t: T.STRING, v: 'x'.repeat(g.int(40)) } },
      { id: 4, node: { t: T.I32, v: i } },
      {
        id: 6,
        node: {
          t: 12,
          fields: [
            { id: 2, node: { t: T.STRING, v: `hdfs://nn/warehouse/t/ds=${i}` } },
            { id: 5, node: { t: T.BOOL, v: false } },
          ],
        },
      },
      {
        id: 7,
        node: {
          t: T.MAP,
          k: { t: T.STRING },
          vt: { t: T.STRING },
          entries: [
            [
              { t: T.STRING, v: 'numRows' },
              { t: T.STRING, v: String(g.int(1e6)) },
            ],
          ],
        },
      },
    ],
  })
  return {
    t: 12,
    fields: [
      {
        id: 0,
        node: {
          t: T.LIST,
          e: { t: T.STRUCT },
          items: Array.from({ length: n }, (_, i) => part(i)),
        },
      },
    ],
  }
}

t.test('wasm fast path: a window larger than its scratch area, and odd chunk sizes', async (t) => {
  const enc = encode('binary', false, [
    { h: { name: 'get_partitions', type: 2, seqid: 1 }, body: partitionsLike(20000, 1) },
    { h: { name: 'get_partitions', type: 2, seqid: 2 }, body: partitionsLike(10, 2) },
  ])
  t.ok(
    enc.bytes.length > 2 * 1024 * 1024,
    `${enc.bytes.length} bytes: more than the wasm scratch area (256 KiB) in one push`,
  )
  const want = { headers: enc.headers, ends: enc.ends, error: undefined, pending: 0 }
  const sizes = (n: number): number[] =>
    Array.from({ length: Math.ceil(enc.bytes.length / n) }, (_, i) =>
      Math.min(n, enc.bytes.length - i * n),
    )
  for (const chunks of [whole(enc.bytes.length), sizes(262144), sizes(4099), sizes(65537)]) {
    t.same(feed(enc.bytes, chunks, bin), want, `chunks of ${chunks[0]}`)
  }
})

t.test("wasm fast path: a scanner used from inside another one's callback", async (t) => {
  const a = encode('binary', false, [
    { h: { name: 'a', type: 2, seqid: 1 }, body: partitionsLike(3000, 3) },
    { h: { name: 'a', type: 2, seqid: 2 }, body: partitionsLike(3000, 5) },
  ])
  const b = encode('binary', false, [
    { h: { name: 'b', type: 2, seqid: 1 }, body: partitionsLike(2000, 4) },
  ])
  const endsA: number[] = []
  const endsB: number[] = []
  const sb = new ThriftScanner(
    { ...bin, maxMessageBytes: 1 << 24 },
    { onHeader: () => {}, onEnd: (e) => void endsB.push(e) },
  )
  // A's second header arrives after A's window was copied for its first message: B then takes the
  // shared scratch area over, and A must not walk B's bytes
  const sa = new ThriftScanner(
    { ...bin, maxMessageBytes: 1 << 24 },
    {
      onHeader: (h) => void (h.seqid === 2 && sb.push(b.bytes)),
      onEnd: (e) => void endsA.push(e),
    },
  )
  t.equal(sa.push(a.bytes), undefined)
  t.same(endsA, a.ends, 'A ends where it ends')
  t.same(endsB, b.ends, 'B ends where it ends')
})
