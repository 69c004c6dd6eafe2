/**
 * hive-driver as the real HS2 client in tests.
 *
 * queryBackendId() opens a session, runs `SELECT 1` and returns the single value, which an
 * Hs2Stub sets to its own id, so a test learns which backend served the connection.
 *
 * hive-driver never settles pending promises when the peer closes the socket (gotcha H2), and its
 * SASL PLAIN handshake does not watch for 'close' either, so everything is raced against the
 * socket's 'close'/'error' events and a timer, and the socket is always closed afterwards.
 */
import type { Socket } from 'node:net'
import hive from 'hive-driver'

export interface QueryBackendIdOptions {
  host: string
  port: number
  /** 'nosasl' (default) or SASL 'plain' */
  auth?: 'nosasl' | 'plain'
  user?: string
  password?: string
  /** bound for the whole exchange (default 5000 ms) */
  timeoutMs?: number
  /** connect with TLS (hive-driver's options.ssl); checked against `ca` for `servername` */
  tls?: { ca: string; servername?: string; cert?: string; key?: string }
}

type HiveClientInstance = InstanceType<typeof hive.HiveClient>
/** hive-driver's IAuthentication / ITransport, taken from its typings without deep imports */
type Authentication = NonNullable<Parameters<HiveClientInstance['connect']>[2]>
type Transport = Parameters<Authentication['authenticate']>[0]

const TCLIService: object = hive.thrift.TCLIService
// hive-driver types the generated TCLIService_types as `any`
const TTypes = hive.thrift.TCLIService_types
const V10: number = TTypes.TProtocolVersion.HIVE_CLI_SERVICE_PROTOCOL_V10

export async function queryBackendId(opts: QueryBackendIdOptions): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? 5000
  const mode = opts.auth ?? 'nosasl'
  const where = `${opts.host}:${opts.port} (${mode})`

  const client = new hive.HiveClient(TCLIService, TTypes)
  let socket: Socket | undefined
  let finished = false

  // Wrap the auth provider to get hold of the raw socket as soon as it exists.
  const inner: Authentication =
    mode === 'plain'
      ? new hive.auth.PlainTcpAuthentication({
          username: opts.user ?? 'anonymous',
          password: opts.password ?? 'anonymous',
        })
      : new hive.auth.NoSaslAuthentication()
  let onSocket: (s: Socket) => void = () => {}
  const authProvider: Authentication = {
    authenticate(transport: Transport) {
      const p = inner.authenticate(transport) // calls transport.connect(), which creates the socket
      const s = transport.getTransport() as Socket | undefined
      if (s) onSocket(s)
      return p
    },
  }

  let timer: NodeJS.Timeout | undefined
  const failure = new Promise<never>((_, reject) => {
    const fail = (why: string, cause?: unknown): void => {
      if (finished) return
      finished = true
      reject(
        new Error(`queryBackendId ${where}: ${why}`, cause === undefined ? undefined : { cause }),
      )
    }
    timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs)
    onSocket = (s) => {
      socket = s
      s.on('error', (err) => fail(`socket error: ${err.message}`, err))
      s.on('close', () => fail('connection closed by peer'))
    }
    // HiveClient re-emits the thrift connection's events; an 'error' without listener would throw
    client.on('error', (err: Error) => fail(`client error: ${err.message}`, err))
    client.on('close', () => fail('connection closed'))
  })

  const run = async (): Promise<string> => {
    await client.connect(
      {
        host: opts.host,
        port: opts.port,
        ...(opts.tls === undefined
          ? {}
          : { options: { ssl: true, rejectUnauthorized: true, ...opts.tls } }),
      },
      new hive.connections.TcpConnection(),
      authProvider,
    )
    const session = await client.openSession({ client_protocol: V10 })
    const utils = new hive.HiveUtils(TTypes)
    const op = await session.executeStatement('SELECT 1', { runAsync: true })
    await utils.waitUntilReady(op, false, () => {})
    await utils.fetchAll(op)
    const rows: unknown = utils.getResult(op).getValue()
    await op.close()
    await session.close()
    if (!Array.isArray(rows) || rows.length !== 1) {
      throw new Error(`expected exactly one row, got ${JSON.stringify(rows)}`)
    }
    const values = Object.values(rows[0] as Record<string, unknown>)
    if (values.length !== 1 || typeof values[0] !== 'string') {
      throw new Error(`expected one string value, got ${JSON.stringify(rows[0])}`)
    }
    return values[0]
  }

  const main = run()
  main.catch(() => {}) // may settle (or never) after the race is lost
  failure.catch(() => {})
  try {
    const id = await Promise.race([main, failure])
    finished = true
    return id
  } catch (err) {
    if (!finished) finished = true
    if (err instanceof Error && err.message.startsWith('queryBackendId ')) throw err
    const msg = err instanceof Error ? err.message : String(err)
    throw new Error(`queryBackendId ${where}: ${msg}`, { cause: err })
  } finally {
    clearTimeout(timer)
    closeQuietly(client, socket)
  }
}

/** End the connection politely; destroy it if it is not closed within a second. */
function closeQuietly(client: HiveClientInstance, socket: Socket | undefined): void {
  try {
    client.close()
  } catch {
    // not connected: nothing to end
  }
  if (!socket || socket.destroyed) return
  socket.end()
  const t = setTimeout(() => socket.destroy(), 1000)
  t.unref()
  socket.once('close', () => clearTimeout(t))
}
