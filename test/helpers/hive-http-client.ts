/**
 * hive-driver's HTTP connection (Thrift over HTTP POSTs, PlainHttpAuthentication) as the real
 * client of an HTTP route. A session is opened once and used for several queries, each of which
 * returns the id of the stub that answered it (hs2-stub.ts), so a test sees every server a
 * session touched.
 *
 * `cookies: false` drops hive-driver's cookie store (like PyHive or impyla); `keepAlive: false`
 * opens a new TCP connection for every request. Every call is bounded by `timeoutMs`.
 */
import http from 'node:http'
import https from 'node:https'
import hive from 'hive-driver'

type HiveClientInstance = InstanceType<typeof hive.HiveClient>
type HiveSessionInstance = Awaited<ReturnType<HiveClientInstance['openSession']>>

const TTypes = hive.thrift.TCLIService_types
const V10: number = TTypes.TProtocolVersion.HIVE_CLI_SERVICE_PROTOCOL_V10

export interface HttpClientOptions {
  host?: string
  port: number
  path?: string
  cookies?: boolean
  keepAlive?: boolean
  user?: string
  password?: string
  /** extra request headers (e.g. X-XSRF-HEADER) */
  headers?: Record<string, string>
  timeoutMs?: number
  /** HTTPS, checked against `ca` for `servername` */
  tls?: { ca: string; servername?: string }
}

export class HttpHiveSession {
  readonly #client: HiveClientInstance
  readonly #session: HiveSessionInstance
  readonly #agent: http.Agent
  readonly #timeoutMs: number

  private constructor(
    client: HiveClientInstance,
    session: HiveSessionInstance,
    agent: http.Agent,
    timeoutMs: number,
  ) {
    this.#client = client
    this.#session = session
    this.#agent = agent
    this.#timeoutMs = timeoutMs
  }

  static async open(o: HttpClientOptions): Promise<HttpHiveSession> {
    const timeoutMs = o.timeoutMs ?? 5000
    const keepAlive = o.keepAlive ?? true
    const agent =
      o.tls === undefined
        ? new http.Agent({ keepAlive, maxSockets: 1 })
        : new https.Agent({ keepAlive, maxSockets: 1, rejectUnauthorized: true, ...o.tls })
    const client = new hive.HiveClient(hive.thrift.TCLIService, TTypes)
    client.on('error', () => {}) // failures surface as rejected calls below
    const connection = new hive.connections.HttpConnection()
    if (o.cookies === false)
      (connection as unknown as { addCookieHandler: () => void }).addCookieHandler = () => {}
    const auth = new hive.auth.PlainHttpAuthentication({
      username: o.user ?? 'anonymous',
      password: o.password ?? 'anonymous',
      headers: { ...(keepAlive ? {} : { Connection: 'close' }), ...o.headers },
    })
    await bounded(
      client.connect(
        {
          host: o.host ?? '127.0.0.1',
          port: o.port,
          options: {
            path: `/${o.path ?? 'cliservice'}`,
            ...(o.tls === undefined ? {} : { https: true }),
            // after hive-driver's own: its https default turns the check off
            nodeOptions: {
              agent,
              ...(o.tls === undefined ? {} : { rejectUnauthorized: true, ...o.tls }),
            },
          },
        },
        connection,
        auth,
      ),
      timeoutMs,
      'connect',
    )
    const session = await bounded(
      client.openSession({ client_protocol: V10 }),
      timeoutMs,
      'OpenSession',
    )
    return new HttpHiveSession(client, session, agent, timeoutMs)
  }

  /** Runs `SELECT 1` and returns the id of the stub that answered every call of it. */
  async query(): Promise<string> {
    const utils = new hive.HiveUtils(TTypes)
    const op = await bounded(
      this.#session.executeStatement('SELECT 1', { runAsync: true }),
      this.#timeoutMs,
      'ExecuteStatement',
    )
    await bounded(
      utils.waitUntilReady(op, false, () => {}),
      this.#timeoutMs,
      'GetOperationStatus',
    )
    await bounded(utils.fetchAll(op), this.#timeoutMs, 'FetchResults')
    const rows: unknown = utils.getResult(op).getValue()
    await bounded(op.close(), this.#timeoutMs, 'CloseOperation')
    if (!Array.isArray(rows) || rows.length !== 1) throw new Error(`rows: ${JSON.stringify(rows)}`)
    const values = Object.values(rows[0] as Record<string, unknown>)
    return String(values[0])
  }

  async close(): Promise<void> {
    try {
      await bounded(this.#session.close(), this.#timeoutMs, 'CloseSession')
    } finally {
      this.end()
    }
  }

  /** Drop the client without closing the session (its server still holds it). */
  end(): void {
    this.#agent.destroy()
    try {
      this.#client.close()
    } catch {
      // not connected
    }
  }
}

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}
