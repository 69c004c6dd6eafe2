import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// Under --jitless (some hardened deployments) Node has no WebAssembly: the scanner must keep
// working on its JavaScript fast path, and the metastore read buffers come from the heap.
t.test('without WebAssembly the scanner and the read buffers still work', async (t) => {
  const scanner = fileURLToPath(new URL('../../src/thrift/scanner.ts', import.meta.url))
  const script = `
    const { ThriftScanner, scanReadBuffers } = await import(${JSON.stringify(scanner)})
    const out = { wasm: typeof WebAssembly, ends: [] }
    const b = scanReadBuffers.take()
    out.bufLength = b.length
    const s = new ThriftScanner({ protocol: 'binary', framed: false, maxMessageBytes: 1 << 24 }, { onHeader() {}, onEnd: (e) => out.ends.push(e) })
    // a REPLY 'm' whose struct holds list<string> of 5,000 entries: large enough for the wasm path
    const head = Buffer.from([0x80, 1, 0, 2, 0, 0, 0, 1, 0x6d, 0, 0, 0, 7, 15, 0, 1, 11, 0, 0, 0x13, 0x88])
    const item = Buffer.from([0, 0, 0, 3, 0x61, 0x62, 0x63])
    const msg = Buffer.concat([head, ...Array(5000).fill(item), Buffer.from([0])])
    const n = msg.copy(b)
    out.err = s.push(b.subarray(0, n)) ?? null
    out.len = msg.length
    console.log(JSON.stringify(out))
  `
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, '--jitless', '--input-type=module', '-e', script],
    { encoding: 'utf8', timeout: 60_000 },
  )
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
    wasm: string
    ends: number[]
    err: unknown
    len: number
    bufLength: number
  }
  t.equal(out.wasm, 'undefined', 'this Node really runs without WebAssembly')
  t.equal(out.err, null)
  t.same(out.ends, [out.len], 'the message ends where it ends')
  t.equal(out.bufLength, 512 * 1024, 'a heap read buffer of the metastore size')
})
