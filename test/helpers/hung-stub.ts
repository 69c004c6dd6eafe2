import net from 'node:net'

/**
 * A hung HiveServer2 as clients meet it: the kernel accepts the TCP connection, the server never
 * (or too late) answers. Loopback only.
 *
 * - `silent`: reads what the client sends and never writes (a JVM in a long GC pause, a full
 *   Thrift worker pool).
 * - `one-byte`: answers the client's first bytes with one byte, then nothing (stalled mid-answer:
 *   the proxy must not replay, HS2 state may exist).
 * - `prefix`: the same with the given bytes (e.g. an HTTP status line without the rest).
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
  | { kind: 'prefix'; bytes: Buffer }
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
      if ((mode.kind === 'one-byte' || mode.kind === 'prefix') && !answered) {
        answered = true
        s.write(mode.kind === 'prefix' ? mode.bytes : Buffer.from([0x80]))
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

/**
 * A TCP relay in front of a working backend that can be made to hang: until `hang()` it passes
 * bytes both ways; after it, it still accepts and reads but passes nothing either way, on new and
 * live connections alike (a server that stopped answering mid-session). Loopback only.
 */
export interface HangableRelay {
  host: string
  port: number
  /** TCP connections accepted so far */
  connections: number
  /** client bytes swallowed while hung */
  swallowed: number
  hang(): void
  close(): Promise<void>
}

export async function startHangableRelay(via: {
  host: string
  port: number
}): Promise<HangableRelay> {
  const sockets = new Set<net.Socket>()
  let hung = false
  const track = (s: net.Socket): void => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
  }
  const server = net.createServer((c) => {
    relay.connections++
    track(c)
    const up = net.connect(via.port, via.host)
    track(up)
    c.on('data', (d: Buffer) => {
      if (hung) relay.swallowed += d.length
      else up.write(d)
    })
    up.on('data', (d: Buffer) => {
      if (!hung) c.write(d)
    })
    c.on('close', () => up.destroy())
    up.on('close', () => {
      if (!hung) c.destroy()
    })
  })
  const relay: HangableRelay = {
    host: '127.0.0.1',
    port: 0,
    connections: 0,
    swallowed: 0,
    hang: () => {
      hung = true
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  relay.port = (server.address() as net.AddressInfo).port
  return relay
}
