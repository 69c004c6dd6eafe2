/**
 * An HS2 backend stub built from hive-driver's generated TCLIService code (test-env.md §1.6).
 *
 * It answers just enough of TCLIService for a real client (hive-driver) to run `SELECT 1`:
 * the result has one string column `backend` whose single value is the stub's `id`, so a client
 * learns which backend served it.
 *
 * - auth 'nosasl': unframed TBinaryProtocol (what hive-driver's NoSaslAuthentication speaks).
 * - auth 'plain' : Thrift SASL negotiation (START "PLAIN", then OK/COMPLETE `authzid\0user\0pass`),
 *                  then framed TBinaryProtocol (semantics §5.3).
 *
 * Handlers are callback-style and synchronous (gotcha H4): replies on a connection follow request
 * order, and they do not depend on thrift.Q (gotcha H1).
 */
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import type { TLSSocket } from 'node:tls'
import { createRequire } from 'node:module'
import hive from 'hive-driver'

const require = createRequire(import.meta.url)

/** The parts of the thrift runtime used here (@types/thrift is for another version, gotcha H5). */
interface ThriftRuntime {
  createServer(
    processor: unknown,
    handler: object,
    options: { transport: unknown; protocol: unknown; tls?: object },
  ): net.Server
  TBufferedTransport: unknown
  TFramedTransport: unknown
  TBinaryProtocol: unknown
}
// Gotcha H1: load the thrift copy that hive-driver's generated code itself resolves (0.20, has thrift.Q).
const thrift = require(
  require.resolve('thrift', { paths: [require.resolve('hive-driver')] }),
) as ThriftRuntime

const TCLIService: unknown = hive.thrift.TCLIService
// hive-driver types the generated structs/enums as `any`; kept local to this file.
// biome-ignore lint/suspicious/noExplicitAny: generated structs are untyped in hive-driver
const T: any = hive.thrift.TCLIService_types

export interface Hs2Stub {
  id: string
  host: string
  port: number
  auth: 'nosasl' | 'plain'
  /** TCP connections accepted so far */
  connections: number
  /** TCP connections currently open */
  readonly activeConnections: number
  /** sessions opened so far */
  sessions: number
  /** user names seen in OpenSession (NOSASL) or in the SASL PLAIN exchange, in order */
  users: string[]
  /** TLS stubs: connections whose handshake resumed an earlier session */
  readonly tlsResumed: number
  /** destroys live sockets too; idempotent */
  close(): Promise<void>
}

export interface StartHs2StubOptions {
  id: string
  auth?: 'nosasl' | 'plain'
  /** PLAIN only: when set, a different password is rejected with a SASL ERROR frame */
  password?: string
  /** a fixed port (lets a test restart a stub on the same port); default 0 = any free port */
  port?: number
  /** NOSASL only: serve TLS with this certificate (PEM texts), as hive.server2.use.SSL=true */
  tls?: { cert: string; key: string }
}

/** SASL negotiation status bytes (apache/thrift TSaslTransport, NegotiationStatus) */
const SASL = { START: 1, OK: 2, BAD: 3, ERROR: 4, COMPLETE: 5 } as const
const MAX_SASL_PAYLOAD = 1 << 20

function saslFrame(status: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5)
  head[0] = status
  head.writeUInt32BE(payload.length, 1)
  return Buffer.concat([head, payload])
}

interface HandleIdentifier {
  guid: Buffer
  secret: Buffer
}
interface OperationHandleReq {
  operationHandle?: { operationId?: HandleIdentifier }
}
interface OpenSessionReq {
  client_protocol?: number
  username?: string | null
  password?: string | null
}
interface FetchResultsReq extends OperationHandleReq {
  orientation?: number
}
interface GetInfoReq {
  infoType?: number
}
type Reply = (err: Error | null, resp?: unknown) => void

const ok = (): unknown => new T.TStatus({ statusCode: T.TStatusCode.SUCCESS_STATUS })
const newHandleId = (): unknown =>
  new T.THandleIdentifier({ guid: randomBytes(16), secret: randomBytes(16) })
const opKey = (req: OperationHandleReq): string =>
  req.operationHandle?.operationId?.guid?.toString('hex') ?? ''

function stringColumn(values: string[]): unknown {
  return new T.TColumn({
    stringVal: new T.TStringColumn({ values, nulls: Buffer.alloc(Math.ceil(values.length / 8)) }),
  })
}

/**
 * The TCLIService handler of a stub: just enough for `SELECT 1`, whose single value is `id`.
 * `onOpen` hears every OpenSession with its user name.
 */
export function hs2Handler(id: string, onOpen: (user: string) => void): object {
  /** operation guid (hex) -> whether its row has been fetched */
  const operations = new Map<string, { fetched: boolean }>()
  const impl: Record<string, (req: never, reply: Reply) => void> = {
    OpenSession(req: OpenSessionReq, reply: Reply) {
      onOpen(req.username ?? '')
      const requested = typeof req.client_protocol === 'number' ? req.client_protocol : 9
      reply(
        null,
        new T.TOpenSessionResp({
          status: ok(),
          // V10 (= 9) at most, like a Hive 3.x/4.x server; lower if the client asked for less
          serverProtocolVersion: Math.min(
            requested,
            T.TProtocolVersion.HIVE_CLI_SERVICE_PROTOCOL_V10,
          ),
          sessionHandle: new T.TSessionHandle({ sessionId: newHandleId() }),
          configuration: {},
        }),
      )
    },
    CloseSession(_req: unknown, reply: Reply) {
      reply(null, new T.TCloseSessionResp({ status: ok() }))
    },
    GetInfo(req: GetInfoReq, reply: Reply) {
      let stringValue = id
      if (req.infoType === T.TGetInfoType.CLI_DBMS_NAME) stringValue = 'Apache Hive'
      else if (req.infoType === T.TGetInfoType.CLI_DBMS_VER) stringValue = '4.0.0'
      else if (req.infoType === T.TGetInfoType.CLI_SERVER_NAME) stringValue = `hs2-stub ${id}`
      reply(
        null,
        new T.TGetInfoResp({ status: ok(), infoValue: new T.TGetInfoValue({ stringValue }) }),
      )
    },
    ExecuteStatement(_req: unknown, reply: Reply) {
      const operationId = newHandleId() as HandleIdentifier
      operations.set(operationId.guid.toString('hex'), { fetched: false })
      reply(
        null,
        new T.TExecuteStatementResp({
          status: ok(),
          operationHandle: new T.TOperationHandle({
            operationId,
            operationType: T.TOperationType.EXECUTE_STATEMENT,
            hasResultSet: true,
          }),
        }),
      )
    },
    GetOperationStatus(_req: unknown, reply: Reply) {
      reply(
        null,
        new T.TGetOperationStatusResp({
          status: ok(),
          operationState: T.TOperationState.FINISHED_STATE,
          hasResultSet: true,
        }),
      )
    },
    GetResultSetMetadata(_req: unknown, reply: Reply) {
      reply(
        null,
        new T.TGetResultSetMetadataResp({
          status: ok(),
          schema: new T.TTableSchema({
            columns: [
              new T.TColumnDesc({
                columnName: 'backend',
                typeDesc: new T.TTypeDesc({
                  types: [
                    new T.TTypeEntry({
                      primitiveEntry: new T.TPrimitiveTypeEntry({ type: T.TTypeId.STRING_TYPE }),
                    }),
                  ],
                }),
                position: 1,
              }),
            ],
          }),
        }),
      )
    },
    FetchResults(req: FetchResultsReq, reply: Reply) {
      const key = opKey(req)
      let op = operations.get(key)
      if (!op) {
        op = { fetched: false }
        operations.set(key, op)
      }
      if (req.orientation === T.TFetchOrientation.FETCH_FIRST) op.fetched = false
      // gotcha H3: the first fetch returns the row, every later one an empty rowset
      const values = op.fetched ? [] : [id]
      op.fetched = true
      reply(
        null,
        new T.TFetchResultsResp({
          status: ok(),
          hasMoreRows: false,
          results: new T.TRowSet({ startRowOffset: 0, rows: [], columns: [stringColumn(values)] }),
        }),
      )
    },
    CloseOperation(req: OperationHandleReq, reply: Reply) {
      operations.delete(opKey(req))
      reply(null, new T.TCloseOperationResp({ status: ok() }))
    },
    CancelOperation(_req: unknown, reply: Reply) {
      reply(null, new T.TCancelOperationResp({ status: ok() }))
    },
  }
  // Any other TCLIService method answers with a TApplicationException instead of crashing the
  // generated processor (it would call an undefined handler method).
  // Note: reply(null, resp) — the generated callback path treats `undefined` as an error value.
  const handler = new Proxy(impl, {
    get(target, prop) {
      if (typeof prop === 'string' && prop in target) return target[prop]
      if (typeof prop === 'string' && /^[A-Z]/.test(prop)) {
        return (_req: unknown, reply: Reply) =>
          reply(new Error(`${prop} is not implemented by hs2 stub ${id}`))
      }
      return undefined
    },
  })
  return handler
}

export async function startHs2Stub(opts: StartHs2StubOptions): Promise<Hs2Stub> {
  const id = opts.id
  const auth = opts.auth ?? 'nosasl'
  const host = '127.0.0.1'
  const sockets = new Set<net.Socket>()

  const stats = { connections: 0, sessions: 0, users: [] as string[], tlsResumed: 0 }

  const handler = hs2Handler(id, (user) => {
    stats.sessions++
    if (auth === 'nosasl') stats.users.push(user)
  })

  const track = (sock: net.Socket): void => {
    stats.connections++
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => {})
  }

  let server: net.Server
  if (auth === 'nosasl') {
    server = thrift.createServer(TCLIService, handler, {
      transport: thrift.TBufferedTransport,
      protocol: thrift.TBinaryProtocol,
      ...(opts.tls === undefined ? {} : { tls: opts.tls }),
    })
    server.on(opts.tls === undefined ? 'connection' : 'secureConnection', (sock: net.Socket) => {
      if ((sock as Partial<TLSSocket>).isSessionReused?.() === true) stats.tlsResumed++
      track(sock)
    })
    server.on('tlsClientError', () => {})
  } else {
    const inner = thrift.createServer(TCLIService, handler, {
      transport: thrift.TFramedTransport,
      protocol: thrift.TBinaryProtocol,
    })
    inner.on('error', () => {})
    server = net.createServer((sock) => {
      track(sock)
      let buf: Buffer = Buffer.alloc(0)
      let mechanism: string | undefined
      const fail = (message: string): void => {
        sock.removeListener('data', onSasl)
        sock.end(saslFrame(SASL.ERROR, Buffer.from(message, 'utf8')))
      }
      const onSasl = (chunk: Buffer): void => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
        while (buf.length >= 5) {
          const status = buf[0]
          const len = buf.readUInt32BE(1)
          if (len > MAX_SASL_PAYLOAD || status < SASL.START || status > SASL.COMPLETE) {
            fail(`Invalid SASL negotiation frame (status ${status}, length ${len})`)
            return
          }
          if (buf.length < 5 + len) return
          const payload = buf.subarray(5, 5 + len)
          buf = buf.subarray(5 + len)
          if (status === SASL.BAD || status === SASL.ERROR) {
            sock.destroy()
            return
          }
          if (mechanism === undefined) {
            if (status !== SASL.START) {
              fail('Expected START status')
              return
            }
            mechanism = payload.toString('utf8')
            if (mechanism !== 'PLAIN') {
              fail(`Unsupported mechanism type ${mechanism}`)
              return
            }
            continue
          }
          // OK or COMPLETE with the PLAIN initial response: authzid NUL authcid NUL passwd
          const parts = payload.toString('utf8').split('\0')
          if (parts.length !== 3 || !parts[1]) {
            fail('Invalid message format')
            return
          }
          stats.users.push(parts[1])
          if (opts.password !== undefined && parts[2] !== opts.password) {
            fail('Error validating the login')
            return
          }
          // negotiation done: hand the socket (and any bytes already read) to the framed thrift server
          sock.removeListener('data', onSasl)
          sock.write(saslFrame(SASL.COMPLETE))
          sock.pause()
          if (buf.length) sock.unshift(buf)
          inner.emit('connection', sock)
          sock.resume()
          return
        }
      }
      sock.on('data', onSasl)
    })
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => {
      server.removeListener('error', reject)
      resolve()
    })
  })
  // socket errors are re-emitted on the server by thrift's serverImpl; never let them crash a test
  server.on('error', () => {})
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0

  let closing: Promise<void> | undefined
  const stub: Hs2Stub = {
    id,
    host,
    port,
    auth,
    get connections() {
      return stats.connections
    },
    set connections(v: number) {
      stats.connections = v
    },
    get tlsResumed() {
      return stats.tlsResumed
    },
    get activeConnections() {
      return sockets.size
    },
    get sessions() {
      return stats.sessions
    },
    set sessions(v: number) {
      stats.sessions = v
    },
    get users() {
      return stats.users
    },
    set users(v: string[]) {
      stats.users = v
    },
    close() {
      if (!closing) {
        closing = new Promise<void>((resolve) => {
          server.close(() => resolve())
          for (const s of sockets) s.destroy()
        })
      }
      return closing
    },
  }
  return stub
}
