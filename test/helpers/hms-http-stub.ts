/**
 * A Hive 4 metastore in HTTP transport mode for tests: the `thrift` package's own HTTP server
 * (createWebServer) serving the hand-written HMS IDL (hms-idl.ts, no Hive .thrift file) at
 * `/<path>` (Hive's default `metastore`), TBinaryProtocol or TCompactProtocol as configured.
 *
 * - get_database answers a Database whose description is the stub's id, so a test sees which
 *   metastore answered; get_all_databases lists the store; create_database adds to it.
 * - every request's method and headers are recorded (before thrift reads the body);
 * - `mode = 'die'`: the stub reads a request and closes its socket without answering, as a
 *   metastore that dies mid-request (the calls are still recorded);
 * - `mode = 'slow'`: answers, but 300 ms late.
 */
import type http from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  HmsService,
  decodeMessage,
  protocolClass,
  thrift,
  thriftError,
  type Database,
  type HmsHandler,
  type ProtocolName,
} from './hms-idl.js'

export interface HmsHttpRequest {
  method: string
  headers: http.IncomingHttpHeaders
  url: string
}

export interface HmsHttpStub {
  id: string
  port: number
  /** POSTs seen, in order (including those answered by dying) */
  requests: HmsHttpRequest[]
  /** OPTIONS requests seen (the proxy's probes), with the path they asked for */
  options: string[]
  /** database names created through create_database */
  created: string[]
  mode: 'ok' | 'die' | 'slow'
  close(): Promise<void>
}

export interface StartHmsHttpStubOptions {
  id: string
  path?: string
  protocol?: ProtocolName
  /** serve HTTPS with this certificate (PEM text) */
  tls?: { cert: string; key: string }
}

export async function startHmsHttpStub(opts: StartHmsHttpStubOptions): Promise<HmsHttpStub> {
  const protocol = opts.protocol ?? 'binary'
  const store = new Map<string, Database>([['default', { name: 'default' }]])
  const handler: HmsHandler = {
    get_database: (args, reply) => {
      const db = store.get(args.name)
      if (db === undefined) reply(thriftError('NoSuchObjectException', `database ${args.name}`))
      else reply(null, { ...db, description: opts.id })
    },
    get_all_databases: (_args, reply) => reply(null, [...store.keys()]),
    create_database: (args, reply) => {
      const name = args.database.name ?? ''
      if (store.has(name)) {
        reply(thriftError('AlreadyExistsException', `database ${name}`))
        return
      }
      store.set(name, { ...args.database })
      stub.created.push(name)
      reply(null)
    },
  }
  const server = (thrift as unknown as { createWebServer(o: object): http.Server }).createWebServer(
    {
      ...(opts.tls === undefined ? {} : { tls: opts.tls }),
      services: {
        [`/${opts.path ?? 'metastore'}`]: {
          transport: thrift.TBufferedTransport,
          protocol: protocolClass(protocol),
          processor: HmsService,
          handler,
        },
      },
    },
  )
  const sockets = new Set<import('node:net').Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  // thrift's own request listener runs only when the stub answers; every request is recorded
  const thriftListeners = server.listeners('request') as ((
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ) => void)[]
  server.removeAllListeners('request')
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.method === 'OPTIONS') stub.options.push(req.url ?? '')
    const dying = stub.mode === 'die'
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.once('end', () => {
      const body = Buffer.concat(chunks)
      let method = '?'
      try {
        method = decodeMessage(body, protocol)?.message.name ?? '?'
      } catch {
        method = 'garbage'
      }
      if (req.method === 'POST')
        stub.requests.push({ method, headers: req.headers, url: req.url ?? '' })
      // dies with the request read and unanswered: nothing was processed
      if (dying) req.socket.destroy()
    })
    if (stub.mode === 'slow') {
      // thrift writes its answer with writeHead + end: nothing leaves before end
      const end = res.end.bind(res) as (b?: unknown) => void
      res.end = ((b?: unknown) => {
        setTimeout(() => end(b), 300)
        return res
      }) as typeof res.end
    }
    if (!dying) for (const l of thriftListeners) l.call(server, req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const stub: HmsHttpStub = {
    id: opts.id,
    port: (server.address() as AddressInfo).port,
    requests: [],
    options: [],
    created: [],
    mode: 'ok',
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
  return stub
}
