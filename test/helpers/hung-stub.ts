import net from 'node:net'

/**
 * A hung HiveServer2 as clients meet it: the kernel accepts the TCP connection, the server never
 * (or too late) answers. Loopback only.
 *
 * - `silent`: reads what the client sends and never writes (a JVM in a long GC pause, a full
 *   Thrift worker pool).
 * - `one-byte`: answers the client's first bytes with one byte, then nothing (stalled mid-answer:
 *   the proxy must not replay, HS2 state may exist).
 * - `late`: after `answerAfterMs` it starts to behave: what the client sent so far and everything
 *   after is piped to `via` (a real Hs2Stub), and its answers back.
 */
export interface HungStub {
  host: string
  port: number
  /** TCP connections accepted so far */
  connections: number
  /** bytes received from clients, all connections */
  bytesReceived: number
  close(): Promise<void>
}

export type HungMode =
  | { kind: 'silent' }
  | { kind: 'one-byte' }
  | { kind: 'late'; answerAfterMs: number; via: { host: string; port: number } }

export async function startHungStub(mode: HungMode): Promise<HungStub> {
  const sockets = new Set<net.Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const stub: HungStub = {
    host: '127.0.0.1',
    port: 0,
    connections: 0,
    bytesReceived: 0,
    close: async () => {
      for (const tm of timers) clearTimeout(tm)
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
  const track = (s: net.Socket): void => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
  }
  const server = net.createServer((s) => {
    stub.connections++
    track(s)
    const held: Buffer[] = []
    let answered = false
    let upstream: net.Socket | undefined
    s.on('data', (chunk: Buffer) => {
      stub.bytesReceived += chunk.length
      if (upstream !== undefined) upstream.write(chunk)
      else held.push(chunk)
      if (mode.kind === 'one-byte' && !answered) {
        answered = true
        s.write(Buffer.from([0x80]))
      }
    })
    if (mode.kind === 'late') {
      const tm = setTimeout(() => {
        timers.delete(tm)
        if (s.destroyed) return
        const up = net.connect(mode.via.port, mode.via.host)
        track(up)
        upstream = up
        for (const c of held) up.write(c)
        up.pipe(s)
        s.on('close', () => up.destroy())
      }, mode.answerAfterMs)
      timers.add(tm)
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  stub.port = (server.address() as net.AddressInfo).port
  return stub
}
