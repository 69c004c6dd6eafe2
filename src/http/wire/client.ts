/**
 * Requests to one backend over kept-alive raw sockets, one request per socket at a time (no
 * pipelining: a request's answer is the only thing its socket reads, so "did this request hear
 * anything?" has an exact answer). http-parser-js frames the answers; body bytes are handed on as
 * slices of the chunks read.
 *
 * Contract (for a CallHandler given to `dispatch`):
 * - `attach(conn)` when the request is on a socket, before a byte is written; `connectFailed(err)`
 *   when no socket could be had (err is the dial's retriable connect error);
 * - then `head`, any number of `data`, and `end`; or `fail` at any point after `attach` (the
 *   socket closed or errored, the answer was not HTTP, or no byte came for `idleMs`). Exactly one of
 *   `end`/`fail`, once;
 * - idle sockets are kept (last used first) for `keepAliveMs`, and dropped when the backend closes
 *   them; a socket whose answer did not end cleanly is never reused.
 */
import type { OutgoingHttpHeaders } from 'node:http'
import type net from 'node:net'
import { ErrorCodes, ProxyError, errorCode, errorMessage } from '../../errors.js'
import {
  type HeaderLines,
  type HttpParser,
  hasCr,
  headBytes,
  newParser,
  parserLib,
  withHead,
  writeHead,
} from './message.js'

export interface BackendPoolOptions {
  /** `host:port`: the Host header, and named in errors */
  key: string
  /** a connected socket (TLS done), or a rejection with a retriable connect error (net/dial.ts) */
  dial: () => Promise<net.Socket>
  /** HiveServer2's Jetty closes idle connections after hive.server2.thrift.http.max.idle.time */
  keepAliveMs: number
  maxHeaderBytes: number
}

export interface WireRequest {
  method: string
  /** path and query */
  path: string
  /** end-to-end headers, Content-Length included (http/headers.ts backendRequestLines) */
  headers: OutgoingHttpHeaders | HeaderLines
  body: Buffer
  /** no byte from the backend for this long fails the request; 0: no limit */
  idleMs: number
}

export interface CallHandler {
  /** false: the request was dropped meanwhile; nothing is written and the socket stays idle */
  attach(conn: BackendConn): boolean
  connectFailed(err: unknown): void
  /** `raw`: the parser's flat `[name, value, ...]` list (no value holds CR) */
  head(status: number, reason: string, raw: string[]): void
  data(chunk: Buffer): void
  end(): void
  fail(err: Error): void
}

export class BackendPool {
  readonly #o: BackendPoolOptions
  /** idle sockets, the most recently used last */
  readonly #idle: BackendConn[] = []
  /** every open socket, idle or busy (kept from open to close: no Set churn per call) */
  readonly #all = new Set<BackendConn>()
  /** drops idle sockets past keepAliveMs (one sweep, not a socket timeout set and cleared per call) */
  #sweeper: NodeJS.Timeout | undefined
  #closed = false
  #destroyed = false

  constructor(o: BackendPoolOptions) {
    this.#o = o
  }

  get key(): string {
    return this.#o.key
  }

  /** Send `req` on an idle socket, else on a new one. */
  dispatch(req: WireRequest, call: CallHandler): void {
    if (this.#closed) {
      call.connectFailed(this.#closedError())
      return
    }
    let conn = this.#idle.pop()
    // one the backend closed a moment ago may still be listed until its 'close'
    while (conn !== undefined && !conn.usable) conn = this.#idle.pop()
    if (conn !== undefined) {
      conn.send(req, call)
      return
    }
    this.#o.dial().then(
      (socket) => {
        // destroyed while dialling (the route stopped): send nothing. Merely closed (new TLS
        // settings): the call goes out, and the socket closes after its answer
        if (this.#destroyed) {
          socket.destroy()
          call.connectFailed(this.#closedError())
          return
        }
        const c = new BackendConn(socket, this, this.#o)
        this.#all.add(c)
        c.send(req, call)
      },
      (err: unknown) => call.connectFailed(err),
    )
  }

  /** Idle sockets close now, busy ones when their answer ends. */
  close(): void {
    this.#closed = true
    clearInterval(this.#sweeper)
    for (const c of this.#idle.splice(0)) c.destroy()
  }

  /** Every socket closes now; requests in flight fail, and so do those still dialling. */
  destroy(): void {
    this.#destroyed = true
    this.close()
    for (const c of this.#all) c.destroy()
  }

  #closedError(): ProxyError {
    return new ProxyError(ErrorCodes.CONNECT, `the pool of ${this.#o.key} is closed`, {
      retriable: true,
      backend: this.#o.key,
    })
  }

  /** @internal a socket's answer ended cleanly: keep it, unless the pool is closed */
  release(c: BackendConn): void {
    if (this.#closed) {
      c.destroy()
      return
    }
    c.idleSince = Date.now()
    this.#idle.push(c)
    if (this.#sweeper === undefined) {
      const ms = this.#o.keepAliveMs
      this.#sweeper = setInterval(() => this.#sweep(ms), Math.max(50, Math.min(1_000, ms / 4)))
      this.#sweeper.unref()
    }
  }

  /** Idle sockets unused for `ms` close (the oldest are first in the list). */
  #sweep(ms: number): void {
    const old = Date.now() - ms
    let n = 0
    while (n < this.#idle.length && (this.#idle[n] as BackendConn).idleSince <= old) n++
    for (const c of this.#idle.splice(0, n)) c.destroy()
  }

  /** @internal a socket closed */
  drop(c: BackendConn): void {
    this.#all.delete(c)
    const i = this.#idle.indexOf(c)
    if (i >= 0) this.#idle.splice(i, 1)
  }
}

/** One socket to the backend. */
export class BackendConn {
  readonly #socket: net.Socket
  readonly #pool: BackendPool
  readonly #parser: HttpParser
  #call: CallHandler | undefined
  #idleMs = 0
  #sentAt = 0
  /** the answer asked to keep the connection open */
  #keep = false
  /** an interim (1xx) answer: its end is not the request's */
  #interim = false
  #error: Error | undefined
  /** @internal when it went back to the pool (epoch ms) */
  idleSince = 0

  constructor(socket: net.Socket, pool: BackendPool, o: BackendPoolOptions) {
    this.#socket = socket
    this.#pool = pool
    const p = newParser('RESPONSE', o.maxHeaderBytes)
    const { HTTPParser } = parserLib()
    p[HTTPParser.kOnHeadersComplete] = (info) => {
      this.#interim = info.statusCode < 200
      if (this.#interim) return
      this.#keep = info.shouldKeepAlive
      const raw = info.headers
      if (headBytes(info.statusMessage, raw) > o.maxHeaderBytes || hasCr(raw)) {
        this.#error = new ProxyError(
          ErrorCodes.BACKEND_FAILED,
          `${o.key} answered with a head over ${o.maxHeaderBytes} bytes or a header value holding CR or LF`,
          { backend: o.key },
        )
        return
      }
      this.#call?.head(info.statusCode, info.statusMessage, raw)
    }
    p[HTTPParser.kOnBody] = (buf, start, len) => {
      if (this.#error === undefined)
        this.#call?.data(start === 0 && len === buf.length ? buf : buf.subarray(start, start + len))
    }
    p[HTTPParser.kOnMessageComplete] = () => this.#complete()
    this.#parser = p
    socket.on('data', (chunk: Buffer) => this.#data(chunk, o.key))
    socket.on('end', () => {
      // an answer framed by the end of the connection ends here
      if (this.#call !== undefined) this.#parser.finish()
      socket.destroy()
    })
    socket.on('timeout', () => {
      if (this.#call === undefined) socket.destroy()
      else
        this.#failWith(
          new ProxyError(
            ErrorCodes.BACKEND_FAILED,
            `${o.key} sent nothing for ${this.#idleMs} ms (idleTimeoutMs)`,
            { backend: o.key },
          ),
        )
    })
    socket.on('error', (err) => {
      this.#error ??= err
    })
    socket.on('close', () => {
      this.#pool.drop(this)
      const call = this.#call
      this.#call = undefined
      call?.fail(
        this.#error ??
          new ProxyError(
            ErrorCodes.BACKEND_FAILED,
            `${o.key} closed the connection before its answer ended`,
            { backend: o.key },
          ),
      )
    })
  }

  /** Write `req`; `call` hears about its answer. */
  send(req: WireRequest, call: CallHandler): void {
    this.#interim = false
    if (!call.attach(this)) {
      this.#pool.release(this)
      return
    }
    this.#call = call
    const s = this.#socket
    // a socket timeout only where one is configured: setting and clearing it per call costs
    if (req.idleMs !== this.#idleMs) s.setTimeout(req.idleMs)
    this.#idleMs = req.idleMs
    this.#sentAt = s.bytesRead
    const head = writeHead(
      `${req.method} ${req.path} HTTP/1.1`,
      req.headers,
      `host: ${this.#pool.key}\r\n`,
    )
    s.write(withHead(head, req.body))
  }

  get usable(): boolean {
    return !this.#socket.destroyed && this.#socket.writable
  }

  /** Did any byte arrive since the request was written? */
  get heard(): boolean {
    return this.#socket.bytesRead > this.#sentAt
  }

  pause(): void {
    this.#socket.pause()
  }

  resume(): void {
    this.#socket.resume()
  }

  /** Drop the request: the socket closes (its answer would be taken for the next request's). */
  abandon(): void {
    this.#call = undefined
    this.#socket.destroy()
  }

  destroy(): void {
    this.#socket.destroy()
  }

  #data(chunk: Buffer, key: string): void {
    if (this.#call === undefined) {
      // nothing was asked: a backend that talks out of turn is not reused
      this.#socket.destroy()
      return
    }
    const r = this.#parser.execute(chunk)
    if (r instanceof Error || this.#error !== undefined) {
      this.#failWith(
        this.#error ??
          new ProxyError(
            ErrorCodes.BACKEND_FAILED,
            `${key} sent an answer that is not HTTP: ${errorCode(r)} ${errorMessage(r)}`,
            { backend: key },
          ),
      )
    }
  }

  #complete(): void {
    if (this.#interim) {
      this.#interim = false
      return
    }
    const call = this.#call
    if (call === undefined) return
    this.#call = undefined
    // the call's idle timeout must not follow the socket into the pool (the pool's sweep times idle)
    if (this.#idleMs > 0) {
      this.#socket.setTimeout(0)
      this.#idleMs = 0
    }
    if (this.#keep && this.#socket.readyState === 'open') this.#pool.release(this)
    else this.#socket.destroy()
    call.end()
  }

  #failWith(err: Error): void {
    const call = this.#call
    this.#call = undefined
    this.#socket.destroy()
    call?.fail(err)
  }
}

/**
 * Idle backend sockets close after this: below Jetty's idle timeout
 * (hive.server2.thrift.http.max.idle.time), so one is rarely reused just as the server closes it.
 */
export const KEEP_ALIVE_MS = 4_000

/** A route's pools, one per backend key, made on first use; `dial` opens a socket to `b`. */
export class BackendPools<B extends { key: string }> {
  readonly #pools = new Map<string, BackendPool>()
  readonly #dial: (b: B) => Promise<net.Socket>
  readonly #maxHeaderBytes: number

  constructor(dial: (b: B) => Promise<net.Socket>, maxHeaderBytes: number) {
    this.#dial = dial
    this.#maxHeaderBytes = maxHeaderBytes
  }

  get(b: B): BackendPool {
    let p = this.#pools.get(b.key)
    if (p === undefined) {
      p = new BackendPool({
        key: b.key,
        dial: () => this.#dial(b),
        keepAliveMs: KEEP_ALIVE_MS,
        maxHeaderBytes: this.#maxHeaderBytes,
      })
      this.#pools.set(b.key, p)
    }
    return p
  }

  /** Forget `key`'s pool: its idle sockets close, requests in flight finish. */
  drop(key: string): void {
    this.#pools.get(key)?.close()
    this.#pools.delete(key)
  }

  /** Forget every pool (new settings, e.g. TLS): idle sockets close, requests in flight finish. */
  closeAll(): void {
    for (const p of this.#pools.values()) p.close()
    this.#pools.clear()
  }

  /** Every socket closes now. */
  destroyAll(): void {
    for (const p of this.#pools.values()) p.destroy()
    this.#pools.clear()
  }
}
