import t from 'tap'
import { ScanReadBuffers, wasmFastPath, WASM_READ_BUFFERS } from '../../src/thrift/binary-wasm.js'
import { METASTORE_READ_BYTES, ReadBuffer } from '../../src/net/read-buffer.js'

const fast = wasmFastPath()
if (fast === undefined)
  throw new Error('this Node has no WebAssembly: the wasm read buffers cannot be tested')

t.test(
  'wasm read buffers first, then heap ones; given back, they are handed out again',
  async (t) => {
    const pool = new ScanReadBuffers(() => fast)
    const taken = Array.from({ length: WASM_READ_BUFFERS }, () => pool.take())
    t.ok(
      taken.every((b) => fast.contains(b) && b.length === METASTORE_READ_BYTES),
      `the first ${WASM_READ_BUFFERS} lie in wasm memory`,
    )
    t.equal(new Set(taken.map((b) => b.byteOffset)).size, WASM_READ_BUFFERS, 'and do not overlap')
    const extra = pool.take()
    t.notOk(fast.contains(extra), 'then heap buffers')
    pool.give(extra)
    t.same(pool.counts, { free: 0, retired: 0 }, 'a heap buffer does not join the wasm ones')
    pool.give(taken[3] as Buffer)
    t.equal(pool.take(), taken[3], 'a given-back wasm buffer is reused')
  },
)

t.test('a retired wasm buffer is reused only once nothing references it', async (t) => {
  const pool = new ScanReadBuffers(() => fast)
  const taken = Array.from({ length: WASM_READ_BUFFERS }, () => pool.take())
  let flushed = false
  pool.retire(taken[0] as Buffer, () => flushed)
  t.same(pool.counts, { free: 0, retired: 1 })
  t.notOk(fast.contains(pool.take()), 'still referenced: a heap buffer instead')
  flushed = true
  t.equal(pool.take(), taken[0], 'once free, it is handed out again')
  t.same(pool.counts, { free: 0, retired: 0 })
})

t.test('ReadBuffer.release gives back or retires by what `free` says', async (t) => {
  const pool = new ScanReadBuffers(() => fast)
  const reader = (): ReadBuffer => {
    const rb = new ReadBuffer(pool)
    const big = Buffer.alloc(8192, 1)
    // a read of 8 KiB into the shared buffer moves the reader to a large buffer of its own
    const out = rb.take(big.length, rb.next())
    t.ok(fast.contains(out), 'the large buffer comes from the pool given to the reader')
    return rb
  }
  const before = pool.counts.free
  reader().release(() => true)
  t.equal(pool.counts.free, before, 'free at once: back in the pool')
  reader().release(() => false)
  t.same(pool.counts, { free: before - 1, retired: 1 }, 'still referenced: retired')
})
