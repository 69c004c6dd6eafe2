import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { metastoreRoute, startTestProxy, waitFor } from '../helpers/proxy.js'
import { scanReadBuffers } from '../../src/thrift/scanner.js'
import { WASM_READ_BUFFERS } from '../../src/thrift/binary-wasm.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** the first line a child prints, parsed as JSON */
async function firstLine<T>(child: ReturnType<typeof spawn>): Promise<T> {
  let text = ''
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    text += chunk.toString()
    if (text.includes('\n')) break
  }
  return JSON.parse(text.split('\n')[0] as string) as T
}

t.test(
  '40 clients, large answers, slow readers: past the wasm read buffers every answer stays intact',
  async (t) => {
    // The bench's metastore stub answers from reused buffers, fast enough to keep 40 clients busy;
    // the clients run in a process of their own so that they read while the proxy works. Slow
    // readers leave the proxy's writes pending, so their forwarders hold their read buffers: all of
    // the wasm ones get taken, then heap ones. A read buffer reused while a write still points into
    // it would show up as a wrong digest.
    const backend = spawn(
      process.execPath,
      [`${root}bench/backend.mjs`, '{"listeners":[{"kind":"hms"}]}'],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    )
    t.teardown(() => void backend.kill('SIGKILL'))
    const { ports } = await firstLine<{ ports: number[] }>(backend)
    const {
      proxy,
      ports: [port],
    } = await startTestProxy(t, [], {
      metastore: [
        metastoreRoute({
          kind: 'static',
          backends: [{ host: '127.0.0.1', port: ports[0] as number }],
        }),
      ],
    })
    await waitFor('ready', () => proxy.ready)
    let fewestFree = scanReadBuffers.counts.free
    const sample = setInterval(
      () => (fewestFree = Math.min(fewestFree, scanReadBuffers.counts.free)),
      1,
    )
    t.teardown(() => clearInterval(sample))
    const clients = spawn(
      process.execPath,
      [`${root}test/helpers/hms-stress-clients.mjs`, String(port)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    t.teardown(() => void clients.kill('SIGKILL'))
    const [result] = await Promise.all([
      firstLine<{ ok: number; bad: number; bytes: number; errors: string[] }>(clients),
      once(clients, 'exit'),
    ])
    clearInterval(sample)
    t.same(result.errors, [], 'no client saw a wrong, short or overlong answer')
    t.equal(result.ok, 120, `120 answers intact (${Math.round(result.bytes / 2 ** 20)} MiB)`)
    t.equal(
      fewestFree,
      0,
      `all ${WASM_READ_BUFFERS} wasm read buffers were in use at once, and heap ones beyond them`,
    )
    await waitFor(
      'the wasm read buffers are back',
      () => scanReadBuffers.counts.free === WASM_READ_BUFFERS,
    )
  },
)
