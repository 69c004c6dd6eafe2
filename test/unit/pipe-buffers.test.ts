import t from 'tap'
import { EventEmitter } from 'node:events'
import type net from 'node:net'
import { Pipe, PIPE_LARGE_READ_BYTES } from '../../src/net/pipe.js'

/**
 * The read-buffer contract of net/pipe.ts, driven directly through `onread` with a fake client
 * whose writes stay pending (a full socket), so the interleavings real sockets rarely produce
 * are deterministic here.
 */
class FakeClient extends EventEmitter {
  writes: Buffer[] = []
  writableLength = 0
  /** when true, every write stays queued (kernel buffer full) */
  stuck = false
  write(b: Buffer, _cb?: () => void): boolean {
    this.writes.push(b)
    if (this.stuck) this.writableLength += b.length
    return !this.stuck
  }
  setTimeout(): this {
    return this
  }
  destroy(): this {
    return this
  }
}

type OnRead = { buffer: () => Buffer; callback: (n: number, b: Buffer) => boolean }
const make = (): { pipe: Pipe; client: FakeClient; onread: OnRead } => {
  const client = new FakeClient()
  const pipe = new Pipe(client as unknown as net.Socket, { idleTimeoutMs: 0, onDone: () => {} })
  return { pipe, client, onread: pipe.onread as unknown as OnRead }
}

t.test(
  'a small read into the shared buffer is copied out before anyone else can read into it',
  async (t) => {
    const a = make()
    const b = make()
    const shared = a.onread.buffer()
    t.equal(b.onread.buffer(), shared, 'idle pipes share one read buffer')
    a.client.stuck = true
    shared.fill(0x41, 0, 100)
    t.equal(a.onread.callback(100, shared), false, 'a pending write stops reads on that pipe')
    // another pipe now reads into the same memory
    shared.fill(0x42, 0, 100)
    t.equal(b.onread.callback(100, shared), true)
    t.same(
      [...new Set(a.client.writes[0]!)],
      [0x41],
      "the pending write still holds pipe a's bytes",
    )
    t.same([...new Set(b.client.writes[0]!)], [0x42])
    t.equal(a.pipe.bytesToClient, 100)
  },
)

t.test(
  'a large read moves the pipe to a buffer of its own; a drained queue gives it back',
  async (t) => {
    const a = make()
    const shared = a.onread.buffer()
    shared.fill(0x43, 0, 8000)
    t.equal(a.onread.callback(8000, shared), true)
    const own = a.onread.buffer()
    t.not(own, shared, 'next read lands in its own buffer')
    t.equal(own.length, PIPE_LARGE_READ_BYTES)
    t.same([...new Set(a.client.writes[0]!)], [0x43], 'bytes were copied into it')
    // a full read keeps the buffer; a short one (kernel queue drained) with the write done returns it
    own.fill(0x44)
    t.equal(a.onread.callback(own.length, own), true)
    t.equal(a.onread.buffer(), own)
    t.equal(a.onread.callback(10, own), true)
    t.equal(a.onread.buffer(), shared, 'back on the shared buffer')
  },
)

t.test('a pending write on its own buffer keeps that buffer until flushed', async (t) => {
  const a = make()
  const shared = a.onread.buffer()
  a.onread.callback(8000, shared)
  const own = a.onread.buffer()
  a.client.stuck = true
  t.equal(a.onread.callback(10, own), false, 'reads stop while the write is pending')
  t.equal(a.onread.buffer(), own, 'the referenced buffer is not handed back to the pool')
})
