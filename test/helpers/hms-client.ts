/**
 * A Hive Metastore client for tests, built on the thrift package's client side:
 * `thrift.createConnection` + `thrift.createClient(HmsService, connection)` with the hand-written
 * IDL (hms-idl.ts). Like HiveMetaStoreClient it makes one call at a time (calls made concurrently
 * are queued), sequence ids increase from 1.
 *
 * thrift's Connection never settles pending calls when the socket closes (compare gotcha H2), and it
 * has no per-call timeout, so every call is raced against the connection's 'close' and a timer:
 * - the peer closes (or a reply cannot be decoded) -> the call rejects with code 'HMS_CLOSED';
 * - no reply within `timeoutMs` -> code 'HMS_TIMEOUT', and the connection is destroyed (its state is
 *   unknown from then on, as for Hive's client after a socket timeout);
 * - a reply with a seqid no call awaits -> code 'HMS_ERROR' (BAD_SEQUENCE_ID), connection destroyed;
 * - a declared exception -> an Error with `thriftException` = its struct name
 *   (e.g. 'AlreadyExistsException') and `thriftMessage`; a TApplicationException -> `appException`
 *   = its type (e.g. 1 = UNKNOWN_METHOD). Neither closes the connection.
 */
import net from 'node:net'
import type { EventEmitter } from 'node:events'
import {
  type Database,
  type Partition,
  type ProtocolName,
  type ThriftError,
  HmsService,
  type HmsServiceClient,
  MessageType,
  protocolClass,
  thrift,
  transportClass,
} from './hms-idl.js'

export type HmsErrorCode =
  | 'HMS_CONNECT'
  | 'HMS_CLOSED'
  | 'HMS_TIMEOUT'
  | 'HMS_EXCEPTION'
  | 'HMS_APP_EXCEPTION'
  | 'HMS_ERROR'

export interface HmsClientError extends ThriftError {
  code: HmsErrorCode
  method?: string
}

export interface HmsClient {
  /** any method; args are encoded with the IDL (methods unknown to it get an empty args struct) */
  call<T = unknown>(
    method: string,
    args?: Record<string, unknown>,
    opts?: { messageType?: number },
  ): Promise<T>
  /** resolves to what the server answers (HMS: the groups plus the user) */
  setUgi(user: string, groups?: string[]): Promise<string[]>
  getDatabase(name: string): Promise<Database>
  createDatabase(db: Database): Promise<void>
  getAllDatabases(): Promise<string[]>
  getPartitions(db: string, tbl: string, n: number): Promise<Partition[]>
  setMetaConf(key: string, value: string): Promise<void>
  getMetaConf(key: string): Promise<string>
  /**
   * fb303 `shutdown`: written with message type ONEWAY (or CALL with `messageType: 'call'`, as some
   * libfb303 builds do); never waits for a reply. Resolves once written.
   */
  shutdown(opts?: { messageType?: 'oneway' | 'call' }): Promise<void>
  /** graceful close (FIN), destroying the socket if the peer does not finish within 1 s; idempotent */
  close(): Promise<void>
  readonly closed: boolean
  /** the client socket's local port (to tell connections apart on a proxy or a stub) */
  readonly localPort: number | undefined
  /** seqid of the last call sent */
  readonly lastSeqid: number
  /** replies whose seqid matched no pending call (each one fails the call in flight and closes the connection) */
  readonly unexpectedReplies: ReadonlyArray<{ name: string; seqid: number; type: number }>
}

export interface ConnectHmsOptions {
  host: string
  port: number
  protocol?: ProtocolName
  framed?: boolean
  /** bound for the connect and for each call (default 5000 ms) */
  timeoutMs?: number
  /** connect with TLS (checked: set `ca` and `servername`) */
  tls?: import('node:tls').ConnectionOptions
}

/** The parts of thrift's Connection used here (not in @types/thrift 0.10's shape). */
interface ThriftConnection extends EventEmitter {
  connection: net.Socket
  end(): void
  destroy(): void
}

/**
 * thrift's Connection re-parses an unframed reply from its first byte on every 'data' event
 * (64 KiB on loopback), which is quadratic for big answers (test-env.md §4). Hand its listener the
 * chunks of one event-loop turn at once instead; whatever is pending is delivered before 'close'
 * listeners run, so a whole reply followed by a close still settles the call.
 */
function coalesceReads(socket: net.Socket): void {
  const listeners = socket.listeners('data') as Array<(d: Buffer) => void>
  const deliver = (d: Buffer): void => {
    for (const l of listeners) l.call(socket, d)
  }
  for (const l of listeners) socket.removeListener('data', l)
  let pending: Buffer[] = []
  const flush = (): void => {
    if (pending.length === 0) return
    const d = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending)
    pending = []
    deliver(d)
  }
  socket.on('data', (d: Buffer) => {
    if (pending.push(d) === 1) setImmediate(flush)
  })
  socket.prependListener('close', flush)
}

function clientError(
  code: HmsErrorCode,
  message: string,
  method?: string,
  cause?: unknown,
): HmsClientError {
  const e = new Error(message, cause === undefined ? undefined : { cause }) as HmsClientError
  e.code = code
  if (method !== undefined) e.method = method
  return e
}

export async function connectHms(opts: ConnectHmsOptions): Promise<HmsClient> {
  const timeoutMs = opts.timeoutMs ?? 5000
  const where = `${opts.host}:${opts.port}`
  const wire = { transport: transportClass(opts.framed), protocol: protocolClass(opts.protocol) }
  const conn = (
    opts.tls === undefined
      ? thrift.createConnection(opts.host, opts.port, wire)
      : thrift.createSSLConnection(opts.host, opts.port, {
          ...wire,
          ...opts.tls,
          // thrift's default secureProtocol (SSLv23_method) would override minVersion
          secureOptions: 0,
        })
  ) as ThriftConnection
  if (!opts.framed) coalesceReads(conn.connection)

  let closed = false
  let lastError: Error | undefined
  /** seqid -> reject of the call in flight */
  const inFlight = new Map<number, (e: HmsClientError) => void>()
  const closeWaiters = new Set<() => void>()

  conn.on('error', (e: Error) => {
    lastError = e
    // a reply that cannot be decoded leaves the socket open: close it, the pending call fails below
    conn.destroy()
  })
  conn.on('close', () => {
    closed = true
    for (const [seqid, reject] of inFlight) {
      reject(
        clientError(
          'HMS_CLOSED',
          `connection to ${where} closed before the reply (seqid ${seqid})${lastError ? `: ${lastError.message}` : ''}`,
          undefined,
          lastError,
        ),
      )
    }
    inFlight.clear()
    for (const w of closeWaiters) w()
  })

  await new Promise<void>((resolve, reject) => {
    const done = (err?: HmsClientError): void => {
      clearTimeout(timer)
      conn.off('connect', onConnect)
      conn.off('close', onClose)
      if (err) {
        conn.destroy()
        reject(err)
      } else resolve()
    }
    const onConnect = (): void => done()
    const onClose = (): void =>
      done(
        clientError(
          'HMS_CONNECT',
          `cannot connect to ${where}${lastError ? `: ${lastError.message}` : ''}`,
          undefined,
          lastError,
        ),
      )
    const timer = setTimeout(
      () => done(clientError('HMS_CONNECT', `connect to ${where} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    )
    conn.on('connect', onConnect)
    conn.on('close', onClose)
  })

  const client = thrift.createClient(HmsService, conn) as HmsServiceClient
  const unexpectedReplies: Array<{ name: string; seqid: number; type: number }> = []
  client.onUnexpected = (reply) => {
    unexpectedReplies.push(reply)
    for (const [seqid, reject] of inFlight) {
      reject(
        clientError(
          'HMS_ERROR',
          `reply to ${reply.name} with seqid ${reply.seqid} while seqid ${seqid} was awaited (BAD_SEQUENCE_ID)`,
        ),
      )
    }
    conn.destroy()
  }
  let queue: Promise<unknown> = Promise.resolve()

  const call = <T>(
    method: string,
    args: Record<string, unknown> = {},
    messageType?: number,
  ): Promise<T> => {
    const run = (): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        if (closed)
          return reject(
            clientError('HMS_CLOSED', `${method}: connection to ${where} is closed`, method),
          )
        let settled = false
        let seqid = 0
        const finish = (err: HmsClientError | null, result?: unknown): void => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          inFlight.delete(seqid)
          if (err) {
            err.method ??= method
            reject(err)
          } else resolve(result as T)
        }
        const timer = setTimeout(() => {
          finish(
            clientError(
              'HMS_TIMEOUT',
              `${method} (seqid ${seqid}) to ${where}: no reply within ${timeoutMs} ms`,
              method,
            ),
          )
          conn.destroy()
        }, timeoutMs)
        try {
          seqid = client.send(
            method,
            args,
            (err, result) => {
              if (!err) return finish(null, result)
              const e = err as HmsClientError
              e.code = e.thriftException
                ? 'HMS_EXCEPTION'
                : e.appException !== undefined
                  ? 'HMS_APP_EXCEPTION'
                  : 'HMS_ERROR'
              finish(e)
            },
            messageType,
          )
        } catch (e) {
          return finish(
            clientError(
              'HMS_ERROR',
              `${method}: cannot encode the call: ${(e as Error).message}`,
              method,
              e,
            ),
          )
        }
        inFlight.set(seqid, (e) => finish(e))
      })
    const p = queue.then(run, run)
    queue = p.catch(() => undefined)
    return p
  }

  return {
    call: (method, args, o) => call(method, args, o?.messageType),
    setUgi: (user, groups = []) => call('set_ugi', { user_name: user, group_names: groups }),
    getDatabase: (name) => call('get_database', { name }),
    createDatabase: (database) => call('create_database', { database }),
    getAllDatabases: () => call('get_all_databases'),
    getPartitions: (db, tbl, n) =>
      call('get_partitions', { db_name: db, tbl_name: tbl, max_parts: n }),
    setMetaConf: (key, value) => call('setMetaConf', { key, value }),
    getMetaConf: (key) => call('getMetaConf', { key }),
    shutdown: (o) =>
      call('shutdown', {}, o?.messageType === 'call' ? MessageType.CALL : MessageType.ONEWAY),
    async close() {
      if (closed) return
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => conn.destroy(), 1000)
        closeWaiters.add(() => {
          clearTimeout(timer)
          resolve()
        })
        conn.end()
      })
    },
    get closed() {
      return closed
    },
    get localPort() {
      return conn.connection.localPort
    },
    get lastSeqid() {
      return client.seqid()
    },
    unexpectedReplies,
  }
}

// -----------------------------------------------------------------------------------------------
// Raw bytes

/** SASL negotiation frame: [status u8][payload length u32 BE][payload] (hive-ha-semantics.md §5.3). */
export function saslFrame(status: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head[0] = status
  head.writeUInt32BE(payload.length, 1)
  return Buffer.concat([head, payload])
}

/**
 * What a SASL client (e.g. a Kerberized HiveMetaStoreClient) writes first: START (0x01) with the
 * mechanism name, then OK (0x02) with an initial token — here a fake GSS-API token (ASN.1 0x60
 * header + the Kerberos v5 OID), 13 bytes. For tests of the proxy's byte-pipe mode.
 */
export function saslStartBytes(mechanism = 'GSSAPI'): Buffer {
  const fakeToken = Buffer.from([
    0x60, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
  ])
  return Buffer.concat([
    saslFrame(0x01, Buffer.from(mechanism, 'utf8')),
    saslFrame(0x02, fakeToken),
  ])
}

export interface RawConnection {
  socket: net.Socket
  /** every byte received until the socket closes (it is destroyed after `lifetimeMs` at the latest) */
  received: Promise<Buffer>
  /** the bytes received so far */
  data(): Buffer
  /** resolves with data() once at least `n` bytes arrived; rejects on close or after timeoutMs (default 5000) */
  waitForBytes(n: number, timeoutMs?: number): Promise<Buffer>
  /** true if the socket closed within timeoutMs (default 5000) */
  waitForClose(timeoutMs?: number): Promise<boolean>
  readonly closed: boolean
  /** destroys the socket */
  close(): void
}

/** A plain TCP connection; `timeoutMs` bounds the connect (default 5000), `lifetimeMs` the socket's life (default 30000). */
export async function rawConnect(
  host: string,
  port: number,
  opts: { timeoutMs?: number; lifetimeMs?: number } = {},
): Promise<RawConnection> {
  const timeoutMs = opts.timeoutMs ?? 5000
  const socket = net.connect({ host, port })
  const chunks: Buffer[] = []
  let size = 0
  let closed = false
  const listeners = new Set<() => void>()
  const notify = (): void => {
    for (const l of [...listeners]) l()
  }
  socket.on('error', () => {})
  socket.on('data', (d: Buffer) => {
    chunks.push(d)
    size += d.length
    notify()
  })
  const lifetime = setTimeout(() => socket.destroy(), opts.lifetimeMs ?? 30_000)
  const received = new Promise<Buffer>((resolve) => {
    socket.once('close', () => {
      closed = true
      clearTimeout(lifetime)
      resolve(Buffer.concat(chunks))
      notify()
    })
  })
  const data = (): Buffer => Buffer.concat(chunks, size)

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    )
    const fail = (e: Error): void => {
      clearTimeout(timer)
      socket.destroy()
      reject(e)
    }
    socket.once('connect', () => {
      clearTimeout(timer)
      resolve()
    })
    socket.once('error', (e) => fail(new Error(`cannot connect to ${host}:${port}: ${e.message}`)))
  })

  const waitUntil = (cond: () => boolean, timeoutMs: number): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      if (cond()) return resolve(true)
      const l = (): void => {
        if (cond() || closed) done(cond())
      }
      const timer = setTimeout(() => done(false), timeoutMs)
      const done = (v: boolean): void => {
        clearTimeout(timer)
        listeners.delete(l)
        resolve(v)
      }
      listeners.add(l)
    })

  return {
    socket,
    received,
    data,
    async waitForBytes(n, t = 5000) {
      if (await waitUntil(() => size >= n, t)) return data()
      throw new Error(
        `expected ${n} bytes, got ${size} (${closed ? 'socket closed' : `after ${t} ms`})`,
      )
    },
    waitForClose: (t = 5000) => waitUntil(() => closed, t),
    get closed() {
      return closed
    },
    close: () => socket.destroy(),
  }
}
