/**
 * The HTTP/1.1 front of an HTTP route: node:http does all HTTP parsing (keep-alive, chunked and
 * Content-Length bodies, header size and header-arrival limits); this module only adapts it to a
 * route's acceptor and ends bad connections with a log line.
 *
 * Contract:
 * - every parsed request goes to `accept` as an HttpExchange; `Expect: 100-continue` requests too,
 *   with `expectContinue` set: the receiver decides (e.g. 413 on a too-large Content-Length) and
 *   calls `res.writeContinue()` before reading the body;
 * - bytes that are not HTTP, headers over the size limit, headers that do not arrive within
 *   `headersTimeoutMs` (slowloris) end only that connection (400/431/408 when the socket is still
 *   writable), with one log line; the process never sees them;
 * - `stopAccepting` closes the listener and idle keep-alive connections; requests in flight finish.
 */
import type http from 'node:http'
import type https from 'node:https'
import type { Duplex } from 'node:stream'
import type { HostPort } from '../config/types.js'
import { ErrorCodes, ProxyError, errorCode, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { lazy } from '../lazy.js'
import type { ListenerTls } from '../net/listener.js'

/**
 * node:http through require, not an ESM import. Trap (Node 22): the first ESM import of node:http
 * builds its module facade by reading every export, and its lazy `WebSocket` getter loads Node's
 * bundled undici, which compiles and instantiates its llhttp WebAssembly at once: start-up time
 * for every process, and under an address-space limit (`ulimit -v`) an unhandled rejection that
 * ends the process. require() reads no getter.
 */
const httpLib = lazy<typeof http>('node:http')
/** node:https the same way, and only for an HTTPS front (it loads node:tls) */
const httpsLib = lazy<typeof https>('node:https')

export interface HttpExchange {
  req: http.IncomingMessage
  res: http.ServerResponse
  /** the client sent `Expect: 100-continue` and waits for `res.writeContinue()` */
  expectContinue: boolean
}

export interface HttpFrontOptions {
  listen: HostPort
  headersTimeoutMs: number
  keepAliveTimeoutMs: number
  /** largest request line + headers, bytes (node:http answers 431 above it) */
  maxHeaderBytes: number
  logger: Logger
  /** HTTPS: clients connect with TLS (the same parsing and limits apply inside it) */
  tls?: ListenerTls | undefined
}

/** Request line + headers limit: a Kerberos ticket in `Authorization: Negotiate` plus cookies fit. */
export const MAX_HEADER_BYTES = 64 * 1024

export class HttpFront {
  readonly #server: http.Server
  readonly #o: HttpFrontOptions
  #address: HostPort | undefined

  constructor(o: HttpFrontOptions, accept: (ex: HttpExchange) => void) {
    this.#o = o
    const options: http.ServerOptions = {
      headersTimeout: o.headersTimeoutMs,
      // a body may take long (a big statement on a slow link); the header timeout guards the start
      requestTimeout: 0,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      maxHeaderSize: o.maxHeaderBytes,
      // Trap: node:http checks headersTimeout only every connectionsCheckingInterval (30 s by
      // default), so a slow-header client would hold its socket far past the configured time
      connectionsCheckingInterval: Math.max(
        50,
        Math.min(1_000, Math.floor(o.headersTimeoutMs / 4)),
      ),
      // no Nagle: small Thrift answers go out at once
      noDelay: true,
    }
    const secure = o.tls
    if (secure === undefined) this.#server = httpLib().createServer(options)
    else {
      const server = httpsLib().createServer({ ...options, ...secure.options })
      server.on('tlsClientError', (err: Error) => secure.onHandshakeError(err))
      this.#server = server
    }
    this.#server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) =>
      accept({ req, res, expectContinue: false }),
    )
    this.#server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) =>
      accept({ req, res, expectContinue: true }),
    )
    this.#server.on('clientError', (err: Error, socket: Duplex) => this.#clientError(err, socket))
  }

  listen(): Promise<HostPort> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(
          new ProxyError(
            ErrorCodes.LISTEN,
            `cannot listen on ${this.#o.listen.host}:${this.#o.listen.port}: ${err.message}`,
            { cause: err },
          ),
        )
      }
      this.#server.once('error', onError)
      this.#server.listen(this.#o.listen.port, this.#o.listen.host, () => {
        this.#server.removeListener('error', onError)
        const a = this.#server.address()
        this.#address =
          typeof a === 'object' && a !== null
            ? { host: a.address, port: a.port }
            : { ...this.#o.listen }
        resolve(this.#address)
      })
    })
  }

  address(): HostPort {
    return this.#address ?? { ...this.#o.listen }
  }

  /** HTTPS fronts: the certificate for new connections (reload); live ones keep theirs. */
  setSecureContext(options: ListenerTls['options']): void {
    const server = this.#server as Partial<https.Server>
    server.setSecureContext?.(options)
  }

  stopAccepting(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) {
        resolve()
        return
      }
      this.#server.close(() => resolve())
      this.#server.closeIdleConnections()
    })
  }

  /** Cut every connection now (end of the shutdown grace). */
  closeAll(): void {
    this.#server.closeAllConnections()
  }

  #clientError(err: Error, socket: Duplex): void {
    const code = errorCode(err)
    const status =
      code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'HPE_HEADERS_TIMEOUT'
          ? 408
          : 400
    // ECONNRESET and friends: the client is gone, nothing to say and nothing to log above debug
    if (code === 'ECONNRESET' || !socket.writable) {
      this.#o.logger.debug({ code, err: errorMessage(err) }, 'HTTP client connection failed')
      socket.destroy()
      return
    }
    this.#o.logger.warn(
      { code, status, err: errorMessage(err) },
      'bad HTTP from a client; closing that connection',
    )
    const answer = `HTTP/1.1 ${status} ${httpLib().STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`
    // destroyed once written: a client that never reads or ends (slowloris) does not keep it open
    socket.end(answer, () => socket.destroy())
  }
}
