/**
 * An HS2 backend in HTTP mode: hive-driver's generated TCLIService on the `thrift` package's HTTP
 * server (`createWebServer`, one Thrift message per POST on /<path>), answering like hs2-stub.ts.
 *
 * Unlike the binary stub it keeps its sessions and operations the way HiveServer2 does: a call
 * with a session or operation handle this server did not hand out is answered with an ERROR
 * status `Invalid SessionHandle` / `Invalid OperationHandle` (hive-http-mode.md §3), so a test
 * sees a request that reached the wrong server.
 */
import type http from 'node:http'
import { createRequire } from 'node:module'
import type net from 'node:net'
import hive from 'hive-driver'
import { hs2Handler } from './hs2-stub.js'

const require = createRequire(import.meta.url)

interface ThriftRuntime {
  createWebServer(options: { services: Record<string, object>; tls?: object }): http.Server
  TBufferedTransport: unknown
  TBinaryProtocol: unknown
}
const thrift = require(
  require.resolve('thrift', { paths: [require.resolve('hive-driver')] }),
) as ThriftRuntime
// biome-ignore lint/suspicious/noExplicitAny: generated structs are untyped in hive-driver
const T: any = hive.thrift.TCLIService_types

type Reply = (err: Error | null, resp?: unknown) => void
interface HandleId {
  guid?: Buffer
}
interface AnyReq {
  sessionHandle?: { sessionId?: HandleId }
  operationHandle?: { operationId?: HandleId }
}

export interface Hs2HttpStub {
  id: string
  host: string
  port: number
  path: string
  /** OpenSession calls answered */
  sessions: number
  /** calls per method */
  calls: Map<string, number>
  /** calls refused with Invalid SessionHandle / OperationHandle */
  invalid: number
  /** request headers of every POST, in order */
  headers: http.IncomingHttpHeaders[]
  /** request URLs (path + query) of every POST */
  urls: string[]
  /** TCP connections accepted */
  connections: number
  close(): Promise<void>
}

export interface StartHs2HttpStubOptions {
  id: string
  /** answer these methods this many ms late (a slow but healthy server), e.g. { ExecuteStatement: 800 } */
  slowMs?: Record<string, number>
  path?: string
  port?: number
  /** serve HTTPS with this certificate (PEM texts) */
  tls?: { cert: string; key: string }
}

const hex = (h: HandleId | undefined): string | undefined => h?.guid?.toString('hex')

export async function startHs2HttpStub(opts: StartHs2HttpStubOptions): Promise<Hs2HttpStub> {
  const path = opts.path ?? 'cliservice'
  const sessions = new Set<string>()
  const operations = new Set<string>()
  const stub: Hs2HttpStub = {
    id: opts.id,
    host: '127.0.0.1',
    port: 0,
    path,
    sessions: 0,
    calls: new Map(),
    invalid: 0,
    headers: [],
    urls: [],
    connections: 0,
    close: async () => {},
  }
  const inner = hs2Handler(opts.id, () => stub.sessions++) as Record<
    string,
    (req: unknown, reply: Reply) => void
  >
  const error = (msg: string): unknown =>
    new T.TStatus({ statusCode: T.TStatusCode.ERROR_STATUS, errorMessage: msg, sqlState: 'HY000' })
  const handler = new Proxy(inner, {
    get(target, prop) {
      const fn = target[prop as string]
      if (typeof prop !== 'string' || typeof fn !== 'function') return fn
      return (req: AnyReq, reply: Reply) => {
        stub.calls.set(prop, (stub.calls.get(prop) ?? 0) + 1)
        const s = hex(req?.sessionHandle?.sessionId)
        const o = hex(req?.operationHandle?.operationId)
        if (s !== undefined && !sessions.has(s)) {
          stub.invalid++
          reply(null, { status: error(`Invalid SessionHandle: SessionHandle [${s}]`) })
          return
        }
        if (o !== undefined && !operations.has(o)) {
          stub.invalid++
          reply(null, { status: error(`Invalid OperationHandle: OperationHandle [${o}]`) })
          return
        }
        fn.call(target, req, (err, resp) => {
          const r = resp as AnyReq | undefined
          const ns = hex(r?.sessionHandle?.sessionId)
          if (ns !== undefined) sessions.add(ns)
          const no = hex(r?.operationHandle?.operationId)
          if (no !== undefined) operations.add(no)
          if (prop === 'CloseSession' && s !== undefined) sessions.delete(s)
          if (prop === 'CloseOperation' && o !== undefined) operations.delete(o)
          const late = opts.slowMs?.[prop]
          if (late === undefined) reply(err, resp)
          else setTimeout(() => reply(err, resp), late)
        })
      }
    },
  })
  const server = thrift.createWebServer({
    ...(opts.tls === undefined ? {} : { tls: opts.tls }),
    services: {
      [`/${path}`]: {
        transport: thrift.TBufferedTransport,
        protocol: thrift.TBinaryProtocol,
        processor: hive.thrift.TCLIService,
        handler,
      },
    },
  })
  const sockets = new Set<net.Socket>()
  server.on('connection', (s: net.Socket) => {
    stub.connections++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.prependListener('request', (req: http.IncomingMessage) => {
    stub.headers.push(req.headers)
    stub.urls.push(req.url ?? '')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve())
  })
  const a = server.address()
  stub.port = typeof a === 'object' && a !== null ? a.port : 0
  let closing: Promise<void> | undefined
  stub.close = () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      for (const s of sockets) s.destroy()
    })
    return closing
  }
  return stub
}
